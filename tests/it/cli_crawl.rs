//! End to end through the binary: `fundwatch crawl` against a loopback
//! server shaped like the real portals, then `show`, `sources list`, the
//! exit codes, and a second crawl that must change nothing.

use serde_json::Value;

use crate::support::{fundwatch, portal_server, sources_toml, stdout_json};

/// The object of `rows` (a JSON array) whose `key` is `id`.
fn row<'a>(rows: &'a Value, key: &str, id: &str) -> &'a Value {
    rows.as_array()
        .expect("array")
        .iter()
        .find(|r| r[key] == id)
        .unwrap_or_else(|| panic!("no {key} {id} in {rows:#}"))
}

/// `crawl --json`'s report for one source.
fn by_source<'a>(reports: &'a Value, id: &str) -> &'a Value {
    row(reports, "source", id)
}

/// `sources list --json` in `dir`, which must succeed.
fn sources_list_json(dir: &std::path::Path) -> Value {
    let out = fundwatch(dir)
        .args(["sources", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

/// Writes `sources.toml` with the shipped test sources plus a feed source
/// `id` at `BASE/id/feed.xml`.
fn write_sources_with_feed(dir: &std::path::Path, base: &str, id: &str, funder: &str) {
    let extra = format!(
        r#"
[[source]]
id = "{id}"
kind = "feed"
url = "{base}/{id}/feed.xml"
schedule = "0 0 6 * * *"
level = "national"
funder = "{funder}"
language = "fr"
"#
    );
    std::fs::write(dir.join("sources.toml"), sources_toml(base, &extra)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn crawl_stores_feed_listing_and_portal_then_a_second_crawl_changes_nothing() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        sources_toml(&server.uri(), ""),
    )
    .unwrap();

    let out = fundwatch(dir.path())
        .args(["crawl", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout_json(&out);
    let anr = by_source(&first, "anr");
    assert_eq!(anr["new"], 2, "{anr:#}");
    assert_eq!(anr["errors"], serde_json::json!([]));
    let region = by_source(&first, "region-aura");
    // 2 items on page 1, 1 on page 2; each detail page fetched too.
    assert_eq!(region["new"], 3, "{region:#}");
    assert_eq!(region["fetched"], 5, "{region:#}");
    let eu = by_source(&first, "eu-horizon");
    // Three rows, one of them a legacy stub of the first topic: two calls.
    assert_eq!(eu["new"], 2, "{eu:#}");

    // Second crawl: the feed and the listing answer 304, the portal content
    // is the same: nothing new, nothing updated.
    let out = fundwatch(dir.path())
        .args(["crawl", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = stdout_json(&out);
    for id in ["anr", "region-aura", "eu-horizon"] {
        let r = by_source(&second, id);
        assert_eq!(r["new"], 0, "{r:#}");
        assert_eq!(r["updated"], 0, "{r:#}");
    }
    assert_eq!(
        by_source(&second, "anr")["fetched"],
        0,
        "a 304 fetches no body"
    );
    // The validators a 304 carries are remembered (RFC 9111 §4.3.4).
    let store = fundwatch::store::Store::open(&dir.path().join("fundwatch.db")).unwrap();
    let v = store
        .validators(&format!("{}/anr/feed.xml", server.uri()))
        .unwrap()
        .unwrap();
    assert_eq!(v.etag.as_deref(), Some("\"anr-v1\""));
    assert_eq!(
        v.last_modified.as_deref(),
        Some("Wed, 25 Nov 2026 10:00:00 GMT")
    );
    assert_eq!(by_source(&second, "region-aura")["fetched"], 0);
    assert_eq!(by_source(&second, "eu-horizon")["unchanged"], 2);

    // The two-stage topic keeps both its deadlines, as dates (the portal's
    // midnight-UTC convention, SOURCES-FORMATS.md §1.4).
    let list = sources_list_json(dir.path());
    let eu_row = row(&list, "id", "eu-horizon");
    assert_eq!(eu_row["calls"], 2, "{eu_row:#}");
    assert_eq!(eu_row["consecutive_failures"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn show_prints_every_deadline_of_a_two_stage_topic() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        sources_toml(&server.uri(), ""),
    )
    .unwrap();
    let out = fundwatch(dir.path())
        .args(["crawl", "--source", "eu-horizon"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Find the id through `sources check` (same extraction, nothing stored).
    let out = fundwatch(dir.path())
        .args(["sources", "check", "eu-horizon", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let checked = stdout_json(&out);
    let calls = checked["calls"].as_array().unwrap();
    let soil = calls
        .iter()
        .find(|c| c["native_id"] == "HORIZON-CL6-2027-01-SOIL-01")
        .expect("soil topic");
    let id = soil["id"].as_str().unwrap();

    let out = fundwatch(dir.path())
        .args(["show", id, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = stdout_json(&out);
    let deadlines = shown["call"]["deadlines"].as_array().unwrap();
    let dates: Vec<&str> = deadlines
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2027-02-18", "2027-09-15"]);
    assert!(
        deadlines.iter().all(|d| d["precision"] == "date"),
        "{deadlines:#?}"
    );
    assert_eq!(shown["call"]["programme"], "Horizon Europe");

    let out = fundwatch(dir.path()).args(["show", id]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Living labs for healthy soils"), "{text}");
    assert!(
        text.contains("2027-02-18") && text.contains("2027-09-15"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_feed_fails_alone_and_exits_2() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    write_sources_with_feed(dir.path(), &server.uri(), "broken", "Broken agency");
    let out = fundwatch(dir.path())
        .args(["crawl", "--json", "--source", "anr", "--source", "broken"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports = stdout_json(&out);
    assert_eq!(by_source(&reports, "anr")["new"], 2);
    let broken = by_source(&reports, "broken");
    let errors = broken["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{broken:#}");

    // The failure is recorded in the source's state.
    let list = sources_list_json(dir.path());
    let broken = row(&list, "id", "broken");
    assert_eq!(broken["consecutive_failures"], 1, "{broken:#}");
    assert!(
        broken["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{broken:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_configuration_exits_3_and_fetches_nothing() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = sources_toml(&server.uri(), "")
        .replace("schedule = \"0 0 6 * * *\"", "schedule = \"every morning\"");
    std::fs::write(dir.path().join("sources.toml"), bad).unwrap();
    let out = fundwatch(dir.path()).args(["crawl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sources.toml") && err.contains("eu-horizon") && err.contains("schedule"),
        "{err}"
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing may be fetched"
    );
    assert!(
        !dir.path().join("fundwatch.db").exists(),
        "nothing may be written"
    );
}

/// Real bug: after a failure and then a success, `sources list` printed the
/// old error with no date next to "fails 0", so a healthy source read as a
/// broken one. The error is kept (it is the source's history) but dated.
#[tokio::test(flavor = "multi_thread")]
async fn sources_list_dates_an_error_that_a_later_success_left_behind() {
    use crate::support::fixture;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    write_sources_with_feed(dir.path(), &server.uri(), "late", "Late agency");
    let crawl_late = || {
        fundwatch(dir.path())
            .args(["crawl", "--source", "late"])
            .output()
            .unwrap()
    };
    let list = || {
        let out = fundwatch(dir.path())
            .args(["sources", "list"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("late "))
            .unwrap_or_else(|| panic!("no row for late in {text}"))
            .to_owned()
    };

    // Nothing is served there yet: a 404.
    assert_eq!(crawl_late().status.code(), Some(2));
    let failing = list();
    assert!(failing.contains("HTTP 404"), "{failing}");

    Mock::given(method("GET"))
        .and(path("/late/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("e2e/anr-feed.xml"),
            "application/rss+xml; charset=utf-8",
        ))
        .mount(&server)
        .await;
    assert_eq!(crawl_late().status.code(), Some(0));

    let line = list();
    let cells: Vec<&str> = line.split_whitespace().collect();
    // id, kind, the six fields of the schedule, next run and last success
    // (a date and a time each), fails, calls, then the last error.
    assert_eq!(cells[12], "0", "fails: {line}");
    let success = format!("{} {}", cells[10], cells[11]);
    assert!(
        cells[15].ends_with(':') && cells[16].starts_with("http"),
        "the error cell starts with its date and time: {line}"
    );
    let error_at = format!("{} {}", cells[14], cells[15].trim_end_matches(':'));
    assert!(error_at <= success, "{line}");

    let rows = sources_list_json(dir.path());
    let late = row(&rows, "id", "late");
    assert_eq!(late["consecutive_failures"], 0, "{late:#}");
    // Compared as instants: RFC 3339 strings with different numbers of
    // fraction digits do not sort as text.
    let instant =
        |k: &str| -> chrono::DateTime<chrono::Utc> { late[k].as_str().unwrap().parse().unwrap() };
    assert!(
        instant("last_error_at") <= instant("last_success"),
        "{late:#}"
    );
}

/// A listing whose page 2 failed once must be read whole at the next
/// crawl: page 1's ETag used to be stored anyway, so every later crawl got
/// a 304 for page 1 and never read page 2 again until page 1 changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_page_that_failed_is_read_again_though_page_one_is_unchanged() {
    use crate::support::fixture;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("e2e/aides-page2.html"), "text/html; charset=utf-8"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .and(header("if-none-match", "\"aides-v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"aides-v1\""))
        .with_priority(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"aides-v1\"")
                .set_body_raw(fixture("e2e/aides-page1.html"), "text/html; charset=utf-8"),
        )
        .with_priority(4)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        format!(
            r#"
[defaults]
min_delay_per_host = "0s"
timeout = "5s"
max_retries = 0

[[source]]
id = "region-aura"
kind = "html"
url = "{}/aides"
schedule = "0 0 10 * * *"
level = "regional"
funder = "Région Auvergne-Rhône-Alpes"
language = "fr"
[source.html]
item = "article"
title = "h3"
link = "a@href"
next_page = "a.next@href"
max_pages = 5
"#,
            server.uri()
        ),
    )
    .unwrap();
    let crawl = || {
        let out = fundwatch(dir.path())
            .args(["crawl", "--json"])
            .output()
            .unwrap();
        stdout_json(&out)
    };

    let first = crawl();
    let aura = by_source(&first, "region-aura");
    assert_eq!(aura["new"], 2, "page 1 only: {aura:#}");
    assert!(
        aura.to_string().contains("page 2"),
        "page 2's failure is reported: {aura:#}"
    );

    let second = crawl();
    let aura = by_source(&second, "region-aura");
    assert_eq!(aura["new"], 1, "page 2, read this time: {aura:#}");
    assert_eq!(aura["unchanged"], 2, "{aura:#}");

    // Complete now: page 1's ETag is remembered and the next crawl is a 304.
    let third = crawl();
    let aura = by_source(&third, "region-aura");
    assert_eq!(aura["fetched"], 0, "{aura:#}");
}

/// A source whose extraction settings changed is read again although its
/// feed is unchanged: the stored ETag got a 304, so the officer fixed a
/// selector or a keyword filter, crawled, and nothing was re-read.
#[tokio::test(flavor = "multi_thread")]
async fn changed_extraction_settings_are_applied_though_the_feed_is_unchanged() {
    let server = portal_server().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = sources_toml(&server.uri(), "");
    std::fs::write(dir.path().join("sources.toml"), &toml).unwrap();
    let crawl = || {
        let out = fundwatch(dir.path())
            .args(["crawl", "--json", "--source", "anr"])
            .output()
            .unwrap();
        stdout_json(&out)
    };
    let first = crawl();
    assert_eq!(by_source(&first, "anr")["new"], 2, "{first:#}");
    // Unchanged settings, unchanged feed: a 304, nothing read.
    let same = crawl();
    assert_eq!(by_source(&same, "anr")["fetched"], 0, "{same:#}");

    // The officer narrows the source to calls that mention "bogus-keyword".
    assert!(toml.contains("tags = [\"anr\"]"));
    let narrowed = toml.replacen(
        "tags = [\"anr\"]",
        "tags = [\"anr\"]\ninclude = [\"bogus-keyword\"]",
        1,
    );
    std::fs::write(dir.path().join("sources.toml"), narrowed).unwrap();
    let after = crawl();
    let anr = by_source(&after, "anr");
    assert_eq!(anr["fetched"], 1, "read again, not a 304: {anr:#}");
    // And then conditional again.
    let again = crawl();
    assert_eq!(by_source(&again, "anr")["fetched"], 0, "{again:#}");
}

/// Real bug: calls were stamped (first seen, last changed) with the time
/// their crawl *started*. A digest recorded while a crawl was still
/// fetching (a listing with its detail pages takes minutes at the polite
/// pace) did not see its calls, and the next digest's window began after
/// that stamp: no digest ever announced them. They are stamped when stored.
#[tokio::test(flavor = "multi_thread")]
async fn calls_are_stamped_when_stored_not_when_their_crawl_started() {
    use crate::support::fixture;
    use std::time::Duration;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = portal_server().await;
    let slow = Duration::from_millis(1500);
    Mock::given(method("GET"))
        .and(path("/slow/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(
                    fixture("e2e/anr-feed.xml"),
                    "application/rss+xml; charset=utf-8",
                )
                .set_delay(slow),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    write_sources_with_feed(dir.path(), &server.uri(), "slow", "Slow agency");
    let before = chrono::Utc::now();
    let out = fundwatch(dir.path())
        .args(["crawl", "--source", "slow"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let store = fundwatch::store::Store::open(&dir.path().join("fundwatch.db")).unwrap();
    let ids = store.calls_since_rev(0).unwrap();
    assert!(!ids.is_empty());
    let body_arrived = before + chrono::Duration::from_std(slow).unwrap();
    for id in ids {
        let c = store.call(&id).unwrap().unwrap();
        assert!(
            c.first_seen >= body_arrived && c.last_changed >= body_arrived,
            "{id}: first seen {}, last changed {}, the feed arrived after {body_arrived}",
            c.first_seen,
            c.last_changed
        );
    }
}
