//! What the daemon is doing, as others see it: one JSON value in the
//! database's `meta` table (key [`STATE_KEY`]), rewritten whenever a job
//! starts or ends, and the matching one-line summary sent to systemd as
//! `STATUS=`.
//!
//! Kept in the database rather than a file beside it so that `fundwatch
//! status` reads one consistent snapshot with the source states, and so
//! that the digest and report job times survive a restart (an overdue
//! digest then runs once at start, by `plan::next_run`).
//! The row outlives the daemon: whether it is *current* is told by the lock
//! (`lock::probe`), not by the row.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The `meta` key holding [`DaemonState`].
pub const STATE_KEY: &str = "daemon_state";

/// A periodic job that is not a source: the digests or the officer report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTimes {
    /// When it last ran (started).
    pub last_run: Option<DateTime<Utc>>,
    /// What its last run said, one line.
    pub last_outcome: Option<String>,
    /// When it runs next.
    pub next_run: Option<DateTime<Utc>>,
}

/// The daemon's published state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonState {
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When this state was written.
    pub updated_at: DateTime<Utc>,
    /// The one-line summary ([`activity`]).
    pub activity: String,
    /// Jobs running now (source ids, `digest`, `report`, `index`).
    pub running: Vec<String>,
    /// The weekly digests.
    pub digest: JobTimes,
    /// The officer's report.
    pub report: JobTimes,
    /// Set when it stopped cleanly.
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
}

/// Sources named in the summary line before "and N more".
const MAX_NAMED: usize = 5;

/// The one-line summary: "crawling eu-horizon, anr" or "idle; next:
/// region-aura at 10:00:00 CET" (in `tz`, the settings' zone, with the date
/// when it is not today).
pub fn activity(
    running: &[String],
    next: Option<(&str, DateTime<Utc>)>,
    now: DateTime<Utc>,
    tz: Tz,
) -> String {
    let crawling: Vec<&str> = running
        .iter()
        .map(String::as_str)
        .filter(|j| !matches!(*j, "digest" | "report" | "index"))
        .collect();
    let mut parts = Vec::new();
    // A round of 200 sources would make an unreadable line: name a few.
    match crawling.len() {
        0 => {}
        n if n <= MAX_NAMED => parts.push(format!("crawling {}", crawling.join(", "))),
        n => parts.push(format!(
            "crawling {} and {} more",
            crawling[..MAX_NAMED].join(", "),
            n - MAX_NAMED
        )),
    }
    for (job, doing) in [
        ("digest", "sending digests"),
        ("report", "sending the officer report"),
        ("index", "updating the index"),
    ] {
        if running.iter().any(|r| r == job) {
            parts.push(doing.to_owned());
        }
    }
    let doing = if parts.is_empty() {
        "idle".to_owned()
    } else {
        parts.join(", ")
    };
    match next {
        Some((job, at)) => {
            let local = at.with_timezone(&tz);
            let when = if local.date_naive() == now.with_timezone(&tz).date_naive() {
                local.format("%H:%M:%S %Z").to_string()
            } else {
                local.format("%Y-%m-%d %H:%M %Z").to_string()
            };
            format!("{doing}; next: {job} at {when}")
        }
        None => doing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_lines() {
        let now: DateTime<Utc> = "2026-11-26T08:00:00Z".parse().unwrap();
        let ten_paris: DateTime<Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
        let tomorrow: DateTime<Utc> = "2026-11-27T05:00:00Z".parse().unwrap();
        let paris = chrono_tz::Europe::Paris;
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        type Case<'a> = (&'a [&'a str], Option<(&'a str, DateTime<Utc>)>, &'a str);
        let table: &[Case] = &[
            (&[], None, "idle"),
            (
                &[],
                Some(("region-aura", ten_paris)),
                "idle; next: region-aura at 10:00:00 CET",
            ),
            (
                &["eu-horizon", "anr"],
                Some(("region-aura", tomorrow)),
                "crawling eu-horizon, anr; next: region-aura at 2026-11-27 06:00 CET",
            ),
            (&["anr", "index"], None, "crawling anr, updating the index"),
            (&["digest"], None, "sending digests"),
            (
                &["a", "b", "c", "d", "e", "f", "g"],
                None,
                "crawling a, b, c, d, e and 2 more",
            ),
        ];
        for (running, next, want) in table {
            assert_eq!(activity(&s(running), *next, now, paris), *want);
        }
    }
}
