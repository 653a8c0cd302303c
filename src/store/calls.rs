//! Calls: identity matching, the owner/link rules, field-level history, and
//! reading calls back. See the parent module doc for the rules themselves.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{
    ApplySummary, Change, DATA_VERSION_KEY, LAST_SEEN_RESOLUTION, SourceLink, Store, StoreError,
    StoredCall, TRACKED_FIELDS, parse_ts, read_data_version, ts,
};
use crate::model::{Budget, Call, DatePoint, Language, Level, Status};
use crate::normalize::{compute_status, identity_keys};

/// Fields a non-owner source may fill when the owner leaves them empty.
const FILLABLE_FIELDS: &[&str] = &[
    "summary",
    "text",
    "programme",
    "opening",
    "deadlines",
    "budget",
];

/// Columns of `calls`, in the order [`RawCall::from_row`] reads them.
const CALL_COLUMNS: &str = "id, source_id, native_id, url, title, summary, text, funder, \
     programme, level, language, opening, deadlines, status, budget_total, \
     budget_min_per_grant, budget_max_per_grant, budget_expected, budget_currency, tags, \
     identifiers, filled_from, first_seen, last_changed, rev";

/// A `calls` row as SQLite hands it over, before JSON and enum decoding
/// (split so that a bad value becomes a [`StoreError::BadRow`] naming it).
struct RawCall {
    id: String,
    source_id: String,
    native_id: Option<String>,
    url: String,
    title: String,
    summary: String,
    text: String,
    funder: String,
    programme: Option<String>,
    level: String,
    language: String,
    opening: Option<String>,
    deadlines: String,
    status: String,
    budget_total: Option<f64>,
    budget_min: Option<f64>,
    budget_max: Option<f64>,
    budget_expected: Option<i64>,
    budget_currency: Option<String>,
    tags: String,
    identifiers: String,
    filled_from: String,
    first_seen: String,
    last_changed: String,
    rev: i64,
}

/// A decoded `calls` row, without its links.
struct Decoded {
    call: Call,
    first_seen: DateTime<Utc>,
    last_changed: DateTime<Utc>,
    rev: i64,
    filled_from: BTreeMap<String, String>,
}

impl RawCall {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawCall> {
        Ok(RawCall {
            id: r.get(0)?,
            source_id: r.get(1)?,
            native_id: r.get(2)?,
            url: r.get(3)?,
            title: r.get(4)?,
            summary: r.get(5)?,
            text: r.get(6)?,
            funder: r.get(7)?,
            programme: r.get(8)?,
            level: r.get(9)?,
            language: r.get(10)?,
            opening: r.get(11)?,
            deadlines: r.get(12)?,
            status: r.get(13)?,
            budget_total: r.get(14)?,
            budget_min: r.get(15)?,
            budget_max: r.get(16)?,
            budget_expected: r.get(17)?,
            budget_currency: r.get(18)?,
            tags: r.get(19)?,
            identifiers: r.get(20)?,
            filled_from: r.get(21)?,
            first_seen: r.get(22)?,
            last_changed: r.get(23)?,
            rev: r.get(24)?,
        })
    }

    fn decode(self) -> Result<Decoded, StoreError> {
        let id = self.id;
        let bad = |what: &'static str, detail: String| StoreError::BadRow {
            table: "calls",
            key: id.clone(),
            what,
            detail,
        };
        let json = |what: &'static str, s: &str| -> Result<Value, StoreError> {
            serde_json::from_str(s).map_err(|e| bad(what, e.to_string()))
        };
        let opening: Option<DatePoint> = match &self.opening {
            Some(s) => Some(
                serde_json::from_value(json("opening", s)?)
                    .map_err(|e| bad("opening", e.to_string()))?,
            ),
            None => None,
        };
        let deadlines: Vec<DatePoint> = serde_json::from_value(json("deadlines", &self.deadlines)?)
            .map_err(|e| bad("deadlines", e.to_string()))?;
        let tags: Vec<String> = serde_json::from_value(json("tags", &self.tags)?)
            .map_err(|e| bad("tags", e.to_string()))?;
        let identifiers: Vec<String> =
            serde_json::from_value(json("identifiers", &self.identifiers)?)
                .map_err(|e| bad("identifiers", e.to_string()))?;
        let filled_from: BTreeMap<String, String> =
            serde_json::from_value(json("filled_from", &self.filled_from)?)
                .map_err(|e| bad("filled_from", e.to_string()))?;
        let level: Level = self.level.parse().map_err(|e| bad("level", e))?;
        let language: Language = self.language.parse().map_err(|e| bad("language", e))?;
        let status: Status = self.status.parse().map_err(|e| bad("status", e))?;
        let budget = match self.budget_currency {
            Some(currency) => Some(Budget {
                total: self.budget_total,
                min_per_grant: self.budget_min,
                max_per_grant: self.budget_max,
                expected_grants: self
                    .budget_expected
                    .map(u32::try_from)
                    .transpose()
                    .map_err(|e| bad("budget_expected", e.to_string()))?,
                currency,
            }),
            None => None,
        };
        let first_seen = parse_ts("calls", &id, "first_seen", &self.first_seen)?;
        let last_changed = parse_ts("calls", &id, "last_changed", &self.last_changed)?;
        Ok(Decoded {
            call: Call {
                id,
                source_id: self.source_id,
                native_id: self.native_id,
                url: self.url,
                title: self.title,
                summary: self.summary,
                text: self.text,
                funder: self.funder,
                programme: self.programme,
                level,
                language,
                opening,
                deadlines,
                status,
                budget,
                tags,
                identifiers,
            },
            first_seen,
            last_changed,
            rev: self.rev,
            filled_from,
        })
    }
}

/// JSON of one tracked field, as stored in `changes.old`/`changes.new`.
fn field_json(call: &Call, field: &str) -> Result<Value, serde_json::Error> {
    match field {
        "title" => serde_json::to_value(&call.title),
        "url" => serde_json::to_value(&call.url),
        "summary" => serde_json::to_value(&call.summary),
        "text" => serde_json::to_value(&call.text),
        "funder" => serde_json::to_value(&call.funder),
        "programme" => serde_json::to_value(&call.programme),
        "opening" => serde_json::to_value(&call.opening),
        "deadlines" => serde_json::to_value(&call.deadlines),
        "status" => serde_json::to_value(call.status),
        "budget" => serde_json::to_value(&call.budget),
        "tags" => serde_json::to_value(&call.tags),
        _ => Ok(Value::Null),
    }
}

fn is_empty_field(call: &Call, field: &str) -> bool {
    match field {
        "summary" => call.summary.is_empty(),
        "text" => call.text.is_empty(),
        "programme" => call.programme.is_none(),
        "opening" => call.opening.is_none(),
        "deadlines" => call.deadlines.is_empty(),
        "budget" => call.budget.is_none(),
        _ => false,
    }
}

fn copy_field(dst: &mut Call, src: &Call, field: &str) {
    match field {
        "summary" => dst.summary.clone_from(&src.summary),
        "text" => dst.text.clone_from(&src.text),
        "programme" => dst.programme.clone_from(&src.programme),
        "opening" => dst.opening.clone_from(&src.opening),
        "deadlines" => dst.deadlines.clone_from(&src.deadlines),
        "budget" => dst.budget.clone_from(&src.budget),
        _ => {}
    }
}

/// Drops budget amounts SQLite cannot store faithfully (NaN becomes NULL in
/// SQLite), so what is compared is what will be read back.
fn sanitize(call: &Call) -> Call {
    let mut call = call.clone();
    if let Some(b) = &mut call.budget {
        for v in [&mut b.total, &mut b.min_per_grant, &mut b.max_per_grant] {
            if v.is_some_and(|x| !x.is_finite()) {
                *v = None;
            }
        }
    }
    call
}

/// True when a call comes from the source whose own id is one of the call's
/// EU topic identifiers: the Funding & Tenders portal itself, not a relay.
fn is_authoritative(call: &Call) -> bool {
    call.native_id
        .as_deref()
        .is_some_and(|n| call.identifiers.iter().any(|i| i.eq_ignore_ascii_case(n)))
}

/// The owner's new version of a call, keeping what other sources filled
/// while the owner still leaves it empty.
fn owner_merge(
    stored: &Decoded,
    incoming: &Call,
    now: DateTime<Utc>,
) -> (Call, BTreeMap<String, String>) {
    let mut merged = incoming.clone();
    merged.id.clone_from(&stored.call.id);
    let mut filled = stored.filled_from.clone();
    let mut kept_dates = false;
    for &f in FILLABLE_FIELDS {
        if filled.contains_key(f) {
            if is_empty_field(&merged, f) {
                copy_field(&mut merged, &stored.call, f);
                kept_dates |= f == "opening" || f == "deadlines";
            } else {
                filled.remove(f);
            }
        }
    }
    if kept_dates {
        merged.status = compute_status(
            &merged.deadlines,
            merged.opening.as_ref(),
            Some(incoming.status),
            now,
        );
    }
    (merged, filled)
}

/// Another source's view of a call it does not own: it fills what the owner
/// leaves empty (or what this source filled before), nothing else.
fn fill_merge(
    stored: &Decoded,
    incoming: &Call,
    source_id: &str,
    now: DateTime<Utc>,
) -> (Call, BTreeMap<String, String>) {
    let mut merged = stored.call.clone();
    let mut filled = stored.filled_from.clone();
    let mut dates = false;
    for &f in FILLABLE_FIELDS {
        let may_fill = match filled.get(f) {
            Some(filler) => filler == source_id,
            None => is_empty_field(&stored.call, f),
        };
        if may_fill && !is_empty_field(incoming, f) {
            copy_field(&mut merged, incoming, f);
            filled.insert(f.to_owned(), source_id.to_owned());
            dates |= f == "opening" || f == "deadlines";
        }
    }
    if dates {
        merged.status = compute_status(
            &merged.deadlines,
            merged.opening.as_ref(),
            Some(stored.call.status),
            now,
        );
    }
    (merged, filled)
}

/// The JSON-encoded columns of a call.
struct Encoded {
    opening: Option<String>,
    deadlines: String,
    next_cutoff: Option<String>,
    tags: String,
    identifiers: String,
    filled_from: String,
}

fn encode(call: &Call, filled: &BTreeMap<String, String>) -> Result<Encoded, StoreError> {
    let enc = |what: &'static str| {
        let call_id = call.id.clone();
        move |source| StoreError::Encode {
            call_id,
            what,
            source,
        }
    };
    Ok(Encoded {
        opening: call
            .opening
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(enc("opening"))?,
        deadlines: serde_json::to_string(&call.deadlines).map_err(enc("deadlines"))?,
        next_cutoff: call.deadlines.iter().map(DatePoint::cutoff).min().map(ts),
        tags: serde_json::to_string(&call.tags).map_err(enc("tags"))?,
        identifiers: serde_json::to_string(&call.identifiers).map_err(enc("identifiers"))?,
        filled_from: serde_json::to_string(filled).map_err(enc("filled_from"))?,
    })
}

/// One `apply_calls` transaction in progress.
struct Apply<'a> {
    conn: &'a Connection,
    db: &'a str,
    source_id: &'a str,
    now: DateTime<Utc>,
    /// The data version this transaction writes, if it writes call data.
    rev: i64,
    bumped: bool,
}

impl Apply<'_> {
    fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let db = self.db.to_owned();
        move |source| StoreError::from_sqlite(&db, context, source)
    }

    /// The rev for a call-data write; marks the version as used.
    fn bump(&mut self) -> i64 {
        self.bumped = true;
        self.rev
    }

    fn apply_one(
        &mut self,
        call: &Call,
        seen: &mut HashSet<String>,
        summary: &mut ApplySummary,
    ) -> Result<(), StoreError> {
        let keys = identity_keys(call);
        let id = match self.find(call, &keys)? {
            None => {
                self.insert(call)?;
                summary.new.push(call.id.clone());
                call.id.clone()
            }
            // The same call twice in one batch (a feed listing an item
            // twice): the first occurrence wins, the others only add keys.
            Some(id) if seen.contains(&id) => {
                summary.unchanged += 1;
                id
            }
            Some(id) => {
                let stored = load(self.conn, &id)
                    .map_err(self.err("reading a stored call"))?
                    .ok_or_else(|| StoreError::BadRow {
                        table: "call_keys",
                        key: id.clone(),
                        what: "call_id",
                        detail: "names a call that does not exist".to_owned(),
                    })?
                    .decode()?;
                // The source whose own id *is* the EU topic identifier (the
                // portal) is authoritative for that topic: it takes the call
                // over from a relay that happened to report it first.
                let takes_over = stored.call.source_id != self.source_id
                    && is_authoritative(call)
                    && !is_authoritative(&stored.call);
                let (merged, filled) = if stored.call.source_id == self.source_id || takes_over {
                    owner_merge(&stored, call, self.now)
                } else {
                    fill_merge(&stored, call, self.source_id, self.now)
                };
                let mut changed = self.write_diff(&stored, &merged, &filled)?;
                if takes_over {
                    let rev = self.bump();
                    self.conn
                        .prepare_cached("UPDATE calls SET source_id = ?2, rev = ?3 WHERE id = ?1")
                        .and_then(|mut st| st.execute(params![id, self.source_id, rev]))
                        .map_err(self.err("handing a call over to its authoritative source"))?;
                    changed = true;
                }
                if changed {
                    summary.updated.push(id.clone());
                } else {
                    summary.unchanged += 1;
                }
                id
            }
        };
        seen.insert(id.clone());
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO call_keys(key, call_id) VALUES (?1, ?2)")
            .map_err(self.err("registering identity keys"))?;
        for key in &keys {
            stmt.execute(params![key, id])
                .map_err(self.err("registering identity keys"))?;
        }
        self.link(&id, call)
    }

    /// The stored call sharing an identity key (most specific key first),
    /// or carrying the same id.
    ///
    /// A source's own ids are authoritative within that source: a key match
    /// on a call this source already lists under a *different* native id is
    /// not the same call (two "PhD position" items with one deadline, or a
    /// feed whose items all link to the listing page), so it is skipped.
    fn find(&self, call: &Call, keys: &[String]) -> Result<Option<String>, StoreError> {
        let e = self.err("looking up identity keys");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT call_id FROM call_keys WHERE key = ?1")
            .map_err(&e)?;
        let mut native = self
            .conn
            .prepare_cached(
                "SELECT native_id FROM call_sources WHERE call_id = ?1 AND source_id = ?2",
            )
            .map_err(&e)?;
        for key in keys {
            let Some(found) = stmt
                .query_row([key], |r| r.get::<_, String>(0))
                .optional()
                .map_err(&e)?
            else {
                continue;
            };
            if let Some(ours) = &call.native_id {
                let listed: Option<Option<String>> = native
                    .query_row([found.as_str(), self.source_id], |r| r.get(0))
                    .optional()
                    .map_err(&e)?;
                if matches!(listed, Some(Some(theirs)) if theirs != *ours) {
                    continue;
                }
            }
            return Ok(Some(found));
        }
        let id = call.id.as_str();
        self.conn
            .prepare_cached("SELECT id FROM calls WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(e)
    }

    fn insert(&mut self, call: &Call) -> Result<(), StoreError> {
        let enc = encode(call, &BTreeMap::new())?;
        let rev = self.bump();
        let now = ts(self.now);
        let b = call.budget.as_ref();
        self.conn
            .prepare_cached(
                "INSERT INTO calls(id, source_id, native_id, url, title, summary, text, funder,
                    programme, level, language, opening, deadlines, next_cutoff, status,
                    budget_total, budget_min_per_grant, budget_max_per_grant, budget_expected,
                    budget_currency, tags, identifiers, filled_from, first_seen, last_changed, rev)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?24, ?25)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    call.id,
                    call.source_id,
                    call.native_id,
                    call.url,
                    call.title,
                    call.summary,
                    call.text,
                    call.funder,
                    call.programme,
                    call.level.as_str(),
                    call.language.as_str(),
                    enc.opening,
                    enc.deadlines,
                    enc.next_cutoff,
                    call.status.as_str(),
                    b.and_then(|b| b.total),
                    b.and_then(|b| b.min_per_grant),
                    b.and_then(|b| b.max_per_grant),
                    b.and_then(|b| b.expected_grants),
                    b.map(|b| b.currency.as_str()),
                    enc.tags,
                    enc.identifiers,
                    enc.filled_from,
                    now,
                    rev,
                ])
            })
            .map_err(self.err("inserting a call"))?;
        Ok(())
    }

    /// Writes `merged` over `stored` when anything differs, with one history
    /// row per changed tracked field. True when call content changed.
    fn write_diff(
        &mut self,
        stored: &Decoded,
        merged: &Call,
        filled: &BTreeMap<String, String>,
    ) -> Result<bool, StoreError> {
        let mut changes = Vec::new();
        for &field in TRACKED_FIELDS {
            let enc = |source| StoreError::Encode {
                call_id: merged.id.clone(),
                what: "a changed field",
                source,
            };
            let old = field_json(&stored.call, field).map_err(enc)?;
            let new = field_json(merged, field).map_err(enc)?;
            if old != new {
                changes.push((field, old, new));
            }
        }
        let s = &stored.call;
        // Identifiers that differ in case only are the same identifiers:
        // stored in the source's case, without making the call changed.
        // (They were stored upper-cased before 2026-11-27; a call is not
        // reported as changed to its readers for that.)
        let same_ids_but_case = s.identifiers.len() == merged.identifiers.len()
            && s.identifiers
                .iter()
                .zip(&merged.identifiers)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        let untracked_changed = s.native_id != merged.native_id
            || s.level != merged.level
            || s.language != merged.language
            || !same_ids_but_case;
        let content_changed = !changes.is_empty() || untracked_changed;
        if !content_changed && *filled == stored.filled_from && s.identifiers == merged.identifiers
        {
            return Ok(false);
        }
        let (last_changed, rev) = if content_changed {
            (ts(self.now), self.bump())
        } else {
            (ts(stored.last_changed), stored.rev)
        };
        let enc = encode(merged, filled)?;
        let b = merged.budget.as_ref();
        self.conn
            .prepare_cached(
                "UPDATE calls SET native_id = ?2, url = ?3, title = ?4, summary = ?5, text = ?6,
                    funder = ?7, programme = ?8, level = ?9, language = ?10, opening = ?11,
                    deadlines = ?12, next_cutoff = ?13, status = ?14, budget_total = ?15,
                    budget_min_per_grant = ?16, budget_max_per_grant = ?17,
                    budget_expected = ?18, budget_currency = ?19, tags = ?20,
                    identifiers = ?21, filled_from = ?22, last_changed = ?23, rev = ?24
                 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    merged.id,
                    merged.native_id,
                    merged.url,
                    merged.title,
                    merged.summary,
                    merged.text,
                    merged.funder,
                    merged.programme,
                    merged.level.as_str(),
                    merged.language.as_str(),
                    enc.opening,
                    enc.deadlines,
                    enc.next_cutoff,
                    merged.status.as_str(),
                    b.and_then(|b| b.total),
                    b.and_then(|b| b.min_per_grant),
                    b.and_then(|b| b.max_per_grant),
                    b.and_then(|b| b.expected_grants),
                    b.map(|b| b.currency.as_str()),
                    enc.tags,
                    enc.identifiers,
                    enc.filled_from,
                    last_changed,
                    rev,
                ])
            })
            .map_err(self.err("updating a call"))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO changes(call_id, at, field, old, new, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            )
            .map_err(self.err("recording a change"))?;
        let at = ts(self.now);
        for (field, old, new) in &changes {
            stmt.execute(params![
                merged.id,
                at,
                field,
                old.to_string(),
                new.to_string()
            ])
            .map_err(self.err("recording a change"))?;
        }
        Ok(content_changed)
    }

    /// Adds or refreshes this source's link to call `id`.
    fn link(&mut self, id: &str, call: &Call) -> Result<(), StoreError> {
        let e = self.err("linking a call to its source");
        let existing: Option<(String, Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT url, native_id, last_seen FROM call_sources
                 WHERE call_id = ?1 AND source_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([id, self.source_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            })
            .map_err(&e)?;
        let now = ts(self.now);
        match existing {
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO call_sources(call_id, source_id, url, native_id, first_seen, last_seen)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![id, self.source_id, call.url, call.native_id, now])
                    })
                    .map_err(&e)?;
                self.touch_rev(id)
            }
            Some((url, native_id, _)) if url != call.url || native_id != call.native_id => {
                self.conn
                    .prepare_cached(
                        "UPDATE call_sources SET url = ?3, native_id = ?4, last_seen = ?5
                         WHERE call_id = ?1 AND source_id = ?2",
                    )
                    .and_then(|mut s| {
                        s.execute(params![id, self.source_id, call.url, call.native_id, now])
                    })
                    .map_err(&e)?;
                self.touch_rev(id)
            }
            Some((_, _, last_seen)) => {
                let last = parse_ts("call_sources", id, "last_seen", &last_seen)?;
                if self.now - last >= LAST_SEEN_RESOLUTION {
                    self.conn
                        .prepare_cached(
                            "UPDATE call_sources SET last_seen = ?3
                             WHERE call_id = ?1 AND source_id = ?2",
                        )
                        .and_then(|mut s| s.execute(params![id, self.source_id, now]))
                        .map_err(&e)?;
                }
                Ok(())
            }
        }
    }

    /// Marks call `id` as written in this version (its links changed), so
    /// the index refreshes it. No write when already marked.
    fn touch_rev(&mut self, id: &str) -> Result<(), StoreError> {
        let rev = self.bump();
        self.conn
            .prepare_cached("UPDATE calls SET rev = ?1 WHERE id = ?2 AND rev <> ?1")
            .and_then(|mut s| s.execute(params![rev, id]))
            .map_err(self.err("marking a call for reindexing"))?;
        Ok(())
    }
}

fn load(conn: &Connection, id: &str) -> rusqlite::Result<Option<RawCall>> {
    conn.prepare_cached(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = ?1"))?
        .query_row([id], RawCall::from_row)
        .optional()
}

fn load_links(conn: &Connection, db: &str, id: &str) -> Result<Vec<SourceLink>, StoreError> {
    type RawLink = (String, String, Option<String>, String, String);
    let raw: Vec<RawLink> = conn
        .prepare_cached(
            "SELECT source_id, url, native_id, first_seen, last_seen FROM call_sources
             WHERE call_id = ?1 ORDER BY first_seen, source_id",
        )
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(|e| StoreError::from_sqlite(db, "reading call links", e))?;
    raw.into_iter()
        .map(|(source_id, url, native_id, first, last)| {
            Ok(SourceLink {
                first_seen: parse_ts("call_sources", id, "first_seen", &first)?,
                last_seen: parse_ts("call_sources", id, "last_seen", &last)?,
                source_id,
                url,
                native_id,
            })
        })
        .collect()
}

fn stored_call(conn: &Connection, db: &str, raw: RawCall) -> Result<StoredCall, StoreError> {
    let d = raw.decode()?;
    let links = load_links(conn, db, &d.call.id)?;
    Ok(StoredCall {
        call: d.call,
        first_seen: d.first_seen,
        last_changed: d.last_changed,
        rev: d.rev,
        links,
        filled_from: d.filled_from,
    })
}

impl Store {
    /// Stores what one source crawl found, in one transaction (see the
    /// module doc for the identity and ownership rules). Every call must
    /// carry `source_id`. Re-applying unchanged content writes nothing.
    #[tracing::instrument(level = "debug", skip_all, fields(source.id = %source_id, calls = calls.len()), err)]
    pub fn apply_calls(
        &mut self,
        source_id: &str,
        calls: &[Call],
        now: DateTime<Utc>,
    ) -> Result<ApplySummary, StoreError> {
        if let Some(bad) = calls.iter().find(|c| c.source_id != source_id) {
            return Err(StoreError::SourceMismatch {
                call_id: bad.id.clone(),
                expected: source_id.to_owned(),
                found: bad.source_id.clone(),
            });
        }
        let db = self.db.clone();
        let tx = self.write_tx("starting to store calls")?;
        let current = read_data_version(&tx)
            .map_err(|e| StoreError::from_sqlite(&db, "reading the data version", e))?;
        let mut summary = ApplySummary::default();
        let mut apply = Apply {
            conn: &tx,
            db: &db,
            source_id,
            now,
            rev: current + 1,
            bumped: false,
        };
        let mut seen = HashSet::new();
        for call in calls {
            apply.apply_one(&sanitize(call), &mut seen, &mut summary)?;
        }
        if apply.bumped {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![DATA_VERSION_KEY, (current + 1).to_string()],
            )
            .map_err(|e| StoreError::from_sqlite(&db, "bumping the data version", e))?;
        }
        tx.commit()
            .map_err(|e| StoreError::from_sqlite(&db, "committing calls", e))?;
        Ok(summary)
    }

    /// Recomputes the status of every call not yet closed from its dates and
    /// `now` (a call closes when its last deadline passes, opens when its
    /// opening date comes), even when no source was crawled since. Each change
    /// is a `status` history row and bumps the data version, so the index
    /// catches up. One transaction; returns the ids changed.
    pub fn refresh_statuses(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let db = self.db.clone();
        let e = |context: &'static str| {
            let db = db.clone();
            move |source| StoreError::from_sqlite(&db, context, source)
        };
        let tx = self.write_tx("refreshing statuses")?;
        let current = read_data_version(&tx).map_err(e("reading the data version"))?;
        let rows: Vec<(String, String, Option<String>, String)> = tx
            .prepare("SELECT id, deadlines, opening, status FROM calls WHERE status != 'closed'")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(e("reading statuses"))?;
        let mut changed = Vec::new();
        for (id, deadlines, opening, status) in rows {
            let bad = |what: &'static str, detail: String| StoreError::BadRow {
                table: "calls",
                key: id.clone(),
                what,
                detail,
            };
            let deadlines: Vec<DatePoint> =
                serde_json::from_str(&deadlines).map_err(|x| bad("deadlines", x.to_string()))?;
            let opening: Option<DatePoint> = opening
                .map(|o| serde_json::from_str(&o))
                .transpose()
                .map_err(|x| bad("opening", x.to_string()))?;
            let old: crate::model::Status = status.parse().map_err(|x: String| bad("status", x))?;
            let new = compute_status(&deadlines, opening.as_ref(), Some(old), now);
            if new != old {
                changed.push((id, old, new));
            }
        }
        if !changed.is_empty() {
            let rev = current + 1;
            let at = ts(now);
            for (id, old, new) in &changed {
                tx.execute(
                    "UPDATE calls SET status = ?2, last_changed = ?3, rev = ?4 WHERE id = ?1",
                    params![id, new.as_str(), at, rev],
                )
                .map_err(e("updating a status"))?;
                tx.execute(
                    "INSERT INTO changes(call_id, at, field, old, new, run_id) VALUES (?1, ?2, 'status', ?3, ?4, NULL)",
                    params![
                        id,
                        at,
                        serde_json::Value::from(old.as_str()).to_string(),
                        serde_json::Value::from(new.as_str()).to_string()
                    ],
                )
                .map_err(e("recording a status change"))?;
            }
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![DATA_VERSION_KEY, rev.to_string()],
            )
            .map_err(e("bumping the data version"))?;
        }
        tx.commit().map_err(e("committing statuses"))?;
        Ok(changed.into_iter().map(|(id, _, _)| id).collect())
    }

    /// The call with this id, or the only call whose id starts with it.
    /// `Ok(None)` when nothing matches; [`StoreError::AmbiguousId`] when
    /// several do.
    pub fn call(&self, id: &str) -> Result<Option<StoredCall>, StoreError> {
        let e = self.err("reading a call");
        let id = id.trim();
        if let Some(raw) = load(&self.conn, id).map_err(&e)? {
            return stored_call(&self.conn, &self.db, raw).map(Some);
        }
        if id.is_empty() {
            return Ok(None);
        }
        let candidates: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM calls WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 6",
            )
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(&e)?;
        match candidates.as_slice() {
            [] => Ok(None),
            [only] => match load(&self.conn, only).map_err(&e)? {
                Some(raw) => stored_call(&self.conn, &self.db, raw).map(Some),
                None => Ok(None),
            },
            _ => Err(StoreError::AmbiguousId {
                prefix: id.to_owned(),
                candidates,
            }),
        }
    }

    /// The field-level history of a call, oldest first.
    pub fn history(&self, call_id: &str) -> Result<Vec<Change>, StoreError> {
        self.changes_where("call_id = ?1", call_id)
    }

    /// Every change stored at or after `since`, oldest first (for digests:
    /// "deadline moved", "forthcoming → open").
    pub fn changes_since(&self, since: DateTime<Utc>) -> Result<Vec<Change>, StoreError> {
        self.changes_where("at >= ?1", &ts(since))
    }

    fn changes_where(&self, cond: &str, arg: &str) -> Result<Vec<Change>, StoreError> {
        type RawChange = (i64, String, String, String, String, String, Option<i64>);
        let raw: Vec<RawChange> = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, call_id, at, field, old, new, run_id FROM changes
                 WHERE {cond} ORDER BY id"
            ))
            .and_then(|mut s| {
                s.query_map([arg], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect()
            })
            .map_err(self.err("reading history"))?;
        raw.into_iter()
            .map(|(id, call_id, at, field, old, new, run_id)| {
                let key = id.to_string();
                let json = |what, s: &str| {
                    serde_json::from_str(s).map_err(|e| StoreError::BadRow {
                        table: "changes",
                        key: key.clone(),
                        what,
                        detail: e.to_string(),
                    })
                };
                Ok(Change {
                    id,
                    at: parse_ts("changes", &key, "at", &at)?,
                    old: json("old", &old)?,
                    new: json("new", &new)?,
                    call_id,
                    field,
                    run_id,
                })
            })
            .collect()
    }

    /// Calls `f` with every stored call, in id order (for reindexing). Stops
    /// at the first error, from the store or from `f`.
    pub fn for_each_call<E, F>(&self, mut f: F) -> Result<(), E>
    where
        E: From<StoreError>,
        F: FnMut(StoredCall) -> Result<(), E>,
    {
        let e = self.err("reading every call");
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {CALL_COLUMNS} FROM calls ORDER BY id"))
            .map_err(&e)?;
        let rows = stmt.query_map([], RawCall::from_row).map_err(&e)?;
        for raw in rows {
            let raw = raw.map_err(&e)?;
            f(stored_call(&self.conn, &self.db, raw)?)?;
        }
        Ok(())
    }

    /// Ids of calls whose fields changed (or that appeared) at or after
    /// `since`, oldest change first.
    pub fn calls_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id FROM calls WHERE last_changed >= ?1 ORDER BY last_changed, id",
            )
            .and_then(|mut s| s.query_map([ts(since)], |r| r.get(0))?.collect())
            .map_err(self.err("listing changed calls"))
    }

    /// Ids of calls written after data version `rev` (what an index at
    /// generation `rev` must refresh), in write order.
    pub fn calls_since_rev(&self, rev: i64) -> Result<Vec<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT id FROM calls WHERE rev > ?1 ORDER BY rev, id")
            .and_then(|mut s| s.query_map([rev], |r| r.get(0))?.collect())
            .map_err(self.err("listing calls to reindex"))
    }

    /// How many calls each source lists (owned or linked).
    pub fn calls_per_source(&self) -> Result<HashMap<String, u64>, StoreError> {
        self.conn
            .prepare_cached("SELECT source_id, count(*) FROM call_sources GROUP BY source_id")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .map(|r| r.map(|(k, n)| (k, u64::try_from(n).unwrap_or(0))))
                    .collect()
            })
            .map_err(self.err("counting calls per source"))
    }

    /// How many calls are stored.
    pub fn call_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM calls", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.err("counting calls"))
    }
}
