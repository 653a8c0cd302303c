//! Shared test plumbing: the built binary, fixture files, and a loopback
//! HTTP server that serves the end-to-end fixtures like the real portals.

use std::path::Path;

use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Says that a test skips some or all of its work, and why, where a plain
/// `cargo test` shows it: libtest captures what a passing test prints with
/// `eprintln!`, so a skip said that way is never seen. What is written to
/// the stderr handle itself is not captured.
pub fn skipped(why: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// `tests/fixtures/<name>` as a string.
pub fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The `fundwatch` binary with `--data-dir dir --sources dir/sources.toml`.
pub fn fundwatch(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("fundwatch").expect("binary built");
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("--sources")
        .arg(dir.join("sources.toml"));
    cmd.env_remove("RUST_LOG")
        .env_remove("FUNDWATCH_DATA_DIR")
        .env_remove("FUNDWATCH_SOURCES");
    // reqwest honours the system proxy variables; a proxy on the CI machine
    // must not intercept the loopback fixture servers.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Parses a command's stdout as JSON.
pub fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// True when a multipart body has the part `name` as a JSON file part, the
/// way the EU portal requires (SOURCES-FORMATS.md §1.1).
fn has_json_file_part(req: &Request, name: &str) -> bool {
    let body = String::from_utf8_lossy(&req.body);
    body.split("Content-Disposition").any(|part| {
        part.contains(&format!("name=\"{name}\""))
            && part.contains("filename=\"blob\"")
            && part.contains("application/json")
    })
}

/// Serves the e2e fixtures: an ANR-like RSS feed with an ETag (304 on a
/// matching If-None-Match), a Région-like two-page listing with detail
/// pages, and an EU-portal search endpoint that insists on the multipart
/// file parts.
pub async fn portal_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/anr/feed.xml"))
        .and(header("if-none-match", "\"anr-v1\""))
        .respond_with(
            ResponseTemplate::new(304)
                .insert_header("etag", "\"anr-v1\"")
                .insert_header("last-modified", "Wed, 25 Nov 2026 10:00:00 GMT"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/anr/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"anr-v1\"")
                .set_body_raw(
                    fixture("e2e/anr-feed.xml"),
                    "application/rss+xml; charset=utf-8",
                ),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/broken/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("e2e/broken-feed.xml"), "application/rss+xml"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("e2e/aides-page2.html"), "text/html; charset=utf-8"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .and(header("if-none-match", "\"aides-v1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/aides"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"aides-v1\"")
                .set_body_raw(fixture("e2e/aides-page1.html"), "text/html; charset=utf-8"),
        )
        .with_priority(3)
        .mount(&server)
        .await;
    for slug in [
        "pack-ambition-recherche",
        "amorcage-europe",
        "mobilite-internationale-doctorants",
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/aides/{slug}")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                fixture(&format!("e2e/detail-{slug}.html")),
                "text/html; charset=utf-8",
            ))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/search-api/prod/rest/search"))
        .and(query_param("apiKey", "SEDIA"))
        .and(query_param("pageNumber", "1"))
        .and(|req: &Request| {
            ["query", "languages", "sort"]
                .iter()
                .all(|p| has_json_file_part(req, p))
        })
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("e2e/eu-portal-page1.json"), "application/json"),
        )
        .mount(&server)
        .await;
    // The real portal answers a malformed request with 500 {"type":"throwable"}.
    Mock::given(method("POST"))
        .and(path("/search-api/prod/rest/search"))
        .respond_with(
            ResponseTemplate::new(500).set_body_raw(r#"{"type":"throwable"}"#, "application/json"),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

/// A sources.toml pointing at `base` (the loopback server).
pub fn sources_toml(base: &str, extra: &str) -> String {
    format!(
        r#"
[defaults]
user_agent = "fundwatch-tests/1.0 (+mailto:test@example.org)"
min_delay_per_host = "0s"
timeout = "5s"
max_retries = 0

[[source]]
id = "anr"
name = "ANR — appels à projets"
kind = "feed"
url = "{base}/anr/feed.xml"
schedule = "0 0 */6 * * *"
level = "national"
funder = "ANR"
language = "fr"
timezone = "Europe/Paris"
tags = ["anr"]

[[source]]
id = "region-aura"
name = "Région Auvergne-Rhône-Alpes — aides"
kind = "html"
url = "{base}/aides"
schedule = "0 0 10 * * *"
level = "regional"
funder = "Région Auvergne-Rhône-Alpes"
language = "fr"
timezone = "Europe/Paris"
[source.html]
item = "article"
title = "h3"
link = "a@href"
summary = ".summary"
deadline = ".date"
next_page = "a.next@href"
max_pages = 5
[source.html.detail]
body = "main"
deadline = ".date-limite"

[[source]]
id = "eu-horizon"
name = "EU Funding & Tenders Portal — Horizon Europe"
kind = "eu-portal"
url = "{base}/search-api/prod/rest/search"
schedule = "0 0 6 * * *"
level = "eu"
funder = "European Commission"
language = "en"
timezone = "Europe/Brussels"
tags = ["horizon-europe"]
programmes = ["43108390"]
statuses = ["open", "forthcoming"]
{extra}
"#
    )
}
