//! Tests for the date extractor: one table row per real phrasing of
//! `deadline_phrasings_real.tsv` (expected values written by hand), then the
//! rules one by one (DST, zones, roles, ranges, lists, months, years, traps).

use super::*;
use crate::model::Precision;
use std::path::Path;

/// (role, precision, instant `YYYY-MM-DDTHH:MM:SSZ` | date | month, zone, label)
type Exp = (&'static str, &'static str, &'static str, &'static str, &'static str);

fn ctx(lang: Language, zone: &str, now: &str) -> DateContext {
    DateContext {
        lang,
        zone: zone.parse().unwrap(),
        now: format!("{now}T12:00:00Z").parse().unwrap(),
    }
}

fn render(found: &[FoundDate]) -> Vec<(String, String, String, String, String)> {
    found
        .iter()
        .map(|f| {
            let p = &f.point;
            let value = match p.precision {
                Precision::Datetime => p.at.unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                _ => p.date_string(),
            };
            (
                f.role.to_string(),
                p.precision.to_string(),
                value,
                p.zone.clone(),
                p.label.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn check(phrase: &str, c: &DateContext, expected: &[Exp]) {
    let found = extract(phrase, c);
    let got = render(&found);
    let want: Vec<_> = expected
        .iter()
        .map(|e| {
            (
                e.0.to_string(),
                e.1.to_string(),
                e.2.to_string(),
                e.3.to_string(),
                e.4.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "phrase {phrase:?}\nfound {found:#?}");
    // Invariants every result keeps.
    for f in &found {
        assert_eq!(f.point.at.is_some(), f.point.precision == Precision::Datetime);
        assert!(!f.point.text.is_empty(), "empty text for {phrase:?}");
        assert!(f.point.zone.parse::<Tz>().is_ok(), "zone {}", f.point.zone);
    }
}

const FR: Language = Language::Fr;
const EN: Language = Language::En;

/// Every phrase of `deadline_phrasings_real.tsv` (with `\n` as a real line
/// break), its context (language, zone, now) and the expected dates.
#[allow(clippy::type_complexity)]
const REAL: &[(&str, Language, &str, &str, &[Exp])] = &[
    (
        "La clôture du dépôt des propositions détaillées est prévue fin mars 2022.",
        FR, "Europe/Paris", "2021-07-01",
        &[("deadline", "month", "2022-03", "Europe/Paris", "full proposal")],
    ),
    (
        "La clôture du dépôt des propositions détaillées est prévue en Avril 2021, la date et l’heure limites de dépôt seront précisées lors de l'invitation à déposer une proposition détaillée.",
        FR, "Europe/Paris", "2020-07-01",
        &[("deadline", "month", "2021-04", "Europe/Paris", "full proposal")],
    ),
    (
        "Le lundi 7 novembre 2022 à 17h00 (heure de Paris)",
        FR, "Europe/Paris", "2022-07-01",
        // November: CET, UTC+1.
        &[("deadline", "datetime", "2022-11-07T16:00:00Z", "Europe/Paris", "")],
    ),
    (
        "Le jeudi 27 octobre 2016 à 13h00 (heure de Paris)",
        FR, "Europe/Paris", "2016-07-01",
        // DST ended on 30 October 2016: still CEST.
        &[("deadline", "datetime", "2016-10-27T11:00:00Z", "Europe/Paris", "")],
    ),
    (
        "La clôture de la soumission des propositions détaillées est prévue début avril 2017",
        FR, "Europe/Paris", "2016-07-01",
        &[("deadline", "month", "2017-04", "Europe/Paris", "full proposal")],
    ),
    (
        "Le 13 octobre 2015 à 13h00 (heure de Paris)",
        FR, "Europe/Paris", "2015-07-01",
        &[("deadline", "datetime", "2015-10-13T11:00:00Z", "Europe/Paris", "")],
    ),
    (
        "Date d ouverture de l appel à projets : 24 juillet 2015",
        FR, "Europe/Paris", "2015-07-01",
        &[("opening", "date", "2015-07-24", "Europe/Paris", "")],
    ),
    (
        "Date limite de soumission des pré-propositions (Instruments PRC, PRCE, JCJC) : 16 octobre 2014, 13h00 (heure de Paris)",
        FR, "Europe/Paris", "2014-07-10",
        &[("deadline", "datetime", "2014-10-16T11:00:00Z", "Europe/Paris", "pre-proposal")],
    ),
    (
        "Le jeudi 24 octobre 2019 à 13h00 (heure de Paris)",
        FR, "Europe/Paris", "2019-07-01",
        &[("deadline", "datetime", "2019-10-24T11:00:00Z", "Europe/Paris", "")],
    ),
    (
        "Date limite de dépôt des dossiers de candidature : 08/03/2024",
        FR, "Europe/Paris", "2023-11-01",
        &[("deadline", "date", "2024-03-08", "Europe/Paris", "")],
    ),
    (
        "Date limite de dépôt des dossiers de candidature : 14 juin 2021.",
        FR, "Europe/Paris", "2021-03-01",
        &[("deadline", "date", "2021-06-14", "Europe/Paris", "")],
    ),
    (
        "Aucun dépôt de candidature ne sera possible après la date limite à minuit précisée dans chaque AAP.",
        FR, "Europe/Paris", "2024-01-01",
        &[],
    ),
    (
        "Date limite du dépôt : 31/01/2026",
        FR, "Europe/Paris", "2025-10-01",
        &[("deadline", "date", "2026-01-31", "Europe/Paris", "")],
    ),
    (
        "du 1 avril\nau 31 décembre 2021",
        FR, "Europe/Paris", "2021-03-01",
        &[
            ("opening", "date", "2021-04-01", "Europe/Paris", ""),
            ("deadline", "date", "2021-12-31", "Europe/Paris", ""),
        ],
    ),
    (
        "Les établissements d'enseignement supérieur peuvent déposer leurs prépropositions jusqu'au 31 mai 2022.",
        FR, "Europe/Paris", "2022-03-01",
        &[("deadline", "date", "2022-05-31", "Europe/Paris", "pre-proposal")],
    ),
    (
        "est ouvert depuis le lundi 18 mars",
        FR, "Europe/Paris", "2019-03-20",
        &[("opening", "date", "2019-03-18", "Europe/Paris", "")],
    ),
    (
        "Date limite de soumission de la demande complète :\n03 octobre 2025, 12h00\n(date et heure du Sénégal, Mali, Mauritanie)",
        FR, "Europe/Paris", "2025-09-01",
        // Dakar is UTC+0 all year.
        &[("deadline", "datetime", "2025-10-03T12:00:00Z", "Africa/Dakar", "full proposal")],
    ),
    (
        "Publication ouverte du mercredi 12 avril 2017 à 17:00 au mercredi 31 mai 2017 à 17:00.",
        FR, "Europe/Paris", "2017-04-01",
        // A publication window (results published), never a deadline.
        &[
            ("publication", "datetime", "2017-04-12T15:00:00Z", "Europe/Paris", ""),
            ("other", "datetime", "2017-05-31T15:00:00Z", "Europe/Paris", ""),
        ],
    ),
    (
        "Date limite d envoi du dossier le 15 mai 2015 Cachet de la poste faisant foi",
        FR, "Europe/Paris", "2015-03-01",
        &[("deadline", "date", "2015-05-15", "Europe/Paris", "")],
    ),
    (
        "Opening : 2016-09-05 at 16:16 CEST",
        EN, "Europe/Paris", "2016-09-01",
        &[("opening", "datetime", "2016-09-05T14:16:00Z", "Europe/Brussels", "")],
    ),
    (
        "Application Deadline : 2017-04-04 at 13:00 CEST",
        EN, "Europe/Paris", "2016-09-01",
        &[("deadline", "datetime", "2017-04-04T11:00:00Z", "Europe/Brussels", "")],
    ),
    (
        "Publish Date: Sep 12, 2016\n\nDeadline: Oct 27, 2016",
        EN, "Europe/Paris", "2016-09-15",
        &[
            ("publication", "date", "2016-09-12", "Europe/Paris", ""),
            ("deadline", "date", "2016-10-27", "Europe/Paris", ""),
        ],
    ),
    (
        "December 1, 2020 - Closing of the submission site Step I",
        EN, "Europe/Paris", "2020-09-01",
        &[("deadline", "date", "2020-12-01", "Europe/Paris", "step 1")],
    ),
    (
        "End of April 2021 - Closing of the submission site",
        EN, "Europe/Paris", "2020-09-01",
        &[("deadline", "month", "2021-04", "Europe/Paris", "")],
    ),
    (
        "<time datetime=\"2026-04-12T21:59:00+00:00\">12 Apr 2026 - 23:59 (Europe/Brussels)</time>",
        EN, "Europe/Paris", "2026-03-01",
        &[("deadline", "datetime", "2026-04-12T21:59:00Z", "Europe/Brussels", "")],
    ),
    (
        "<time datetime=\"2026-03-12T22:59:59+00:00\">12 Mar 2026 - 23:59 (Europe/Madrid)</time>",
        EN, "Europe/Paris", "2026-03-01",
        &[("deadline", "datetime", "2026-03-12T22:59:59Z", "Europe/Madrid", "")],
    ),
    (
        "<time datetime=\"2026-04-06T13:00:00+00:00\">6 Apr 2026 - 15:00 (Europe/Amsterdam)</time>",
        EN, "Europe/Paris", "2026-03-01",
        &[("deadline", "datetime", "2026-04-06T13:00:00Z", "Europe/Amsterdam", "")],
    ),
    (
        "<time datetime=\"2026-03-16T23:59:59+00:00\">16 Mar 2026 - 23:59 (Atlantic/Canary)</time>",
        EN, "Europe/Paris", "2026-03-01",
        &[("deadline", "datetime", "2026-03-16T23:59:59Z", "Atlantic/Canary", "")],
    ),
    (
        "Full Proposal Deadline(s) (due by 5 p.m. proposer's local time): January 21, 2015",
        EN, "America/New_York", "2014-11-01",
        // 5 p.m. EST (UTC-5).
        &[("deadline", "datetime", "2015-01-21T22:00:00Z", "America/New_York", "full proposal")],
    ),
    (
        "Full Proposal Deadline(s) (due by 5 p.m. proposer's local time): July 18, 2013 July 18, Annually Thereafter",
        EN, "America/New_York", "2013-05-01",
        // The recurrence is the next July 18 after the stated one; EDT (UTC-4).
        &[
            ("deadline", "datetime", "2013-07-18T21:00:00Z", "America/New_York", "full proposal"),
            ("deadline", "datetime", "2014-07-18T21:00:00Z", "America/New_York", "full proposal"),
        ],
    ),
    (
        "Submission Window Date(s) (due by 5 p.m. proposer's local time): September 24, 2013 - October 15, 2013 MEDIUM Projects",
        EN, "America/New_York", "2013-06-01",
        &[
            ("opening", "date", "2013-09-24", "America/New_York", ""),
            ("deadline", "datetime", "2013-10-15T21:00:00Z", "America/New_York", ""),
        ],
    ),
    (
        "Submission Window Date(s) (due by 5 p.m. submitter's local time): November 01, 2018 - November 15, 2018 SMALL projects",
        EN, "America/New_York", "2018-06-01",
        // US DST ended on 4 November 2018: EST.
        &[
            ("opening", "date", "2018-11-01", "America/New_York", ""),
            ("deadline", "datetime", "2018-11-15T22:00:00Z", "America/New_York", ""),
        ],
    ),
    (
        "Letter of Intent Due Date(s) (required) (due by 5 p.m. submitter's local time): September 07, 2021",
        EN, "America/New_York", "2021-06-01",
        &[("deadline", "datetime", "2021-09-07T21:00:00Z", "America/New_York", "letter of intent")],
    ),
    (
        "All deadlines for submission of applications specified below end at 12.00 (noon), Brussels time.",
        EN, "Europe/Brussels", "2020-01-01",
        &[],
    ),
    (
        "23 April 2020 (12h00 Brussels time) for Key Action 2 Strategic Partnerships for School Education (KA201)",
        EN, "Europe/Paris", "2020-01-01",
        &[("deadline", "datetime", "2020-04-23T10:00:00Z", "Europe/Brussels", "")],
    ),
    (
        "Round 2 deadlines are open for the following KA1 types of projects until 4 October 2021 (12h CET):",
        EN, "Europe/Belgrade", "2021-07-01",
        // "CET" written in summer: the earlier reading (Brussels local, CEST).
        &[("deadline", "datetime", "2021-10-04T10:00:00Z", "Europe/Brussels", "")],
    ),
    (
        "Mobility of individuals in the fields of education, training and youth: 23 February at 12:00 h",
        EN, "Europe/Madrid", "2021-11-15",
        &[("deadline", "datetime", "2022-02-23T11:00:00Z", "Europe/Madrid", "")],
    ),
    (
        "Centres for Vocational Excellence:  7 de setembre a les 17:00 h",
        EN, "Europe/Madrid", "2021-11-15",
        // Catalan month: deliberately not read.
        &[],
    ),
    (
        " 20 February 2024 at 12.00",
        EN, "Europe/Madrid", "2023-11-15",
        &[("deadline", "datetime", "2024-02-20T11:00:00Z", "Europe/Madrid", "")],
    ),
    (
        "Strategic EVS projects (2 February 2017, 26 April 2017 and 4 October 2017)",
        EN, "Europe/Brussels", "2016-11-01",
        &[
            ("deadline", "date", "2017-02-02", "Europe/Brussels", ""),
            ("deadline", "date", "2017-04-26", "Europe/Brussels", ""),
            ("deadline", "date", "2017-10-04", "Europe/Brussels", ""),
        ],
    ),
    (
        "Deadline: 2 February 2017",
        EN, "Europe/Brussels", "2016-11-01",
        &[("deadline", "date", "2017-02-02", "Europe/Brussels", "")],
    ),
    (
        "For Erasmus+ KA1 projects the 2024 deadline was the 20th of February.",
        EN, "Europe/Brussels", "2024-06-01",
        &[("deadline", "date", "2024-02-20", "Europe/Brussels", "")],
    ),
    (
        "14 June 2012 - 17h00 Brussels time",
        EN, "Europe/Paris", "2012-01-01",
        &[("deadline", "datetime", "2012-06-14T15:00:00Z", "Europe/Brussels", "")],
    ),
    (
        "June 9 th, 2017 (17:00, CEST) - SUBMISSION OF INVITED FULL-PROPOSALS",
        EN, "Europe/Paris", "2016-11-28",
        &[("deadline", "datetime", "2017-06-09T15:00:00Z", "Europe/Brussels", "full proposal")],
    ),
    (
        "Submit your application until 1st June 2024!",
        EN, "Europe/Madrid", "2024-03-01",
        &[("deadline", "date", "2024-06-01", "Europe/Madrid", "")],
    ),
    (
        "Call Opens: 1st March 2024",
        EN, "Europe/Madrid", "2024-01-01",
        &[("opening", "date", "2024-03-01", "Europe/Madrid", "")],
    ),
    (
        "20 February 2025\n\nApplication deadline. Closing of 1st call!",
        EN, "Europe/Copenhagen", "2024-11-01",
        &[("deadline", "date", "2025-02-20", "Europe/Copenhagen", "")],
    ),
    (
        "Third call: 25 January - 25 March 2023 (8 fellowships)",
        EN, "Europe/Copenhagen", "2022-11-01",
        &[
            ("opening", "date", "2023-01-25", "Europe/Copenhagen", ""),
            ("deadline", "date", "2023-03-25", "Europe/Copenhagen", ""),
        ],
    ),
    (
        "Application period: October 15, 2014 – January 18, 2015",
        EN, "Europe/Paris", "2014-09-01",
        &[
            ("opening", "date", "2014-10-15", "Europe/Paris", ""),
            ("deadline", "date", "2015-01-18", "Europe/Paris", ""),
        ],
    ),
    (
        "24 Nov 2025 – 5 Jan 2026",
        EN, "Europe/Paris", "2025-11-01",
        &[
            ("opening", "date", "2025-11-24", "Europe/Paris", ""),
            ("deadline", "date", "2026-01-05", "Europe/Paris", ""),
        ],
    ),
    (
        "Call HORIZON-CL4-2024-HUMAN-03 has closed on the 18/09/2024.",
        EN, "Europe/Brussels", "2024-10-01",
        &[("deadline", "date", "2024-09-18", "Europe/Brussels", "")],
    ),
    (
        "Published: 18.04.2024",
        EN, "Europe/Brussels", "2024-10-01",
        &[("publication", "date", "2024-04-18", "Europe/Brussels", "")],
    ),
    (
        "2024-04-18T19:00:00.000+0200",
        EN, "Europe/Brussels", "2024-01-01",
        &[("deadline", "datetime", "2024-04-18T17:00:00Z", "Etc/GMT-2", "")],
    ),
    (
        "2027-04-08T00:00:00.000+0000",
        EN, "Europe/Brussels", "2026-01-01",
        // SEDIA's current index: midnight UTC stands for a date.
        &[("deadline", "date", "2027-04-08", "UTC", "")],
    ),
    (
        "08222014",
        EN, "America/New_York", "2014-06-01",
        // MMDDYYYY is an API field format, not a free-text date.
        &[],
    ),
    (
        "11/04/2026",
        EN, "America/New_York", "2026-01-01",
        // Free text reads DD/MM/YYYY (European sources); the grants.gov
        // adapter parses its MM/DD/YYYY fields itself.
        &[("deadline", "date", "2026-04-11", "America/New_York", "")],
    ),
];

#[test]
fn every_real_phrasing_gives_the_expected_dates() {
    for (phrase, lang, zone, now, expected) in REAL {
        check(phrase, &ctx(*lang, zone, now), expected);
    }
}

#[test]
fn the_table_covers_every_line_of_the_real_tsv() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real/deadline_phrasings_real.tsv");
    let Ok(tsv) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: {} absent", path.display());
        return;
    };
    let mut n = 0;
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let phrase = line.split('\t').next().unwrap().replace("\\n", "\n");
        assert!(
            REAL.iter().any(|row| row.0 == phrase),
            "phrase missing from the test table: {phrase:?}"
        );
        n += 1;
    }
    assert_eq!(n, REAL.len(), "table rows and tsv lines differ in number");
}

