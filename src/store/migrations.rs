//! The schema, as an append-only list of migrations tracked by
//! `PRAGMA user_version` (the pattern of cargo's `src/cargo/util/sqlite.rs`).
//!
//! Rules, because databases outlive binaries:
//!
//! - **Never remove or edit a migration entry.** A database at version N has
//!   run exactly the first N entries; changing one of them silently forks the
//!   schema. Fix mistakes with a new entry.
//! - **Never make a backwards-incompatible change** (dropping or renaming a
//!   column, tightening a constraint): an older fundwatch binary must keep
//!   working against a database migrated by a newer one. New columns get
//!   defaults.
//! - Migrations run in one EXCLUSIVE transaction at open, so two processes
//!   starting together cannot both migrate, and a failed migration leaves the
//!   previous version intact.

use rusqlite::{Connection, TransactionBehavior};

/// Every migration, in order. `user_version` = how many have run.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema. Timestamps are RFC 3339 UTC text with nanoseconds
    // (`2026-05-10T12:00:00.000000000Z`): fixed width, so text order is time
    // order and `WHERE at >= ?` works on them.
    r#"
    CREATE TABLE calls (
        id           TEXT PRIMARY KEY NOT NULL,
        source_id    TEXT NOT NULL,           -- the owner: first source to report it
        native_id    TEXT,
        url          TEXT NOT NULL,
        title        TEXT NOT NULL,
        summary      TEXT NOT NULL,
        text         TEXT NOT NULL,
        funder       TEXT NOT NULL,
        programme    TEXT,
        level        TEXT NOT NULL,           -- Level::as_str
        language     TEXT NOT NULL,           -- Language::as_str
        opening      TEXT,                    -- JSON DatePoint
        deadlines    TEXT NOT NULL,           -- JSON [DatePoint]
        next_cutoff  TEXT,                    -- earliest DatePoint::cutoff, for queries
        status       TEXT NOT NULL,           -- Status::as_str
        -- Budget in REAL columns rather than JSON: SQLite REAL is an exact f64,
        -- so a stored budget reads back bit for bit.
        budget_total          REAL,
        budget_min_per_grant  REAL,
        budget_max_per_grant  REAL,
        budget_expected       INTEGER,
        budget_currency       TEXT,           -- NULL exactly when there is no budget
        tags         TEXT NOT NULL,           -- JSON [string]
        identifiers  TEXT NOT NULL,           -- JSON [string]
        filled_from  TEXT NOT NULL DEFAULT '{}', -- JSON {field: source_id} filled by non-owners
        first_seen   TEXT NOT NULL,
        last_changed TEXT NOT NULL,
        rev          INTEGER NOT NULL         -- data_version of the last write
    ) STRICT;
    CREATE INDEX calls_next_cutoff ON calls(next_cutoff);
    CREATE INDEX calls_last_changed ON calls(last_changed);
    CREATE INDEX calls_rev ON calls(rev);

    CREATE TABLE call_keys (
        key     TEXT PRIMARY KEY NOT NULL,
        call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX call_keys_call ON call_keys(call_id);

    CREATE TABLE call_sources (
        call_id    TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        source_id  TEXT NOT NULL,
        url        TEXT NOT NULL,
        native_id  TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        PRIMARY KEY (call_id, source_id)
    ) STRICT;
    CREATE INDEX call_sources_source ON call_sources(source_id);

    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        source_id   TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        fetched     INTEGER,                  -- NULL: nothing re-read (304)
        new         INTEGER NOT NULL,
        updated     INTEGER NOT NULL,
        unchanged   INTEGER NOT NULL,
        errors      TEXT NOT NULL             -- JSON [string]
    ) STRICT;
    CREATE INDEX runs_source ON runs(source_id, started_at);

    CREATE TABLE changes (
        id      INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        at      TEXT NOT NULL,
        field   TEXT NOT NULL,
        old     TEXT NOT NULL,                -- JSON
        new     TEXT NOT NULL,                -- JSON
        run_id  INTEGER REFERENCES runs(id)
    ) STRICT;
    CREATE INDEX changes_call ON changes(call_id, id);
    CREATE INDEX changes_at ON changes(at);

    CREATE TABLE sources (
        id                   TEXT PRIMARY KEY NOT NULL,
        last_attempt         TEXT,
        last_success         TEXT,
        last_error           TEXT,
        last_error_at        TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        failing_since        TEXT,
        items_last_seen      INTEGER,
        next_run             TEXT,
        backoff_until        TEXT
    ) STRICT;

    CREATE TABLE validators (
        url           TEXT PRIMARY KEY NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        updated_at    TEXT NOT NULL
    ) STRICT;

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;
    "#,
    // 2: the digest outbox. One row per (profile, period), written before the
    // message is sent and marked after, so a crash or restart never sends a
    // digest twice nor skips one (see store/outbox.rs).
    r#"
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        profile_id       TEXT NOT NULL,
        period           TEXT NOT NULL,       -- ISO week, 2026-W48
        recipient        TEXT NOT NULL,
        status           TEXT NOT NULL,       -- pending | sending | sent | failed
        subject          TEXT NOT NULL,
        message_id       TEXT NOT NULL,
        text_body        TEXT NOT NULL,
        html_body        TEXT NOT NULL,
        list_unsubscribe TEXT,
        new_ids          TEXT NOT NULL,       -- JSON [call id]
        updated_ids      TEXT NOT NULL,       -- JSON [call id]
        closing_ids      TEXT NOT NULL,       -- JSON [call id]
        window_start     TEXT NOT NULL,       -- changes since this instant were considered
        created_at       TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_attempt     TEXT,
        last_error       TEXT,
        sent_at          TEXT,
        UNIQUE (profile_id, period)
    ) STRICT;
    CREATE INDEX outbox_status ON outbox(status);
    CREATE INDEX outbox_created ON outbox(created_at);
    "#,
    // 3: what a source's stored validators were earned with (its extraction
    // settings and the fundwatch version, hashed): a 304 for its first URL
    // re-reads nothing, so after the officer fixes a selector, or after an
    // upgrade, the validators must not be sent (see crawl.rs).
    r#"
    ALTER TABLE sources ADD COLUMN extraction TEXT;
    "#,
];

/// Brings `conn` up to the latest schema. A database already newer than this
/// binary (user_version beyond [`MIGRATIONS`]) is left alone: migrations are
/// backwards compatible, so older code keeps working on it.
///
/// An up-to-date database is only read: a read-only command opening the
/// store while the daemon writes must not wait for the write lock.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    if user_version(conn)? >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    // Read again under the lock: another process may have just migrated.
    let version = user_version(&tx)?;
    if version < MIGRATIONS.len() {
        for sql in &MIGRATIONS[version..] {
            tx.execute_batch(sql)?;
        }
        let len = i64::try_from(MIGRATIONS.len()).expect("invariant: few migrations");
        tx.pragma_update(None, "user_version", len)?;
    }
    tx.commit()
}

fn user_version(conn: &Connection) -> rusqlite::Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn migrate_twice() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        let again: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, again);
        assert_eq!(
            tables, 9,
            "calls, call_keys, call_sources, runs, changes, sources, validators, meta, outbox"
        );
    }

    #[test]
    fn a_newer_database_is_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), 99);
    }
}
