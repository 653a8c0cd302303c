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
//! [`TextBuilder`] is driven by a tree walk in [`super::html`], so both paths
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

/// A tag name of up to 16 bytes packed into an integer, so that [`role`]
/// compares integers instead of calling memcmp per candidate (it runs for
/// every tag of every page, benches/extract.rs).
const fn pack(name: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < name.len() {
        v |= (name[i].to_ascii_lowercase() as u128) << (8 * i);
        i += 1;
    }
    v
}

macro_rules! one_of {
    ($key:expr; $($name:literal),+ $(,)?) => {
        $( $key == const { pack($name.as_bytes()) } )||+
    };
}

/// How `name` (any case) lays out.
pub(crate) fn role(name: &str) -> Role {
    if name.len() > 16 {
        return Role::Inline;
    }
    let k = pack(name.as_bytes());
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

/// Accumulates text and layout events into clean text.
#[derive(Debug, Default)]
pub(crate) struct TextBuilder {
    out: String,
    gap: Option<Gap>,
    scratch: String,
}

impl TextBuilder {
    pub(crate) fn new() -> Self {
        TextBuilder::default()
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
    pub(crate) fn text(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let (space, len) = if b < 0x80 {
                (b.is_ascii_whitespace(), 1)
            } else {
                let c = s[i..].chars().next().unwrap_or(' ');
                // U+00A0 (&nbsp;) is everywhere in SEDIA descriptions and the
                // derived F&T feed; it is layout, not content.
                (
                    c.is_whitespace() || c == '\u{a0}' || c == '\u{200b}',
                    c.len_utf8(),
                )
            };
            // A single ASCII space between two words is already clean:
            // keep it inside the run instead of flushing word by word.
            if b == b' '
                && i > run
                && bytes
                    .get(i + 1)
                    .is_some_and(|n| *n < 0x80 && !n.is_ascii_whitespace())
            {
                i += 1;
                continue;
            }
            if space {
                self.push_run(&s[run..i]);
                self.want(Gap::Space);
                run = i + len;
            }
            i += len;
        }
        self.push_run(&s[run..]);
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

    /// Raw HTML text: entities are decoded first (into a reused buffer).
    pub(crate) fn raw_text(&mut self, s: &str) {
        if s.contains('&') {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            html_escape::decode_html_entities_to_string(s, &mut scratch);
            self.text(&scratch);
            self.scratch = scratch;
        } else {
            self.text(s);
        }
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
    let bytes = html.as_bytes();
    let mut b = TextBuilder::new();
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

/// Clean text on one line: every break becomes a space (titles, labels).
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Next `needle` at or after byte `from` (a char boundary: every caller
/// passes a position next to an ASCII byte). `str::find` with a char is
/// vectorised (memchr); a byte-slice `position` is not.
pub(crate) fn find_from(s: &str, needle: char, from: usize) -> Option<usize> {
    s.get(from..)?.find(needle).map(|p| p + from)
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

    #[test]
    fn one_line_joins_breaks() {
        assert_eq!(
            one_line(" Postdoctoral\n Researcher  "),
            "Postdoctoral Researcher"
        );
    }
}
