//! The officer's report: source health and the period's activity, sent to
//! `mail.officer` only (never to academics, DESIGN.md "Source health").
//!
//! It lists sources failing now (since when, last error), sources that
//! suddenly yield zero items where they used to yield some (the usual sign
//! of a changed page layout breaking the selectors), sources that recovered
//! during the period, how many calls were added and changed, and the digests
//! sent, pending and permanently rejected. Composing and rendering are pure;
//! the job in [`super::send`] gathers the values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::Period;
use crate::store::{OutboxEntry, OutboxStatus, SourceState, StoredRun};

/// A source failing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingSource {
    /// Source id.
    pub id: String,
    /// Start of the failure streak.
    pub since: Option<DateTime<Utc>>,
    /// Failed runs in a row.
    pub failures: u32,
    /// The last error.
    pub last_error: String,
}

/// A source whose last successful run yielded nothing after yielding items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZeroYield {
    /// Source id.
    pub id: String,
    /// Items of the last run that yielded some.
    pub previously: u64,
    /// When that run was.
    pub previously_at: DateTime<Utc>,
    /// First run of the current zero streak.
    pub zero_since: DateTime<Utc>,
}

/// A source that failed (or yielded zero) during the period and works again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveredSource {
    /// Source id.
    pub id: String,
    /// What it recovered from.
    pub from: String,
}

/// A digest that did not reach its recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndeliveredDigest {
    /// Profile id.
    pub profile_id: String,
    /// Period.
    pub period: String,
    /// `failed` (rejected for good) or `pending` (retrying).
    pub status: String,
    /// The relay's answer.
    pub error: String,
}

/// The report's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The period it is sent in.
    pub period: Period,
    /// Start of the window it covers (the previous report).
    pub since: DateTime<Utc>,
    /// Sources failing now.
    pub failing: Vec<FailingSource>,
    /// Sources yielding zero items after yielding some.
    pub zero_yield: Vec<ZeroYield>,
    /// Sources back to normal.
    pub recovered: Vec<RecoveredSource>,
    /// Calls first seen in the window.
    pub calls_added: u64,
    /// Calls changed in the window (not counting the added ones).
    pub calls_changed: u64,
    /// Digests delivered in the window.
    pub digests_sent: u64,
    /// Digests rejected or still pending.
    pub undelivered: Vec<UndeliveredDigest>,
    /// Profiles whose query does not parse, with why: their digest is not
    /// composed until it is fixed, and the daemon's log is the only other
    /// place that says so.
    pub broken_profiles: Vec<(String, String)>,
}

/// Everything the report is composed from.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// Current source states.
    pub states: &'a [SourceState],
    /// Recent runs of every source, any order.
    pub runs: &'a [StoredRun],
    /// Outbox rows recorded or attempted in the window.
    pub outbox: &'a [OutboxEntry],
    /// Calls first seen in the window.
    pub calls_added: u64,
    /// Calls changed in the window (added ones included; subtracted here).
    pub calls_changed: u64,
    /// Start of the window.
    pub since: DateTime<Utc>,
    /// The period.
    pub period: Period,
    /// Profiles whose query does not parse: (profile id, why).
    pub broken_profiles: Vec<(String, String)>,
}

/// Composes the report.
pub fn compose_report(input: ReportInput<'_>) -> Report {
    let failing = input
        .states
        .iter()
        .filter(|s| s.consecutive_failures > 0)
        .map(|s| FailingSource {
            id: s.id.clone(),
            since: s.failing_since,
            failures: s.consecutive_failures,
            last_error: s.last_error.clone().unwrap_or_default(),
        })
        .collect();

    // Successful runs that re-read the source, per source, newest first.
    let mut by_source: BTreeMap<&str, Vec<&StoredRun>> = BTreeMap::new();
    for r in input.runs {
        if r.run.ok && r.run.fetched.is_some() {
            by_source
                .entry(r.run.source_id.as_str())
                .or_default()
                .push(r);
        }
    }
    let mut zero_yield = Vec::new();
    let mut recovered = Vec::new();
    for (id, runs) in &mut by_source {
        runs.sort_by(|a, b| {
            b.run
                .started_at
                .cmp(&a.run.started_at)
                .then(b.id.cmp(&a.id))
        });
        let zeros = runs.iter().take_while(|r| r.run.fetched == Some(0)).count();
        if zeros > 0 {
            if let Some(before) = runs.get(zeros) {
                zero_yield.push(ZeroYield {
                    id: (*id).to_owned(),
                    previously: before.run.fetched.unwrap_or(0),
                    previously_at: before.run.started_at,
                    zero_since: runs[zeros - 1].run.started_at,
                });
            }
        } else if runs
            .iter()
            .skip(1)
            .any(|r| r.run.fetched == Some(0) && r.run.started_at >= input.since)
        {
            recovered.push(RecoveredSource {
                id: (*id).to_owned(),
                from: "yielding zero items".to_owned(),
            });
        }
    }
    for s in input.states {
        if s.consecutive_failures == 0
            && s.last_error_at.is_some_and(|t| t >= input.since)
            && !recovered.iter().any(|r| r.id == s.id)
        {
            recovered.push(RecoveredSource {
                id: s.id.clone(),
                from: format!(
                    "failing ({})",
                    s.last_error.as_deref().unwrap_or("no message")
                ),
            });
        }
    }
    recovered.sort_by(|a, b| a.id.cmp(&b.id));

    let digests_sent = input
        .outbox
        .iter()
        .filter(|e| e.status == OutboxStatus::Sent)
        .count() as u64;
    let undelivered = input
        .outbox
        .iter()
        .filter(|e| {
            e.status == OutboxStatus::Failed
                || (e.status == OutboxStatus::Pending && e.last_error.is_some())
        })
        .map(|e| UndeliveredDigest {
            profile_id: e.profile_id.clone(),
            period: e.period.clone(),
            status: e.status.as_str().to_owned(),
            error: e.last_error.clone().unwrap_or_default(),
        })
        .collect();
    Report {
        period: input.period,
        since: input.since,
        failing,
        zero_yield,
        recovered,
        calls_added: input.calls_added,
        calls_changed: input.calls_changed.saturating_sub(input.calls_added),
        digests_sent,
        undelivered,
        broken_profiles: input.broken_profiles,
    }
}

/// A rendered report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// Subject line.
    pub subject: String,
    /// text/plain part.
    pub text: String,
    /// text/html part (every value escaped).
    pub html: String,
}

fn when(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map_or_else(
        || "unknown".to_owned(),
        |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
    )
}

/// Renders the report (English: the officer's tool speaks English like the
/// CLI; dates in `tz`).
pub fn render_report(r: &Report, tz: Tz) -> RenderedReport {
    let problems =
        r.failing.len() + r.zero_yield.len() + r.undelivered.len() + r.broken_profiles.len();
    let subject = if problems == 0 {
        format!(
            "fundwatch report — week {}: all sources healthy",
            r.period.week
        )
    } else {
        format!(
            "fundwatch report — week {}: {problems} problem{} to look at",
            r.period.week,
            if problems == 1 { "" } else { "s" }
        )
    };
    // (heading, lines) — each line is plain text, escaped for HTML below.
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    sections.push((
        format!("Failing sources ({})", r.failing.len()),
        r.failing
            .iter()
            .map(|f| {
                format!(
                    "{}: failing since {} ({} runs): {}",
                    f.id,
                    when(f.since, tz),
                    f.failures,
                    f.last_error
                )
            })
            .collect(),
    ));
    sections.push((
        format!(
            "Sources yielding zero items ({}) — check their selectors",
            r.zero_yield.len()
        ),
        r.zero_yield
            .iter()
            .map(|z| {
                format!(
                    "{}: 0 items since {}, {} on {}",
                    z.id,
                    when(Some(z.zero_since), tz),
                    z.previously,
                    when(Some(z.previously_at), tz)
                )
            })
            .collect(),
    ));
    sections.push((
        format!("Recovered sources ({})", r.recovered.len()),
        r.recovered
            .iter()
            .map(|x| format!("{}: recovered from {}", x.id, x.from))
            .collect(),
    ));
    sections.push((
        "Calls".to_owned(),
        vec![format!(
            "{} added, {} changed since {}",
            r.calls_added,
            r.calls_changed,
            when(Some(r.since), tz)
        )],
    ));
    let mut digest_lines = vec![format!(
        "{} sent, {} not delivered",
        r.digests_sent,
        r.undelivered.len()
    )];
    digest_lines.extend(
        r.undelivered
            .iter()
            .map(|u| format!("{} ({}): {}: {}", u.profile_id, u.period, u.status, u.error)),
    );
    sections.push(("Digests".to_owned(), digest_lines));
    sections.push((
        format!(
            "Profiles without a digest ({}) — fix their query, then `fundwatch profiles check`",
            r.broken_profiles.len()
        ),
        r.broken_profiles
            .iter()
            .map(|(id, why)| format!("{id}: {why}"))
            .collect(),
    ));

    let mut text = format!("{subject}\n");
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<h1>{}</h1>\n",
        html_escape::encode_text(&subject),
        html_escape::encode_text(&subject)
    );
    for (heading, lines) in &sections {
        let _ = write!(text, "\n== {heading} ==\n");
        let _ = writeln!(html, "<h2>{}</h2>", html_escape::encode_text(heading));
        if lines.is_empty() {
            text.push_str("none\n");
            html.push_str("<p>none</p>\n");
            continue;
        }
        html.push_str("<ul>\n");
        for l in lines {
            let _ = writeln!(text, "* {l}");
            let _ = writeln!(html, "<li>{}</li>", html_escape::encode_text(l));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    RenderedReport {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunRecord;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        "2026-11-23T06:30:00Z".parse().unwrap()
    }

    fn state(id: &str, failures: u32, error_days_ago: Option<i64>) -> SourceState {
        SourceState {
            id: id.into(),
            last_attempt: Some(now()),
            last_success: None,
            last_error: error_days_ago.map(|_| "HTTP 503 <b>".to_owned()),
            last_error_at: error_days_ago.map(|d| now() - Duration::days(d)),
            consecutive_failures: failures,
            failing_since: (failures > 0).then(|| now() - Duration::days(3)),
            items_last_seen: None,
            next_run: None,
            backoff_until: None,
        }
    }

    fn run(id: i64, source: &str, days_ago: i64, fetched: u64) -> StoredRun {
        let t = now() - Duration::days(days_ago);
        StoredRun {
            id,
            run: RunRecord {
                source_id: source.into(),
                started_at: t,
                finished_at: t,
                ok: true,
                fetched: Some(fetched),
                new: 0,
                updated: 0,
                unchanged: 0,
                errors: vec![],
            },
        }
    }

    #[test]
    fn failing_zero_yield_recovered_and_undelivered() {
        let states = vec![
            state("anr", 2, Some(1)),
            state("region", 0, Some(2)),
            state("ukri", 0, Some(30)),
        ];
        let runs = vec![
            run(1, "html-aura", 3, 12),
            run(2, "html-aura", 2, 0),
            run(3, "html-aura", 1, 0),
            run(4, "nsf", 3, 0),
            run(5, "nsf", 1, 5),
            run(6, "always-empty", 2, 0),
        ];
        let failed = OutboxEntry {
            id: 1,
            profile_id: "dupont".into(),
            period: "2026-W48".into(),
            recipient: "x@y.fr".into(),
            status: OutboxStatus::Failed,
            subject: String::new(),
            new_ids: vec![],
            updated_ids: vec![],
            closing_ids: vec![],
            window_start: now(),
            created_at: now(),
            attempts: 1,
            last_attempt: Some(now()),
            last_error: Some("550 no such user".into()),
            sent_at: None,
        };
        let mut sent = failed.clone();
        sent.status = OutboxStatus::Sent;
        sent.last_error = None;
        let r = compose_report(ReportInput {
            states: &states,
            runs: &runs,
            outbox: &[failed, sent],
            calls_added: 4,
            calls_changed: 10,
            since: now() - Duration::days(7),
            period: Period::parse("2026-W48").unwrap(),
            broken_profiles: vec![(
                "broken".into(),
                "profile broken: invalid query \"colour:red\"".into(),
            )],
        });
        assert_eq!(r.failing.len(), 1);
        assert_eq!(r.failing[0].id, "anr");
        assert_eq!(r.zero_yield.len(), 1, "{:?}", r.zero_yield);
        assert_eq!(
            (r.zero_yield[0].id.as_str(), r.zero_yield[0].previously),
            ("html-aura", 12)
        );
        let rec: Vec<&str> = r.recovered.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(rec, ["nsf", "region"]);
        assert_eq!((r.calls_added, r.calls_changed, r.digests_sent), (4, 6, 1));
        assert_eq!(r.undelivered[0].error, "550 no such user");

        let out = render_report(&r, chrono_tz::Europe::Paris);
        assert_eq!(
            out.subject,
            "fundwatch report — week 48: 4 problems to look at"
        );
        // A profile whose digest is not composed is one of them: the
        // officer learnt of it only from the daemon's log.
        assert!(
            out.text
                .contains("* broken: profile broken: invalid query \"colour:red\""),
            "{}",
            out.text
        );
        assert!(
            out.text
                .contains("* anr: failing since 2026-11-20 07:30 CET (2 runs): HTTP 503 <b>"),
            "{}",
            out.text
        );
        assert!(
            out.text
                .contains("* dupont (2026-W48): failed: 550 no such user"),
            "{}",
            out.text
        );
        assert!(out.html.contains("HTTP 503 &lt;b&gt;"), "{}", out.html);
    }
}
