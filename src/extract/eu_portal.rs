//! The EU Funding & Tenders portal's SEDIA search API (SOURCES-FORMATS.md §1):
//! the multipart query, the page URLs, the response pages, and the mapping of
//! result rows to drafts.
//!
//! The fetch side posts [`request`]'s parts to [`page_url`] for page 1, 2, …
//! until `page * PAGE_SIZE >= total_results`, hands each body to
//! [`parse_page`], and gives **all** rows of all pages to [`into_drafts`]
//! at once, because the same topic can appear on two pages (§1.6).
//!
//! What the real responses teach (sedia_search_response_horizon_subset.json,
//! sedia_search_result_item_2023_batt4eu.json):
//! - every `metadata` value is an array of strings;
//! - a topic can appear several times (new and legacy index, stub rows
//!   without `status` or `descriptionByte`);
//! - `deadlineDate` at midnight UTC is a day (the real cut-off, 17:00
//!   Brussels, is only on the portal page), anything else an instant;
//! - `actions` and `budgetOverview` are JSON inside strings, and may be
//!   truncated: their complete part is salvaged and the damage reported.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Value, json};
use url::Url;

use super::text::{html_to_text, one_line, words};
use super::{ExtractProblem, Extracted, keep_item};
use crate::config::Source;
use crate::model::{CallDraft, DatePoint, Status};

mod budget;
mod page;

use budget::{Overview, budget_for};
pub use page::{Meta, PortalPage, PortalRow, parse_page};

/// Rows per page; the server caps `pageSize` at 100 (§1.1).
pub const PAGE_SIZE: u32 = 100;

/// The programme period every query is restricted to.
pub const PROGRAMME_PERIOD: &str = "2021 - 2027";

/// Human page of a call-for-proposals topic (type 1). The real rows' `url`
/// uses the identifier as is (not lowercased), e.g.
/// `…/topic-details/HORIZON-MISS-2027-05-SOIL-01-two-stage`.
pub const TOPIC_URL: &str = "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/";

/// The zone the portal's dates are meant in.
const PORTAL_ZONE: Tz = chrono_tz::Europe::Brussels;

/// SEDIA status ids (§1.1; confirmed by the `actions` JSON of the real rows).
const STATUS_IDS: &[(Status, &str)] = &[
    (Status::Forthcoming, "31094501"),
    (Status::Open, "31094502"),
    (Status::Closed, "31094503"),
];

/// `frameworkProgramme` ids, their identifier prefixes, and display names
/// (§1.7: from other people's code, unverified; 111111 seen on EuropeAid rows).
const PROGRAMMES: &[(&str, &[&str], &str)] = &[
    ("43108390", &["HORIZON", "ERC", "EIC"], "Horizon Europe"),
    ("31045243", &["H2020"], "Horizon 2020"),
    ("43298916", &["EURATOM"], "Euratom"),
    ("43152860", &["DIGITAL"], "Digital Europe"),
    ("44181033", &["EDF"], "European Defence Fund"),
    ("43252405", &["LIFE"], "LIFE"),
    ("43251567", &["CEF"], "Connecting Europe Facility"),
    ("43353764", &["ERASMUS"], "Erasmus+"),
    (
        "43251589",
        &["CERV"],
        "Citizens, Equality, Rights and Values",
    ),
    ("43254019", &["ESF"], "European Social Fund+"),
    ("43251814", &["CREA"], "Creative Europe"),
    ("44416173", &["I3"], "Interregional Innovation Investments"),
    ("43252368", &["ISF"], "Internal Security Fund"),
    ("44773066", &["JTM"], "Just Transition Mechanism"),
    ("45532249", &["EUBA"], "EUBA"),
    ("43252386", &["JUST"], "Justice"),
    (
        "43637601",
        &["PPPA"],
        "Pilot Projects and Preparatory Actions",
    ),
    ("43252476", &["SMP"], "Single Market Programme"),
    ("43252517", &["SOCPL"], "SOCPL"),
    ("43254037", &["ESC"], "European Solidarity Corps"),
    (
        "43392145",
        &["EMFAF"],
        "European Maritime, Fisheries and Aquaculture Fund",
    ),
    ("43089234", &["INNOVFUND"], "Innovation Fund"),
    ("43332642", &["EU4H"], "EU4Health"),
    ("45876777", &["NDICI"], "NDICI – Global Europe"),
    (
        "43253967",
        &["RENEWFM"],
        "Union Renewable Energy Financing Mechanism",
    ),
    ("111111", &["EuropeAid"], "EuropeAid"),
];

/// The multipart body of a search request: `(part name, JSON text)` in
/// order. Each part must be sent as a *file* part (`filename="blob"`,
/// `Content-Type: application/json`), §1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalRequest {
    /// `query`, `languages`, `sort`.
    pub parts: Vec<(String, String)>,
}

/// The request for `source`: topics and calls (types 1 and 2) of the
/// statuses it asks for (default open and forthcoming), of its programmes
/// (all when none), in the 2021–2027 period, sorted on `identifier` so that
/// paging is deterministic (sorting on `sortStatus` shuffles ties between
/// pages, §1.1).
///
/// `displayFields` is left out on purpose: it would restrict the answer to
/// the listed fields, and we need `descriptionByte`, `budgetOverview`,
/// `actions`, `keywords` and `tags`.
pub fn request(source: &Source) -> PortalRequest {
    let statuses: Vec<Status> = if source.statuses.is_empty() {
        vec![Status::Open, Status::Forthcoming]
    } else {
        source.statuses.clone()
    };
    let mut status_ids: Vec<&str> = Vec::new();
    for s in statuses {
        if let Some((_, id)) = STATUS_IDS.iter().find(|(st, _)| *st == s)
            && !status_ids.contains(id)
        {
            status_ids.push(id);
        }
    }
    let mut must = vec![
        json!({"terms": {"type": ["1", "2"]}}),
        json!({"terms": {"status": status_ids}}),
    ];
    if !source.programmes.is_empty() {
        must.push(json!({"terms": {"frameworkProgramme": source.programmes}}));
    }
    must.push(json!({"term": {"programmePeriod": PROGRAMME_PERIOD}}));
    let query = json!({"bool": {"must": must}});
    PortalRequest {
        parts: vec![
            ("query".to_owned(), query.to_string()),
            ("languages".to_owned(), json!(["en"]).to_string()),
            (
                "sort".to_owned(),
                json!({"field": "identifier", "order": "ASC"}).to_string(),
            ),
        ],
    }
}

/// The URL of one result page: `base` with `apiKey=SEDIA` and `text=***`
/// (unless `base` already sets them, e.g. another public index) and
/// `pageSize`/`pageNumber` (1-based). Other parameters of `base` are kept.
pub fn page_url(base: &Url, page_number: u32, page_size: u32) -> Url {
    let mut url = base.clone();
    let mut api_key = "SEDIA".to_owned();
    let mut text = "***".to_owned();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in base.query_pairs() {
        match k.as_ref() {
            "apiKey" if !v.is_empty() => api_key = v.into_owned(),
            "text" if !v.is_empty() => text = v.into_owned(),
            "apiKey" | "text" | "pageSize" | "pageNumber" => {}
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("apiKey", &api_key)
        .append_pair("text", &text)
        .append_pair("pageSize", &page_size.to_string())
        .append_pair("pageNumber", &page_number.to_string());
    url
}

/// What the collapsing of duplicates (§1.6) needs to know of a row.
impl PortalRow {
    fn description(&self) -> &str {
        self.meta(Meta::DescriptionByte).unwrap_or("")
    }

    /// The key duplicates are collapsed on (§1.6): `callccm2Id` for
    /// cascade-funding calls (type 8, whose `identifier` is the parent
    /// topic's), `identifier` otherwise, `reference` as a last resort; as
    /// (which, value).
    fn dedup_key(&self) -> Option<(&'static str, &str)> {
        if self.meta(Meta::Type) == Some("8") {
            if let Some(c) = self.meta(Meta::Callccm2Id) {
                return Some(("callccm2Id", c));
            }
        } else if let Some(id) = self.meta(Meta::Identifier) {
            return Some(("identifier", id));
        }
        self.reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| ("reference", r))
    }

    /// Rows with a status and a description are the complete ones.
    fn completeness(&self) -> u8 {
        u8::from(self.meta(Meta::Status).is_some())
            + u8::from(!self.description().trim().is_empty())
    }

    fn label(&self, n: usize) -> String {
        match self.meta(Meta::Identifier).or(self.reference.as_deref()) {
            Some(id) => format!("row {n} ({id})"),
            None => format!("row {n}"),
        }
    }
}

/// Collapses duplicates and stubs across all pages (§1.6), keeping the most
/// complete row of each topic at the place it first appeared, then maps each
/// to a draft. Unreadable rows and damaged fields are problems.
pub fn into_drafts(rows: Vec<PortalRow>, source: &Source, now: DateTime<Utc>) -> Extracted {
    let _ = now; // Every date the portal gives is absolute; kept for the common signature.
    let mut out = Extracted::default();
    // (row number, index in `rows`) of the row kept for each key, in the
    // order the keys first appeared.
    let mut kept: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    let mut by_key: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if let Some(why) = &row.malformed {
            out.problems
                .push(ExtractProblem::new(format!("row {n}"), why.clone()));
            continue;
        }
        let Some(key) = row.dedup_key() else {
            out.problems.push(ExtractProblem::new(
                format!("row {n}"),
                "no identifier, callccm2Id or reference; skipped",
            ));
            continue;
        };
        match by_key.get(&key) {
            Some(&at) => {
                if row.completeness() > rows[kept[at].1].completeness() {
                    kept[at] = (n, i);
                }
            }
            None => {
                by_key.insert(key, kept.len());
                kept.push((n, i));
            }
        }
    }
    for (n, i) in kept {
        if let Some(draft) = row_to_draft(&rows[i], n, &mut out.problems)
            && keep_item(source, &draft.title, &draft.summary)
        {
            out.calls.push(draft);
        }
    }
    out
}

fn row_to_draft(
    row: &PortalRow,
    n: usize,
    problems: &mut Vec<ExtractProblem>,
) -> Option<CallDraft> {
    // Built only when a problem is reported.
    let label = || row.label(n);
    let kind = row.meta(Meta::Type).unwrap_or("1");
    let identifier = row.meta(Meta::Identifier).map(str::to_owned);
    let summary_field = row.summary.as_deref().filter(|s| !s.trim().is_empty());
    // A cascade call's `metadata.title` is its parent topic's; its own name
    // is `caName`, also given as `summary` (sedia_search_open_calls_flattened.csv).
    let own_title = if kind == "8" {
        row.meta(Meta::CaName)
            .or(summary_field)
            .or(row.meta(Meta::Title))
    } else {
        row.meta(Meta::Title).or(summary_field)
    };
    let title = own_title
        .or(row.content.as_deref().filter(|s| !s.trim().is_empty()))
        .map(one_line)
        .or_else(|| identifier.clone());
    let Some(title) = title else {
        problems.push(ExtractProblem::new(
            label(),
            "no title, summary, content or identifier; skipped",
        ));
        return None;
    };
    let given_url = row
        .url
        .as_deref()
        .or(row.meta(Meta::Url))
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let url = match (kind, &identifier) {
        ("1", Some(id)) => format!("{TOPIC_URL}{id}"),
        _ => match given_url {
            Some(u) => u.to_owned(),
            None => {
                problems.push(ExtractProblem::new(
                    label(),
                    "no URL for a non-topic row; skipped",
                ));
                return None;
            }
        },
    };
    let native_id = match kind {
        "8" => row.meta(Meta::Callccm2Id).map(str::to_owned),
        _ => identifier.clone(),
    }
    .or_else(|| row.reference.clone());
    let identifiers = match (kind, &identifier) {
        ("8", _) | (_, None) => Vec::new(),
        (_, Some(id)) => vec![id.clone()],
    };

    // The deadlines of `metadata` first: `actions` is read only for what
    // `metadata` lacks (stub rows, §1.6). Their problems are reported after
    // those of the JSON fields, as before.
    let mut deadlines = Vec::new();
    let mut date_problems = Vec::new();
    for raw in row.metas(Meta::DeadlineDate) {
        match portal_date(raw) {
            Some(d) => deadlines.push(d),
            None => date_problems.push(ExtractProblem::new(
                label(),
                format!("deadlineDate {raw:?} is not YYYY-MM-DDTHH:MM:SS.mmm+HHMM; ignored"),
            )),
        }
    }
    let needs_actions = deadlines.is_empty()
        || row.meta(Meta::Status).is_none()
        || row.meta(Meta::DeadlineModel).is_none();
    let actions: Option<Value> = lenient(row, Meta::Actions, needs_actions, label, problems);
    let overview: Option<Overview> = lenient(
        row,
        Meta::BudgetOverview,
        identifier.is_some(),
        label,
        problems,
    );
    problems.extend(date_problems);
    let first_action = actions.as_ref().and_then(|a| a.get(0));

    let source_status = row
        .meta(Meta::Status)
        .map(str::to_owned)
        .or_else(|| {
            first_action
                .and_then(|a| a.pointer("/status/id"))
                .map(|v| v.to_string())
        })
        .and_then(|id| STATUS_IDS.iter().find(|(_, s)| *s == id).map(|(st, _)| *st));

    let model = row
        .meta(Meta::DeadlineModel)
        .map(str::to_owned)
        .or_else(|| {
            first_action
                .and_then(|a| a.pointer("/submissionProcedure/abbreviation"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();

    if deadlines.is_empty()
        && let Some(dates) = first_action
            .and_then(|a| a.get("deadlineDates"))
            .and_then(Value::as_array)
    {
        // `actions[].deadlineDates` are plain days (§1.4).
        deadlines.extend(dates.iter().filter_map(Value::as_str).filter_map(|s| {
            chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| DatePoint::day(d, PORTAL_ZONE, s.trim()))
        }));
    }
    label_stages(&mut deadlines, &model);
    let opening = row.meta(Meta::StartDate).and_then(portal_date);

    let budget = match (&overview, &identifier) {
        (Some(ov), Some(id)) => budget_for(ov, id),
        _ => None,
    };

    let text = html_to_text(row.description());
    let summary = lead(&text);
    let programme = programme_name(row.meta(Meta::FrameworkProgramme), identifier.as_deref());
    let tags = tags_of(row, identifier.as_deref());

    Some(CallDraft {
        native_id,
        url,
        title,
        summary,
        text,
        funder: None,
        programme,
        opening,
        deadlines,
        source_status,
        budget,
        tags,
        language: None,
        identifiers,
    })
}

/// A SEDIA date. Midnight UTC is a day (the portal's current index stores
/// days that way, §1.4); anything else is an instant, shown in Brussels time
/// when its offset is Brussels' at that moment (legacy `19:00:00.000+0200`),
/// else in UTC (type 8 `23:59:00.000+0000`: the organiser's zone is unknown).
fn portal_date(raw: &str) -> Option<DatePoint> {
    let raw = raw.trim();
    let at = match canonical_portal_date(raw) {
        Some(at) => at,
        None => DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.3f%z")
            .or_else(|_| DateTime::parse_from_rfc3339(raw))
            .ok()?,
    };
    let utc = at.with_timezone(&Utc);
    if utc.time() == NaiveTime::MIN {
        return Some(DatePoint::day(utc.date_naive(), PORTAL_ZONE, raw));
    }
    let brussels_offset = PORTAL_ZONE.offset_from_utc_datetime(&utc.naive_utc()).fix();
    let zone = if *at.offset() == brussels_offset {
        PORTAL_ZONE
    } else {
        Tz::UTC
    };
    Some(DatePoint::instant(utc, zone, raw))
}

/// The portal's one date shape, `2026-09-15T00:00:00.000+0000`, read by
/// hand: chrono's `parse_from_str` interprets its format string on every
/// call, a tenth of a row's time. `None` for anything else, leap seconds
/// and out-of-range fields included, which then go to chrono (tested to
/// agree with it).
fn canonical_portal_date(raw: &str) -> Option<DateTime<FixedOffset>> {
    let b: &[u8; 28] = raw.as_bytes().try_into().ok()?;
    let shape_ok = [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && matches!(b[23], b'+' | b'-');
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if !shape_ok {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(0, 4)?).ok()?,
        digits(5, 7)?,
        digits(8, 10)?,
    )?;
    let time = NaiveTime::from_hms_milli_opt(
        digits(11, 13)?,
        digits(14, 16)?,
        digits(17, 19)?,
        digits(20, 23)?,
    )?;
    let (hours, minutes) = (digits(24, 26)?, digits(26, 28)?);
    if minutes >= 60 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    let offset = if b[23] == b'-' {
        FixedOffset::west_opt(seconds)
    } else {
        FixedOffset::east_opt(seconds)
    }?;
    offset.from_local_datetime(&date.and_time(time)).single()
}

/// Two-stage topics have one deadline per stage; multiple cut-off topics one
/// per cut-off (§1.3 `deadlineModel`).
fn label_stages(deadlines: &mut [DatePoint], model: &str) {
    if deadlines.len() < 2 {
        return;
    }
    let model = model.to_ascii_lowercase();
    let word = if model.contains("two-stage") {
        "stage"
    } else if model.contains("multiple") {
        "cut-off"
    } else {
        return;
    };
    for (i, d) in deadlines.iter_mut().enumerate() {
        d.label = Some(format!("{word} {}", i + 1));
    }
}

/// A JSON-in-string field of `row`, read leniently ([`lenient_json`]);
/// its damage is reported as a problem of the row. A field that will not be
/// read (`needed` false) is only checked, so that damage is still
/// reported: `IgnoredAny` validates JSON without building anything.
fn lenient<T: DeserializeOwned>(
    row: &PortalRow,
    field: Meta,
    needed: bool,
    label: impl Fn() -> String,
    problems: &mut Vec<ExtractProblem>,
) -> Option<T> {
    let text = row.meta(field)?;
    if !needed && serde_json::from_str::<IgnoredAny>(text).is_ok() {
        return None;
    }
    let (value, note) = lenient_json(text);
    if let Some(note) = note {
        problems.push(ExtractProblem::new(
            label(),
            format!("{}: {note}", field.key()),
        ));
    }
    value
}

/// Parses JSON that may have been cut short (the real fixture's
/// `budgetOverview` strings are): the complete part is kept. The note says
/// what was wrong, so the officer knows the figures may be partial.
///
/// The note quotes the error of a `Value` parse: serde_json words an error
/// met while skipping a field `T` does not read differently, and notes
/// should not depend on what is read.
fn lenient_json<T: DeserializeOwned>(s: &str) -> (Option<T>, Option<String>) {
    if let Ok(v) = serde_json::from_str::<T>(s) {
        return (Some(v), None);
    }
    match serde_json::from_str::<Value>(s) {
        Ok(v) => (T::deserialize(v).ok(), None),
        Err(e) => match salvage(s).and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
            Some(v) => (
                T::deserialize(v).ok(),
                Some(format!(
                    "not valid JSON ({e}), probably truncated; its complete entries were used"
                )),
            ),
            None => (None, Some(format!("not valid JSON ({e}); ignored"))),
        },
    }
}

/// Closes a truncated JSON text at its last complete member: cuts at the
/// last comma outside strings and closes the brackets open there.
/// `None` when the text is not a truncated object/array.
fn salvage(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut cut: Option<(usize, Vec<u8>)> = None;
    for (i, &c) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => stack.push(c),
            b'}' | b']' => {
                stack.pop();
                if stack.is_empty() {
                    // The document closed: not a truncation (a real syntax error).
                    return None;
                }
            }
            b',' => cut = Some((i, stack.clone())),
            _ => {}
        }
    }
    let (pos, open) = cut?;
    let mut out = String::with_capacity(pos + open.len());
    out.push_str(&s[..pos]);
    for b in open.iter().rev() {
        out.push(if *b == b'{' { '}' } else { ']' });
    }
    Some(out)
}

fn programme_name(id: Option<&str>, identifier: Option<&str>) -> Option<String> {
    if let Some(id) = id
        && let Some((_, _, name)) = PROGRAMMES.iter().find(|(pid, _, _)| *pid == id)
    {
        return Some((*name).to_owned());
    }
    let identifier = identifier?;
    PROGRAMMES
        .iter()
        .find(|(_, prefixes, _)| {
            prefixes
                .iter()
                .any(|p| identifier.starts_with(p) && identifier[p.len()..].starts_with(['-', '/']))
        })
        .map(|(_, _, name)| (*name).to_owned())
}

/// Keywords, tags and the type of action; the topic's own identifiers
/// (listed among the keywords) are not tags.
fn tags_of(row: &PortalRow, identifier: Option<&str>) -> Vec<String> {
    let call_id = row.meta(Meta::CallIdentifier);
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        let t = one_line(t);
        if t.is_empty()
            || identifier.is_some_and(|i| i.eq_ignore_ascii_case(&t))
            || call_id.is_some_and(|i| i.eq_ignore_ascii_case(&t))
            || out.iter().any(|x| x.eq_ignore_ascii_case(&t))
        {
            return;
        }
        out.push(t);
    };
    for k in row
        .metas(Meta::Keywords)
        .iter()
        .chain(row.metas(Meta::Tags))
    {
        // Older rows put the keywords as one JSON-encoded array (§1.3).
        if k.trim_start().starts_with('[')
            && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(k)
        {
            for item in items.iter().filter_map(Value::as_str) {
                push(item);
            }
            continue;
        }
        push(k);
    }
    for t in row.metas(Meta::TypesOfAction) {
        // "HORIZON  Research and Innovation Actions" (double space, §1.3).
        let t = one_line(t);
        push(t.strip_prefix("HORIZON ").unwrap_or(&t));
    }
    out
}

/// A short summary: the first paragraph that is more than a heading,
/// cut at a word boundary.
fn lead(text: &str) -> String {
    const MAX: usize = 300;
    let paragraphs = || paragraphs(text);
    let Some(p) = paragraphs()
        .find(|p| one_line_chars_exceed(p, 40))
        .or_else(|| paragraphs().find(|p| words(p).next().is_some()))
    else {
        return String::new();
    };
    // `one_line(p)`, built only as far as the cut needs.
    let mut line = String::with_capacity(p.len().min(4 * (MAX + 1)));
    let mut chars = 0;
    for word in words(p) {
        if !line.is_empty() {
            line.push(' ');
            chars += 1;
        }
        line.push_str(word);
        chars += word.chars().count();
        if chars > MAX {
            break;
        }
    }
    if chars <= MAX {
        return line;
    }
    let end = line.char_indices().nth(MAX).map_or(line.len(), |(i, _)| i);
    line.truncate(end);
    let cut = match line.rfind(' ') {
        Some(i) if i > MAX / 2 => &line[..i],
        _ => &line,
    };
    format!("{cut}…")
}

/// `text.split("\n\n")`, found with `memchr` on the line feeds: the
/// standard two-way search costs more than the rest of [`lead`].
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let start = from?;
        let mut at = start;
        while let Some(p) = memchr::memchr(b'\n', &bytes[at..]).map(|p| p + at) {
            if bytes.get(p + 1) == Some(&b'\n') {
                from = Some(p + 2);
                return Some(&text[start..p]);
            }
            at = p + 1;
        }
        from = None;
        Some(&text[start..])
    })
}

/// Whether `one_line(p)` has more than `n` characters, without building it.
fn one_line_chars_exceed(p: &str, n: usize) -> bool {
    let mut chars = 0;
    for (i, word) in words(p).enumerate() {
        chars += usize::from(i > 0) + word.chars().count();
        if chars > n {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;
    use crate::extract::test_support;
    use crate::model::{Language, Precision};
    use crate::test_support::XorShift;

    #[test]
    fn request_parts_follow_the_source() {
        let mut s = test_support::source(SourceKind::EuPortal, Language::En);
        let r = request(&s);
        assert_eq!(
            r.parts,
            vec![
                (
                    "query".to_owned(),
                    r#"{"bool":{"must":[{"terms":{"type":["1","2"]}},{"terms":{"status":["31094502","31094501"]}},{"term":{"programmePeriod":"2021 - 2027"}}]}}"#.to_owned()
                ),
                ("languages".to_owned(), r#"["en"]"#.to_owned()),
                ("sort".to_owned(), r#"{"field":"identifier","order":"ASC"}"#.to_owned()),
            ]
        );
        s.statuses = vec![Status::Closed];
        s.programmes = vec!["43108390".into(), "43353764".into()];
        assert_eq!(
            request(&s).parts[0].1,
            r#"{"bool":{"must":[{"terms":{"type":["1","2"]}},{"terms":{"status":["31094503"]}},{"terms":{"frameworkProgramme":["43108390","43353764"]}},{"term":{"programmePeriod":"2021 - 2027"}}]}}"#
        );
    }

    #[test]
    fn page_urls() {
        let base = Url::parse("https://api.tech.ec.europa.eu/search-api/prod/rest/search").unwrap();
        assert_eq!(
            page_url(&base, 2, PAGE_SIZE).as_str(),
            "https://api.tech.ec.europa.eu/search-api/prod/rest/search?apiKey=SEDIA&text=***&pageSize=100&pageNumber=2"
        );
        let base =
            Url::parse("https://h/s?apiKey=SEDIA_NONH2020_PROD&pageNumber=9&isExactMatch=true")
                .unwrap();
        assert_eq!(
            page_url(&base, 1, 50).as_str(),
            "https://h/s?isExactMatch=true&apiKey=SEDIA_NONH2020_PROD&text=***&pageSize=50&pageNumber=1"
        );
    }

    #[test]
    fn canonical_dates_read_by_hand_as_chrono_reads_them() {
        let chrono_only = |raw: &str| {
            DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.3f%z")
                .or_else(|_| DateTime::parse_from_rfc3339(raw))
                .ok()
        };
        let mut fixed = vec![
            "2026-09-15T00:00:00.000+0000".to_owned(),
            "2024-04-18T19:00:00.000+0200".to_owned(),
            "2024-02-29T23:59:59.999-1130".to_owned(),
            "2023-02-29T10:00:00.000+0000".to_owned(), // no such day
            "2026-13-01T10:00:00.000+0000".to_owned(),
            "2026-01-01T24:00:00.000+0000".to_owned(),
            "2026-01-01T10:60:00.000+0000".to_owned(),
            "2016-12-31T23:59:60.000+0000".to_owned(), // leap second: chrono's
            "2026-01-01T10:00:00.000+2400".to_owned(),
            "2026-01-01T10:00:00.000+0160".to_owned(),
            "2026-01-01T10:00:00.000+01:00".to_owned(),
            "2026-01-01T10:00:00+01:00".to_owned(),
            "2026-01-01T10:00:00.00+0100".to_owned(),
            "0000-01-01T00:00:00.000+0000".to_owned(),
            "2026-01-01 10:00:00.000+0100".to_owned(),
            "2026-01-01T10:00:00.000Z0000".to_owned(),
            "2026-01-01T1a:00:00.000+0000".to_owned(),
            "２０２6-01-01T10:00:00.000+00".to_owned(),
        ];
        // Random fields in the canonical shape, one byte sometimes replaced.
        let mut rng = XorShift(0xDA7E_0001);
        for _ in 0..20_000 {
            let n = |rng: &mut XorShift, m: u64| rng.next() % m;
            let mut raw = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}{:02}",
                1990 + n(&mut rng, 50),
                n(&mut rng, 14),
                n(&mut rng, 33),
                n(&mut rng, 26),
                n(&mut rng, 62),
                n(&mut rng, 62),
                n(&mut rng, 1000),
                rng.pick(&["+", "-"]),
                n(&mut rng, 26),
                n(&mut rng, 62),
            );
            if n(&mut rng, 4) == 0 {
                let at = n(&mut rng, raw.len() as u64) as usize;
                let by = rng.pick(&["0", "9", "-", ":", "T", ".", "+", " ", "x"]);
                raw.replace_range(at..at + 1, by);
            }
            fixed.push(raw);
        }
        let mut read = 0;
        for raw in &fixed {
            let fast = canonical_portal_date(raw);
            if fast.is_some() {
                read += 1;
            }
            // The fast path gives chrono's answer or leaves it to chrono.
            assert!(fast.is_none() || fast == chrono_only(raw), "{raw}");
            let got = portal_date(raw).map(|d| (d.date_string(), d.zone.clone(), d.at));
            let want = chrono_only(raw.trim()).map(|at| {
                let utc = at.with_timezone(&Utc);
                let brussels = PORTAL_ZONE.offset_from_utc_datetime(&utc.naive_utc()).fix();
                if utc.time() == NaiveTime::MIN {
                    (
                        utc.date_naive().to_string(),
                        "Europe/Brussels".to_owned(),
                        None,
                    )
                } else {
                    let zone = if *at.offset() == brussels {
                        PORTAL_ZONE
                    } else {
                        Tz::UTC
                    };
                    let d = DatePoint::instant(utc, zone, raw);
                    (d.date_string(), d.zone.clone(), d.at)
                }
            });
            assert_eq!(got, want, "{raw}");
        }
        assert!(read > 5_000, "only {read} strings took the fast path");
    }

    #[test]
    fn paragraphs_are_split_on_blank_lines() {
        let mut rng = XorShift(0x9A9A_0001);
        let mut texts = vec![
            String::new(),
            "\n".into(),
            "\n\n".into(),
            "\n\n\n".into(),
            "a\n\n\nb\n".into(),
        ];
        for _ in 0..5_000 {
            let len = rng.next() % 12;
            texts.push((0..len).map(|_| rng.pick(&["\n", "a", "é", " "])).collect());
        }
        for t in &texts {
            let want: Vec<&str> = t.split("\n\n").collect();
            assert_eq!(paragraphs(t).collect::<Vec<_>>(), want, "{t:?}");
        }
    }

    #[test]
    fn lead_is_the_first_paragraph_as_before() {
        // The previous `lead`, which built every paragraph's one-line form.
        fn reference(text: &str) -> String {
            const MAX: usize = 300;
            let Some(p) = text
                .split("\n\n")
                .map(one_line)
                .find(|p| p.chars().count() > 40)
                .or_else(|| text.split("\n\n").map(one_line).find(|p| !p.is_empty()))
            else {
                return String::new();
            };
            if p.chars().count() <= MAX {
                return p;
            }
            let cut: String = p.chars().take(MAX).collect();
            let cut = match cut.rfind(' ') {
                Some(i) if i > MAX / 2 => &cut[..i],
                _ => &cut,
            };
            format!("{cut}…")
        }
        let mut texts: Vec<String> = crate::test_support::fixture_texts()
            .into_iter()
            .map(|(_, t)| html_to_text(&t))
            .collect();
        let words = [
            "é",
            "word",
            "Überlänge",
            "\n",
            "\n\n",
            " ",
            "  ",
            "\t",
            "x",
            "€€€€",
        ];
        let mut rng = XorShift(0x1EAD_0001);
        for _ in 0..3_000 {
            let len = rng.next() % 400;
            texts.push((0..len).map(|_| rng.pick(&words)).collect());
        }
        texts.extend([
            "".into(),
            "  \n\n ".into(),
            "a".repeat(301),
            "a ".repeat(200),
        ]);
        for t in &texts {
            assert_eq!(lead(t), reference(t), "{t:?}");
        }
    }

    #[test]
    fn damaged_actions_are_reported_even_when_metadata_makes_them_unneeded() {
        let mut row = PortalRow::default();
        for (k, v) in [
            (Meta::Identifier, "HORIZON-CL4-2026-TWIN-01"),
            (Meta::Title, "A topic"),
            (Meta::Status, "31094502"),
            (Meta::DeadlineModel, "single-stage"),
            (Meta::DeadlineDate, "2026-09-15T00:00:00.000+0000"),
            (
                Meta::Actions,
                r#"[{"status":{"id":31094502},"deadlineDates":["2026-"#,
            ),
        ] {
            row.set_meta(k, vec![v.to_owned()]);
        }
        let mut problems = Vec::new();
        let draft = row_to_draft(&row, 1, &mut problems).unwrap();
        assert_eq!(draft.deadlines.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .starts_with("actions: not valid JSON (EOF while parsing"),
            "{problems:?}"
        );
        // Valid and unneeded: nothing to report.
        row.set_meta(
            Meta::Actions,
            vec![r#"[{"status":{"id":31094502}}]"#.to_owned()],
        );
        problems.clear();
        row_to_draft(&row, 1, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        // Needed (a stub row without `status`): read.
        row.set_meta(Meta::Status, Vec::new());
        let draft = row_to_draft(&row, 1, &mut problems).unwrap();
        assert_eq!(draft.source_status, Some(Status::Open));
    }

    #[test]
    fn portal_dates() {
        type Want<'a> = Option<(Precision, &'a str, &'a str, Option<&'a str>)>;
        let table: &[(&str, Want)] = &[
            (
                "2027-04-08T00:00:00.000+0000",
                Some((Precision::Date, "2027-04-08", "Europe/Brussels", None)),
            ),
            // Midnight UTC written with another offset is still a day.
            (
                "2023-12-07T01:00:00.000+0100",
                Some((Precision::Date, "2023-12-07", "Europe/Brussels", None)),
            ),
            (
                "2024-04-18T19:00:00.000+0200",
                Some((
                    Precision::Datetime,
                    "2024-04-18",
                    "Europe/Brussels",
                    Some("2024-04-18T17:00:00+00:00"),
                )),
            ),
            (
                "2024-02-07T17:00:00.000+0000",
                Some((
                    Precision::Datetime,
                    "2024-02-07",
                    "UTC",
                    Some("2024-02-07T17:00:00+00:00"),
                )),
            ),
            (
                "2027-12-31T23:59:00.000+0000",
                Some((
                    Precision::Datetime,
                    "2027-12-31",
                    "UTC",
                    Some("2027-12-31T23:59:00+00:00"),
                )),
            ),
            ("31/12/2027", None),
        ];
        for (raw, want) in table {
            let got = portal_date(raw).map(|d| {
                (
                    d.precision,
                    d.date_string(),
                    d.zone.clone(),
                    d.at.map(|a| a.to_rfc3339()),
                )
            });
            let want =
                want.map(|(p, d, z, a)| (p, d.to_owned(), z.to_owned(), a.map(str::to_owned)));
            assert_eq!(got, want, "{raw}");
        }
    }

    #[test]
    fn salvage_closes_truncated_json_at_the_last_complete_member() {
        let table: &[(&str, Option<&str>)] = &[
            (
                r#"{"a":[{"x":1,"y":{"2026":"20"},"z":"trunc"#,
                Some(r#"{"a":[{"x":1,"y":{"2026":"20"}}]}"#),
            ),
            (r#"[1,2,"a,b"#, Some("[1,2]")),
            (r#"{"s":"a,\"b,"#, None),
            (r#"{"a":1} x"#, None),
        ];
        for (input, want) in table {
            assert_eq!(salvage(input).as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn programme_names() {
        let table = [
            (Some("43353764"), None, Some("Erasmus+")),
            (None, Some("ERC-2025-STG"), Some("Horizon Europe")),
            (
                Some("999"),
                Some("CREA-CULT-2025-COOP-UA-2"),
                Some("Creative Europe"),
            ),
            (None, Some("EuropeAid/186723/DD/ACT/EG"), Some("EuropeAid")),
            (None, Some("HORIZONTAL"), None),
        ];
        for (id, ident, want) in table {
            assert_eq!(
                programme_name(id, ident).as_deref(),
                want,
                "{id:?} {ident:?}"
            );
        }
    }
}
