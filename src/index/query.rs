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
//! Two rewrites happen on the parsed tree: glossary expansion (a word or run
//! of words found in the [`Glossary`] becomes "the words OR each equivalent
//! term"), then alias resolution (`title:` becomes `title_fr: OR title_en:`).

use tantivy::Index;
use tantivy::query::{Query, QueryParser};
use tantivy::query_grammar::{
    self, Delimiter, Occur, UserInputAst, UserInputLeaf, UserInputLiteral,
};

use super::IndexError;
use super::analyzer;
use super::glossary::Glossary;
use super::schema::{self, Alias, Fields};

/// Parses `text` into a tantivy query. `Ok(None)` for an empty query (the
/// caller lists everything that passes the filters).
pub(crate) fn parse(
    text: &str,
    index: &Index,
    fields: &Fields,
    glossary: &Glossary,
) -> Result<Option<Box<dyn Query>>, IndexError> {
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
    let ast = expand(ast, glossary);
    let ast = resolve(ast, fields).map_err(|m| IndexError::query(text, None, m))?;
    let ast = allow_only_negative(ast);
    let mut parser = QueryParser::new(
        fields.schema.clone(),
        fields.default_fields(),
        index.tokenizers().clone(),
    );
    parser.set_conjunction_by_default();
    for (part, fr, en) in &fields.text {
        parser.set_field_boost(*fr, part.boost());
        parser.set_field_boost(*en, part.boost());
    }
    let query = parser
        .build_query_from_user_input_ast(ast)
        .map_err(|e| IndexError::query(text, None, e.to_string()))?;
    Ok(Some(query))
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

fn folded_words(text: &str) -> Vec<String> {
    analyzer::tokens(&mut analyzer::folding(), text)
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
            let equivalents = glossary.equivalents_of_words(&folded_words(&lit.phrase));
            if equivalents.is_empty() {
                return ast;
            }
            let field = lit.field_name.clone();
            alternatives(&field, ast.clone(), &equivalents)
        }
    }
}

/// The longest run (2 words or more) at the start of `children` that the
/// glossary knows: `(children consumed, replacement node)`.
fn match_run(
    children: &[(Option<Occur>, UserInputAst)],
    glossary: &Glossary,
) -> Option<(usize, UserInputAst)> {
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
            .flat_map(|lit| folded_words(&lit.phrase))
            .collect();
        let equivalents = glossary.equivalents_of_words(&words);
        if equivalents.is_empty() {
            continue;
        }
        let original = UserInputAst::Clause(
            children[..len]
                .iter()
                .map(|(_, c)| (Some(Occur::Must), c.clone()))
                .collect(),
        );
        let field = run[0].field_name.clone();
        return Some((len, alternatives(&field, original, &equivalents)));
    }
    None
}

/// Replaces alias names with schema field names; `title:x` becomes
/// `title_fr:x OR title_en:x`.
fn resolve(ast: UserInputAst, fields: &Fields) -> Result<UserInputAst, String> {
    match ast {
        UserInputAst::Clause(children) => Ok(UserInputAst::Clause(
            children
                .into_iter()
                .map(|(o, c)| resolve(c, fields).map(|c| (o, c)))
                .collect::<Result<_, _>>()?,
        )),
        UserInputAst::Boost(inner, boost) => Ok(UserInputAst::Boost(
            Box::new(resolve(*inner, fields)?),
            boost,
        )),
        UserInputAst::Leaf(leaf) => resolve_leaf(*leaf, fields),
    }
}

fn unknown_field(name: &str) -> String {
    format!(
        "unknown field `{name}:`; use one of {} (or put the words in quotes)",
        schema::alias_names()
    )
}

fn resolve_leaf(leaf: UserInputLeaf, fields: &Fields) -> Result<UserInputAst, String> {
    let leaf_node = |l: UserInputLeaf| UserInputAst::Leaf(Box::new(l));
    match leaf {
        UserInputLeaf::Literal(mut lit) => {
            let Some(name) = lit.field_name.clone() else {
                return Ok(leaf_node(UserInputLeaf::Literal(lit)));
            };
            match schema::alias(&name).ok_or_else(|| unknown_field(&name))? {
                Alias::Text(part) => {
                    let (fr, en) = fields.text_pair(part);
                    let mut both = Vec::new();
                    for f in [fr, en] {
                        let mut l = lit.clone();
                        l.field_name = Some(fields.schema.get_field_name(f).to_owned());
                        both.push((Some(Occur::Should), leaf_node(UserInputLeaf::Literal(l))));
                    }
                    Ok(UserInputAst::Clause(both))
                }
                Alias::Field(f) => {
                    lit.field_name = Some(f.to_owned());
                    Ok(leaf_node(UserInputLeaf::Literal(lit)))
                }
            }
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
            match schema::alias(&name).ok_or_else(|| unknown_field(&name))? {
                Alias::Field(f) => Ok(leaf_node(UserInputLeaf::Range {
                    field: Some(f.to_owned()),
                    lower,
                    upper,
                })),
                Alias::Text(_) => Err(format!(
                    "`{name}:` is text: ranges work on deadline, opening, first_seen, last_changed"
                )),
            }
        }
        UserInputLeaf::Set { field, elements } => {
            let field = match field {
                None => None,
                Some(name) => match schema::alias(&name).ok_or_else(|| unknown_field(&name))? {
                    Alias::Field(f) => Some(f.to_owned()),
                    Alias::Text(_) => {
                        return Err(format!(
                            "`{name}: IN [...]` works on keyword fields only (level, status, ...)"
                        ));
                    }
                },
            };
            Ok(leaf_node(UserInputLeaf::Set { field, elements }))
        }
        UserInputLeaf::Exists { field } => {
            match schema::alias(&field).ok_or_else(|| unknown_field(&field))? {
                Alias::Field(f) => Ok(leaf_node(UserInputLeaf::Exists {
                    field: f.to_owned(),
                })),
                Alias::Text(_) => Err(format!("`{field}` cannot be tested for existence")),
            }
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

    #[test]
    fn aliases_resolve_and_unknown_fields_are_named() {
        let fields = Fields::build();
        let out = format!(
            "{:?}",
            resolve(ast("title:chimie level:eu"), &fields).unwrap()
        );
        assert!(out.contains("\"title_fr\":chimie"), "{out}");
        assert!(out.contains("\"title_en\":chimie"), "{out}");
        assert!(out.contains("\"level\":eu"), "{out}");
        let err = resolve(ast("colour:red"), &fields).unwrap_err();
        assert!(err.contains("unknown field `colour:`"), "{err}");
        assert!(err.contains("title"), "{err}");
    }
}
