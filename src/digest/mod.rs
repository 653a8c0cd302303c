//! Digests: what one academic receives for one period (an ISO week) — the
//! calls new to them, the calls that changed since they were sent, and the
//! calls already sent that close soon — and how it is rendered.
//!
//! Composing a [`Digest`] and rendering it are pure (values in, values out);
//! sending lives with the mail transport.

pub mod compose;
pub mod mail;
pub mod render;
pub mod report;
pub mod send;

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::model::Call;
use crate::settings::Profile;

/// An ISO 8601 week, the digest period ("2026-W48").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Period {
    /// ISO week-based year.
    pub year: i32,
    /// ISO week number, 1–53.
    pub week: u32,
}

impl Period {
    /// The week containing `t` in `tz`.
    pub fn containing(t: DateTime<Utc>, tz: Tz) -> Period {
        let w = t.with_timezone(&tz).date_naive().iso_week();
        Period {
            year: w.year(),
            week: w.week(),
        }
    }

    /// Parses `YYYY-Www`.
    pub fn parse(s: &str) -> Result<Period, String> {
        let bad = || format!("invalid period {s:?}: expected an ISO week such as 2026-W48");
        let (y, w) = s.trim().split_once("-W").ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let week: u32 = w.parse().map_err(|_| bad())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
        Ok(Period { year, week })
    }

    /// Monday 00:00 of the week, in `tz`.
    pub fn start(&self, tz: Tz) -> DateTime<Utc> {
        let monday =
            NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default();
        tz.from_local_datetime(&monday.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
    }

    /// The next week.
    pub fn next(&self) -> Period {
        let monday = NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .unwrap_or_default()
            + Duration::days(7);
        let w = monday.iso_week();
        Period {
            year: w.year(),
            week: w.week(),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// A field that changed, as the recipient reads it ("deadline: 18/02/2027 → 04/03/2027").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeNote {
    /// Field name (`deadlines`, `status`, `budget`, `title` ...).
    pub field: String,
    /// Old value, displayed.
    pub old: String,
    /// New value, displayed.
    pub new: String,
}

/// Why a call matched: which query words were found in which fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The query word or phrase.
    pub term: String,
    /// The fields it was found in (title, summary, text, tags, funder ...).
    pub fields: Vec<String>,
}

/// One call in a digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestItem {
    /// The call.
    pub call: Call,
    /// For updated calls: what changed.
    pub changes: Vec<ChangeNote>,
    /// Why it matched.
    pub reasons: Vec<Reason>,
}

/// Everything one profile receives for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// The recipient.
    pub profile: Profile,
    /// The period.
    pub period: Period,
    /// Calls first sent to this profile.
    pub new: Vec<DigestItem>,
    /// Calls sent before whose deadline, status, budget or title changed.
    pub updated: Vec<DigestItem>,
    /// Calls sent before that close within the closing-soon window.
    pub closing_soon: Vec<DigestItem>,
}

impl Digest {
    /// True when there is nothing to say.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.updated.is_empty() && self.closing_soon.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_iso_weeks_in_the_recipients_zone() {
        let table = [
            // Sunday 23:30 UTC is already Monday in Paris: the next week there.
            ("2026-11-29T23:30:00Z", "2026-W49"),
            ("2026-11-29T22:30:00Z", "2026-W48"),
            // ISO years: 1 January 2027 is a Friday, still in 2026-W53.
            ("2027-01-01T12:00:00Z", "2026-W53"),
        ];
        for (t, want) in table {
            let p = Period::containing(t.parse().unwrap(), chrono_tz::Europe::Paris);
            assert_eq!(p.to_string(), want, "{t}");
            assert_eq!(Period::parse(want).unwrap(), p);
        }
        assert_eq!(
            Period::parse("2026-W48").unwrap().next().to_string(),
            "2026-W49"
        );
        assert_eq!(
            Period::parse("2026-W53").unwrap().next().to_string(),
            "2027-W01"
        );
        assert_eq!(
            Period::parse("2026-W48")
                .unwrap()
                .start(chrono_tz::Europe::Paris)
                .to_rfc3339(),
            "2026-11-22T23:00:00+00:00"
        );
        assert!(Period::parse("2026-48").is_err());
        assert!(Period::parse("2026-W60").is_err());
    }
}
