//! HTML to clean text, for summaries, full texts and the date extractor.
//!
//! Block elements become line breaks (paragraph-like ones a blank line),
//! runs of whitespace (no-break spaces included) collapse to one space,
//! entities are decoded, `script`/`style`/`template`/`noscript`/`title`
//! content is dropped.
//!
//! [`html_to_text`] is a single-pass scanner rather than an html5ever parse:
//! feed descriptions and SEDIA `descriptionByte` fragments are small, numerous
//! and often broken, a scanner is several times faster than building a tree
//! (benches/extract.rs), and it cannot be slowed by deep nesting. The same
//! `TextBuilder` is driven by a tree walk in [`super::html`], so both paths
//! lay text out identically.

/// Pending separator between two runs of text, strongest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Line,
    Paragraph,
}

/// What an element does to the text layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Inline: no break.
    Inline,
    /// Cell: a space between neighbours.
    Cell,
    /// One line break before and after.
    Line,
    /// A blank line before and after.
    Paragraph,
    /// Content is not text (`script`, `style`...).
    Skip,
}

/// Tag names are compared as packed integers ([`crate::packed`]): [`role`]
/// runs for every tag of every page (benches/extract.rs).
macro_rules! one_of {
    ($key:expr; $($name:literal),+ $(,)?) => {
        $( $key == const { crate::packed::pack_lower($name.as_bytes()) } )||+
    };
}

/// How `name` (any case) lays out.
pub(crate) fn role(name: &str) -> Role {
    // Most tags of descriptions have one or two letters (`p`, `li`, `ul`,
    // `a`, `br`, `td`): a match on them skips the packing and the fifty
    // comparisons below (benches/extract.rs).
    match *name.as_bytes() {
        [a] => {
            return if a.eq_ignore_ascii_case(&b'p') {
                Role::Paragraph
            } else {
                Role::Inline
            };
        }
        [a, b] => {
            return match [a.to_ascii_lowercase(), b.to_ascii_lowercase()] {
                [b'h', b'1'..=b'6'] | [b'u' | b'o' | b'd', b'l'] | [b'h', b'r'] => Role::Paragraph,
                [b'b' | b't', b'r'] | [b'l', b'i'] | [b'd', b't' | b'd'] => Role::Line,
                [b't', b'd' | b'h'] => Role::Cell,
                _ => Role::Inline,
            };
        }
        _ => {}
    }
    role_packed(name)
}

/// [`role`] by comparing packed names; any length.
fn role_packed(name: &str) -> Role {
    if name.len() > crate::packed::PACKED_MAX {
        return Role::Inline;
    }
    let k = crate::packed::pack_lower_at(name.as_bytes(), 0, name.len());
    if one_of!(k; "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table",
        "blockquote", "pre", "hr", "section", "article", "header", "footer", "main", "aside",
        "nav", "figure", "address", "details", "form", "fieldset")
    {
        Role::Paragraph
    } else if one_of!(k; "br", "div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary",
        "option", "legend", "body", "html")
    {
        Role::Line
    } else if one_of!(k; "td", "th") {
        Role::Cell
    } else if one_of!(k; "script", "style", "template", "noscript", "title", "head", "svg",
        "iframe", "object", "select")
    {
        Role::Skip
    } else {
        Role::Inline
    }
}

/// ASCII bytes that are neither whitespace nor non-ASCII: the bytes
/// [`TextBuilder::text`] copies without a second look.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x80 {
        t[b] = !(b as u8).is_ascii_whitespace();
        b += 1;
    }
    t
};

/// The first byte at or after `i` that [`TextBuilder::text`] must look at
/// (or the end): not [`PLAIN`], except a single space between two plain
/// bytes after `i`, which `text` would keep in its run anyway.
///
/// Eight bytes at a time: a few words of prose are one step instead of a
/// byte loop whose exit branch mispredicts at every word's end (this loop
/// reads every byte of every description, benches/extract.rs). A step
/// stops at any byte below `!` or above `~`, a superset of the non-plain
/// bytes, unless it is such a space (judged inside the eight bytes only);
/// the byte loop after it settles the rare plain control character.
fn skip_plain(bytes: &[u8], mut i: usize) -> usize {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte `v` below 0x80, `v + 0x5F` reaches 0x80 exactly when
    // `v > 0x20`, and never carries into the next byte.
    const TO_BANG: u64 = 0x5F5F_5F5F_5F5F_5F5F;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    // Bytes 1 to 6: a space there has its neighbours in the same eight.
    const INNER: u64 = 0x0080_8080_8080_8000;
    while let Some(eight) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(eight);
        let x = u64::from_le_bytes(word);
        let stop = (x | !((x & LOW7) + TO_BANG)) & HIGH;
        // Spaces: bytes equal to 0x20 (`y` is 0 there; `y + 0x7F` sets the
        // top bit of every other byte without carrying).
        let y = x ^ SPACES;
        let space = !(((y & LOW7) + LOW7) | y) & HIGH;
        // A space whose next byte is plain. Its previous byte is plain too
        // when the step gets that far: a stop before it ends the step
        // there (a space before it is not passed over, its next byte being
        // this space).
        let inner = space & !(stop >> 8) & INNER;
        let stop = stop & !inner;
        if stop != 0 {
            i += (stop.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while i < bytes.len() && PLAIN[usize::from(bytes[i])] {
        i += 1;
    }
    i
}

/// A character [`TextBuilder::text`] lays out as a space. U+00A0 (&nbsp;) is
/// everywhere in SEDIA descriptions and the derived F&T feed; it is layout,
/// not content.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{a0}' || c == '\u{200b}'
}

/// Accumulates text and layout events into clean text.
#[derive(Debug, Default)]
pub(crate) struct TextBuilder {
    out: String,
    gap: Option<Gap>,
}

impl TextBuilder {
    /// A builder that writes into `out`, emptied first: a buffer reused
    /// from one text to the next (see [`html_to_text_into`]).
    pub(crate) fn with_buffer(mut out: String) -> Self {
        out.clear();
        TextBuilder { out, gap: None }
    }

    fn want(&mut self, gap: Gap) {
        let current = self.gap.unwrap_or(Gap::None);
        if gap > current {
            self.gap = Some(gap);
        }
    }

    /// An element boundary of `role` (opening or closing).
    pub(crate) fn boundary(&mut self, role: Role) {
        match role {
            Role::Inline | Role::Skip => {}
            Role::Cell => self.want(Gap::Space),
            Role::Line => self.want(Gap::Line),
            Role::Paragraph => self.want(Gap::Paragraph),
        }
    }

    /// Decoded text (entities already resolved). Runs of non-space
    /// characters are copied as slices; only the separators are decided
    /// character by character.
    ///
    /// The inner loop skips plain ASCII bytes through a lookup table: most
    /// of a description is such bytes, and this loop runs over every byte
    /// of every page (it was the largest cost of HTML to text,
    /// benches/extract.rs).
    pub(crate) fn text(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            i = skip_plain(bytes, i);
            let Some(&b) = bytes.get(i) else { break };
            let (space, len) = if b == b' ' {
                // A single ASCII space between two words is already clean:
                // keep it inside the run instead of flushing word by word.
                if i > run && bytes.get(i + 1).is_some_and(|n| PLAIN[usize::from(*n)]) {
                    i += 1;
                    continue;
                }
                (true, 1)
            } else if b < 0x80 {
                // The other ASCII whitespace (PLAIN excludes nothing else).
                (true, 1)
            } else if b == 0xC3 {
                // U+00C0..U+00FF (accented Latin letters): never a space.
                (false, 2)
            } else {
                let c = s[i..].chars().next().unwrap_or(' ');
                (is_space(c), c.len_utf8())
            };
            if space {
                self.push_run(&s[run..i]);
                self.want(Gap::Space);
                run = i + len;
            }
            i += len;
        }
        self.push_run(&s[run..]);
    }

    /// A decoded entity: [`Self::text`], taking the usual case (`&eacute;`,
    /// `&rsquo;`: one character that is no space) without its scan (three
    /// entities per paragraph of French descriptions, benches/extract.rs).
    fn entity(&mut self, s: &str) {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !is_space(c) => self.push_run(s),
            _ => self.text(s),
        }
    }

    fn push_run(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        if let Some(gap) = self.gap.take()
            && !self.out.is_empty()
        {
            match gap {
                Gap::None => {}
                Gap::Space => self.out.push(' '),
                Gap::Line => self.out.push('\n'),
                Gap::Paragraph => self.out.push_str("\n\n"),
            }
        }
        self.out.push_str(run);
    }

    /// Raw HTML text: entities are decoded one by one and the text between
    /// them is laid out in place (no copy). Runs of text may be handed to
    /// [`Self::text`] in pieces: it lays out the same either way. The
    /// segment-by-segment way of the reference `html_to_text` of the tests;
    /// [`html_to_text`] does the same in its single search.
    #[cfg(test)]
    pub(crate) fn raw_text(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut literal = 0;
        let mut from = 0;
        while let Some(amp) = find_from(s, '&', from) {
            // An entity runs from `&` to the first `;`; a `&` before it
            // starts the next candidate (html_escape's rule).
            let Some(end) = bytes[amp + 1..]
                .iter()
                .position(|b| *b == b';' || *b == b'&')
                .map(|p| amp + 1 + p)
            else {
                break;
            };
            if bytes[end] == b'&' {
                from = end;
                continue;
            }
            from = end + 1;
            let piece = &s[amp..=end];
            if let Some(decoded) = decode_entity(piece) {
                self.text(&s[literal..amp]);
                self.text(&decoded);
                literal = end + 1;
            }
        }
        self.text(&s[literal..]);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Clean text of an HTML fragment or document: block elements become line
/// breaks (paragraphs a blank line), whitespace collapses, entities are
/// decoded, script/style content is dropped. Text without tags passes
/// through with its whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    html_to_text_into(html, &mut out);
    out
}

/// [`html_to_text`] into `out`, in place of what it held: a reader of many
/// fragments (a feed's entries) writes each into one buffer that stays in
/// the cache, instead of into a fresh allocation whose first writes miss it
/// (a fifth of feed extraction's time, benches/extract.rs under `perf`).
pub fn html_to_text_into(html: &str, out: &mut String) {
    let bytes = html.as_bytes();
    let mut b = TextBuilder::with_buffer(std::mem::take(out));
    // The text is rarely longer than its markup: one allocation instead of
    // a doubling series of copies.
    b.out.reserve(html.len());
    // Text from `literal` on is not laid out yet; the search for the next
    // `<` or `&` resumes at `i`. One search finds both, so that a run of
    // text without entities costs one pass, not a search for `<` and then
    // one for `&` (benches/extract.rs).
    let mut literal = 0;
    let mut i = 0;
    while let Some(p) = next_markup(bytes, i) {
        if bytes[p] == b'&' {
            // An entity runs from `&` to the first `;` before the next `<`;
            // a `&` before it starts the next candidate (html_escape's rule).
            match memchr::memchr3(b';', b'&', b'<', &bytes[p + 1..]).map(|q| q + p + 1) {
                Some(end) if bytes[end] == b';' => {
                    if let Some(decoded) = decode_entity_in(html, p, end) {
                        b.text(&html[literal..p]);
                        b.entity(&decoded);
                        literal = end + 1;
                    }
                    i = end + 1;
                }
                // The next `&` or `<`: looked at in the next turn.
                Some(next) => i = next,
                None => break,
            }
            continue;
        }
        b.text(&html[literal..p]);
        match scan_markup(html, p) {
            Markup::Text => {
                b.text("<");
                i = p + 1;
            }
            Markup::Ignored { end } => i = end,
            Markup::Tag { name, closing, end } => {
                let name = &html[name.0..name.1];
                let r = role(name);
                if r == Role::Skip && !closing {
                    i = skip_element(html, end, name);
                } else {
                    b.boundary(r);
                    i = end;
                }
            }
        }
        literal = i;
    }
    b.text(&html[literal..]);
    *out = b.finish();
}

/// The next `<` or `&` at or after `i`. Tags often follow each other
/// (`</li><li>`): the byte at `i` is looked at before the SIMD search,
/// whose set-up costs more than that (benches/extract.rs).
fn next_markup(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'<' | b'&' => Some(i),
        _ => memchr::memchr2(b'<', b'&', &bytes[i + 1..]).map(|p| p + i + 1),
    }
}

/// Clean text on one line: every break becomes a space (titles, labels).
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in words(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The words of `s`, exactly as `s.split_whitespace()` gives them, found
/// byte by byte: the standard iterator decodes every character to test it,
/// and the words of every title, tag and lead sentence go through here
/// (benches/extract.rs). Only a non-ASCII byte is decoded.
pub(crate) fn words(s: &str) -> Words<'_> {
    Words { s, at: 0 }
}

/// The iterator of [`words`].
pub(crate) struct Words<'a> {
    s: &'a str,
    at: usize,
}

/// `char::is_whitespace` of the ASCII bytes: tab, line feed, vertical tab,
/// form feed, carriage return, space.
static ASCII_WS: [bool; 128] = {
    let mut t = [false; 128];
    t[0x09] = true;
    t[0x0A] = true;
    t[0x0B] = true;
    t[0x0C] = true;
    t[0x0D] = true;
    t[0x20] = true;
    t
};

impl Words<'_> {
    /// Whether the character at byte `i` is whitespace, and its length.
    fn space_at(&self, i: usize) -> (bool, usize) {
        let b = self.s.as_bytes()[i];
        if b < 0x80 {
            return (ASCII_WS[usize::from(b)], 1);
        }
        let c = self.s[i..].chars().next().unwrap_or('x');
        (c.is_whitespace(), c.len_utf8())
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let len = self.s.len();
        let start = loop {
            if self.at >= len {
                return None;
            }
            let (space, n) = self.space_at(self.at);
            if !space {
                break self.at;
            }
            self.at += n;
        };
        while self.at < len {
            let (space, n) = self.space_at(self.at);
            if space {
                let word = &self.s[start..self.at];
                self.at += n;
                return Some(word);
            }
            self.at += n;
        }
        Some(&self.s[start..])
    }
}

/// Named entities of French and English pages, answered without
/// html_escape's binary search over its 2,000 names (that search was about
/// half of HTML to text on accented feeds, benches/extract.rs). Each value
/// is html_escape's own (tested).
const COMMON_ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("eacute", "é"),
    ("egrave", "è"),
    ("ecirc", "ê"),
    ("euml", "ë"),
    ("agrave", "à"),
    ("acirc", "â"),
    ("ccedil", "ç"),
    ("icirc", "î"),
    ("iuml", "ï"),
    ("ocirc", "ô"),
    ("ugrave", "ù"),
    ("ucirc", "û"),
    ("Eacute", "É"),
    ("Agrave", "À"),
    ("oelig", "œ"),
    ("rsquo", "\u{2019}"),
    ("lsquo", "\u{2018}"),
    ("rdquo", "\u{201d}"),
    ("ldquo", "\u{201c}"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("deg", "°"),
    ("euro", "€"),
    ("hellip", "…"),
    ("ndash", "–"),
    ("mdash", "—"),
    ("middot", "·"),
    ("bull", "•"),
    ("shy", "\u{ad}"),
];

/// [`COMMON_ENTITIES`]' names packed: integer comparisons instead of a
/// string comparison per candidate name.
static COMMON_KEYS: [u128; COMMON_ENTITIES.len()] = {
    let mut keys = [0u128; COMMON_ENTITIES.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = crate::packed::pack(COMMON_ENTITIES[i].0.as_bytes());
        i += 1;
    }
    keys
};

/// [`decode_entity_in`] of a whole piece `&…;`.
#[cfg(test)]
fn decode_entity(piece: &str) -> Option<std::borrow::Cow<'static, str>> {
    decode_entity_in(piece, 0, piece.len().saturating_sub(1))
}

/// The value of the candidate entity `html[amp..=semi]` (a single `&`, at
/// `amp`, and a single `;`, at `semi`), or `None` when html_escape would
/// leave it as it is. Common names are looked up by their packing, read in
/// place ([`crate::packed::pack_at`]); uncommon names and numeric references
/// go to html_escape.
fn decode_entity_in(html: &str, amp: usize, semi: usize) -> Option<std::borrow::Cow<'static, str>> {
    let piece = html.get(amp..=semi)?;
    let name = html.get(amp + 1..semi)?;
    if name.len() <= crate::packed::PACKED_MAX {
        let key = crate::packed::pack_at(html.as_bytes(), amp + 1, semi);
        if let Some(at) = COMMON_KEYS.iter().position(|k| *k == key)
            && let Some((n, v)) = COMMON_ENTITIES.get(at)
            && n.len() == name.len()
        {
            return Some(std::borrow::Cow::Borrowed(v));
        }
    }
    match html_escape::decode_html_entities(piece) {
        std::borrow::Cow::Owned(v) => Some(std::borrow::Cow::Owned(v)),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// Next `needle` at or after byte `from` (a char boundary: every caller
/// passes a position next to an ASCII byte). An ASCII needle goes to the
/// `memchr` crate's SIMD search, which is several times faster than
/// `str::find`'s word-at-a-time one on the long text runs of descriptions
/// (benches/extract.rs); a byte-slice `position` is slower still.
pub(crate) fn find_from(s: &str, needle: char, from: usize) -> Option<usize> {
    let rest = s.get(from..)?;
    if needle.is_ascii() {
        // An ASCII byte is never inside a multi-byte character, so the
        // position is a char boundary, as `str::find` would give.
        memchr::memchr(needle as u8, rest.as_bytes()).map(|p| p + from)
    } else {
        rest.find(needle).map(|p| p + from)
    }
}

/// What starts at a `<`.
pub(crate) enum Markup {
    /// A literal `<` (as in "a < b").
    Text,
    /// A comment, doctype or processing instruction, ending before `end`.
    Ignored { end: usize },
    /// A start or end tag; `name` is a byte range; the tag ends before `end`.
    Tag {
        name: (usize, usize),
        closing: bool,
        end: usize,
    },
}

/// Reads the markup starting at `bytes[lt] == b'<'`.
pub(crate) fn scan_markup(html: &str, lt: usize) -> Markup {
    let bytes = html.as_bytes();
    let rest = &bytes[lt..];
    if rest.starts_with(b"<!--") {
        let end = html
            .get(lt + 4..)
            .and_then(|r| r.find("-->"))
            .map_or(bytes.len(), |p| lt + 4 + p + 3);
        return Markup::Ignored { end };
    }
    if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
        let end = find_from(html, '>', lt).map_or(bytes.len(), |p| p + 1);
        return Markup::Ignored { end };
    }
    let (closing, start) = if rest.get(1) == Some(&b'/') {
        (true, lt + 2)
    } else {
        (false, lt + 1)
    };
    if !bytes.get(start).is_some_and(u8::is_ascii_alphabetic) {
        return Markup::Text;
    }
    let mut j = start;
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-' || bytes[j] == b':')
    {
        j += 1;
    }
    let name = (start, j);
    // The tag ends at the first `>` outside a quoted attribute value.
    let mut quote: Option<u8> = None;
    let mut k = j;
    while k < bytes.len() {
        let c = bytes[k];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            // Only a quote right after `=` opens a value; a stray quote
            // elsewhere (`<a b"c>`) must not swallow the rest of the page.
            None if (c == b'"' || c == b'\'')
                && bytes[..k].iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'=') =>
            {
                quote = Some(c);
            }
            None if c == b'>' => {
                return Markup::Tag {
                    name,
                    closing,
                    end: k + 1,
                };
            }
            None => {}
        }
        k += 1;
    }
    Markup::Tag {
        name,
        closing,
        end: bytes.len(),
    }
}

/// Position after the end tag `</name ...>` that closes a raw-text element
/// opened before `from` (or the end of input).
pub(crate) fn skip_element(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(lt) = find_from(html, '<', i) {
        if bytes.get(lt + 1) == Some(&b'/') {
            let n = name.len();
            if bytes.len() >= lt + 2 + n
                && bytes[lt + 2..lt + 2 + n].eq_ignore_ascii_case(name.as_bytes())
            {
                return find_from(html, '>', lt).map_or(bytes.len(), |p| p + 1);
            }
        }
        i = lt + 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_clean_text() {
        let table: &[(&str, &str, &str)] = &[
            ("plain text", "  a   b\n c ", "a b c"),
            ("paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"),
            ("br and div", "a<br>b<div>c</div>d", "a\nb\nc\nd"),
            (
                "list items on lines",
                "<ul><li>x</li><li>y</li></ul>after",
                "x\ny\n\nafter",
            ),
            (
                "inline stays inline",
                "a <b>bold</b> <i>it</i>alic",
                "a bold italic",
            ),
            (
                "entities decoded",
                "d&eacute;p&ocirc;t &amp; co&nbsp;: 17h00&#8217;s",
                "dépôt & co : 17h00’s",
            ),
            (
                "script and style dropped",
                "<style>p{}</style>a<script>if (a<b) x()</script>b<SCRIPT>y</SCRIPT>c",
                "abc",
            ),
            ("comments dropped", "a<!-- <p>x</p> -->b", "ab"),
            ("literal less-than", "a < b and 3<4", "a < b and 3<4"),
            (
                "quoted > in attribute",
                "<a title=\"x > y\" href='z'>link</a>",
                "link",
            ),
            (
                "SEDIA description head",
                "<p class=\"topicdescriptionkind\">Expected Outcome:</p><p>Proposals are expected</p>",
                "Expected Outcome:\n\nProposals are expected",
            ),
            (
                "table cells",
                "<table><tr><td>a</td><td>b</td></tr></table>",
                "a b",
            ),
            ("unterminated tag", "text <p class=\"x", "text"),
            (
                "stray quote in a tag",
                "<a b\"c>link</a> and <p>more</p>",
                "link and\n\nmore",
            ),
        ];
        for (name, html, want) in table {
            assert_eq!(html_to_text(html), *want, "{name}");
        }
    }

    /// The byte-at-a-time `TextBuilder::text` this module had before the
    /// table-driven one; kept as the reference the fast one must match.
    fn reference_text(b: &mut TextBuilder, s: &str) {
        let bytes = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let (space, len) = if c < 0x80 {
                (c.is_ascii_whitespace(), 1)
            } else {
                let ch = s[i..].chars().next().unwrap_or(' ');
                (
                    ch.is_whitespace() || ch == '\u{a0}' || ch == '\u{200b}',
                    ch.len_utf8(),
                )
            };
            if c == b' '
                && i > run
                && bytes
                    .get(i + 1)
                    .is_some_and(|n| *n < 0x80 && !n.is_ascii_whitespace())
            {
                i += 1;
                continue;
            }
            if space {
                b.push_run(&s[run..i]);
                b.want(Gap::Space);
                run = i + len;
            }
            i += len;
        }
        b.push_run(&s[run..]);
    }

    use crate::test_support::{XorShift, fixture_texts};

    #[test]
    fn short_tag_names_have_the_role_of_the_packed_lists() {
        let mut names: Vec<Vec<u8>> = (0..=255u8).map(|a| vec![a]).collect();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                names.push(vec![a, b]);
            }
        }
        for n in names {
            // The packed form cannot tell a NUL from the end of the name;
            // no tag name has one (`scan_markup` takes [A-Za-z0-9:-],
            // html5ever turns NUL into U+FFFD).
            let Ok(name) = std::str::from_utf8(&n) else {
                continue;
            };
            if n.contains(&0) {
                continue;
            }
            assert_eq!(role(name), role_packed(name), "{name:?}");
        }
    }

    #[test]
    fn words_are_split_whitespace_words() {
        // Every character `char::is_whitespace` accepts, and neighbours
        // that it does not (U+200B, U+180E, U+001C).
        let pieces = [
            "\t", "\n", "\u{b}", "\u{c}", "\r", " ", "\u{85}", "\u{a0}", "\u{1680}", "\u{2000}",
            "\u{200a}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}", "\u{200b}",
            "\u{180e}", "\u{1c}", "a", "é", "€", "word", "😀", "x y",
        ];
        let mut texts: Vec<String> = fixture_texts().into_iter().map(|(_, t)| t).collect();
        let mut rng = XorShift(0x5EED_0003);
        for _ in 0..5_000 {
            let len = rng.next() % 30;
            texts.push((0..len).map(|_| rng.pick(&pieces)).collect());
        }
        for t in &texts {
            let want: Vec<&str> = t.split_whitespace().collect();
            let got: Vec<&str> = words(t).collect();
            assert_eq!(got, want, "{t:?}");
        }
    }

    /// The html_to_text before the one-pass search (`<` then `&` segment by
    /// segment), kept as the reference of the test below.
    fn html_to_text_reference(html: &str) -> String {
        let bytes = html.as_bytes();
        let mut b = TextBuilder::default();
        // The text is rarely longer than its markup: one allocation instead of
        // a doubling series of copies.
        b.out.reserve(html.len());
        let mut i = 0;
        while i < bytes.len() {
            let Some(lt) = find_from(html, '<', i) else {
                b.raw_text(&html[i..]);
                break;
            };
            if lt > i {
                b.raw_text(&html[i..lt]);
            }
            match scan_markup(html, lt) {
                Markup::Text => {
                    b.text("<");
                    i = lt + 1;
                }
                Markup::Ignored { end } => i = end,
                Markup::Tag { name, closing, end } => {
                    let name = &html[name.0..name.1];
                    let r = role(name);
                    if r == Role::Skip && !closing {
                        i = skip_element(html, end, name);
                        continue;
                    }
                    b.boundary(r);
                    i = end;
                }
            }
        }
        b.finish()
    }

    /// The one-pass `html_to_text` gives what the segment-by-segment one
    /// gave, on every fixture and on random mixtures of markup, entities and
    /// text.
    #[test]
    fn one_pass_html_matches_the_segment_reference() {
        let parts = [
            "a",
            " b",
            "<p>",
            "</p>",
            "<br/>",
            "<",
            ">",
            "&",
            ";",
            "&amp;",
            "&eacute;",
            "&nbsp;",
            "&#8217;",
            "&bogus;",
            "<!-- c -->",
            "<script>x<y</script>",
            "<a href=\"&\">",
            "&lt;p&gt;",
            "é",
            "\n",
            " < ",
            "&&",
            "<div>",
            "</style>",
            "<!x>",
            "<? y ?>",
            " ",
            "  ",
            "c ",
            " &eacute; ",
            "AT&T",
            "\t",
            "&#x41;",
            "\u{a0}",
            "12345678",
        ];
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        let mut cases: Vec<String> = fixture_texts().into_iter().map(|(_, t)| t).collect();
        for _ in 0..20_000 {
            let n = rng.next() % 30;
            cases.push((0..n).map(|_| rng.pick(&parts)).collect());
        }
        // One buffer through every case, as a feed's entries share one:
        // nothing of a text may reach the next.
        let mut reused = String::from("left over");
        for html in &cases {
            let want = html_to_text_reference(html);
            assert_eq!(html_to_text(html), want, "{html:?}");
            html_to_text_into(html, &mut reused);
            assert_eq!(reused, want, "{html:?}");
        }
    }

    /// Random mixtures of words, spaces of every kind and control bytes, so
    /// that every byte position of the eight-byte steps meets each case.
    #[test]
    fn fast_text_matches_the_reference_on_random_text() {
        let parts = [
            "a", "bc", "déf", " ", "  ", "\t", "\n", "\r", "\u{a0}", "\u{200b}", "\u{2003}",
            "\u{b}", "\u{1}", "é", "’", "«", "x y", "12", ".", "-", "\u{85}", "\u{3000}",
        ];
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for _ in 0..20_000 {
            let n = rng.next() % 40;
            let text: String = (0..n).map(|_| rng.pick(&parts)).collect();
            let mut fast = TextBuilder::default();
            let mut slow = TextBuilder::default();
            fast.text(&text);
            reference_text(&mut slow, &text);
            assert_eq!(fast.finish(), slow.finish(), "{text:?}");
        }
    }

    #[test]
    fn fast_text_matches_the_reference_on_fixtures() {
        let odd = [
            " a  b\t\tc \n d\u{a0}e\u{200b}f\u{2003}g \u{85}h é ü\u{3000}x  ",
            "\u{a0} lead",
            "trail \u{a0}",
            " ",
            "\u{c0}\u{ff} \u{c9}t\u{e9}",
        ];
        let mut cases: Vec<(String, String)> = odd
            .iter()
            .map(|s| ("odd".to_owned(), (*s).to_owned()))
            .collect();
        cases.extend(fixture_texts());
        for (name, text) in &cases {
            // Whole files, then line by line and split at every `<` with a
            // boundary between pieces, as html_to_text drives the builder.
            let mut fast = TextBuilder::default();
            let mut slow = TextBuilder::default();
            fast.text(text);
            reference_text(&mut slow, text);
            for (n, piece) in text.split(['\n', '<']).enumerate() {
                let role = [Role::Inline, Role::Line, Role::Paragraph, Role::Cell][n % 4];
                fast.boundary(role);
                slow.boundary(role);
                fast.text(piece);
                reference_text(&mut slow, piece);
            }
            assert_eq!(fast.finish(), slow.finish(), "{name}");
        }
    }

    #[test]
    fn common_entities_are_html_escape_s() {
        for (name, value) in COMMON_ENTITIES {
            let piece = format!("&{name};");
            assert_eq!(html_escape::decode_html_entities(&piece), *value, "{piece}");
        }
    }

    /// `raw_text` (entity by entity, in place) lays out as decoding the
    /// whole segment with html_escape first, as this module did before.
    #[test]
    fn raw_text_matches_whole_segment_decoding() {
        let odd = [
            "&amp;&lt;&gt;",
            "& co ; &eacute;t&eacute;",
            "&&eacute;",
            "&#;",
            "&#x;",
            "&#8217;s",
            "&#x2019;",
            "&#X2019;",
            "&unknown; x",
            "&eacute sans",
            "a&nbsp;b",
            "&NBSP;",
            "&#0;",
            "&#10;x",
            "&#9;&#32;y",
            "&",
            "x&",
            "&;",
            "&a&b;",
            "&#-1;",
            "&#x110000;",
            "d&eacute;p&ocirc;t &amp; co&nbsp;: 17h00&#8217;s",
            "&zwnj;&ZeroWidthSpace;a",
            "&#160;&#xA0; b &thinsp;c",
        ];
        let mut cases: Vec<(String, String)> = odd
            .iter()
            .map(|s| ("odd".to_owned(), (*s).to_owned()))
            .collect();
        cases.extend(fixture_texts());
        for (name, text) in &cases {
            let mut fast = TextBuilder::default();
            let mut slow = TextBuilder::default();
            for (n, piece) in std::iter::once(text.as_str())
                .chain(text.split('<'))
                .enumerate()
            {
                let role = [Role::Inline, Role::Line, Role::Paragraph, Role::Cell][n % 4];
                fast.boundary(role);
                slow.boundary(role);
                fast.raw_text(piece);
                reference_text(&mut slow, &html_escape::decode_html_entities(piece));
            }
            assert_eq!(fast.finish(), slow.finish(), "{name}");
        }
    }

    #[test]
    fn one_line_joins_breaks() {
        assert_eq!(
            one_line(" Postdoctoral\n Researcher  "),
            "Postdoctoral Researcher"
        );
    }
}
