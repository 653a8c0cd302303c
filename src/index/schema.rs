//! The index schema: which fields a call document has, how each is analysed,
//! and the names the query language accepts for them.
//!
//! Every text field uses the bilingual analyser ([`super::analyzer::text`]).
//! Plain query words search one field, `all`: the whole call (title twice,
//! summary, funder, programme, tags, full text), so each word is one term
//! lookup and tantivy can prune conjunctions and disjunctions block by block
//! (block-max WAND) instead of scoring every matching document. The title,
//! summary, funder, programme and tags also have their own fields for
//! `title:`-style queries. Filters use keyword fields (lowercased and folded
//! whole values) and date fields. The call itself is stored as JSON so reads
//! never need SQLite.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use super::analyzer;

/// The searchable text parts of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPart {
    /// The title.
    Title,
    /// The summary.
    Summary,
    /// The full text.
    Text,
    /// The funder's name.
    Funder,
    /// The programme's name.
    Programme,
    /// Tags and keywords.
    Tags,
}

impl TextPart {
    /// Every part, in schema order.
    pub const ALL: [TextPart; 6] = [
        TextPart::Title,
        TextPart::Summary,
        TextPart::Text,
        TextPart::Funder,
        TextPart::Programme,
        TextPart::Tags,
    ];

    /// The name the query language and digests use (`title`, `text` ...).
    pub fn name(self) -> &'static str {
        match self {
            TextPart::Title => "title",
            TextPart::Summary => "summary",
            TextPart::Text => "text",
            TextPart::Funder => "funder",
            TextPart::Programme => "programme",
            TextPart::Tags => "tags",
        }
    }

    /// How many times the part is written into `all`. With one field for
    /// every query word, repetition is the field weighting: the term
    /// frequency BM25 sees is then the weighted sum of the parts' (BM25F,
    /// Robertson, Zaragoza & Taylor 2004), so a word in the title says more
    /// than one deep in the text, and saturation keeps it from saying all.
    pub fn weight(self) -> usize {
        match self {
            TextPart::Title => 3,
            TextPart::Summary | TextPart::Tags | TextPart::Programme => 2,
            TextPart::Funder | TextPart::Text => 1,
        }
    }

    /// The schema field searched for this part. The full text has no field
    /// of its own: `text:` searches `all`, which holds it with the rest.
    pub fn field_name(self) -> &'static str {
        match self {
            TextPart::Title => "title",
            TextPart::Summary => "summary",
            TextPart::Text => F_ALL,
            TextPart::Funder => "funder",
            TextPart::Programme => "programme",
            TextPart::Tags => "tags",
        }
    }
}

/// What a name written before `:` in a query refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    /// A text part.
    Text(TextPart),
    /// A schema field used as is (keywords, dates).
    Field(&'static str),
}

/// Names the query language accepts before `:`, and what they mean.
pub const ALIASES: &[(&str, Alias)] = &[
    ("title", Alias::Text(TextPart::Title)),
    ("summary", Alias::Text(TextPart::Summary)),
    ("text", Alias::Text(TextPart::Text)),
    ("body", Alias::Text(TextPart::Text)),
    ("funder", Alias::Text(TextPart::Funder)),
    ("programme", Alias::Text(TextPart::Programme)),
    ("program", Alias::Text(TextPart::Programme)),
    ("tags", Alias::Text(TextPart::Tags)),
    ("tag", Alias::Text(TextPart::Tags)),
    ("id", Alias::Field(F_ID)),
    ("level", Alias::Field(F_LEVEL)),
    ("status", Alias::Field(F_STATUS)),
    ("language", Alias::Field(F_LANGUAGE)),
    ("lang", Alias::Field(F_LANGUAGE)),
    ("source", Alias::Field(F_SOURCE)),
    ("identifier", Alias::Field(F_IDENTIFIER)),
    ("deadline", Alias::Field(F_DEADLINE)),
    ("opening", Alias::Field(F_OPENING)),
    ("first_seen", Alias::Field(F_FIRST_SEEN)),
    ("last_changed", Alias::Field(F_LAST_CHANGED)),
];

/// Looks an alias up (case-insensitively).
pub fn alias(name: &str) -> Option<Alias> {
    let name = name.to_ascii_lowercase();
    ALIASES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// The alias names, for error messages.
pub fn alias_names() -> String {
    ALIASES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const F_ID: &str = "id";
pub(crate) const F_ALL: &str = "all";
pub(crate) const F_LEVEL: &str = "level";
pub(crate) const F_STATUS: &str = "status";
pub(crate) const F_LANGUAGE: &str = "language";
pub(crate) const F_FUNDER_EXACT: &str = "funder_exact";
pub(crate) const F_PROGRAMME_EXACT: &str = "programme_exact";
pub(crate) const F_SOURCE: &str = "source";
pub(crate) const F_IDENTIFIER: &str = "identifier";
pub(crate) const F_DEADLINE: &str = "deadline";
pub(crate) const F_DEADLINE_DAY: &str = "deadline_day";
pub(crate) const F_OPENING: &str = "opening";
pub(crate) const F_FIRST_SEEN: &str = "first_seen";
pub(crate) const F_LAST_CHANGED: &str = "last_changed";
pub(crate) const F_CALL: &str = "call";

/// Handles on every schema field.
#[derive(Debug, Clone)]
pub struct Fields {
    /// The schema itself.
    pub schema: Schema,
    /// Call id, raw (`STRING | STORED`): the delete key for updates.
    pub id: Field,
    /// Every text part's field (`Text` maps to `all`).
    pub text: Vec<(TextPart, Field)>,
    /// The whole call's text: the default search field.
    pub all: Field,
    /// Level keyword.
    pub level: Field,
    /// Status keyword.
    pub status: Field,
    /// Language keyword.
    pub language: Field,
    /// Funder, whole name as keyword (exact filter).
    pub funder_exact: Field,
    /// Programme, whole name as keyword (exact filter).
    pub programme_exact: Field,
    /// Ids of every source that reported the call (stored).
    pub source: Field,
    /// Cross-source identifiers (HORIZON-CL4-2024-HUMAN-03 ...).
    pub identifier: Field,
    /// Cut-off instant of every deadline (multi-valued, fast): next-deadline
    /// sorting and "closing within N days".
    pub deadline: Field,
    /// Local calendar day of every deadline's cut-off, as midnight UTC:
    /// `deadline_after` / `deadline_before` compare calendar days as the
    /// source states them, not UTC instants.
    pub deadline_day: Field,
    /// Opening date (earliest instant).
    pub opening: Field,
    /// When the database first saw the call.
    pub first_seen: Field,
    /// When the call last changed.
    pub last_changed: Field,
    /// The whole `Call` as JSON, stored only.
    pub call: Field,
}

impl Fields {
    /// Builds the schema.
    pub fn build() -> Fields {
        let mut b = Schema::builder();
        let id = b.add_text_field(F_ID, STRING | STORED);
        let all = b.add_text_field(F_ALL, text_options());
        let mut text = Vec::new();
        for part in TextPart::ALL {
            let field = match part {
                TextPart::Text => all,
                _ => b.add_text_field(part.field_name(), text_options()),
            };
            text.push((part, field));
        }
        let kw = || {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(analyzer::KEYWORD)
                    .set_index_option(IndexRecordOption::Basic),
            )
        };
        let level = b.add_text_field(F_LEVEL, kw());
        let status = b.add_text_field(F_STATUS, kw());
        let language = b.add_text_field(F_LANGUAGE, kw());
        let funder_exact = b.add_text_field(F_FUNDER_EXACT, kw());
        let programme_exact = b.add_text_field(F_PROGRAMME_EXACT, kw());
        let source = b.add_text_field(F_SOURCE, kw().set_stored());
        let identifier = b.add_text_field(F_IDENTIFIER, kw());
        let date = || {
            DateOptions::from(INDEXED)
                .set_fast()
                .set_precision(DateTimePrecision::Seconds)
        };
        let deadline = b.add_date_field(F_DEADLINE, date());
        let deadline_day = b.add_date_field(F_DEADLINE_DAY, date());
        let opening = b.add_date_field(F_OPENING, date());
        let first_seen = b.add_date_field(F_FIRST_SEEN, date().set_stored());
        let last_changed = b.add_date_field(F_LAST_CHANGED, date().set_stored());
        let call = b.add_text_field(F_CALL, STORED);
        Fields {
            schema: b.build(),
            id,
            text,
            all,
            level,
            status,
            language,
            funder_exact,
            programme_exact,
            source,
            identifier,
            deadline,
            deadline_day,
            opening,
            first_seen,
            last_changed,
            call,
        }
    }

    /// Resolves the fields of an existing index's schema by name, so an
    /// index written by this version opens with the same handles. `None`
    /// when a field is missing (an index from another version: rebuild it).
    pub fn from_schema(schema: &Schema) -> Option<Fields> {
        let built = Fields::build();
        // Same field names and types in the same order give identical handles.
        if schema != &built.schema {
            return None;
        }
        Some(built)
    }

    /// The field of `part`.
    pub fn text_field(&self, part: TextPart) -> Field {
        self.text
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, f)| *f)
            .unwrap_or(self.all)
    }
}

fn text_options() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer::TEXT)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}
