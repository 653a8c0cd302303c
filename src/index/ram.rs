//! In-RAM indexes with the on-disk schema and analysers, for matching many
//! saved queries against a few calls.
//!
//! Matching 10,000 profiles against the whole on-disk index would run
//! 10,000 queries over 100,000 documents to find, each week, hits among the
//! ~1,000 calls that are new or changed. [`CandidateIndex`] indexes just those
//! candidates in memory (same [`Fields`], same analysers, same query
//! language and glossary as `fundwatch search`), so each profile's query
//! costs microseconds and ranks the same way a search would.

use std::collections::HashMap;
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query_grammar::{self, Occur, UserInputAst, UserInputLeaf};
use tantivy::schema::Value;
use tantivy::{DocAddress, Index, TantivyDocument};

use super::schema::{self, Alias, TextPart};
use super::{Fields, Glossary, IndexDoc, IndexError, IndexHandle, query};

/// Writer memory for a candidate index: enough for a few thousand calls in
/// one segment.
const RAM_WRITER_MEMORY: usize = 100_000_000;

/// Shown in error messages in place of a directory.
const RAM_DIR: &str = "(in-memory candidate index)";

impl IndexHandle {
    /// An empty index held in memory, with the same schema and analysers as
    /// an on-disk one. Nothing is written to disk; dropping it frees it.
    pub fn create_in_ram() -> Result<IndexHandle, IndexError> {
        let fields = Fields::build();
        let index = Index::create_in_ram(fields.schema.clone());
        IndexHandle::wrap(Path::new(RAM_DIR), index, fields)
    }
}

/// A parsed saved query, reusable across searches of one [`CandidateIndex`].
pub struct ParsedQuery(Option<query::Parsed>);

impl std::fmt::Debug for ParsedQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ParsedQuery")
            .field(&self.0.is_some())
            .finish()
    }
}

/// A small in-RAM index over a fixed list of calls (the candidates of one
/// digest run), answering "which of them match this query, how well".
#[derive(Debug)]
pub struct CandidateIndex {
    handle: IndexHandle,
    /// Document address → position in the list the index was built from.
    positions: HashMap<DocAddress, usize>,
    len: usize,
}

impl CandidateIndex {
    /// Indexes `docs` (in memory) with `glossary` for query expansion.
    pub fn build(docs: &[IndexDoc], glossary: Glossary) -> Result<CandidateIndex, IndexError> {
        let handle = IndexHandle::create_in_ram()?.with_glossary(glossary);
        // One writer thread, so one segment: every query term is then looked
        // up once, not once per segment (the per-query cost dominates when
        // 10,000 queries run over ~1,000 documents).
        let mut writer = handle
            .index
            .writer_with_num_threads::<TantivyDocument>(1, RAM_WRITER_MEMORY)
            .map_err(|e| handle.write_err(e))?;
        for doc in docs {
            writer
                .add_document(handle.document(doc)?)
                .map_err(|e| handle.write_err(e))?;
        }
        writer.commit().map_err(|e| handle.write_err(e))?;
        writer
            .wait_merging_threads()
            .map_err(|e| handle.write_err(e))?;
        handle.reload()?;
        // Analysed just now with `glossary`: concept tokens are usable (the
        // reload saw no payload, since this index never records one).
        handle
            .concepts
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Segment layout depends on the writer's threads: map addresses back
        // to positions through the stored id rather than assuming an order.
        let by_id: HashMap<&str, usize> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.call.id.as_str(), i))
            .collect();
        let searcher = handle.reader.searcher();
        let mut positions = HashMap::with_capacity(docs.len());
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let ord = u32::try_from(ord).expect("invariant: few segments");
            for doc_id in 0..segment.max_doc() {
                let addr = DocAddress::new(ord, doc_id);
                let doc: TantivyDocument = searcher.doc(addr).map_err(|e| handle.read_err(e))?;
                if let Some(pos) = doc
                    .get_first(handle.fields.id)
                    .and_then(|v| v.as_str())
                    .and_then(|id| by_id.get(id))
                {
                    positions.insert(addr, *pos);
                }
            }
        }
        Ok(CandidateIndex {
            handle,
            positions,
            len: docs.len(),
        })
    }

    /// Number of indexed calls.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no call is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Parses `text` with the index's query language (the same parser,
    /// aliases and glossary as `fundwatch search`): the profile check.
    pub fn parse(&self, text: &str) -> Result<ParsedQuery, IndexError> {
        query::parse(
            text,
            &self.handle.index,
            &self.handle.fields,
            &self.handle.glossary,
            self.handle.concepts_usable(),
        )
        .map(ParsedQuery)
    }

    /// Every indexed call matching `query`, as (position in the build list,
    /// BM25 score), best first. An empty query matches every call, score 0.
    pub fn matches(&self, query: &ParsedQuery) -> Result<Vec<(usize, f32)>, IndexError> {
        let Some(q) = &query.0 else {
            return Ok((0..self.len).map(|i| (i, 0.0)).collect());
        };
        if self.len == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.handle.reader.searcher();
        let mut found = searcher
            .search(&*q.main, &TopDocs::with_limit(self.len).order_by_score())
            .map_err(|e| self.handle.read_err(e))?;
        // Ranked as `fundwatch search` ranks: plus the title and summary
        // scores.
        super::search::add_bonus(&searcher, &*q.bonus, &mut found)
            .map_err(|e| self.handle.read_err(e))?;
        Ok(found
            .into_iter()
            .filter_map(|(score, addr)| self.positions.get(&addr).map(|p| (*p, score)))
            .collect())
    }
}

/// A query word or phrase that can explain a match, with the text part it
/// was restricted to (`title:sol`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// The word or phrase as typed.
    pub phrase: String,
    /// The text part it is restricted to.
    pub part: Option<TextPart>,
}

/// The positive text literals of a query (not under `NOT`/`-`), in order,
/// as typed (before glossary expansion): what can explain a match. Keyword
/// and date clauses (`level:eu`) are left out. An unparsable query has none.
pub fn positive_terms(query: &str) -> Vec<QueryTerm> {
    fn walk(ast: &UserInputAst, out: &mut Vec<QueryTerm>) {
        match ast {
            UserInputAst::Clause(children) => {
                for (occur, child) in children {
                    if *occur != Some(Occur::MustNot) {
                        walk(child, out);
                    }
                }
            }
            UserInputAst::Boost(inner, _) => walk(inner, out),
            UserInputAst::Leaf(leaf) => {
                if let UserInputLeaf::Literal(lit) = leaf.as_ref() {
                    let part = match &lit.field_name {
                        None => None,
                        Some(name) => match schema::alias(name) {
                            Some(Alias::Text(part)) => Some(part),
                            _ => return,
                        },
                    };
                    let t = QueryTerm {
                        phrase: lit.phrase.clone(),
                        part,
                    };
                    if !lit.phrase.trim().is_empty() && !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(ast) = query_grammar::parse_query(query) {
        walk(&ast, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Call, Language, Level, Status};
    use chrono::{DateTime, Utc};

    fn doc(id: &str, title: &str) -> IndexDoc {
        let t: DateTime<Utc> = "2026-11-20T10:00:00Z".parse().unwrap();
        IndexDoc {
            call: Call {
                id: id.into(),
                source_id: "s".into(),
                native_id: None,
                url: format!("https://example.org/{id}"),
                title: title.into(),
                summary: String::new(),
                text: String::new(),
                funder: "ANR".into(),
                programme: None,
                level: Level::National,
                language: Language::Fr,
                opening: None,
                deadlines: vec![],
                status: Status::Open,
                budget: None,
                tags: vec![],
                identifiers: vec![],
            },
            first_seen: t,
            last_changed: t,
            sources: vec![],
        }
    }

    #[test]
    fn candidate_index_finds_positions_with_the_search_analysers() {
        let docs = vec![
            doc("a", "Mobilité des doctorants"),
            doc("b", "Soil health"),
            doc("c", "Santé des sols"),
        ];
        let idx = CandidateIndex::build(&docs, Glossary::default()).unwrap();
        assert_eq!(idx.len(), 3);
        // (query, positions expected, in any order)
        let table: &[(&str, &[usize])] = &[
            ("mobilites", &[0]),
            ("sol OR soil", &[1, 2]),
            ("sols NOT santé", &[]),
            ("title:soil", &[1]),
            ("", &[0, 1, 2]),
        ];
        for (q, want) in table {
            let parsed = idx.parse(q).unwrap();
            let mut got: Vec<usize> = idx
                .matches(&parsed)
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            got.sort_unstable();
            assert_eq!(&got, want, "{q}");
        }
        assert!(idx.parse("colour:red").is_err());
    }
}
