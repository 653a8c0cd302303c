//! Rendering calls and search hits for other tools: iCalendar (RFC 5545)
//! deadlines for the officer's calendar, CSV for spreadsheets, JSON for
//! scripts. Pure: values and `now` in, text out.
//!
//! ## iCalendar choices
//! - One `VEVENT` per deadline; a call without deadlines yields no event.
//! - `UID` is `{call_id}-{n}@fundwatch`, `n` the 1-based position of the
//!   deadline in the call's (cut-off sorted) list: re-importing an updated
//!   export updates the events instead of duplicating them (RFC 5545
//!   §3.8.4.7). Stages keep their order when a date moves, so `n` is stable.
//! - A deadline known to the minute is a `DATE-TIME` in UTC (`…Z`, §3.3.5
//!   form 2), with no `DTEND`: an instant.
//! - A day is an all-day event: `DTSTART;VALUE=DATE` and `DTEND` the next
//!   day (§3.6.1).
//! - A month ("fin mars 2022") becomes an all-day event on the month's
//!   **last** day, the latest it can mean (as [`DatePoint::cutoff`]), with
//!   "(end of month)" in the summary so nobody mistakes it for a known day.
//! - `DTSTAMP` is `now`; `TRANSP:TRANSPARENT` so deadlines do not show as busy.
//! - TEXT values escape `\` `;` `,` and newlines (§3.3.11); lines are folded
//!   at 75 octets without splitting a UTF-8 character (§3.1).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::index::Hit;
use crate::model::{Call, DatePoint, Precision};

/// The calendar of every deadline of `calls`.
pub fn to_ics(calls: &[Call], now: DateTime<Utc>) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        format!(
            "PRODID:-//fundwatch//fundwatch {}//EN",
            env!("CARGO_PKG_VERSION")
        ),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
    ];
    let stamp = ics_instant(now);
    for call in calls {
        for (i, deadline) in call.deadlines.iter().enumerate() {
            lines.push("BEGIN:VEVENT".into());
            lines.push(format!(
                "UID:{}-{}@fundwatch",
                ics_uid_part(&call.id),
                i + 1
            ));
            lines.push(format!("DTSTAMP:{stamp}"));
            match (deadline.precision, deadline.at) {
                (Precision::Datetime, Some(at)) => {
                    lines.push(format!("DTSTART:{}", ics_instant(at)));
                }
                _ => {
                    let day = all_day(deadline);
                    let next = day + Duration::days(1);
                    lines.push(format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d")));
                    lines.push(format!("DTEND;VALUE=DATE:{}", next.format("%Y%m%d")));
                }
            }
            lines.push(format!("SUMMARY:{}", escape_text(&summary(call, deadline))));
            lines.push(format!(
                "DESCRIPTION:{}",
                escape_text(&description(call, deadline))
            ));
            if !call.url.is_empty() {
                lines.push(format!("URL:{}", strip_newlines(&call.url)));
            }
            lines.push("TRANSP:TRANSPARENT".into());
            lines.push("END:VEVENT".into());
        }
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in lines {
        out.push_str(&fold(&line));
        out.push_str("\r\n");
    }
    out
}

/// The day an all-day event sits on: the date, or a month's last day.
fn all_day(d: &DatePoint) -> NaiveDate {
    match d.precision {
        Precision::Month => {
            let (y, m) = if d.date.month() == 12 {
                (d.date.year() + 1, 1)
            } else {
                (d.date.year(), d.date.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|n| n.pred_opt())
                .unwrap_or(d.date)
        }
        _ => d.date,
    }
}

fn summary(call: &Call, d: &DatePoint) -> String {
    let mut s = format!("Deadline: {}", call.title.trim());
    if let Some(label) = &d.label {
        s.push_str(" — ");
        s.push_str(label.trim());
    }
    if d.precision == Precision::Month {
        s.push_str(" (end of month)");
    }
    s
}

fn description(call: &Call, d: &DatePoint) -> String {
    let mut lines = vec![format!("Funder: {}", call.funder)];
    if let Some(p) = &call.programme {
        lines.push(format!("Programme: {p}"));
    }
    if let Some(label) = &d.label {
        lines.push(format!("Stage: {label}"));
    }
    let when = match d.at {
        Some(at) => format!(
            "{} ({})",
            at.with_timezone(&d.tz()).format("%Y-%m-%d %H:%M %Z"),
            d.zone
        ),
        None => format!("{} ({})", d.date_string(), d.zone),
    };
    lines.push(format!("Deadline: {when}"));
    if !d.text.trim().is_empty() {
        lines.push(format!("As stated: {}", d.text.trim()));
    }
    if !call.url.is_empty() {
        lines.push(call.url.clone());
    }
    lines.join("\n")
}

fn ics_instant(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// UIDs are free text but must stay on one line and unambiguous.
fn ics_uid_part(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_whitespace() || c == ';' || c == ',' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn strip_newlines(s: &str) -> String {
    s.replace(['\r', '\n'], "")
}

/// RFC 5545 §3.3.11 TEXT escaping.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// RFC 5545 §3.1 folding: no line longer than 75 octets (excluding CRLF);
/// continuation lines start with one space, which counts toward their 75.
/// A fold never touches whitespace (at the end of a line or the start of a
/// continuation): the RFC says to remove exactly one space when unfolding,
/// but lax readers (the `ical` crate, some desktop clients) trim lines and
/// would glue words together.
fn fold(line: &str) -> String {
    const MAX: usize = 75;
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + line.len() / MAX * 3);
    let mut start = 0;
    while start < chars.len() {
        let budget = if start == 0 { MAX } else { MAX - 1 };
        let mut end = start;
        let mut width = 0;
        while end < chars.len() && width + chars[end].len_utf8() <= budget {
            width += chars[end].len_utf8();
            end += 1;
        }
        while end < chars.len()
            && end > start + 1
            && (chars[end].is_whitespace() || chars[end - 1].is_whitespace())
        {
            end -= 1;
        }
        if start > 0 {
            out.push_str("\r\n ");
        }
        out.extend(&chars[start..end]);
        start = end;
    }
    out
}

/// CSV of hits (one row per call), with a header row. Deadlines are joined
/// as `date [label]` separated by `; `.
pub fn to_csv(hits: &[Hit]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "title",
        "url",
        "funder",
        "level",
        "status",
        "programme",
        "next_deadline",
        "deadlines",
        "score",
        "snippet",
    ];
    w.write_record(header)
        .expect("invariant: writing CSV to memory cannot fail");
    for h in hits {
        let deadlines = h
            .deadlines
            .iter()
            .map(deadline_cell)
            .collect::<Vec<_>>()
            .join("; ");
        let record = [
            h.id.clone(),
            h.title.clone(),
            h.url.clone(),
            h.funder.clone(),
            h.level.to_string(),
            h.status.to_string(),
            h.programme.clone().unwrap_or_default(),
            h.next_deadline
                .as_ref()
                .map(deadline_cell)
                .unwrap_or_default(),
            deadlines,
            format!("{:.3}", h.score),
            h.snippet.text.clone(),
        ];
        w.write_record(&record)
            .expect("invariant: writing CSV to memory cannot fail");
    }
    let bytes = w
        .into_inner()
        .expect("invariant: flushing CSV to memory cannot fail");
    String::from_utf8(bytes).expect("invariant: CSV of UTF-8 strings is UTF-8")
}

fn deadline_cell(d: &DatePoint) -> String {
    let when = match d.at {
        Some(at) => at.to_rfc3339(),
        None => d.date_string(),
    };
    match &d.label {
        Some(l) => format!("{when} [{l}]"),
        None => when,
    }
}

fn deadline_json(d: &DatePoint) -> Value {
    json!({
        "at": d.at.map(|t| t.to_rfc3339()),
        "date": d.date_string(),
        "precision": d.precision.as_str(),
        "zone": d.zone,
        "label": d.label,
    })
}

/// The JSON object of one hit: `{id, title, url, funder, level, status,
/// programme, score, next_deadline, deadlines: [{at, date, precision, zone,
/// label}], snippet: {text, marked, highlights}}`.
pub fn hit_json(h: &Hit) -> Value {
    json!({
        "id": h.id,
        "title": h.title,
        "url": h.url,
        "funder": h.funder,
        "level": h.level.as_str(),
        "status": h.status.as_str(),
        "programme": h.programme,
        "score": h.score,
        "next_deadline": h.next_deadline.as_ref().map(deadline_json),
        "deadlines": h.deadlines.iter().map(deadline_json).collect::<Vec<_>>(),
        "snippet": {
            "text": h.snippet.text,
            "marked": h.snippet.to_marked_string(),
            "highlights": h.snippet.highlights.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>(),
        },
    })
}

/// A JSON array of [`hit_json`] objects, pretty-printed.
pub fn to_json(hits: &[Hit]) -> String {
    let array = Value::Array(hits.iter().map(hit_json).collect());
    serde_json::to_string_pretty(&array).expect("invariant: a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escaping_follows_rfc5545() {
        let cases = [
            ("a,b", "a\\,b"),
            ("a;b", "a\\;b"),
            ("a\\b", "a\\\\b"),
            ("a\nb", "a\\nb"),
            ("a\r\nb", "a\\nb"),
            ("plain", "plain"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let line = format!("SUMMARY:{}", "é".repeat(100));
        let folded = fold(&line);
        for part in folded.split("\r\n") {
            assert!(part.len() <= 75, "{} octets: {part}", part.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), line);
        assert_eq!(fold("SHORT:x"), "SHORT:x");
        let spaced = format!("SUMMARY:{} word", "x".repeat(66));
        let folded = fold(&spaced);
        assert!(!folded.contains("\r\n  "), "{folded:?}");
        assert!(!folded.contains(" \r\n"), "{folded:?}");
        assert_eq!(folded.replace("\r\n ", ""), spaced);
    }

    #[test]
    fn a_month_sits_on_its_last_day() {
        let d = DatePoint::month(2024, 2, chrono_tz::Europe::Paris, "fin février").unwrap();
        assert_eq!(all_day(&d), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        let d = DatePoint::month(2024, 12, chrono_tz::Europe::Paris, "").unwrap();
        assert_eq!(all_day(&d), NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    }
}
