//! The domain vocabulary shared by every pipeline stage: calls, dates, levels,
//! statuses. Pure data: no IO lives here, so extract, normalize, store, index
//! and digest can all agree on one shape without depending on each other.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Where a funder sits, as the officer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Région, métropole, local bodies.
    Regional,
    /// French national agencies and ministries.
    National,
    /// European Union programmes.
    Eu,
    /// Other countries and international bodies.
    International,
}

/// The two languages calls and digests come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// French.
    Fr,
    /// English.
    En,
}

/// Where a call stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Announced, not yet open for submissions.
    Forthcoming,
    /// Open for submissions.
    Open,
    /// Every deadline has passed.
    Closed,
}

/// How precisely a date is known. Kept distinct because "fin mars 2022" must
/// never be shown as "31 March 2022 23:59" (SOURCES-FORMATS.md §0, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// An instant: a day and a time of day in a known zone.
    Datetime,
    /// A calendar day in a zone, no time of day.
    Date,
    /// A month ("fin mars 2022", "End of April 2021").
    Month,
}

/// What a date found in text means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateRole {
    /// A submission cut-off (date limite, clôture, deadline, closing ...).
    Deadline,
    /// The call opens (ouverture, opening, call opens ...).
    Opening,
    /// The call or page was published. Never a deadline.
    Publication,
    /// Anything else: webinars, events, results.
    Other,
}

macro_rules! str_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The lowercase name used in config files, the database and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    other => Err(format!(
                        "unknown {} {other:?}: expected one of {}",
                        stringify!($ty).to_ascii_lowercase(),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

str_enum!(Level { Regional => "regional", National => "national", Eu => "eu", International => "international" });
str_enum!(Language { Fr => "fr", En => "en" });
str_enum!(Status { Forthcoming => "forthcoming", Open => "open", Closed => "closed" });
str_enum!(Precision { Datetime => "datetime", Date => "date", Month => "month" });
str_enum!(DateRole { Deadline => "deadline", Opening => "opening", Publication => "publication", Other => "other" });

/// One date as a source states it: an instant, a day or a month, in a zone,
/// with the words it came from. Used for deadlines and opening dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatePoint {
    /// The instant in UTC; `Some` exactly when `precision` is `Datetime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The local calendar date in `zone`. For `Month` precision, the first
    /// day of the month (serialised as `YYYY-MM`).
    #[serde(with = "date_or_month")]
    pub date: NaiveDate,
    /// How much of the date is known.
    pub precision: Precision,
    /// IANA zone name the date is expressed in.
    pub zone: String,
    /// Stage or cut-off label ("pre-proposal", "Step I"), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The original words, for the officer to check.
    #[serde(default)]
    pub text: String,
}

impl DatePoint {
    /// An instant with its zone; `date` is derived from it.
    pub fn instant(at: DateTime<Utc>, zone: Tz, text: impl Into<String>) -> Self {
        DatePoint {
            at: Some(at),
            date: at.with_timezone(&zone).date_naive(),
            precision: Precision::Datetime,
            zone: zone.name().to_owned(),
            label: None,
            text: text.into(),
        }
    }

    /// A calendar day in `zone`.
    pub fn day(date: NaiveDate, zone: Tz, text: impl Into<String>) -> Self {
        DatePoint {
            at: None,
            date,
            precision: Precision::Date,
            zone: zone.name().to_owned(),
            label: None,
            text: text.into(),
        }
    }

    /// A month (`date` is normalised to its first day).
    pub fn month(year: i32, month: u32, zone: Tz, text: impl Into<String>) -> Option<Self> {
        Some(DatePoint {
            at: None,
            date: NaiveDate::from_ymd_opt(year, month, 1)?,
            precision: Precision::Month,
            zone: zone.name().to_owned(),
            label: None,
            text: text.into(),
        })
    }

    /// Sets the label, builder style.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        let label = label.into();
        self.label = if label.trim().is_empty() {
            None
        } else {
            Some(label)
        };
        self
    }

    /// The zone, falling back to UTC for a name chrono-tz does not know
    /// (only possible for data written by another version).
    pub fn tz(&self) -> Tz {
        self.zone.parse().unwrap_or(Tz::UTC)
    }

    /// The last instant this date can mean: the instant itself, the end of the
    /// day, or the end of the month, in the date's zone. Deadlines are compared
    /// with this, so a call is never reported closed while it may still be open.
    pub fn cutoff(&self) -> DateTime<Utc> {
        if let Some(at) = self.at {
            return at;
        }
        let last_day = match self.precision {
            Precision::Month => last_day_of_month(self.date),
            _ => self.date,
        };
        let end = last_day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
        let tz = self.tz();
        match tz.from_local_datetime(&end) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(_, late) => late.with_timezone(&Utc),
            // 23:59:59 never falls in a DST gap in practice; be conservative.
            chrono::LocalResult::None => end.and_utc(),
        }
    }

    /// The earliest instant this date can mean (start of day or month).
    pub fn earliest(&self) -> DateTime<Utc> {
        if let Some(at) = self.at {
            return at;
        }
        let tz = self.tz();
        match tz.from_local_datetime(&self.date.and_time(NaiveTime::MIN)) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
            chrono::LocalResult::None => self.date.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// The calendar date as printed: `YYYY-MM-DD`, or `YYYY-MM` for a month.
    pub fn date_string(&self) -> String {
        match self.precision {
            Precision::Month => self.date.format("%Y-%m").to_string(),
            _ => self.date.format("%Y-%m-%d").to_string(),
        }
    }
}

fn last_day_of_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(d)
}

/// `YYYY-MM-DD`, or `YYYY-MM` for month precision (read back as the 1st).
mod date_or_month {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m-%d").to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d"))
            .map_err(serde::de::Error::custom)
    }
}

/// A date found in free text, with what it means. The output of
/// [`crate::dates::extract`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundDate {
    /// Deadline, opening, publication or other.
    pub role: DateRole,
    /// The date itself.
    #[serde(flatten)]
    pub point: DatePoint,
}

/// Money offered by a call, as far as the source says. Amounts are in
/// `currency` units (EUR for the EU portal, SOURCES-FORMATS.md §1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Budget {
    /// Total budget of the call or topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Smallest grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_grant: Option<f64>,
    /// Largest grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_grant: Option<f64>,
    /// Expected number of grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_grants: Option<u32>,
    /// ISO 4217 code.
    pub currency: String,
}

/// What one source says about one call, before normalisation. Extractors
/// produce these; [`crate::normalize`] turns them into [`Call`]s.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallDraft {
    /// The source's own identifier (SEDIA topic identifier, feed guid,
    /// EURAXESS numeric id). `None` when only the URL identifies the call.
    pub native_id: Option<String>,
    /// Human URL of the call page (canonicalised later).
    pub url: String,
    /// Title, clean text.
    pub title: String,
    /// Short summary, clean text (may be empty).
    pub summary: String,
    /// Full text, clean (HTML already turned into text).
    pub text: String,
    /// Funder, when the source item names one (else the source's funder).
    pub funder: Option<String>,
    /// Programme name, when known.
    pub programme: Option<String>,
    /// Opening date.
    pub opening: Option<DatePoint>,
    /// Every submission deadline the source gives, in order.
    pub deadlines: Vec<DatePoint>,
    /// The status the source itself claims; only used when dates are absent.
    pub source_status: Option<Status>,
    /// Budget, when given.
    pub budget: Option<Budget>,
    /// Keywords and tags from the source item (the source's own tags are
    /// added during normalisation).
    pub tags: Vec<String>,
    /// Language of the item, when it differs from the source's.
    pub language: Option<Language>,
    /// Identifiers that name this call across sources (EU topic identifiers
    /// such as `HORIZON-CL4-2024-HUMAN-03`), for cross-source deduplication.
    pub identifiers: Vec<String>,
}

/// A call as stored and indexed: normalised, with a stable id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Stable id (see [`crate::normalize::normalize`]).
    pub id: String,
    /// The source that first reported it (other sources are links).
    pub source_id: String,
    /// The source's own identifier.
    pub native_id: Option<String>,
    /// Canonical URL (tracking parameters removed).
    pub url: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Full text.
    pub text: String,
    /// Funder.
    pub funder: String,
    /// Programme.
    pub programme: Option<String>,
    /// Level of the funder.
    pub level: Level,
    /// Language of the call text.
    pub language: Language,
    /// Opening date.
    pub opening: Option<DatePoint>,
    /// Every deadline, sorted by cut-off.
    pub deadlines: Vec<DatePoint>,
    /// Status computed from the dates and `now` (the source's own only when
    /// no date is known).
    pub status: Status,
    /// Budget.
    pub budget: Option<Budget>,
    /// Tags (source tags and item keywords), deduplicated.
    pub tags: Vec<String>,
    /// Cross-source identifiers.
    pub identifiers: Vec<String>,
}

impl Call {
    /// The first deadline whose cut-off is not past at `now`.
    pub fn next_deadline(&self, now: DateTime<Utc>) -> Option<&DatePoint> {
        self.deadlines
            .iter()
            .filter(|d| d.cutoff() >= now)
            .min_by_key(|d| d.cutoff())
    }
}

/// HTTP validators remembered per URL for conditional GET (RFC 9110 §13).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Validators {
    /// `ETag` of the last 200 answer, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` of the last answer, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

impl Validators {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_of_a_paris_day_is_its_last_second_in_local_time() {
        // 2025-10-24 is CEST (UTC+2), 2025-11-03 is CET (UTC+1).
        let d = DatePoint::day(
            NaiveDate::from_ymd_opt(2025, 10, 24).unwrap(),
            chrono_tz::Europe::Paris,
            "",
        );
        assert_eq!(d.cutoff().to_rfc3339(), "2025-10-24T21:59:59+00:00");
        let d = DatePoint::day(
            NaiveDate::from_ymd_opt(2025, 11, 3).unwrap(),
            chrono_tz::Europe::Paris,
            "",
        );
        assert_eq!(d.cutoff().to_rfc3339(), "2025-11-03T22:59:59+00:00");
    }

    #[test]
    fn cutoff_of_a_month_is_the_end_of_the_month() {
        let d = DatePoint::month(2022, 2, chrono_tz::Europe::Paris, "fin février 2022").unwrap();
        assert_eq!(d.cutoff().to_rfc3339(), "2022-02-28T22:59:59+00:00");
        let d = DatePoint::month(2021, 12, chrono_tz::UTC, "").unwrap();
        assert_eq!(d.cutoff().to_rfc3339(), "2021-12-31T23:59:59+00:00");
    }

    #[test]
    fn month_dates_serialise_as_year_month() {
        let d = DatePoint::month(2022, 3, chrono_tz::Europe::Paris, "fin mars 2022").unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["date"], "2022-03-01");
        assert_eq!(d.date_string(), "2022-03");
        let back: DatePoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn enums_parse_case_insensitively_and_name_the_choices() {
        assert_eq!("EU".parse::<Level>().unwrap(), Level::Eu);
        let err = "europe".parse::<Level>().unwrap_err();
        assert!(
            err.contains("regional, national, eu, international"),
            "{err}"
        );
    }
}
