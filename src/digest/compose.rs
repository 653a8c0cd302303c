//! Composes one profile's [`Digest`] for one period from values: the ranked
//! matches, the field history of the window, and what the profile was sent
//! before (its outbox rows). Pure: no clock, no database.
//!
//! Sections (issue 5, "The digest"):
//! - **new**: matched calls never sent to this profile;
//! - **updated**: matched calls sent before whose deadlines, status, budget
//!   or title changed in the window, each change shown "old → new" in the
//!   recipient's language and zone (net change: a deadline moved twice shows
//!   first → last; moved and moved back shows nothing);
//! - **closing soon**: calls sent before whose next deadline falls within
//!   `closing_soon_days` of `now`, each announced once per profile, and not
//!   when the call is already in this digest's other sections.
//!
//! A permanently failed digest (the relay rejected the address) does not
//! count as sent: its calls are offered again.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{ChangeNote, Digest, DigestItem, Period, Reason};
use crate::model::{Budget, Call, DatePoint, Language, Precision, Status};
use crate::settings::Profile;
use crate::store::{Change, OutboxEntry, OutboxStatus};

/// The fields whose changes make a sent call "updated".
pub const NOTABLE_FIELDS: &[&str] = &["deadlines", "status", "budget", "title"];

/// Everything one digest is composed from.
#[derive(Debug, Clone)]
pub struct ComposeInput<'a> {
    /// The recipient.
    pub profile: &'a Profile,
    /// The period.
    pub period: Period,
    /// Matched calls, ranked, with their reasons.
    pub matches: Vec<(Call, Vec<Reason>)>,
    /// Field changes stored since the earliest window of the run (any
    /// call; filtered here).
    pub changes: &'a [Change],
    /// Where this profile's window starts: changes stored before it were
    /// in an earlier digest of this profile (or of no concern to it).
    pub window_start: DateTime<Utc>,
    /// This profile's earlier outbox rows.
    pub history: &'a [OutboxEntry],
    /// Calls that may close soon (any call; only those sent before are kept).
    pub closing_candidates: Vec<Call>,
    /// The closing-soon window, in days.
    pub closing_soon_days: u32,
    /// The zone dates are shown in.
    pub timezone: Tz,
}

/// What a profile already received, from its outbox rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentHistory {
    /// Calls in any section of a digest recorded for delivery.
    pub sent: HashSet<String>,
    /// Calls already announced as closing soon.
    pub announced_closing: HashSet<String>,
}

impl SentHistory {
    /// Reads the history from outbox rows (failed rows do not count).
    pub fn from_rows(rows: &[OutboxEntry]) -> SentHistory {
        let mut h = SentHistory::default();
        for r in rows.iter().filter(|r| r.status != OutboxStatus::Failed) {
            h.sent.extend(r.new_ids.iter().cloned());
            h.sent.extend(r.updated_ids.iter().cloned());
            h.sent.extend(r.closing_ids.iter().cloned());
            h.announced_closing.extend(r.closing_ids.iter().cloned());
        }
        h
    }
}

/// Composes the digest at `now`.
pub fn compose(input: ComposeInput<'_>, now: DateTime<Utc>) -> Digest {
    let lang = input.profile.language;
    let history = SentHistory::from_rows(input.history);
    let mut new = Vec::new();
    let mut updated = Vec::new();
    for (call, reasons) in input.matches {
        let reasons = localise_reasons(reasons, lang);
        if !history.sent.contains(&call.id) {
            new.push(DigestItem {
                call,
                changes: Vec::new(),
                reasons,
            });
            continue;
        }
        // Only this profile's window: the run loads the changes since the
        // earliest window of all profiles, and a change another profile
        // has not seen yet was already in this one's earlier digest (it
        // came back as "updated" a second time with that old note).
        let in_window: Vec<Change> = input
            .changes
            .iter()
            .filter(|c| c.call_id == call.id && c.at >= input.window_start)
            .cloned()
            .collect();
        let notes = change_notes(&call.id, &in_window, lang, input.timezone);
        if !notes.is_empty() {
            updated.push(DigestItem {
                call,
                changes: notes,
                reasons,
            });
        }
    }
    let in_digest: HashSet<&str> = new
        .iter()
        .chain(&updated)
        .map(|i| i.call.id.as_str())
        .collect();
    let horizon = now + Duration::days(i64::from(input.closing_soon_days));
    let mut closing: Vec<(DateTime<Utc>, Call)> = input
        .closing_candidates
        .into_iter()
        .filter(|c| {
            history.sent.contains(&c.id)
                && !history.announced_closing.contains(&c.id)
                && !in_digest.contains(c.id.as_str())
                && matches!(c.status, Status::Open | Status::Forthcoming)
        })
        .filter_map(|c| {
            let next = c.next_deadline(now)?.cutoff();
            (next <= horizon).then_some((next, c))
        })
        .collect();
    closing.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    closing.dedup_by(|a, b| a.1.id == b.1.id);
    Digest {
        profile: input.profile.clone(),
        period: input.period,
        new,
        updated,
        closing_soon: closing
            .into_iter()
            .map(|(_, call)| DigestItem {
                call,
                changes: Vec::new(),
                reasons: Vec::new(),
            })
            .collect(),
    }
}

fn localise_reasons(reasons: Vec<Reason>, lang: Language) -> Vec<Reason> {
    if lang == Language::En {
        return reasons;
    }
    reasons
        .into_iter()
        .map(|r| Reason {
            term: r.term,
            fields: r
                .fields
                .iter()
                .map(|f| {
                    match f.as_str() {
                        "title" => "titre",
                        "summary" => "résumé",
                        "text" => "texte",
                        "funder" => "financeur",
                        "programme" => "programme",
                        "tags" => "mots-clés",
                        other => other,
                    }
                    .to_owned()
                })
                .collect(),
        })
        .collect()
}

fn field_label(field: &str, lang: Language) -> String {
    match (field, lang) {
        ("deadlines", Language::Fr) => "date limite",
        ("deadlines", Language::En) => "deadline",
        ("status", Language::Fr) => "statut",
        ("title", Language::Fr) => "titre",
        (other, _) => other,
    }
    .to_owned()
}

/// Net notable changes of `call_id` in `changes` (oldest first), displayed.
pub fn change_notes(call_id: &str, changes: &[Change], lang: Language, tz: Tz) -> Vec<ChangeNote> {
    let mut out = Vec::new();
    for field in NOTABLE_FIELDS {
        let mut of_field = changes
            .iter()
            .filter(|c| c.call_id == call_id && c.field == *field);
        let Some(first) = of_field.next() else {
            continue;
        };
        let last = of_field.next_back().unwrap_or(first);
        let old = display_value(field, &first.old, lang, tz);
        let new = display_value(field, &last.new, lang, tz);
        if old != new {
            out.push(ChangeNote {
                field: field_label(field, lang),
                old,
                new,
            });
        }
    }
    out
}

fn none(lang: Language) -> String {
    match lang {
        Language::Fr => "aucun".to_owned(),
        Language::En => "none".to_owned(),
    }
}

/// A stored JSON value of a tracked field, as the recipient reads it.
fn display_value(field: &str, v: &serde_json::Value, lang: Language, tz: Tz) -> String {
    if v.is_null() {
        return none(lang);
    }
    match field {
        "deadlines" => match serde_json::from_value::<Vec<DatePoint>>(v.clone()) {
            Ok(ds) if ds.is_empty() => none(lang),
            Ok(ds) => ds
                .iter()
                .map(|d| short_date(d, lang, tz))
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => v.to_string(),
        },
        "status" => match v.as_str().and_then(|s| s.parse::<Status>().ok()) {
            Some(s) => status_name(s, lang).to_owned(),
            None => v.to_string(),
        },
        "budget" => match serde_json::from_value::<Budget>(v.clone()) {
            Ok(b) => budget_text(&b, lang),
            Err(_) => v.to_string(),
        },
        _ => v.as_str().map_or_else(|| v.to_string(), str::to_owned),
    }
}

/// "18/02/2027 17:00" (FR) or "2027-02-18 17:00" (EN), in `tz` for instants.
pub fn short_date(d: &DatePoint, lang: Language, tz: Tz) -> String {
    let (day_fmt, month_fmt) = match lang {
        Language::Fr => ("%d/%m/%Y", "%m/%Y"),
        Language::En => ("%Y-%m-%d", "%Y-%m"),
    };
    match (d.precision, d.at) {
        (Precision::Datetime, Some(at)) => at
            .with_timezone(&tz)
            .format(&format!("{day_fmt} %H:%M %Z"))
            .to_string(),
        (Precision::Month, _) => d.date.format(month_fmt).to_string(),
        _ => d.date.format(day_fmt).to_string(),
    }
}

fn status_name(s: Status, lang: Language) -> &'static str {
    match (s, lang) {
        (Status::Forthcoming, Language::Fr) => "à venir",
        (Status::Open, Language::Fr) => "ouvert",
        (Status::Closed, Language::Fr) => "clôturé",
        (s, Language::En) => s.as_str(),
    }
}

/// Groups thousands: "5 000 000" (FR, narrow no-break space) or "5,000,000".
fn amount(x: f64, lang: Language) -> String {
    let rounded = x.round();
    let digits = format!("{}", rounded.abs() as u64);
    let sep = if lang == Language::Fr {
        '\u{202f}'
    } else {
        ','
    };
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(ch);
    }
    if rounded < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn budget_text(b: &Budget, lang: Language) -> String {
    let cur = &b.currency;
    match (b.total, b.max_per_grant, lang) {
        (Some(t), _, _) => format!("{} {cur}", amount(t, lang)),
        (None, Some(m), Language::Fr) => format!("jusqu'à {} {cur} par projet", amount(m, lang)),
        (None, Some(m), Language::En) => format!("up to {} {cur} per grant", amount(m, lang)),
        (None, None, _) => none(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use chrono::NaiveDate;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-23T06:00:00Z".parse().unwrap()
    }

    fn call(id: &str, deadline_in_days: i64) -> Call {
        Call {
            id: id.into(),
            source_id: "s".into(),
            native_id: None,
            url: format!("https://example.org/{id}"),
            title: format!("Call {id}"),
            summary: String::new(),
            text: String::new(),
            funder: "ANR".into(),
            programme: None,
            level: Level::National,
            language: Language::Fr,
            opening: None,
            deadlines: vec![DatePoint::day(
                (now() + Duration::days(deadline_in_days)).date_naive(),
                chrono_tz::Europe::Paris,
                "",
            )],
            status: Status::Open,
            budget: None,
            tags: vec![],
            identifiers: vec![],
        }
    }

    fn profile(lang: Language) -> Profile {
        Profile {
            id: "p".into(),
            name: "P".into(),
            email: "p@univ.example".into(),
            language: lang,
            query: "x".into(),
            levels: vec![],
            funders: vec![],
            programmes: vec![],
            min_days_before_deadline: 0,
            active: true,
        }
    }

    fn row(status: OutboxStatus, new: &[&str], closing: &[&str]) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            profile_id: "p".into(),
            period: "2026-W47".into(),
            recipient: "p@univ.example".into(),
            status,
            subject: String::new(),
            new_ids: new.iter().map(|s| s.to_string()).collect(),
            updated_ids: vec![],
            closing_ids: closing.iter().map(|s| s.to_string()).collect(),
            window_start: now() - Duration::days(14),
            created_at: now() - Duration::days(7),
            attempts: 1,
            last_attempt: None,
            last_error: None,
            sent_at: None,
        }
    }

    fn change(call: &str, field: &str, old: serde_json::Value, new: serde_json::Value) -> Change {
        Change {
            id: 1,
            call_id: call.into(),
            at: now() - Duration::days(1),
            field: field.into(),
            old,
            new,
            run_id: None,
        }
    }

    fn day(d: &str) -> serde_json::Value {
        let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        serde_json::to_value(vec![DatePoint::day(d, chrono_tz::Europe::Paris, "")]).unwrap()
    }

    fn ids(items: &[DigestItem]) -> Vec<&str> {
        items.iter().map(|i| i.call.id.as_str()).collect()
    }

    #[test]
    fn sections_from_matches_history_and_changes() {
        let p = profile(Language::Fr);
        let history = vec![
            row(
                OutboxStatus::Sent,
                &["sent-moved", "sent-same", "sent-closing", "sent-far"],
                &[],
            ),
            row(OutboxStatus::Sent, &["announced"], &["announced"]),
            row(OutboxStatus::Failed, &["bounced"], &[]),
        ];
        let changes = vec![
            change(
                "sent-moved",
                "deadlines",
                day("2027-02-18"),
                day("2027-03-04"),
            ),
            change("sent-moved", "text", json!("a"), json!("b")),
            change("sent-same", "text", json!("a"), json!("b")),
            // Moved and moved back: no net change.
            change(
                "sent-closing",
                "deadlines",
                day("2026-12-01"),
                day("2026-12-02"),
            ),
            change(
                "sent-closing",
                "deadlines",
                day("2026-12-02"),
                day("2026-12-01"),
            ),
        ];
        let d = compose(
            ComposeInput {
                profile: &p,
                period: Period::parse("2026-W48").unwrap(),
                matches: vec![
                    (
                        call("fresh", 60),
                        vec![Reason {
                            term: "sol".into(),
                            fields: vec!["title".into()],
                        }],
                    ),
                    (call("sent-moved", 100), vec![]),
                    (call("sent-same", 60), vec![]),
                    (call("bounced", 60), vec![]),
                ],
                changes: &changes,
                window_start: now() - Duration::days(7),
                history: &history,
                closing_candidates: vec![
                    call("sent-closing", 5),
                    call("announced", 3),
                    call("sent-far", 40),
                    call("never-sent", 2),
                    call("sent-moved", 4),
                ],
                closing_soon_days: 14,
                timezone: chrono_tz::Europe::Paris,
            },
            now(),
        );
        assert_eq!(ids(&d.new), ["fresh", "bounced"]);
        assert_eq!(d.new[0].reasons[0].fields, ["titre"]);
        assert_eq!(ids(&d.updated), ["sent-moved"]);
        assert_eq!(
            d.updated[0].changes,
            [ChangeNote {
                field: "date limite".into(),
                old: "18/02/2027".into(),
                new: "04/03/2027".into()
            }]
        );
        // Announced once, never-sent calls excluded, calls already in the digest not repeated.
        assert_eq!(ids(&d.closing_soon), ["sent-closing"]);
    }

    /// A change stored before this profile's window was in its earlier
    /// digest: the run loads changes from the earliest window of all
    /// profiles, and such a change came back as "updated" a second time.
    #[test]
    fn a_change_before_the_profiles_window_is_not_announced_again() {
        let p = profile(Language::En);
        let history = vec![row(OutboxStatus::Sent, &["x"], &[])];
        let mut moved = change("x", "deadlines", day("2027-02-18"), day("2027-03-04"));
        // Two weeks ago, before this profile's last digest a week ago
        // (another profile's window reaches further back).
        moved.at = now() - Duration::days(14);
        let text = change("x", "text", json!("a"), json!("b"));
        let changes = vec![moved, text];
        let d = compose(
            ComposeInput {
                profile: &p,
                period: Period::parse("2026-W48").unwrap(),
                matches: vec![(call("x", 100), vec![])],
                changes: &changes,
                window_start: now() - Duration::days(7),
                history: &history,
                closing_candidates: vec![],
                closing_soon_days: 14,
                timezone: chrono_tz::Europe::Paris,
            },
            now(),
        );
        assert_eq!(ids(&d.updated), Vec::<&str>::new(), "{:?}", d.updated);
    }

    #[test]
    fn change_values_read_naturally_in_both_languages() {
        let paris = chrono_tz::Europe::Paris;
        let budget = |t: f64| json!({"total": t, "currency": "EUR"});
        let at = serde_json::to_value(vec![DatePoint::instant(
            "2027-01-28T16:00:00Z".parse().unwrap(),
            paris,
            "",
        )])
        .unwrap();
        // (field, old, new, lang, expected note)
        let table = [
            (
                "status",
                json!("forthcoming"),
                json!("open"),
                Language::Fr,
                ("statut", "à venir", "ouvert"),
            ),
            (
                "status",
                json!("forthcoming"),
                json!("open"),
                Language::En,
                ("status", "forthcoming", "open"),
            ),
            (
                "budget",
                budget(5e6),
                budget(6.5e6),
                Language::En,
                ("budget", "5,000,000 EUR", "6,500,000 EUR"),
            ),
            (
                "budget",
                serde_json::Value::Null,
                budget(1e6),
                Language::Fr,
                ("budget", "aucun", "1\u{202f}000\u{202f}000 EUR"),
            ),
            (
                "deadlines",
                day("2027-01-10"),
                at.clone(),
                Language::En,
                ("deadline", "2027-01-10", "2027-01-28 17:00 CET"),
            ),
            (
                "title",
                json!("Old"),
                json!("New"),
                Language::Fr,
                ("titre", "Old", "New"),
            ),
        ];
        for (field, old, new, lang, (f, o, n)) in table {
            let notes = change_notes("c", &[change("c", field, old, new)], lang, paris);
            assert_eq!(
                notes,
                [ChangeNote {
                    field: f.into(),
                    old: o.into(),
                    new: n.into()
                }],
                "{field} {lang}"
            );
        }
    }
}
