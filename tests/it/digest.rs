//! The digest commands without a relay: the file outbox, previews in both
//! languages, `profiles test` (first-run rule, `--since`, reasons),
//! `profiles check` and `config check` on bad profiles, updated calls, and
//! one profile with a bad query not holding the others.
//! Real SQLite file, real binary.

use chrono::Duration;
use fundwatch::model::{Language, Level};

use crate::smtp::{PROFILES, call, cmd, now, seed, seed_corpus, write_config};

#[test]
fn without_smtp_digests_become_eml_files_once_per_period() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    seed_corpus(dir.path());
    // Dry run: says what it would record, records and writes nothing.
    let out = cmd(dir.path())
        .args(["digest", "send", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dupont-soil: would record (1 new"),
        "{stdout}"
    );
    assert!(!dir.path().join("outbox").exists());

    cmd(dir.path()).args(["digest", "send"]).assert().success();
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let p = fundwatch::digest::Period::containing(now(), chrono_tz::Europe::Paris);
    assert_eq!(
        files,
        [
            format!("dupont-soil-{p}.eml"),
            format!("smith-mobility-{p}.eml")
        ]
    );
    let eml = std::fs::read(dir.path().join("outbox").join(&files[0])).unwrap();
    let m = mail_parser::MessageParser::default().parse(&eml).unwrap();
    assert_eq!((m.text_body_count(), m.html_body_count()), (1, 1));
    cmd(dir.path()).args(["digest", "send"]).assert().success();
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn preview_prints_without_recording_in_the_profiles_language() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    seed_corpus(dir.path());
    let out = cmd(dir.path())
        .args(["digest", "preview", "dupont-soil", "--period", "2026-W50"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Subject: fundwatch — 1 nouvel appel pour vous (semaine 50)"),
        "{text}"
    );
    assert!(
        text.contains("Message-ID: <digest.dupont-soil.2026-W50@univ.example>"),
        "{text}"
    );
    assert!(text.contains("Pourquoi: « sol » (titre, résumé)"), "{text}");
    let html = cmd(dir.path())
        .args(["digest", "preview", "smith-mobility", "--html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("Doctoral mobility fellowships"), "{html}");
    // Nothing recorded.
    let list = cmd(dir.path()).args(["digest", "list"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).trim(),
        "the outbox is empty"
    );
    // Bad arguments: exit 3, naming the problem.
    let out = cmd(dir.path())
        .args(["digest", "preview", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile \"nobody\""));
    let out = cmd(dir.path())
        .args(["digest", "preview", "dupont-soil", "--period", "2026-48"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn profiles_test_applies_the_first_run_rule_and_shows_reasons() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    seed_corpus(dir.path());
    // A soil call first seen 20 days ago: outside a first digest's window.
    seed(
        dir.path(),
        &[call(
            "old-soil",
            "Soil carbon storage",
            "",
            Level::Eu,
            Language::En,
        )],
        now() - Duration::days(20),
    );
    let out = cmd(dir.path())
        .args(["profiles", "test", "dupont-soil"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 of 3 candidate calls match; first digest"),
        "{text}"
    );
    assert!(text.contains("[fr-sols]"), "{text}");
    assert!(
        text.contains("why: \"sol\" in title, summary; \"agroécologie\" in summary"),
        "{text}"
    );
    assert!(!text.contains("old-soil"), "{text}");

    let since = (now() - Duration::days(30)).format("%Y-%m-%d").to_string();
    let out = cmd(dir.path())
        .args(["profiles", "test", "dupont-soil", "--since", &since])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 of 4 candidate calls match"), "{text}");
    assert!(text.contains("[old-soil]"), "{text}");
    assert!(text.contains("why: \"soil\" in title"), "{text}");
}

#[test]
fn bad_profiles_fail_checks_naming_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    std::fs::write(dir.path().join("sources.toml"), "").unwrap();
    cmd(dir.path())
        .args(["profiles", "check"])
        .assert()
        .success();
    std::fs::write(
        dir.path().join("profiles.toml"),
        "[[profile]]\nid = \"ok\"\nname = \"A\"\nemail = \"a@univ.example\"\nlanguage = \"fr\"\nquery = \"sol\"\n\n\
         [[profile]]\nid = \"broken\"\nname = \"B\"\nemail = \"b@univ.example\"\nlanguage = \"en\"\nquery = \"colour:red\"\n",
    )
    .unwrap();
    for args in [&["profiles", "check"][..], &["config", "check"][..]] {
        let out = cmd(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("profile broken"), "{args:?}: {err}");
        assert!(err.contains("unknown field `colour:`"), "{args:?}: {err}");
        assert!(!err.contains("profile ok"), "{err}");
    }
    // A field error is caught by the strict parser, naming the profile too.
    std::fs::write(
        dir.path().join("profiles.toml"),
        "[[profile]]\nid = \"typo\"\nname = \"A\"\nemail = \"a@univ.example\"\nlanguage = \"fr\"\nquery = \"sol\"\nlevel = [\"eu\"]\n",
    )
    .unwrap();
    let out = cmd(dir.path())
        .args(["profiles", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("profile typo") && err.contains("level"),
        "{err}"
    );
}

#[test]
fn a_changed_deadline_comes_back_as_updated_with_old_and_new() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    let mut c = call(
        "fr-sols",
        "Sols vivants",
        "Santé des sols.",
        Level::National,
        Language::Fr,
    );
    seed(dir.path(), &[c.clone()], now() - Duration::days(10));
    // Last week's digest was sent (recorded 8 days ago, before the change).
    let ctx = crate::smtp::digest_context(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(fundwatch::digest::send::send_digests(
            &ctx,
            &["dupont-soil".to_owned()],
            false,
            now() - Duration::days(8),
        ))
        .unwrap();
    assert_eq!(r.sent.len(), 1, "{r:?}");
    // The deadline moves two weeks later.
    let old = c.deadlines[0].clone();
    c.deadlines = vec![fundwatch::model::DatePoint::instant(
        old.at.unwrap() + Duration::days(14),
        chrono_tz::Europe::Paris,
        "",
    )];
    seed(dir.path(), &[c], now() - Duration::days(1));
    let out = cmd(dir.path())
        .args(["digest", "preview", "dupont-soil"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 mis à jour"), "{text}");
    assert!(text.contains("== Appels mis à jour (1) =="), "{text}");
    let fmt = |d: &fundwatch::model::DatePoint| {
        d.at.unwrap()
            .with_timezone(&chrono_tz::Europe::Paris)
            .format("%d/%m/%Y %H:%M")
            .to_string()
    };
    let new_at = fundwatch::model::DatePoint::instant(
        old.at.unwrap() + Duration::days(14),
        chrono_tz::Europe::Paris,
        "",
    );
    assert!(
        text.contains(&format!("date limite: {}", fmt(&old)))
            && text.contains(&format!("→ {}", fmt(&new_at))),
        "{text}"
    );
}

#[test]
fn one_invalid_profile_query_does_not_stop_the_other_digests() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), None);
    seed_corpus(dir.path());
    // The daemon loads profiles by structure only: a query that does not
    // parse reaches the digest job.
    std::fs::write(
        dir.path().join("profiles.toml"),
        format!(
            "{PROFILES}\n[[profile]]\nid = \"broken\"\nname = \"B\"\nemail = \"b@univ.example\"\n\
             language = \"en\"\nquery = \"colour:red\"\n"
        ),
    )
    .unwrap();
    // Last week's digest of smith-mobility was recorded but not delivered
    // (a crash, or a relay down): it is pending, for this run to retry.
    let ctx = crate::smtp::digest_context(dir.path());
    let last_week = now() - Duration::days(7);
    {
        let mut store = fundwatch::store::Store::open(&ctx.db_path).unwrap();
        let r = fundwatch::digest::send::record_digests(
            &mut store,
            &ctx,
            &["smith-mobility".to_owned()],
            false,
            last_week,
        )
        .unwrap();
        assert_eq!(r.recorded.len(), 1, "{r:?}");
    }

    let out = cmd(dir.path()).args(["digest", "send"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "partial failure\n{stdout}\n{stderr}"
    );
    let p = fundwatch::digest::Period::containing(now(), chrono_tz::Europe::Paris);
    let bad: Vec<&str> = stdout.lines().filter(|l| l.contains("broken")).collect();
    assert_eq!(bad.len(), 1, "one message for the bad profile:\n{stdout}");
    assert!(
        bad[0].starts_with(&format!(
            "{p} broken: FAILED (not composed): profile broken:"
        )) && bad[0].contains("unknown field `colour:`"),
        "{stdout}"
    );
    // The good profile's digest is recorded and sent, and last week's
    // pending one is delivered too.
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let prev = fundwatch::digest::Period::containing(last_week, chrono_tz::Europe::Paris);
    assert_eq!(
        files,
        [
            format!("dupont-soil-{p}.eml"),
            format!("smith-mobility-{prev}.eml")
        ],
        "{stdout}"
    );
    let list = crate::support::stdout_json(
        &cmd(dir.path())
            .args(["digest", "list", "--json"])
            .output()
            .unwrap(),
    );
    let rows: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["profile_id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("smith-mobility", "sent"), ("dupont-soil", "sent")]);
}
