//! Unit tests of the store on in-memory databases. File-backed behaviour
//! (reopen, WAL, full disk) is in `tests/it/store.rs`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Europe::{Brussels, Paris};
use serde_json::json;

use super::*;
use crate::model::{Budget, DatePoint, Language, Level, Status, Validators};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(y: i32, m: u32, d: u32) -> DatePoint {
    DatePoint::day(
        NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        Paris,
        format!("{d}/{m}/{y}"),
    )
}

/// A plain call from `source` with one deadline.
fn call(source: &str, id: &str, title: &str) -> Call {
    Call {
        id: id.to_owned(),
        source_id: source.to_owned(),
        native_id: Some(format!("n-{id}")),
        url: format!("https://{source}.example.org/calls/{id}"),
        title: title.to_owned(),
        summary: "A summary.".to_owned(),
        text: "The full text.".to_owned(),
        funder: "ANR".to_owned(),
        programme: None,
        level: Level::National,
        language: Language::Fr,
        opening: None,
        deadlines: vec![day(2026, 9, 15)],
        status: Status::Open,
        budget: None,
        tags: vec!["research".to_owned()],
        identifiers: vec![],
    }
}

/// A call with every field set, several deadline precisions included.
fn full_call() -> Call {
    Call {
        id: "0123456789ab".to_owned(),
        source_id: "eu-portal".to_owned(),
        native_id: Some("HORIZON-CL4-2026-HUMAN-03-01".to_owned()),
        url: "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/horizon-cl4-2026-human-03-01".to_owned(),
        title: "Appel à projets — Human-centred AI (RIA)".to_owned(),
        summary: "Résumé avec accents: é, è, ç, « guillemets ».".to_owned(),
        text: "Line one.\nLine two with 17h00 (heure de Paris).".to_owned(),
        funder: "European Commission".to_owned(),
        programme: Some("Horizon Europe".to_owned()),
        level: Level::Eu,
        language: Language::En,
        opening: Some(DatePoint::day(
            NaiveDate::from_ymd_opt(2026, 5, 6).unwrap(),
            Brussels,
            "Opening: 06 May 2026",
        )),
        deadlines: vec![
            DatePoint::month(2026, 3, Paris, "fin mars 2026").unwrap().with_label("pre-proposal"),
            day(2026, 6, 30),
            DatePoint::instant(
                t("2026-09-16T15:00:00.123456789Z"),
                Brussels,
                "16 September 2026 17:00:00 Brussels time",
            )
            .with_label("Step II"),
        ],
        status: Status::Forthcoming,
        budget: Some(Budget {
            total: Some(12_345_678.9),
            min_per_grant: Some(0.1 + 0.2),
            max_per_grant: Some(4_000_000.0),
            expected_grants: Some(3),
            currency: "EUR".to_owned(),
        }),
        tags: vec!["AI".to_owned(), "digital".to_owned(), "Horizon".to_owned()],
        identifiers: vec!["HORIZON-CL4-2026-HUMAN-03-01".to_owned()],
    }
}

fn total_changes(store: &Store) -> u64 {
    store.connection().total_changes()
}

#[test]
fn a_store_can_move_to_a_blocking_thread() {
    fn is_send<T: Send>() {}
    is_send::<Store>();
    is_send::<StoreError>();
}

#[test]
fn every_connection_has_foreign_keys_and_a_busy_timeout() {
    let store = Store::open_in_memory().unwrap();
    let fk: i64 = store
        .connection()
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let timeout: i64 = store
        .connection()
        .pragma_query_value(None, "busy_timeout", |r| r.get(0))
        .unwrap();
    assert_eq!(timeout, 5000);
    let sync: i64 = store
        .connection()
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

#[test]
fn a_call_with_every_field_set_round_trips_exactly() {
    let mut store = Store::open_in_memory().unwrap();
    let now = t("2026-01-10T08:30:00.987654321Z");
    let c = full_call();
    let summary = store
        .apply_calls("eu-portal", std::slice::from_ref(&c), now)
        .unwrap();
    assert_eq!(summary.new, vec![c.id.clone()]);
    let stored = store.call(&c.id).unwrap().expect("stored");
    assert_eq!(stored.call, c);
    assert_eq!(stored.first_seen, now);
    assert_eq!(stored.last_changed, now);
    assert_eq!(stored.rev, 1);
    assert!(stored.filled_from.is_empty());
    assert_eq!(
        stored.links,
        vec![SourceLink {
            source_id: "eu-portal".to_owned(),
            url: c.url.clone(),
            native_id: c.native_id.clone(),
            first_seen: now,
            last_seen: now,
        }]
    );
    // next_cutoff is the earliest cut-off: the end of March 2026 in Paris.
    let next: String = store
        .connection()
        .query_row("SELECT next_cutoff FROM calls", [], |r| r.get(0))
        .unwrap();
    assert_eq!(next, "2026-03-31T21:59:59.000000000Z");
}

#[test]
fn a_call_without_optional_fields_round_trips_exactly() {
    let mut store = Store::open_in_memory().unwrap();
    let mut c = call("anr", "aaaa00000001", "Bare");
    c.native_id = None;
    c.deadlines.clear();
    c.tags.clear();
    c.summary.clear();
    c.budget = Some(Budget {
        currency: "EUR".to_owned(),
        ..Budget::default()
    });
    store
        .apply_calls("anr", std::slice::from_ref(&c), t("2026-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(store.call(&c.id).unwrap().unwrap().call, c);
}

#[test]
fn new_then_updated_then_unchanged() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let mut c = call("anr", "aaaa00000001", "Appel Mobilité");
    let s = store
        .apply_calls("anr", std::slice::from_ref(&c), t0)
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (1, 0, 0));
    assert_eq!(store.data_version().unwrap(), 1);

    // The deadline moves: one history row for `deadlines`, old and new.
    let t1 = t("2026-03-02T10:00:00Z");
    let old_deadlines = c.deadlines.clone();
    c.deadlines = vec![day(2026, 10, 1)];
    let s = store
        .apply_calls("anr", std::slice::from_ref(&c), t1)
        .unwrap();
    assert_eq!(s.updated, vec![c.id.clone()]);
    assert!(s.new.is_empty());
    let history = store.history(&c.id).unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].field, "deadlines");
    assert_eq!(
        history[0].old,
        serde_json::to_value(&old_deadlines).unwrap()
    );
    assert_eq!(history[0].new, serde_json::to_value(&c.deadlines).unwrap());
    assert_eq!(history[0].new[0]["date"], "2026-10-01");
    assert_eq!(history[0].at, t1);
    let stored = store.call(&c.id).unwrap().unwrap();
    assert_eq!(stored.call, c);
    assert_eq!(stored.first_seen, t0);
    assert_eq!(stored.last_changed, t1);
    assert_eq!(store.data_version().unwrap(), 2);

    // Same content again, an hour later: not a single row written.
    let before = total_changes(&store);
    let s = store
        .apply_calls("anr", std::slice::from_ref(&c), t1 + TimeDelta::hours(1))
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (0, 0, 1));
    assert_eq!(
        total_changes(&store),
        before,
        "re-crawling unchanged content wrote rows"
    );
    assert_eq!(store.data_version().unwrap(), 2);
    assert_eq!(store.history(&c.id).unwrap().len(), 1);
}

/// Identifiers were stored upper-cased before 2026-11-27 and now keep the
/// source's case: the first crawl after the change stores the source's case
/// without reporting the call as changed (no history row, same
/// `last_changed`, rev and data version), and the next one writes nothing.
/// A real change of identifier is still a change.
#[test]
fn a_case_only_identifier_change_is_stored_without_making_the_call_changed() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let mut c = call("eu", "aaaa00000009", "Soil");
    c.identifiers = vec!["HORIZON-MISS-2027-05-SOIL-01-TWO-STAGE".to_owned()];
    store
        .apply_calls("eu", std::slice::from_ref(&c), t0)
        .unwrap();
    let v0 = store.data_version().unwrap();

    c.identifiers = vec!["HORIZON-MISS-2027-05-SOIL-01-two-stage".to_owned()];
    let t1 = t0 + TimeDelta::hours(6);
    let s = store
        .apply_calls("eu", std::slice::from_ref(&c), t1)
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (0, 0, 1));
    let stored = store.call(&c.id).unwrap().unwrap();
    assert_eq!(stored.call.identifiers, c.identifiers, "the source's case");
    assert_eq!(stored.last_changed, t0);
    assert_eq!(store.data_version().unwrap(), v0);
    assert!(store.history(&c.id).unwrap().is_empty());

    let before = total_changes(&store);
    let s = store
        .apply_calls("eu", std::slice::from_ref(&c), t1 + TimeDelta::hours(1))
        .unwrap();
    assert_eq!(s.unchanged, 1);
    assert_eq!(total_changes(&store), before, "nothing written again");

    c.identifiers = vec!["HORIZON-MISS-2027-05-SOIL-02-two-stage".to_owned()];
    let t2 = t1 + TimeDelta::hours(2);
    let s = store
        .apply_calls("eu", std::slice::from_ref(&c), t2)
        .unwrap();
    assert_eq!(s.updated, vec![c.id.clone()]);
    assert_eq!(store.call(&c.id).unwrap().unwrap().last_changed, t2);
}

#[test]
fn several_changed_fields_give_one_history_row_each() {
    let mut store = Store::open_in_memory().unwrap();
    let mut c = call("anr", "aaaa00000001", "Appel");
    c.status = Status::Forthcoming;
    store
        .apply_calls("anr", std::slice::from_ref(&c), t("2026-03-01T10:00:00Z"))
        .unwrap();
    c.status = Status::Open;
    c.budget = Some(Budget {
        total: Some(1e6),
        currency: "EUR".to_owned(),
        ..Budget::default()
    });
    c.language = Language::En; // untracked: written, no history row
    store
        .apply_calls("anr", std::slice::from_ref(&c), t("2026-03-02T10:00:00Z"))
        .unwrap();
    let h = store.history(&c.id).unwrap();
    let fields: Vec<&str> = h.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["status", "budget"]);
    assert_eq!(h[0].old, json!("forthcoming"));
    assert_eq!(h[0].new, json!("open"));
    assert_eq!(h[1].old, json!(null));
    assert_eq!(h[1].new, json!({"total": 1e6, "currency": "EUR"}));
    assert_eq!(store.call(&c.id).unwrap().unwrap().call, c);
}

#[test]
fn the_same_call_from_two_sources_is_one_call_with_two_links() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let mut owner = call("eu-portal", "e0e0e0e0e0e0", "HORIZON topic (portal title)");
    owner.identifiers = vec!["HORIZON-CL4-2026-HUMAN-03".to_owned()];
    owner.deadlines.clear(); // the owner gives no deadline
    owner.programme = Some("Horizon Europe".to_owned());
    store
        .apply_calls("eu-portal", std::slice::from_ref(&owner), t0)
        .unwrap();

    // A national relay names the same EU topic, under its own URL, title and
    // id. (All within a day, so no `last_seen` refresh is due.)
    let t1 = t("2026-03-01T12:00:00Z");
    let mut relay = call("ncp", "f1f1f1f1f1f1", "Relais national : HORIZON topic");
    relay.identifiers = vec!["HORIZON-CL4-2026-HUMAN-03".to_owned()];
    relay.programme = Some("Horizon (relay's name)".to_owned());
    let s = store
        .apply_calls("ncp", std::slice::from_ref(&relay), t1)
        .unwrap();
    assert!(s.new.is_empty(), "{s:?}");
    // It filled the deadlines the owner left empty: counted as updated.
    assert_eq!(s.updated, vec![owner.id.clone()]);

    assert_eq!(store.call_count().unwrap(), 1);
    assert!(
        store.call(&relay.id).unwrap().is_none(),
        "the relay's id is not a call"
    );
    let stored = store.call(&owner.id).unwrap().unwrap();
    // The owner's fields stand; only the empty one was filled.
    assert_eq!(stored.call.id, owner.id, "ids are stable");
    assert_eq!(stored.call.title, owner.title);
    assert_eq!(stored.call.url, owner.url);
    assert_eq!(stored.call.source_id, "eu-portal");
    assert_eq!(stored.call.programme, owner.programme);
    assert_eq!(stored.call.deadlines, relay.deadlines);
    assert_eq!(
        stored.filled_from.get("deadlines").map(String::as_str),
        Some("ncp")
    );
    let links: Vec<(&str, &str)> = stored
        .links
        .iter()
        .map(|l| (l.source_id.as_str(), l.url.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            ("eu-portal", owner.url.as_str()),
            ("ncp", relay.url.as_str())
        ]
    );
    let per_source = store.calls_per_source().unwrap();
    assert_eq!(per_source.get("eu-portal"), Some(&1));
    assert_eq!(per_source.get("ncp"), Some(&1));
    let h = store.history(&owner.id).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].field, "deadlines");

    // The relay's own key now finds the call too: a second relay crawl is
    // unchanged and writes nothing.
    let before = total_changes(&store);
    let s = store
        .apply_calls(
            "ncp",
            std::slice::from_ref(&relay),
            t1 + TimeDelta::hours(2),
        )
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (0, 0, 1));
    assert_eq!(total_changes(&store), before);

    // The owner re-crawls, still without deadlines: the fill is kept, nothing written.
    let s = store
        .apply_calls(
            "eu-portal",
            std::slice::from_ref(&owner),
            t1 + TimeDelta::hours(3),
        )
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (0, 0, 1));
    assert_eq!(total_changes(&store), before);

    // The owner starts giving a deadline: it takes the field back.
    owner.deadlines = vec![day(2026, 11, 20)];
    let s = store
        .apply_calls(
            "eu-portal",
            std::slice::from_ref(&owner),
            t1 + TimeDelta::hours(4),
        )
        .unwrap();
    assert_eq!(s.updated, vec![owner.id.clone()]);
    let stored = store.call(&owner.id).unwrap().unwrap();
    assert_eq!(stored.call.deadlines, owner.deadlines);
    assert!(stored.filled_from.is_empty());
    // And the relay can no longer touch it.
    relay.deadlines = vec![day(2026, 12, 1)];
    let s = store
        .apply_calls(
            "ncp",
            std::slice::from_ref(&relay),
            t1 + TimeDelta::hours(5),
        )
        .unwrap();
    assert_eq!(s.unchanged, 1, "{s:?}");
    assert_eq!(
        store.call(&owner.id).unwrap().unwrap().call.deadlines,
        owner.deadlines
    );
}

#[test]
fn a_non_owner_that_fills_nothing_only_adds_a_link() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let owner = call("anr", "aaaa00000001", "Appel Mobilité 2026");
    store
        .apply_calls("anr", std::slice::from_ref(&owner), t0)
        .unwrap();
    let v0 = store.data_version().unwrap();
    // Another source with the same folded title and first deadline (td: key).
    let mut other = call("campusfrance", "bbbb00000002", "APPEL MOBILITÉ 2026 !");
    other.summary = "Another summary that must not win.".to_owned();
    let s = store
        .apply_calls("campusfrance", std::slice::from_ref(&other), t0)
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (0, 0, 1));
    let stored = store.call(&owner.id).unwrap().unwrap();
    assert_eq!(stored.call, owner);
    assert_eq!(stored.links.len(), 2);
    assert!(store.history(&owner.id).unwrap().is_empty());
    // The new link is call data for the index: version bumped, call marked.
    assert_eq!(store.data_version().unwrap(), v0 + 1);
    assert_eq!(store.calls_since_rev(v0).unwrap(), vec![owner.id.clone()]);
}

#[test]
fn last_seen_is_refreshed_at_most_daily() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let c = call("anr", "aaaa00000001", "Appel");
    store
        .apply_calls("anr", std::slice::from_ref(&c), t0)
        .unwrap();
    let v = store.data_version().unwrap();
    let before = total_changes(&store);
    store
        .apply_calls("anr", std::slice::from_ref(&c), t0 + TimeDelta::hours(23))
        .unwrap();
    assert_eq!(total_changes(&store), before);
    let later = t0 + TimeDelta::hours(25);
    let s = store
        .apply_calls("anr", std::slice::from_ref(&c), later)
        .unwrap();
    assert_eq!(s.unchanged, 1);
    assert_eq!(total_changes(&store), before + 1, "only the link row");
    let stored = store.call(&c.id).unwrap().unwrap();
    assert_eq!(stored.links[0].last_seen, later);
    assert_eq!(stored.links[0].first_seen, t0);
    assert_eq!(stored.last_changed, t0);
    assert_eq!(
        store.data_version().unwrap(),
        v,
        "a last_seen refresh is not call data"
    );
}

#[test]
fn a_call_listed_twice_in_one_batch_is_stored_once() {
    let mut store = Store::open_in_memory().unwrap();
    let c = call("anr", "aaaa00000001", "Appel");
    let mut twin = c.clone();
    twin.title = "Appel (listed again)".to_owned();
    let s = store
        .apply_calls("anr", &[c.clone(), twin], t("2026-03-01T10:00:00Z"))
        .unwrap();
    assert_eq!((s.new.len(), s.updated.len(), s.unchanged), (1, 0, 1));
    assert_eq!(store.call(&c.id).unwrap().unwrap().call, c);
    assert!(store.history(&c.id).unwrap().is_empty());
}

#[test]
fn a_call_claiming_another_source_is_refused_and_nothing_is_written() {
    let mut store = Store::open_in_memory().unwrap();
    let good = call("anr", "aaaa00000001", "Good");
    let bad = call("ukri", "bbbb00000002", "Bad");
    let err = store
        .apply_calls("anr", &[good, bad], t("2026-03-01T10:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, StoreError::SourceMismatch { .. }), "{err}");
    assert!(err.to_string().contains("\"ukri\""), "{err}");
    assert_eq!(store.call_count().unwrap(), 0);
}

#[test]
fn a_failing_call_rolls_back_the_whole_batch() {
    let mut store = Store::open_in_memory().unwrap();
    let first = call("anr", "aaaa00000001", "First");
    store
        .apply_calls(
            "anr",
            std::slice::from_ref(&first),
            t("2026-03-01T10:00:00Z"),
        )
        .unwrap();
    // Make the stored row unreadable, then crawl it with a new call first.
    store
        .connection()
        .execute(
            "UPDATE calls SET deadlines = 'not json' WHERE id = ?1",
            [&first.id],
        )
        .unwrap();
    let fresh = call("anr", "cccc00000003", "Fresh");
    let err = store
        .apply_calls(
            "anr",
            &[fresh.clone(), first.clone()],
            t("2026-03-02T10:00:00Z"),
        )
        .unwrap_err();
    match &err {
        StoreError::BadRow {
            table, key, what, ..
        } => {
            assert_eq!(
                (*table, key.as_str(), *what),
                ("calls", first.id.as_str(), "deadlines")
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        store.call(&fresh.id).unwrap().is_none(),
        "the batch was rolled back"
    );
}

#[test]
fn calls_are_found_by_unique_prefix() {
    let mut store = Store::open_in_memory().unwrap();
    let now = t("2026-03-01T10:00:00Z");
    let calls = [
        call("anr", "abc111111111", "One"),
        call("anr", "abc222222222", "Two"),
        call("anr", "def333333333", "Three"),
    ];
    store.apply_calls("anr", &calls, now).unwrap();
    assert_eq!(store.call("def").unwrap().unwrap().call.title, "Three");
    assert_eq!(store.call("abc2").unwrap().unwrap().call.title, "Two");
    assert!(store.call("zzz").unwrap().is_none());
    assert!(store.call("").unwrap().is_none());
    let err = store.call("abc").unwrap_err();
    assert!(matches!(err, StoreError::AmbiguousId { .. }));
    assert!(
        err.to_string().contains("abc111111111, abc222222222"),
        "{err}"
    );
}

#[test]
fn changed_since_and_since_rev_list_what_changed() {
    let mut store = Store::open_in_memory().unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let t1 = t("2026-03-08T10:00:00Z");
    let a = call("anr", "aaaa00000001", "A");
    let mut b = call("anr", "bbbb00000002", "B");
    store
        .apply_calls("anr", &[a.clone(), b.clone()], t0)
        .unwrap();
    let v = store.data_version().unwrap();
    b.title = "B, renamed".to_owned();
    store
        .apply_calls("anr", &[a.clone(), b.clone()], t1)
        .unwrap();
    assert_eq!(store.calls_changed_since(t1).unwrap(), vec![b.id.clone()]);
    assert_eq!(
        store.calls_changed_since(t0).unwrap(),
        vec![a.id.clone(), b.id.clone()]
    );
    assert_eq!(store.calls_since_rev(v).unwrap(), vec![b.id.clone()]);
    assert!(store.calls_since_rev(v + 1).unwrap().is_empty());
    let ch = store.changes_since(t1).unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(
        (ch[0].call_id.as_str(), ch[0].field.as_str()),
        (b.id.as_str(), "title")
    );

    let mut seen = Vec::new();
    store
        .for_each_call(|c| {
            seen.push((c.call.id, c.links.len()));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(seen, [(a.id, 1), (b.id, 1)]);
}

#[test]
fn non_finite_budget_amounts_are_dropped_not_flip_flopped() {
    let mut store = Store::open_in_memory().unwrap();
    let mut c = call("anr", "aaaa00000001", "A");
    c.budget = Some(Budget {
        total: Some(f64::NAN),
        currency: "EUR".to_owned(),
        ..Budget::default()
    });
    let now = t("2026-03-01T10:00:00Z");
    store
        .apply_calls("anr", std::slice::from_ref(&c), now)
        .unwrap();
    let stored = store.call(&c.id).unwrap().unwrap().call;
    assert_eq!(stored.budget.as_ref().unwrap().total, None);
    let s = store
        .apply_calls("anr", std::slice::from_ref(&c), now)
        .unwrap();
    assert_eq!(s.unchanged, 1);
}

fn run(source: &str, start: &str, ok: bool, fetched: Option<u64>, errors: &[&str]) -> RunRecord {
    let started_at = t(start);
    RunRecord {
        source_id: source.to_owned(),
        started_at,
        finished_at: started_at + TimeDelta::seconds(7),
        ok,
        fetched,
        new: 1,
        updated: 2,
        unchanged: 3,
        errors: errors.iter().map(|e| (*e).to_owned()).collect(),
    }
}

#[test]
fn runs_count_failures_up_and_reset_on_success() {
    let mut store = Store::open_in_memory().unwrap();
    assert!(store.source_state("anr").unwrap().is_none());

    let id1 = store
        .record_run(&run("anr", "2026-03-01T10:00:00Z", true, Some(12), &[]))
        .unwrap();
    let s = store.source_state("anr").unwrap().unwrap();
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.last_success, Some(t("2026-03-01T10:00:07Z")));
    assert_eq!(s.items_last_seen, Some(12));
    assert_eq!(s.failing_since, None);

    store
        .record_run(&run(
            "anr",
            "2026-03-02T10:00:00Z",
            false,
            None,
            &["HTTP 503 from https://anr.fr/feed"],
        ))
        .unwrap();
    store
        .record_run(&run(
            "anr",
            "2026-03-03T10:00:00Z",
            false,
            None,
            &["timeout", "gave up"],
        ))
        .unwrap();
    let s = store.source_state("anr").unwrap().unwrap();
    assert_eq!(s.consecutive_failures, 2);
    assert_eq!(
        s.failing_since,
        Some(t("2026-03-02T10:00:00Z")),
        "kept from the first failure"
    );
    assert_eq!(s.last_error.as_deref(), Some("timeout; gave up"));
    assert_eq!(s.last_error_at, Some(t("2026-03-03T10:00:07Z")));
    assert_eq!(s.last_attempt, Some(t("2026-03-03T10:00:00Z")));
    assert_eq!(s.last_success, Some(t("2026-03-01T10:00:07Z")));
    assert_eq!(s.items_last_seen, Some(12));

    // A 304 success: the streak resets, the item count is kept.
    let id4 = store
        .record_run(&run("anr", "2026-03-04T10:00:00Z", true, None, &[]))
        .unwrap();
    let s = store.source_state("anr").unwrap().unwrap();
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.failing_since, None);
    assert_eq!(s.items_last_seen, Some(12));
    assert_eq!(
        s.last_error.as_deref(),
        Some("timeout; gave up"),
        "kept for the record"
    );
    assert!(id4 > id1);

    // A success that yields zero items records zero (the health check's cue).
    store
        .record_run(&run("anr", "2026-03-05T10:00:00Z", true, Some(0), &[]))
        .unwrap();
    assert_eq!(
        store.source_state("anr").unwrap().unwrap().items_last_seen,
        Some(0)
    );

    let runs = store.recent_runs(Some("anr"), 2).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run.started_at, t("2026-03-05T10:00:00Z"));
    assert_eq!(runs[1].id, id4);
    assert_eq!(
        runs[1].run,
        run("anr", "2026-03-04T10:00:00Z", true, None, &[])
    );
    let failed = &store.recent_runs(None, 10).unwrap()[2];
    assert_eq!(failed.run.errors, ["timeout", "gave up"]);
    assert!(!failed.run.ok);
}

#[test]
fn a_first_run_that_fails_starts_the_streak() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .record_run(&run("ukri", "2026-03-02T10:00:00Z", false, None, &[]))
        .unwrap();
    let s = store.source_state("ukri").unwrap().unwrap();
    assert_eq!(s.consecutive_failures, 1);
    assert_eq!(s.failing_since, Some(t("2026-03-02T10:00:00Z")));
    assert_eq!(s.last_success, None);
    assert_eq!(
        s.last_error.as_deref(),
        Some("the run failed without an error message")
    );
}

#[test]
fn next_run_and_backoff_are_remembered() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .set_next_run("anr", Some(t("2026-03-02T06:00:00Z")))
        .unwrap();
    store
        .set_backoff_until("ukri", Some(t("2026-03-02T07:00:00Z")))
        .unwrap();
    store
        .record_run(&run("anr", "2026-03-01T10:00:00Z", false, None, &["x"]))
        .unwrap();
    let states = store.source_states().unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].id, "anr");
    assert_eq!(states[0].next_run, Some(t("2026-03-02T06:00:00Z")));
    assert_eq!(states[0].consecutive_failures, 1);
    assert_eq!(states[1].backoff_until, Some(t("2026-03-02T07:00:00Z")));
    assert_eq!(states[1].consecutive_failures, 0);
    store.set_next_run("anr", None).unwrap();
    assert_eq!(store.source_state("anr").unwrap().unwrap().next_run, None);
}

#[test]
fn validators_are_remembered_per_url_and_forgotten_when_empty() {
    let mut store = Store::open_in_memory().unwrap();
    let url = "https://anr.fr/fr/rss/";
    assert_eq!(store.validators(url).unwrap(), None);
    let v = Validators {
        etag: Some("W/\"5f3a\"".to_owned()),
        last_modified: Some("Wed, 21 Oct 2026 07:28:00 GMT".to_owned()),
    };
    let now = t("2026-03-01T10:00:00Z");
    store.set_validators(url, &v, now).unwrap();
    assert_eq!(store.validators(url).unwrap(), Some(v));
    let only_etag = Validators {
        etag: Some("\"6\"".to_owned()),
        last_modified: None,
    };
    store.set_validators(url, &only_etag, now).unwrap();
    assert_eq!(store.validators(url).unwrap(), Some(only_etag));
    store
        .set_validators(url, &Validators::default(), now)
        .unwrap();
    assert_eq!(store.validators(url).unwrap(), None);
}

#[test]
fn meta_values_round_trip_without_bumping_the_data_version() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.meta("index_generation").unwrap(), None);
    store.set_meta("index_generation", "7").unwrap();
    store.set_meta("index_generation", "8").unwrap();
    assert_eq!(
        store.meta("index_generation").unwrap().as_deref(),
        Some("8")
    );
    assert_eq!(store.data_version().unwrap(), 0);
}

#[test]
fn one_source_s_distinct_native_ids_are_distinct_calls_despite_shared_keys() {
    let mut store = Store::open_in_memory().unwrap();
    let now = t("2026-03-01T10:00:00Z");
    // Same title and first deadline (td: key), and a feed whose items all
    // link to the listing page (url: key): only the native ids differ.
    let mut a = call("euraxess", "aaaa00000001", "PhD position");
    let mut b = call("euraxess", "bbbb00000002", "PhD position");
    a.url = "https://euraxess.example.org/jobs".to_owned();
    b.url = a.url.clone();
    let s = store
        .apply_calls("euraxess", &[a.clone(), b.clone()], now)
        .unwrap();
    assert_eq!(s.new, vec![a.id.clone(), b.id.clone()]);
    assert_eq!(store.call(&b.id).unwrap().unwrap().call, b);
    // Re-crawled, each finds itself again.
    let s = store
        .apply_calls("euraxess", &[a.clone(), b.clone()], now)
        .unwrap();
    assert_eq!(s.unchanged, 2);
    // Another source relaying the same title and deadline still joins the first.
    let relay = call("campusfrance", "cccc00000003", "PhD position");
    let s = store.apply_calls("campusfrance", &[relay], now).unwrap();
    assert_eq!(s.unchanged, 1);
    assert_eq!(store.call_count().unwrap(), 2);
    assert_eq!(store.call(&a.id).unwrap().unwrap().links.len(), 2);
}

#[test]
fn statuses_follow_the_calendar_without_a_crawl() {
    let mut store = Store::open_in_memory().unwrap();
    let open = call("anr", "c1", "Open until 15 September");
    let mut forthcoming = call("anr", "c2", "Opens on 1 October");
    forthcoming.opening = Some(day(2026, 10, 1));
    forthcoming.deadlines = vec![day(2026, 12, 1)];
    forthcoming.status = Status::Forthcoming;
    let mut undated = call("anr", "c3", "No dates");
    undated.deadlines.clear();
    store
        .apply_calls(
            "anr",
            &[open, forthcoming, undated],
            t("2026-06-01T10:00:00Z"),
        )
        .unwrap();
    let v0 = store.data_version().unwrap();

    // Nothing changes while the dates say the same.
    assert!(
        store
            .refresh_statuses(t("2026-09-15T12:00:00Z"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.data_version().unwrap(), v0);

    // Past the deadline (end of day, Paris) and the opening date.
    let changed = store.refresh_statuses(t("2026-10-02T08:00:00Z")).unwrap();
    assert_eq!(changed, ["c1", "c2"]);
    assert_eq!(
        store.call("c1").unwrap().unwrap().call.status,
        Status::Closed
    );
    assert_eq!(store.call("c2").unwrap().unwrap().call.status, Status::Open);
    assert_eq!(store.call("c3").unwrap().unwrap().call.status, Status::Open);
    assert!(
        store.data_version().unwrap() > v0,
        "the index must catch up"
    );
    let h = store.history("c1").unwrap();
    assert_eq!(
        (h[0].field.as_str(), &h[0].old, &h[0].new),
        ("status", &json!("open"), &json!("closed"))
    );
    assert_eq!(store.calls_since_rev(v0).unwrap(), ["c1", "c2"]);
}

#[test]
fn a_schema_1_database_upgrades_with_its_calls_intact() {
    // A file as the first release left it: one call stored, schema 1 (no
    // outbox table, no `sources.extraction`, user_version 1). Migrations 2
    // and 3 only add a table and a column, so removing them gives exactly
    // that file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fundwatch.db");
    {
        let mut store = Store::open(&path).unwrap();
        store
            .apply_calls(
                "anr",
                &[call("anr", "c1", "Appel 1")],
                t("2026-06-01T10:00:00Z"),
            )
            .unwrap();
        store
            .connection()
            .execute_batch(
                "DROP TABLE outbox; ALTER TABLE sources DROP COLUMN extraction;
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let version: i64 = store
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, super::migrations::MIGRATIONS.len());
    assert_eq!(store.call("c1").unwrap().unwrap().call.title, "Appel 1");
    let outbox: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outbox, 1, "the upgrade created the outbox");
    assert_eq!(store.extraction("anr").unwrap(), None, "and the new column");
}

/// A task that panicked while holding the shared store poisoned its mutex,
/// and every later crawl failed with "database handle poisoned" until the
/// daemon restarted. The panic's transaction rolled back; the store is
/// still good, and `lock` hands it out.
#[test]
fn a_store_poisoned_by_a_panicking_task_still_stores_and_lost_nothing() {
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Store::open_in_memory().unwrap()));
    let now = t("2026-11-27T10:00:00Z");
    lock(&shared)
        .apply_calls("s", &[call("s", "a", "First call")], now)
        .unwrap();
    let in_task = shared.clone();
    let panicked = std::thread::spawn(move || {
        let mut store = in_task.lock().unwrap();
        // Half-way through a write, then a bug.
        let tx = store.write_tx("test").unwrap();
        tx.execute("DELETE FROM calls", []).unwrap();
        panic!("a bug in the middle of a write");
    })
    .join();
    assert!(panicked.is_err());
    assert!(shared.is_poisoned());
    let mut store = lock(&shared);
    // The half-done delete was rolled back, and writing works.
    assert!(store.call("a").unwrap().is_some());
    store
        .apply_calls("s", &[call("s", "b", "Second call")], now)
        .unwrap();
    assert!(store.call("b").unwrap().is_some());
}
