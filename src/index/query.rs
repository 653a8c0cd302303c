//! The query language: tantivy's grammar, rewritten before it reaches the
//! index.
//!
//! Syntax (tantivy's query grammar):
//! - plain words are ANDed: `mobilité doctorant` needs both (conjunction by
//!   default, because an officer narrowing a search adds words);
//! - `AND`, `OR`, `NOT` (or `+word` / `-word`), parentheses;
//! - `"exact phrases"`;
//! - `field:value` with the names of [`super::schema::ALIASES`]: `title:`,
//!   `summary:`, `text:`, `funder:`, `programme:`, `tags:` search that text
//!   in both languages; `level:`, `status:`, `language:`, `source:`, `id:`,
//!   `identifier:` match whole keyword values (case and accents ignored);
//!   date fields take RFC 3339 ranges (`deadline:[2025-01-01T00:00:00Z TO *]`).
//!
//! Glossary terms: a word or run of words found in the [`Glossary`] ("appel
//! à projets", "mobilités") searches every equivalent term of its group. On
//! an index built with the same glossary that is one lookup of the group's
//! concept token (see [`super::analyzer`]); otherwise the parsed tree is
//! rewritten to "the words OR each equivalent term" first.
//!
//! Text literals are built here rather than by tantivy's `QueryParser`: a
//! word becomes its French and English stems in one field (`all` unless a
//! field is named), and plain conjunctions and disjunctions of single terms
//! stay flat, which is the shape tantivy prunes with block-max WAND. Keyword,
//! date, set and existence leaves go to tantivy's parser as before.

use tantivy::Index;
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, Occur as QueryOccur, PhrasePrefixQuery, PhraseQuery, Query,
    QueryParser, TermQuery,
};
use tantivy::query_grammar::{
    self, Delimiter, Occur, UserInputAst, UserInputLeaf, UserInputLiteral,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use super::IndexError;
use super::analyzer::{self, Stems};
use super::glossary::{Glossary, concept_token};
use super::schema::{self, Alias, Fields, TextPart};

/// Parses `text` into a tantivy query. `Ok(None)` for an empty query (the
/// caller lists everything that passes the filters). `concepts`: the index
/// holds this glossary's concept tokens (see [`super::IndexHandle`]).
pub(crate) fn parse(
    text: &str,
    index: &Index,
    fields: &Fields,
    glossary: &Glossary,
    concepts: bool,
) -> Result<Option<Parsed>, IndexError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let ast = match query_grammar::parse_query(text) {
        Ok(ast) => ast,
        Err(_) => {
            // The strict parser says only "no"; the lenient one says where.
            let (_, errors) = query_grammar::parse_query_lenient(text);
            let (position, message) = match errors.into_iter().next() {
                Some(e) => (Some(e.pos), e.message),
                None => (
                    None,
                    "syntax error; check the AND/OR/NOT placement, parentheses and quotes"
                        .to_owned(),
                ),
            };
            return Err(IndexError::query(text, position, message));
        }
    };
    let ast = if concepts || glossary.is_empty() {
        ast
    } else {
        expand(ast, glossary)
    };
    let ast = allow_only_negative(ast);
    // Analysed once (folding, stems, glossary lookups), then placed on
    // `all` and on each bonus field.
    let plan = Planner {
        index,
        fields,
        glossary: (concepts && !glossary.is_empty()).then_some(glossary),
        stems: Stems::new(),
        folding: analyzer::folding(),
    }
    .plan(ast)
    .map_err(|m| IndexError::query(text, None, m))?;
    let Some(plan) = plan else {
        return Ok(None);
    };
    // The same query on the title and on the summary alone, each with its
    // own length normalisation: how ranking tells a call *about* the words
    // from one that mentions them (see `Parsed::bonus`).
    let bonus = [
        (TextPart::Title, TITLE_BONUS),
        (TextPart::Summary, SUMMARY_BONUS),
    ]
    .into_iter()
    .map(|(part, weight)| {
        let q = plan.place(fields.text_field(part));
        (
            QueryOccur::Should,
            Box::new(BoostQuery::new(q, weight)) as Box<dyn Query>,
        )
    })
    .collect();
    Ok(Some(Parsed {
        main: plan.place(fields.all),
        bonus: Box::new(BooleanQuery::new(bonus)),
    }))
}

/// Weight of the title-only score in the ranking bonus.
const TITLE_BONUS: f32 = 2.0;
/// Weight of the summary-only score in the ranking bonus.
const SUMMARY_BONUS: f32 = 1.0;

/// A parsed query.
pub(crate) struct Parsed {
    /// What selects the calls, on `all` (or the named fields): flat term
    /// shapes tantivy prunes.
    pub main: Box<dyn Query>,
    /// The same query on the title and the summary, scored only for the
    /// calls `main` selected and added to their scores. `all` is one long
    /// field, so its length normalisation favours short calls over calls
    /// that also say the words in their summary; the per-part scores
    /// restore what the officer expects: the calls whose title and summary
    /// are about the words first.
    pub bonus: Box<dyn Query>,
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed")
            .field("main", &self.main)
            .field("bonus", &self.bonus)
            .finish()
    }
}

impl Clone for Parsed {
    fn clone(&self) -> Self {
        Parsed {
            main: self.main.box_clone(),
            bonus: self.bonus.box_clone(),
        }
    }
}

/// A query analysed but not yet placed: words typed without a field name
/// go to whichever field [`Plan::place`] is given.
enum Plan {
    /// A boolean combination.
    Bool(Vec<(QueryOccur, Plan)>),
    /// A boosted part.
    Boost(Box<Plan>, f32),
    /// Any of these terms (stems or concept tokens) in the field (`None`:
    /// the default one).
    Terms(Option<Field>, Vec<String>),
    /// Any of these phrases (stems with their positions).
    Phrases {
        field: Option<Field>,
        variants: Vec<Vec<(usize, String)>>,
        slop: u32,
        prefix: bool,
    },
    /// A keyword, date, set or existence query: no text, no default field.
    Ready(Box<dyn Query>),
}

impl Plan {
    /// The tantivy query, with unnamed words on `default`.
    fn place(&self, default: Field) -> Box<dyn Query> {
        match self {
            Plan::Bool(clauses) => Box::new(BooleanQuery::new(
                clauses
                    .iter()
                    .map(|(o, p)| (*o, p.place(default)))
                    .collect(),
            )),
            Plan::Boost(inner, boost) => Box::new(BoostQuery::new(inner.place(default), *boost)),
            Plan::Terms(field, texts) => {
                let field = field.unwrap_or(default);
                any_of(
                    texts
                        .iter()
                        .map(|t| term_query(Term::from_field_text(field, t)))
                        .collect(),
                )
            }
            Plan::Phrases {
                field,
                variants,
                slop,
                prefix,
            } => {
                let field = field.unwrap_or(default);
                any_of(
                    variants
                        .iter()
                        .map(|stems| {
                            let terms: Vec<(usize, Term)> = stems
                                .iter()
                                .map(|(pos, stem)| (*pos, Term::from_field_text(field, stem)))
                                .collect();
                            if *prefix {
                                Box::new(PhrasePrefixQuery::new_with_offset(terms))
                                    as Box<dyn Query>
                            } else {
                                Box::new(PhraseQuery::new_with_offset_and_slop(terms, *slop))
                            }
                        })
                        .collect(),
                )
            }
            Plan::Ready(q) => q.box_clone(),
        }
    }
}

/// Analyses a parsed tree into a [`Plan`].
struct Planner<'a> {
    index: &'a Index,
    fields: &'a Fields,
    /// The glossary whose concept tokens the index holds, if it does.
    glossary: Option<&'a Glossary>,
    stems: Stems,
    folding: TextAnalyzer,
}

type Planned = Result<Option<Plan>, String>;

impl Planner<'_> {
    fn plan(&mut self, ast: UserInputAst) -> Planned {
        match ast {
            UserInputAst::Clause(children) => self.clause(children),
            UserInputAst::Boost(inner, boost) => Ok(self
                .plan(*inner)?
                .map(|p| Plan::Boost(Box::new(p), boost.into_inner() as f32))),
            UserInputAst::Leaf(leaf) => self.leaf(*leaf),
        }
    }

    fn clause(&mut self, children: Vec<(Option<Occur>, UserInputAst)>) -> Planned {
        let mut clauses: Vec<(QueryOccur, Plan)> = Vec::new();
        let mut i = 0;
        while i < children.len() {
            // Words typed without quotes may form a glossary term together.
            if let Some(glossary) = self.glossary
                && let Some((len, field, groups)) = concept_run(&children[i..], glossary)
            {
                let field = self.text_target(&field)?;
                clauses.push((occur(children[i].0), concepts(field, &groups)));
                i += len;
                continue;
            }
            let (o, child) = &children[i];
            if let Some(p) = self.plan(child.clone())? {
                clauses.push((occur(*o), p));
            }
            i += 1;
        }
        Ok(flatten(clauses, Plan::Bool))
    }

    /// The field a text literal searches: `None` for the default field, the
    /// part's own field when named.
    fn text_target(&self, field: &Option<String>) -> Result<Option<Field>, String> {
        match field {
            None => Ok(None),
            Some(name) => match schema::alias(name).ok_or_else(|| unknown_field(name))? {
                Alias::Text(part) => Ok(Some(self.fields.text_field(part))),
                Alias::Field(_) => Err(format!("`{name}:` is not a text field")),
            },
        }
    }

    fn leaf(&mut self, leaf: UserInputLeaf) -> Planned {
        match leaf {
            UserInputLeaf::Literal(lit) if is_text_target(&lit.field_name) => self.text(lit),
            other => {
                // Keyword, date, set and existence leaves: tantivy's parser
                // knows those field types; names are resolved first.
                let resolved = resolve_leaf(other)?;
                let parser = QueryParser::for_index(self.index, Vec::new());
                parser
                    .build_query_from_user_input_ast(resolved)
                    .map(|q| Some(Plan::Ready(q)))
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn text(&mut self, lit: UserInputLiteral) -> Planned {
        let field = self.text_target(&lit.field_name)?;
        let words = analyzer::positioned_tokens(&mut self.folding, &lit.phrase);
        if words.is_empty() {
            return Ok(None);
        }
        let just_words: Vec<String> = words.iter().map(|(_, w)| w.clone()).collect();
        if let Some(glossary) = self.glossary
            && lit.slop == 0
            && !lit.prefix
        {
            let groups = glossary.groups_of_words(&just_words);
            if !groups.is_empty() {
                return Ok(Some(concepts(field, &groups)));
            }
        }
        if words.len() == 1 && !lit.prefix {
            return Ok(Some(Plan::Terms(field, self.stems.of(&words[0].1))));
        }
        if words.len() == 1 {
            return Err(format!(
                "`{}*`: a trailing * completes the last word of a quoted phrase of two words or more",
                lit.phrase
            ));
        }
        // A phrase: each word's French stems in order, and the English ones
        // when they differ (both are indexed at every position).
        let (fr, en) = self.stems.both(&just_words);
        let positioned = |stems: Vec<String>| -> Vec<(usize, String)> {
            words.iter().map(|(pos, _)| *pos).zip(stems).collect()
        };
        let mut variants = vec![positioned(fr)];
        let en = positioned(en);
        if variants[0] != en {
            variants.push(en);
        }
        Ok(Some(Plan::Phrases {
            field,
            variants,
            slop: lit.slop,
            prefix: lit.prefix,
        }))
    }
}

/// The concept tokens of `groups`.
fn concepts(field: Option<Field>, groups: &[usize]) -> Plan {
    Plan::Terms(field, groups.iter().map(|&g| concept_token(g)).collect())
}

/// `None` (no operator) means AND: conjunction by default.
fn occur(o: Option<Occur>) -> QueryOccur {
    match o {
        Some(Occur::Should) => QueryOccur::Should,
        Some(Occur::MustNot) => QueryOccur::MustNot,
        Some(Occur::Must) | None => QueryOccur::Must,
    }
}

/// One clause stays itself (a term query must not hide under a one-clause
/// boolean, or tantivy cannot see the flat shape it prunes); several become
/// `boolean(clauses)`; none, nothing.
fn flatten<T>(
    mut clauses: Vec<(QueryOccur, T)>,
    boolean: impl FnOnce(Vec<(QueryOccur, T)>) -> T,
) -> Option<T> {
    if clauses.len() == 1 && clauses[0].0 != QueryOccur::MustNot {
        return clauses.pop().map(|(_, q)| q);
    }
    if clauses.is_empty() {
        return None;
    }
    Some(boolean(clauses))
}

/// Any of `queries`: the query itself when there is one.
fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    let clauses: Vec<(QueryOccur, Box<dyn Query>)> = queries
        .into_iter()
        .map(|q| (QueryOccur::Should, q))
        .collect();
    let boolean = |c| Box::new(BooleanQuery::new(c)) as Box<dyn Query>;
    flatten(clauses, boolean).unwrap_or_else(|| boolean(Vec::new()))
}

/// Scored term lookup (frequencies read: BM25 and block-max pruning need
/// them).
fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

/// The longest run (2 words or more) of unquoted words at the start of
/// `children` that names a glossary term: all ANDed (or with no operator),
/// all on the same field, no quotes. `(children consumed, field, groups)`.
fn concept_run(
    children: &[(Option<Occur>, UserInputAst)],
    glossary: &Glossary,
) -> Option<(usize, Option<String>, Vec<usize>)> {
    let (first_occur, _) = children.first()?;
    if !matches!(first_occur, None | Some(Occur::Must)) {
        return None;
    }
    let mut run: Vec<&UserInputLiteral> = Vec::new();
    for (occur, child) in children.iter().take(glossary.max_words()) {
        let Some(lit) = expandable(child) else { break };
        if occur != first_occur
            || lit.delimiter != Delimiter::None
            || run.first().is_some_and(|f| f.field_name != lit.field_name)
        {
            break;
        }
        run.push(lit);
    }
    for len in (2..=run.len()).rev() {
        let words: Vec<String> = run[..len]
            .iter()
            .flat_map(|lit| plain_words(&lit.phrase))
            .collect();
        let groups = glossary.groups_of_words(&words);
        if !groups.is_empty() {
            return Some((len, run[0].field_name.clone(), groups));
        }
    }
    None
}

/// `NOT x` alone means "everything but x": tantivy refuses a purely
/// negative query, so the top level gets an explicit match-all clause.
fn allow_only_negative(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(mut children)
            if !children.is_empty()
                && children
                    .iter()
                    .all(|(occur, _)| *occur == Some(Occur::MustNot)) =>
        {
            children.push((
                Some(Occur::Must),
                UserInputAst::Leaf(Box::new(UserInputLeaf::All)),
            ));
            UserInputAst::Clause(children)
        }
        other => other,
    }
}

/// True when `field` names a text part (or no field: the default fields).
fn is_text_target(field: &Option<String>) -> bool {
    match field {
        None => true,
        Some(name) => matches!(schema::alias(name), Some(Alias::Text(_))),
    }
}

fn literal(field: Option<String>, phrase: &str) -> UserInputAst {
    let multi = phrase.split_whitespace().nth(1).is_some();
    UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(UserInputLiteral {
        field_name: field,
        phrase: phrase.to_owned(),
        delimiter: if multi {
            Delimiter::DoubleQuotes
        } else {
            Delimiter::None
        },
        slop: 0,
        prefix: false,
    })))
}

/// `original OR equivalent1 OR equivalent2 ...` on `field`.
fn alternatives(
    field: &Option<String>,
    original: UserInputAst,
    equivalents: &[&str],
) -> UserInputAst {
    let mut clauses = vec![(Some(Occur::Should), original)];
    clauses.extend(
        equivalents
            .iter()
            .map(|term| (Some(Occur::Should), literal(field.clone(), term))),
    );
    UserInputAst::Clause(clauses)
}

/// A plain word literal eligible for glossary expansion: unquoted or quoted,
/// no slop/prefix, on the default fields or a text alias.
fn expandable(ast: &UserInputAst) -> Option<&UserInputLiteral> {
    match ast {
        UserInputAst::Leaf(leaf) => match leaf.as_ref() {
            UserInputLeaf::Literal(lit)
                if lit.slop == 0 && !lit.prefix && is_text_target(&lit.field_name) =>
            {
                Some(lit)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The words of `text`, lowercase and folded, with their positions (the
/// positions the index gives them, gaps included).
fn folded_words(text: &str) -> Vec<(usize, String)> {
    analyzer::positioned_tokens(&mut analyzer::folding(), text)
}

fn plain_words(text: &str) -> Vec<String> {
    folded_words(text).into_iter().map(|(_, w)| w).collect()
}

/// Glossary expansion. Runs of consecutive unquoted words ANDed together
/// ("appel à projets") are matched longest first; single literals and quoted
/// phrases are matched whole.
fn expand(ast: UserInputAst, glossary: &Glossary) -> UserInputAst {
    if glossary.is_empty() {
        return ast;
    }
    match ast {
        UserInputAst::Clause(children) => {
            let mut out = Vec::with_capacity(children.len());
            let mut i = 0;
            while i < children.len() {
                if let Some((len, node)) = match_run(&children[i..], glossary) {
                    out.push((children[i].0, node));
                    i += len;
                    continue;
                }
                let (occur, child) = children[i].clone();
                out.push((occur, expand(child, glossary)));
                i += 1;
            }
            UserInputAst::Clause(out)
        }
        UserInputAst::Boost(inner, boost) => {
            UserInputAst::Boost(Box::new(expand(*inner, glossary)), boost)
        }
        UserInputAst::Leaf(_) => {
            let Some(lit) = expandable(&ast) else {
                return ast;
            };
            let equivalents = glossary.equivalents_of_words(&plain_words(&lit.phrase));
            if equivalents.is_empty() {
                return ast;
            }
            let field = lit.field_name.clone();
            alternatives(&field, ast.clone(), &equivalents)
        }
    }
}

/// The longest glossary run at the start of `children` (see
/// [`concept_run`]): `(children consumed, "the words OR each equivalent")`.
fn match_run(
    children: &[(Option<Occur>, UserInputAst)],
    glossary: &Glossary,
) -> Option<(usize, UserInputAst)> {
    let (len, field, groups) = concept_run(children, glossary)?;
    let original = UserInputAst::Clause(
        children[..len]
            .iter()
            .map(|(_, c)| (Some(Occur::Must), c.clone()))
            .collect(),
    );
    Some((
        len,
        alternatives(&field, original, &glossary.terms_of(&groups)),
    ))
}

fn unknown_field(name: &str) -> String {
    format!(
        "unknown field `{name}:`; use one of {} (or put the words in quotes)",
        schema::alias_names()
    )
}

/// Resolves the field name of a non-text leaf (keyword and date fields) for
/// tantivy's parser.
fn resolve_leaf(leaf: UserInputLeaf) -> Result<UserInputAst, String> {
    let leaf_node = |l: UserInputLeaf| UserInputAst::Leaf(Box::new(l));
    let keyword_or_date = |name: &str, what: &str| -> Result<&'static str, String> {
        match schema::alias(name).ok_or_else(|| unknown_field(name))? {
            Alias::Field(f) => Ok(f),
            Alias::Text(_) => Err(format!("`{name}:` is text: {what}")),
        }
    };
    match leaf {
        UserInputLeaf::Literal(mut lit) => {
            let Some(name) = lit.field_name.clone() else {
                return Err("a word without a field is text".to_owned());
            };
            lit.field_name = Some(keyword_or_date(&name, "search it with words")?.to_owned());
            Ok(leaf_node(UserInputLeaf::Literal(lit)))
        }
        UserInputLeaf::Range {
            field,
            lower,
            upper,
        } => {
            let Some(name) = field else {
                return Err(
                    "a range needs a date field, e.g. deadline:[2025-01-01T00:00:00Z TO *]"
                        .to_owned(),
                );
            };
            let f = keyword_or_date(
                &name,
                "ranges work on deadline, opening, first_seen, last_changed",
            )?;
            Ok(leaf_node(UserInputLeaf::Range {
                field: Some(f.to_owned()),
                lower,
                upper,
            }))
        }
        UserInputLeaf::Set { field, elements } => {
            let Some(name) = field else {
                return Err(
                    "`IN [...]` needs a keyword field, e.g. level: IN [eu national]".to_owned(),
                );
            };
            let f = keyword_or_date(
                &name,
                "`IN [...]` works on keyword fields only (level, status, ...)",
            )?;
            Ok(leaf_node(UserInputLeaf::Set {
                field: Some(f.to_owned()),
                elements,
            }))
        }
        UserInputLeaf::Exists { field } => {
            let f = keyword_or_date(&field, "it cannot be tested for existence")?;
            Ok(leaf_node(UserInputLeaf::Exists {
                field: f.to_owned(),
            }))
        }
        UserInputLeaf::Regex { .. } => {
            Err("regular expressions are not supported; use words or \"phrases\"".to_owned())
        }
        UserInputLeaf::All => Ok(leaf_node(UserInputLeaf::All)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ast(q: &str) -> UserInputAst {
        query_grammar::parse_query(q).unwrap()
    }

    #[test]
    fn glossary_expands_words_runs_and_phrases() {
        let g = Glossary::default();
        // (query, a term that must appear in the expanded tree)
        let cases: &[(&str, &str)] = &[
            ("mobilités", "?mobility)"),
            ("appel à projets", "\"call for proposals\""),
            ("\"call for proposals\" chimie", "\"appel à projets\""),
            ("title:bourse", "\"title\":fellowship"),
            ("NOT mobility", "mobilité"),
        ];
        for (q, needle) in cases {
            let out = format!("{:?}", expand(ast(q), &g));
            assert!(out.contains(needle), "{q}: {out}");
        }
    }

    #[test]
    fn glossary_leaves_keyword_fields_and_unknown_words_alone() {
        let g = Glossary::default();
        for q in ["level:eu", "photosynthèse", "status:open mobility~1"] {
            let before = format!("{:?}", ast(q));
            let after = format!("{:?}", expand(ast(q), &g));
            if q == "status:open mobility~1" {
                // slop phrases are left as typed
                assert!(!after.contains("mobilité"), "{after}");
            } else {
                assert_eq!(before, after, "{q}");
            }
        }
    }

    fn built(q: &str, concepts: bool) -> String {
        let h = super::super::IndexHandle::create_in_ram().unwrap();
        let g = Glossary::default();
        let query = parse(q, &h.index, &h.fields, &g, concepts)
            .unwrap()
            .unwrap();
        format!("{:?}", query.main)
    }

    #[test]
    fn aliases_resolve_and_unknown_fields_are_named() {
        let h = super::super::IndexHandle::create_in_ram().unwrap();
        let title = h.fields.text_field(schema::TextPart::Title);
        let level = h.fields.level;
        let out = built("title:chimie level:eu", true);
        assert!(
            out.contains(&format!("field={}, type=Str, \"chimi\"", title.field_id())),
            "{out}"
        );
        assert!(
            out.contains(&format!("field={}, type=Str, \"eu\"", level.field_id())),
            "{out}"
        );
        let g = Glossary::default();
        let err = parse("colour:red", &h.index, &h.fields, &g, true)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown field `colour:`"), "{err}");
        assert!(err.contains("title"), "{err}");
        let err = parse("title:[a TO b]", &h.index, &h.fields, &g, true)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`title:` is text"), "{err}");
    }

    /// The shapes tantivy prunes block by block: a glossary term is one term
    /// query, a conjunction of plain words a flat boolean of term queries.
    #[test]
    fn glossary_terms_are_one_lookup_and_conjunctions_stay_flat() {
        // (query, term queries expected, booleans expected, phrases expected)
        let cases: &[(&str, usize, usize, usize)] = &[
            ("\"appel à projets\"", 1, 0, 0),
            ("appel à projets", 1, 0, 0),
            ("climate change", 1, 0, 0),
            ("mobilités", 1, 0, 0),
            ("Brazil AND partnership", 2, 1, 0),
            // "energy": French keeps it, English stems it to "energi": both.
            ("Brazil AND partnership AND energy", 4, 2, 0),
            ("santé numérique", 2, 1, 0),
            ("\"rare earth magnets\"", 0, 1, 2),
        ];
        for (q, terms, booleans, phrases) in cases {
            let out = built(q, true);
            assert_eq!(out.matches("TermQuery(").count(), *terms, "{q}: {out}");
            assert_eq!(out.matches("BooleanQuery").count(), *booleans, "{q}: {out}");
            assert_eq!(out.matches("PhraseQuery").count(), *phrases, "{q}: {out}");
        }
        // Under another glossary the index has no usable concepts: the
        // equivalents are spelled out instead.
        let out = built("appel à projets", false);
        assert!(out.contains("PhraseQuery"), "{out}");
        assert!(!out.contains("#g"), "{out}");
    }
}
