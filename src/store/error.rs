//! The store's error type: one enum whose messages say what went wrong *and*
//! what the officer or sysadmin should do next. SQLite result codes that mean
//! something operational (busy, full, read-only, corrupt) get their own
//! variants so callers can tell "try again later" from "free disk space".

use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Everything that can go wrong in [`crate::store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open database {path}: {source}; check that the parent directory exists and is writable by this user"
    )]
    Open {
        /// The file that was being opened.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// Another connection held the write lock for longer than the busy timeout.
    #[error(
        "database {db} is locked by another process (while {context}); wait for the other fundwatch command or the daemon to finish, then retry"
    )]
    Locked {
        /// The database file (or `:memory:`).
        db: String,
        /// What the store was doing.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The disk (or the configured page limit) is full. The transaction was
    /// rolled back: nothing of this write was kept, earlier data is intact.
    #[error(
        "disk full while {context} in {db}: the write was rolled back and nothing was written; free disk space and run again"
    )]
    DiskFull {
        /// The database file (or `:memory:`).
        db: String,
        /// What the store was doing.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file or its directory is read-only for this process.
    #[error(
        "database {db} is read-only (while {context}); the file, its -wal/-shm companions and their directory must be writable by the fundwatch user"
    )]
    ReadOnly {
        /// The database file (or `:memory:`).
        db: String,
        /// What the store was doing.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not a SQLite database, or is damaged.
    #[error(
        "database {db} is corrupt or not a fundwatch database (while {context}); restore it from a backup, or move it aside and re-crawl to rebuild it"
    )]
    Corrupt {
        /// The database file (or `:memory:`).
        db: String,
        /// What the store was doing.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite failure.
    #[error("database error in {db} while {context}: {source}")]
    Sqlite {
        /// The database file (or `:memory:`).
        db: String,
        /// What the store was doing.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value could not be read back (bad JSON, bad timestamp,
    /// unknown enum name): written by another program or a future version.
    #[error(
        "unreadable {what} in {table} row {key}: {detail}; the row was written by another program or version — fix or delete it"
    )]
    BadRow {
        /// Table name.
        table: &'static str,
        /// Primary key of the row.
        key: String,
        /// The column or value that failed.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// A value could not be turned into JSON for storage.
    #[error("cannot encode {what} of call {call_id} as JSON: {source}")]
    Encode {
        /// The call being written.
        call_id: String,
        /// The field being encoded.
        what: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// An id prefix names several calls.
    #[error("id prefix {prefix:?} matches several calls ({}); type more characters", candidates.join(", "))]
    AmbiguousId {
        /// What was asked.
        prefix: String,
        /// Some of the ids it matches.
        candidates: Vec<String>,
    },
    /// `apply_calls` was given a call that claims another source: a caller bug.
    #[error(
        "call {call_id} says it comes from source {found:?} but was applied as source {expected:?}; normalise calls with the source they were crawled from"
    )]
    SourceMismatch {
        /// The call.
        call_id: String,
        /// The source passed to `apply_calls`.
        expected: String,
        /// `call.source_id`.
        found: String,
    },
}

impl StoreError {
    /// Classifies a rusqlite error by its SQLite result code.
    pub(crate) fn from_sqlite(db: &str, context: &'static str, source: rusqlite::Error) -> Self {
        let db = db.to_owned();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                db,
                context,
                source,
            },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull {
                db,
                context,
                source,
            },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
                db,
                context,
                source,
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
                db,
                context,
                source,
            },
            _ => StoreError::Sqlite {
                db,
                context,
                source,
            },
        }
    }

    /// True when retrying later may succeed (lock contention).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Locked { .. })
    }
}
