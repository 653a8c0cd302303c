//! Turning fetched bytes into text: choosing the character encoding.
//!
//! French funders still serve windows-1252 / ISO-8859-1 pages, often with a
//! wrong or missing label, and a wrong guess turns "Date limite de dépôt"
//! into "Date limite de dÃ©pÃ´t" and breaks date extraction downstream. The
//! order follows the WHATWG Encoding Standard's "decode" algorithm and the
//! HTML "determining the character encoding" steps, simplified:
//!
//! 1. a byte order mark (WHATWG lets the BOM override even the transport
//!    label: a BOM is unambiguous, a header is often a server default);
//! 2. the `charset` parameter of `Content-Type`;
//! 3. a prescan of the first 1024 bytes for `<meta charset>`,
//!    `<meta http-equiv="Content-Type" content="...; charset=...">` or an
//!    XML declaration `<?xml ... encoding="..."?>` (for feeds);
//! 4. statistical detection with `chardetng` (what Firefox uses).
//!
//! Labels go through [`Encoding::for_label`], so `iso-8859-1` and `latin1`
//! mean windows-1252 as browsers do: byte 0x92 is "’", not a C1 control.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};

/// How many leading bytes the `<meta>` / XML-declaration prescan looks at
/// (HTML Standard §13.2.3.2: "the first 1024 bytes").
const PRESCAN_BYTES: usize = 1024;

/// Decodes `bytes` to text, choosing the encoding from the BOM, the
/// `Content-Type` header value, a `<meta>` / `<?xml?>` prescan, then
/// detection (see the module docs). Returns the text and the encoding used.
/// Malformed sequences become U+FFFD rather than failing.
pub fn decode_html(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    let encoding = sniff(bytes, content_type);
    let (text, _had_errors) = encoding.decode_with_bom_removal(bytes);
    (text.into_owned(), encoding)
}

/// A feed's bytes as its XML parser should read them. feed-rs reads the
/// BOM and the XML declaration's `encoding`, and takes anything else for
/// UTF-8; a feed with neither whose `Content-Type` names another charset
/// (`application/rss+xml; charset=ISO-8859-1`, RFC 7303 §3.2: the header
/// is authoritative) is transcoded to UTF-8 here, or its `dépôt` became
/// U+FFFD or a parse error. A declared encoding is left to the parser:
/// servers often send a default `charset` header for feeds that declare
/// their own encoding, and the declaration is the one that is right.
pub fn feed_bytes<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    if Encoding::for_bom(bytes).is_some() || declares_encoding(bytes) {
        return Cow::Borrowed(bytes);
    }
    match content_type.and_then(charset_param).and_then(label) {
        Some(encoding) if encoding != UTF_8 => {
            let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
            Cow::Owned(text.into_owned().into_bytes())
        }
        _ => Cow::Borrowed(bytes),
    }
}

/// Whether `bytes` open with an XML declaration that has an `encoding`.
fn declares_encoding(bytes: &[u8]) -> bool {
    let head = bytes[..bytes.len().min(PRESCAN_BYTES)].to_ascii_lowercase();
    xml_declaration(&head).is_some_and(|decl| attr_value(decl, b"encoding").is_some())
}

/// The XML declaration `head` opens with (after whitespace), up to its
/// `?>` or the end of `head`.
fn xml_declaration(head: &[u8]) -> Option<&[u8]> {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let decl = &head[start..];
    decl.starts_with(b"<?xml")
        .then(|| &decl[..find(decl, b"?>").unwrap_or(decl.len())])
}

/// The encoding [`decode_html`] would use.
pub fn sniff(bytes: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((encoding, _bom_len)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    if let Some(encoding) = content_type.and_then(charset_param).and_then(label) {
        return encoding;
    }
    if let Some(encoding) = prescan(&bytes[..bytes.len().min(PRESCAN_BYTES)]) {
        return encoding;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Allow)
}

/// The `charset` parameter of a media type (`text/html; charset="utf-8"`).
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

/// An encoding label, per the WHATWG label table.
fn label(name: &str) -> Option<&'static Encoding> {
    Encoding::for_label(name.trim().as_bytes())
}

/// Looks for an encoding declared in the document itself. Simplified from
/// the HTML prescan: any `<meta ...>` tag whose text contains
/// `charset=<label>` counts (covering both the `charset` attribute and the
/// `http-equiv` form, whose `content` carries `charset=`), as does the
/// `encoding` pseudo-attribute of a leading XML declaration.
fn prescan(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    if let Some(found) = xml_declaration(&lower)
        .and_then(|decl| attr_value(decl, b"encoding"))
        .and_then(meta_label)
    {
        return Some(found);
    }
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let tag_start = from + pos;
        let tag_end = find(&lower[tag_start..], b">").map_or(lower.len(), |e| tag_start + e);
        if let Some(found) = attr_value(&lower[tag_start..tag_end], b"charset").and_then(meta_label)
        {
            return Some(found);
        }
        from = tag_end;
    }
    None
}

/// HTML §13.2.3.2: a document cannot really declare itself UTF-16 (it would
/// not have been readable as ASCII to find the tag) and `x-user-defined`
/// means windows-1252.
fn meta_label(value: &[u8]) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label(value)?;
    Some(if encoding == UTF_16BE || encoding == UTF_16LE {
        UTF_8
    } else if encoding == X_USER_DEFINED {
        WINDOWS_1252
    } else {
        encoding
    })
}

/// The value after `name` `=` (optionally quoted) inside a lowercased tag.
fn attr_value<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(pos) = find(&tag[from..], name) {
        let mut i = from + pos + name.len();
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if tag.get(i) != Some(&b'=') {
            from = from + pos + name.len();
            continue;
        }
        i += 1;
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = tag.get(i).copied().filter(|&q| q == b'"' || q == b'\'');
        if quote.is_some() {
            i += 1;
        }
        let value_start = i;
        while i < tag.len() {
            let b = tag[i];
            let stop = match quote {
                Some(q) => b == q,
                None => false,
            } || b.is_ascii_whitespace()
                || b == b';'
                || b == b'"'
                || b == b'\''
                || b == b'/'
                || b == b'>'
                || b == b'?';
            if stop {
                break;
            }
            i += 1;
        }
        return (i > value_start).then(|| &tag[value_start..i]);
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    // "Date limite de dépôt : 31/01/2026 – l’appel" in windows-1252:
    // é = 0xE9, ô = 0xF4, – = 0x96, ’ = 0x92 (the bytes of Région AURA and
    // Campus France pages, SOURCES-FORMATS.md §3).
    const CP1252_TEXT: &[u8] = b"Date limite de d\xe9p\xf4t : 31/01/2026 \x96 l\x92appel";
    const EXPECTED: &str = "Date limite de dépôt : 31/01/2026 – l’appel";

    fn page(head: &str, body: &[u8]) -> Vec<u8> {
        let mut v =
            format!("<!DOCTYPE html><html><head>{head}<title>Aides</title></head><body><p>")
                .into_bytes();
        v.extend_from_slice(body);
        v.extend_from_slice(b"</p></body></html>");
        v
    }

    #[test]
    fn encoding_is_chosen_by_bom_then_header_then_meta_then_detection() {
        let utf8 = page("", EXPECTED.as_bytes());
        let mut bom_utf8 = b"\xef\xbb\xbf".to_vec();
        bom_utf8.extend_from_slice(&utf8);
        let table: [(&str, Vec<u8>, Option<&str>, &'static Encoding); 12] = [
            (
                "header label",
                page("", CP1252_TEXT),
                Some("text/html; charset=windows-1252"),
                WINDOWS_1252,
            ),
            (
                "iso-8859-1 label means windows-1252",
                page("", CP1252_TEXT),
                Some("text/html; charset=ISO-8859-1"),
                WINDOWS_1252,
            ),
            (
                "quoted header label",
                page("", CP1252_TEXT),
                Some("text/html;charset=\"latin1\""),
                WINDOWS_1252,
            ),
            (
                "meta charset",
                page("<meta charset=\"iso-8859-1\">", CP1252_TEXT),
                Some("text/html"),
                WINDOWS_1252,
            ),
            (
                "meta http-equiv",
                page(
                    "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=windows-1252\">",
                    CP1252_TEXT,
                ),
                None,
                WINDOWS_1252,
            ),
            (
                "header beats meta",
                page("<meta charset=\"utf-8\">", CP1252_TEXT),
                Some("text/html; charset=windows-1252"),
                WINDOWS_1252,
            ),
            (
                "BOM beats header",
                bom_utf8.clone(),
                Some("text/html; charset=windows-1252"),
                UTF_8,
            ),
            (
                "unknown header label falls through to meta",
                page("<meta charset=iso-8859-15>", b"x"),
                Some("text/html; charset=bogus"),
                encoding_rs::ISO_8859_15,
            ),
            (
                "meta utf-16 means utf-8",
                page("<meta charset=\"utf-16\">", EXPECTED.as_bytes()),
                None,
                UTF_8,
            ),
            (
                "detected windows-1252",
                page("", CP1252_TEXT),
                None,
                WINDOWS_1252,
            ),
            ("detected utf-8", utf8, Some("text/html"), UTF_8),
            (
                "xml declaration",
                [
                    b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><title>".as_slice(),
                    CP1252_TEXT,
                    b"</title></rss>",
                ]
                .concat(),
                Some("application/rss+xml"),
                WINDOWS_1252,
            ),
        ];
        for (name, bytes, ct, want) in table {
            assert_eq!(sniff(&bytes, ct).name(), want.name(), "{name}");
        }
    }

    #[test]
    fn windows_1252_french_text_decodes_right_with_and_without_labels() {
        for (bytes, ct) in [
            (
                page("", CP1252_TEXT),
                Some("text/html; charset=windows-1252"),
            ),
            (
                page("<meta charset=\"windows-1252\">", CP1252_TEXT),
                Some("text/html"),
            ),
            (page("", CP1252_TEXT), None),
        ] {
            let (text, _) = decode_html(&bytes, ct);
            assert!(text.contains(EXPECTED), "{ct:?}: {text}");
        }
    }

    /// A feed without BOM or declared encoding, in the charset its header
    /// names, reaches the parser as UTF-8; feed-rs took it for UTF-8.
    #[test]
    fn a_feed_in_the_charset_of_its_header_reaches_the_parser_as_utf8() {
        let latin1 = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>d\xe9p\xf4t</title></item></channel></rss>";
        let declared = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><item><title>d\xe9p\xf4t</title></item></channel></rss>";
        let utf8 = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>dépôt</title></item></channel></rss>";
        let table: &[(&[u8], Option<&str>, &[u8])] = &[
            // The header's charset, nothing declared: transcoded.
            (
                latin1,
                Some("application/rss+xml; charset=ISO-8859-1"),
                utf8.as_bytes(),
            ),
            // Declared in the document: left to the parser, whatever the header.
            (declared, Some("text/xml; charset=utf-8"), declared),
            (declared, None, declared),
            // UTF-8 or no charset at all: unchanged.
            (
                utf8.as_bytes(),
                Some("application/rss+xml"),
                utf8.as_bytes(),
            ),
            (latin1, Some("application/rss+xml; charset=utf-8"), latin1),
        ];
        for (i, (bytes, ct, want)) in table.iter().enumerate() {
            let got = feed_bytes(bytes, *ct);
            assert_eq!(
                &got[..],
                *want,
                "row {i}: {}",
                String::from_utf8_lossy(&got)
            );
        }
        let feed = feed_rs::parser::parse(
            &feed_bytes(latin1, Some("application/rss+xml; charset=ISO-8859-1"))[..],
        )
        .unwrap();
        assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "dépôt");
    }

    #[test]
    fn the_bom_is_removed_from_the_text() {
        let (text, enc) = decode_html(b"\xef\xbb\xbfd\xc3\xa9p\xc3\xb4t", None);
        assert_eq!((text.as_str(), enc), ("dépôt", UTF_8));
    }

    #[test]
    fn meta_after_the_first_1024_bytes_is_not_seen() {
        let filler = "<!-- ".to_owned() + &"x".repeat(1100) + " -->";
        let bytes = page(&(filler + "<meta charset=\"koi8-r\">"), b"plain ascii");
        assert_ne!(sniff(&bytes, None).name(), "KOI8-R");
    }

    #[test]
    fn charset_param_parsing() {
        let table = [
            ("text/html; charset=UTF-8", Some("UTF-8")),
            ("text/html;charset='latin1'", Some("latin1")),
            (
                "text/html; foo=bar; Charset = \"windows-1252\"",
                Some("windows-1252"),
            ),
            ("text/html", None),
            ("charset=utf-8", None), // that's the media type, not a parameter
        ];
        for (ct, want) in table {
            assert_eq!(charset_param(ct), want, "{ct}");
        }
    }
}
