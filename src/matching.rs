//! Profiles × calls → ranked matches with reasons: which calls an academic's
//! digest should mention, and why.
//!
//! # Rules (issue 5, "Matching")
//! - **Candidates** are the calls new or changed since the profile's last
//!   digest ([`window_start`]); a profile that never had a digest gets only
//!   the calls first seen in the last [`FIRST_RUN_DAYS`] days, so a new
//!   subscriber is not flooded with the whole backlog.
//! - A candidate must be **open or forthcoming**, its next deadline not past
//!   and at least `min_days_before_deadline` days away ([`eligible`]); a call
//!   with no known deadline (rolling calls) passes on its status alone.
//! - It must pass the profile's **filters** with the meaning of the search
//!   flags (levels, funders, programmes: ORed within a list, ANDed across
//!   lists; funder and programme compared as whole names, case and accents
//!   ignored) and match its **query**, parsed by the index's own parser
//!   (aliases, glossary expansion) over an in-RAM index of the candidates
//!   ([`CandidateIndex`]): ranking is BM25 exactly as `fundwatch search`.
//! - Matches are ranked by relevance, then next deadline (soonest first, no
//!   deadline last), then id, so the order is deterministic.
//! - **Reasons** say which query words were found in which fields. Query
//!   words and call fields go through the index analysers (French and
//!   English), so "mobilités" in a query explains a match on "Mobilité" in a
//!   title; a word that matched only through the glossary is reported as the
//!   glossary term found. Words under `NOT` are never reasons.
//!
//! Everything here is computation over values and `now`: the candidates come
//! from the store through the digest job ([`crate::digest::send`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::digest::Reason;
use crate::index::analyzer::{self, keyword_token};
use crate::index::ram::{CandidateIndex, ParsedQuery, positive_terms};
use crate::index::schema::TextPart;
use crate::index::{Glossary, IndexDoc, IndexError};
use crate::model::{Call, DatePoint, Status};
use crate::settings::Profile;

/// A profile's first digest covers the calls first seen this many days back.
pub const FIRST_RUN_DAYS: i64 = 7;

/// Matching failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// A profile's query does not parse.
    #[error(
        "profile {profile}: {source}; fix its query in the profiles file (`fundwatch profiles check`)"
    )]
    Query {
        /// The profile id.
        profile: String,
        /// The parser's error.
        #[source]
        source: IndexError,
    },
    /// The in-memory candidate index could not be built or searched.
    #[error("matching failed: {0}")]
    Index(#[from] IndexError),
}

/// A call that may go into digests, with the store's bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The call.
    pub call: Call,
    /// When the database first saw it.
    pub first_seen: DateTime<Utc>,
    /// When one of its fields last changed.
    pub last_changed: DateTime<Utc>,
}

/// One call matched for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Position in the matcher's candidate list.
    pub candidate: usize,
    /// Relevance (BM25; 0 for a profile with filters only).
    pub score: f32,
    /// Which query words were found in which fields.
    pub reasons: Vec<Reason>,
}

/// The start of the window a profile's digest covers: its last digest, or
/// for a first digest [`FIRST_RUN_DAYS`] before `now`.
pub fn window_start(last_digest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    last_digest.unwrap_or(now - Duration::days(FIRST_RUN_DAYS))
}

/// True when `c` falls in the window of a profile whose last digest was
/// `last_digest`: changed since then, or first seen in the first-run window.
pub fn in_window(c: &Candidate, last_digest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match last_digest {
        Some(t) => c.last_changed >= t || c.first_seen >= t,
        None => c.first_seen >= window_start(None, now),
    }
}

/// What the rules need of a call, computed once per candidate: cut-offs
/// (each parses its zone) and keyword forms of funder and programme.
#[derive(Debug, Clone)]
struct CallFacts {
    /// Every deadline's cut-off, ascending.
    cutoffs: Vec<DateTime<Utc>>,
    funder: String,
    programme: Option<String>,
}

impl CallFacts {
    fn new(call: &Call) -> CallFacts {
        let mut cutoffs: Vec<DateTime<Utc>> =
            call.deadlines.iter().map(DatePoint::cutoff).collect();
        cutoffs.sort_unstable();
        CallFacts {
            cutoffs,
            funder: keyword_token(&call.funder),
            programme: call.programme.as_deref().map(keyword_token),
        }
    }

    /// The next cut-off not past at `now`.
    fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cutoffs.iter().copied().find(|t| *t >= now)
    }
}

/// A profile's filters in keyword form, computed once per profile.
#[derive(Debug, Clone)]
struct ProfileFilters<'a> {
    profile: &'a Profile,
    funders: Vec<String>,
    programmes: Vec<String>,
}

impl<'a> ProfileFilters<'a> {
    fn new(profile: &'a Profile) -> ProfileFilters<'a> {
        ProfileFilters {
            profile,
            funders: profile.funders.iter().map(|f| keyword_token(f)).collect(),
            programmes: profile
                .programmes
                .iter()
                .map(|f| keyword_token(f))
                .collect(),
        }
    }

    fn admit(&self, call: &Call, facts: &CallFacts, now: DateTime<Utc>) -> bool {
        let p = self.profile;
        if !matches!(call.status, Status::Open | Status::Forthcoming) {
            return false;
        }
        if !facts.cutoffs.is_empty() {
            let Some(next) = facts.next(now) else {
                return false;
            };
            if next - now < Duration::days(i64::from(p.min_days_before_deadline)) {
                return false;
            }
        }
        if !p.levels.is_empty() && !p.levels.contains(&call.level) {
            return false;
        }
        if !self.funders.is_empty() && !self.funders.contains(&facts.funder) {
            return false;
        }
        if !self.programmes.is_empty()
            && !facts
                .programme
                .as_ref()
                .is_some_and(|prog| self.programmes.contains(prog))
        {
            return false;
        }
        true
    }
}

/// Status, deadline and filter rules (everything but the query).
pub fn eligible(call: &Call, p: &Profile, now: DateTime<Utc>) -> bool {
    ProfileFilters::new(p).admit(call, &CallFacts::new(call), now)
}

/// A term's tokens under both analysers.
#[derive(Debug, Clone)]
struct Analysed {
    fr: Vec<String>,
    en: Vec<String>,
}

fn analyse(label: &str) -> Analysed {
    Analysed {
        fr: analyzer::tokens(&mut analyzer::french(), label),
        en: analyzer::tokens(&mut analyzer::english(), label),
    }
}

/// A profile's query terms, each with, per candidate, the bit set of text
/// parts holding it (bit i = `TextPart::ALL[i]`), and the same for its
/// glossary equivalents (which can explain a match the words do not).
#[derive(Debug, Clone)]
struct ProfileTerms {
    terms: Vec<(String, PartMasks, Vec<Equivalent>)>,
}

/// A glossary equivalent of a query term, with its masks.
type Equivalent = (String, PartMasks);

/// Per candidate, a bit set of text parts (bit i = `TextPart::ALL[i]`).
type PartMasks = Vec<u8>;

impl ProfileTerms {
    fn new(query: &str, glossary: &Glossary, postings: &Postings) -> ProfileTerms {
        let terms = positive_terms(query)
            .into_iter()
            .map(|t| {
                let own = postings.term_masks(&analyse(&t.phrase), t.part);
                let equivalents = glossary
                    .equivalents(&t.phrase)
                    .into_iter()
                    .filter(|e| !e.eq_ignore_ascii_case(&t.phrase))
                    .map(|e| (e.to_owned(), postings.term_masks(&analyse(e), t.part)))
                    .collect();
                (t.phrase, own, equivalents)
            })
            .collect();
        ProfileTerms { terms }
    }
}

/// For each token (per analyser), the candidates holding it and in which
/// text parts: reasons for thousands of profiles then cost a few array
/// operations per query word instead of set lookups per (match, word, part).
#[derive(Debug, Default)]
struct Postings {
    len: usize,
    fr: HashMap<String, Vec<(u32, u8)>>,
    en: HashMap<String, Vec<(u32, u8)>>,
}

impl Postings {
    fn build(calls: &[Candidate]) -> Postings {
        let mut p = Postings {
            len: calls.len(),
            ..Postings::default()
        };
        let add = |map: &mut HashMap<String, Vec<(u32, u8)>>, token: &str, i: u32, bit: u8| {
            let list = map.entry(token.to_owned()).or_default();
            match list.last_mut() {
                Some(last) if last.0 == i => last.1 |= bit,
                _ => list.push((i, bit)),
            }
        };
        for (i, c) in calls.iter().enumerate() {
            let i = u32::try_from(i).expect("invariant: fewer than 4 billion candidates");
            for (bit, (_, fr, en)) in CallTokens::new(&c.call).parts.iter().enumerate() {
                let bit = 1u8 << bit;
                for t in fr {
                    add(&mut p.fr, t, i, bit);
                }
                for t in en {
                    add(&mut p.en, t, i, bit);
                }
            }
        }
        p
    }

    /// Per candidate, the parts holding every one of `tokens`.
    fn all_of(&self, map: &HashMap<String, Vec<(u32, u8)>>, tokens: &[String]) -> Vec<u8> {
        let mut acc = vec![0u8; self.len];
        let Some((first, rest)) = tokens.split_first() else {
            return acc;
        };
        for &(i, bits) in map.get(first).into_iter().flatten() {
            acc[i as usize] = bits;
        }
        let mut tmp = vec![0u8; self.len];
        for t in rest {
            tmp.iter_mut().for_each(|b| *b = 0);
            for &(i, bits) in map.get(t).into_iter().flatten() {
                tmp[i as usize] = bits;
            }
            acc.iter_mut().zip(&tmp).for_each(|(a, b)| *a &= b);
        }
        acc
    }

    /// Per candidate, the parts (restricted to `only`) holding the term
    /// under either analyser.
    fn term_masks(&self, t: &Analysed, only: Option<TextPart>) -> Vec<u8> {
        let fr = self.all_of(&self.fr, &t.fr);
        let en = self.all_of(&self.en, &t.en);
        let keep = match only {
            None => u8::MAX,
            Some(part) => TextPart::ALL
                .iter()
                .position(|p| *p == part)
                .map_or(0, |i| 1u8 << i),
        };
        fr.iter().zip(&en).map(|(a, b)| (a | b) & keep).collect()
    }
}

fn field_names(bits: u8) -> Vec<String> {
    TextPart::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, p)| p.name().to_owned())
        .collect()
}

/// A call's text parts as token sets, under both analysers.
#[derive(Debug, Clone)]
struct CallTokens {
    parts: Vec<(TextPart, HashSet<String>, HashSet<String>)>,
}

impl CallTokens {
    fn new(call: &Call) -> CallTokens {
        let mut fr = analyzer::french();
        let mut en = analyzer::english();
        let parts = TextPart::ALL
            .iter()
            .map(|&part| {
                let text = match part {
                    TextPart::Title => call.title.clone(),
                    TextPart::Summary => call.summary.clone(),
                    TextPart::Text => call.text.clone(),
                    TextPart::Funder => call.funder.clone(),
                    TextPart::Programme => call.programme.clone().unwrap_or_default(),
                    TextPart::Tags => call.tags.join(" "),
                };
                (
                    part,
                    analyzer::tokens(&mut fr, &text).into_iter().collect(),
                    analyzer::tokens(&mut en, &text).into_iter().collect(),
                )
            })
            .collect();
        CallTokens { parts }
    }
}

fn reasons(terms: &ProfileTerms, pos: usize) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    for (label, mask, equivalents) in &terms.terms {
        if mask[pos] != 0 {
            out.push(Reason {
                term: label.clone(),
                fields: field_names(mask[pos]),
            });
            continue;
        }
        for (e, m) in equivalents {
            if m[pos] != 0 && !out.iter().any(|r| r.term == *e) {
                out.push(Reason {
                    term: e.clone(),
                    fields: field_names(m[pos]),
                });
            }
        }
    }
    out
}

/// Ranks matches: relevance, then next deadline (none last), then id.
fn rank(matches: &mut [Match], candidates: &[Candidate], facts: &[CallFacts], now: DateTime<Utc>) {
    let next = |m: &Match| facts[m.candidate].next(now);
    matches.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| match (next(a), next(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| {
                candidates[a.candidate]
                    .call
                    .id
                    .cmp(&candidates[b.candidate].call.id)
            })
    });
}

/// The candidates of one digest run, indexed in memory, ready to be matched
/// against every profile.
#[derive(Debug)]
pub struct Matcher {
    candidates: Vec<Candidate>,
    postings: Postings,
    facts: Vec<CallFacts>,
    index: CandidateIndex,
    glossary: Glossary,
}

impl Matcher {
    /// Indexes `candidates` in memory (same schema, analysers and
    /// `glossary` as the search index).
    pub fn new(candidates: Vec<Candidate>, glossary: Glossary) -> Result<Matcher, MatchError> {
        let docs: Vec<IndexDoc> = candidates
            .iter()
            .map(|c| IndexDoc {
                call: c.call.clone(),
                first_seen: c.first_seen,
                last_changed: c.last_changed,
                sources: Vec::new(),
            })
            .collect();
        let index = CandidateIndex::build(&docs, glossary.clone())?;
        let postings = Postings::build(&candidates);
        let facts = candidates.iter().map(|c| CallFacts::new(&c.call)).collect();
        Ok(Matcher {
            candidates,
            postings,
            facts,
            index,
            glossary,
        })
    }

    /// The candidates, in the order given.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Checks a profile's query with the index's parser.
    pub fn check_query(&self, p: &Profile) -> Result<(), MatchError> {
        self.index
            .parse(&p.query)
            .map(|_| ())
            .map_err(|source| MatchError::Query {
                profile: p.id.clone(),
                source,
            })
    }

    /// The candidates `p` should receive, ranked, with reasons. `last_digest`
    /// is when the profile's previous digest was recorded (`None`: first).
    /// Inactive profiles match nothing.
    pub fn match_profile(
        &self,
        p: &Profile,
        last_digest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Match>, MatchError> {
        if !p.active {
            return Ok(Vec::new());
        }
        let query = self
            .index
            .parse(&p.query)
            .map_err(|source| MatchError::Query {
                profile: p.id.clone(),
                source,
            })?;
        self.run(p, &query, last_digest, now)
    }

    fn run(
        &self,
        p: &Profile,
        query: &ParsedQuery,
        last_digest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Match>, MatchError> {
        let found = self.index.matches(query)?;
        let mut terms: Option<ProfileTerms> = None;
        let filters = ProfileFilters::new(p);
        let mut out = Vec::new();
        for (pos, score) in found {
            let c = &self.candidates[pos];
            if !in_window(c, last_digest, now) || !filters.admit(&c.call, &self.facts[pos], now) {
                continue;
            }
            let terms = terms
                .get_or_insert_with(|| ProfileTerms::new(&p.query, &self.glossary, &self.postings));
            out.push(Match {
                candidate: pos,
                score,
                reasons: reasons(terms, pos),
            });
        }
        rank(&mut out, &self.candidates, &self.facts, now);
        Ok(out)
    }

    /// [`Matcher::match_profile`] for many profiles on `threads` threads
    /// (results in the order of `profiles`).
    pub fn match_all(
        &self,
        profiles: &[(&Profile, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
        threads: usize,
    ) -> Vec<Result<Vec<Match>, MatchError>> {
        let threads = threads.max(1);
        let chunk = profiles.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = profiles
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(p, last)| self.match_profile(p, *last, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    // A panic in a worker is a bug: re-raise it here.
                    Err(e) => std::panic::resume_unwind(e),
                })
                .collect()
        })
    }
}

/// Checks one profile's query against the index's parser (with `glossary`),
/// without any call: for `fundwatch profiles check` and `config check`.
pub fn check_profile(p: &Profile, glossary: &Glossary) -> Result<(), MatchError> {
    let m = Matcher::new(Vec::new(), glossary.clone())?;
    m.check_query(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Language, Level};
    use chrono::NaiveDate;

    fn now() -> DateTime<Utc> {
        "2026-11-23T06:00:00Z".parse().unwrap()
    }

    fn call(id: &str, title: &str, summary: &str, level: Level, days: i64) -> Call {
        let paris = chrono_tz::Europe::Paris;
        Call {
            id: id.into(),
            source_id: "s".into(),
            native_id: None,
            url: format!("https://example.org/{id}"),
            title: title.into(),
            summary: summary.into(),
            text: String::new(),
            funder: if level == Level::Eu {
                "Commission européenne".into()
            } else {
                "ANR".into()
            },
            programme: Some(if level == Level::Eu {
                "Horizon Europe".into()
            } else {
                "AAPG".into()
            }),
            level,
            language: Language::Fr,
            opening: None,
            deadlines: vec![DatePoint::day(
                (now() + Duration::days(days)).date_naive(),
                paris,
                "",
            )],
            status: Status::Open,
            budget: None,
            tags: vec![],
            identifiers: vec![],
        }
    }

    fn cand(c: Call, first_seen_days_ago: i64) -> Candidate {
        let t = now() - Duration::days(first_seen_days_ago);
        Candidate {
            call: c,
            first_seen: t,
            last_changed: t,
        }
    }

    fn profile(id: &str, lang: Language, query: &str) -> Profile {
        Profile {
            id: id.into(),
            name: "X".into(),
            email: "x@univ.example".into(),
            language: lang,
            query: query.into(),
            levels: vec![],
            funders: vec![],
            programmes: vec![],
            min_days_before_deadline: 0,
            active: true,
        }
    }

    fn matcher() -> Matcher {
        let mut closed = call("closed", "Sols et climat", "", Level::National, 30);
        closed.status = Status::Closed;
        let mut past = call("past", "Sols anciens", "", Level::National, 30);
        past.deadlines = vec![DatePoint::day(
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            chrono_tz::Europe::Paris,
            "",
        )];
        Matcher::new(
            vec![
                cand(
                    call(
                        "soil-fr",
                        "Santé des sols agricoles",
                        "Agroécologie et sols vivants.",
                        Level::National,
                        60,
                    ),
                    2,
                ),
                cand(
                    call(
                        "soil-en",
                        "Soil health partnership",
                        "Living soils for Europe.",
                        Level::Eu,
                        90,
                    ),
                    3,
                ),
                cand(call("soil-soon", "Sols urbains", "", Level::National, 5), 1),
                cand(
                    call(
                        "mob-en",
                        "Doctoral mobility fellowships",
                        "Researchers moving abroad.",
                        Level::Eu,
                        40,
                    ),
                    1,
                ),
                cand(
                    call("old-soil", "Sols forestiers", "", Level::National, 60),
                    20,
                ),
                cand(closed, 1),
                cand(past, 1),
            ],
            Glossary::default(),
        )
        .unwrap()
    }

    fn ids(m: &Matcher, ms: &[Match]) -> Vec<String> {
        ms.iter()
            .map(|x| m.candidates()[x.candidate].call.id.clone())
            .collect()
    }

    #[test]
    fn rules_filters_and_first_run_window() {
        let m = matcher();
        let long_ago = Some(now() - Duration::days(60));
        // (profile setup, last digest, expected ids in rank order)
        type Setup = fn(&mut Profile);
        type Case<'a> = (
            &'a str,
            &'a str,
            Setup,
            Option<DateTime<Utc>>,
            &'a [&'a str],
        );
        let table: &[Case] = &[
            // First run: only calls first seen in the last 7 days (old-soil is 20 days old);
            // closed and past-deadline calls never match.
            (
                "fr first run",
                "sol OR soil",
                |_| {},
                None,
                &["soil-fr", "soil-en", "soil-soon"],
            ),
            // With an old last digest, the older call is in the window too.
            (
                "fr since",
                "sol OR soil",
                |_| {},
                long_ago,
                &["soil-fr", "soil-en", "soil-soon", "old-soil"],
            ),
            (
                "min days",
                "sol OR soil",
                |p| p.min_days_before_deadline = 10,
                None,
                &["soil-fr", "soil-en"],
            ),
            (
                "level filter",
                "sol OR soil",
                |p| p.levels = vec![Level::Eu],
                None,
                &["soil-en"],
            ),
            (
                "funder filter",
                "sol OR soil",
                |p| p.funders = vec!["anr".into()],
                None,
                &["soil-fr", "soil-soon"],
            ),
            (
                "programme filter",
                "sol OR soil",
                |p| p.programmes = vec!["HORIZON EUROPE".into()],
                None,
                &["soil-en"],
            ),
            ("not", "sols NOT urbains", |_| {}, None, &["soil-fr"]),
            ("inactive", "sol OR soil", |p| p.active = false, None, &[]),
            (
                "filters only",
                "",
                |p| p.levels = vec![Level::Eu],
                None,
                &["mob-en", "soil-en"],
            ),
        ];
        for (name, q, setup, last, want) in table {
            let mut p = profile("p", Language::Fr, q);
            setup(&mut p);
            let got = m.match_profile(&p, *last, now()).unwrap();
            let mut got = ids(&m, &got);
            if q.is_empty() {
                // No query: every score is 0, ranked by deadline.
                assert_eq!(got, *want, "{name}");
                continue;
            }
            // Relevance order depends on BM25; check the set, then the deadline tie-break separately.
            got.sort();
            let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn ranking_is_relevance_then_deadline() {
        let m = matcher();
        let p = profile("p", Language::En, "sols");
        let got = m.match_profile(&p, None, now()).unwrap();
        // "Santé des sols agricoles ... sols vivants" mentions soils twice: first.
        assert_eq!(ids(&m, &got)[0], "soil-fr");
        for w in got.windows(2) {
            assert!(w[0].score >= w[1].score);
        }
    }

    #[test]
    fn reasons_name_query_words_and_fields_in_both_languages() {
        let m = matcher();
        type Case<'a> = (&'a str, Language, &'a str, &'a [(&'a str, &'a [&'a str])]);
        let table: &[Case] = &[
            (
                "sol OR soil",
                Language::Fr,
                "soil-fr",
                &[("sol", &["title", "summary"])],
            ),
            (
                "sol OR soil",
                Language::Fr,
                "soil-en",
                &[("soil", &["title", "summary"])],
            ),
            (
                "\"agroécologie\" OR urbains",
                Language::Fr,
                "soil-fr",
                &[("agroécologie", &["summary"])],
            ),
            // Glossary: "mobilité" finds the English call; the reason names the term found.
            (
                "mobilité",
                Language::En,
                "mob-en",
                &[("mobility", &["title"])],
            ),
            (
                "title:fellowships NOT soil",
                Language::En,
                "mob-en",
                &[("fellowships", &["title"])],
            ),
            (
                "funder:anr sols",
                Language::Fr,
                "soil-soon",
                &[("anr", &["funder"]), ("sols", &["title"])],
            ),
        ];
        for (q, lang, id, want) in table {
            let p = profile("p", *lang, q);
            let got = m.match_profile(&p, None, now()).unwrap();
            let hit = got
                .iter()
                .find(|x| m.candidates()[x.candidate].call.id == *id)
                .unwrap_or_else(|| panic!("{q}: {id} not matched"));
            let want: Vec<Reason> = want
                .iter()
                .map(|(t, f)| Reason {
                    term: t.to_string(),
                    fields: f.iter().map(|s| s.to_string()).collect(),
                })
                .collect();
            assert_eq!(hit.reasons, want, "{q}");
        }
    }

    #[test]
    fn bad_queries_name_the_profile() {
        let p = profile("dupont", Language::Fr, "colour:red");
        let e = check_profile(&p, &Glossary::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("profile dupont") && e.contains("colour"), "{e}");
        let p = profile("dupont", Language::Fr, "(sol");
        assert!(check_profile(&p, &Glossary::default()).is_err());
        let p = profile("dupont", Language::Fr, "sol OR soil");
        check_profile(&p, &Glossary::default()).unwrap();
    }

    #[test]
    fn match_all_keeps_profile_order_across_threads() {
        let m = matcher();
        let ps: Vec<Profile> = (0..7)
            .map(|i| {
                profile(
                    &format!("p{i}"),
                    Language::Fr,
                    if i % 2 == 0 { "sols" } else { "mobility" },
                )
            })
            .collect();
        let args: Vec<(&Profile, Option<DateTime<Utc>>)> = ps.iter().map(|p| (p, None)).collect();
        let all = m.match_all(&args, now(), 2);
        assert_eq!(all.len(), 7);
        for (i, r) in all.iter().enumerate() {
            let single = m.match_profile(&ps[i], None, now()).unwrap();
            assert_eq!(r.as_ref().unwrap(), &single, "profile {i}");
        }
    }
}
