//! When each job runs next: pure rules, kept apart from the loop that
//! sleeps and spawns so they can be tested without a clock.
//!
//! - A job's next run is its schedule's next fire time after the last run,
//!   plus a small jitter so sources of one host do not fire together.
//! - After downtime an overdue job runs once, now: missed ticks are not
//!   replayed (the same choice as `MissedTickBehavior::Skip`).
//! - A failing source backs off exponentially, capped, and the backoff never
//!   brings a run *earlier* than the schedule would; success resets it
//!   (miniflux's error counter). A failing source is never disabled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::CronSchedule;

/// First retry delay after one failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5 * 60);
/// Longest backoff: a broken source is still tried at least this often.
pub const BACKOFF_CAP: Duration = Duration::from_secs(24 * 3600);
/// Largest jitter added to a scheduled run.
pub const MAX_JITTER: Duration = Duration::from_secs(90);

/// Delay before retrying after `failures` consecutive failures (≥ 1):
/// 5 min, 10 min, 20 min … capped at a day.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u64
        .checked_shl(failures.saturating_sub(1).min(20))
        .unwrap_or(u64::MAX);
    BACKOFF_BASE
        .checked_mul(factor.min(u32::MAX as u64) as u32)
        .unwrap_or(BACKOFF_CAP)
        .min(BACKOFF_CAP)
}

/// The next run of a job, with at most [`MAX_JITTER`] of jitter.
///
/// `last_run`: when it last ran (None: never). `failures`: consecutive
/// failures so far. `jitter`: a fraction in [0, 1) supplied by the caller
/// (random in the daemon, fixed in tests).
pub fn next_run(
    schedule: &CronSchedule,
    tz: Tz,
    last_run: Option<DateTime<Utc>>,
    failures: u32,
    now: DateTime<Utc>,
    jitter: f64,
) -> DateTime<Utc> {
    next_run_with(schedule, tz, last_run, failures, now, jitter, MAX_JITTER)
}

/// The largest jitter for `schedule`: `max_jitter`, but at most a quarter
/// of the gap between its next two ticks, so that a schedule firing every
/// few seconds keeps its rhythm and runs never overtake each other.
pub fn jitter_cap(
    schedule: &CronSchedule,
    tz: Tz,
    now: DateTime<Utc>,
    max_jitter: Duration,
) -> Duration {
    let ticks = schedule.upcoming(now, tz, 2);
    match ticks.as_slice() {
        [a, b] => (*b - *a)
            .to_std()
            .map(|gap| (gap / 4).min(max_jitter))
            .unwrap_or(max_jitter),
        _ => max_jitter,
    }
}

/// [`next_run`] with the jitter bound chosen by the caller
/// (`fundwatch daemon --max-jitter`), itself capped by [`jitter_cap`].
pub fn next_run_with(
    schedule: &CronSchedule,
    tz: Tz,
    last_run: Option<DateTime<Utc>>,
    failures: u32,
    now: DateTime<Utc>,
    jitter: f64,
    max_jitter: Duration,
) -> DateTime<Utc> {
    let cap = jitter_cap(schedule, tz, now, max_jitter);
    let jitter =
        chrono::Duration::from_std(cap.mul_f64(jitter.clamp(0.0, 0.999))).unwrap_or_default();
    let Some(last) = last_run else {
        // Never ran: wait for the first tick (a new daemon does not storm
        // every source at once); `crawl` exists for "now".
        return schedule
            .next_after(now, tz)
            .map(|t| t + jitter)
            .unwrap_or(now);
    };
    let scheduled = schedule.next_after(last, tz).unwrap_or(now);
    let due = if failures > 0 {
        let retry = last + chrono::Duration::from_std(backoff(failures)).unwrap_or_default();
        // The backoff only delays: a run the schedule wants later stays later.
        scheduled
            .max(retry)
            .min(last + chrono::Duration::from_std(BACKOFF_CAP).unwrap_or_default())
    } else {
        scheduled
    };
    // Overdue (the daemon was down): once, now — not once per missed tick.
    if due <= now { now } else { due + jitter }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let table = [
            (0, 0),
            (1, 300),
            (2, 600),
            (3, 1200),
            (8, 38_400),
            (9, 76_800),
            (10, 86_400),
            (60, 86_400),
        ];
        for (failures, secs) in table {
            assert_eq!(backoff(failures), Duration::from_secs(secs), "{failures}");
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases reads best inline
    fn next_runs_follow_the_rules() {
        let daily6 = CronSchedule::parse("0 0 6 * * *").unwrap();
        let every5 = CronSchedule::parse("*/5 * * * *").unwrap();
        let utc = chrono_tz::UTC;
        // (name, schedule, last run, failures, now, jitter, expected next run)
        type Case<'a> = (
            &'a str,
            &'a CronSchedule,
            Option<&'a str>,
            u32,
            &'a str,
            f64,
            &'a str,
        );
        let table: &[Case] = &[
            (
                "never ran: first tick",
                &daily6,
                None,
                0,
                "2026-11-26T10:00:00Z",
                0.0,
                "2026-11-27T06:00:00+00:00",
            ),
            (
                "jitter is added",
                &daily6,
                None,
                0,
                "2026-11-26T10:00:00Z",
                0.5,
                "2026-11-27T06:00:45+00:00",
            ),
            (
                "ran today: tomorrow",
                &daily6,
                Some("2026-11-26T06:00:00Z"),
                0,
                "2026-11-26T10:00:00Z",
                0.0,
                "2026-11-27T06:00:00+00:00",
            ),
            (
                "down for three days: once, now",
                &daily6,
                Some("2026-11-23T06:00:00Z"),
                0,
                "2026-11-26T10:00:00Z",
                0.9,
                "2026-11-26T10:00:00+00:00",
            ),
            (
                "failing: backoff later than the schedule",
                &every5,
                Some("2026-11-26T10:00:00Z"),
                3,
                "2026-11-26T10:01:00Z",
                0.0,
                "2026-11-26T10:20:00+00:00",
            ),
            (
                "failing once, daily: the schedule is later",
                &daily6,
                Some("2026-11-26T06:00:00Z"),
                1,
                "2026-11-26T06:01:00Z",
                0.0,
                "2026-11-27T06:00:00+00:00",
            ),
            (
                "long failure: capped at a day",
                &every5,
                Some("2026-11-26T10:00:00Z"),
                40,
                "2026-11-26T10:01:00Z",
                0.0,
                "2026-11-27T10:00:00+00:00",
            ),
        ];
        for (name, sched, last, failures, now, jitter, want) in table {
            let got = next_run(sched, utc, last.map(t), *failures, t(now), *jitter);
            assert_eq!(got.to_rfc3339(), *want, "{name}");
        }
    }

    #[test]
    fn jitter_stays_within_a_quarter_of_the_period() {
        let every2s = CronSchedule::parse("*/2 * * * * *").unwrap();
        let daily6 = CronSchedule::parse("0 0 6 * * *").unwrap();
        let utc = chrono_tz::UTC;
        let now = t("2026-11-26T10:00:00Z");
        let table = [
            (&every2s, MAX_JITTER, Duration::from_millis(500)),
            (&daily6, MAX_JITTER, MAX_JITTER),
            (&daily6, Duration::ZERO, Duration::ZERO),
            (&daily6, Duration::from_secs(10), Duration::from_secs(10)),
        ];
        for (sched, max, want) in table {
            assert_eq!(jitter_cap(sched, utc, now, max), want, "{max:?}");
        }
        // A run every 2 s never drifts past the next tick, whatever the draw.
        let got = next_run(&every2s, utc, Some(now), 0, now, 0.999);
        assert!(
            got > t("2026-11-26T10:00:02Z") && got < t("2026-11-26T10:00:02.5Z"),
            "{got}"
        );
        let none = next_run_with(&every2s, utc, Some(now), 0, now, 0.999, Duration::ZERO);
        assert_eq!(none, t("2026-11-26T10:00:02Z"));
    }
}
