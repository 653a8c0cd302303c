//! Searching the index: filters, sorting, hits with highlighted snippets.
//!
//! Semantics worth knowing:
//! - Plain words are ANDed (see [`super::query`] for the syntax); an empty query lists
//!   every call that passes the filters.
//! - Filter lists (levels, funders, ...) are ORed within a list and ANDed
//!   across lists. Funders and programmes match the whole name, case and
//!   accents ignored.
//! - `deadline_after` / `deadline_before` keep calls with **at least one**
//!   deadline whose calendar day (in the deadline's own zone; the last day
//!   for "end of March") lies in the window, both ends included. Not just
//!   the next deadline: an officer planning a year wants a two-stage call
//!   whose full-proposal stage falls in the window too.
//! - `closing_within` keeps calls whose **next** deadline (the first not
//!   past at `now`) is within that many days of `now`.
//! - The next deadline is computed at query time from every deadline's
//!   cut-off, never stored: an unchanged call is not reindexed, so a stored
//!   "next deadline" would go stale.
//! - Sort by relevance (BM25, title weighted most), or by next deadline
//!   (soonest first, calls with no upcoming deadline last). An empty query
//!   sorted by relevance is sorted by deadline: there is nothing to rank.
//!   Ties are broken by call id, so results are deterministic.

use std::ops::{Bound, Range};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use tantivy::DocSet;
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, RangeQuery, Scorer,
    TermSetQuery,
};
use tantivy::schema::{Field, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Score, SegmentReader, TantivyDocument, Term};

use super::analyzer::keyword_token;
use super::schema::F_DEADLINE;
use super::{IndexError, IndexHandle, query, tdate};
use crate::model::{Call, DatePoint, Language, Level, Status};

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Best match first.
    #[default]
    Relevance,
    /// Soonest next deadline first.
    Deadline,
}

/// Default number of hits.
pub const DEFAULT_LIMIT: usize = 20;

/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 200;

/// A search: query text plus filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query (see the query language in the module doc); may be empty.
    pub query: String,
    /// Keep these levels (any of them; empty: all).
    pub levels: Vec<Level>,
    /// Keep these funders (whole names).
    pub funders: Vec<String>,
    /// Keep these programmes (whole names).
    pub programmes: Vec<String>,
    /// Keep these statuses.
    pub statuses: Vec<Status>,
    /// Keep these languages.
    pub languages: Vec<Language>,
    /// Keep calls reported by any of these sources.
    pub sources: Vec<String>,
    /// Some deadline on or after this day.
    pub deadline_after: Option<NaiveDate>,
    /// Some deadline on or before this day.
    pub deadline_before: Option<NaiveDate>,
    /// Next deadline within this many days of `now`.
    pub closing_within: Option<u32>,
    /// Ordering.
    pub sort: Sort,
    /// Maximum number of hits.
    pub limit: usize,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: String::new(),
            levels: Vec::new(),
            funders: Vec::new(),
            programmes: Vec::new(),
            statuses: Vec::new(),
            languages: Vec::new(),
            sources: Vec::new(),
            deadline_after: None,
            deadline_before: None,
            closing_within: None,
            sort: Sort::Relevance,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl SearchRequest {
    /// A request for `query` with no filters.
    pub fn new(query: impl Into<String>) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            ..SearchRequest::default()
        }
    }
}

/// An excerpt of a call with the matched words marked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snippet {
    /// The excerpt, plain text.
    pub text: String,
    /// Byte ranges of `text` that matched the query, in order, disjoint.
    pub highlights: Vec<Range<usize>>,
}

impl Snippet {
    /// The excerpt with every highlight wrapped in `open`/`close` (ANSI bold
    /// for a terminal, `<b>`/`</b>` after escaping for HTML ...).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + 8 * self.highlights.len());
        let mut at = 0;
        for r in &self.highlights {
            let (Some(before), Some(word)) = (self.text.get(at..r.start), self.text.get(r.clone()))
            else {
                continue;
            };
            out.push_str(before);
            out.push_str(open);
            out.push_str(word);
            out.push_str(close);
            at = r.end;
        }
        out.push_str(self.text.get(at..).unwrap_or_default());
        out
    }

    /// The excerpt with highlights between `«` and `»`, the default plain
    /// form for terminals and JSON.
    pub fn to_marked_string(&self) -> String {
        self.marked("«", "»")
    }

    /// The start of `text`, cut at a word boundary, with no highlight.
    pub fn plain(text: &str) -> Snippet {
        let text = text.trim();
        if text.chars().count() <= SNIPPET_CHARS {
            return Snippet {
                text: text.to_owned(),
                highlights: Vec::new(),
            };
        }
        let cut: String = text.chars().take(SNIPPET_CHARS).collect();
        let cut = match cut.rfind(char::is_whitespace) {
            Some(i) if i > SNIPPET_CHARS / 2 => &cut[..i],
            _ => cut.as_str(),
        };
        Snippet {
            text: format!("{}…", cut.trim_end()),
            highlights: Vec::new(),
        }
    }
}

/// One search result. Carries the stored call: displaying it needs no
/// database.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Call id.
    pub id: String,
    /// Relevance score (0 when the query was empty).
    pub score: f32,
    /// Title.
    pub title: String,
    /// Canonical URL.
    pub url: String,
    /// Funder.
    pub funder: String,
    /// Level.
    pub level: Level,
    /// Status as of the last indexing.
    pub status: Status,
    /// Programme.
    pub programme: Option<String>,
    /// The first deadline not past at the search's `now`.
    pub next_deadline: Option<DatePoint>,
    /// Every deadline.
    pub deadlines: Vec<DatePoint>,
    /// Excerpt with the matched words.
    pub snippet: Snippet,
    /// Every source reporting the call.
    pub sources: Vec<String>,
    /// The whole call.
    pub call: Call,
}

impl Hit {
    /// A hit for a call that was not searched for (exports of plain lists):
    /// score 0, snippet from the summary.
    pub fn from_call(call: Call, now: DateTime<Utc>) -> Hit {
        let snippet = Snippet::plain(if call.summary.trim().is_empty() {
            &call.text
        } else {
            &call.summary
        });
        Hit::build(call, 0.0, snippet, Vec::new(), now)
    }

    fn build(
        call: Call,
        score: f32,
        snippet: Snippet,
        sources: Vec<String>,
        now: DateTime<Utc>,
    ) -> Hit {
        let sources = if sources.is_empty() {
            vec![call.source_id.clone()]
        } else {
            sources
        };
        Hit {
            id: call.id.clone(),
            score,
            title: call.title.clone(),
            url: call.url.clone(),
            funder: call.funder.clone(),
            level: call.level,
            status: call.status,
            programme: call.programme.clone(),
            next_deadline: call.next_deadline(now).cloned(),
            deadlines: call.deadlines.clone(),
            snippet,
            sources,
            call,
        }
    }
}

/// How many of the best calls by the pruned query are re-ranked: enough
/// that a call about the words (title, summary) is among them even when
/// others repeat the words more often in long texts.
const RERANK_WINDOW: usize = 100;

/// Adds `bonus`'s score to every hit `bonus` matches, then sorts the hits
/// best first (ties in index order). Scores only the given documents
/// (seeking each segment's scorer through them in order), so it costs a few
/// lookups per hit, not a search.
pub(crate) fn add_bonus(
    searcher: &tantivy::Searcher,
    bonus: &dyn Query,
    hits: &mut [(f32, DocAddress)],
) -> tantivy::Result<()> {
    let weight = bonus.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let mut order: Vec<usize> = (0..hits.len()).collect();
    order.sort_by_key(|&i| hits[i].1);
    let mut segment: Option<(u32, Box<dyn Scorer>)> = None;
    for i in order {
        let addr = hits[i].1;
        let scorer = match &mut segment {
            Some((ord, scorer)) if *ord == addr.segment_ord => scorer,
            _ => {
                let reader = searcher.segment_reader(addr.segment_ord);
                &mut segment
                    .insert((addr.segment_ord, weight.scorer(reader, 1.0)?))
                    .1
            }
        };
        if scorer.doc() < addr.doc_id {
            scorer.seek(addr.doc_id);
        }
        if scorer.doc() == addr.doc_id {
            hits[i].0 += scorer.score();
        }
    }
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(())
}

/// Sort key for the deadline order: larger is better for tantivy's top-k, so
/// the next deadline's timestamp is negated; no upcoming deadline sorts last.
fn deadline_key(next: Option<i64>) -> i64 {
    next.map_or(i64::MIN, |t| -t)
}

impl IndexHandle {
    /// Runs `req` against the index as of the last reload. `now` decides
    /// which deadline is next and the `closing_within` window.
    pub fn search(&self, req: &SearchRequest, now: DateTime<Utc>) -> Result<Vec<Hit>, IndexError> {
        let f = &self.fields;
        let user_query = query::parse(
            &req.query,
            &self.index,
            f,
            &self.glossary,
            self.concepts_usable(),
        )?;
        let filters = self.filters(req, now)?;
        let has_query = user_query.is_some();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(q) = &user_query {
            clauses.push((Occur::Must, q.main.box_clone()));
        }
        for filter in filters {
            // Filters select, they do not rank.
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        let combined: Box<dyn Query> = match clauses.len() {
            0 => Box::new(AllQuery),
            // The query alone keeps its own shape: wrapped in a one-clause
            // boolean, tantivy could not prune it block by block.
            1 => clauses.remove(0).1,
            _ => Box::new(BooleanQuery::new(clauses)),
        };

        let searcher = self.reader.searcher();
        let limit = req.limit.max(1);
        let by_deadline = req.sort == Sort::Deadline || !has_query;
        let now_secs = now.timestamp();
        let found: Vec<(f32, DocAddress)> = if by_deadline {
            let collector =
                TopDocs::with_limit(limit).tweak_score(move |segment: &SegmentReader| {
                    let column = segment.fast_fields().date(F_DEADLINE).ok();
                    move |doc, score: Score| {
                        let next = column.as_ref().and_then(|c| {
                            c.values_for_doc(doc)
                                .map(|d| d.into_timestamp_secs())
                                .filter(|t| *t >= now_secs)
                                .min()
                        });
                        (deadline_key(next), score)
                    }
                });
            searcher
                .search(&*combined, &collector)
                .map_err(|e| self.read_err(e))?
                .into_iter()
                .map(|((_, score), addr)| (score, addr))
                .collect()
        } else {
            // The best of a wider window by the pruned query, re-ranked
            // with the title and summary scores (see `query::Parsed`).
            let window = limit.max(RERANK_WINDOW);
            let mut found = searcher
                .search(&*combined, &TopDocs::with_limit(window).order_by_score())
                .map_err(|e| self.read_err(e))?;
            if let Some(q) = &user_query {
                add_bonus(&searcher, &*q.bonus, &mut found).map_err(|e| self.read_err(e))?;
            }
            found.truncate(limit);
            found
        };

        let generator = match &user_query {
            Some(q) => self.snippet_generator(&searcher, &*q.main)?,
            None => None,
        };
        let mut hits = Vec::with_capacity(found.len());
        for (score, addr) in found {
            let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.read_err(e))?;
            let json = doc
                .get_first(f.call)
                .and_then(|v| v.as_str())
                .ok_or_else(|| IndexError::Corrupt {
                    dir: self.dir.clone(),
                    message: "a document has no stored call".to_owned(),
                })?;
            let call: Call = serde_json::from_str(json).map_err(|e| IndexError::Corrupt {
                dir: self.dir.clone(),
                message: format!("stored call does not parse: {e}"),
            })?;
            let sources = doc
                .get_all(f.source)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let snippet = best_snippet(generator.as_ref(), &call);
            let score = if has_query { score } else { 0.0 };
            hits.push(Hit::build(call, score, snippet, sources, now));
        }
        if by_deadline {
            hits.sort_by(|a, b| {
                let key = |h: &Hit| h.next_deadline.as_ref().map(DatePoint::cutoff);
                match (key(a), key(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| a.id.cmp(&b.id))
            });
        } else {
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        }
        Ok(hits)
    }

    fn filters(
        &self,
        req: &SearchRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<Box<dyn Query>>, IndexError> {
        let f = &self.fields;
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        let mut set = |field: Field, values: Vec<String>| {
            if !values.is_empty() {
                let terms = values
                    .iter()
                    .map(|v| Term::from_field_text(field, &keyword_token(v)));
                out.push(Box::new(TermSetQuery::new(terms)));
            }
        };
        set(
            f.level,
            req.levels.iter().map(|l| l.as_str().to_owned()).collect(),
        );
        set(
            f.status,
            req.statuses.iter().map(|s| s.as_str().to_owned()).collect(),
        );
        set(
            f.language,
            req.languages
                .iter()
                .map(|l| l.as_str().to_owned())
                .collect(),
        );
        set(f.funder_exact, req.funders.clone());
        set(f.programme_exact, req.programmes.clone());
        set(f.source, req.sources.clone());

        if let (Some(a), Some(b)) = (req.deadline_after, req.deadline_before)
            && a > b
        {
            return Err(IndexError::Filter {
                filter: "deadline window",
                message: format!("deadline_after {a} is later than deadline_before {b}; swap them"),
            });
        }
        if req.deadline_after.is_some() || req.deadline_before.is_some() {
            let day = |d: NaiveDate| {
                Term::from_field_date_for_search(
                    f.deadline_day,
                    tdate(d.and_time(NaiveTime::MIN).and_utc()),
                )
            };
            let lower = req
                .deadline_after
                .map_or(Bound::Unbounded, |d| Bound::Included(day(d)));
            let upper = req
                .deadline_before
                .map_or(Bound::Unbounded, |d| Bound::Included(day(d)));
            out.push(Box::new(RangeQuery::new(lower, upper)));
        }
        if let Some(days) = req.closing_within {
            // Some deadline in [now, now + days] ⇔ the next deadline is in it:
            // the next one is the earliest deadline not before `now`.
            let term = |t: DateTime<Utc>| Term::from_field_date_for_search(f.deadline, tdate(t));
            let end = now + Duration::days(i64::from(days));
            out.push(Box::new(RangeQuery::new(
                Bound::Included(term(now)),
                Bound::Included(term(end)),
            )));
        }
        Ok(out)
    }

    /// The snippet generator: the query's terms in `all`, the field plain
    /// words search; `None` when the query has none there (`title:x`).
    fn snippet_generator(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
    ) -> Result<Option<SnippetGenerator>, IndexError> {
        let field = self.fields.all;
        let mut has_terms = false;
        query.query_terms(&mut |term, _| has_terms |= term.field() == field);
        if !has_terms {
            return Ok(None);
        }
        let mut generator =
            SnippetGenerator::create(searcher, query, field).map_err(|e| self.read_err(e))?;
        generator.set_max_num_chars(SNIPPET_CHARS);
        Ok(Some(generator))
    }
}

fn highlighted(generator: Option<&SnippetGenerator>, text: &str) -> Option<Snippet> {
    let generator = generator?;
    if text.trim().is_empty() {
        return None;
    }
    let s = generator.snippet(text);
    if s.highlighted().is_empty() {
        return None;
    }
    Some(Snippet {
        text: s.fragment().to_owned(),
        highlights: s.highlighted().to_vec(),
    })
}

/// The excerpt of a hit: the summary's best fragment when the query has
/// words there, else the full text's (re-analysing the text is the costliest
/// part of a search, so only when the summary has nothing), else the
/// summary's start (title-only matches, empty queries).
fn best_snippet(generator: Option<&SnippetGenerator>, call: &Call) -> Snippet {
    if let Some(s) = highlighted(generator, &call.summary) {
        return s;
    }
    if let Some(s) = highlighted(generator, &call.text) {
        return s;
    }
    Snippet::plain(if call.summary.trim().is_empty() {
        &call.text
    } else {
        &call.summary
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_wraps_each_highlight() {
        let s = Snippet {
            text: "la mobilité des chercheurs".to_owned(),
            highlights: vec![3..12, 17..27],
        };
        assert_eq!(s.to_marked_string(), "la «mobilité» des «chercheurs»");
        assert_eq!(s.marked("[", "]"), "la [mobilité] des [chercheurs]");
    }

    #[test]
    fn plain_cuts_long_text_at_a_word() {
        let long = "mot ".repeat(100);
        let s = Snippet::plain(&long);
        assert!(s.text.ends_with('…'), "{}", s.text);
        assert!(s.text.chars().count() <= SNIPPET_CHARS + 1);
        assert_eq!(Snippet::plain(" court ").text, "court");
    }

    #[test]
    fn deadline_key_orders_soonest_first_and_none_last() {
        assert!(deadline_key(Some(100)) > deadline_key(Some(200)));
        assert!(deadline_key(Some(i64::MAX / 2)) > deadline_key(None));
    }
}
