//! Digests delivered to a real SMTP server on loopback (Python's aiosmtpd,
//! `tests/smtp_server.py`), checked by parsing what it received: MIME
//! structure, headers, escaping, language; a 451 retried; a 550 for one
//! recipient recorded, reported, and not blocking the others, its calls
//! offered again the next week once the address is fixed; a crash
//! between recording and sending followed by restarts sends exactly once.
//!
//! The calls are stored in a real SQLite file through the library, with
//! deadlines relative to the wall clock (the binary reads the real clock).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use fundwatch::model::{Call, DatePoint, Language, Level, Status};
use fundwatch::store::Store;
use mail_parser::{Message, MessageParser, MimeHeaders};

use crate::support::{fundwatch, skipped, stdout_json};

/// The loopback SMTP server, killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when python3 with aiosmtpd is available; prints why not otherwise.
pub fn aiosmtpd_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skipped("aiosmtpd not installed (pip install aiosmtpd)");
    }
    ok
}

impl SmtpServer {
    /// Starts the server with extra flags (`--tempfail-once`, `--reject A`).
    ///
    /// The port is found free here and handed to the server, so another
    /// test can take it in between (the server then fails to bind); and on
    /// a loaded machine aiosmtpd may not be up within its ready timeout. A
    /// server that does not say READY is stopped and a new one started on
    /// another port, a few times, before the test fails (seen once in a
    /// full `cargo test` run, 2026-11-27).
    pub fn start(dir: &Path, flags: &[&str]) -> SmtpServer {
        const ATTEMPTS: usize = 5;
        let maildir = dir.join("maildir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        for _ in 0..ATTEMPTS {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("python3")
                .arg(&script)
                .arg(port.to_string())
                .arg(&maildir)
                .args(flags)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 runs");
            let mut line = String::new();
            let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
            if read.is_ok() && line.trim() == "READY" {
                return SmtpServer {
                    child,
                    port,
                    maildir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the SMTP server did not start in {ATTEMPTS} attempts (its errors are above)");
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for n in 1.. {
            match std::fs::read(self.maildir.join(format!("{n}.eml"))) {
                Ok(b) => out.push(b),
                Err(_) => break,
            }
        }
        out
    }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn call(id: &str, title: &str, summary: &str, level: Level, lang: Language) -> Call {
    Call {
        id: id.into(),
        source_id: "test".into(),
        native_id: Some(id.into()),
        url: format!("https://calls.example.org/{id}"),
        title: title.into(),
        summary: summary.into(),
        text: String::new(),
        funder: "ANR".into(),
        programme: None,
        level,
        language: lang,
        opening: None,
        deadlines: vec![DatePoint::instant(
            now() + Duration::days(60),
            chrono_tz::Europe::Paris,
            "dans deux mois",
        )],
        status: Status::Open,
        budget: None,
        tags: vec![],
        identifiers: vec![],
    }
}

/// Stores `calls` in `dir/fundwatch.db` as first seen at `at`.
pub fn seed(dir: &Path, calls: &[Call], at: DateTime<Utc>) {
    let mut store = Store::open(&dir.join("fundwatch.db")).unwrap();
    store.apply_calls("test", calls, at).unwrap();
}

/// The standard corpus: a French soil call with a hostile title, an
/// English mobility call, and a call nobody asked for.
pub fn seed_corpus(dir: &Path) {
    seed(
        dir,
        &[
            call(
                "fr-sols",
                "<script>alert(1)</script> Sols vivants",
                "Appel sur la santé des sols et l'agroécologie.",
                Level::National,
                Language::Fr,
            ),
            call(
                "en-mob",
                "Doctoral mobility fellowships",
                "Researchers moving abroad.",
                Level::Eu,
                Language::En,
            ),
            call(
                "other",
                "Photonique quantique",
                "Rien à voir.",
                Level::National,
                Language::Fr,
            ),
        ],
        now() - Duration::hours(1),
    );
}

pub const PROFILES: &str = r#"
[[profile]]
id = "dupont-soil"
name = "Marie Dupont"
email = "marie.dupont@univ.example"
language = "fr"
query = 'sol OR soil OR "agroécologie" NOT tender'

[[profile]]
id = "smith-mobility"
name = "John Smith"
email = "john.smith@univ.example"
language = "en"
query = 'mobility OR fellowship'
"#;

/// Writes `fundwatch.toml` (SMTP on `port`, or no SMTP) and `profiles.toml`.
pub fn write_config(dir: &Path, port: Option<u16>) {
    let smtp = port.map_or(String::new(), |p| {
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {p}\ntls = \"none\"\ntimeout_secs = 10\n")
    });
    std::fs::write(
        dir.join("fundwatch.toml"),
        format!(
            "{smtp}[mail]\nfrom = \"Veille <veille@univ.example>\"\nofficer = [\"officer@univ.example\"]\n\
             unsubscribe_url = \"https://intranet.univ.example/unsub?profile={{profile}}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("profiles.toml"), PROFILES).unwrap();
}

/// The binary with this directory's settings and profiles.
pub fn cmd(dir: &Path) -> assert_cmd::Command {
    let mut c = fundwatch(dir);
    c.arg("--config")
        .arg(dir.join("fundwatch.toml"))
        .arg("--profiles")
        .arg(dir.join("profiles.toml"))
        .env_remove("FUNDWATCH_CONFIG")
        .env_remove("FUNDWATCH_PROFILES");
    c
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(raw)
        .expect("a parseable message")
}

fn to_of(m: &Message<'_>) -> String {
    m.to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_owned()
}

/// What `fundwatch digest send` builds from the files in `dir`, for the
/// tests that drive the library directly.
/// The job's first half alone: this week's digests of both profiles
/// recorded, nothing sent. Returns the store.
fn record_both(ctx: &fundwatch::digest::send::DigestContext) -> Store {
    let mut store = Store::open(&ctx.db_path).unwrap();
    let r = fundwatch::digest::send::record_digests(&mut store, ctx, &[], false, now()).unwrap();
    assert_eq!(r.recorded.len(), 2);
    store
}

pub fn digest_context(dir: &Path) -> fundwatch::digest::send::DigestContext {
    fundwatch::digest::send::DigestContext {
        db_path: dir.join("fundwatch.db"),
        data_dir: dir.to_owned(),
        settings: fundwatch::settings::Settings::load_or_default(&dir.join("fundwatch.toml"))
            .unwrap(),
        profiles: fundwatch::settings::Profiles::load_or_empty(&dir.join("profiles.toml")).unwrap(),
        glossary: fundwatch::index::Glossary::default(),
        retry: Default::default(),
        stop: Default::default(),
    }
}

fn period() -> String {
    fundwatch::digest::Period::containing(now(), chrono_tz::Europe::Paris).to_string()
}

#[test]
fn digests_arrive_as_multipart_in_each_language_with_headers_and_escaping() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2, "{}", String::from_utf8_lossy(&out.stdout));
    let period = period();
    for raw in &msgs {
        let text = String::from_utf8_lossy(raw);
        let m = parse(raw);
        let to = to_of(&m);
        let (profile, lang) = if to == "marie.dupont@univ.example" {
            ("dupont-soil", Language::Fr)
        } else {
            assert_eq!(to, "john.smith@univ.example");
            ("smith-mobility", Language::En)
        };
        // Structure: one multipart/alternative with a text and an HTML part.
        let ct = m.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative")),
            "{text}"
        );
        assert_eq!((m.text_body_count(), m.html_body_count()), (1, 1));
        let body = m.body_text(0).unwrap().into_owned();
        let html = m.body_html(0).unwrap().into_owned();
        // Headers.
        assert_eq!(
            m.message_id().unwrap(),
            format!("digest.{profile}.{period}@univ.example")
        );
        let unsub = format!("<https://intranet.univ.example/unsub?profile={profile}>");
        assert!(
            text.contains(&format!("List-Unsubscribe: {unsub}")),
            "{text}"
        );
        assert!(
            text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{text}"
        );
        let subject = m.subject().unwrap();
        match lang {
            Language::Fr => {
                assert!(
                    subject.contains("1 nouvel appel pour vous (semaine"),
                    "{subject}"
                );
                assert!(body.starts_with("Bonjour Marie Dupont"), "{body}");
                assert!(body.contains("Pourquoi"), "{body}");
                // Crawled text is escaped in HTML, and plain in the text part.
                assert!(!html.contains("<script>"), "{html}");
                assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
                assert!(
                    body.contains("<script>alert(1)</script> Sols vivants"),
                    "{body}"
                );
                assert!(!body.contains("Doctoral"), "{body}");
            }
            Language::En => {
                assert!(subject.contains("1 new call for you (week"), "{subject}");
                assert!(body.starts_with("Hello John Smith"), "{body}");
                assert!(body.contains("Doctoral mobility fellowships"), "{body}");
                assert!(body.contains("Why: \"mobility\" (title"), "{body}");
                assert!(html.contains("<html lang=\"en\">"), "{html}");
            }
        }
    }
    // A second run in the same period sends nothing more.
    let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already recorded for this period"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(server.messages().len(), 2);
    let list = stdout_json(
        &cmd(dir.path())
            .args(["digest", "list", "--json"])
            .output()
            .unwrap(),
    );
    let statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["sent", "sent"]);
}

#[test]
fn a_greylisting_451_is_retried_within_the_run() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &["--tempfail-once"]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let out = cmd(dir.path())
        .args(["digest", "send", "--profile", "dupont-soil"])
        .timeout(StdDuration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 1);
    let list = stdout_json(
        &cmd(dir.path())
            .args(["digest", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(list[0]["status"], "sent");
    assert_eq!(
        list[0]["attempts"], 1,
        "one claim, retried inside the transport"
    );
}

#[test]
fn a_550_for_one_recipient_is_recorded_reported_and_blocks_nobody() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &["--reject", "marie.dupont@univ.example"]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "partial failure");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dupont-soil: FAILED (rejected)"),
        "{stdout}"
    );
    assert!(stdout.contains("550"), "{stdout}");
    // John still got his.
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(to_of(&parse(&msgs[0])), "john.smith@univ.example");
    let list = stdout_json(
        &cmd(dir.path())
            .args(["digest", "list", "--json"])
            .output()
            .unwrap(),
    );
    let dupont = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["profile_id"] == "dupont-soil")
        .unwrap();
    assert_eq!(dupont["status"], "failed");
    assert!(dupont["last_error"].as_str().unwrap().contains("550"));
    // Not retried by the next run.
    cmd(dir.path()).args(["digest", "send"]).assert().success();
    assert_eq!(server.messages().len(), 1);

    // The officer's report names it.
    let out = cmd(dir.path()).args(["report", "send"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2);
    let report = parse(&msgs[1]);
    assert_eq!(to_of(&report), "officer@univ.example");
    let body = report.body_text(0).unwrap();
    assert!(body.contains("1 sent, 1 not delivered"), "{body}");
    assert!(body.contains("dupont-soil"), "{body}");
    assert!(body.contains("550"), "{body}");
    assert!(body.contains("3 added"), "{body}");
}

#[test]
fn a_permanently_rejected_digest_does_not_advance_the_window() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &["--reject", "marie.dupont@univ.example"]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "partial failure");
    assert_eq!(server.messages().len(), 1, "John's only");

    // The officer fixes the address; next week's digest runs.
    std::fs::write(
        dir.path().join("profiles.toml"),
        PROFILES.replace("marie.dupont@univ.example", "m.dupont@univ.example"),
    )
    .unwrap();
    let ctx = digest_context(dir.path());
    let next_week = now() + Duration::days(7);
    let r = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fundwatch::digest::send::send_digests(
            &ctx,
            &[],
            false,
            next_week,
        ))
        .unwrap();
    let next_period =
        fundwatch::digest::Period::containing(next_week, chrono_tz::Europe::Paris).to_string();
    // The rejected digest's call is listed again, as new; John, who got
    // his, has nothing new.
    assert_eq!(r.recorded, [("dupont-soil".to_owned(), 1, 0, 0)], "{r:?}");
    assert_eq!(r.sent, [("dupont-soil".to_owned(), next_period)], "{r:?}");
    assert_eq!(r.empty, ["smith-mobility"], "{r:?}");
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2);
    let m = parse(&msgs[1]);
    assert_eq!(to_of(&m), "m.dupont@univ.example");
    let body = m.body_text(0).unwrap();
    assert!(body.contains("Sols vivants"), "{body}");
}

/// A digest a shutdown interrupted mid-send stays claimed; the run after
/// the restart must say it is still undelivered, so that the daemon tries
/// again soon (it waited for the next week's run).
#[test]
fn a_digest_claimed_by_a_stopped_sender_is_reported_undelivered_then_sent() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let ctx = digest_context(dir.path());
    {
        let mut store = record_both(&ctx);
        // One claimed by a sender that the shutdown then stopped.
        let first = store
            .deliverable(now(), fundwatch::digest::send::STALE_CLAIM)
            .unwrap()[0]
            .id;
        assert!(
            store
                .claim_digest(first, now(), fundwatch::digest::send::STALE_CLAIM)
                .unwrap()
                .is_some()
        );
    }
    let send = |at: DateTime<Utc>| {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(fundwatch::digest::send::send_digests(&ctx, &[], false, at))
            .unwrap()
    };
    // The restart's run, a minute later: the other one is sent, the claimed
    // one is left to its sender for now, and reported undelivered.
    let r = send(now() + Duration::minutes(1));
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(r.undelivered, 1, "{r:?}");
    // The retry, once the claim is stale: sent, nothing left.
    let r = send(now() + Duration::minutes(31));
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(r.undelivered, 0, "{r:?}");
    assert_eq!(server.messages().len(), 2);
}

/// A daemon asked to stop waited for a relay's "try later" to be retried
/// (12 s with the default policy), then was aborted, possibly with a digest
/// claimed, which then waited 15 minutes for its claim to go stale. Now a
/// stopping sender neither waits to retry nor claims another digest: what
/// is left stays pending, unclaimed, and the next run delivers it.
#[test]
fn a_stopping_sender_neither_waits_to_retry_nor_claims_more() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &["--tempfail-once"]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    let mut ctx = digest_context(dir.path());
    // A retry a minute later: a run that waits for it is unmistakable.
    ctx.retry = fundwatch::digest::mail::RetryPolicy {
        attempts: 3,
        first_delay: StdDuration::from_secs(60),
        factor: 1,
    };
    record_both(&ctx);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deliver = |ctx: &fundwatch::digest::send::DigestContext, at: DateTime<Utc>| {
        rt.block_on(fundwatch::digest::send::deliver_digests(ctx, at))
            .unwrap()
    };

    // One digest goes through; the other meets the 451. The stop comes once
    // the first has arrived, while the second waits for its retry.
    let stop = ctx.stop.clone();
    let maildir = server.maildir.clone();
    let t0 = std::time::Instant::now();
    let stopper = std::thread::spawn(move || {
        while !maildir.join("1.eml").exists() && t0.elapsed() < StdDuration::from_secs(50) {
            std::thread::sleep(StdDuration::from_millis(20));
        }
        stop.cancel();
    });
    let r = deliver(&ctx, now());
    stopper.join().unwrap();
    assert!(
        t0.elapsed() < StdDuration::from_secs(30),
        "the run waited for the retry: {:?}",
        t0.elapsed()
    );
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(!r.failed[0].permanent, "{r:?}");
    assert!(r.failed[0].error.contains("stopping"), "{r:?}");
    assert_eq!(r.undelivered, 1, "{r:?}");

    // Still stopping: nothing is claimed.
    let r = deliver(&ctx, now());
    assert_eq!(
        (r.sent.len(), r.failed.len(), r.undelivered),
        (0, 0, 1),
        "{r:?}"
    );
    let pending = Store::open(&ctx.db_path)
        .unwrap()
        .deliverable(now(), fundwatch::digest::send::STALE_CLAIM)
        .unwrap();
    assert_eq!(
        pending.len(),
        1,
        "pending and unclaimed: deliverable at once"
    );

    // The next run (the restarted daemon's) delivers it, recording nothing.
    ctx.stop = Default::default();
    let r = deliver(&ctx, now());
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert!(r.recorded.is_empty(), "{r:?}");
    assert_eq!(r.undelivered, 0, "{r:?}");
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn a_crash_between_recording_and_sending_sends_exactly_once() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    write_config(dir.path(), Some(server.port));
    seed_corpus(dir.path());
    // The job's first half, then "crash": recorded, nothing sent.
    let ctx = digest_context(dir.path());
    record_both(&ctx);
    assert!(server.messages().is_empty());
    let list = stdout_json(
        &cmd(dir.path())
            .args(["digest", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "pending")
    );
    // Restart: the pending rows are sent; again: nothing more.
    for _ in 0..2 {
        let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2, "exactly one message per profile and period");
    let mut ids: Vec<String> = msgs
        .iter()
        .map(|m| parse(m).message_id().unwrap().to_owned())
        .collect();
    ids.sort();
    let p = period();
    assert_eq!(
        ids,
        [
            format!("digest.dupont-soil.{p}@univ.example"),
            format!("digest.smith-mobility.{p}@univ.example")
        ]
    );
}
