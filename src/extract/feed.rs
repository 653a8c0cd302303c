//! RSS 2.0, Atom and JSON Feed sources (ANR, UKRI, NSF, Erasmus+, agency
//! feeds), read with feed-rs: one draft per entry.
//!
//! Deadlines come from the entry's words (title, description, content)
//! through [`crate::dates::extract`], never from `pubDate`/`published`, which
//! is the publication date (SOURCES-FORMATS.md §3; in
//! ft_portal_derived_calls_rss.xml `pubDate` is even the opening date).
//!
//! Identity: the entry's guid/id, except that feed-rs invents a hash when an
//! entry has none (STYLE.md, feed-rs `rss2/tests.rs`) — we switch that off and
//! use the link instead — and that a guid repeated inside one feed is not an
//! id (the derived F&T feed reuses the parent topic id for cascade calls):
//! such entries are identified by their link too.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::text::{html_to_text_into, one_line};
use super::{
    DateReader, ExtractError, ExtractProblem, Extracted, eu_identifiers, keep_item,
    push_identifiers,
};
use crate::config::Source;
use crate::model::{CallDraft, DateRole};

/// Longest title made up from a description when an entry has none.
const MADE_UP_TITLE_CHARS: usize = 120;

/// Reads a feed document. A document that is not a feed is an error; an
/// entry with neither title nor link is a problem and the others are kept.
pub fn extract(
    bytes: &[u8],
    source: &Source,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    let parser = feed_rs::parser::Builder::new()
        // An empty id means "none given"; we fall back to the link below.
        .id_generator(|_, _, _| String::new())
        // We turn HTML into text ourselves; sanitising first is wasted work.
        .sanitize_content(false)
        // Entry timestamps are never read (`pubDate` is not a deadline: see
        // above), and feed-rs's lenient parser runs regex replacements on
        // each: a quarter of its parse time in benches/extract.rs.
        .timestamp_parser(|_| None)
        .build();
    let feed = parser.parse(bytes).map_err(|e| ExtractError::Feed {
        source_id: source.id.clone(),
        message: e.to_string(),
    })?;

    // Per entry: its guid is its own, its link is shared with another
    // entry. Computed before the loop, which consumes the entries.
    let (unique_guid, shared_link): (Vec<bool>, Vec<bool>) = {
        let mut guid_count: HashMap<&str, usize> = HashMap::new();
        let mut link_count: HashMap<&str, usize> = HashMap::new();
        for e in &feed.entries {
            if !e.id.trim().is_empty() {
                *guid_count.entry(e.id.trim()).or_default() += 1;
            }
            if let Some(l) = entry_link(e) {
                *link_count.entry(l).or_default() += 1;
            }
        }
        feed.entries
            .iter()
            .map(|e| {
                (
                    guid_count.get(e.id.trim()) == Some(&1),
                    entry_url(e).is_some_and(|l| link_count.get(l).is_some_and(|&n| n > 1)),
                )
            })
            .unzip()
    };

    let mut out = Extracted::default();
    out.calls.reserve(feed.entries.len());
    let mut dates = DateReader::new(source, now);
    // The words each entry's dates are read in; one buffer for all entries
    // (a feed's descriptions are a few kilobytes each).
    let mut words = String::new();
    // HTML to text writes here, then the text is copied into the entry's
    // own HTML buffer, just read: both stay in the cache, where a fresh
    // allocation per text made the first writes miss it. Each entry is
    // dropped once read, so its memory serves the next ones.
    let mut scratch = String::new();
    let to_text = |mut html: String, scratch: &mut String| {
        html_to_text_into(&html, scratch);
        html.clear();
        html.push_str(scratch);
        html
    };
    let mut entries = feed.entries.into_iter().enumerate().peekable();
    while let Some((n, mut entry)) = entries.next() {
        // The next entry's description and content are read from memory
        // while this one is extracted: feed-rs wrote them long before (a
        // feed of a few hundred entries leaves the cache), and reading them
        // cold, line after line, was a tenth of feed extraction's time
        // (benches/extract.rs under `perf`; 0.49 to 0.56 of the raw
        // parser's speed with it).
        if let Some((_, next)) = entries.peek() {
            touch(next.summary.as_ref().map(|t| t.content.as_str()));
            touch(next.content.as_ref().and_then(|c| c.body.as_deref()));
        }
        let guid = entry.id.trim();
        // Named only in problems: built when one is reported.
        let label = || {
            if guid.is_empty() {
                format!("item {}", n + 1)
            } else {
                format!("item {} ({guid})", n + 1)
            }
        };
        let link = entry_url(&entry).map(str::to_owned);
        let title = entry
            .title
            .as_ref()
            .map(|t| {
                html_to_text_into(&t.content, &mut scratch);
                one_line(&scratch)
            })
            .unwrap_or_default();
        if title.is_empty() && link.is_none() {
            out.problems.push(ExtractProblem::new(
                label(),
                "entry has neither a title nor a link; skipped",
            ));
            continue;
        }
        let summary_text = entry
            .summary
            .take()
            .map(|t| to_text(t.content, &mut scratch))
            .unwrap_or_default();
        let content_text = entry
            .content
            .take()
            .and_then(|c| c.body)
            .map(|body| to_text(body, &mut scratch))
            .unwrap_or_default();
        // The description, else the content: what the call is said to be.
        let lead = if summary_text.is_empty() {
            &content_text
        } else {
            &summary_text
        };
        let title = if title.is_empty() {
            made_up_title(lead).unwrap_or_else(|| link.clone().unwrap_or_default())
        } else {
            title
        };
        if !keep_item(source, &title, lead) {
            continue;
        }
        let url = match link {
            Some(l) => l,
            None => {
                out.problems.push(ExtractProblem::new(
                    format!("{}: {title}", label()),
                    "entry has no link; kept without a URL",
                ));
                String::new()
            }
        };
        // The words a deadline can be in: title, then the description and
        // the content when they differ.
        words.clear();
        words.push_str(&title);
        for part in [&summary_text, &content_text] {
            if !part.is_empty() && !words.contains(part.as_str()) {
                words.push_str("\n\n");
                words.push_str(part);
            }
        }
        // Summary and text are the description and the content, each
        // standing in for the other when absent (moved, not copied, when
        // both are given).
        let (summary, text) = match (summary_text.is_empty(), content_text.is_empty()) {
            (false, false) => (summary_text, content_text),
            (true, _) => (content_text.clone(), content_text),
            (false, true) => (summary_text.clone(), summary_text),
        };
        let mut draft = CallDraft {
            native_id: if !guid.is_empty() && unique_guid[n] {
                Some(guid.to_owned())
            } else if url.is_empty() {
                None
            } else if shared_link[n] {
                // Same guid and same link for different calls (the derived
                // F&T feed lists two cascade calls of one project page so):
                // only the title tells them apart.
                Some(format!("{url}#{title}"))
            } else {
                Some(url.clone())
            },
            url,
            title,
            summary,
            text,
            tags: entry
                .categories
                .iter()
                .map(|c| c.label.as_deref().unwrap_or(&c.term).trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            ..CallDraft::default()
        };
        for d in dates.read(&words) {
            match d.role {
                DateRole::Deadline => draft.deadlines.push(d.point),
                DateRole::Opening if draft.opening.is_none() => draft.opening = Some(d.point),
                _ => {}
            }
        }
        push_identifiers(&mut draft.identifiers, eu_identifiers(&words));
        out.calls.push(draft);
    }
    Ok(out)
}

/// The call's URL: the entry's link, else its guid when that is a URL (RSS
/// `<guid isPermaLink="true">` is the link when `<link>` is absent).
fn entry_url(entry: &feed_rs::model::Entry) -> Option<&str> {
    entry_link(entry).or_else(|| {
        let guid = entry.id.trim();
        (guid.starts_with("https://") || guid.starts_with("http://")).then_some(guid)
    })
}

/// The entry's page: its `alternate` (or unqualified) link, else its first.
fn entry_link(entry: &feed_rs::model::Entry) -> Option<&str> {
    entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())
        .map(|l| l.href.trim())
        .filter(|h| !h.is_empty())
}

/// A title from the first line of a description, cut at a word boundary.
fn made_up_title(summary: &str) -> Option<String> {
    let line = summary.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() <= MADE_UP_TITLE_CHARS {
        return Some(line.to_owned());
    }
    let cut: String = line.chars().take(MADE_UP_TITLE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(p) if p > MADE_UP_TITLE_CHARS / 2 => &cut[..p],
        _ => &cut,
    };
    Some(format!("{cut}…"))
}

/// Reads one byte of each 64-byte cache line of `text`, so that its lines
/// are fetched together, ahead of their use, rather than one after the
/// other as a scan reaches them: a prefetch, written as loads because
/// fundwatch has no `unsafe` for the intrinsic. `black_box` keeps the
/// loads from being optimised away.
fn touch(text: Option<&str>) {
    if let Some(t) = text {
        let x = t.as_bytes().iter().step_by(64).fold(0u8, |a, &b| a ^ b);
        std::hint::black_box(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;
    use crate::extract::test_support;
    use crate::model::Language;

    fn now() -> DateTime<Utc> {
        "2026-01-15T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn entries_without_guid_use_their_link_and_repeated_guids_are_not_ids() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
          <item><title>A</title><link>https://x.org/a</link></item>
          <item><title>B</title><link>https://x.org/b</link><guid>G-1</guid></item>
          <item><title>C</title><link>https://x.org/c</link><guid>SHARED</guid></item>
          <item><title>D</title><link>https://x.org/d</link><guid>SHARED</guid></item>
          <item><description>no title, no link</description></item>
          <item><title>No link</title><guid isPermaLink="false">nl-1</guid></item>
          <item><description>&lt;p&gt;Only a description here.&lt;/p&gt;</description><link>https://x.org/e</link></item>
        </channel></rss>"#;
        let src = test_support::source(SourceKind::Feed, Language::En);
        let got = extract(xml.as_bytes(), &src, now()).unwrap();
        let ids: Vec<_> = got
            .calls
            .iter()
            .map(|c| (c.title.as_str(), c.native_id.as_deref(), c.url.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("A", Some("https://x.org/a"), "https://x.org/a"),
                ("B", Some("G-1"), "https://x.org/b"),
                ("C", Some("https://x.org/c"), "https://x.org/c"),
                ("D", Some("https://x.org/d"), "https://x.org/d"),
                ("No link", Some("nl-1"), ""),
                (
                    "Only a description here.",
                    Some("https://x.org/e"),
                    "https://x.org/e"
                ),
            ]
        );
        assert_eq!(
            got.problems,
            vec![
                ExtractProblem::new("item 5", "entry has neither a title nor a link; skipped"),
                ExtractProblem::new(
                    "item 6 (nl-1): No link",
                    "entry has no link; kept without a URL"
                ),
            ]
        );
    }

    #[test]
    fn made_up_titles_are_cut_at_a_word() {
        assert_eq!(made_up_title("\n short \nsecond").as_deref(), Some("short"));
        let long = "word ".repeat(40);
        let t = made_up_title(&long).unwrap();
        assert!(
            t.ends_with("word…") && t.chars().count() <= MADE_UP_TITLE_CHARS + 1,
            "{t}"
        );
        assert_eq!(made_up_title("  "), None);
    }
}
