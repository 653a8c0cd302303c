//! `fundwatch daemon` as a real child process against loopback feed
//! servers, with schedules every two seconds: calls arrive in the database
//! and the index while it runs, a second daemon and one-shot writers are
//! refused (exit 4), SIGHUP with a broken file keeps the old configuration,
//! SIGTERM stops it cleanly, sd_notify messages arrive on a NOTIFY_SOCKET,
//! and `kill -9` in the middle of a crawl loses nothing stored.

use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{fundwatch, stdout_json};

/// One word per source, so a search tells the sources' calls apart.
fn word(id: &str) -> &'static str {
    match id {
        "alpha" => "quokka",
        "beta" => "narwhal",
        _ => "axolotl",
    }
}

/// An RSS feed of `n` calls of source `id`.
fn feed(id: &str, n: usize) -> String {
    let items: String = (1..=n)
        .map(|i| {
            format!(
                "<item><title>{w} research call number {i}</title>\
                 <link>https://{id}.example/calls/{i}</link>\
                 <guid isPermaLink=\"false\">{id}-{i}</guid>\
                 <description>Appel {w} {i}. Date limite : 15/03/2027 à 13h00 (heure de Paris).</description></item>",
                w = word(id)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>\
         <title>{id}</title><link>https://{id}.example/</link><description>calls</description>{items}</channel></rss>"
    )
}

/// Serves `/{id}/feed.xml` for each id with `2 + extra` items and an ETag
/// (304 on a match). `slow_first`: the first request of each feed waits
/// that long (a crawl in flight).
async fn feed_server(ids: &[&str], extra: Arc<AtomicUsize>, slow_first: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    for id in ids {
        let id = (*id).to_owned();
        let extra = extra.clone();
        let requests = AtomicUsize::new(0);
        Mock::given(method("GET"))
            .and(path(format!("/{id}/feed.xml")))
            .respond_with(move |req: &Request| {
                let n = 2 + extra.load(Ordering::SeqCst);
                let etag = format!("\"{id}-{n}\"");
                let first = requests.fetch_add(1, Ordering::SeqCst) == 0;
                let unchanged = req
                    .headers
                    .get("if-none-match")
                    .is_some_and(|v| v.as_bytes() == etag.as_bytes());
                let answer = if unchanged {
                    ResponseTemplate::new(304).insert_header("etag", etag.as_str())
                } else {
                    ResponseTemplate::new(200)
                        .insert_header("etag", etag.as_str())
                        .set_body_raw(feed(&id, n), "application/rss+xml; charset=utf-8")
                };
                if first {
                    answer.set_delay(slow_first)
                } else {
                    answer
                }
            })
            .mount(&server)
            .await;
    }
    server
}

fn source_block(id: &str, base: &str) -> String {
    format!(
        r#"
[[source]]
id = "{id}"
name = "Source {id}"
kind = "feed"
url = "{base}/{id}/feed.xml"
schedule = "*/2 * * * * *"
level = "national"
funder = "Funder {id}"
language = "fr"
timezone = "Europe/Paris"
"#
    )
}

fn sources_file(blocks: &[String]) -> String {
    format!(
        r#"
[defaults]
user_agent = "fundwatch-tests/1.0 (+mailto:test@example.org)"
min_delay_per_host = "0s"
timeout = "20s"
max_retries = 0
{}"#,
        blocks.concat()
    )
}

/// The daemon child; killed if a test fails before stopping it.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, notify_socket: Option<&Path>) -> Daemon {
        let log = dir.join(format!(
            "daemon-{}.log",
            std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()
        ));
        let mut cmd = daemon_command(dir);
        cmd.stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        if let Some(sock) = notify_socket {
            cmd.env("NOTIFY_SOCKET", sock)
                .env("WATCHDOG_USEC", "2000000");
        }
        Daemon {
            child: cmd.spawn().expect("daemon starts"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the exit; its code and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit + Duration::from_secs(5) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the daemon did not exit within {limit:?}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fundwatch daemon` on `dir`, with the settings and profiles files in
/// `dir` (absent: defaults) and info logs.
fn daemon_command(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("fundwatch"));
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("--sources")
        .arg(dir.join("sources.toml"))
        .arg("daemon")
        .current_dir(dir)
        .env("RUST_LOG", "fundwatch=info")
        .env("FUNDWATCH_CONFIG", dir.join("fundwatch.toml"))
        .env("FUNDWATCH_PROFILES", dir.join("profiles.toml"))
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null());
    cmd
}

fn status(dir: &Path) -> Value {
    let out = fundwatch(dir).args(["status", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

fn source_status<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no source {id} in {status:#}"))
}

fn last_run(dir: &Path, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    source_status(&status(dir), id)["last_run"]
        .as_str()
        .map(|t| t.parse().unwrap())
}

/// True when one log line contains every part.
fn log_has(log: &str, parts: &[&str]) -> bool {
    log.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

/// Polls `check` every 200 ms until it holds or `limit` passes.
fn wait_for(what: &str, limit: Duration, daemon: &Daemon, mut check: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "timed out waiting for {what}; daemon log:\n{}",
        daemon.log()
    );
}

fn search_count(dir: &Path, query: &str) -> usize {
    let out = fundwatch(dir)
        .args(["search", query, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "search: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out).as_array().unwrap().len()
}

fn call_ids(dir: &Path) -> BTreeSet<String> {
    let store = fundwatch::store::Store::open(&dir.join("fundwatch.db")).unwrap();
    let mut stmt = store.connection().prepare("SELECT id FROM calls").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_crawls_on_schedule_refuses_rivals_reloads_and_stops_cleanly() {
    let extra = Arc::new(AtomicUsize::new(0));
    let server = feed_server(&["alpha", "beta"], extra.clone(), Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // "broken" answers 404: it fails and backs off without holding up the others.
    let sources = sources_file(&[
        source_block("alpha", &server.uri()),
        source_block("beta", &server.uri()),
        source_block("broken", &server.uri()),
    ]);
    std::fs::write(d.join("sources.toml"), &sources).unwrap();

    // sd_notify: a datagram socket standing in for systemd, read for the
    // whole test as systemd does (a full socket would block the sender).
    let sock_path = d.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let received = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let listening = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reader = {
        let received = received.clone();
        let listening = listening.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while listening.load(Ordering::SeqCst) {
                if let Ok(n) = sock.recv(&mut buf) {
                    received
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        })
    };
    let mut daemon = Daemon::start(d, Some(&sock_path));
    let saw = |what: &str| received.lock().unwrap().iter().any(|m| m.contains(what));
    wait_for(
        "READY=1 and WATCHDOG=1",
        Duration::from_secs(10),
        &daemon,
        || saw("READY=1") && saw("WATCHDOG=1"),
    );
    let messages = received.lock().unwrap().clone();
    assert!(
        messages.iter().any(|m| m.contains("READY=1")),
        "no READY=1 in {messages:?}; log:\n{}",
        daemon.log()
    );
    assert!(
        messages.iter().any(|m| m.contains("WATCHDOG=1")),
        "no WATCHDOG=1 in {messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("STATUS=")),
        "no STATUS= in {messages:?}"
    );

    // Both sources run on their own, and the calls reach the index.
    wait_for(
        "both sources to run",
        Duration::from_secs(10),
        &daemon,
        || {
            let s = status(d);
            ["alpha", "beta"]
                .iter()
                .all(|id| source_status(&s, id)["health"] == "ok")
        },
    );
    wait_for(
        "search to find the calls",
        Duration::from_secs(10),
        &daemon,
        || search_count(d, "quokka") == 2 && search_count(d, "narwhal") == 2,
    );
    wait_for(
        "the broken source to fail",
        Duration::from_secs(10),
        &daemon,
        || source_status(&status(d), "broken")["health"] == "failing",
    );
    let s = status(d);
    let broken = source_status(&s, "broken");
    let failed_at: chrono::DateTime<chrono::Utc> =
        broken["last_run"].as_str().unwrap().parse().unwrap();
    let retry_at: chrono::DateTime<chrono::Utc> =
        broken["next_run"].as_str().unwrap().parse().unwrap();
    // Backed off by plan::BACKOFF_BASE (5 min) instead of every 2 s, and
    // still scheduled: never disabled.
    assert!(
        retry_at >= failed_at + chrono::Duration::minutes(5),
        "{broken:#}"
    );
    assert!(
        broken["last_error"].as_str().unwrap().contains("404"),
        "{broken:#}"
    );
    assert_eq!(s["daemon"]["running"], true, "{s:#}");
    assert_eq!(s["daemon"]["pid"], daemon.pid(), "{s:#}");
    assert!(s["daemon"]["activity"].is_string(), "{s:#}");
    assert!(source_status(&s, "alpha")["next_run"].is_string(), "{s:#}");
    assert!(s["digest"]["next_run"].is_string(), "{s:#}");
    // The outbox exists (digest tables are migrated) and nothing was sent.
    assert_eq!(s["outbox"], serde_json::json!({}), "{s:#}");
    let text = fundwatch(d).arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("daemon: running (pid {}", daemon.pid())),
        "{text}"
    );
    assert!(text.contains("outbox: empty"), "{text}");

    // A second daemon, a one-shot crawl and a reindex are refused: exit 4.
    let second = daemon_command(d).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(second.status.code(), Some(4));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("the fundwatch daemon (pid")
            && err.contains("already uses the data directory"),
        "{err}"
    );
    for cmd in ["crawl", "reindex"] {
        let out = fundwatch(d).arg(cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("the fundwatch daemon"),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // SIGHUP with a broken sources file: logged, the old sources keep running.
    std::fs::write(d.join("sources.toml"), "[[source]]\nid = 3\n").unwrap();
    daemon.signal("HUP");
    wait_for(
        "the reload error in the log",
        Duration::from_secs(5),
        &daemon,
        || daemon.log().contains("configuration not reloaded"),
    );
    let line = daemon
        .log()
        .lines()
        .find(|l| l.contains("configuration not reloaded"))
        .unwrap()
        .to_owned();
    assert!(line.contains("sources.toml"), "{line}");
    // New calls on the server still arrive: the old configuration crawls on.
    extra.store(1, Ordering::SeqCst);
    wait_for(
        "a new call after the failed reload",
        Duration::from_secs(10),
        &daemon,
        || search_count(d, "quokka") == 3,
    );

    // SIGHUP with a valid file removing beta: reloaded.
    std::fs::write(
        d.join("sources.toml"),
        sources_file(&[source_block("alpha", &server.uri())]),
    )
    .unwrap();
    daemon.signal("HUP");
    wait_for("the reload", Duration::from_secs(5), &daemon, || {
        daemon.log().contains("configuration reloaded")
    });

    // SIGTERM: a clean exit within 10 s.
    daemon.signal("TERM");
    let (code, took) = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "log:\n{}", daemon.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(daemon.log().contains("daemon stopped"), "{}", daemon.log());
    let s = status(d);
    assert_eq!(s["daemon"]["running"], false, "{s:#}");
    assert!(s["daemon"]["last_stopped_at"].is_string(), "{s:#}");
    assert!(saw("STOPPING=1"), "{:?}", received.lock().unwrap());
    // Watchdog pings kept coming while it ran (one per second).
    let pings = received
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("WATCHDOG=1"))
        .count();
    assert!(pings >= 3, "{pings} pings");
    listening.store(false, Ordering::SeqCst);
    reader.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_in_the_middle_of_a_crawl_loses_nothing_and_the_restart_catches_up() {
    let fast = feed_server(&["alpha"], Arc::new(AtomicUsize::new(0)), Duration::ZERO).await;
    // Its first answer takes 6 s: the daemon is killed while it waits.
    let slow = feed_server(
        &["slow"],
        Arc::new(AtomicUsize::new(0)),
        Duration::from_secs(6),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sources.toml"),
        sources_file(&[
            source_block("alpha", &fast.uri()),
            source_block("slow", &slow.uri()),
        ]),
    )
    .unwrap();
    let mut daemon = Daemon::start(d, None);
    wait_for(
        "alpha to be stored and slow in flight",
        Duration::from_secs(10),
        &daemon,
        || {
            let log = daemon.log();
            log_has(&log, &["crawl finished", "source.id=alpha"])
                && log_has(&log, &["crawl started", "source.id=slow"])
        },
    );
    // The slow one is still fetching (its answer comes after 6 s).
    assert!(last_run(d, "slow").is_none(), "slow finished already");
    let before = call_ids(d);
    assert_eq!(before.len(), 2, "{before:?}");
    daemon.signal("KILL");
    let (code, _) = daemon.wait_exit(Duration::from_secs(2));
    assert_eq!(code, None, "killed by a signal");

    {
        let store = fundwatch::store::Store::open(&d.join("fundwatch.db")).unwrap();
        let check: String = store
            .connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    let s = status(d);
    assert_eq!(s["daemon"]["running"], false, "{s:#}");

    // Restart: every source runs again, nothing is lost, the index catches up.
    let restarted = chrono::Utc::now();
    let mut daemon = Daemon::start(d, None);
    wait_for(
        "every source to run again",
        Duration::from_secs(15),
        &daemon,
        || {
            ["alpha", "slow"]
                .iter()
                .all(|id| last_run(d, id).is_some_and(|t| t >= restarted))
        },
    );
    let after = call_ids(d);
    assert!(
        after.is_superset(&before),
        "lost calls: {before:?} → {after:?}"
    );
    assert_eq!(after.len(), 4, "{after:?}");
    wait_for(
        "the index to hold every call",
        Duration::from_secs(10),
        &daemon,
        || {
            let store = fundwatch::store::Store::open(&d.join("fundwatch.db")).unwrap();
            let index = fundwatch::index::IndexHandle::open(&d.join("index")).unwrap();
            fundwatch::sync::lag(&store, &index).unwrap() == 0 && index.num_docs() == 4
        },
    );
    assert_eq!(search_count(d, "axolotl"), 2);
    assert_eq!(search_count(d, "quokka"), 2);
    daemon.signal("TERM");
    let (code, _) = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "log:\n{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_long_crawl_cancels_it_and_exits_within_10_s() {
    // The only answer takes a minute: longer than the grace period.
    let slow = feed_server(
        &["slow"],
        Arc::new(AtomicUsize::new(0)),
        Duration::from_secs(60),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sources.toml"),
        sources_file(&[source_block("slow", &slow.uri())]),
    )
    .unwrap();
    let mut daemon = Daemon::start(d, None);
    wait_for(
        "the slow crawl to start",
        Duration::from_secs(10),
        &daemon,
        || log_has(&daemon.log(), &["crawl started", "source.id=slow"]),
    );
    daemon.signal("TERM");
    let (code, took) = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "log:\n{}", daemon.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let log = daemon.log();
    assert!(log.contains("grace period over"), "{log}");
    assert!(
        log_has(&log, &["crawl cancelled", "source.id=slow"]),
        "{log}"
    );
    assert!(log.contains("daemon stopped"), "{log}");
    // Nothing recorded for the cancelled crawl: it is overdue at the next start.
    assert!(last_run(d, "slow").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_sends_the_digests_and_the_report_on_their_schedules() {
    let server = feed_server(&["alpha"], Arc::new(AtomicUsize::new(0)), Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sources.toml"),
        sources_file(&[source_block("alpha", &server.uri())]),
    )
    .unwrap();
    // No [smtp]: messages go to DIR/outbox/ as .eml files.
    std::fs::write(
        d.join("fundwatch.toml"),
        r#"
[mail]
from = "Veille <veille@univ.example>"
officer = ["officer@univ.example"]
[digest]
schedule = "*/3 * * * * *"
[report]
schedule = "*/3 * * * * *"
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("profiles.toml"),
        r#"
[[profile]]
id = "marie"
name = "Marie"
email = "marie@univ.example"
language = "fr"
query = "quokka"
"#,
    )
    .unwrap();
    let mut daemon = Daemon::start(d, None);
    let outbox = d.join("outbox");
    let emls = |who: &str| -> usize {
        std::fs::read_dir(&outbox)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| {
                        std::fs::read_to_string(e.path()).is_ok_and(|m| {
                            m.lines().any(|l| l.starts_with("To:") && l.contains(who))
                        })
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    // The source is crawled, then the digest carries its calls to Marie and
    // the report reaches the officer.
    wait_for(
        "a digest for marie in the outbox",
        Duration::from_secs(30),
        &daemon,
        || emls("marie@univ.example") >= 1,
    );
    wait_for(
        "the report in the outbox",
        Duration::from_secs(30),
        &daemon,
        || emls("officer@univ.example") >= 1,
    );
    // One digest per (profile, period), however often the job runs.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(emls("marie@univ.example"), 1, "{}", daemon.log());
    let digest = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|m| m.contains("marie@univ.example"))
        .unwrap();
    assert!(digest.contains("quokka"), "{digest}");
    daemon.signal("TERM");
    let (code, _) = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", daemon.log());
}
