//! The text analysers the index registers: the bilingual text chain and a
//! keyword chain, all accent- and case-insensitive; plus the French and
//! English chains the digests use to explain matches.
//!
//! Calls arrive in French and English, often mixed (English titles on French
//! portals, French summaries of EU calls), so every word is stemmed both
//! ways and both stems are indexed at the word's position (one token when
//! they agree): a wrong language guess then never hides a call, and a query
//! word costs one or two term lookups in one field. Accents are folded
//! *before* stemming, at index and query time alike, so "evenement" and
//! "événement" reduce to the same stem, as do "mobilités"/"mobilité" (French
//! Snowball) and "universities"/"university" (English Snowball).
//!
//! The text chain also emits the glossary's concept tokens
//! (`glossary::concept_token`) where a glossary term occurs, at the
//! position of its first word and spanning its words, so snippets highlight
//! the whole phrase.

use std::borrow::Cow;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language as StemLanguage, LowerCaser, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

use super::glossary::{ConceptMatcher, Glossary, concept_token};

/// Name of the bilingual text analyser (simple tokens, lowercase, folded,
/// French and English stems stacked, glossary concepts).
pub const TEXT: &str = "fw_text";

/// Name of the keyword analyser: the whole value as one token, lowercase and
/// folded, for exact filters (`level:eu`, a funder's full name).
pub const KEYWORD: &str = "fw_keyword";

/// Tokens longer than this are dropped: they are base64 blobs or URLs glued
/// to words, never something an officer types.
const MAX_TOKEN_LEN: usize = 60;

/// The French chain.
pub fn french() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(StemLanguage::French))
        .build()
}

/// The English chain.
pub fn english() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(StemLanguage::English))
        .build()
}

/// The keyword chain.
pub fn keyword() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// A chain with no stemming, used to compare glossary phrases word by word.
pub(crate) fn folding() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The bilingual text chain, marking the terms of `glossary`.
pub fn text(glossary: &Glossary) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Bilingual {
            concepts: glossary.matcher(),
        })
        .build()
}

/// Registers the analysers on `index`, the text chain marking the terms of
/// `glossary`. Must run after every `Index::open`/`create`: tantivy stores
/// analyser *names* in the schema, not the analysers themselves.
pub fn register(index: &Index, glossary: &Glossary) {
    let manager = index.tokenizers();
    manager.register(TEXT, text(glossary));
    manager.register(KEYWORD, keyword());
}

/// The French and English Snowball stemmers, applied to folded lowercase
/// words.
#[derive(Clone, Copy)]
pub struct Stems {
    fr: frostem::Stemmer,
    en: frostem::Stemmer,
}

impl std::fmt::Debug for Stems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stems(fr, en)")
    }
}

impl Default for Stems {
    fn default() -> Self {
        Stems::new()
    }
}

impl Stems {
    /// Both stemmers.
    pub fn new() -> Stems {
        Stems {
            fr: frostem::Stemmer::new(frostem::Algorithm::French),
            en: frostem::Stemmer::new(frostem::Algorithm::English),
        }
    }

    /// The French stem of a folded word.
    pub fn fr<'a>(&self, word: &'a str) -> Cow<'a, str> {
        self.fr.stem(word)
    }

    /// The English stem of a folded word.
    pub fn en<'a>(&self, word: &'a str) -> Cow<'a, str> {
        self.en.stem(word)
    }

    /// French and English stems of every word.
    pub fn both(&self, words: &[String]) -> (Vec<String>, Vec<String>) {
        words
            .iter()
            .map(|w| (self.fr(w).into_owned(), self.en(w).into_owned()))
            .unzip()
    }

    /// The distinct stems of one word: the French one, then the English one
    /// when it differs. What the text chain indexes for that word.
    pub fn of(&self, word: &str) -> Vec<String> {
        let fr = self.fr(word);
        let en = self.en(word);
        if fr == en {
            vec![fr.into_owned()]
        } else {
            vec![fr.into_owned(), en.into_owned()]
        }
    }
}

/// The last stage of the text chain: folded words in, stacked stems and
/// concept tokens out. Glossary terms span several words, so the stage reads
/// the whole (short) value before emitting anything.
#[derive(Clone)]
struct Bilingual {
    concepts: Arc<ConceptMatcher>,
}

impl TokenFilter for Bilingual {
    type Tokenizer<T: Tokenizer> = BilingualFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> BilingualFilter<T> {
        BilingualFilter {
            concepts: self.concepts,
            stems: Stems::new(),
            inner: tokenizer,
            cache: FxHashMap::default(),
            words: Vec::new(),
            fr: Vec::new(),
            en: Vec::new(),
            out: Vec::new(),
            found: Vec::new(),
        }
    }
}

/// Distinct words whose stems are remembered: a call collection's working
/// vocabulary fits, a runaway one is forgotten and relearnt.
const STEM_CACHE_WORDS: usize = 200_000;

/// `Bilingual` applied to the words of tokenizer `T`. Each indexing
/// thread has its own clone; the buffers and the stem cache are reused from
/// one value to the next, since stemming and allocating every token were
/// most of the indexing time (Snowball is dozens of steps per word, and real
/// text repeats its words: Zipf).
#[derive(Clone)]
pub struct BilingualFilter<T> {
    concepts: Arc<ConceptMatcher>,
    stems: Stems,
    inner: T,
    /// Folded word → (French stem, English stem).
    cache: FxHashMap<String, (String, String)>,
    words: Vec<Token>,
    fr: Vec<String>,
    en: Vec<String>,
    out: Vec<Token>,
    found: Vec<(usize, usize)>,
}

/// Copies `text` into `slot` (or a new string), keeping its allocation.
fn set(slot: &mut Vec<String>, i: usize, text: &str) {
    match slot.get_mut(i) {
        Some(s) => {
            s.clear();
            s.push_str(text);
        }
        None => slot.push(text.to_owned()),
    }
}

/// Writes token `i` of `out`, reusing the token's string.
fn emit(out: &mut Vec<Token>, i: usize, from: &Token, text: &str, position_length: usize) {
    if i == out.len() {
        out.push(Token::default());
    }
    let t = &mut out[i];
    t.offset_from = from.offset_from;
    t.offset_to = from.offset_to;
    t.position = from.position;
    t.position_length = position_length;
    t.text.clear();
    t.text.push_str(text);
}

impl<T: Tokenizer> Tokenizer for BilingualFilter<T> {
    type TokenStream<'a> = BilingualStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BilingualStream<'a> {
        let BilingualFilter {
            concepts,
            stems,
            inner,
            cache,
            words,
            fr,
            en,
            out,
            found,
        } = self;
        let mut n = 0;
        let mut stream = inner.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            if n == words.len() {
                words.push(Token::default());
            }
            emit(words, n, t, &t.text, t.position_length);
            n += 1;
        }
        for (i, w) in words[..n].iter().enumerate() {
            if let Some((f, e)) = cache.get(&w.text) {
                set(fr, i, f);
                set(en, i, e);
                continue;
            }
            if cache.len() >= STEM_CACHE_WORDS {
                cache.clear();
            }
            let (f, e) = (stems.fr(&w.text), stems.en(&w.text));
            set(fr, i, &f);
            set(en, i, &e);
            cache.insert(w.text.clone(), (f.into_owned(), e.into_owned()));
        }
        let (fr, en) = (&fr[..n], &en[..n]);
        let mut m = 0;
        for (i, w) in words[..n].iter().enumerate() {
            emit(out, m, w, &fr[i], 1);
            m += 1;
            if en[i] != fr[i] {
                emit(out, m, w, &en[i], 1);
                m += 1;
            }
            if concepts.is_empty() {
                continue;
            }
            concepts.matches_at(fr, en, i, found);
            for &(group, len) in found.iter() {
                let offset_to = words[i + len - 1].offset_to;
                emit(out, m, w, &concept_token(group), len);
                out[m].offset_to = offset_to;
                m += 1;
            }
        }
        BilingualStream {
            tokens: &mut out[..m],
            next: 0,
            empty: Token::default(),
        }
    }
}

/// The tokens of one value, produced up front by [`BilingualFilter`].
pub struct BilingualStream<'a> {
    tokens: &'a mut [Token],
    /// One past the current token (0 before the first `advance`).
    next: usize,
    /// What `token()` shows outside the stream (tantivy never asks).
    empty: Token,
}

impl TokenStream for BilingualStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.empty)
    }

    fn token_mut(&mut self) -> &mut Token {
        if self.next == 0 || self.next > self.tokens.len() {
            return &mut self.empty;
        }
        &mut self.tokens[self.next - 1]
    }
}

/// Runs `analyzer` over `text` and returns the token texts.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    positioned_tokens(analyzer, text)
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

/// Runs `analyzer` over `text` and returns `(position, token text)` pairs.
pub fn positioned_tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push((token.position, token.text.clone()));
    }
    out
}

/// The single keyword token for `value` (lowercase, folded, trimmed).
pub fn keyword_token(value: &str) -> String {
    tokens(&mut keyword(), value.trim()).concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_fold_then_stem_so_inflections_and_accents_meet() {
        // (analyser, a, b): a and b must reduce to the same single token.
        type Make = fn() -> TextAnalyzer;
        let cases: &[(Make, &str, &str)] = &[
            (french, "mobilités", "mobilité"),
            (french, "Mobilites", "MOBILITÉ"),
            (french, "evenement", "événement"),
            (french, "événements", "Evénement"),
            (french, "chercheurs", "chercheur"),
            (french, "doctorants", "doctorant"),
            (english, "universities", "university"),
            (english, "Fellowships", "fellowship"),
            (english, "researchers", "researcher"),
            (english, "évènement", "evenement"),
        ];
        for (make, a, b) in cases {
            let ta = tokens(&mut make(), a);
            let tb = tokens(&mut make(), b);
            assert_eq!(ta.len(), 1, "{a}: {ta:?}");
            assert_eq!(ta, tb, "{a} vs {b}");
        }
    }

    fn all_tokens(a: &mut TextAnalyzer, text: &str) -> Vec<(usize, String, usize, usize)> {
        let mut out = Vec::new();
        let mut stream = a.token_stream(text);
        while let Some(t) = stream.next() {
            out.push((t.position, t.text.clone(), t.offset_from, t.offset_to));
        }
        out
    }

    #[test]
    fn the_text_chain_stacks_both_stems_and_marks_glossary_terms() {
        let g = Glossary::default();
        let mut a = text(&g);
        let tokens = all_tokens(&mut a, "Call for Proposals: énergie, energy");
        let at = |p: usize| -> Vec<&str> {
            tokens
                .iter()
                .filter(|t| t.0 == p)
                .map(|t| t.1.as_str())
                .collect()
        };
        // One stem when French and English agree, both when they differ.
        assert_eq!(at(1), vec!["for"], "{tokens:?}");
        assert_eq!(at(4), vec!["energy", "energi"], "{tokens:?}");
        // The glossary term: its concept at its first word, spanning it.
        let concept = tokens
            .iter()
            .find(|t| t.1.starts_with("#g"))
            .expect("a concept token");
        assert_eq!((concept.0, concept.2, concept.3), (0, 0, 18), "{tokens:?}");
        let g_call =
            Glossary::default().groups_of_words(&["call".into(), "for".into(), "proposals".into()]);
        assert_eq!(concept.1, super::super::glossary::concept_token(g_call[0]));
    }

    #[test]
    fn reused_buffers_and_the_stem_cache_change_nothing() {
        let g = Glossary::default();
        let texts = [
            "Appel à projets : mobilité internationale des doctorants",
            "a",
            "",
            "Doctoral networks implement doctoral programmes by partnerships of universities",
        ];
        let mut reused = text(&g);
        for t in texts.iter().chain(texts.iter()) {
            assert_eq!(
                all_tokens(&mut reused, t),
                all_tokens(&mut text(&g), t),
                "{t}"
            );
        }
    }

    #[test]
    fn keyword_keeps_the_whole_value() {
        assert_eq!(
            keyword_token(" Région Auvergne-Rhône-Alpes "),
            "region auvergne-rhone-alpes"
        );
        assert_eq!(keyword_token("EU"), "eu");
    }
}
