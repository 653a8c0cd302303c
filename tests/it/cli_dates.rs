//! `fundwatch dates` from outside: the officer's check of what fundwatch
//! reads in a text, and the JSON contract (`role`, `precision`, `at`,
//! `date`, `zone`, `label`, `text`).

use crate::support::stdout_json;

fn dates(args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    let mut cmd = assert_cmd::Command::cargo_bin("fundwatch").unwrap();
    cmd.arg("dates").arg("--json").args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

#[test]
fn dates_json_gives_role_precision_instant_zone_and_label() {
    // (args, text, expected [(role, precision, at, date, zone)])
    type Case<'a> = (
        &'a [&'a str],
        &'a str,
        &'a [(&'a str, &'a str, Option<&'a str>, &'a str, &'a str)],
    );
    let table: &[Case] = &[
        // DST: 17h00 in Paris is 15:00Z in October (CEST), 16:00Z in November (CET).
        (
            &["--lang", "fr"],
            "Date limite : le vendredi 24 octobre 2025 à 17h00 (heure de Paris)",
            &[(
                "deadline",
                "datetime",
                Some("2025-10-24T15:00:00Z"),
                "2025-10-24",
                "Europe/Paris",
            )],
        ),
        (
            &["--lang", "fr"],
            "Date limite : le lundi 3 novembre 2025 à 17h00 (heure de Paris)",
            &[(
                "deadline",
                "datetime",
                Some("2025-11-03T16:00:00Z"),
                "2025-11-03",
                "Europe/Paris",
            )],
        ),
        // A time without a zone takes --tz.
        (
            &["--lang", "en", "--tz", "Europe/London"],
            "UKRI must receive your application by 10 January 2024 4.00pm.",
            &[(
                "deadline",
                "datetime",
                Some("2024-01-10T16:00:00Z"),
                "2024-01-10",
                "Europe/London",
            )],
        ),
        // Month precision, and a publication date that must not be a deadline.
        (
            &["--lang", "fr", "--now", "2021-10-01"],
            "Publié le 1 octobre 2021. La clôture est prévue fin mars 2022.",
            &[
                ("publication", "date", None, "2021-10-01", "Europe/Paris"),
                ("deadline", "month", None, "2022-03", "Europe/Paris"),
            ],
        ),
        // A missing year comes from --now.
        (
            &["--lang", "en", "--now", "2021-11-01"],
            "Mobility of individuals: 23 February at 12:00 h",
            &[(
                "deadline",
                "datetime",
                Some("2022-02-23T11:00:00Z"),
                "2022-02-23",
                "Europe/Paris",
            )],
        ),
    ];
    for (args, text, want) in table {
        let got = dates(&[*args, &[*text]].concat(), None);
        let got: Vec<(String, String, Option<String>, String, String)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["role"].as_str().unwrap().to_owned(),
                    d["precision"].as_str().unwrap().to_owned(),
                    d["at"].as_str().map(str::to_owned),
                    d["date"].as_str().unwrap().to_owned(),
                    d["zone"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String, Option<String>, String, String)> = want
            .iter()
            .map(|(r, p, a, d, z)| {
                (
                    (*r).into(),
                    (*p).into(),
                    a.map(Into::into),
                    (*d).into(),
                    (*z).into(),
                )
            })
            .collect();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn dates_reads_stdin_and_keeps_labels_and_the_matched_text() {
    let got = dates(
        &["--lang", "en"],
        Some(
            "Pre-proposal deadline : 2016-10-27 at 13:00 CEST\nApplication Deadline : 2017-04-04 at 13:00 CEST\n",
        ),
    );
    let arr = got.as_array().unwrap();
    assert_eq!(arr.len(), 2, "{got:#}");
    assert_eq!(arr[0]["label"], "pre-proposal");
    assert_eq!(arr[0]["at"], "2016-10-27T11:00:00Z");
    assert!(
        arr[1]["text"].as_str().unwrap().contains("2017-04-04"),
        "{got:#}"
    );
}

#[test]
fn a_bad_zone_is_an_argument_error() {
    let out = assert_cmd::Command::cargo_bin("fundwatch")
        .unwrap()
        .args(["dates", "--tz", "Mars/Olympus", "1 January 2027"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone"));
}
