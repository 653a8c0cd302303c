//! The text analysers the index registers: one French chain, one English
//! chain and a keyword chain, all accent- and case-insensitive.
//!
//! Calls arrive in French and English, often mixed (English titles on French
//! portals, French summaries of EU calls), so every text field is indexed
//! twice, once per chain, and queries search both: a wrong language guess
//! then never hides a call. Both chains fold accents *before* stemming, at
//! index and query time alike (the query parser uses the field's analyser),
//! so "evenement" and "événement" reduce to the same stem, as do
//! "mobilités"/"mobilité" (French Snowball) and "universities"/"university"
//! (English Snowball).

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language as StemLanguage, LowerCaser, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, TextAnalyzer, TokenStream,
};

/// Name of the French analyser (simple tokens, lowercase, folded, French stems).
pub const FRENCH: &str = "fw_fr";
/// Name of the English analyser (simple tokens, lowercase, folded, English stems).
pub const ENGLISH: &str = "fw_en";
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

/// Registers the three analysers on `index`. Must run after every
/// `Index::open`/`create`: tantivy stores analyser *names* in the schema, not
/// the analysers themselves.
pub fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(FRENCH, french());
    manager.register(ENGLISH, english());
    manager.register(KEYWORD, keyword());
}

/// Runs `analyzer` over `text` and returns the token texts.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
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

    #[test]
    fn keyword_keeps_the_whole_value() {
        assert_eq!(
            keyword_token(" Région Auvergne-Rhône-Alpes "),
            "region auvergne-rhone-alpes"
        );
        assert_eq!(keyword_token("EU"), "eu");
    }
}
