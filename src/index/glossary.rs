//! The bilingual glossary of funding vocabulary that expands query terms to
//! their equivalents ("mobilité" ⇄ "mobility", "appel à projets" ⇄ "call for
//! proposals"), so a French query finds English calls and vice versa.
//!
//! The default list is `data/glossary.tsv`, embedded in the binary; the
//! officer extends a copy and loads it with [`Glossary::load`]. Terms are
//! compared after the index's own analysis (lowercase, accents folded,
//! French or English stems), so "mobilités" and "Bourses" match entries
//! written "mobilité" and "bourse".
//!
//! The glossary works at index time too: the text analyser
//! ([`super::analyzer::text`]) marks every place a glossary term occurs with
//! one *concept token* per group (`concept_token`), so a query for any term
//! of a group is a single term lookup rather than a union of every
//! equivalent's words and phrases (phrase queries over long bodies were the
//! slowest searches). The index records the [`Glossary::fingerprint`] it was
//! built with; when the officer's glossary changes, searches fall back to
//! expanding terms at query time until the index is rebuilt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::analyzer::{self, Stems};

/// The embedded default glossary.
const DEFAULT_TSV: &str = include_str!("../../data/glossary.tsv");

/// A glossary file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GlossaryError {
    /// The file could not be read.
    #[error("cannot read glossary {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A line does not hold at least two equivalent terms.
    #[error(
        "glossary {origin} line {line}: {message}; write the equivalent terms on one line, separated by TABs"
    )]
    Line {
        /// The file (or "built-in").
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Groups of equivalent terms, with lookup keys.
#[derive(Debug, Clone)]
pub struct Glossary {
    groups: Vec<Vec<String>>,
    /// Analysed key (French stems, then English stems) → groups holding it.
    keys: HashMap<String, Vec<usize>>,
    /// Longest term, in words: bounds the phrase search in queries.
    max_words: usize,
    /// The index-time matcher, shared with the analysers built from it.
    matcher: Arc<ConceptMatcher>,
}

/// The concept token of group `group`: what the analyser emits where a term
/// of the group occurs. `#` never survives tokenisation of real text, so a
/// concept token cannot collide with a word.
pub(crate) fn concept_token(group: usize) -> String {
    format!("#g{group}")
}

/// One glossary term as stem sequences, for matching analysed text.
#[derive(Debug, Clone)]
struct ConceptTerm {
    group: usize,
    fr: Vec<String>,
    en: Vec<String>,
}

/// Finds glossary terms in a sequence of folded words. A term matches where
/// its French stems equal the words' French stems, or its English stems the
/// English ones: the same rule as the query-side keys of [`Glossary`], so a
/// query term and the text it should find always agree.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConceptMatcher {
    terms: Vec<ConceptTerm>,
    /// First word's French stem → terms starting with it.
    first_fr: HashMap<String, Vec<usize>>,
    /// First word's English stem → terms starting with it.
    first_en: HashMap<String, Vec<usize>>,
}

impl ConceptMatcher {
    fn add(&mut self, group: usize, fr: Vec<String>, en: Vec<String>) {
        let (Some(f), Some(e)) = (fr.first(), en.first()) else {
            return;
        };
        let idx = self.terms.len();
        self.first_fr.entry(f.clone()).or_default().push(idx);
        self.first_en.entry(e.clone()).or_default().push(idx);
        self.terms.push(ConceptTerm { group, fr, en });
    }

    /// True when no term is known (the analyser then skips matching).
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Pushes `(group, words covered)` for every term starting at word `at`
    /// of the text whose French and English stems are `fr` and `en`. A group
    /// is pushed once, with its longest match.
    pub(crate) fn matches_at(
        &self,
        fr: &[String],
        en: &[String],
        at: usize,
        out: &mut Vec<(usize, usize)>,
    ) {
        out.clear();
        let candidates = [
            fr.get(at).and_then(|s| self.first_fr.get(s)),
            en.get(at).and_then(|s| self.first_en.get(s)),
        ];
        for &t in candidates.into_iter().flatten().flatten() {
            let term = &self.terms[t];
            let n = term.fr.len();
            let fits = |text: &[String], want: &[String]| {
                text.get(at..at + n).is_some_and(|words| words == want)
            };
            if !(fits(fr, &term.fr) || fits(en, &term.en)) {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == term.group) {
                Some(found) => found.1 = found.1.max(n),
                None => out.push((term.group, n)),
            }
        }
    }
}

impl Default for Glossary {
    /// The built-in glossary (`data/glossary.tsv`).
    fn default() -> Self {
        Glossary::parse(DEFAULT_TSV, "built-in")
            .expect("invariant: the embedded data/glossary.tsv parses (unit-tested)")
    }
}

impl Glossary {
    /// A glossary with no entries (disables expansion).
    pub fn empty() -> Glossary {
        Glossary {
            groups: Vec::new(),
            keys: HashMap::new(),
            max_words: 0,
            matcher: Arc::new(ConceptMatcher::default()),
        }
    }

    /// Reads a glossary file (same format as `data/glossary.tsv`).
    pub fn load(path: &Path) -> Result<Glossary, GlossaryError> {
        let text = std::fs::read_to_string(path).map_err(|source| GlossaryError::Read {
            path: path.to_owned(),
            source,
        })?;
        Glossary::parse(&text, &path.display().to_string())
    }

    /// Parses glossary text: one group per line, terms separated by tabs,
    /// `#` comments and blank lines ignored. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Glossary, GlossaryError> {
        let mut glossary = Glossary::empty();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let terms: Vec<String> = line
                .split('\t')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            if terms.len() < 2 {
                return Err(GlossaryError::Line {
                    origin: origin.to_owned(),
                    line: n + 1,
                    message: format!("{line:?} has only one term"),
                });
            }
            glossary.add_group(terms);
        }
        Ok(glossary)
    }

    /// Adds every group of `other` (the officer's additions to the default).
    pub fn extend(&mut self, other: Glossary) {
        for group in other.groups {
            self.add_group(group);
        }
    }

    fn add_group(&mut self, terms: Vec<String>) {
        let idx = self.groups.len();
        let stems = Stems::new();
        let matcher = Arc::make_mut(&mut self.matcher);
        for term in &terms {
            let words = analyzer::tokens(&mut analyzer::folding(), term);
            self.max_words = self.max_words.max(words.len());
            let (fr, en) = stems.both(&words);
            for key in keys(&fr, &en) {
                let entry = self.keys.entry(key).or_default();
                if !entry.contains(&idx) {
                    entry.push(idx);
                }
            }
            matcher.add(idx, fr, en);
        }
        self.groups.push(terms);
    }

    /// The index-time matcher of this glossary.
    pub(crate) fn matcher(&self) -> Arc<ConceptMatcher> {
        Arc::clone(&self.matcher)
    }

    /// A short digest of every group, in order. An index records the
    /// fingerprint of the glossary it was built with: concept tokens are
    /// numbered by group, so they are only meaningful under the same one.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for group in &self.groups {
            for term in group {
                hasher.update(term.as_bytes());
                hasher.update(b"\t");
            }
            hasher.update(b"\n");
        }
        let digest = hasher.finalize();
        format!("{}-{}", self.groups.len(), hex::encode(&digest[..8]))
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when the glossary has no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every term equivalent to `phrase` (the phrase's groups, deduplicated,
    /// in file order; includes the matching term itself). Empty when the
    /// phrase is not in the glossary.
    pub fn equivalents(&self, phrase: &str) -> Vec<&str> {
        let words = analyzer::tokens(&mut analyzer::folding(), phrase);
        self.equivalents_of_words(&words)
    }

    /// Same as [`Glossary::equivalents`] for already folded words.
    pub(crate) fn equivalents_of_words(&self, words: &[String]) -> Vec<&str> {
        self.terms_of(&self.groups_of_words(words))
    }

    /// Every term of `groups`, deduplicated, in order.
    pub(crate) fn terms_of(&self, groups: &[usize]) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for &g in groups {
            for term in &self.groups[g] {
                if !out.iter().any(|t| t.eq_ignore_ascii_case(term)) {
                    out.push(term);
                }
            }
        }
        out
    }

    /// The groups holding a term equal to `words` (already folded), in file
    /// order. Empty when none does.
    pub(crate) fn groups_of_words(&self, words: &[String]) -> Vec<usize> {
        if words.is_empty() {
            return Vec::new();
        }
        let (fr, en) = Stems::new().both(words);
        let mut groups: Vec<usize> = Vec::new();
        for key in keys(&fr, &en) {
            for &g in self.keys.get(&key).into_iter().flatten() {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        groups.sort_unstable();
        groups
    }

    /// Longest term length in words.
    pub(crate) fn max_words(&self) -> usize {
        self.max_words
    }
}

/// The two lookup keys of a word sequence: French stems and English stems,
/// each joined by spaces and tagged so they cannot collide.
fn keys(fr: &[String], en: &[String]) -> [String; 2] {
    [
        format!("fr:{}", fr.join(" ")),
        format!("en:{}", en.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_glossary_parses() {
        let g = Glossary::default();
        assert!(g.len() > 20, "{}", g.len());
        assert!(g.max_words() >= 4);
    }

    #[test]
    fn lookups_ignore_case_accents_and_inflection() {
        let g = Glossary::default();
        let cases: &[(&str, &str)] = &[
            ("mobilités", "mobility"),
            ("Mobility", "mobilité"),
            ("appel a projets", "call for proposals"),
            ("Call for Proposals", "appel à projets"),
            ("bourses", "fellowship"),
            ("scholarships", "bourse"),
            ("chercheurs", "researcher"),
            ("Enseignement Superieur", "higher education"),
            ("universities", "université"),
            ("doctorants", "PhD candidate"),
        ];
        for (query, expected) in cases {
            let eq = g.equivalents(query);
            assert!(eq.contains(expected), "{query}: {eq:?}");
        }
        assert!(g.equivalents("photosynthèse").is_empty());
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = Glossary::parse("# c\nmobilité\tmobility\nlonely\n", "x.tsv").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.tsv line 3"), "{msg}");
        assert!(msg.contains("separated by TABs"), "{msg}");
    }

    #[test]
    fn extend_adds_the_officers_groups() {
        let mut g = Glossary::default();
        g.extend(Glossary::parse("jumelage\ttwinning\n", "x").unwrap());
        assert_eq!(g.equivalents("twinning"), vec!["jumelage", "twinning"]);
    }
}
