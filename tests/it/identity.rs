//! One call, one record; tracked changes — end to end through two crawls of
//! a loopback server whose content changes in between.
//!
//! Dates are far in the future so that statuses do not change as the
//! calendar moves on.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fundwatch, stdout_json};

const SOURCES: &str = r#"
[defaults]
min_delay_per_host = "0s"
timeout = "5s"
max_retries = 0

[[source]]
id = "pcn"
name = "PCN France — relais des appels Horizon Europe"
kind = "feed"
url = "BASE/pcn/feed.xml"
schedule = "0 0 6 * * *"
level = "eu"
funder = "European Commission"
language = "fr"
timezone = "Europe/Paris"

[[source]]
id = "eu-horizon"
kind = "eu-portal"
url = "BASE/search-api/prod/rest/search"
schedule = "0 0 6 * * *"
level = "eu"
funder = "European Commission"
language = "en"
timezone = "Europe/Brussels"
programmes = ["43108390"]

[[source]]
id = "agency"
kind = "feed"
url = "BASE/agency/feed.xml"
schedule = "0 0 6 * * *"
level = "national"
funder = "Agence"
language = "fr"
timezone = "Europe/Paris"

[[source]]
id = "relay"
kind = "feed"
url = "BASE/relay/feed.xml"
schedule = "0 0 6 * * *"
level = "national"
funder = "Agence"
language = "fr"
timezone = "Europe/Paris"
"#;

fn rss(items: &[(&str, &str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>https://x.example/</link><description>d</description>\n",
    );
    for (guid, title, link, description) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link>\
             <pubDate>Mon, 02 Nov 2026 09:00:00 +0100</pubDate><description>{}</description></item>\n",
            description.replace('&', "&amp;").replace('<', "&lt;")
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn portal(status: &str, start: &str) -> String {
    serde_json::json!({
        "apiVersion": "2.151", "terms": "***", "totalResults": 1, "pageNumber": 1, "pageSize": 100,
        "results": [{
            "apiVersion": "2.151", "reference": "50200001TOPICSen",
            "url": "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/HORIZON-CL6-2027-01-SOIL-01",
            "language": "en", "summary": "Living labs for healthy soils",
            "metadata": {
                "identifier": ["HORIZON-CL6-2027-01-SOIL-01"], "title": ["Living labs for healthy soils"],
                "type": ["1"], "status": [status], "frameworkProgramme": ["43108390"],
                "startDate": [start], "deadlineDate": ["2099-09-15T00:00:00.000+0000"],
                "deadlineModel": ["single-stage"],
                "descriptionByte": ["<p>Living labs that improve soil health across Europe.</p>"]
            }
        }]
    })
    .to_string()
}

async fn mount(
    server: &MockServer,
    agency_deadline: &str,
    agency_utm: &str,
    portal_status: &str,
    portal_start: &str,
) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    let pcn = rss(&[(
        "pcn-soil",
        "Missions : laboratoires vivants pour des sols sains",
        "https://pcn.example/appels/sols-sains",
        "Le topic HORIZON-CL6-2027-01-SOIL-01 de la mission Sol est ouvert. Date limite : 15 septembre 2099.",
    )]);
    Mock::given(method("GET"))
        .and(path("/pcn/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(pcn, "application/rss+xml"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/search-api/prod/rest/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(portal(portal_status, portal_start), "application/json"),
        )
        .mount(server)
        .await;
    let link = format!("https://agence.example/appels/mobilite-doctorale?utm_source={agency_utm}");
    let agency = rss(&[(
        "ag-1",
        "Appel à projets Mobilité doctorale 2027",
        &link,
        &format!(
            "Soutien à la mobilité des doctorants. Date limite de dépôt : {agency_deadline} à 17h00 (heure de Paris)."
        ),
    )]);
    Mock::given(method("GET"))
        .and(path("/agency/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(agency, "application/rss+xml"))
        .mount(server)
        .await;
    // The same call relayed under another URL, same title and deadline.
    let relay = rss(&[(
        "relay-77",
        "Appel à projets « Mobilité doctorale » 2027",
        "https://relais.example/actus/77",
        "Relais : l'agence lance son appel. Date limite de dépôt : 15/03/2098 à 17h00 (heure de Paris).",
    )]);
    Mock::given(method("GET"))
        .and(path("/relay/feed.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(relay, "application/rss+xml"))
        .mount(server)
        .await;
}

fn crawl(dir: &std::path::Path, only: &[&str]) -> Value {
    let mut args = vec!["crawl", "--json"];
    for s in only {
        args.extend(["--source", s]);
    }
    let out = fundwatch(dir).args(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

fn checked_ids(dir: &std::path::Path, source: &str) -> Vec<(String, String)> {
    let out = fundwatch(dir)
        .args(["sources", "check", source, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn show(dir: &std::path::Path, id: &str) -> Value {
    let out = fundwatch(dir)
        .args(["show", id, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_call_on_several_sources_is_one_call_and_changes_are_tracked() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        SOURCES.replace("BASE", &server.uri()),
    )
    .unwrap();

    // Crawl 1: the topic is forthcoming (opens in the future).
    // The first source to report a call owns its fields; the others add
    // links. The authoritative sources are crawled first here so that the
    // test does not depend on which parallel crawl finishes first.
    mount(
        &server,
        "15/03/2098",
        "newsletter",
        "31094501",
        "2099-01-05T00:00:00.000+0000",
    )
    .await;
    crawl(dir.path(), &["eu-horizon", "agency"]);
    crawl(dir.path(), &[]);

    // The national relay quotes the EU topic identifier: one call, two links.
    let portal_id = checked_ids(dir.path(), "eu-horizon")[0].0.clone();
    let pcn_id = checked_ids(dir.path(), "pcn")[0].0.clone();
    assert_eq!(
        portal_id, pcn_id,
        "an EU identifier in a national page joins the portal topic"
    );
    let shown = show(dir.path(), &portal_id);
    let mut sources: Vec<&str> = shown["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source_id"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(sources, ["eu-horizon", "pcn"], "{shown:#}");
    assert_eq!(shown["call"]["status"], "forthcoming");

    // Same normalised title and deadline under another URL: one call.
    let agency_id = checked_ids(dir.path(), "agency")[0].0.clone();
    let shown = show(dir.path(), &agency_id);
    let mut sources: Vec<&str> = shown["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source_id"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(sources, ["agency", "relay"], "{shown:#}");
    assert_eq!(shown["call"]["deadlines"].as_array().unwrap().len(), 1);

    // Crawl 2: the agency moves its deadline and its links carry another
    // tracking tag; the topic opens.
    mount(
        &server,
        "29/03/2098",
        "twitter",
        "31094502",
        "2026-01-05T00:00:00.000+0000",
    )
    .await;
    crawl(dir.path(), &[]);

    // Ids are stable across re-crawls and tracking parameters.
    assert_eq!(checked_ids(dir.path(), "agency")[0].0, agency_id);
    assert_eq!(checked_ids(dir.path(), "eu-horizon")[0].0, portal_id);

    let shown = show(dir.path(), &agency_id);
    let history = shown["history"].as_array().unwrap();
    let moved = history
        .iter()
        .find(|h| h["field"] == "deadlines")
        .unwrap_or_else(|| panic!("no deadline change in {history:#?}"));
    assert!(moved["old"].to_string().contains("2098-03-15"), "{moved:#}");
    assert!(moved["new"].to_string().contains("2098-03-29"), "{moved:#}");

    let shown = show(dir.path(), &portal_id);
    assert_eq!(shown["call"]["status"], "open");
    let history = shown["history"].as_array().unwrap();
    let opened = history
        .iter()
        .find(|h| h["field"] == "status")
        .unwrap_or_else(|| panic!("no status change in {history:#?}"));
    assert_eq!(opened["old"], "forthcoming");
    assert_eq!(opened["new"], "open");

    // The text view prints the history too.
    let out = fundwatch(dir.path())
        .args(["show", &portal_id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("forthcoming") && text.contains("open") && text.contains("history"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_takes_over_a_topic_a_relay_reported_first() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        SOURCES.replace("BASE", &server.uri()),
    )
    .unwrap();
    mount(
        &server,
        "15/03/2098",
        "newsletter",
        "31094502",
        "2026-01-05T00:00:00.000+0000",
    )
    .await;

    // The national relay is crawled first and owns the topic...
    crawl(dir.path(), &["pcn"]);
    let id = checked_ids(dir.path(), "pcn")[0].0.clone();
    assert_eq!(show(dir.path(), &id)["call"]["source_id"], "pcn");

    // ...until the portal, whose own id is the topic identifier, reports it.
    crawl(dir.path(), &["eu-horizon"]);
    let shown = show(dir.path(), &id);
    assert_eq!(shown["call"]["source_id"], "eu-horizon", "{shown:#}");
    assert_eq!(shown["call"]["title"], "Living labs for healthy soils");
    assert_eq!(shown["sources"].as_array().unwrap().len(), 2);
    // The relay's next crawl does not take it back.
    crawl(dir.path(), &["pcn"]);
    assert_eq!(show(dir.path(), &id)["call"]["source_id"], "eu-horizon");
}
