//! The SQLite store: the source of truth for calls, their links to sources,
//! their field-level history, per-source health, per-URL HTTP validators and
//! the fetch-run log. The tantivy index is derived from it (DESIGN.md: "SQLite
//! is the truth, tantivy is derived").
//!
//! # Architecture
//!
//! - [`Store`] wraps one `rusqlite::Connection`; every public write is one
//!   transaction, so an error (disk full, lock timeout, bad row) rolls back
//!   and leaves the previous content intact.
//! - `migrations` holds the append-only schema (cargo's `util/sqlite.rs`
//!   pattern: `PRAGMA user_version`, an EXCLUSIVE transaction at open).
//! - `calls` holds identity matching, the owner/link rules and history
//!   ([`Store::apply_calls`]); `sources` holds runs, source state and
//!   validators.
//!
//! # Identity and ownership
//!
//! A call is known under the keys of [`crate::normalize::identity_keys`]
//! (`eu:`, `src:`, `url:`, `td:`); two calls sharing any key are one call.
//! One exception: within one source, different native ids are different
//! calls even when another key matches (items sharing a title and deadline,
//! or all linking to the same listing page). Among keys registered by
//! different calls, the first registered keeps the key.
//! The first source to report a call *owns* it (`calls.source_id`), except
//! that the source whose own id is the call's EU topic identifier (the
//! portal) takes over a topic first reported by a relay: only the owner's
//! crawls change its fields, recording one `changes` row per changed
//! field. Other sources add a link (`call_sources`) and may only fill fields
//! the owner leaves empty (summary, text, programme, opening, deadlines,
//! budget); which source filled what is kept in `calls.filled_from`, so the
//! owner's next crawl (still without that field) does not erase the fill,
//! and an owner that starts giving the field takes it back.
//!
//! Re-applying unchanged content writes no row at all. The one exception is
//! a link's `last_seen`, refreshed at most once per [`LAST_SEEN_RESOLUTION`]
//! so that "when did this source last list the call" stays answerable
//! without a write on every crawl.
//!
//! # Data version
//!
//! `meta.data_version` counts the transactions that changed call data (a
//! call inserted, its fields changed, a link added or moved); each such call
//! gets `calls.rev` = that version. The index stores the version it reflects
//! and asks [`Store::calls_since_rev`] what to refresh; a lower version than
//! [`Store::data_version`] means the index lags the database.
//!
//! ## Locking
//!
//! Every connection uses WAL (readers never block the writer, nor the writer
//! readers), `synchronous=NORMAL` (durable at checkpoints, never corrupt; a
//! power cut can lose the last transactions, which the next crawl refetches),
//! `foreign_keys=ON` and a [`BUSY_TIMEOUT`]: a second writer waits that long
//! for the lock, then gets [`StoreError::Locked`]. Write transactions are
//! `IMMEDIATE`, taking the write lock up front so they never fail half-way
//! on a lock upgrade. rusqlite is synchronous: async callers run the store on
//! a blocking thread and never hold it across an `.await`. A [`Store`] is
//! `Send` but not `Sync`: move it into the blocking task, or open one per
//! job (opening a migrated database is cheap and takes no lock).
//!
//! ## Compatibility
//!
//! Migrations are append-only and backwards compatible (see `migrations`), so
//! an older binary keeps working on a database a newer one migrated; a
//! database whose `user_version` is ahead of this binary is used as is.
//! Enums are stored by their `as_str()` names, dates as RFC 3339 UTC text,
//! structured values as JSON, so the file stays readable with `sqlite3`.

mod calls;
mod error;
mod migrations;
mod outbox;
mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::model::Call;

pub use error::StoreError;

/// Locks a store shared between tasks. A panic while another task held it
/// poisons the mutex, but leaves the database as it was: the open
/// transaction, if any, rolled back when it was dropped during the unwind.
/// Refusing the lock from then on failed every later crawl and database
/// task until the daemon was restarted, so the lock is taken anyway.
pub fn lock(store: &std::sync::Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| {
        tracing::warn!("the database handle was held by a task that panicked; going on with it");
        poisoned.into_inner()
    })
}
pub use outbox::{DigestRecord, OutboxEntry, OutboxMessage, OutboxStatus, next_window_start};

/// How long a connection waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A link's `last_seen` is refreshed at most this often, so that re-crawling
/// unchanged content writes nothing.
pub const LAST_SEEN_RESOLUTION: TimeDelta = TimeDelta::hours(24);

/// The fields whose changes are recorded in the history, by name, in the
/// order they are compared. `level`, `language`, `native_id` and
/// `identifiers` describe the source more than the call: they are updated
/// without a history row.
pub const TRACKED_FIELDS: &[&str] = &[
    "title",
    "url",
    "summary",
    "text",
    "funder",
    "programme",
    "opening",
    "deadlines",
    "status",
    "budget",
    "tags",
];

/// The `meta` key of the call-data write counter.
const DATA_VERSION_KEY: &str = "data_version";

/// The SQLite database of one fundwatch installation.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// The file name, for error messages (`:memory:` in tests).
    db: String,
}

/// What [`Store::apply_calls`] did, for the run log and the digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    /// Ids of calls seen for the first time.
    pub new: Vec<String>,
    /// Ids of calls whose stored fields changed (history rows were written
    /// for tracked fields).
    pub updated: Vec<String>,
    /// How many applied calls changed nothing (including calls owned by
    /// another source that only got a link, and duplicates within the batch).
    pub unchanged: usize,
}

/// One source's link to a call: the same call as that source lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLink {
    /// The source.
    pub source_id: String,
    /// The call's URL on that source.
    pub url: String,
    /// That source's own id for it.
    pub native_id: Option<String>,
    /// When that source first listed it.
    pub first_seen: DateTime<Utc>,
    /// When that source last listed it (to within [`LAST_SEEN_RESOLUTION`]).
    pub last_seen: DateTime<Utc>,
}

/// A call as stored, with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCall {
    /// The call, exactly as last written.
    pub call: Call,
    /// When it was first stored.
    pub first_seen: DateTime<Utc>,
    /// When a field last changed (or `first_seen`).
    pub last_changed: DateTime<Utc>,
    /// The data version of its last write (see the module doc).
    pub rev: i64,
    /// Every source listing it, owner included, oldest first.
    pub links: Vec<SourceLink>,
    /// Fields filled by a source other than the owner: field → source id.
    pub filled_from: BTreeMap<String, String>,
}

/// One field-level change of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Row id, increasing in write order.
    pub id: i64,
    /// The call.
    pub call_id: String,
    /// When the change was stored.
    pub at: DateTime<Utc>,
    /// One of [`TRACKED_FIELDS`].
    pub field: String,
    /// The value before, as JSON (`null` when absent).
    pub old: serde_json::Value,
    /// The value after, as JSON.
    pub new: serde_json::Value,
    /// The run that saw it, when known.
    pub run_id: Option<i64>,
}

/// One fetch run of one source, as the crawl job reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The source crawled.
    pub source_id: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// False when the source as a whole failed (nothing usable fetched);
    /// item-level problems on a successful run go in `errors` with `ok`.
    pub ok: bool,
    /// Calls the source yielded this run; `None` when nothing was re-read
    /// (HTTP 304), so the "yields zero items" check keeps the last count.
    pub fetched: Option<u64>,
    /// Calls stored for the first time.
    pub new: u64,
    /// Calls whose fields changed.
    pub updated: u64,
    /// Calls seen again unchanged.
    pub unchanged: u64,
    /// Error messages, fatal or per item.
    pub errors: Vec<String>,
}

/// A stored run, with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRun {
    /// Row id.
    pub id: i64,
    /// The run.
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The health and schedule memory of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Source id.
    pub id: String,
    /// Start of the last run, successful or not.
    pub last_attempt: Option<DateTime<Utc>>,
    /// End of the last successful run.
    pub last_success: Option<DateTime<Utc>>,
    /// Message of the last failed run (kept after recovery, for the record).
    pub last_error: Option<String>,
    /// When that failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failed runs since the last success (0 = healthy).
    pub consecutive_failures: u32,
    /// Start of the first failed run of the current failure streak.
    pub failing_since: Option<DateTime<Utc>>,
    /// Calls the last successful run that re-read the source yielded.
    pub items_last_seen: Option<u64>,
    /// When the scheduler plans to run it next.
    pub next_run: Option<DateTime<Utc>>,
    /// No run before this instant (after failures or a 429).
    pub backoff_until: Option<DateTime<Utc>>,
}

/// Timestamps as stored: RFC 3339 UTC, nanoseconds, `Z`. Fixed width, so
/// text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Reads a stored timestamp back.
pub(crate) fn parse_ts(
    table: &'static str,
    key: &str,
    what: &'static str,
    s: &str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::BadRow {
            table,
            key: key.to_owned(),
            what,
            detail: format!("{s:?}: {e}"),
        })
}

/// Reads an optional stored timestamp back.
pub(crate) fn parse_opt_ts(
    table: &'static str,
    key: &str,
    what: &'static str,
    s: Option<String>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_ts(table, key, what, &s)).transpose()
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// the current schema. The parent directory must exist.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Store::setup(conn, path.display().to_string())
    }

    /// A private in-memory database, for tests and dry runs.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Store::setup(conn, ":memory:".to_owned())
    }

    fn setup(conn: Connection, db: String) -> Result<Store, StoreError> {
        let mut store = Store { conn, db };
        let e = |context| {
            let db = store.db.clone();
            move |source| StoreError::from_sqlite(&db, context, source)
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(e("setting the busy timeout"))?;
        // journal_mode answers with the mode in force: an in-memory database
        // stays "memory", a file becomes "wal" (persistent in the file).
        let mode: String = store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(e("switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") && store.db != ":memory:" {
            // Some network filesystems cannot hold WAL's shared memory; the
            // store still works, but readers then block the writer.
            tracing::warn!(db = %store.db, journal_mode = %mode, "SQLite refused WAL mode");
        }
        store
            .conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(e("setting synchronous"))?;
        store
            .conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(e("enabling foreign keys"))?;
        migrations::migrate(&mut store.conn).map_err(e("migrating the schema"))?;
        Ok(store)
    }

    /// The connection, for read-only checks in tests and diagnostics
    /// (`PRAGMA integrity_check`, `journal_mode`). Writes go through the
    /// methods, which keep the invariants.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Maps a rusqlite error with what the store was doing.
    fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let db = self.db.clone();
        move |source| StoreError::from_sqlite(&db, context, source)
    }

    /// Starts the one transaction of a public write.
    fn write_tx(&mut self, context: &'static str) -> Result<rusqlite::Transaction<'_>, StoreError> {
        let e = self.err(context);
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)
    }

    /// The call-data write counter (see the module doc); 0 on a new database.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        read_data_version(&self.conn).map_err(self.err("reading the data version"))
    }

    /// A free-form value from the `meta` table (e.g. the index generation).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err("reading meta"))
    }

    /// Sets a free-form `meta` value. Does not bump the data version.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let e = self.err("writing meta");
        let tx = self.write_tx("writing meta")?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .map_err(&e)?;
        tx.commit().map_err(e)
    }
}

/// Reads `meta.data_version` (0 when never written).
fn read_data_version(conn: &Connection) -> rusqlite::Result<i64> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([DATA_VERSION_KEY], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

#[cfg(test)]
mod tests;
