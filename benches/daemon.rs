//! Daemon benchmark (issue 6): resident memory of `fundwatch daemon` idle
//! and during a crawl with 100,000 calls stored and indexed, and a crawl
//! round of 200 sources over 20 loopback hosts against the per-host
//! politeness bound, then the same round when nothing changed (304s): time
//! and index commits.
//!
//! Run: `cargo bench --bench daemon`. Prints the figures; nothing is
//! asserted (targets: idle RSS < 60 MB; round within 1.2× the politeness
//! bound; no index commit in the unchanged round).
//!
//! Hosts are distinct ports on 127.0.0.1: the fetcher keys its per-host
//! slots by origin, `scheme://host:port` (src/fetch/politeness.rs). Every
//! answer (robots.txt included) takes 100 ms; sources have
//! `min_delay_per_host = "1s"`. Per host: 10 sources, so the bound is
//! 10 × 0.1 s + 9 × 1 s = 10 s, plus the robots.txt request before the
//! first one (0.1 s + 1 s) in the first round.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fundwatch::index::IndexHandle;
use fundwatch::model::{Call, Language, Level, Status};
use fundwatch::store::Store;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CALLS: usize = 100_000;
const HOSTS: usize = 20;
const SOURCES_PER_HOST: usize = 10;
const ITEMS_PER_FEED: usize = 5;
const ANSWER: Duration = Duration::from_millis(100);
const HOST_DELAY: Duration = Duration::from_secs(1);

const WORDS: &[&str] = &[
    "recherche",
    "innovation",
    "mobilité",
    "doctorants",
    "santé",
    "climate",
    "energy",
    "quantum",
    "agriculture",
    "photonics",
    "coopération",
    "Afrique",
    "numérique",
    "humanities",
    "water",
    "biodiversité",
];

fn generated_call(i: usize, source: &str) -> Call {
    let w = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
    let fr = i.is_multiple_of(2);
    Call {
        id: format!("gen-{i:06}"),
        source_id: source.to_owned(),
        native_id: Some(format!("n{i}")),
        url: format!("https://funder{}.example/calls/{i}", i % 50),
        title: format!("{} {} {} call {i}", w(0), w(1), w(2)),
        summary: format!(
            "{} et {} : appel {i} pour les projets en {} et {}.",
            w(3),
            w(4),
            w(5),
            w(6)
        ),
        text: (0..12)
            .map(|k| format!("{} {} {} {k}.", w(k), w(k + 1), w(k + 2)))
            .collect::<Vec<_>>()
            .join(" "),
        funder: format!("Funder {}", i % 50),
        programme: Some(format!("Programme {}", i % 30)),
        level: [
            Level::Regional,
            Level::National,
            Level::Eu,
            Level::International,
        ][i % 4],
        language: if fr { Language::Fr } else { Language::En },
        opening: None,
        deadlines: Vec::new(),
        status: Status::Open,
        budget: None,
        tags: vec![w(7).to_lowercase()],
        identifiers: Vec::new(),
    }
}

/// Stores and indexes `CALLS` generated calls with the library (fast path).
fn build_corpus(dir: &Path) {
    let t0 = Instant::now();
    let mut store = Store::open(&dir.join("fundwatch.db")).expect("db");
    let now = Utc::now();
    for batch in 0..CALLS / 1000 {
        let source = format!("bulk-{batch:03}");
        let calls: Vec<Call> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| generated_call(i, &source))
            .collect();
        store.apply_calls(&source, &calls, now).expect("apply");
    }
    let stored = t0.elapsed();
    let t1 = Instant::now();
    let index = IndexHandle::open_or_create(&dir.join("index")).expect("index");
    fundwatch::sync::rebuild(&store, &index).expect("rebuild");
    println!(
        "corpus: {CALLS} calls stored in {:.1} s, indexed in {:.1} s",
        stored.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    );
}

fn feed(host: usize, n: usize) -> String {
    let items: String = (0..ITEMS_PER_FEED)
        .map(|i| {
            format!(
                "<item><title>Appel {host}-{n}-{i} recherche et innovation</title>\
                 <link>https://host{host}.example/feed{n}/call{i}</link>\
                 <guid isPermaLink=\"false\">h{host}-f{n}-c{i}</guid>\
                 <description>Appel à projets. Date limite : 15/03/2027 à 13h00 (heure de Paris).</description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>\
         <title>h{host}</title><link>https://host{host}.example/</link><description>d</description>{items}</channel></rss>"
    )
}

async fn host_server(host: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404).set_delay(ANSWER))
        .mount(&server)
        .await;
    for n in 0..SOURCES_PER_HOST {
        let etag = format!("\"h{host}-f{n}\"");
        let body = feed(host, n);
        Mock::given(method("GET"))
            .and(path(format!("/feed{n}.xml")))
            .respond_with(move |req: &Request| {
                let same = req
                    .headers
                    .get("if-none-match")
                    .is_some_and(|v| v.as_bytes() == etag.as_bytes());
                let answer = if same {
                    ResponseTemplate::new(304)
                } else {
                    ResponseTemplate::new(200)
                        .set_body_raw(body.clone(), "application/rss+xml; charset=utf-8")
                };
                answer
                    .insert_header("etag", etag.as_str())
                    .set_delay(ANSWER)
            })
            .mount(&server)
            .await;
    }
    server
}

fn sources_toml(bases: &[String]) -> String {
    let mut out = format!(
        "[defaults]\nuser_agent = \"fundwatch-bench/1.0 (+mailto:bench@example.org)\"\n\
         min_delay_per_host = \"{}s\"\ntimeout = \"30s\"\nmax_retries = 0\n",
        HOST_DELAY.as_secs()
    );
    for (h, base) in bases.iter().enumerate() {
        for n in 0..SOURCES_PER_HOST {
            out.push_str(&format!(
                "\n[[source]]\nid = \"h{h:02}-f{n}\"\nname = \"Host {h} feed {n}\"\nkind = \"feed\"\n\
                 url = \"{base}/feed{n}.xml\"\nschedule = \"*/30 * * * * *\"\nlevel = \"national\"\n\
                 funder = \"Funder {h}\"\nlanguage = \"fr\"\ntimezone = \"Europe/Paris\"\n"
            ));
        }
    }
    out
}

/// VmRSS and VmHWM of `pid`, in MB.
fn rss(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// RssAnon and RssFile of `pid`, in MB: heap versus mapped files (the
/// index segments tantivy mmaps count as resident once read, but are page
/// cache the kernel can drop).
fn rss_split(pid: u32) -> String {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    format!(
        "(anonymous {:.1} MB, mapped files {:.1} MB)",
        field("RssAnon:"),
        field("RssFile:")
    )
}

/// The k-th run (1-based) of every source: (earliest start, latest end,
/// runs found).
fn round(dir: &Path, k: usize) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>, usize) {
    let store = Store::open(&dir.join("fundwatch.db")).expect("db");
    let mut stmt = store
        .connection()
        .prepare(
            "SELECT source_id, started_at, finished_at FROM runs
             WHERE source_id NOT LIKE 'bulk-%' ORDER BY id",
        )
        .expect("query");
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let (mut start, mut end, mut count) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>, 0);
    for (id, s, f) in rows {
        let n = seen.entry(id).or_default();
        *n += 1;
        if *n == k {
            let s: DateTime<Utc> = s.parse().expect("ts");
            let f: DateTime<Utc> = f.parse().expect("ts");
            start = Some(start.map_or(s, |x| x.min(s)));
            end = Some(end.map_or(f, |x| x.max(f)));
            count += 1;
        }
    }
    (start, end, count)
}

fn commits(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("index committed"))
        .count()
}

struct Killer(Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The allocator settings `systemd/fundwatch.service` sets: glibc's
/// dynamic mmap threshold otherwise grows after tantivy frees its 50 MB
/// indexing arena, and later big buffers then come from the heap and stay
/// resident (measured below: the daemon idles at several times its size).
const UNIT_MALLOC_ENV: &[(&str, &str)] = &[
    ("MALLOC_ARENA_MAX", "2"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("MALLOC_TRIM_THRESHOLD_", "131072"),
];

fn main() {
    let base = tempfile::tempdir().expect("tempdir");
    build_corpus(base.path());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let servers: Vec<MockServer> = runtime
        .block_on(async { futures_util::future::join_all((0..HOSTS).map(host_server)).await });
    let bases: Vec<String> = servers.iter().map(MockServer::uri).collect();

    for (label, env) in [
        ("glibc defaults", &[][..]),
        (
            "with fundwatch.service's MALLOC_* settings",
            UNIT_MALLOC_ENV,
        ),
    ] {
        // A fresh copy of the corpus each time: the first round must find
        // new content, not the validators of the previous run.
        let run = tempfile::tempdir().expect("tempdir");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(base.path().join("fundwatch.db"))
            .arg(base.path().join("index"))
            .arg(run.path())
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the corpus failed");
        println!("\n== daemon, {label} ==");
        measure(run.path(), &bases, env);
    }
    drop(servers);
    drop(runtime);
}

fn measure(d: &Path, bases: &[String], malloc_env: &[(&str, &str)]) {
    std::fs::write(d.join("sources.toml"), sources_toml(bases)).expect("sources");
    let log = d.join("daemon.log");
    let child = Command::new(env!("CARGO_BIN_EXE_fundwatch"))
        .arg("--data-dir")
        .arg(d)
        .arg("--sources")
        .arg(d.join("sources.toml"))
        .args(["daemon", "--max-jitter", "0s"])
        .current_dir(d)
        .env("RUST_LOG", "fundwatch=info")
        .env("FUNDWATCH_CONFIG", d.join("fundwatch.toml"))
        .env("FUNDWATCH_PROFILES", d.join("profiles.toml"))
        .env_remove("NOTIFY_SOCKET")
        .envs(malloc_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("daemon");
    let pid = child.id();
    let child = Killer(child);

    // Memory sampler: the highest VmRSS seen while a round runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak_kb = Arc::new(AtomicU64::new(0));
    let sampler = {
        let sampling = sampling.clone();
        let peak_kb = peak_kb.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::SeqCst) {
                if let Some((now, _)) = rss(pid) {
                    peak_kb.fetch_max((now * 1024.0) as u64, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // Idle: started, index open (100k docs), no round yet (rounds fire at
    // :00 and :30; measured 3 s after start when the first tick is later).
    std::thread::sleep(Duration::from_secs(3));
    let first = round(d, 1);
    let idle_start = rss(pid).expect("daemon alive");
    println!(
        "idle after start (100k calls indexed): VmRSS {:.1} MB {}, VmHWM {:.1} MB{}",
        idle_start.0,
        rss_split(pid),
        idle_start.1,
        if first.2 > 0 {
            " (a round had already begun: not idle)"
        } else {
            ""
        }
    );

    let sources = HOSTS * SOURCES_PER_HOST;
    let wait_round = |k: usize| {
        let t0 = Instant::now();
        loop {
            let r = round(d, k);
            if r.2 == sources || t0.elapsed() > Duration::from_secs(120) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    peak_kb.store(0, Ordering::SeqCst);
    let r1 = wait_round(1);
    std::thread::sleep(Duration::from_secs(2)); // the last catch-up commits
    let peak1 = peak_kb.load(Ordering::SeqCst) as f64 / 1024.0;
    println!("after round 1: VmRSS {}", rss_split(pid));
    let commits1 = commits(&log);
    let bound = SOURCES_PER_HOST as f64 * ANSWER.as_secs_f64()
        + (SOURCES_PER_HOST - 1) as f64 * HOST_DELAY.as_secs_f64();
    let wall = |r: &(Option<DateTime<Utc>>, Option<DateTime<Utc>>, usize)| match (r.0, r.1) {
        (Some(s), Some(e)) => (e - s).num_milliseconds() as f64 / 1000.0,
        _ => f64::NAN,
    };
    let w1 = wall(&r1);
    println!(
        "round 1 (new content): {} of {sources} sources, wall {w1:.2} s; politeness bound {bound:.1} s \
         (+1.1 s for robots.txt) → {:.2}× the bound; peak VmRSS during the round {peak1:.1} MB; \
         index commits so far {commits1}",
        r1.2,
        w1 / bound
    );

    peak_kb.store(0, Ordering::SeqCst);
    let r2 = wait_round(2);
    std::thread::sleep(Duration::from_secs(2));
    let peak2 = peak_kb.load(Ordering::SeqCst) as f64 / 1024.0;
    let commits2 = commits(&log) - commits1;
    let w2 = wall(&r2);
    println!(
        "round 2 (unchanged, 304): {} of {sources} sources, wall {w2:.2} s → {:.2}× the bound; \
         index commits during the round: {commits2}; peak VmRSS {peak2:.1} MB",
        r2.2,
        w2 / bound
    );
    let idle_after = rss(pid).expect("daemon alive");
    println!(
        "idle after the rounds: VmRSS {:.1} MB {}, VmHWM (peak over the whole run) {:.1} MB",
        idle_after.0,
        rss_split(pid),
        idle_after.1
    );
    sampling.store(false, Ordering::SeqCst);
    let _ = sampler.join();

    let t0 = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let mut child = child;
    let status = child.0.wait().expect("wait");
    println!(
        "SIGTERM → exit {:?} in {:.2} s",
        status.code(),
        t0.elapsed().as_secs_f64()
    );
}
