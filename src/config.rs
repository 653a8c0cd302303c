//! `sources.toml`: the officer-edited list of sources, parsed strictly and
//! validated once into runtime types (compiled selectors, parsed cron
//! schedules, URLs, time zones) so that nothing downstream re-checks them.
//!
//! Two phases, as in ripgrep's low/high args: `Raw*` structs mirror the file
//! with `deny_unknown_fields`; [`Sources::parse`] turns them into [`Source`]s
//! or one [`ConfigError`] naming the file, the source id and the key.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use crate::model::{Language, Level, Status};

/// Default User-Agent: names the tool and its version; operators add a
/// contact address in `[defaults] user_agent` (miniflux and lychee do the same).
pub const DEFAULT_USER_AGENT: &str = concat!(
    "fundwatch/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/fundwatch/fundwatch)"
);

/// A problem in a configuration file. Every message names the file and, where
/// there is one, the source and the key, and says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the file (check the path, or pass --sources FILE)")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax error or a key of the wrong type or unknown.
    #[error("{path}{}: {message}", location(.source_id, None))]
    Syntax {
        /// File.
        path: PathBuf,
        /// The `[[source]]` block the error is in, when known.
        source_id: Option<String>,
        /// What toml said, with line and column.
        message: String,
    },
    /// A value that parses but is not acceptable.
    #[error("{path}{}: {message}", location(.source_id, Some(.key)))]
    Invalid {
        /// File.
        path: PathBuf,
        /// Source id, when the problem is inside a `[[source]]`.
        source_id: Option<String>,
        /// The key at fault.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn location(source_id: &Option<String>, key: Option<&String>) -> String {
    let mut s = String::new();
    if let Some(id) = source_id {
        s.push_str(&format!(": source \"{id}\""));
    }
    if let Some(key) = key {
        s.push_str(&format!(": key `{key}`"));
    }
    s
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSourcesFile {
    #[serde(default)]
    defaults: RawFetch,
    #[serde(default)]
    source: Vec<RawSource>,
}

/// Politeness and limits; every key can be set in `[defaults]` and
/// overridden per source.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    user_agent: Option<String>,
    #[serde(default, with = "humantime_serde")]
    min_delay_per_host: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    connect_timeout: Option<Duration>,
    max_body: Option<String>,
    max_retries: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    name: Option<String>,
    kind: String,
    url: String,
    schedule: String,
    level: String,
    funder: String,
    language: String,
    timezone: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    programmes: Vec<String>,
    #[serde(default)]
    statuses: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    html: Option<RawHtml>,
    // The per-source overrides of `[defaults]`, spelled out rather than
    // `#[serde(flatten)]`ed: serde ignores `deny_unknown_fields` through flatten.
    user_agent: Option<String>,
    #[serde(default, with = "humantime_serde")]
    min_delay_per_host: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    connect_timeout: Option<Duration>,
    max_body: Option<String>,
    max_retries: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHtml {
    item: String,
    title: String,
    link: String,
    summary: Option<String>,
    deadline: Option<String>,
    opening: Option<String>,
    next_page: Option<String>,
    max_pages: Option<u32>,
    detail: Option<RawDetail>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetail {
    body: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    deadline: Option<String>,
    opening: Option<String>,
}

/// Politeness and limits for one source, after defaults are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchPolicy {
    /// User-Agent header.
    pub user_agent: String,
    /// Pause between two requests to the same host.
    pub min_delay_per_host: Duration,
    /// Total time for one request, body included.
    pub timeout: Duration,
    /// Time to establish the connection.
    pub connect_timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_body: u64,
    /// Retries on transient failures (timeouts, 5xx, resets).
    pub max_retries: u32,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            min_delay_per_host: Duration::from_secs(2),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 20 * 1000 * 1000,
            max_retries: 3,
        }
    }
}

/// A CSS selector with an optional attribute: `"a.next@href"` takes the
/// `href` attribute of the first match, `"h3"` its text.
#[derive(Debug, Clone)]
pub struct Field {
    /// Compiled selector.
    pub selector: scraper::Selector,
    /// Attribute to read instead of the text.
    pub attr: Option<String>,
    /// As written in the file, for messages.
    pub raw: String,
    /// The class when the selector is one class and nothing else
    /// (`.summary`): the extractor then finds the element by reading class
    /// attributes itself (see `extract::html`).
    pub lone_class: Option<String>,
}

impl Field {
    /// Parses `"sel"` or `"sel@attr"`.
    pub fn parse(raw: &str) -> Result<Field, String> {
        let (sel, attr) = match raw.rsplit_once('@') {
            // `@` inside an attribute selector (`a[href*="@"]`) is not the split point.
            Some((sel, attr))
                if !attr.is_empty()
                    && attr
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':') =>
            {
                (sel, Some(attr.to_owned()))
            }
            _ => (raw, None),
        };
        if sel.trim().is_empty() {
            return Err(format!("empty CSS selector in {raw:?}"));
        }
        let selector = scraper::Selector::parse(sel)
            .map_err(|e| format!("invalid CSS selector {sel:?}: {e}"))?;
        Ok(Field {
            selector,
            attr,
            raw: raw.to_owned(),
            lone_class: lone_class(sel.trim()).map(str::to_owned),
        })
    }
}

/// The class of a selector that is one class selector and nothing else,
/// written without escapes (`.aide-card__summary`); `None` for any other
/// selector, which scraper matches.
fn lone_class(sel: &str) -> Option<&str> {
    let class = sel.strip_prefix('.')?;
    let mut bytes = class.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic() || first == b'_')
        .then_some(())
        .filter(|()| bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        .map(|()| class)
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// Selectors of an HTML listing source.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlSpec {
    /// One element per call.
    pub item: Field,
    /// Title, inside the item.
    pub title: Field,
    /// Link to the call page, inside the item (usually `a@href`).
    pub link: Field,
    /// Summary, inside the item.
    pub summary: Option<Field>,
    /// Text searched for deadlines, inside the item.
    pub deadline: Option<Field>,
    /// Text searched for the opening date, inside the item.
    pub opening: Option<Field>,
    /// Link to the next listing page, anywhere in the page.
    pub next_page: Option<Field>,
    /// Listing pages followed at most.
    pub max_pages: u32,
    /// Fields read from each item's own page.
    pub detail: Option<DetailSpec>,
}

/// Selectors applied to each call's detail page.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailSpec {
    /// Main text of the call.
    pub body: Option<Field>,
    /// Better title than the listing's.
    pub title: Option<Field>,
    /// Summary.
    pub summary: Option<Field>,
    /// Text searched for deadlines.
    pub deadline: Option<Field>,
    /// Text searched for the opening date.
    pub opening: Option<Field>,
}

/// How a source is read.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// RSS 2.0, Atom or JSON Feed.
    Feed,
    /// Listing page(s) with CSS selectors.
    Html(Box<HtmlSpec>),
    /// The EU Funding & Tenders search API (SOURCES-FORMATS.md §1).
    EuPortal,
}

impl SourceKind {
    /// The name used in `sources.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Html(_) => "html",
            SourceKind::EuPortal => "eu-portal",
        }
    }
}

/// A cron schedule as written, parsed. Five-field crontab lines are accepted
/// and get a leading seconds field of `0`, since the `cron` crate's dialect
/// starts with seconds.
///
/// Weekday numbers are crontab's in every form: 0 and 7 are Sunday, 1 is
/// Monday. The `cron` crate follows Quartz, where 1 is Sunday, so a
/// crontab `1-5` handed to it unchanged fires Sunday to Thursday and `0` is
/// refused (zslayton/cron#113); the officer writes crontab, and so did the
/// shipped `sources.toml` (`* * 1` for its weekly sources, meant as Monday).
/// Day names (`MON-FRI`) mean the same in both and pass through.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// As written in the file.
    pub expr: String,
    schedule: cron::Schedule,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl CronSchedule {
    /// Parses a 5-, 6- or 7-field expression.
    pub fn parse(expr: &str) -> Result<CronSchedule, String> {
        let fields = expr.split_whitespace().count();
        let mut parts: Vec<String> = match fields {
            5 => std::iter::once("0")
                .chain(expr.split_whitespace())
                .map(str::to_owned)
                .collect(),
            6 | 7 => expr.split_whitespace().map(str::to_owned).collect(),
            _ => {
                return Err(format!(
                    "invalid cron expression {expr:?}: expected 5 fields (min hour day month weekday) \
                     or 6 with seconds first, found {fields}"
                ));
            }
        };
        // Seconds, minutes, hours, day of month, month, then the weekday.
        parts[5] = quartz_weekdays(&parts[5])
            .map_err(|e| format!("invalid cron expression {expr:?}: weekday field: {e}"))?;
        let normalised = parts.join(" ");
        let schedule = cron::Schedule::from_str(&normalised)
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(format!("cron expression {expr:?} never fires"));
        }
        Ok(CronSchedule {
            expr: expr.to_owned(),
            schedule,
        })
    }

    /// The first fire time strictly after `after`, with the expression read
    /// in `tz` (so "0 0 6 * * *" means 06:00 local, DST included).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.upcoming(after, tz, 1).into_iter().next()
    }

    /// The next `n` fire times strictly after `after`.
    ///
    /// The expression is walked in wall-clock time (the `cron` crate reads
    /// it on naive local times, given as UTC), and each time is then placed
    /// in `tz`, as crontab places them:
    ///
    /// - in the hour the clock repeats (02:00–03:00 in Paris on the last
    ///   Sunday of October), a time runs once, in its first pass. The
    ///   crate, walking zoned times, gave 02:30 *summer* time for an
    ///   `after` at 02:10 winter time: a run an hour in the past, which the
    ///   scheduler ran at once, and again, until the hour was over;
    /// - in the hour the clock skips (02:00–03:00 on the last Sunday of
    ///   March), a time runs when the clock jumps, as cron(8) does: "those jobs
    ///   which would have run in the time that was skipped will be run soon
    ///   after the change". The crate skipped them: a crawl set at 02:30
    ///   did not run that day. Several skipped times run once.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let wall_after = after.with_timezone(&tz).naive_local().and_utc();
        let mut out: Vec<DateTime<Utc>> = Vec::with_capacity(n);
        for wall in self.schedule.after(&wall_after) {
            if out.len() == n {
                break;
            }
            let at = placed(wall.naive_utc(), tz);
            if at > after && out.last() != Some(&at) {
                out.push(at);
            }
        }
        out
    }
}

/// The instant the wall-clock time `wall` names in `tz`: its first pass when
/// the clock repeats it, the end of the gap when the clock skips it.
fn placed(wall: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // The first minute past the gap (time zone gaps are whole
            // minutes, and none is longer than a day: Samoa skipped
            // 2011-12-30).
            (1..=24 * 60)
                .find_map(|m| {
                    tz.from_local_datetime(&(wall + TimeDelta::minutes(m)))
                        .earliest()
                })
                .map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

/// A crontab weekday field (0-7, 0 and 7 = Sunday) in the `cron` crate's
/// Quartz numbering (1-7, 1 = Sunday). Numeric parts (`n`, `a-b`, `*/s`,
/// `a-b/s`, `n/s`) are expanded to the days they name and written as a list,
/// which also handles ranges through Sunday (`5-7`: Friday to Sunday, which
/// is no range in Quartz numbers). Parts with day names, `*` and `?` are
/// left to the crate.
fn quartz_weekdays(field: &str) -> Result<String, String> {
    let day = |s: &str| -> Result<u32, String> {
        match s.parse::<u32>() {
            Ok(d) if d <= 7 => Ok(d),
            _ => Err(format!(
                "{s:?} is not a weekday number (0-7, 0 and 7 = Sunday)"
            )),
        }
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        if part == "*" || part == "?" || part.chars().any(|c| c.is_ascii_alphabetic()) {
            out.push(part.to_owned());
            continue;
        }
        let (base, step) = match part.split_once('/') {
            Some((base, step)) => match step.parse::<u32>() {
                Ok(s) if s > 0 => (base, s),
                _ => return Err(format!("{step:?} is not a step (a whole number above 0)")),
            },
            None => (part, 1),
        };
        let (lo, hi) = match base.split_once('-') {
            _ if base == "*" => (0, 6),
            Some((a, b)) => (day(a)?, day(b)?),
            // `n/s` runs from n to the end of the week; `n` alone is one day.
            None if step > 1 || part.contains('/') => (day(base)?, 7),
            None => (day(base)?, day(base)?),
        };
        if lo > hi {
            return Err(format!(
                "range {base:?} runs backwards (write {lo}-7,0-{hi} for a week-end range)"
            ));
        }
        let mut days: Vec<u32> = (lo..=hi)
            .step_by(step as usize)
            .map(|d| d % 7 + 1)
            .collect();
        days.sort_unstable();
        days.dedup();
        out.extend(days.iter().map(u32::to_string));
    }
    Ok(out.join(","))
}

/// One validated source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Unique id, `[a-z0-9-]+`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How to read it.
    pub kind: SourceKind,
    /// Where to read it.
    pub url: Url,
    /// When to read it.
    pub schedule: CronSchedule,
    /// Level of the funder.
    pub level: Level,
    /// Funder name.
    pub funder: String,
    /// Language of the content.
    pub language: Language,
    /// Zone for times given without one, and for the schedule.
    pub timezone: Tz,
    /// Tags added to every call.
    pub tags: Vec<String>,
    /// eu-portal: `frameworkProgramme` ids (empty = all).
    pub programmes: Vec<String>,
    /// eu-portal: statuses asked for.
    pub statuses: Vec<Status>,
    /// Keep only items whose title or summary contains one of these
    /// (case-insensitive; empty = keep all). For news feeds that mix calls
    /// with other items (SOURCES-CATALOGUE.md, EU feeds).
    pub include: Vec<String>,
    /// Drop items whose title or summary contains one of these.
    pub exclude: Vec<String>,
    /// Politeness and limits.
    pub fetch: FetchPolicy,
}

/// Every source of one `sources.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    /// The file they came from.
    pub path: PathBuf,
    /// In file order.
    pub list: Vec<Source>,
}

impl Sources {
    /// Reads and validates a sources file.
    pub fn load(path: &Path) -> Result<Sources, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Sources::parse(&text, path)
    }

    /// Validates the text of a sources file; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Sources, ConfigError> {
        let raw: RawSourcesFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            source_id: e.span().and_then(|span| source_id_at(text, span.start)),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        let defaults = apply_fetch(FetchPolicy::default(), &raw.defaults, path, None)?;
        let mut seen = HashSet::new();
        let mut list = Vec::with_capacity(raw.source.len());
        for rs in raw.source {
            let source = validate_source(rs, &defaults, path)?;
            if !seen.insert(source.id.clone()) {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    source_id: Some(source.id.clone()),
                    key: "id".into(),
                    message: "duplicate source id: each [[source]] needs its own id".into(),
                });
            }
            list.push(source);
        }
        Ok(Sources {
            path: path.to_owned(),
            list,
        })
    }

    /// The source with this id.
    pub fn get(&self, id: &str) -> Option<&Source> {
        self.list.iter().find(|s| s.id == id)
    }
}

/// Finds the `id = "..."` of the `[[source]]` block containing byte `offset`,
/// so a TOML error inside a source can name it.
fn source_id_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let start = before.rfind("[[source]]")?;
    let block_end = text[start + 10..]
        .find("[[source]]")
        .map(|i| start + 10 + i)
        .unwrap_or(text.len());
    text[start..block_end].lines().find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("id")?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        let rest = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\''))?;
        let end = rest.find(['"', '\''])?;
        Some(rest[..end].to_owned())
    })
}

fn apply_fetch(
    mut base: FetchPolicy,
    raw: &RawFetch,
    path: &Path,
    source_id: Option<&str>,
) -> Result<FetchPolicy, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        source_id: source_id.map(str::to_owned),
        key: key.to_owned(),
        message,
    };
    if let Some(ua) = &raw.user_agent {
        if ua.trim().is_empty() || ua.contains(['\r', '\n']) {
            return Err(invalid("user_agent", "must be one non-empty line".into()));
        }
        base.user_agent = ua.clone();
    }
    if let Some(d) = raw.min_delay_per_host {
        base.min_delay_per_host = d;
    }
    if let Some(d) = raw.timeout {
        if d.is_zero() {
            return Err(invalid(
                "timeout",
                "must be more than zero, e.g. \"30s\"".into(),
            ));
        }
        base.timeout = d;
    }
    if let Some(d) = raw.connect_timeout {
        if d.is_zero() {
            return Err(invalid(
                "connect_timeout",
                "must be more than zero, e.g. \"10s\"".into(),
            ));
        }
        base.connect_timeout = d;
    }
    if let Some(b) = &raw.max_body {
        let size: bytesize::ByteSize = b.parse().map_err(|e| {
            invalid(
                "max_body",
                format!("invalid size {b:?} ({e}); write e.g. \"20MB\""),
            )
        })?;
        if size.as_u64() == 0 {
            return Err(invalid("max_body", "must be more than zero".into()));
        }
        base.max_body = size.as_u64();
    }
    if let Some(r) = raw.max_retries {
        base.max_retries = r;
    }
    Ok(base)
}

fn validate_source(
    rs: RawSource,
    defaults: &FetchPolicy,
    path: &Path,
) -> Result<Source, ConfigError> {
    let id = rs.id.clone();
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        source_id: Some(id.clone()),
        key: key.to_owned(),
        message,
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            "id",
            format!("{id:?} is not a valid id: use lowercase letters, digits and '-'"),
        ));
    }
    let url = Url::parse(&rs.url)
        .map_err(|e| invalid("url", format!("invalid URL {:?}: {e}", rs.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url", format!("{} is not an http(s) URL", rs.url)));
    }
    let schedule = CronSchedule::parse(&rs.schedule).map_err(|m| invalid("schedule", m))?;
    let level = rs.level.parse::<Level>().map_err(|m| invalid("level", m))?;
    let language = rs
        .language
        .parse::<Language>()
        .map_err(|m| invalid("language", m))?;
    let timezone = match &rs.timezone {
        Some(tz) => tz.parse::<Tz>().map_err(|_| {
            invalid(
                "timezone",
                format!("unknown time zone {tz:?}: use an IANA name such as \"Europe/Paris\""),
            )
        })?,
        None => chrono_tz::Europe::Paris,
    };
    if rs.funder.trim().is_empty() {
        return Err(invalid("funder", "must not be empty".into()));
    }
    let statuses = rs
        .statuses
        .iter()
        .map(|s| s.parse::<Status>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("statuses", m))?;
    let kind = match rs.kind.as_str() {
        "feed" => {
            if rs.html.is_some() {
                return Err(invalid(
                    "html",
                    "only sources of kind \"html\" take an [source.html] table".into(),
                ));
            }
            SourceKind::Feed
        }
        "eu-portal" => {
            if rs.html.is_some() {
                return Err(invalid(
                    "html",
                    "only sources of kind \"html\" take an [source.html] table".into(),
                ));
            }
            for p in &rs.programmes {
                if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                    return Err(invalid(
                        "programmes",
                        format!(
                            "{p:?} is not a frameworkProgramme id (digits, e.g. \"43108390\" for Horizon Europe)"
                        ),
                    ));
                }
            }
            SourceKind::EuPortal
        }
        "html" => {
            let raw = rs.html.ok_or_else(|| {
                invalid("html", "a source of kind \"html\" needs an [source.html] table with item, title and link".into())
            })?;
            SourceKind::Html(Box::new(validate_html(raw, &invalid)?))
        }
        other => {
            return Err(invalid(
                "kind",
                format!("unknown kind {other:?}: expected \"feed\", \"html\" or \"eu-portal\""),
            ));
        }
    };
    let overrides = RawFetch {
        user_agent: rs.user_agent,
        min_delay_per_host: rs.min_delay_per_host,
        timeout: rs.timeout,
        connect_timeout: rs.connect_timeout,
        max_body: rs.max_body,
        max_retries: rs.max_retries,
    };
    let fetch = apply_fetch(defaults.clone(), &overrides, path, Some(&id))?;
    Ok(Source {
        name: rs.name.unwrap_or_else(|| id.clone()),
        id,
        kind,
        url,
        schedule,
        level,
        funder: rs.funder,
        language,
        timezone,
        tags: rs.tags,
        programmes: rs.programmes,
        statuses,
        include: rs.include.iter().map(|s| s.to_lowercase()).collect(),
        exclude: rs.exclude.iter().map(|s| s.to_lowercase()).collect(),
        fetch,
    })
}

fn validate_html(
    raw: RawHtml,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<HtmlSpec, ConfigError> {
    let field = |key: &str, v: &str| Field::parse(v).map_err(|m| invalid(key, m));
    let opt = |key: &str, v: &Option<String>| v.as_deref().map(|v| field(key, v)).transpose();
    let detail = match raw.detail {
        None => None,
        Some(d) => Some(DetailSpec {
            body: opt("html.detail.body", &d.body)?,
            title: opt("html.detail.title", &d.title)?,
            summary: opt("html.detail.summary", &d.summary)?,
            deadline: opt("html.detail.deadline", &d.deadline)?,
            opening: opt("html.detail.opening", &d.opening)?,
        }),
    };
    let max_pages = raw.max_pages.unwrap_or(1);
    if max_pages == 0 {
        return Err(invalid("html.max_pages", "must be at least 1".into()));
    }
    Ok(HtmlSpec {
        item: field("html.item", &raw.item)?,
        title: field("html.title", &raw.title)?,
        link: field("html.link", &raw.link)?,
        summary: opt("html.summary", &raw.summary)?,
        deadline: opt("html.deadline", &raw.deadline)?,
        opening: opt("html.opening", &raw.opening)?,
        next_page: opt("html.next_page", &raw.next_page)?,
        max_pages,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[defaults]
user_agent = "fundwatch/0.1 (+mailto:veille@example.org)"
min_delay_per_host = "2s"
timeout = "30s"
max_body = "20MB"

[[source]]
id = "eu-horizon"
name = "EU Funding & Tenders Portal — Horizon Europe"
kind = "eu-portal"
url = "https://api.tech.ec.europa.eu/search-api/prod/rest/search"
schedule = "0 0 6 * * *"
level = "eu"
funder = "European Commission"
language = "en"
timezone = "Europe/Brussels"
tags = ["horizon-europe"]
programmes = ["43108390"]
statuses = ["open", "forthcoming"]

[[source]]
id = "region-aura"
kind = "html"
url = "https://www.auvergnerhonealpes.fr/aides"
schedule = "30 5 * * 1-5"
level = "regional"
funder = "Région Auvergne-Rhône-Alpes"
language = "fr"
timeout = "10s"
[source.html]
item = "article"
title = "h3"
link = "a@href"
summary = ".summary"
deadline = ".date"
next_page = "a.next@href"
max_pages = 5
[source.html.detail]
body = "main"
deadline = ".date-limite"
"#;

    fn err(text: &str) -> String {
        Sources::parse(text, Path::new("sources.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_issue_example_parses_with_defaults_and_overrides() {
        let s = Sources::parse(GOOD, Path::new("sources.toml")).unwrap();
        assert_eq!(s.list.len(), 2);
        let eu = &s.list[0];
        assert_eq!(eu.kind, SourceKind::EuPortal);
        assert_eq!(eu.statuses, vec![Status::Open, Status::Forthcoming]);
        assert_eq!(eu.fetch.max_body, 20_000_000);
        assert_eq!(eu.fetch.timeout, Duration::from_secs(30));
        let aura = &s.list[1];
        assert_eq!(aura.name, "region-aura");
        assert_eq!(aura.fetch.timeout, Duration::from_secs(10));
        assert_eq!(aura.fetch.min_delay_per_host, Duration::from_secs(2));
        let SourceKind::Html(html) = &aura.kind else {
            panic!("html")
        };
        assert_eq!(html.link.attr.as_deref(), Some("href"));
        assert_eq!(html.next_page.as_ref().unwrap().raw, "a.next@href");
        assert_eq!(html.max_pages, 5);
        assert!(html.detail.as_ref().unwrap().body.is_some());
    }

    /// Weekday numbers are crontab's (0 and 7 = Sunday, 1 = Monday), in
    /// the 5- and the 6-field forms; the `cron` crate alone reads 1 as
    /// Sunday, so `0 7 * * 1` ran on Sundays and `* * 0` was refused.
    #[test]
    fn cron_weekday_numbers_are_crontab_numbers_not_quartz() {
        // Saturday 28 November 2026, 12:00 in Paris.
        let after = "2026-11-28T11:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let paris = chrono_tz::Europe::Paris;
        let weekdays = |expr: &str| -> Vec<String> {
            CronSchedule::parse(expr)
                .unwrap_or_else(|e| panic!("{expr}: {e}"))
                .upcoming(after, paris, 7)
                .iter()
                .map(|t| t.with_timezone(&paris).format("%a %d").to_string())
                .collect()
        };
        let table: &[(&str, &[&str])] = &[
            ("0 7 * * 1", &["Mon 30", "Mon 07"]),
            ("0 0 7 * * 1", &["Mon 30", "Mon 07"]),
            ("0 7 * * 0", &["Sun 29", "Sun 06"]),
            ("0 7 * * 7", &["Sun 29", "Sun 06"]),
            (
                "0 7 * * 1-5",
                &["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04"],
            ),
            ("0 7 * * 5-7", &["Sun 29", "Fri 04", "Sat 05", "Sun 06"]),
            ("0 7 * * 6,0", &["Sun 29", "Sat 05", "Sun 06"]),
            ("0 7 * * */3", &["Sun 29", "Wed 02", "Sat 05", "Sun 06"]),
            ("0 7 * * MON", &["Mon 30", "Mon 07"]),
            (
                "0 7 * * Mon-Fri",
                &["Mon 30", "Tue 01", "Wed 02", "Thu 03", "Fri 04"],
            ),
            ("0 7 * * *", &["Sun 29", "Mon 30", "Tue 01"]),
        ];
        for (expr, want) in table {
            let got = weekdays(expr);
            assert_eq!(&got[..want.len()], *want, "{expr}: {got:?}");
        }
        for bad in ["0 7 * * 8", "0 7 * * 5-2", "0 7 * * 1/0"] {
            let err = CronSchedule::parse(bad).unwrap_err();
            assert!(err.contains("weekday field"), "{bad}: {err}");
        }
    }

    /// Across both DST changes of Europe/Paris, the next run is always
    /// after the instant asked about, and each run comes once.
    #[test]
    fn next_run_is_always_later_across_dst_changes() {
        let paris = chrono_tz::Europe::Paris;
        for expr in ["*/30 * * * *", "0 30 2 * * *", "0 0 3 * * *", "15 2 * * *"] {
            let s = CronSchedule::parse(expr).unwrap();
            for night in ["2026-10-24T23:00:00Z", "2026-03-28T23:00:00Z"] {
                let start = night.parse::<DateTime<Utc>>().unwrap();
                for minute in 0..(5 * 60) {
                    let after = start + chrono::TimeDelta::minutes(minute);
                    let next = s.next_after(after, paris).unwrap();
                    assert!(next > after, "{expr}: next_after({after}) = {next}");
                }
                // Run after run through the night: no local time twice.
                let end = start + chrono::TimeDelta::hours(5);
                let mut seen = std::collections::HashSet::new();
                let mut t = start;
                while let Some(next) = s.next_after(t, paris).filter(|n| *n < end) {
                    let local = next.with_timezone(&paris).naive_local();
                    assert!(seen.insert(local), "{expr}: {local} runs twice");
                    t = next;
                }
            }
        }
    }

    /// A job set in the hour the clock skips in spring ran on no day that
    /// week-end: the `cron` crate skipped the time that did not exist. It
    /// now runs when the clock jumps, once however many skipped times.
    #[test]
    fn a_time_in_the_skipped_spring_hour_runs_when_the_clock_jumps() {
        let paris = chrono_tz::Europe::Paris;
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 2027-03-28: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
        let night = at("2027-03-27T23:00:00Z");
        let table: &[(&str, &[&str])] = &[
            (
                "0 30 2 * * *",
                &["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"],
            ),
            (
                "0 2 * * *",
                &["2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z"],
            ),
            (
                "*/30 * * * *",
                &[
                    "2027-03-27T23:30:00Z",
                    "2027-03-28T00:00:00Z",
                    "2027-03-28T00:30:00Z",
                    "2027-03-28T01:00:00Z",
                    "2027-03-28T01:30:00Z",
                ],
            ),
            (
                "0 0 6 * * *",
                &["2027-03-28T04:00:00Z", "2027-03-29T04:00:00Z"],
            ),
        ];
        for (expr, want) in table {
            let s = CronSchedule::parse(expr).unwrap();
            let got: Vec<String> = s
                .upcoming(night, paris, want.len())
                .iter()
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .collect();
            assert_eq!(&got, want, "{expr}");
        }
        // Asked from inside the gap's run: the next one is the next day's.
        let s = CronSchedule::parse("0 30 2 * * *").unwrap();
        assert_eq!(
            s.next_after(at("2027-03-28T01:00:00Z"), paris),
            Some(at("2027-03-29T00:30:00Z"))
        );
    }

    #[test]
    fn five_field_crontab_fires_in_the_source_zone() {
        let s = CronSchedule::parse("0 6 * * *").unwrap();
        let after = "2026-07-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // 06:00 in Paris in summer is 04:00 UTC.
        assert_eq!(
            s.next_after(after, chrono_tz::Europe::Paris)
                .unwrap()
                .to_rfc3339(),
            "2026-07-01T04:00:00+00:00"
        );
    }

    #[test]
    fn bad_configurations_name_file_source_and_key() {
        let table: &[(&str, &str, &[&str])] = &[
            (
                "unknown key in a source",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\nschedul = \"x\"\n",
                &["sources.toml", "source \"a\"", "schedul"],
            ),
            (
                "invalid cron",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://x.org/\"\nschedule = \"every day\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n",
                &["source \"a\"", "key `schedule`", "cron"],
            ),
            (
                "unknown zone",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\ntimezone = \"Europe/Pariss\"\n",
                &["key `timezone`", "Europe/Pariss"],
            ),
            (
                "bad url",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"not a url\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n",
                &["key `url`"],
            ),
            (
                "bad selector",
                "[[source]]\nid = \"a\"\nkind = \"html\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n[source.html]\nitem = \"article[\"\ntitle = \"h3\"\nlink = \"a@href\"\n",
                &["key `html.item`", "invalid CSS selector"],
            ),
            (
                "unknown html key",
                "[[source]]\nid = \"a\"\nkind = \"html\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n[source.html]\nitem = \"article\"\ntitle = \"h3\"\nlink = \"a@href\"\nbody = \"main\"\n",
                &["source \"a\"", "body"],
            ),
            (
                "duplicate id",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://y.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n",
                &["source \"a\"", "duplicate"],
            ),
            (
                "bad level",
                "[[source]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://x.org/\"\nschedule = \"0 6 * * *\"\nlevel = \"world\"\nfunder = \"F\"\nlanguage = \"en\"\n",
                &["key `level`", "regional, national, eu, international"],
            ),
            (
                "unknown defaults key",
                "[defaults]\ndelay = \"2s\"\n",
                &["sources.toml", "delay"],
            ),
            (
                "bad max_body",
                "[defaults]\nmax_body = \"lots\"\n",
                &["key `max_body`"],
            ),
        ];
        for (name, text, needles) in table {
            let msg = err(text);
            for n in *needles {
                assert!(msg.contains(n), "{name}: {msg:?} lacks {n:?}");
            }
        }
    }

    #[test]
    fn the_shipped_sources_file_is_valid() {
        let s = Sources::parse(include_str!("../sources.toml"), Path::new("sources.toml")).unwrap();
        for required in [
            "eu-horizon",
            "eu-erasmus",
            "eu-other",
            "anr",
            "campusfrance-phc",
            "region-aura",
            "euraxess-funding",
            "ukri",
            "nsf",
            "eu-msca",
            "eu-erc",
        ] {
            assert!(
                s.get(required).is_some(),
                "{required} missing from sources.toml"
            );
        }
    }

    #[test]
    fn field_splits_attribute_but_not_inside_brackets() {
        let f = Field::parse("a.next@href").unwrap();
        assert_eq!(f.attr.as_deref(), Some("href"));
        let f = Field::parse("time@datetime").unwrap();
        assert_eq!(f.attr.as_deref(), Some("datetime"));
        let f = Field::parse("a[href*=\"@x\"]").unwrap();
        assert_eq!(f.attr, None);
    }
}
