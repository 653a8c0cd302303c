//! The indicators the officer reports on: calls by level, funder, programme
//! and status; open calls by deadline month; new calls per week; calls per
//! source. Pure: computed from stored calls and `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::model::{Call, Status};

/// Every indicator, as counts keyed by label (sorted, for stable output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// All calls stored.
    pub total: u64,
    /// By level.
    pub by_level: BTreeMap<String, u64>,
    /// By funder.
    pub by_funder: BTreeMap<String, u64>,
    /// By programme (`-` when none).
    pub by_programme: BTreeMap<String, u64>,
    /// By status (as of the last crawl).
    pub by_status: BTreeMap<String, u64>,
    /// Open and forthcoming calls by month of their next deadline
    /// (`YYYY-MM`; `none` when no upcoming deadline is known).
    pub open_by_deadline_month: BTreeMap<String, u64>,
    /// Calls by ISO week of first sight (`YYYY-Www`).
    pub new_per_week: BTreeMap<String, u64>,
    /// Calls listed by each source (owned or linked).
    pub per_source: BTreeMap<String, u64>,
}

impl Stats {
    /// Adds one stored call.
    pub fn add(
        &mut self,
        call: &Call,
        first_seen: DateTime<Utc>,
        sources: &[String],
        now: DateTime<Utc>,
    ) {
        self.total += 1;
        *self.by_level.entry(call.level.to_string()).or_default() += 1;
        *self.by_funder.entry(call.funder.clone()).or_default() += 1;
        *self
            .by_programme
            .entry(call.programme.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
        *self.by_status.entry(call.status.to_string()).or_default() += 1;
        if call.status != Status::Closed {
            let month = call
                .next_deadline(now)
                .map(|d| format!("{:04}-{:02}", d.date.year(), d.date.month()))
                .unwrap_or_else(|| "none".into());
            *self.open_by_deadline_month.entry(month).or_default() += 1;
        }
        let w = first_seen.date_naive().iso_week();
        *self
            .new_per_week
            .entry(format!("{}-W{:02}", w.year(), w.week()))
            .or_default() += 1;
        for s in sources {
            *self.per_source.entry(s.clone()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DatePoint, Language, Level};
    use chrono::NaiveDate;

    fn call(level: Level, funder: &str, status: Status, deadline: Option<(i32, u32, u32)>) -> Call {
        Call {
            id: "x".into(),
            source_id: "s".into(),
            native_id: None,
            url: String::new(),
            title: "t".into(),
            summary: String::new(),
            text: String::new(),
            funder: funder.into(),
            programme: None,
            level,
            language: Language::Fr,
            opening: None,
            deadlines: deadline
                .map(|(y, m, d)| {
                    DatePoint::day(
                        NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                        chrono_tz::Europe::Paris,
                        "",
                    )
                })
                .into_iter()
                .collect(),
            status,
            budget: None,
            tags: vec![],
            identifiers: vec![],
        }
    }

    #[test]
    fn counts_add_up_by_every_indicator() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let seen: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
        let mut s = Stats::default();
        s.add(
            &call(Level::Eu, "EC", Status::Open, Some((2027, 2, 18))),
            seen,
            &["eu-horizon".into()],
            now,
        );
        s.add(
            &call(Level::Eu, "EC", Status::Forthcoming, Some((2027, 2, 3))),
            seen,
            &["eu-horizon".into(), "pcn".into()],
            now,
        );
        s.add(
            &call(Level::National, "ANR", Status::Closed, Some((2026, 1, 1))),
            seen,
            &["anr".into()],
            now,
        );
        s.add(
            &call(Level::Regional, "Région", Status::Open, None),
            seen,
            &["region".into()],
            now,
        );
        assert_eq!(s.total, 4);
        assert_eq!(s.by_level["eu"], 2);
        assert_eq!(s.by_funder["EC"], 2);
        assert_eq!(s.by_status["closed"], 1);
        assert_eq!(s.open_by_deadline_month["2027-02"], 2);
        assert_eq!(s.open_by_deadline_month["none"], 1);
        assert!(
            !s.open_by_deadline_month.contains_key("2026-01"),
            "closed calls are not open"
        );
        assert_eq!(s.new_per_week["2026-W48"], 4);
        assert_eq!(s.per_source["eu-horizon"], 2);
        assert_eq!(s.per_source["pcn"], 1);
    }
}
