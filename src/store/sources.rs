//! Per-source memory: the fetch-run log, source health (failure streaks,
//! last success, item counts), the scheduler's next run and backoff, and the
//! per-URL HTTP validators for conditional GET (RFC 9110 §13). Keeping all of
//! it in the database means a restart loses nothing (miniflux keeps
//! `next_check_at`, ETag and error counters in the feed row the same way).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{RunRecord, SourceState, Store, StoreError, StoredRun, parse_opt_ts, parse_ts, ts};
use crate::model::Validators;

/// Converts a count for storage (SQLite integers are i64).
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads a stored count back (negative values, impossible by construction,
/// read as 0).
fn uncount(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The message kept as `sources.last_error` for a failed run.
fn error_message(run: &RunRecord) -> String {
    if run.errors.is_empty() {
        "the run failed without an error message".to_owned()
    } else {
        run.errors.join("; ")
    }
}

type RawState = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const STATE_COLUMNS: &str = "id, last_attempt, last_success, last_error, last_error_at, \
     consecutive_failures, failing_since, items_last_seen, next_run, backoff_until";

fn raw_state(r: &Row<'_>) -> rusqlite::Result<RawState> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode_state(raw: RawState) -> Result<SourceState, StoreError> {
    let (id, attempt, success, error, error_at, failures, since, items, next, backoff) = raw;
    let t = |what, s| parse_opt_ts("sources", &id, what, s);
    Ok(SourceState {
        last_attempt: t("last_attempt", attempt)?,
        last_success: t("last_success", success)?,
        last_error: error,
        last_error_at: t("last_error_at", error_at)?,
        consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
        failing_since: t("failing_since", since)?,
        items_last_seen: items.map(uncount),
        next_run: t("next_run", next)?,
        backoff_until: t("backoff_until", backoff)?,
        id,
    })
}

impl Store {
    /// The validators remembered for `url`, if any.
    pub fn validators(&self, url: &str) -> Result<Option<Validators>, StoreError> {
        self.conn
            .prepare_cached("SELECT etag, last_modified FROM validators WHERE url = ?1")
            .and_then(|mut s| {
                s.query_row([url], |r| {
                    Ok(Validators {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(self.err("reading HTTP validators"))
    }

    /// Remembers the validators of the last answer for `url`. Empty
    /// validators forget the URL (the server stopped sending them).
    pub fn set_validators(
        &mut self,
        url: &str,
        v: &Validators,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let e = self.err("storing HTTP validators");
        let tx = self.write_tx("storing HTTP validators")?;
        if v.is_empty() {
            tx.execute("DELETE FROM validators WHERE url = ?1", [url])
                .map_err(&e)?;
        } else {
            tx.execute(
                "INSERT INTO validators(url, etag, last_modified, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,
                    last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                params![url, v.etag, v.last_modified, ts(now)],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(e)
    }

    /// Logs a fetch run and updates the source's state in the same
    /// transaction: a success resets the failure streak and records the item
    /// count; a failure extends the streak (`failing_since` is the start of
    /// its first run) and keeps the message. Returns the run's id.
    pub fn record_run(&mut self, run: &RunRecord) -> Result<i64, StoreError> {
        let e = self.err("recording a fetch run");
        let errors = serde_json::to_string(&run.errors).map_err(|source| StoreError::Encode {
            call_id: format!("(run of source {})", run.source_id),
            what: "run errors",
            source,
        })?;
        let tx = self.write_tx("recording a fetch run")?;
        tx.execute(
            "INSERT INTO runs(source_id, started_at, finished_at, ok, fetched, new, updated,
                unchanged, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.source_id,
                ts(run.started_at),
                ts(run.finished_at),
                run.ok,
                run.fetched.map(count),
                count(run.new),
                count(run.updated),
                count(run.unchanged),
                errors,
            ],
        )
        .map_err(&e)?;
        let id = tx.last_insert_rowid();
        if run.ok {
            tx.execute(
                "INSERT INTO sources(id, last_attempt, last_success, consecutive_failures,
                    failing_since, items_last_seen)
                 VALUES (?1, ?2, ?3, 0, NULL, ?4)
                 ON CONFLICT(id) DO UPDATE SET last_attempt = excluded.last_attempt,
                    last_success = excluded.last_success, consecutive_failures = 0,
                    failing_since = NULL,
                    items_last_seen = coalesce(excluded.items_last_seen, items_last_seen)",
                params![
                    run.source_id,
                    ts(run.started_at),
                    ts(run.finished_at),
                    run.fetched.map(count),
                ],
            )
            .map_err(&e)?;
        } else {
            tx.execute(
                "INSERT INTO sources(id, last_attempt, last_error, last_error_at,
                    consecutive_failures, failing_since)
                 VALUES (?1, ?2, ?3, ?4, 1, ?2)
                 ON CONFLICT(id) DO UPDATE SET last_attempt = excluded.last_attempt,
                    last_error = excluded.last_error, last_error_at = excluded.last_error_at,
                    consecutive_failures = consecutive_failures + 1,
                    failing_since = coalesce(failing_since, excluded.failing_since)",
                params![
                    run.source_id,
                    ts(run.started_at),
                    error_message(run),
                    ts(run.finished_at),
                ],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(e)?;
        Ok(id)
    }

    /// The most recent runs, newest first; of one source when `source_id`
    /// is given.
    pub fn recent_runs(
        &self,
        source_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredRun>, StoreError> {
        type RawRun = (
            i64,
            String,
            String,
            String,
            bool,
            Option<i64>,
            i64,
            i64,
            i64,
            String,
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw: Vec<RawRun> = self
            .conn
            .prepare_cached(
                "SELECT id, source_id, started_at, finished_at, ok, fetched, new, updated,
                    unchanged, errors
                 FROM runs WHERE ?1 IS NULL OR source_id = ?1
                 ORDER BY started_at DESC, id DESC LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![source_id, limit], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                })?
                .collect()
            })
            .map_err(self.err("reading the run log"))?;
        raw.into_iter()
            .map(
                |(
                    id,
                    source_id,
                    started,
                    finished,
                    ok,
                    fetched,
                    new,
                    updated,
                    unchanged,
                    errors,
                )| {
                    let key = id.to_string();
                    Ok(StoredRun {
                        id,
                        run: RunRecord {
                            started_at: parse_ts("runs", &key, "started_at", &started)?,
                            finished_at: parse_ts("runs", &key, "finished_at", &finished)?,
                            ok,
                            fetched: fetched.map(uncount),
                            new: uncount(new),
                            updated: uncount(updated),
                            unchanged: uncount(unchanged),
                            errors: serde_json::from_str(&errors).map_err(|e| {
                                StoreError::BadRow {
                                    table: "runs",
                                    key: key.clone(),
                                    what: "errors",
                                    detail: e.to_string(),
                                }
                            })?,
                            source_id,
                        },
                    })
                },
            )
            .collect()
    }

    /// The state of every source that has run or been scheduled, by id.
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        let raw: Vec<RawState> = self
            .conn
            .prepare_cached(&format!("SELECT {STATE_COLUMNS} FROM sources ORDER BY id"))
            .and_then(|mut s| s.query_map([], raw_state)?.collect())
            .map_err(self.err("reading source states"))?;
        raw.into_iter().map(decode_state).collect()
    }

    /// The state of one source; `None` before its first run or schedule.
    pub fn source_state(&self, id: &str) -> Result<Option<SourceState>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {STATE_COLUMNS} FROM sources WHERE id = ?1"
            ))
            .and_then(|mut s| s.query_row([id], raw_state).optional())
            .map_err(self.err("reading a source state"))?
            .map(decode_state)
            .transpose()
    }

    /// The fingerprint of the extraction settings source `id` was last
    /// stored with (see [`Store::set_extraction`]), if any.
    pub fn extraction(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT extraction FROM sources WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map(Option::flatten)
            .map_err(self.err("reading a source's extraction fingerprint"))
    }

    /// Records that source `id`'s calls and validators were stored with the
    /// extraction settings `fingerprint`.
    pub fn set_extraction(&mut self, id: &str, fingerprint: &str) -> Result<(), StoreError> {
        let e = self.err("storing a source's extraction fingerprint");
        let tx = self.write_tx("storing a source's extraction fingerprint")?;
        tx.execute(
            "INSERT INTO sources(id, extraction) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET extraction = excluded.extraction",
            params![id, fingerprint],
        )
        .map_err(&e)?;
        tx.commit().map_err(e)
    }

    /// Records when the scheduler will run source `id` next (`None`: not
    /// scheduled).
    pub fn set_next_run(&mut self, id: &str, at: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        self.set_source_time(id, "next_run", at)
    }

    /// Records that source `id` must not run before `until` (after failures
    /// or an HTTP 429 `Retry-After`); `None` lifts the backoff.
    pub fn set_backoff_until(
        &mut self,
        id: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.set_source_time(id, "backoff_until", until)
    }

    fn set_source_time(
        &mut self,
        id: &str,
        column: &'static str,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let e = self.err("scheduling a source");
        let tx = self.write_tx("scheduling a source")?;
        // `column` is one of two literals above, never user input.
        tx.execute(
            &format!(
                "INSERT INTO sources(id, {column}) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET {column} = excluded.{column}"
            ),
            params![id, at.map(ts)],
        )
        .map_err(&e)?;
        tx.commit().map_err(e)
    }
}
