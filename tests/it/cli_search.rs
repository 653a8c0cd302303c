//! The officer's commands over a crawled database: search (filters, JSON,
//! CSV, syntax errors), stats, export (iCalendar parsed back by an
//! independent parser), reindex equivalence, and an index that lags the
//! database being caught up.

use serde_json::Value;

use crate::support::{fundwatch, portal_server, sources_toml, stdout_json};

async fn crawled() -> (wiremock::MockServer, tempfile::TempDir) {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        sources_toml(&server.uri(), ""),
    )
    .unwrap();
    let out = fundwatch(dir.path()).args(["crawl"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (server, dir)
}

fn search(dir: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = fundwatch(dir)
        .arg("search")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "search {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out).as_array().unwrap().clone()
}

fn titles(hits: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = hits
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_crawled_calls_with_filters_and_accents() {
    let (_server, dir) = crawled().await;
    let d = dir.path();

    // English words, French inflections and accents.
    // Both EU topics carry the keyword "Soil biodiversity"; only one is about soil health.
    assert_eq!(titles(&search(d, &["soil"])).len(), 2);
    assert_eq!(
        titles(&search(d, &["soil health"])),
        ["Living labs for healthy soils in the Alpine region"]
    );
    assert_eq!(
        titles(&search(d, &["mobilites"])),
        ["Mobilité internationale des doctorants"]
    );

    // Filters alone, and the JSON shape.
    let regional = search(d, &["--level", "regional"]);
    assert_eq!(regional.len(), 3);
    let eu = search(d, &["--level", "eu", "--sort", "deadline"]);
    assert_eq!(eu.len(), 2);
    for key in [
        "id",
        "title",
        "url",
        "funder",
        "level",
        "status",
        "programme",
        "score",
        "deadlines",
        "snippet",
    ] {
        assert!(eu[0].get(key).is_some(), "missing {key} in {:#}", eu[0]);
    }
    let d0 = &eu[0]["deadlines"][0];
    for key in ["at", "date", "precision", "zone", "label"] {
        assert!(d0.get(key).is_some(), "missing {key} in {d0:#}");
    }
    // Sorted by next deadline: the soil topic's first stage (2027-02-18)
    // comes before the doctoral networks (2027-11-24).
    assert_eq!(
        eu[0]["title"],
        "Living labs for healthy soils in the Alpine region"
    );
    let after = search(d, &["--deadline-after", "2027-10-01", "--level", "eu"]);
    assert_eq!(titles(&after), ["MSCA Doctoral Networks 2027"]);

    // CSV for spreadsheets.
    let out = fundwatch(d)
        .args(["search", "--level", "regional", "--csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 4, "header + 3 rows:\n{csv}");

    // A syntax error names the problem and exits 3.
    let out = fundwatch(d)
        .args(["search", "soil AND ("])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid query"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_the_crawled_calls() {
    let (_server, dir) = crawled().await;
    let out = fundwatch(dir.path())
        .args(["stats", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = stdout_json(&out);
    assert_eq!(s["total"], 7, "{s:#}");
    assert_eq!(s["by_level"]["regional"], 3);
    assert_eq!(s["by_level"]["eu"], 2);
    assert_eq!(s["by_level"]["national"], 2);
    assert_eq!(s["per_source"]["eu-horizon"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn ics_export_parses_back_with_one_event_per_deadline() {
    let (_server, dir) = crawled().await;
    let out = fundwatch(dir.path())
        .args(["export", "--format", "ics", "--level", "eu"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut cals = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let cal = cals.next().expect("one calendar").expect("valid iCalendar");
    // Soil topic: two stages; doctoral networks: one deadline.
    assert_eq!(cal.events.len(), 3, "{text}");
    let uids: std::collections::BTreeSet<String> = cal
        .events
        .iter()
        .map(|e| {
            e.properties
                .iter()
                .find(|p| p.name == "UID")
                .and_then(|p| p.value.clone())
                .unwrap()
        })
        .collect();
    assert_eq!(uids.len(), 3, "UIDs are distinct");

    // A second export gives the same UIDs: re-importing updates, not duplicates.
    let again = fundwatch(dir.path())
        .args(["export", "--format", "ics", "--level", "eu"])
        .output()
        .unwrap();
    let text2 = String::from_utf8(again.stdout).unwrap();
    for uid in &uids {
        assert!(text2.contains(uid.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reindex_gives_identical_results() {
    let (_server, dir) = crawled().await;
    let d = dir.path();
    let queries: &[&[&str]] = &[
        &["soil"],
        &["doctorants"],
        &["--level", "regional", "--sort", "deadline"],
        &["europe OR region"],
        &[],
    ];
    let ids = |d: &std::path::Path| -> Vec<Vec<String>> {
        queries
            .iter()
            .map(|q| {
                search(d, q)
                    .iter()
                    .map(|h| h["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    };
    let before = ids(d);
    assert!(before.iter().all(|hits| !hits.is_empty()), "{before:?}");
    let out = fundwatch(d).args(["reindex"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reindexed 7 calls"));
    assert_eq!(ids(d), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_behind_the_database_is_caught_up() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sources.toml"), sources_toml(&server.uri(), "")).unwrap();
    let out = fundwatch(d)
        .args(["crawl", "--source", "anr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    // Another process holds the index writer while a crawl stores new calls:
    // the database gets ahead of the index, as after a crash between the
    // SQLite commit and the index commit.
    let index = fundwatch::index::IndexHandle::open(&d.join("index")).unwrap();
    let held = index.writer().unwrap();
    let out = fundwatch(d)
        .args(["crawl", "--source", "region-aura"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the calls are stored even when the index is busy"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("being written by another fundwatch process")
    );
    drop(held);
    let current = fundwatch::store::Store::open(&d.join("fundwatch.db"))
        .unwrap()
        .data_version()
        .unwrap();
    assert!(
        index.indexed_generation().unwrap().unwrap() < current,
        "the index lags"
    );
    drop(index);

    // The next command that opens the index catches it up.
    assert_eq!(search(d, &["--level", "regional"]).len(), 3);
    let index = fundwatch::index::IndexHandle::open(&d.join("index")).unwrap();
    assert_eq!(index.indexed_generation().unwrap(), Some(current));
}
