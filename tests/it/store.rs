//! The store on a real SQLite file in a temporary directory: WAL on disk,
//! data surviving a reopen, a full disk rolling back cleanly, a second
//! writer getting a clear "locked" error, unreadable files named as such.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Europe::Paris;
use fundwatch::model::{Budget, Call, DatePoint, Language, Level, Status};
use fundwatch::store::{Store, StoreError};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn call(n: usize, text_len: usize) -> Call {
    Call {
        id: format!("{n:012x}"),
        source_id: "anr".to_owned(),
        native_id: Some(format!("AAP-{n}")),
        url: format!("https://anr.fr/fr/detail/call/appel-{n}/"),
        title: format!("Appel à projets n°{n}"),
        summary: "Résumé.".to_owned(),
        text: "Texte de l'appel. ".repeat(text_len / 18 + 1),
        funder: "ANR".to_owned(),
        programme: Some("AAPG".to_owned()),
        level: Level::National,
        language: Language::Fr,
        opening: None,
        deadlines: vec![DatePoint::day(
            NaiveDate::from_ymd_opt(2026, 10, 1 + (n % 28) as u32).unwrap(),
            Paris,
            "1er octobre 2026 à 17h00 (heure de Paris)",
        )],
        status: Status::Open,
        budget: Some(Budget {
            total: Some(1_500_000.0 + n as f64),
            currency: "EUR".to_owned(),
            ..Budget::default()
        }),
        tags: vec!["recherche".to_owned()],
        identifiers: vec![],
    }
}

fn integrity_ok(store: &Store) {
    let check: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_file_database_is_in_wal_mode_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    let now = t("2026-03-01T10:00:00Z");
    let calls: Vec<Call> = (0..5).map(|n| call(n, 100)).collect();
    let schema_version: i64;
    {
        let mut store = Store::open(&path).unwrap();
        schema_version = store
            .connection()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert!(schema_version >= 1);
        let mode: String = store
            .connection()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let s = store.apply_calls("anr", &calls, now).unwrap();
        assert_eq!(s.new.len(), 5);
        assert!(Path::new(&format!("{}-wal", path.display())).exists());
    }
    let mut store = Store::open(&path).unwrap();
    for c in &calls {
        assert_eq!(&store.call(&c.id).unwrap().unwrap().call, c);
    }
    assert_eq!(store.data_version().unwrap(), 1);
    // Reopening did not re-run migrations or disturb anything.
    let version: i64 = store
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema_version);
    let s = store
        .apply_calls("anr", &calls, now + TimeDelta::hours(1))
        .unwrap();
    assert_eq!(s.unchanged, 5);
    integrity_ok(&store);
}

#[test]
fn a_second_connection_reads_what_the_first_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    let mut writer = Store::open(&path).unwrap();
    let reader = Store::open(&path).unwrap();
    assert!(reader.call(&call(1, 10).id).unwrap().is_none());
    writer
        .apply_calls("anr", &[call(1, 10)], t("2026-03-01T10:00:00Z"))
        .unwrap();
    assert_eq!(
        reader.call(&call(1, 10).id).unwrap().unwrap().call,
        call(1, 10)
    );
    assert_eq!(reader.data_version().unwrap(), 1);
}

#[test]
fn a_full_disk_rolls_back_and_keeps_everything_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    let now = t("2026-03-01T10:00:00Z");
    let mut store = Store::open(&path).unwrap();
    let before: Vec<Call> = (0..20).map(|n| call(n, 500)).collect();
    store.apply_calls("anr", &before, now).unwrap();
    let version = store.data_version().unwrap();

    // Simulate a full disk: the file may not grow past its current size.
    let pages: i64 = store
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .connection()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();

    // A batch that needs more pages: new calls plus an update of an old one.
    let mut batch: Vec<Call> = (100..140).map(|n| call(n, 20_000)).collect();
    let mut moved = before[0].clone();
    moved.deadlines = vec![DatePoint::day(
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        Paris,
        "",
    )];
    batch.insert(0, moved);
    let err = store
        .apply_calls("anr", &batch, now + TimeDelta::hours(1))
        .unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("disk full"), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert!(msg.contains("free disk space"), "{msg}");

    // Nothing of the failed batch, everything from before.
    assert_eq!(store.call_count().unwrap(), 20);
    assert_eq!(store.data_version().unwrap(), version);
    for c in &before {
        assert_eq!(&store.call(&c.id).unwrap().unwrap().call, c);
    }
    assert!(store.history(&before[0].id).unwrap().is_empty());
    integrity_ok(&store);
    drop(store);

    // After "freeing space" (a fresh connection has no page limit) the same
    // batch goes through.
    let mut store = Store::open(&path).unwrap();
    integrity_ok(&store);
    let s = store
        .apply_calls("anr", &batch, now + TimeDelta::hours(2))
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len()), (40, 1));
    assert_eq!(store.call_count().unwrap(), 60);
}

#[test]
fn a_second_writer_gets_a_clear_locked_error_and_the_first_is_unharmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    let mut store = Store::open(&path).unwrap();
    store
        .apply_calls("anr", &[call(1, 10)], t("2026-03-01T10:00:00Z"))
        .unwrap();
    // Another process holds the write lock (for longer than the busy timeout).
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    // A read-only command can still open the (already migrated) store and
    // read, without waiting for the lock.
    let started = std::time::Instant::now();
    let reader = Store::open(&path).unwrap();
    assert_eq!(reader.call_count().unwrap(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let err = store
        .apply_calls("anr", &[call(2, 10)], t("2026-03-01T11:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    other.execute_batch("ROLLBACK").unwrap();
    // Reads never waited, and the write succeeds once the lock is gone.
    assert_eq!(store.call_count().unwrap(), 1);
    let s = store
        .apply_calls("anr", &[call(2, 10)], t("2026-03-01T11:00:00Z"))
        .unwrap();
    assert_eq!(s.new.len(), 1);
}

#[test]
fn opening_in_a_missing_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("fundwatch.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no-such-dir"), "{msg}");
    assert!(msg.contains("parent directory exists"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    std::fs::write(
        &path,
        "this is a sources.toml, not a database\n".repeat(200),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not a fundwatch database"),
        "{err}"
    );
    // And the file was left untouched.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("this is a sources.toml")
    );
}
