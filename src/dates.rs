//! Date extraction from French and English free text: every date a call page
//! states, with its role (deadline, opening, publication, other), its
//! precision (instant, day, month), its zone and its stage label.
//!
//! A missed or mis-stated deadline is the worst thing fundwatch can do, so
//! this module owns one job and keeps it pure: it takes text and a
//! [`DateContext`] (`now`, default zone, language) and returns values; no IO,
//! no clock. The phrasings it reads are catalogued in SOURCES-FORMATS.md §4–§5
//! and the real quotations of `deadline_phrasings_real.tsv` (all of them are
//! in the test table, `src/dates/tests.rs`).
//!
//! # How it works
//!
//! 1. Markup: when the text holds tags, they are stripped (block tags become
//!    line breaks), entities decoded, and a `<time datetime="…">` element is
//!    authoritative: its attribute gives the instant and a parenthesised IANA
//!    name in its content gives the zone (EURAXESS, SOURCES-FORMATS.md §4).
//!    `<script>`/`<style>` bodies are dropped.
//! 2. A linear tokenizer splits the text into numbers, words and single
//!    punctuation characters (letter/digit changes split: `17h00`, `1er`,
//!    `18T19`, `4.00pm`).
//! 3. A hand-written recursive-descent scanner tries, at each number or
//!    month-ish word, the date shapes (ISO `YYYY-MM-DD` or `YYYY/MM/DD`, ISO
//!    with `T`/offset, `DD/MM/YYYY`, `DD/MM/YY`, `DD.MM.YYYY`, `DD-MM-YYYY`,
//!    `D Month [YYYY]`, `Month D[, YYYY]`, `[qualifier] Month [YYYY]`), then
//!    a time of day, then a zone, then a range tail. A time with no date
//!    (`due by 5 p.m. proposer's local time):`, `12 noon on 5 March`) is
//!    kept pending and given to the *deadlines* that follow on the same line
//!    and sentence (never across a line break: a time stated once above a
//!    table is not carried into it). Numbers that no shape can continue
//!    from (judged on the next two tokens, see `inert_number`) are passed
//!    over without trying them: the scanner reads every word of long
//!    descriptions, so its per-token cost is the extractor's speed.
//! 4. Dates separated only by `,`/`;`/`and`/`et`/`or`/`ou` form a group
//!    (multiple cut-offs); each group takes its role and stage label from the
//!    keywords nearest before it in its clause (its line up to the date; the
//!    previous non-empty line too when the date opens its line, as under a
//!    header), else the first keyword after it on its line, else (role only)
//!    on the next line when the date stands alone on its line (a table cell
//!    with its label below). See `role_of`.
//!
//! # Rules worth knowing (each is tested)
//!
//! * **Missing year**: among the years `now-1 ..= now+1`, the candidate whose
//!   date lies in `[now − 6 months, now + 18 months)` and is nearest to `now`
//!   (ties go to the later year: a deadline believed past is worse than one
//!   believed future). Range starts take the year of their end (minus one if
//!   that would put the start after the end); list items take the year of the
//!   next item that states one. `July 18, Annually Thereafter` (NSF) is the
//!   next July 18 on or after `now` and after any stated July 18 nearby.
//! * **Roles**: nearest keyword wins; an unlabelled lone date is a deadline;
//!   an unlabelled range is opening → deadline; a range under a publication
//!   or "other" keyword never yields a deadline (its end becomes `other`).
//!   `Publication ouverte du … au …` is a publication window.
//! * **Labels** are canonical lowercase: `pre-proposal`, `full proposal`
//!   (`propositions détaillées`, `demande complète`), `letter of intent`,
//!   `step 1`/`step 2` (`Step I`, `étape 1`), `stage 1`/`stage 2`, `phase N`.
//! * **Zones**: `heure de Paris` → Europe/Paris; `Brussels (local) time` →
//!   Europe/Brussels; `UK time` → Europe/London; `GMT+1`/`UTC+2` → fixed
//!   offset named `Etc/GMT-1` (IANA's inverted sign); `(Europe/Madrid)` → that
//!   zone; `proposer's/submitter's local time` or nothing → `ctx.zone`.
//!   Abbreviations (`CET`, `CEST`, `BST`, `EST`…) name a fixed offset but
//!   are often written loosely (`12h CET` on 4 October, which is summer
//!   time): the earlier of the literal offset and the region's real local
//!   time is taken, and the region's IANA name is reported
//!   (Europe/Brussels for CET/CEST). For a deadline, earlier is the safe side.
//! * **DST**: local times go through chrono-tz; an ambiguous autumn hour
//!   takes the earlier instant; a non-existent spring hour is read with the
//!   new offset (again the earlier reading).
//! * **Midnight**: `minuit`/`midnight`/`24:00` on a day is 23:59:59 of that
//!   day (the deadline is the end of the stated day, not the next day).
//! * **Numeric dates**: `DD/MM/YYYY` (European sources) unless the middle
//!   number cannot be a month (`MM/DD/YYYY` then). Two-digit years only with
//!   slashes (`1.2.25` is a version number). Bare 8-digit numbers
//!   (grants.gov `MMDDYYYY`) are not dates in free text: API fields have a
//!   fixed format and are parsed by their adapter.
//! * **SEDIA midnight UTC** (`T00:00:00.000+0000`) is a date, not an instant
//!   (SOURCES-FORMATS.md §1.4).
//! * **Traps**: Catalan `7 de setembre` is ignored (not a French or English
//!   month; only `of` may join a day and a month); bare years (a page title's
//!   `2023`) are never dates; `Cachet de la poste faisant foi` is not a date;
//!   lowercase `may` is a verb unless a year follows; `31 April 2025` is
//!   dropped (not degraded to "April 2025"); `12.50` alone is an amount, not
//!   a time (a dotted time is read only right after a date).
//! * **Lists and `between`**: bare days before a full date share its month
//!   and year (`le 2 et le 16 mai 2025`); `between A and B` / `entre A et B`
//!   is a range.
//! * **Not handled** (yet): relative dates (`within 30 days`), weekday-only
//!   dates (`next Friday`). `DateContext::lang` is not needed: both languages
//!   are always read and no phrasing seen so far is ambiguous between them.

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use regex::Regex;

use crate::model::{DatePoint, DateRole, FoundDate, Language};
use crate::packed::{PACKED_MAX, pack_lower_at};

#[cfg(test)]
mod tests;

/// What the extractor needs to read a date: the text's language, the zone for
/// times given without one, and the context date used to infer a missing year.
#[derive(Debug, Clone, Copy)]
pub struct DateContext {
    /// Language of the text (both languages are tried; this breaks ties).
    pub lang: Language,
    /// Zone for times given without a zone.
    pub zone: Tz,
    /// Context date: a missing year is inferred from it.
    pub now: DateTime<Utc>,
}

/// Every date found in `text`, in order of appearance, each with its role.
pub fn extract(text: &str, ctx: &DateContext) -> Vec<FoundDate> {
    extract_with(text, ctx, &mut Scratch::default())
}

/// [`extract`], with buffers kept from the previous text: the same answer,
/// for callers that read many texts in a row.
pub fn extract_with(text: &str, ctx: &DateContext, scratch: &mut Scratch) -> Vec<FoundDate> {
    if has_markup(text) {
        let (clean, overrides) = strip_markup(text);
        extract_clean(&clean, ctx, &overrides, scratch)
    } else {
        extract_clean(text, ctx, &[], scratch)
    }
}

// ---------------------------------------------------------------------------
// Markup
// ---------------------------------------------------------------------------

/// A `<time datetime>` element: the span of its content in the cleaned text
/// and the attribute value.
struct TimeElement {
    start: usize,
    end: usize,
    datetime: String,
}

fn has_markup(text: &str) -> bool {
    let b = text.as_bytes();
    // Most texts given here are already clean and hold no `<` at all: the
    // `memchr` crate's SIMD search passes over them several times faster
    // than `str::find` (benches/extract.rs).
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let i = from + p;
        if b.get(i + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/' || *c == b'!')
        {
            return true;
        }
        from = i + 1;
    }
    false
}

/// Tags that break a line when rendered; others are replaced by a space.
fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "br" | "p"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "td"
            | "th"
            | "dt"
            | "dd"
            | "dl"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "table"
            | "section"
            | "article"
            | "header"
            | "footer"
    )
}

fn push_decoded(out: &mut String, seg: &str) {
    if seg.contains('&') {
        out.push_str(&html_escape::decode_html_entities(seg).replace('\u{a0}', " "));
    } else {
        out.push_str(seg);
    }
}

fn attr_value(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = lower[from..].find(name) {
        let at = from + p;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let off = tag.len() - rest.len() + 1;
        let val = tag[off..].trim_start();
        let (q, body) = match val.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &val[1..]),
            _ => (None, val),
        };
        let end = match q {
            Some(q) => body.find(q).unwrap_or(body.len()),
            None => body
                .find(|c: char| c.is_whitespace() || c == '>')
                .unwrap_or(body.len()),
        };
        return Some(body[..end].to_owned());
    }
    None
}

/// Strips tags, decodes entities, and records `<time datetime>` elements.
fn strip_markup(text: &str) -> (String, Vec<TimeElement>) {
    let mut out = String::with_capacity(text.len());
    let mut elements = Vec::new();
    let mut open_time: Option<(usize, String)> = None;
    let mut rest = text;
    while let Some(p) = rest.find('<') {
        push_decoded(&mut out, &rest[..p]);
        let after = &rest[p..];
        let Some(q) = after.find('>') else {
            push_decoded(&mut out, after);
            rest = "";
            break;
        };
        let tag = &after[1..q];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let is_tag = tag
            .trim_start_matches('/')
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '!');
        if !is_tag {
            out.push('<');
            rest = &after[1..];
            continue;
        }
        out.push(if is_block_tag(&name) { '\n' } else { ' ' });
        if name == "time" {
            if closing {
                if let Some((start, datetime)) = open_time.take() {
                    elements.push(TimeElement {
                        start,
                        end: out.len() - 1,
                        datetime,
                    });
                }
            } else if let Some(dt) = attr_value(tag, "datetime") {
                open_time = Some((out.len(), dt));
            }
        }
        rest = &after[q + 1..];
        // Script and style bodies are not text.
        if !closing && matches!(name.as_str(), "script" | "style") {
            let skip = rest
                .match_indices("</")
                .map(|(p, _)| p)
                .find(|&p| {
                    rest.as_bytes()
                        .get(p + 2..p + 2 + name.len())
                        .is_some_and(|b| b.eq_ignore_ascii_case(name.as_bytes()))
                })
                .unwrap_or(rest.len());
            rest = &rest[skip..];
        }
    }
    push_decoded(&mut out, rest);
    (out, elements)
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Word,
    Punct(char),
}

/// A token: 20 bytes, so that the tokens of a long description stay small
/// (offsets are `u32`: [`tokenize`] reads at most [`MAX_TEXT`] bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tok {
    kind: Kind,
    lo: u32,
    hi: u32,
    /// Value of a number (saturating), 0 otherwise.
    num: u32,
    /// A line break lies between the previous token and this one.
    nl: bool,
}

/// Longest text the tokenizer reads (4 GiB, far above any body fundwatch
/// accepts: `max_body` defaults to 20 MB); the rest is ignored.
const MAX_TEXT: usize = u32::MAX as usize;

impl Tok {
    fn new(kind: Kind, start: usize, end: usize, num: u32, nl: bool) -> Tok {
        // `tokenize` reads at most MAX_TEXT bytes: the offsets fit (a
        // checked conversion here costs a branch per token).
        debug_assert!(end <= MAX_TEXT);
        Tok {
            kind,
            lo: start as u32,
            hi: end as u32,
            num,
            nl,
        }
    }

    fn start(&self) -> usize {
        self.lo as usize
    }

    fn end(&self) -> usize {
        self.hi as usize
    }

    fn digits(&self) -> usize {
        self.end() - self.start()
    }
}

/// What an ASCII byte is to the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Space,
    Digit,
    /// A letter or `_`.
    Letter,
    Punct,
    /// A byte of a multi-byte character: decided by the character.
    NonAscii,
}

/// The [`ByteClass`] of every byte, so that the tokenizer's loops are one table
/// lookup per byte (the tokenizer reads every byte of every item's text).
static CLASS: [ByteClass; 256] = {
    let mut t = [ByteClass::NonAscii; 256];
    let mut b = 0;
    while b < 0x80 {
        let c = b as u8;
        t[b] = if c.is_ascii_whitespace() {
            ByteClass::Space
        } else if c.is_ascii_digit() {
            ByteClass::Digit
        } else if c.is_ascii_alphabetic() || c == b'_' {
            ByteClass::Letter
        } else {
            ByteClass::Punct
        };
        b += 1;
    }
    t
};

/// Byte length of the letter at `i`, `None` when it is not a letter.
fn letter_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    match CLASS[usize::from(b[i])] {
        ByteClass::Letter => Some(1),
        ByteClass::NonAscii => {
            // The frequent non-ASCII characters of French and English text,
            // decided without Unicode's table walk. U+00C0..U+00FF (lead
            // byte 0xC3) are all letters but × and ÷ (the accented letters);
            // of U+0080..U+00BF (0xC2) only ª µ º are (° « » and no-break
            // space are not); U+2000..U+203F (0xE2 0x80: ’ “ ” – — …) hold
            // no letter.
            match (b[i], b.get(i + 1)) {
                (0xC3, Some(c)) => return (*c != 0x97 && *c != 0xB7).then_some(2),
                (0xC2, Some(c)) => return matches!(c, 0xAA | 0xB5 | 0xBA).then_some(2),
                (0xE2, Some(0x80)) => return None,
                _ => {}
            }
            let ch = text.get(i..)?.chars().next()?;
            ch.is_alphabetic().then(|| ch.len_utf8())
        }
        _ => None,
    }
}

/// Bit masks over a text, one bit per byte and 64 bytes per word: which
/// bytes are ASCII letters (or `_`) and which are ASCII digits. Built in one
/// branch-free pass the compiler vectorises, they let the tokenizer find the
/// end of a word or a number with one `trailing_zeros` instead of a loop
/// whose exit branch mispredicts at every word's end (that loop was the
/// largest single cost of feed extraction, benches/extract.rs).
#[derive(Debug, Default)]
struct ByteMasks {
    letter: Vec<u64>,
    digit: Vec<u64>,
}

impl ByteMasks {
    /// The masks of `b`, in place of the previous ones (the buffers are
    /// kept: see [`Scratch`]).
    fn fill(&mut self, b: &[u8]) {
        self.letter.clear();
        self.digit.clear();
        let mut chunks = b.chunks_exact(64);
        for chunk in &mut chunks {
            self.push(chunk);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Zero padding is neither a letter nor a digit: its bits stay
            // clear, as `run_end` needs past the end.
            let mut padded = [0u8; 64];
            padded[..rest.len()].copy_from_slice(rest);
            self.push(&padded);
        }
    }

    /// The masks of 64 bytes: one byte of 0/1 per byte first (a loop the
    /// compiler turns into vector compares), then eight bytes at a time
    /// packed into bits by one multiplication: byte `k`'s 1 lands on bit
    /// `56 + k` (the products of the other bytes fall on distinct lower bits
    /// or past bit 63, so nothing carries into the top byte).
    fn push(&mut self, chunk: &[u8]) {
        let (mut l, mut d) = ([0u8; 64], [0u8; 64]);
        for ((c, l), d) in chunk.iter().zip(&mut l).zip(&mut d) {
            *l = u8::from((c | 0x20).wrapping_sub(b'a') < 26 || *c == b'_');
            *d = u8::from(c.wrapping_sub(b'0') < 10);
        }
        self.letter.push(Self::pack(&l));
        self.digit.push(Self::pack(&d));
    }

    /// 64 bytes of 0 or 1 as the bits of one word, byte `j` on bit `j`.
    fn pack(flags: &[u8; 64]) -> u64 {
        const SPREAD: u64 = 0x0102_0408_1020_4080;
        flags
            .chunks_exact(8)
            .enumerate()
            .fold(0, |acc, (k, eight)| {
                let mut b = [0u8; 8];
                b.copy_from_slice(eight);
                acc | (u64::from_le_bytes(b).wrapping_mul(SPREAD) >> 56) << (8 * k)
            })
    }

    /// First position at or after `i` whose bit is clear in `mask` (the
    /// text's length at most: bits past the end are clear).
    fn run_end(mask: &[u64], mut i: usize) -> usize {
        loop {
            let w = i / 64;
            let Some(&bits) = mask.get(w) else {
                return i;
            };
            let clear = !bits >> (i % 64);
            if clear != 0 {
                return i + clear.trailing_zeros() as usize;
            }
            i = (w + 1) * 64;
        }
    }
}

/// Records token `index` as a candidate when `keep`, without a branch on
/// `keep` (a word is one about one time in five, unpredictably): the index
/// is always written at `n`, and `n` moves on only for a candidate. The
/// buffer grows, rarely, when `n` reaches its end.
fn mark(cands: &mut Vec<u32>, n: &mut usize, index: usize, keep: bool) {
    if *n == cands.len() {
        cands.resize(2 * *n, 0);
    }
    cands[*n] = index as u32;
    *n += usize::from(keep);
}

/// The buffers a reading of one text fills and the next reuses: the
/// tokenizer's masks, tokens and candidates. A feed or a listing reads a
/// few hundred descriptions in a row, and allocating, zeroing and freeing
/// these blocks (each about the size of the text) for each one was several
/// per cent of the date scanner's time (malloc, memset and free in a
/// profile of benches/extract.rs). It holds nothing from one reading that
/// the next can see.
#[derive(Debug, Default)]
pub struct Scratch {
    masks: ByteMasks,
    toks: Vec<Tok>,
    cands: Vec<u32>,
}

/// The tokens of `text`, and the indices of those the scanner must look at
/// (see [`Scan::cands`]).
#[cfg(test)]
fn tokenize(text: &str) -> (Vec<Tok>, Vec<u32>) {
    let mut scratch = Scratch::default();
    tokenize_into(text, &mut scratch);
    (scratch.toks, scratch.cands)
}

/// [`tokenize`] into the buffers of `scratch`: `toks` and `cands` hold the
/// tokens and the candidates when it returns.
fn tokenize_into(text: &str, scratch: &mut Scratch) {
    let text = &text[..floor_char(text, text.len().min(MAX_TEXT))];
    let b = text.as_bytes();
    let Scratch { masks, toks, cands } = scratch;
    masks.fill(b);
    let starters = &*STARTERS;
    // Prose has about one token per five bytes (French descriptions a little
    // more): a quarter of the length is rarely outgrown, and outgrowing
    // copies the tokens (benches/extract.rs).
    toks.clear();
    toks.reserve(text.len() / 4 + 8);
    // Candidates, the first `n` of `cands` (see `mark`): the slots past `n`
    // are written before they are counted, so a reused buffer is not
    // cleared, only grown.
    let want = text.len() / 8 + 8;
    if cands.len() < want {
        cands.resize(want, 0);
    }
    let mut n = 0;
    let mut nl = false;
    let mut i = 0;
    // Byte loop driven by [`CLASS`]; runs of ASCII letters and digits end
    // where [`ByteMasks`] says; non-ASCII characters are decoded only to
    // ask whether they are letters or spaces.
    while i < b.len() {
        let c = b[i];
        match CLASS[usize::from(c)] {
            ByteClass::Space => {
                nl |= c == b'\n';
                i += 1;
                continue;
            }
            ByteClass::Digit => {
                let start = i;
                i = ByteMasks::run_end(&masks.digit, i);
                let num = b[start..i].iter().fold(0u32, |n, d| {
                    n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
                });
                mark(cands, &mut n, toks.len(), true);
                toks.push(Tok::new(Kind::Num, start, i, num, nl));
            }
            class => {
                let letter = match class {
                    ByteClass::Letter => Some(1),
                    ByteClass::NonAscii => letter_at(text, i),
                    _ => None,
                };
                if let Some(mut w) = letter {
                    // Words follow words in prose: the next one, after a
                    // single space, is taken here without the dispatch.
                    loop {
                        let start = i;
                        let mut ascii = w == 1;
                        i += w;
                        loop {
                            i = ByteMasks::run_end(&masks.letter, i);
                            if i < b.len() && b[i] >= 0x80 {
                                match letter_at(text, i) {
                                    Some(w) => {
                                        ascii = false;
                                        i += w;
                                    }
                                    None => break,
                                }
                            } else {
                                break;
                            }
                        }
                        let len = i - start;
                        let starter = len <= STARTER_MAX_BYTES
                            && (!ascii | starters.may_have_ascii_at(b[start], b[i - 1], len));
                        mark(cands, &mut n, toks.len(), starter);
                        toks.push(Tok::new(Kind::Word, start, i, 0, nl));
                        nl = false;
                        if b.get(i) == Some(&b' ')
                            && b.get(i + 1)
                                .is_some_and(|&c| CLASS[usize::from(c)] == ByteClass::Letter)
                        {
                            i += 1;
                            w = 1;
                        } else {
                            break;
                        }
                    }
                } else {
                    let ch = if class == ByteClass::Punct {
                        char::from(c)
                    } else {
                        text[i..].chars().next().unwrap_or(' ')
                    };
                    if ch.is_whitespace() {
                        i += ch.len_utf8();
                        continue;
                    }
                    let end = i + ch.len_utf8();
                    toks.push(Tok::new(Kind::Punct(ch), i, end, 0, nl));
                    i = end;
                }
            }
        }
        nl = false;
        // The space after a token, taken here rather than by a turn of the
        // loop: it is the most frequent byte of prose, and each turn costs
        // the dispatch above.
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    cands.truncate(n);
}

/// A lowercase copy of a short word in a stack buffer (no allocation: this
/// runs for every word the scanner looks at).
struct Lower {
    buf: [u8; 32],
    len: usize,
}

impl Lower {
    fn of(s: &str) -> Option<Lower> {
        if s.len() > 24 {
            return None;
        }
        let mut buf = [0u8; 32];
        if s.is_ascii() {
            for (d, c) in buf.iter_mut().zip(s.bytes()) {
                *d = c.to_ascii_lowercase();
            }
            return Some(Lower { buf, len: s.len() });
        }
        let mut len = 0;
        for c in s.chars().flat_map(char::to_lowercase) {
            let mut tmp = [0u8; 4];
            let e = c.encode_utf8(&mut tmp);
            if len + e.len() > buf.len() {
                return None;
            }
            buf[len..len + e.len()].copy_from_slice(e.as_bytes());
            len += e.len();
        }
        Some(Lower { buf, len })
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The scanner's view: tokens plus the text they index.
struct Scan<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    /// Indices of the tokens a reading may start at, in order: every
    /// number, and every word [`is_starter`] may accept (a superset, judged
    /// by the tokenizer while the word is in hand). The scanner visits
    /// these only: on long prose most tokens are neither, and stepping
    /// over them one by one was much of the scanner's time.
    cands: Vec<u32>,
}

impl<'a> Scan<'a> {
    #[cfg(test)]
    fn new(text: &'a str) -> Scan<'a> {
        Scan::new_in(text, &mut Scratch::default())
    }

    /// The scan of `text`, its buffers taken from `scratch` (give them back
    /// with [`Scan::reclaim`]).
    fn new_in(text: &'a str, scratch: &mut Scratch) -> Scan<'a> {
        tokenize_into(text, scratch);
        Scan {
            text,
            toks: std::mem::take(&mut scratch.toks),
            cands: std::mem::take(&mut scratch.cands),
        }
    }

    /// Returns the buffers to `scratch` for the next text.
    fn reclaim(self, scratch: &mut Scratch) {
        scratch.toks = self.toks;
        scratch.cands = self.cands;
    }

    fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i)
    }

    fn word(&self, i: usize) -> Option<Lower> {
        let t = self.toks.get(i)?;
        if t.kind != Kind::Word {
            return None;
        }
        Lower::of(&self.text[t.start()..t.end()])
    }

    fn is_word(&self, i: usize, options: &[&str]) -> bool {
        let Some(t) = self.toks.get(i).filter(|t| t.kind == Kind::Word) else {
            return false;
        };
        let raw = &self.text[t.start()..t.end()];
        // Lowercasing keeps the byte length of the letters used here, so a
        // length check first avoids most comparisons.
        options.iter().any(|o| {
            o.len() == raw.len()
                && (raw.eq_ignore_ascii_case(o)
                    || (!raw.is_ascii() && Lower::of(raw).is_some_and(|l| l.as_str() == *o)))
        })
    }

    fn is_punct(&self, i: usize, options: &[char]) -> bool {
        matches!(self.toks.get(i), Some(Tok { kind: Kind::Punct(c), .. }) if options.contains(c))
    }

    fn num(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i).filter(|t| t.kind == Kind::Num)
    }

    /// Token `i` starts right where token `i-1` ends (no space).
    fn adjacent(&self, i: usize) -> bool {
        i > 0
            && self
                .toks
                .get(i)
                .is_some_and(|t| t.start() == self.toks[i - 1].end())
    }

    fn raw(&self, i: usize) -> &str {
        self.toks
            .get(i)
            .map_or("", |t| &self.text[t.start()..t.end()])
    }
}

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// French and English month names and abbreviations. Catalan, Spanish or
/// Italian names are deliberately absent (`setembre` must not become a date).
/// A table rather than a `match` so that [`STARTERS`] is built from the
/// same words.
const MONTHS: &[(&str, u32)] = &[
    ("janvier", 1),
    ("january", 1),
    ("jan", 1),
    ("janv", 1),
    ("février", 2),
    ("fevrier", 2),
    ("february", 2),
    ("feb", 2),
    ("fév", 2),
    ("févr", 2),
    ("fev", 2),
    ("fevr", 2),
    ("mars", 3),
    ("march", 3),
    ("mar", 3),
    ("avril", 4),
    ("april", 4),
    ("apr", 4),
    ("avr", 4),
    ("mai", 5),
    ("may", 5),
    ("juin", 6),
    ("june", 6),
    ("jun", 6),
    ("juillet", 7),
    ("july", 7),
    ("jul", 7),
    ("juil", 7),
    ("août", 8),
    ("aout", 8),
    ("august", 8),
    ("aug", 8),
    ("septembre", 9),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("octobre", 10),
    ("october", 10),
    ("oct", 10),
    ("novembre", 11),
    ("november", 11),
    ("nov", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("december", 12),
    ("dec", 12),
    ("déc", 12),
];

fn month_of(w: &str) -> Option<u32> {
    // Length and first byte before the full comparison: this runs for
    // every word after a number.
    let first = w.as_bytes().first()?;
    MONTHS
        .iter()
        .find(|(name, _)| name.len() == w.len() && name.as_bytes()[0] == *first && *name == w)
        .map(|&(_, m)| m)
}

/// Full month names (a month without day or year is only read in full).
fn is_full_month_name(w: &str) -> bool {
    w.len() > 4
        || matches!(
            w,
            "mars" | "mai" | "juin" | "june" | "july" | "août" | "aout"
        )
}

/// French and English weekdays and their abbreviations.
const WEEKDAYS: &[&str] = &[
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
];

fn is_weekday(w: &str) -> bool {
    WEEKDAYS.contains(&w)
}

fn is_ordinal_suffix(w: &str) -> bool {
    ORDINAL_SUFFIXES.contains(&w)
}

/// Named places and regions that fix a zone (`heure de Paris`,
/// `Brussels time`, `date et heure du Sénégal`).
fn place_zone(w: &str) -> Option<Tz> {
    use chrono_tz::{Africa, America, Asia, Europe};
    Some(match w {
        "paris" | "france" | "française" | "francaise" => Europe::Paris,
        "bruxelles" | "brussels" | "belgium" | "belgique" => Europe::Brussels,
        "london" | "londres" | "uk" | "british" => Europe::London,
        "luxembourg" => Europe::Luxembourg,
        "berlin" | "germany" | "allemagne" => Europe::Berlin,
        "madrid" | "spain" | "espagne" => Europe::Madrid,
        "rome" | "italy" | "italie" => Europe::Rome,
        "amsterdam" => Europe::Amsterdam,
        "lisbon" | "lisbonne" | "portugal" => Europe::Lisbon,
        "dakar" | "sénégal" | "senegal" => Africa::Dakar,
        "bamako" | "mali" => Africa::Bamako,
        "mauritanie" | "mauritania" | "nouakchott" => Africa::Nouakchott,
        "maroc" | "morocco" | "rabat" => Africa::Casablanca,
        "tunisie" | "tunisia" | "tunis" => Africa::Tunis,
        "algérie" | "algerie" | "algeria" | "alger" => Africa::Algiers,
        "québec" | "quebec" | "montréal" | "montreal" => America::Toronto,
        "tokyo" | "japan" | "japon" => Asia::Tokyo,
        "eastern" => America::New_York,
        "pacific" => America::Los_Angeles,
        _ => return None,
    })
}

/// Zone abbreviations: the region they loosely name and their literal offset
/// in seconds. `CST`/`IST` are absent: they name several unrelated zones.
fn abbreviation_zone(w: &str) -> Option<(Tz, i32)> {
    use chrono_tz::{America, Asia, Australia, Europe};
    const H: i32 = 3600;
    Some(match w {
        "cet" => (Europe::Brussels, H),
        "cest" => (Europe::Brussels, 2 * H),
        "wet" => (Europe::Lisbon, 0),
        "west" => (Europe::Lisbon, H),
        "bst" => (Europe::London, H),
        "eet" => (Europe::Athens, 2 * H),
        "eest" => (Europe::Athens, 3 * H),
        "est" => (America::New_York, -5 * H),
        "edt" => (America::New_York, -4 * H),
        "pst" => (America::Los_Angeles, -8 * H),
        "pdt" => (America::Los_Angeles, -7 * H),
        "mst" => (America::Denver, -7 * H),
        "mdt" => (America::Denver, -6 * H),
        "jst" => (Asia::Tokyo, 9 * H),
        "kst" => (Asia::Seoul, 9 * H),
        "hkt" => (Asia::Hong_Kong, 8 * H),
        "sgt" => (Asia::Singapore, 8 * H),
        "aest" => (Australia::Sydney, 10 * H),
        "aedt" => (Australia::Sydney, 11 * H),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Parsed pieces
// ---------------------------------------------------------------------------

/// A time of day; `23:59:59` stands for midnight at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    h: u32,
    m: u32,
    s: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ZoneSpec {
    /// A real zone (named place, IANA name in the text).
    Tz(Tz),
    /// An abbreviation: the region and the literal offset (seconds east).
    Abbrev(Tz, i32),
    /// A numeric UTC offset (seconds east).
    Fixed(i32),
    /// "local time" of the reader: the context zone.
    Local,
}

impl ZoneSpec {
    fn tz(self, ctx: &DateContext) -> Tz {
        match self {
            ZoneSpec::Tz(tz) | ZoneSpec::Abbrev(tz, _) => tz,
            ZoneSpec::Fixed(off) => fixed_tz(off),
            ZoneSpec::Local => ctx.zone,
        }
    }

    fn instant(self, local: NaiveDateTime, ctx: &DateContext) -> DateTime<Utc> {
        match self {
            ZoneSpec::Tz(tz) => local_to_utc(tz, local),
            ZoneSpec::Local => local_to_utc(ctx.zone, local),
            ZoneSpec::Fixed(off) => (local - Duration::seconds(i64::from(off))).and_utc(),
            ZoneSpec::Abbrev(tz, off) => {
                let literal = (local - Duration::seconds(i64::from(off))).and_utc();
                literal.min(local_to_utc(tz, local))
            }
        }
    }
}

/// The IANA name for a whole-hour fixed offset (`+02:00` is `Etc/GMT-2`:
/// the Etc area inverts the sign, POSIX style); UTC otherwise.
fn fixed_tz(off: i32) -> Tz {
    if off == 0 || off % 3600 != 0 {
        return Tz::UTC;
    }
    let h = off / 3600;
    let name = format!("Etc/GMT{}{}", if h > 0 { '-' } else { '+' }, h.abs());
    Tz::from_str(&name).unwrap_or(Tz::UTC)
}

/// Local wall-clock time to UTC. Ambiguous (autumn) → the earlier instant;
/// non-existent (spring gap) → read with the post-gap offset, which is also
/// the earlier reading: for a deadline, earlier is the safe side.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        LocalResult::None => match tz.from_local_datetime(&(local + Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                t.with_timezone(&Utc) - Duration::hours(1)
            }
            LocalResult::None => local.and_utc(),
        },
    }
}

/// One date as scanned, before year inference and role assignment.
#[derive(Debug, Clone)]
struct Point {
    /// Byte span in the (cleaned) text.
    start: usize,
    end: usize,
    year: Option<i32>,
    month: u32,
    /// `None`: month precision.
    day: Option<u32>,
    clock: Option<Clock>,
    zone: Option<ZoneSpec>,
    /// An instant read with its own offset (ISO with offset, `<time>`),
    /// with the zone to report.
    fixed: Option<(DateTime<Utc>, Tz)>,
    /// ISO midnight UTC from SEDIA: a date in UTC.
    date_in: Option<Tz>,
    /// "Annually Thereafter": the next occurrence.
    recurring: bool,
}

impl Point {
    fn new(start: usize, end: usize, year: Option<i32>, month: u32, day: Option<u32>) -> Self {
        Point {
            start,
            end,
            year,
            month,
            day,
            clock: None,
            zone: None,
            fixed: None,
            date_in: None,
            recurring: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangePos {
    Lone,
    Start,
    End,
}

#[derive(Debug, Clone)]
struct Item {
    point: Point,
    range: RangePos,
}

/// A time stated without a date (`due by 5 p.m. proposer's local time`).
#[derive(Debug)]
struct Pending {
    end: usize,
    clock: Clock,
    zone: Option<ZoneSpec>,
}

// ---------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------

fn valid_year(n: u32) -> bool {
    (1990..=2100).contains(&n)
}

impl Scan<'_> {
    /// Tries a full date (with optional weekday, time, zone) at token `i`.
    /// Returns the point and the index of the first token after it.
    fn point(&self, i: usize) -> Option<(Point, usize)> {
        let mut j = i;
        if self.word(j).is_some_and(|w| is_weekday(w.as_str())) {
            j += 1;
            if self.is_punct(j, &[',']) {
                j += 1;
            }
            // "Le jeudi 27 octobre": "le" after nothing; "Thursday, the 3rd".
            if self.is_word(j, &["the", "le"]) {
                j += 1;
            }
        }
        let (mut p, mut k) = self.core(j)?;
        p.start = self.toks[i].start();
        if p.fixed.is_none() && p.day.is_some() {
            if let Some((clock, k2)) = self.clock(k, true) {
                p.clock = Some(clock);
                k = k2;
            }
            if let Some((zone, k2)) = self.zone(k) {
                p.zone = Some(zone);
                k = k2;
            }
        }
        let comma = usize::from(self.is_punct(k, &[',']));
        if p.year.is_none() && p.day.is_some() && self.is_word(k + comma, &["annually", "yearly"]) {
            p.recurring = true;
            k += comma + 1;
            if self.is_word(k, &["thereafter"]) {
                k += 1;
            }
        }
        p.end = self.toks[k - 1].end();
        Some((p, k))
    }

    /// The date itself: day, month, year.
    fn core(&self, i: usize) -> Option<(Point, usize)> {
        let t = self.tok(i)?;
        match t.kind {
            Kind::Num => self
                .iso(i)
                .or_else(|| self.numeric(i))
                .or_else(|| self.day_month(i)),
            Kind::Word => self.month_first(i),
            Kind::Punct(_) => None,
        }
    }

    /// `2016-10-27`, `2024-04-18T19:00:00.000+0200`, `2026-04-12T21:59:00Z`.
    fn iso(&self, i: usize) -> Option<(Point, usize)> {
        let y = self
            .num(i)
            .filter(|t| t.digits() == 4 && valid_year(t.num))?;
        let sep = match self.tok(i + 1)?.kind {
            Kind::Punct(c @ ('-' | '/')) if self.adjacent(i + 1) => c,
            _ => return None,
        };
        let m = self
            .num(i + 2)
            .filter(|t| t.digits() <= 2 && (1..=12).contains(&t.num))?;
        if !(self.is_punct(i + 3, &[sep]) && self.adjacent(i + 3) && self.adjacent(i + 2)) {
            return None;
        }
        let d = self
            .num(i + 4)
            .filter(|t| t.digits() <= 2 && self.adjacent(i + 4))?;
        let date = NaiveDate::from_ymd_opt(y.num as i32, m.num, d.num)?;
        let mut p = Point::new(y.start(), d.end(), Some(y.num as i32), m.num, Some(d.num));
        let mut k = i + 5;
        // `T` and a time glued to the date.
        if self.adjacent(k)
            && self.word(k).is_some_and(|w| w.as_str() == "t")
            && let Some((clock, k2, offset)) = self.iso_time(k + 1)
        {
            k = k2;
            let local = date.and_hms_opt(clock.h, clock.m, clock.s)?;
            match offset {
                Some(0) if clock == (Clock { h: 0, m: 0, s: 0 }) => {
                    p.date_in = Some(Tz::UTC);
                }
                Some(off) => {
                    let at = (local - Duration::seconds(i64::from(off))).and_utc();
                    p.fixed = Some((at, fixed_tz(off)));
                }
                None => p.clock = Some(clock),
            }
        }
        Some((p, k))
    }

    /// `HH:MM[:SS[.fff]][Z|±HHMM|±HH:MM]` right after an ISO `T`.
    fn iso_time(&self, i: usize) -> Option<(Clock, usize, Option<i32>)> {
        let h = self
            .num(i)
            .filter(|t| t.digits() == 2 && t.num < 24 && self.adjacent(i))?;
        if !(self.is_punct(i + 1, &[':']) && self.adjacent(i + 1)) {
            return None;
        }
        let m = self.num(i + 2).filter(|t| t.digits() == 2 && t.num < 60)?;
        let mut k = i + 3;
        let mut s = 0;
        if self.is_punct(k, &[':']) && self.adjacent(k) {
            let st = self.num(k + 1).filter(|t| t.digits() == 2 && t.num < 61)?;
            s = st.num.min(59);
            k += 2;
            if self.is_punct(k, &['.']) && self.adjacent(k) && self.num(k + 1).is_some() {
                k += 2;
            }
        }
        let clock = Clock {
            h: h.num,
            m: m.num,
            s,
        };
        if self.adjacent(k) && self.word(k).is_some_and(|w| w.as_str() == "z") {
            return Some((clock, k + 1, Some(0)));
        }
        if self.adjacent(k) && self.is_punct(k, &['+', '-']) {
            let sign = if self.is_punct(k, &['-']) { -1 } else { 1 };
            let a = self.num(k + 1)?;
            let (off, next) = if a.digits() == 4 {
                (((a.num / 100) * 3600 + (a.num % 100) * 60) as i32, k + 2)
            } else if a.digits() == 2 && self.is_punct(k + 2, &[':']) {
                let b = self.num(k + 3)?;
                ((a.num * 3600 + b.num * 60) as i32, k + 4)
            } else {
                return None;
            };
            return Some((clock, next, Some(sign * off)));
        }
        Some((clock, k, None))
    }

    /// `08/03/2024`, `18.04.2024`, `18-09-2024`.
    fn numeric(&self, i: usize) -> Option<(Point, usize)> {
        let a = self.num(i).filter(|t| t.digits() <= 2)?;
        let sep = match self.tok(i + 1)?.kind {
            Kind::Punct(c @ ('/' | '.' | '-')) if self.adjacent(i + 1) => c,
            _ => return None,
        };
        let b = self
            .num(i + 2)
            .filter(|t| t.digits() <= 2 && self.adjacent(i + 2))?;
        if !(self.is_punct(i + 3, &[sep]) && self.adjacent(i + 3)) {
            return None;
        }
        // Two-digit years only with slashes (`15/03/25`): dotted triples are
        // too often version numbers (`1.2.25`).
        let y = self.num(i + 4).filter(|t| {
            self.adjacent(i + 4)
                && ((t.digits() == 4 && valid_year(t.num)) || (t.digits() == 2 && sep == '/'))
        })?;
        let year = if y.digits() == 2 {
            2000 + y.num as i32
        } else {
            y.num as i32
        };
        // Glued to more digits (`1.2.2024.5`, `12/03/2024/1`): not a date.
        if self.adjacent(i + 5) && self.adjacent(i + 6) && self.num(i + 6).is_some() {
            return None;
        }
        let (day, month) = if b.num <= 12 {
            (a.num, b.num)
        } else if sep == '/' && a.num <= 12 {
            (b.num, a.num)
        } else {
            return None;
        };
        NaiveDate::from_ymd_opt(year, month, day)?;
        Some((
            Point::new(a.start(), y.end(), Some(year), month, Some(day)),
            i + 5,
        ))
    }

    /// Ordinal suffix after a day number: `1er`, `23rd`, `16 th`.
    fn skip_ordinal(&self, k: usize) -> usize {
        match self.word(k) {
            Some(w) if is_ordinal_suffix(w.as_str()) => {
                let glued = self.adjacent(k);
                if glued || matches!(w.as_str(), "st" | "nd" | "rd" | "th") {
                    k + 1
                } else {
                    k
                }
            }
            _ => k,
        }
    }

    /// A month word at `k` (with an optional abbreviation dot); `strict`
    /// refuses a lowercase English `may` (the verb).
    fn month_word(&self, k: usize, strict_may: bool) -> Option<(u32, usize)> {
        let w = self.word(k)?;
        let m = month_of(w.as_str())?;
        if strict_may && w.as_str() == "may" && self.raw(k).starts_with('m') {
            return None;
        }
        let mut next = k + 1;
        if self.is_punct(next, &['.']) && self.adjacent(next) && w.as_str() != "mai" {
            next += 1;
        }
        Some((m, next))
    }

    /// A year after a month or day: `[,] YYYY` (not a time like `2017 17:00`).
    fn year_at(&self, k: usize) -> Option<(i32, usize)> {
        let k = if self.is_punct(k, &[',']) { k + 1 } else { k };
        let y = self
            .num(k)
            .filter(|t| t.digits() == 4 && valid_year(t.num))?;
        // `2024-05` or `2024/…`: part of something else.
        if self.adjacent(k + 1) && self.is_punct(k + 1, &['-', '/', ':']) {
            return None;
        }
        Some((y.num as i32, k + 1))
    }

    /// `1er avril 2021`, `20th of February`, `7 novembre 2022`, `24 Nov 2025`.
    fn day_month(&self, i: usize) -> Option<(Point, usize)> {
        let d = self
            .num(i)
            .filter(|t| t.digits() <= 2 && (1..=31).contains(&t.num))?;
        let mut k = self.skip_ordinal(i + 1);
        if self.is_word(k, &["of"]) {
            k += 1;
        }
        let year_follows = |k: usize| self.year_at(k).is_some();
        let (month, k2) = match self.month_word(k, true) {
            Some(x) => x,
            None => {
                // lowercase "may" is a verb unless a year follows.
                let (m, k2) = self.month_word(k, false)?;
                if !year_follows(k2) {
                    return None;
                }
                (m, k2)
            }
        };
        let mut p = Point::new(d.start(), 0, None, month, Some(d.num));
        let mut k = k2;
        if let Some((y, k3)) = self.year_at(k) {
            NaiveDate::from_ymd_opt(y, month, d.num)?;
            p.year = Some(y);
            k = k3;
        } else if NaiveDate::from_ymd_opt(2024, month, d.num).is_none() {
            return None;
        }
        p.end = self.toks[k - 1].end();
        Some((p, k))
    }

    /// `October 15, 2014`, `June 9 th, 2017`, `Oct 27`, `April 2021`,
    /// `fin mars 2022`, `début avril`, `End of April 2021`, `mi-février`.
    fn month_first(&self, i: usize) -> Option<(Point, usize)> {
        let mut k = i;
        let mut qualified = false;
        if let Some(w) = self.word(k) {
            match w.as_str() {
                q if QUALIFIERS.contains(&q) => {
                    k += 1;
                    if self.is_punct(k, &['-']) {
                        k += 1;
                    }
                    qualified = true;
                }
                "end" | "beginning" | "start" | "middle" if self.is_word(k + 1, &["of"]) => {
                    k += 2;
                    qualified = true;
                }
                _ => {}
            }
        }
        let (month, mut k2) = self.month_word(k, true)?;
        let month_tok = k;
        let mut p = Point::new(self.toks[i].start(), 0, None, month, None);
        // `31 April 2025` was refused as a day: do not fall back to the
        // month alone.
        let after_day = i > 0
            && self.toks[i - 1].kind == Kind::Num
            && self.toks[i - 1].digits() <= 2
            && !self.toks[i].nl;
        if after_day && !qualified {
            return None;
        }
        if !qualified {
            // Month D[th][, YYYY]
            if let Some(d) = self
                .num(k2)
                .filter(|t| t.digits() <= 2 && (1..=31).contains(&t.num))
            {
                let k3 = self.skip_ordinal(k2 + 1);
                // `Oct 27, 2016`; refuse `March 12.5` or `Mar 3:00`.
                if !(self.adjacent(k2 + 1) && self.is_punct(k2 + 1, &['.', ':', '/', '-'])) {
                    p.day = Some(d.num);
                    k2 = k3;
                    if let Some((y, k4)) = self.year_at(k2) {
                        p.year = Some(y);
                        k2 = k4;
                    }
                    NaiveDate::from_ymd_opt(p.year.unwrap_or(2024), month, d.num)?;
                    p.end = self.toks[k2 - 1].end();
                    return Some((p, k2));
                }
            }
        }
        // Month [YYYY]: needs a year or a qualifier and a full month name.
        if let Some((y, k3)) = self.year_at(k2) {
            p.year = Some(y);
            k2 = k3;
        } else {
            let w = self.word(month_tok)?;
            if !qualified || !is_full_month_name(w.as_str()) {
                return None;
            }
        }
        p.end = self.toks[k2 - 1].end();
        Some((p, k2))
    }

    /// A time of day at `i`, after optional connectors (`à`, `at`, `,`,
    /// `-`, `(`). `after_date` allows the connectors.
    fn clock(&self, i: usize, after_date: bool) -> Option<(Clock, usize)> {
        let mut k = i;
        if after_date {
            for _ in 0..2 {
                if self.is_punct(k, &[',', '(', '-', '–', '@'])
                    || self.is_word(k, &["à", "at", "by", "before", "avant", "vers", "um"])
                {
                    k += 1;
                }
            }
        }
        let (clock, k) = self.clock_at(k, after_date)?;
        // `12.00 (noon)`, `12 noon`.
        let k = if self.is_punct(k, &['('])
            && self.is_word(k + 1, &["noon", "midday", "midi"])
            && self.is_punct(k + 2, &[')'])
        {
            k + 3
        } else if self.is_word(k, &["noon", "midday", "midi"]) && clock.h == 12 {
            k + 1
        } else {
            k
        };
        Some((clock, k))
    }

    /// `allow_dot`: `12.00` alone is a time only right after a date (else it
    /// is more likely an amount).
    fn clock_at(&self, k: usize, allow_dot: bool) -> Option<(Clock, usize)> {
        if let Some(w) = self.word(k) {
            return match w.as_str() {
                "midi" | "noon" | "midday" => Some((Clock { h: 12, m: 0, s: 0 }, k + 1)),
                "minuit" | "midnight" => Some((
                    Clock {
                        h: 23,
                        m: 59,
                        s: 59,
                    },
                    k + 1,
                )),
                _ => None,
            };
        }
        let h = self.num(k).filter(|t| t.digits() <= 2 && t.num <= 24)?;
        let mut m = 0;
        let mut next = k + 1;
        let mut strong = false;
        if self.is_punct(next, &[':', '.']) && self.adjacent(next) {
            let mt = self
                .num(next + 1)
                .filter(|t| t.digits() == 2 && t.num < 60 && self.adjacent(next + 1))?;
            // `12.04.2024` is a date, `12:00:00` a time with seconds.
            if self.is_punct(next + 2, &['.'])
                && self.adjacent(next + 2)
                && self.num(next + 3).is_some()
            {
                return None;
            }
            strong = self.is_punct(next, &[':']);
            m = mt.num;
            next += 2;
            if self.is_punct(next, &[':']) && self.adjacent(next) && self.num(next + 1).is_some() {
                next += 2;
            }
            if self.is_word(next, &["h", "hrs", "hours", "heures", "uhr"]) {
                next += 1;
                strong = true;
            }
        } else if self.is_word(next, &["h"]) {
            next += 1;
            strong = true;
            if let Some(mt) = self.num(next).filter(|t| t.digits() == 2 && t.num < 60) {
                m = mt.num;
                next += 1;
            }
        } else if self.is_word(next, &["heures", "heure", "hours", "hrs", "uhr"]) {
            next += 1;
            strong = true;
        }
        let mut h = h.num;
        // am / pm / a.m. / p.m.
        let ampm = if self.is_word(next, &["am", "pm"]) {
            let pm = self.is_word(next, &["pm"]);
            next += 1;
            Some(pm)
        } else if self.is_word(next, &["a", "p"])
            && self.is_punct(next + 1, &['.'])
            && self.is_word(next + 2, &["m"])
        {
            let pm = self.is_word(next, &["p"]);
            next += 3;
            if self.is_punct(next, &['.']) && self.adjacent(next) {
                next += 1;
            }
            Some(pm)
        } else {
            None
        };
        if let Some(pm) = ampm {
            if h == 0 || h > 12 {
                return None;
            }
            h = match (pm, h) {
                (true, 12) => 12,
                (true, h) => h + 12,
                (false, 12) => 0,
                (false, h) => h,
            };
            strong = true;
        }
        let dotted = allow_dot && self.is_punct(k + 1, &['.']) && self.adjacent(k + 1);
        if !(strong || dotted) {
            return None;
        }
        if h == 24 {
            if m != 0 {
                return None;
            }
            return Some((
                Clock {
                    h: 23,
                    m: 59,
                    s: 59,
                },
                next,
            ));
        }
        if h > 23 {
            return None;
        }
        Some((Clock { h, m, s: 0 }, next))
    }

    /// A zone after a time: `(heure de Paris)`, `Brussels local time`,
    /// `UK time`, `CEST`, `GMT+1`, `(Europe/Brussels)`, `submitter's local
    /// time`, `(date et heure du Sénégal, …)`.
    fn zone(&self, i: usize) -> Option<(ZoneSpec, usize)> {
        let mut k = i;
        for _ in 0..2 {
            if self.is_punct(k, &['(', ',', '-', '–']) {
                k += 1;
            }
        }
        let close = |k: usize| if self.is_punct(k, &[')']) { k + 1 } else { k };
        let w = self.word(k)?;
        let w = w.as_str();
        // French: [date et] heure [locale | de/du/d' [la] Place]
        let mut h = k;
        if w == "date" && self.is_word(k + 1, &["et"]) {
            h = k + 2;
        }
        if self.is_word(h, &["heure", "heures"]) {
            if self.is_word(h + 1, &["locale"]) {
                return Some((ZoneSpec::Local, close(h + 2)));
            }
            if self.is_word(h + 1, &["française", "francaise"]) {
                return Some((ZoneSpec::Tz(chrono_tz::Europe::Paris), close(h + 2)));
            }
            let mut p = h + 1;
            if self.is_word(p, &["de", "du", "d"]) {
                p += 1;
                if self.is_punct(p, &['\'', '’']) {
                    p += 1;
                }
                if self.is_word(p, &["la", "l"]) {
                    p += 1;
                }
                if self.is_punct(p, &['\'', '’']) {
                    p += 1;
                }
                if let Some(tz) = self.word(p).and_then(|w| place_zone(w.as_str())) {
                    // `(date et heure du Sénégal, Mali, Mauritanie)`: take the
                    // first place, swallow the rest of the parenthesis.
                    let mut end = p + 1;
                    let mut n = 0;
                    while n < 8
                        && !self.is_punct(end, &[')'])
                        && self.tok(end).is_some_and(|t| !t.nl)
                    {
                        if !(self.is_punct(end, &[',']) || self.word(end).is_some()) {
                            break;
                        }
                        end += 1;
                        n += 1;
                    }
                    return Some((ZoneSpec::Tz(tz), close(end)));
                }
            }
            return None;
        }
        // English: Place [local] time / Central European [Summer] Time
        if let Some(tz) = place_zone(w) {
            let mut p = k + 1;
            if self.is_word(p, &["local"]) {
                p += 1;
            }
            if self.is_word(p, &["time"]) {
                return Some((ZoneSpec::Tz(tz), close(p + 1)));
            }
        }
        if w == "central" && self.is_word(k + 1, &["european"]) {
            let mut p = k + 2;
            let summer = self.is_word(p, &["summer"]);
            if summer {
                p += 1;
            }
            if self.is_word(p, &["time"]) {
                let spec = ZoneSpec::Abbrev(
                    chrono_tz::Europe::Brussels,
                    if summer { 7200 } else { 3600 },
                );
                return Some((spec, close(p + 1)));
            }
        }
        // GMT+1 / UTC+02:00 / UTC / GMT / Z
        if matches!(w, "utc" | "gmt" | "z") {
            let mut p = k + 1;
            let mut off = 0;
            if self.is_punct(p, &['+', '-', '−']) {
                let sign = if self.is_punct(p, &['+']) { 1 } else { -1 };
                if let Some(n) = self.num(p + 1).filter(|t| t.digits() <= 2 && t.num <= 14) {
                    off = sign * n.num as i32 * 3600;
                    p += 2;
                    if self.is_punct(p, &[':'])
                        && let Some(mn) = self.num(p + 1).filter(|t| t.digits() == 2 && t.num < 60)
                    {
                        off += sign * mn.num as i32 * 60;
                        p += 2;
                    }
                }
            }
            if self.is_word(p, &["time"]) {
                p += 1;
            }
            return Some((ZoneSpec::Fixed(off), close(p)));
        }
        // US "ET"/"PT": the region's local time, DST included.
        if matches!(w, "et" | "pt") && matches!(self.raw(k), "ET" | "PT") {
            let tz = if w == "et" {
                chrono_tz::America::New_York
            } else {
                chrono_tz::America::Los_Angeles
            };
            return Some((ZoneSpec::Tz(tz), close(k + 1)));
        }
        if let Some((tz, off)) = abbreviation_zone(w) {
            // Upper case only: `est` is French for "is".
            if self.raw(k).chars().all(|c| c.is_ascii_uppercase()) {
                let mut p = k + 1;
                if self.is_word(p, &["time"]) {
                    p += 1;
                }
                return Some((ZoneSpec::Abbrev(tz, off), close(p)));
            }
        }
        // IANA name: Area/Location[/Sub], glued.
        if self.is_punct(k + 1, &['/']) && self.adjacent(k + 1) && self.adjacent(k + 2) {
            let mut end = k + 3;
            if self.is_punct(end, &['/'])
                && self.adjacent(end)
                && self.adjacent(end + 1)
                && self.word(end + 1).is_some()
            {
                end += 2;
            }
            let name = &self.text[self.toks[k].start()..self.toks[end - 1].end()];
            if let Ok(tz) = Tz::from_str(name) {
                return Some((ZoneSpec::Tz(tz), close(end)));
            }
        }
        // "proposer's local time", "your local time", "local time".
        let mut p = k;
        if self.is_punct(p + 1, &['\'', '’']) && self.is_word(p + 2, &["s"]) {
            p += 3;
        } else if w == "your" {
            p += 1;
        }
        if self.is_word(p, &["local"]) && self.is_word(p + 1, &["time"]) {
            return Some((ZoneSpec::Local, close(p + 2)));
        }
        None
    }

    /// After a point ending before token `k`: a range connector and a second
    /// point. `between`: the first point followed `between`/`entre`, so
    /// `and`/`et` connect too.
    fn range_tail(&self, k: usize, between: bool) -> Option<(Point, usize)> {
        let mut j = k;
        if self.is_punct(j, &['-', '–', '—'])
            || self.is_word(j, &["au", "to", "until", "till", "through", "thru"])
            || (between && self.is_word(j, &["and", "et"]))
        {
            j += 1;
        } else if self.is_word(j, &["jusqu"])
            && self.is_punct(j + 1, &['\'', '’'])
            && self.is_word(j + 2, &["au"])
        {
            j += 3;
        } else {
            return None;
        }
        if self.is_word(j, &["le", "the"]) {
            j += 1;
        }
        self.point(j)
    }

    /// Bare days listed before a full date share its month and year:
    /// `le 2 et le 16 mai 2025`, `2, 16 and 30 May`. Returns the days (value
    /// and byte span), the full date and the next token.
    #[allow(clippy::type_complexity)]
    fn day_list(&self, i: usize) -> Option<(Vec<(u32, usize, usize)>, Point, usize)> {
        let mut days: Vec<(u32, usize, usize)> = Vec::new();
        let mut j = i;
        loop {
            let t = self
                .num(j)
                .filter(|t| t.digits() <= 2 && (1..=31).contains(&t.num))?;
            let after = self.skip_ordinal(j + 1);
            let mut s = after;
            while self.is_punct(s, &[',', '&'])
                || self.is_word(s, &["et", "and", "le", "the", "ou", "or"])
            {
                s += 1;
            }
            // No separator: not a list (checked before the push, so that a
            // lone number, the usual case, allocates nothing).
            if s == after {
                return None;
            }
            days.push((t.num, t.start(), self.toks[after - 1].end()));
            if days.len() > 8 {
                return None;
            }
            if let Some((b, k)) = self.point(s) {
                let bd = b.day?;
                let increasing = days.windows(2).all(|w| w[0].0 < w[1].0);
                let before = days.last().is_some_and(|d| d.0 < bd);
                return (b.fixed.is_none() && increasing && before).then_some((days, b, k));
            }
            j = s;
        }
    }
}

/// Fills a missing range start year from its end (start must not be after end).
fn fill_range_start(a: &mut Point, b: &Point) {
    if a.year.is_some() {
        return;
    }
    if let Some(by) = b.year {
        let key = |p: &Point| (p.month, p.day.unwrap_or(1));
        a.year = Some(if key(a) > key(b) { by - 1 } else { by });
    }
}

/// Words other than months and weekdays a date or a time can start with
/// (qualifiers, `midi`/`noon`/`minuit`).
const OTHER_STARTERS: &[&str] = &[
    "fin",
    "début",
    "debut",
    "courant",
    "mid",
    "early",
    "late",
    "mi",
    "en",
    "in",
    "end",
    "beginning",
    "start",
    "middle",
    "midi",
    "noon",
    "midday",
    "minuit",
    "midnight",
];

/// Words a date or a time can start with (months, weekdays, qualifiers,
/// `midi`/`noon`/`minuit`): the scanner only stops on these and numbers.
/// The definition; the scanner asks [`is_starter`], which answers the same
/// faster (tested against this).
#[cfg(test)]
fn starts_something(w: &str) -> bool {
    month_of(w).is_some() || is_weekday(w) || OTHER_STARTERS.contains(&w)
}

/// Longest word, in bytes, the scanner asks [`is_starter`] about (the
/// longest starters, `wednesday` and `septembre`, have 9 letters; `décembre`
/// 9 bytes).
const STARTER_MAX_BYTES: usize = 10;

/// Slots of a [`WordSet`]'s table: a power of two, over twice the largest
/// set (the starters, about a hundred words; tested), so that probes stay
/// short and always meet an empty slot.
const SLOTS: usize = 256;

/// The home slot of a packed word (Fibonacci hashing of its two halves).
fn slot_of(key: u128) -> usize {
    let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

/// A set of lowercase words arranged for membership tests of raw words:
/// the scanner asks about every word of the text, and integer tests are
/// several times cheaper than lowercasing into a buffer and comparing with
/// each of dozens of strings (that was a large part of `extract`'s time on
/// long prose, benches/extract.rs).
struct WordSet {
    /// By byte length, then first letter (`a` = 0; 26 to 31 stay empty):
    /// a bit per last letter, set when some ASCII word of the set has that
    /// length, first and last letter. Exact triples, not a length's first
    /// letters and last letters apart: those let through about one word in
    /// six of the benchmark's French prose (`soutient`, `moins`, `lien`,
    /// `TWIN`…), each then packed and looked up by the scanner
    /// (benches/extract.rs).
    ends: [[u32; 32]; PACKED_MAX + 1],
    /// The ASCII words, packed by [`crate::packed::pack_lower`], in an
    /// open-addressing table of [`SLOTS`] (0 marks an empty slot: no word
    /// packs to 0). A miss, the usual answer, is one multiplication and one
    /// load.
    packed: Box<[u128; SLOTS]>,
    /// The other words (`février`, `août`, `ème`…): only compared with
    /// non-ASCII lowercase forms, so every ASCII word of a set must be
    /// letters a–z (tested).
    other: Vec<&'static str>,
}

impl WordSet {
    fn new(words: impl IntoIterator<Item = &'static str>) -> WordSet {
        let mut s = WordSet {
            ends: [[0; 32]; PACKED_MAX + 1],
            packed: Box::new([0; SLOTS]),
            other: Vec::new(),
        };
        for w in words {
            let b = w.as_bytes();
            let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
                continue;
            };
            if b.len() <= PACKED_MAX
                && b.iter().all(u8::is_ascii_lowercase)
                && first.is_ascii_lowercase()
                && last.is_ascii_lowercase()
            {
                s.ends[b.len()][usize::from(first - b'a')] |= 1 << (last - b'a');
                let key = pack_lower_at(b, 0, b.len());
                let mut at = slot_of(key);
                while s.packed[at] != 0 && s.packed[at] != key {
                    at = (at + 1) % SLOTS;
                }
                s.packed[at] = key;
            } else {
                s.other.push(w);
            }
        }
        s
    }

    /// The ASCII word `text[start..end]`, lowercased, is in the set.
    fn has_ascii_at(&self, text: &[u8], start: usize, end: usize) -> bool {
        let Some((&first, &last)) = text
            .get(start..end)
            .and_then(|w| Some((w.first()?, w.last()?)))
        else {
            return false;
        };
        if !self.may_have_ascii_at(first, last, end - start) {
            return false;
        }
        let key = pack_lower_at(text, start, end);
        let mut at = slot_of(key);
        loop {
            match self.packed[at] {
                0 => return false,
                k if k == key => return true,
                _ => at = (at + 1) % SLOTS,
            }
        }
    }

    /// The first test of [`Self::has_ascii_at`], on a word of `len` bytes
    /// from its first and last byte: false means `has_ascii_at` is false; true
    /// leaves the question open. Without a branch (the tokenizer asks it of
    /// every word): a byte that is not a letter lowercases to an index past
    /// `z`, whose row and bit are empty in every table.
    fn may_have_ascii_at(&self, first: u8, last: u8, len: usize) -> bool {
        let at = |b: u8| u32::from((b | 0x20).wrapping_sub(b'a')).min(31);
        let slot = len.min(PACKED_MAX);
        let hit = (self.ends[slot][at(first) as usize] >> at(last)) & 1;
        (len <= PACKED_MAX) & (hit != 0)
    }

    /// What [`Self::may_have_ascii_at`] computes, written plainly: length,
    /// first and last letter (the tests' reference).
    #[cfg(test)]
    fn may_have_ascii(&self, b: &[u8]) -> bool {
        let (Some(&c), Some(&z)) = (b.first(), b.last()) else {
            return false;
        };
        let (c, z) = (c.to_ascii_lowercase(), z.to_ascii_lowercase());
        b.len() <= PACKED_MAX
            && c.is_ascii_lowercase()
            && z.is_ascii_lowercase()
            && self.ends[b.len()][usize::from(c - b'a')] & (1 << (z - b'a')) != 0
    }

    /// The lowercase form of `raw` (as [`Lower`] makes it) is in the set.
    #[cfg(test)]
    fn contains(&self, raw: &str) -> bool {
        self.contains_at(raw, 0, raw.len())
    }

    /// [`Self::contains`] of the word `text[start..end]`: given in place,
    /// an ASCII word is packed from the text around it (see
    /// [`pack_lower_at`]).
    fn contains_at(&self, text: &str, start: usize, end: usize) -> bool {
        let raw = &text[start..end];
        if raw.is_ascii() {
            return self.has_ascii_at(text.as_bytes(), start, end);
        }
        let Some(lower) = Lower::of(raw) else {
            return false;
        };
        let lower = lower.as_str();
        if lower.is_ascii() {
            self.has_ascii_at(lower.as_bytes(), 0, lower.len())
        } else {
            self.other.contains(&lower)
        }
    }
}

static STARTERS: LazyLock<WordSet> = LazyLock::new(|| {
    WordSet::new(
        MONTHS
            .iter()
            .map(|(name, _)| *name)
            .chain(WEEKDAYS.iter().copied())
            .chain(OTHER_STARTERS.iter().copied()),
    )
});

/// `starts_something` of the lowercased `raw` word.
#[cfg(test)]
fn is_starter(raw: &str) -> bool {
    STARTERS.contains(raw)
}

/// [`is_starter`] of the word `text[start..end]`.
fn is_starter_at(text: &str, start: usize, end: usize) -> bool {
    STARTERS.contains_at(text, start, end)
}

/// Ordinal suffixes after a day (`1er`, `2nd`, `3 rd`).
const ORDINAL_SUFFIXES: &[&str] = &["er", "re", "e", "ème", "eme", "st", "nd", "rd", "th"];

/// Every word a reading that starts at a number can go on with right after
/// it: an ordinal suffix or `of` then a month, a month (`day_month`); a
/// range word (`range_tail`); a list word (`day_list`); an hour mark or
/// am/pm (`clock_at`). Kept in step with those functions; the scan test
/// `inert_numbers_are_skipped_exactly` checks the shortcut on every fixture.
const AFTER_NUMBER_WORDS: &[&str] = &[
    "of", "au", "to", "until", "till", "through", "thru", "jusqu", "et", "and", "le", "the", "ou",
    "or", "h", "heures", "heure", "hours", "hrs", "uhr", "am", "pm", "a", "p",
];

/// Punctuation a reading that starts at a number can go on with right
/// after it: date separators (`iso`, `numeric`), range dashes, list
/// separators, clock separators.
const AFTER_NUMBER_PUNCT: &[char] = &['-', '/', '.', '–', '—', ',', '&', ':'];

static AFTER_NUMBER: LazyLock<WordSet> = LazyLock::new(|| {
    WordSet::new(
        MONTHS
            .iter()
            .map(|(name, _)| *name)
            .chain(ORDINAL_SUFFIXES.iter().copied())
            .chain(AFTER_NUMBER_WORDS.iter().copied()),
    )
});

/// A number at token `i` no reading can start from, judged on the next
/// two tokens: every reading of a number (a date, a range start, a day
/// list, a time) needs the next token to be one of [`AFTER_NUMBER`] or
/// [`AFTER_NUMBER_PUNCT`]; after `/`, `.` or `:` (`iso`, `numeric`,
/// `clock_at`) a number must follow; after a dash (`iso`, `numeric`,
/// `range_tail`) a number, `le`/`the`, or a word a date can start with.
/// Most numbers of prose (`n°7 soutient`, `TWIN-08. Les`, `2026-TWIN`) are
/// inert, and skipping them spares the scanner's dozen lookups per number
/// (benches/extract.rs).
fn inert_number(sc: &Scan<'_>, i: usize) -> bool {
    let Some(next) = sc.toks.get(i + 1) else {
        return true;
    };
    let then = sc.toks.get(i + 2);
    match next.kind {
        Kind::Num => true,
        Kind::Word => !AFTER_NUMBER.contains_at(sc.text, next.start(), next.end()),
        Kind::Punct('/' | '.' | ':') => then.is_none_or(|t| t.kind != Kind::Num),
        Kind::Punct('-' | '–' | '—') => then.is_none_or(|t| match t.kind {
            // After a dash, a number of three digits or more can only go on
            // as an ISO date's year (`4-2026-05-06`: the 4th to 6 May), which
            // needs a number two tokens later; without one (`CL4-2026-TWIN`,
            // the topic codes quoted in every EU description) no reading
            // starts here: `iso`, `numeric`, `day_month` and `day_list`
            // need a short number or a word after it, and `clock_at` an hour
            // mark.
            Kind::Num => {
                t.digits() >= 3
                    && sc
                        .toks
                        .get(i + 4)
                        .is_none_or(|after| after.kind != Kind::Num)
            }
            Kind::Punct(_) => true,
            Kind::Word => {
                !(is_starter_at(sc.text, t.start(), t.end())
                    || Lower::of(&sc.text[t.start()..t.end()])
                        .is_some_and(|w| matches!(w.as_str(), "le" | "the")))
            }
        }),
        Kind::Punct(c) => !AFTER_NUMBER_PUNCT.contains(&c),
    }
}

/// The qualifiers `month_first` reads before a month (`fin mars`, `mi-mai`,
/// `en juin 2025`) that are nothing else: neither a month, nor a weekday,
/// nor a clock word.
const QUALIFIERS: &[&str] = &[
    "fin", "début", "debut", "courant", "mid", "early", "late", "mi", "en", "in",
];

/// A starter word at token `i` no reading can start from: a [`QUALIFIERS`]
/// word not followed (over an optional dash) by a month word. `en` and `in`
/// are among the commonest words of prose, and each used to go through the
/// weekday, month and clock readings before failing (benches/extract.rs).
fn inert_word(sc: &Scan<'_>, i: usize) -> bool {
    let in_set = |set: &WordSet, k: usize| {
        sc.toks
            .get(k)
            .is_some_and(|t| t.kind == Kind::Word && set.contains_at(sc.text, t.start(), t.end()))
    };
    if !in_set(&QUALIFIER_SET, i) {
        return false;
    }
    let k = if sc.is_punct(i + 1, &['-']) {
        i + 2
    } else {
        i + 1
    };
    !in_set(&MONTH_SET, k)
}

/// [`QUALIFIERS`] as a [`WordSet`]: `en` and `in` come up at every other
/// line of prose, and lowercasing each into a buffer to compare with ten
/// strings was a tenth of the scan (benches/extract.rs).
static QUALIFIER_SET: LazyLock<WordSet> =
    LazyLock::new(|| WordSet::new(QUALIFIERS.iter().copied()));

/// The words [`month_of`] knows, as a [`WordSet`].
static MONTH_SET: LazyLock<WordSet> =
    LazyLock::new(|| WordSet::new(MONTHS.iter().map(|(name, _)| *name)));

/// Scans the whole text: points (single or ranges) and pending times.
fn scan_points(sc: &Scan<'_>) -> (Vec<Item>, Vec<Pending>) {
    scan_points_with(sc, true)
}

/// [`scan_points`], with the inert-number shortcut on or off (off only in
/// the test that proves it changes nothing).
fn scan_points_with(sc: &Scan<'_>, skip_inert: bool) -> (Vec<Item>, Vec<Pending>) {
    let mut items = Vec::new();
    let mut pendings = Vec::new();
    // `i` is the first token not yet read; a reading consumes tokens, so the
    // next candidate is the first one at or after `i`.
    let mut i = 0;
    for &c in &sc.cands {
        let c = c as usize;
        if c < i {
            continue;
        }
        i = c;
        let t = sc.toks[i];
        let candidate = match t.kind {
            Kind::Num => !(skip_inert && inert_number(sc, i)),
            Kind::Word => {
                t.end() - t.start() <= STARTER_MAX_BYTES
                    && is_starter_at(sc.text, t.start(), t.end())
                    && !(skip_inert && inert_word(sc, i))
            }
            Kind::Punct(_) => false,
        };
        if !candidate {
            i += 1;
            continue;
        }
        if let Some((mut a, k)) = sc.point(i) {
            let between = i > 0 && sc.is_word(i - 1, &["between", "entre"]);
            if let Some((b, k2)) = sc.range_tail(k, between) {
                fill_range_start(&mut a, &b);
                items.push(Item {
                    point: a,
                    range: RangePos::Start,
                });
                items.push(Item {
                    point: b,
                    range: RangePos::End,
                });
                i = k2;
            } else {
                items.push(Item {
                    point: a,
                    range: RangePos::Lone,
                });
                i = k;
            }
            continue;
        }
        if t.kind == Kind::Num {
            // Day-only range start: `du 1er au 15 mars`, `1-15 March 2024`.
            let k = sc.skip_ordinal(i + 1);
            // Not the tail of `1.1` or `3,5`.
            let glued = sc.adjacent(i) && sc.is_punct(i.wrapping_sub(1), &['.', ',']);
            if !glued
                && t.digits() <= 2
                && (1..=31).contains(&t.num)
                && let Some((b, k2)) = sc.range_tail(k, false)
                && b.day.is_some_and(|bd| bd > t.num)
            {
                let a = Point::new(
                    t.start(),
                    sc.toks[k - 1].end(),
                    b.year,
                    b.month,
                    Some(t.num),
                );
                items.push(Item {
                    point: a,
                    range: RangePos::Start,
                });
                items.push(Item {
                    point: b,
                    range: RangePos::End,
                });
                i = k2;
                continue;
            }
            if !glued && let Some((days, b, k2)) = sc.day_list(i) {
                for (day, start, end) in days {
                    items.push(Item {
                        point: Point::new(start, end, b.year, b.month, Some(day)),
                        range: RangePos::Lone,
                    });
                }
                items.push(Item {
                    point: b,
                    range: RangePos::Lone,
                });
                i = k2;
                continue;
            }
        }
        if let Some((clock, k)) = sc.clock(i, false) {
            let (zone, k) = match sc.zone(k) {
                Some((z, k2)) => (Some(z), k2),
                None => (None, k),
            };
            pendings.push(Pending {
                end: sc.toks[k - 1].end(),
                clock,
                zone,
            });
            i = k;
            continue;
        }
        i += 1;
    }
    (items, pendings)
}

// ---------------------------------------------------------------------------
// Roles and labels
// ---------------------------------------------------------------------------

/// The role keywords, by class, in the order the role regex tries them
/// (publication first: "publication ouverte" is a publication period).
const ROLE_KEYWORDS: [(Class, &str); 4] = [
    (
        Class::Publication,
        r"publication ouverte|date de publication|publish(?:ed)? date|published|publication|publiée?s?|posted|postée?|mise? en ligne|updated|mise à jour|last update|actualisée?s?|version",
    ),
    (
        Class::Other,
        r"invitations? à déposer|invitations? à soumettre|invited to submit|webinars?|webinaires?|info ?days?|information days?|information sessions?|journées? d['’ ]information|séances? d['’ ]information|réunions?|meetings?|events?|événements?|évènements?|results?|résultats?|notifications?|project start|start of (?:the )?projects?|(?:must|should|will) (?:start|begin)|doit (?:commencer|débuter|démarrer)|démarrage|début (?:du|des) projets?|selection|sélection|conferences?|conférences?|workshops?|ateliers?|interviews?|entretiens?|announcements?|annonces?|awards?|jury|decisions?|décisions?|commission permanente|votée?s?|voted",
    ),
    (
        Class::Opening,
        r"ouverture|ouverte?s?|ouvre|opens|opening|opened|open|starts?|launch(?:ed)?|lancement|lancée?s?|à partir du",
    ),
    (
        Class::Deadline,
        r"dates? limites?|limite de dépôt|limites?|clôture|cloture|clôt|au plus tard|avant le|deadlines?|closing|closes|closed|close|must receive|submissions?|submit(?:ted)?|soumission|soumettre|due|cut-?offs?|until|till|jusqu|dépôts?|depots?|déposer|deposer|déposée?s?|envoi|réception|échéance|expires?|apply by|fermeture",
    ),
];

/// A role keyword between a consumed non-letter (or the start/end) on each
/// side. Not `\b`: Unicode `\b` pushes the regex off its fast DFA path on
/// accented text, and ASCII `\b` fails after `publié`.
static ROLE_RE: LazyLock<Regex> = LazyLock::new(|| {
    let any = ROLE_KEYWORDS.map(|(_, k)| format!("(?:{k})")).join("|");
    Regex::new(&format!(
        r"(?i)(?:^|[^\p{{L}}\p{{N}}_])(?:{any})(?:[^\p{{L}}\p{{N}}_]|$)"
    ))
    .expect("invariant: the role keyword regex is a valid literal")
});

/// Each class's keywords alone, anchored: which class a [`ROLE_RE`] match
/// is, found without running the regex for its groups (a capture search
/// goes through a backtracker; these anchored tests stay on the DFA, and
/// capturing was about a sixth of the date extractor's time on the feed
/// benchmark).
static ROLE_AT: LazyLock<[(Class, Regex); 4]> = LazyLock::new(|| {
    ROLE_KEYWORDS.map(|(class, k)| {
        let re = Regex::new(&format!(r"(?i)^(?:{k})(?:[^\p{{L}}\p{{N}}_]|$)"))
            .expect("invariant: the role keyword regex is a valid literal");
        (class, re)
    })
});

/// The class of the [`ROLE_RE`] match `m` of `hay`: the first class, in
/// [`ROLE_KEYWORDS`] order, whose keywords match where `m`'s do. That is the
/// alternative the leftmost-first match took: at the start of `hay` the
/// `^` branch (keyword at 0) comes before the consumed non-letter, and
/// elsewhere only the latter can match.
fn class_at(hay: &str, m: regex::Match<'_>) -> Option<Class> {
    let s = m.start();
    let after_first = s + hay[s..].chars().next().map_or(0, char::len_utf8);
    let starts: &[usize] = if s == 0 {
        &[0, after_first]
    } else {
        &[after_first]
    };
    starts.iter().find_map(|&k| {
        ROLE_AT
            .iter()
            .find(|(_, re)| re.is_match(&hay[k..]))
            .map(|(class, _)| *class)
    })
}

static LABEL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:^|[^\p{L}\p{N}_])(?:",
        r"(?P<pre>pr[ée]-?propositions?|pre-?proposals?|pre-?applications?|outline proposals?|outline applications?)",
        r"|(?P<full>propositions? (?:détaillées?|complètes?)|demandes? complètes?|full[- ]proposals?|full[- ]applications?|invited full[- ]proposals?)",
        r"|(?P<loi>letters? of intent|lettres? d['’ ]intention|LOI)",
        r"|(?P<step>step|étape|stage|phase)\s*(?P<stepn>1|2|3|I{1,3}|one|two)",
        r"|(?P<ord>first|second|1st|2nd)[- ]stage",
        r")(?:[^\p{L}\p{N}_]|$)"
    ))
    .expect("invariant: the label regex is a valid literal")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Publication,
    Other,
    Opening,
    Deadline,
}

fn label_of(c: &regex::Captures<'_>) -> Option<String> {
    if c.name("pre").is_some() {
        return Some("pre-proposal".into());
    }
    if c.name("full").is_some() {
        return Some("full proposal".into());
    }
    if c.name("loi").is_some() {
        return Some("letter of intent".into());
    }
    if let Some(kind) = c.name("step") {
        let n = match c.name("stepn")?.as_str().to_ascii_lowercase().as_str() {
            "1" | "i" | "one" => 1,
            "2" | "ii" | "two" => 2,
            _ => 3,
        };
        let word = match kind.as_str().to_lowercase().as_str() {
            "étape" | "step" => "step",
            "phase" => "phase",
            _ => "stage",
        };
        return Some(format!("{word} {n}"));
    }
    if let Some(o) = c.name("ord") {
        let n = if matches!(o.as_str().to_ascii_lowercase().as_str(), "first" | "1st") {
            1
        } else {
            2
        };
        return Some(format!("stage {n}"));
    }
    None
}

fn has_letters(s: &str) -> bool {
    s.chars().any(char::is_alphabetic)
}

/// Cuts at the last sentence end (`. ` + capital, `!`, `?`, `;`) in `s`,
/// keeping what follows it. `p.m. proposer's` is not a sentence end.
fn after_last_sentence_end(s: &str) -> &str {
    let b = s.as_bytes();
    let mut cut = 0;
    for (i, &c) in b.iter().enumerate() {
        let next_is_upper = || {
            s[i + 1..]
                .trim_start()
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
        };
        let boundary = match c {
            b'!' | b'?' | b';' => true,
            b'.' => b.get(i + 1).is_some_and(u8::is_ascii_whitespace) && next_is_upper(),
            _ => false,
        };
        if boundary {
            cut = i + 1;
        }
    }
    &s[cut..]
}

/// Keeps what comes before the first sentence end.
fn before_first_sentence_end(s: &str) -> &str {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let end = match c {
            b'!' | b'?' | b';' => true,
            b'.' => b.get(i + 1).is_none_or(u8::is_ascii_whitespace),
            _ => false,
        };
        if end {
            return &s[..i];
        }
    }
    s
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

const WINDOW: usize = 200;

/// The clause before a group: its line up to the group; when the group
/// starts its line (a table cell under a header), the previous non-empty
/// line. Never before `floor` (the previous group's end).
fn back_window(text: &str, start: usize, floor: usize) -> &str {
    let lo = floor_char(text, start.saturating_sub(WINDOW)).max(floor);
    let region = &text[lo..start];
    let line_start = region.rfind('\n').map_or(0, |p| p + 1);
    let mut w = &region[line_start..];
    // Nothing but an article or punctuation before the date on its line
    // (`Le jeudi 28 octobre…` under a header line): read the header too.
    if !has_letters(w) || w.trim().len() <= 3 {
        let before = region[..line_start].trim_end();
        let prev_start = before.rfind('\n').map_or(0, |p| p + 1);
        w = &region[prev_start..];
    }
    after_last_sentence_end(w)
}

/// The clause after a group: the rest of its line, and, when that is empty,
/// the next non-empty line (a table cell label under the date) unless that
/// line is cut short by the next date or the window. Never after `ceil`
/// (the next group's start).
fn fwd_window(text: &str, end: usize, ceil: usize) -> (&str, &str) {
    let hi = ceil_char(text, (end + WINDOW).min(text.len())).min(ceil);
    let region = &text[end.min(hi)..hi];
    let line_end = region.find('\n').unwrap_or(region.len());
    let same = &region[..line_end];
    if has_letters(same) {
        return (before_first_sentence_end(same), "");
    }
    let after = region[line_end..].trim_start();
    let next = match after.find('\n') {
        Some(e) => &after[..e],
        None if hi == text.len() => after,
        None => "",
    };
    ("", before_first_sentence_end(next))
}

/// The role and stage label for a group: nearest keyword before it in its
/// clause, else first keyword after it (on its line, or on the next line
/// for the role only: a label on the next line more often heads the next
/// entry, as in ANR's `Opening : …` / `Pre-proposal deadline : …` lines).
fn role_of(back: &str, (same, next): (&str, &str)) -> (Option<Class>, Option<String>) {
    let class = ROLE_RE
        .find_iter(back)
        .last()
        .and_then(|m| class_at(back, m))
        .or_else(|| ROLE_RE.find(same).and_then(|m| class_at(same, m)))
        .or_else(|| ROLE_RE.find(next).and_then(|m| class_at(next, m)));
    let label = LABEL_RE
        .find_iter(back)
        .last()
        .and_then(|m| LABEL_RE.captures_at(back, m.start()))
        .and_then(|c| label_of(&c))
        .or_else(|| LABEL_RE.captures(same).and_then(|c| label_of(&c)));
    (class, label)
}

fn role_for(class: Option<Class>, range: RangePos) -> DateRole {
    match (class, range) {
        (Some(Class::Publication), RangePos::Lone | RangePos::Start) => DateRole::Publication,
        (Some(Class::Publication | Class::Other), RangePos::End) => DateRole::Other,
        (Some(Class::Other), _) => DateRole::Other,
        (Some(Class::Opening), RangePos::Lone) => DateRole::Opening,
        (Some(Class::Deadline) | None, RangePos::Lone) => DateRole::Deadline,
        (_, RangePos::Start) => DateRole::Opening,
        (_, RangePos::End) => DateRole::Deadline,
    }
}

/// Only list punctuation and conjunctions between two dates: one group.
fn is_list_gap(gap: &str) -> bool {
    // Long gaps are prose, never just separators (and keep this linear).
    gap.len() <= 40
        && gap
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '&' | '(' | ')'))
            .all(|w| {
                w.is_empty()
                    || matches!(
                        w.to_lowercase().as_str(),
                        "and" | "et" | "or" | "ou" | "le" | "the"
                    )
            })
}

// ---------------------------------------------------------------------------
// Years and resolution
// ---------------------------------------------------------------------------

/// The year for a month/day stated without one (rule in the module doc).
fn infer_year(month: u32, day: Option<u32>, now: NaiveDate) -> i32 {
    let lo = now.checked_sub_months(Months::new(6)).unwrap_or(now);
    let hi = now.checked_add_months(Months::new(18)).unwrap_or(now);
    let mut best: Option<(i64, i32)> = None;
    for y in (now.year() - 1)..=(now.year() + 1) {
        // Month precision: compare with the middle of the month.
        let Some(d) = NaiveDate::from_ymd_opt(y, month, day.unwrap_or(15)) else {
            continue;
        };
        if d < lo || d >= hi {
            continue;
        }
        let dist = (d - now).num_days().abs();
        // `<=`: on a tie the later year wins.
        if best.is_none_or(|(bd, _)| dist <= bd) {
            best = Some((dist, y));
        }
    }
    best.map_or(now.year(), |(_, y)| y)
}

/// The next `month/day` on or after `from` (NSF "Annually Thereafter").
fn next_occurrence(month: u32, day: u32, from: NaiveDate) -> Option<i32> {
    (from.year()..=from.year() + 8)
        .find(|&y| NaiveDate::from_ymd_opt(y, month, day).is_some_and(|d| d >= from))
}

fn resolve(p: &Point, year: i32, text: &str, ctx: &DateContext) -> Option<DatePoint> {
    let span = text[p.start..p.end].to_owned();
    if let Some((at, tz)) = p.fixed {
        return Some(DatePoint::instant(at, tz, span));
    }
    let tz = p.zone.map_or(ctx.zone, |z| z.tz(ctx));
    let Some(day) = p.day else {
        return DatePoint::month(year, p.month, tz, span);
    };
    let date = NaiveDate::from_ymd_opt(year, p.month, day)?;
    if let Some(tz) = p.date_in {
        return Some(DatePoint::day(date, tz, span));
    }
    match p.clock {
        Some(c) => {
            let local = date.and_time(NaiveTime::from_hms_opt(c.h, c.m, c.s)?);
            let at = p.zone.unwrap_or(ZoneSpec::Local).instant(local, ctx);
            Some(DatePoint::instant(at, tz, span))
        }
        None => Some(DatePoint::day(date, tz, span)),
    }
}

fn extract_clean(
    text: &str,
    ctx: &DateContext,
    elements: &[TimeElement],
    scratch: &mut Scratch,
) -> Vec<FoundDate> {
    let sc = Scan::new_in(text, scratch);
    let (mut items, pendings) = scan_points(&sc);
    sc.reclaim(scratch);
    if !elements.is_empty() {
        items.retain(|it| {
            !elements
                .iter()
                .any(|e| it.point.start < e.end && e.start < it.point.end)
        });
        for e in elements {
            if let Some(p) = time_element_point(text, e) {
                items.push(Item {
                    point: p,
                    range: RangePos::Lone,
                });
            }
        }
        items.sort_by_key(|it| it.point.start);
    }
    if items.is_empty() {
        return Vec::new();
    }
    let now = ctx.now.with_timezone(&ctx.zone).date_naive();

    // Groups: runs of items separated only by list gaps, or range pairs.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for idx in 0..items.len() {
        let joined = idx > 0 && {
            let prev = &items[idx - 1];
            let cur = &items[idx];
            cur.range == RangePos::End
                || (prev.point.end <= cur.point.start
                    && is_list_gap(&text[prev.point.end..cur.point.start]))
        };
        match groups.last_mut() {
            Some(g) if joined => g.1 = idx + 1,
            _ => groups.push((idx, idx + 1)),
        }
    }

    let mut out = Vec::with_capacity(items.len());
    for (gi, &(a, b)) in groups.iter().enumerate() {
        let floor = if gi == 0 {
            0
        } else {
            items[groups[gi - 1].1 - 1].point.end
        };
        let ceil = groups
            .get(gi + 1)
            .map_or(text.len(), |g| items[g.0].point.start);
        let start = items[a].point.start;
        let end = items[b - 1].point.end;
        let (class, label) = role_of(back_window(text, start, floor), fwd_window(text, end, ceil));
        for idx in a..b {
            let it = &items[idx];
            let role = role_for(class, it.range);
            let mut p = it.point.clone();
            // Year: stated; else a later list item's; else from `now`.
            let year = match p.year {
                Some(y) => y,
                None if p.recurring => {
                    let day = p.day.unwrap_or(1);
                    let stated_same = items[a..b].iter().filter_map(|o| {
                        let y = o.point.year?;
                        (o.point.month == p.month && o.point.day == p.day)
                            .then(|| NaiveDate::from_ymd_opt(y, p.month, day))
                            .flatten()
                    });
                    let from = stated_same
                        .filter_map(|d| d.succ_opt())
                        .fold(now, NaiveDate::max);
                    match next_occurrence(p.month, day, from) {
                        Some(y) => y,
                        None => continue,
                    }
                }
                None => match items[idx + 1..b].iter().find_map(|o| o.point.year) {
                    Some(y) => y,
                    None => infer_year(p.month, p.day, now),
                },
            };
            // A time stated once on the line ("due by 5 p.m. …:") applies to
            // the deadlines after it on that line and sentence.
            if role == DateRole::Deadline
                && p.clock.is_none()
                && p.fixed.is_none()
                && p.day.is_some()
                && p.date_in.is_none()
                && let Some(pd) =
                    pendings[..pendings.partition_point(|pd| pd.end <= p.start)].last()
            {
                let between = &text[pd.end..p.start];
                if !between.contains('\n')
                    && after_last_sentence_end(between).len() == between.len()
                {
                    p.clock = Some(pd.clock);
                    if p.zone.is_none() {
                        p.zone = pd.zone;
                    }
                }
            }
            if let Some(mut dp) = resolve(&p, year, text, ctx) {
                if let Some(l) = &label {
                    dp = dp.with_label(l.clone());
                }
                out.push(FoundDate { role, point: dp });
            }
        }
    }
    out
}

/// The point a `<time datetime>` element states: the attribute is the
/// instant; a parenthesised IANA name in the content is the zone.
fn time_element_point(text: &str, e: &TimeElement) -> Option<Point> {
    let inner = &text[e.start..e.end];
    let lead = inner.len() - inner.trim_start().len();
    let trail = inner.len() - inner.trim_end().len();
    let (start, end) = if inner.trim().is_empty() {
        (e.start, e.start)
    } else {
        (e.start + lead, e.end - trail)
    };
    let dt = e.datetime.trim();
    let zone_in_text = inner
        .rfind('(')
        .and_then(|o| inner[o + 1..].find(')').map(|c| &inner[o + 1..o + 1 + c]))
        .and_then(|name| Tz::from_str(name.trim()).ok());
    if let Ok(at) = DateTime::parse_from_rfc3339(dt)
        .or_else(|_| DateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f%z"))
    {
        let utc = at.with_timezone(&Utc);
        let tz = zone_in_text.unwrap_or_else(|| fixed_tz(at.offset().local_minus_utc()));
        let local = utc.with_timezone(&tz);
        let mut p = Point::new(
            start,
            end,
            Some(local.year()),
            local.month(),
            Some(local.day()),
        );
        p.fixed = Some((utc, tz));
        return Some(p);
    }
    let d = NaiveDate::parse_from_str(dt, "%Y-%m-%d").ok()?;
    let mut p = Point::new(start, end, Some(d.year()), d.month(), Some(d.day()));
    p.zone = zone_in_text.map(ZoneSpec::Tz);
    Some(p)
}
