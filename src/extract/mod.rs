//! Extraction: turns the bytes a source served into [`CallDraft`]s.
//!
//! Pure code: every function takes bytes or text, the [`Source`] and `now`,
//! and returns values. No IO, no clock, no environment, so the crawl job can
//! call it on a blocking thread and the tests need no network.
//!
//! # Architecture
//!
//! - [`feed`]: RSS 2.0, Atom and JSON Feed (feed-rs); deadlines are read from
//!   the item text, never from `pubDate`.
//! - [`html`]: listing pages and detail pages read with the CSS selectors a
//!   source declares (scraper), behind a cheap nesting-depth guard.
//! - [`eu_portal`]: the EU Funding & Tenders SEDIA search API: request
//!   building, page parsing, and the duplicate/stub collapsing of
//!   SOURCES-FORMATS.md §1.6.
//! - [`text`]: HTML to clean text, shared by all three.
//!
//! Partial success is a type: one bad item becomes an [`ExtractProblem`] and
//! the rest is kept ([`Extracted`]); only a document that cannot be read at
//! all is an [`ExtractError`].

pub mod eu_portal;
pub mod feed;
pub mod html;
pub mod text;

use chrono::{DateTime, Utc};

use crate::config::Source;
use crate::dates::{self, DateContext};
use crate::model::{CallDraft, FoundDate};

/// What one document yielded: the calls it describes and the items that
/// could not be read (reported to the officer, never silently dropped).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extracted {
    /// One draft per call, in document order.
    pub calls: Vec<CallDraft>,
    /// Items skipped or partly read, with why.
    pub problems: Vec<ExtractProblem>,
}

/// One item that could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractProblem {
    /// Which item: its index (`item 3`), id or title.
    pub item: String,
    /// What is wrong with it.
    pub message: String,
}

impl ExtractProblem {
    pub(crate) fn new(item: impl Into<String>, message: impl Into<String>) -> Self {
        ExtractProblem {
            item: item.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ExtractProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.message)
    }
}

/// A whole document could not be read. Item-level trouble is an
/// [`ExtractProblem`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The feed is not well-formed RSS, Atom or JSON Feed.
    #[error(
        "source \"{source_id}\": the feed cannot be parsed: {message}. \
         Check that the URL serves RSS 2.0, Atom or JSON Feed (open it in a browser)."
    )]
    Feed {
        /// Source id.
        source_id: String,
        /// What the feed parser said.
        message: String,
    },
    /// The EU portal answered something that is not JSON.
    #[error(
        "the EU portal answer is not valid JSON: {source}. \
         The API may be down or have changed; retry later and check SOURCES-FORMATS.md §1."
    )]
    PortalJson {
        /// The JSON parser's error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The EU portal answered with an error body (`"type":"throwable"`,
    /// `businessError`), possibly with HTTP 200.
    #[error(
        "the EU portal returned an error ({kind}): {message}. \
         Check the query parts (they must be multipart file parts, SOURCES-FORMATS.md §1.1)."
    )]
    Portal {
        /// The `type` of the error body.
        kind: String,
        /// Its message, or the start of the body when there is none.
        message: String,
    },
    /// The EU portal answered JSON that is not a search response.
    #[error(
        "the EU portal answer is not a search response: {message}. \
         Check the URL (it must be the search endpoint with apiKey=SEDIA)."
    )]
    NotPortalResponse {
        /// What is missing.
        message: String,
    },
    /// An HTML page nests elements deeper than the parser can afford
    /// (html5ever is quadratic on deep nesting).
    #[error(
        "{url}: the page nests elements {depth} deep (limit {limit}); it was not parsed. \
         This is a broken or hostile page: check it in a browser."
    )]
    TooDeep {
        /// The page.
        url: String,
        /// Depth reached when the scan stopped.
        depth: usize,
        /// The limit ([`html::MAX_NESTING`]).
        limit: usize,
    },
}

/// The include/exclude filters of a source (SOURCES-CATALOGUE.md: EU news
/// feeds mix calls with other items). `include` keeps an item only when its
/// title or summary contains one of the words; `exclude` drops it when it
/// contains one. Case-insensitive; the config already lowercased the words.
pub fn keep_item(source: &Source, title: &str, summary: &str) -> bool {
    if source.include.is_empty() && source.exclude.is_empty() {
        return true;
    }
    let hay = format!("{}\n{}", title.to_lowercase(), summary.to_lowercase());
    let included = source.include.is_empty()
        || source
            .include
            .iter()
            .any(|w| hay.contains(&w.to_lowercase()));
    let excluded = source
        .exclude
        .iter()
        .any(|w| hay.contains(&w.to_lowercase()));
    included && !excluded
}

/// The programme prefixes of EU topic and call identifiers.
const EU_PREFIXES: &[&str] = &[
    "HORIZON",
    "ERASMUS",
    "CREA",
    "DIGITAL",
    "CERV",
    "LIFE",
    "EU4H",
    "ERC",
    "EIC",
    "SMP",
    "EURATOM",
    "EDF",
    "CEF",
    "I3",
    "JTM",
    "ESF",
    "ISF",
    "EMFAF",
    "INNOVFUND",
    "JUST",
    "SOCPL",
    "ESC",
    "PPPA",
    "RENEWFM",
    "EUBA",
];

/// Longest of [`EU_PREFIXES`] (`INNOVFUND`, 9): how far [`eu_identifiers`]
/// walks back from a dash.
const EU_PREFIX_MAX: usize = {
    let (mut i, mut max) = (0, 0);
    while i < EU_PREFIXES.len() {
        if EU_PREFIXES[i].len() > max {
            max = EU_PREFIXES[i].len();
        }
        i += 1;
    }
    max
};

/// EU topic and call identifiers quoted in `text`, in order, without
/// duplicates, for cross-source deduplication (normalize's `eu:` keys).
///
/// An identifier is a whole word of `EU_PREFIXES`, a dash, then at least
/// three letters, digits and dashes. Real identifiers have lowercase parts
/// (`HORIZON-MISS-2027-05-SOIL-01-two-stage`, `HORIZON-JU-CBE-2026-IAFlag-02`
/// in sedia_search_response_horizon_subset.json). The definition is the
/// regex `\b(?:HORIZON|…)-[A-Za-z0-9][A-Za-z0-9-]{2,}` (the test compares
/// them); this scanner from dash to dash finds the same matches without it:
/// that regex, whose Unicode `\b` sends the regex crate to a backtracker on
/// non-ASCII text, was a tenth of feed extraction in benches/extract.rs,
/// where every paragraph quotes an identifier.
pub fn eu_identifiers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'-', &b[from..]) {
        let dash = from + p;
        from = dash + 1;
        // The word before the dash must be a prefix, whole: walk back over
        // what a prefix is made of, then the character before must not be
        // a word character (Unicode `\w`, as the regex crate's `\b`).
        let mut start = dash;
        while start > 0
            && dash - start < EU_PREFIX_MAX
            && matches!(b[start - 1], b'A'..=b'Z' | b'0'..=b'9')
        {
            start -= 1;
        }
        if !EU_PREFIXES.contains(&&text[start..dash])
            || text[..start].chars().next_back().is_some_and(|c| {
                // Unicode `\w` restricted to ASCII is `[0-9A-Za-z_]`: the
                // table lookup is for the rest.
                if c.is_ascii() {
                    c.is_ascii_alphanumeric() || c == '_'
                } else {
                    regex_syntax::is_word_character(c)
                }
            })
        {
            continue;
        }
        let rest = &b[dash + 1..];
        if !rest.first().is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let more = rest[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .count();
        if more < 2 {
            continue;
        }
        let end = dash + 2 + more;
        from = end;
        let id = text[start..end].trim_end_matches('-');
        // A year inside: every real topic identifier carries one
        // (`ERC-2025-STG`, `DIGITAL-2023-SKILLS-04-…`), while prose such as
        // "ERC-funded" (euraxess_jobs_search_results.html) does not.
        let has_year = id.as_bytes().windows(4).any(|w| {
            w[0] == b'2' && w[1] == b'0' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
        });
        if has_year && !out.iter().any(|x| x.eq_ignore_ascii_case(id)) {
            out.push(id.to_owned());
        }
    }
    out
}

/// The shared date extractor, reading in a source's language and zone, for
/// the texts of one source read one after another: its buffers are kept from
/// one text to the next (see [`dates::Scratch`]).
pub(crate) struct DateReader {
    ctx: DateContext,
    scratch: dates::Scratch,
}

impl DateReader {
    pub(crate) fn new(source: &Source, now: DateTime<Utc>) -> DateReader {
        DateReader {
            ctx: DateContext {
                lang: source.language,
                zone: source.timezone,
                now,
            },
            scratch: dates::Scratch::default(),
        }
    }

    /// The dates found in `text`.
    pub(crate) fn read(&mut self, text: &str) -> Vec<FoundDate> {
        if text.trim().is_empty() {
            return Vec::new();
        }
        dates::extract_with(text, &self.ctx, &mut self.scratch)
    }
}

/// Adds `ids` to `into`, keeping order and skipping duplicates.
pub(crate) fn push_identifiers(into: &mut Vec<String>, ids: Vec<String>) {
    for id in ids {
        if !into.iter().any(|x| x.eq_ignore_ascii_case(&id)) {
            into.push(id);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A source value for unit tests.
    use crate::config::{CronSchedule, FetchPolicy, Source, SourceKind};
    use crate::model::{Language, Level};

    /// A minimal source of `kind` in `language`, zone Europe/Paris.
    pub(crate) fn source(kind: SourceKind, language: Language) -> Source {
        Source {
            id: "test".into(),
            name: "Test".into(),
            kind,
            url: url::Url::parse("https://example.org/").expect("static url"),
            schedule: CronSchedule::parse("0 6 * * *").expect("static cron"),
            level: Level::National,
            funder: "Funder".into(),
            language,
            timezone: chrono_tz::Europe::Paris,
            tags: vec![],
            programmes: vec![],
            statuses: vec![],
            include: vec![],
            exclude: vec![],
            fetch: FetchPolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;
    use crate::model::Language;
    use crate::test_support::fixture_texts;
    use regex::Regex;

    #[test]
    fn identifiers_are_found_and_prose_is_not() {
        let table: &[(&str, &[&str])] = &[
            (
                "See HORIZON-CL4-2024-HUMAN-03. Also HORIZON-CL4-2024-HUMAN-03!",
                &["HORIZON-CL4-2024-HUMAN-03"],
            ),
            (
                "topics HORIZON-MISS-2027-05-SOIL-01-two-stage and HORIZON-JU-CBE-2026-IAFlag-02",
                &[
                    "HORIZON-MISS-2027-05-SOIL-01-two-stage",
                    "HORIZON-JU-CBE-2026-IAFlag-02",
                ],
            ),
            // euraxess_jobs_search_results.html: "the ERC-funded project".
            ("the ERC-funded project and Horizon-Europe", &[]),
            (
                "ERC-2025-STG, ERASMUS-EDU-2025-PI-ALL-INNO-",
                &["ERC-2025-STG", "ERASMUS-EDU-2025-PI-ALL-INNO"],
            ),
            ("XHORIZON-CL4-2024-X is glued", &[]),
            // A glued prefix hides no later identifier.
            ("XHORIZON-CL4-ERC-2025-STG", &["ERC-2025-STG"]),
            ("éERC-2025-STG _ERC-2026-STG ٣ERC-2027-STG", &[]),
            (
                "«ERC-2025-STG» (EIC-2026-PATHFINDER)",
                &["ERC-2025-STG", "EIC-2026-PATHFINDER"],
            ),
        ];
        for (text, want) in table {
            assert_eq!(eu_identifiers(text), *want, "{text}");
        }
    }

    /// The scanner finds what the defining regex finds, on every fixture
    /// and on the real samples when they are there.
    #[test]
    fn identifier_scanner_matches_the_defining_regex() {
        let reference = Regex::new(&format!(
            r"\b(?:{})-[A-Za-z0-9][A-Za-z0-9-]{{2,}}",
            EU_PREFIXES.join("|")
        ))
        .expect("valid");
        let year = Regex::new(r"20\d\d").expect("valid");
        let old = |text: &str| {
            let mut out: Vec<String> = Vec::new();
            for m in reference.find_iter(text) {
                let id = m.as_str().trim_end_matches('-');
                if year.is_match(id) && !out.iter().any(|x| x.eq_ignore_ascii_case(id)) {
                    out.push(id.to_owned());
                }
            }
            out
        };
        let mut texts: Vec<String> = [
            "XHORIZON-CL4-ERC-2025-STG",
            "HORIZON-CL4-2024-HUMAN-03HORIZON-CL4-2025-X",
            "ÉERASMUS-EDU-2025-PI é-ERC-2025-STG ERC-2025-STG-éERC-2026",
            "a_EIC-2026-X 1EIC-2026-Y -EIC-2026-Z EIC-20 EIC-2026 EIC--2026 EIC-a-2026-",
            "INNOVFUND-2026-LSC XINNOVFUND-2026-LSC I3-2026-CAP EI3-2026-CAP",
            "ERC-2025-STG-ERC-2026-COG, ERC-2020, ERC-2020-",
        ]
        .map(str::to_owned)
        .to_vec();
        texts.extend(fixture_texts().into_iter().map(|(_, text)| text));
        let mut found = 0;
        for t in &texts {
            let want = old(t);
            found += want.len();
            assert_eq!(eu_identifiers(t), want, "{}", &t[..t.len().min(80)]);
        }
        assert!(
            found > 20,
            "the texts hold identifiers to compare ({found})"
        );
    }

    #[test]
    fn include_and_exclude_filters() {
        let mut s = test_support::source(SourceKind::Feed, Language::En);
        assert!(keep_item(&s, "anything", ""));
        s.include = vec!["call".into(), "appel".into()];
        s.exclude = vec!["webinar".into()];
        let table = [
            ("Call for proposals 2026", "", true),
            ("News", "un Appel à projets", true),
            ("News of the week", "nothing", false),
            ("Call webinar", "", false),
            ("Call", "WEBINAR on Tuesday", false),
        ];
        for (title, summary, want) in table {
            assert_eq!(keep_item(&s, title, summary), want, "{title} / {summary}");
        }
    }
}
