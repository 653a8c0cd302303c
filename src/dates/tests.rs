//! Tests for the date extractor: one table row per real phrasing of
//! `deadline_phrasings_real.tsv` (expected values written by hand), then the
//! rules one by one (DST, zones, roles, ranges, lists, months, years, traps).

use super::*;
use crate::model::Precision;
use crate::test_support::{self, XorShift};
use std::path::Path;

/// (role, precision, instant `YYYY-MM-DDTHH:MM:SSZ` | date | month, zone, label)
type Exp = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

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
        assert_eq!(
            f.point.at.is_some(),
            f.point.precision == Precision::Datetime
        );
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
        FR,
        "Europe/Paris",
        "2021-07-01",
        &[(
            "deadline",
            "month",
            "2022-03",
            "Europe/Paris",
            "full proposal",
        )],
    ),
    (
        "La clôture du dépôt des propositions détaillées est prévue en Avril 2021, la date et l’heure limites de dépôt seront précisées lors de l'invitation à déposer une proposition détaillée.",
        FR,
        "Europe/Paris",
        "2020-07-01",
        &[(
            "deadline",
            "month",
            "2021-04",
            "Europe/Paris",
            "full proposal",
        )],
    ),
    (
        "Le lundi 7 novembre 2022 à 17h00 (heure de Paris)",
        FR,
        "Europe/Paris",
        "2022-07-01",
        // November: CET, UTC+1.
        &[(
            "deadline",
            "datetime",
            "2022-11-07T16:00:00Z",
            "Europe/Paris",
            "",
        )],
    ),
    (
        "Le jeudi 27 octobre 2016 à 13h00 (heure de Paris)",
        FR,
        "Europe/Paris",
        "2016-07-01",
        // DST ended on 30 October 2016: still CEST.
        &[(
            "deadline",
            "datetime",
            "2016-10-27T11:00:00Z",
            "Europe/Paris",
            "",
        )],
    ),
    (
        "La clôture de la soumission des propositions détaillées est prévue début avril 2017",
        FR,
        "Europe/Paris",
        "2016-07-01",
        &[(
            "deadline",
            "month",
            "2017-04",
            "Europe/Paris",
            "full proposal",
        )],
    ),
    (
        "Le 13 octobre 2015 à 13h00 (heure de Paris)",
        FR,
        "Europe/Paris",
        "2015-07-01",
        &[(
            "deadline",
            "datetime",
            "2015-10-13T11:00:00Z",
            "Europe/Paris",
            "",
        )],
    ),
    (
        "Date d ouverture de l appel à projets : 24 juillet 2015",
        FR,
        "Europe/Paris",
        "2015-07-01",
        &[("opening", "date", "2015-07-24", "Europe/Paris", "")],
    ),
    (
        "Date limite de soumission des pré-propositions (Instruments PRC, PRCE, JCJC) : 16 octobre 2014, 13h00 (heure de Paris)",
        FR,
        "Europe/Paris",
        "2014-07-10",
        &[(
            "deadline",
            "datetime",
            "2014-10-16T11:00:00Z",
            "Europe/Paris",
            "pre-proposal",
        )],
    ),
    (
        "Le jeudi 24 octobre 2019 à 13h00 (heure de Paris)",
        FR,
        "Europe/Paris",
        "2019-07-01",
        &[(
            "deadline",
            "datetime",
            "2019-10-24T11:00:00Z",
            "Europe/Paris",
            "",
        )],
    ),
    (
        "Date limite de dépôt des dossiers de candidature : 08/03/2024",
        FR,
        "Europe/Paris",
        "2023-11-01",
        &[("deadline", "date", "2024-03-08", "Europe/Paris", "")],
    ),
    (
        "Date limite de dépôt des dossiers de candidature : 14 juin 2021.",
        FR,
        "Europe/Paris",
        "2021-03-01",
        &[("deadline", "date", "2021-06-14", "Europe/Paris", "")],
    ),
    (
        "Aucun dépôt de candidature ne sera possible après la date limite à minuit précisée dans chaque AAP.",
        FR,
        "Europe/Paris",
        "2024-01-01",
        &[],
    ),
    (
        "Date limite du dépôt : 31/01/2026",
        FR,
        "Europe/Paris",
        "2025-10-01",
        &[("deadline", "date", "2026-01-31", "Europe/Paris", "")],
    ),
    (
        "du 1 avril\nau 31 décembre 2021",
        FR,
        "Europe/Paris",
        "2021-03-01",
        &[
            ("opening", "date", "2021-04-01", "Europe/Paris", ""),
            ("deadline", "date", "2021-12-31", "Europe/Paris", ""),
        ],
    ),
    (
        "Les établissements d'enseignement supérieur peuvent déposer leurs prépropositions jusqu'au 31 mai 2022.",
        FR,
        "Europe/Paris",
        "2022-03-01",
        &[(
            "deadline",
            "date",
            "2022-05-31",
            "Europe/Paris",
            "pre-proposal",
        )],
    ),
    (
        "est ouvert depuis le lundi 18 mars",
        FR,
        "Europe/Paris",
        "2019-03-20",
        &[("opening", "date", "2019-03-18", "Europe/Paris", "")],
    ),
    (
        "Date limite de soumission de la demande complète :\n03 octobre 2025, 12h00\n(date et heure du Sénégal, Mali, Mauritanie)",
        FR,
        "Europe/Paris",
        "2025-09-01",
        // Dakar is UTC+0 all year.
        &[(
            "deadline",
            "datetime",
            "2025-10-03T12:00:00Z",
            "Africa/Dakar",
            "full proposal",
        )],
    ),
    (
        "Publication ouverte du mercredi 12 avril 2017 à 17:00 au mercredi 31 mai 2017 à 17:00.",
        FR,
        "Europe/Paris",
        "2017-04-01",
        // A publication window (results published), never a deadline.
        &[
            (
                "publication",
                "datetime",
                "2017-04-12T15:00:00Z",
                "Europe/Paris",
                "",
            ),
            (
                "other",
                "datetime",
                "2017-05-31T15:00:00Z",
                "Europe/Paris",
                "",
            ),
        ],
    ),
    (
        "Date limite d envoi du dossier le 15 mai 2015 Cachet de la poste faisant foi",
        FR,
        "Europe/Paris",
        "2015-03-01",
        &[("deadline", "date", "2015-05-15", "Europe/Paris", "")],
    ),
    (
        "Opening : 2016-09-05 at 16:16 CEST",
        EN,
        "Europe/Paris",
        "2016-09-01",
        &[(
            "opening",
            "datetime",
            "2016-09-05T14:16:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Application Deadline : 2017-04-04 at 13:00 CEST",
        EN,
        "Europe/Paris",
        "2016-09-01",
        &[(
            "deadline",
            "datetime",
            "2017-04-04T11:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Publish Date: Sep 12, 2016\n\nDeadline: Oct 27, 2016",
        EN,
        "Europe/Paris",
        "2016-09-15",
        &[
            ("publication", "date", "2016-09-12", "Europe/Paris", ""),
            ("deadline", "date", "2016-10-27", "Europe/Paris", ""),
        ],
    ),
    (
        "December 1, 2020 - Closing of the submission site Step I",
        EN,
        "Europe/Paris",
        "2020-09-01",
        &[("deadline", "date", "2020-12-01", "Europe/Paris", "step 1")],
    ),
    (
        "End of April 2021 - Closing of the submission site",
        EN,
        "Europe/Paris",
        "2020-09-01",
        &[("deadline", "month", "2021-04", "Europe/Paris", "")],
    ),
    (
        "<time datetime=\"2026-04-12T21:59:00+00:00\">12 Apr 2026 - 23:59 (Europe/Brussels)</time>",
        EN,
        "Europe/Paris",
        "2026-03-01",
        &[(
            "deadline",
            "datetime",
            "2026-04-12T21:59:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "<time datetime=\"2026-03-12T22:59:59+00:00\">12 Mar 2026 - 23:59 (Europe/Madrid)</time>",
        EN,
        "Europe/Paris",
        "2026-03-01",
        &[(
            "deadline",
            "datetime",
            "2026-03-12T22:59:59Z",
            "Europe/Madrid",
            "",
        )],
    ),
    (
        "<time datetime=\"2026-04-06T13:00:00+00:00\">6 Apr 2026 - 15:00 (Europe/Amsterdam)</time>",
        EN,
        "Europe/Paris",
        "2026-03-01",
        &[(
            "deadline",
            "datetime",
            "2026-04-06T13:00:00Z",
            "Europe/Amsterdam",
            "",
        )],
    ),
    (
        "<time datetime=\"2026-03-16T23:59:59+00:00\">16 Mar 2026 - 23:59 (Atlantic/Canary)</time>",
        EN,
        "Europe/Paris",
        "2026-03-01",
        &[(
            "deadline",
            "datetime",
            "2026-03-16T23:59:59Z",
            "Atlantic/Canary",
            "",
        )],
    ),
    (
        "Full Proposal Deadline(s) (due by 5 p.m. proposer's local time): January 21, 2015",
        EN,
        "America/New_York",
        "2014-11-01",
        // 5 p.m. EST (UTC-5).
        &[(
            "deadline",
            "datetime",
            "2015-01-21T22:00:00Z",
            "America/New_York",
            "full proposal",
        )],
    ),
    (
        "Full Proposal Deadline(s) (due by 5 p.m. proposer's local time): July 18, 2013 July 18, Annually Thereafter",
        EN,
        "America/New_York",
        "2013-05-01",
        // The recurrence is the next July 18 after the stated one; EDT (UTC-4).
        &[
            (
                "deadline",
                "datetime",
                "2013-07-18T21:00:00Z",
                "America/New_York",
                "full proposal",
            ),
            (
                "deadline",
                "datetime",
                "2014-07-18T21:00:00Z",
                "America/New_York",
                "full proposal",
            ),
        ],
    ),
    (
        "Submission Window Date(s) (due by 5 p.m. proposer's local time): September 24, 2013 - October 15, 2013 MEDIUM Projects",
        EN,
        "America/New_York",
        "2013-06-01",
        &[
            ("opening", "date", "2013-09-24", "America/New_York", ""),
            (
                "deadline",
                "datetime",
                "2013-10-15T21:00:00Z",
                "America/New_York",
                "",
            ),
        ],
    ),
    (
        "Submission Window Date(s) (due by 5 p.m. submitter's local time): November 01, 2018 - November 15, 2018 SMALL projects",
        EN,
        "America/New_York",
        "2018-06-01",
        // US DST ended on 4 November 2018: EST.
        &[
            ("opening", "date", "2018-11-01", "America/New_York", ""),
            (
                "deadline",
                "datetime",
                "2018-11-15T22:00:00Z",
                "America/New_York",
                "",
            ),
        ],
    ),
    (
        "Letter of Intent Due Date(s) (required) (due by 5 p.m. submitter's local time): September 07, 2021",
        EN,
        "America/New_York",
        "2021-06-01",
        &[(
            "deadline",
            "datetime",
            "2021-09-07T21:00:00Z",
            "America/New_York",
            "letter of intent",
        )],
    ),
    (
        "All deadlines for submission of applications specified below end at 12.00 (noon), Brussels time.",
        EN,
        "Europe/Brussels",
        "2020-01-01",
        &[],
    ),
    (
        "23 April 2020 (12h00 Brussels time) for Key Action 2 Strategic Partnerships for School Education (KA201)",
        EN,
        "Europe/Paris",
        "2020-01-01",
        &[(
            "deadline",
            "datetime",
            "2020-04-23T10:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Round 2 deadlines are open for the following KA1 types of projects until 4 October 2021 (12h CET):",
        EN,
        "Europe/Belgrade",
        "2021-07-01",
        // "CET" written in summer: the earlier reading (Brussels local, CEST).
        &[(
            "deadline",
            "datetime",
            "2021-10-04T10:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Mobility of individuals in the fields of education, training and youth: 23 February at 12:00 h",
        EN,
        "Europe/Madrid",
        "2021-11-15",
        &[(
            "deadline",
            "datetime",
            "2022-02-23T11:00:00Z",
            "Europe/Madrid",
            "",
        )],
    ),
    (
        "Centres for Vocational Excellence:  7 de setembre a les 17:00 h",
        EN,
        "Europe/Madrid",
        "2021-11-15",
        // Catalan month: deliberately not read.
        &[],
    ),
    (
        " 20 February 2024 at 12.00",
        EN,
        "Europe/Madrid",
        "2023-11-15",
        &[(
            "deadline",
            "datetime",
            "2024-02-20T11:00:00Z",
            "Europe/Madrid",
            "",
        )],
    ),
    (
        "Strategic EVS projects (2 February 2017, 26 April 2017 and 4 October 2017)",
        EN,
        "Europe/Brussels",
        "2016-11-01",
        &[
            ("deadline", "date", "2017-02-02", "Europe/Brussels", ""),
            ("deadline", "date", "2017-04-26", "Europe/Brussels", ""),
            ("deadline", "date", "2017-10-04", "Europe/Brussels", ""),
        ],
    ),
    (
        "Deadline: 2 February 2017",
        EN,
        "Europe/Brussels",
        "2016-11-01",
        &[("deadline", "date", "2017-02-02", "Europe/Brussels", "")],
    ),
    (
        "For Erasmus+ KA1 projects the 2024 deadline was the 20th of February.",
        EN,
        "Europe/Brussels",
        "2024-06-01",
        &[("deadline", "date", "2024-02-20", "Europe/Brussels", "")],
    ),
    (
        "14 June 2012 - 17h00 Brussels time",
        EN,
        "Europe/Paris",
        "2012-01-01",
        &[(
            "deadline",
            "datetime",
            "2012-06-14T15:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "June 9 th, 2017 (17:00, CEST) - SUBMISSION OF INVITED FULL-PROPOSALS",
        EN,
        "Europe/Paris",
        "2016-11-28",
        &[(
            "deadline",
            "datetime",
            "2017-06-09T15:00:00Z",
            "Europe/Brussels",
            "full proposal",
        )],
    ),
    (
        "Submit your application until 1st June 2024!",
        EN,
        "Europe/Madrid",
        "2024-03-01",
        &[("deadline", "date", "2024-06-01", "Europe/Madrid", "")],
    ),
    (
        "Call Opens: 1st March 2024",
        EN,
        "Europe/Madrid",
        "2024-01-01",
        &[("opening", "date", "2024-03-01", "Europe/Madrid", "")],
    ),
    (
        "20 February 2025\n\nApplication deadline. Closing of 1st call!",
        EN,
        "Europe/Copenhagen",
        "2024-11-01",
        &[("deadline", "date", "2025-02-20", "Europe/Copenhagen", "")],
    ),
    (
        "Third call: 25 January - 25 March 2023 (8 fellowships)",
        EN,
        "Europe/Copenhagen",
        "2022-11-01",
        &[
            ("opening", "date", "2023-01-25", "Europe/Copenhagen", ""),
            ("deadline", "date", "2023-03-25", "Europe/Copenhagen", ""),
        ],
    ),
    (
        "Application period: October 15, 2014 – January 18, 2015",
        EN,
        "Europe/Paris",
        "2014-09-01",
        &[
            ("opening", "date", "2014-10-15", "Europe/Paris", ""),
            ("deadline", "date", "2015-01-18", "Europe/Paris", ""),
        ],
    ),
    (
        "24 Nov 2025 – 5 Jan 2026",
        EN,
        "Europe/Paris",
        "2025-11-01",
        &[
            ("opening", "date", "2025-11-24", "Europe/Paris", ""),
            ("deadline", "date", "2026-01-05", "Europe/Paris", ""),
        ],
    ),
    (
        "Call HORIZON-CL4-2024-HUMAN-03 has closed on the 18/09/2024.",
        EN,
        "Europe/Brussels",
        "2024-10-01",
        &[("deadline", "date", "2024-09-18", "Europe/Brussels", "")],
    ),
    (
        "Published: 18.04.2024",
        EN,
        "Europe/Brussels",
        "2024-10-01",
        &[("publication", "date", "2024-04-18", "Europe/Brussels", "")],
    ),
    (
        "2024-04-18T19:00:00.000+0200",
        EN,
        "Europe/Brussels",
        "2024-01-01",
        &[(
            "deadline",
            "datetime",
            "2024-04-18T17:00:00Z",
            "Etc/GMT-2",
            "",
        )],
    ),
    (
        "2027-04-08T00:00:00.000+0000",
        EN,
        "Europe/Brussels",
        "2026-01-01",
        // SEDIA's current index: midnight UTC stands for a date.
        &[("deadline", "date", "2027-04-08", "UTC", "")],
    ),
    (
        "08222014",
        EN,
        "America/New_York",
        "2014-06-01",
        // MMDDYYYY is an API field format, not a free-text date.
        &[],
    ),
    (
        "11/04/2026",
        EN,
        "America/New_York",
        "2026-01-01",
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
        test_support::skipped(format_args!("{} absent", path.display()));
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

const P: &str = "Europe/Paris";

/// Own cases, one rule each: (phrase, zone, now, expected).
#[allow(clippy::type_complexity)]
const RULES: &[(&str, &str, &str, &[Exp])] = &[
    // --- DST, Paris: last Sunday of October 2025 is the 26th.
    (
        "Date limite : 24 octobre 2025 à 17h00 (heure de Paris)",
        P,
        "2025-06-01",
        &[("deadline", "datetime", "2025-10-24T15:00:00Z", P, "")],
    ),
    (
        "Date limite : 3 novembre 2025 à 17h00 (heure de Paris)",
        P,
        "2025-06-01",
        &[("deadline", "datetime", "2025-11-03T16:00:00Z", P, "")],
    ),
    (
        "Deadline: 25 October 2025 at 12:00",
        P,
        "2025-06-01",
        &[("deadline", "datetime", "2025-10-25T10:00:00Z", P, "")],
    ),
    (
        "Deadline: 27 October 2025 at 12:00",
        P,
        "2025-06-01",
        &[("deadline", "datetime", "2025-10-27T11:00:00Z", P, "")],
    ),
    // Ambiguous 02:30 on 26 October: the earlier instant (CEST).
    (
        "Deadline: 26 October 2025 at 02:30",
        P,
        "2025-06-01",
        &[("deadline", "datetime", "2025-10-26T00:30:00Z", P, "")],
    ),
    // Paris, last Sunday of March 2025 is the 30th.
    (
        "Deadline: 29 March 2025 at 12:00",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-03-29T11:00:00Z", P, "")],
    ),
    (
        "Deadline: 30 March 2025 at 12:00",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-03-30T10:00:00Z", P, "")],
    ),
    // 02:30 does not exist on 30 March: read with the new offset.
    (
        "Deadline: 30 March 2025 at 02:30",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-03-30T00:30:00Z", P, "")],
    ),
    // --- DST, London (same Sundays in 2025).
    (
        "UKRI must receive your application by 10 January 2024 4.00pm UK time.",
        P,
        "2023-11-01",
        &[(
            "deadline",
            "datetime",
            "2024-01-10T16:00:00Z",
            "Europe/London",
            "",
        )],
    ),
    (
        "UKRI must receive your application by 28 March 2025 4.00pm UK time.",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-03-28T16:00:00Z",
            "Europe/London",
            "",
        )],
    ),
    (
        "UKRI must receive your application by 31 March 2025 4.00pm UK time.",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-03-31T15:00:00Z",
            "Europe/London",
            "",
        )],
    ),
    (
        "UKRI must receive your application by 27 October 2025 4pm UK time.",
        P,
        "2025-06-01",
        &[(
            "deadline",
            "datetime",
            "2025-10-27T16:00:00Z",
            "Europe/London",
            "",
        )],
    ),
    // --- Times (12 May 2025 is CEST, UTC+2).
    (
        "Date limite : 12 mai 2025 à 17h",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T15:00:00Z", P, "")],
    ),
    (
        "Date limite : 12 mai 2025 à 13 heures",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T11:00:00Z", P, "")],
    ),
    (
        "Date limite : 12 mai 2025 à midi",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T10:00:00Z", P, "")],
    ),
    (
        "Date limite : 12 mai 2025 à minuit",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T21:59:59Z", P, "")],
    ),
    (
        "Deadline: 12 May 2025 at 24:00",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T21:59:59Z", P, "")],
    ),
    (
        "Deadline: 12 May 2025, 5 p.m.",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T15:00:00Z", P, "")],
    ),
    (
        "Deadline: 12 May 2025 at 12:00 noon",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T10:00:00Z", P, "")],
    ),
    (
        "Deadline: 12 May 2025 at noon",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T10:00:00Z", P, "")],
    ),
    (
        "Deadline: 12 May 2025 at 12:00 h",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T10:00:00Z", P, "")],
    ),
    // --- Zones.
    (
        "Deadline: 12 May 2025 at 23:59 (Europe/Brussels)",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T21:59:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "12 Apr 2026 - 23:59 (Europe/Brussels)",
        P,
        "2026-01-01",
        &[(
            "deadline",
            "datetime",
            "2026-04-12T21:59:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 17:00 GMT+1",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T16:00:00Z",
            "Etc/GMT-1",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 17:00 UTC+2",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T15:00:00Z",
            "Etc/GMT-2",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 17:00 UTC-5",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T22:00:00Z",
            "Etc/GMT+5",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 17:00 UTC",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-05-12T17:00:00Z", "UTC", "")],
    ),
    (
        "Deadline: 12 May 2025, 17:00 JST",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T08:00:00Z",
            "Asia/Tokyo",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 at 17:00 Brussels local time",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T15:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 at 17:00 (your local time)",
        "Asia/Tokyo",
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T08:00:00Z",
            "Asia/Tokyo",
            "",
        )],
    ),
    (
        "Deadline: 12 May 2025 at 17:00",
        "America/New_York",
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-05-12T21:00:00Z",
            "America/New_York",
            "",
        )],
    ),
    // CEST written in winter: the earlier reading (literal +02:00).
    (
        "Deadline: 12 January 2025 at 17:00 CEST",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-01-12T15:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Deadline: 12 January 2025 at 17:00 CET",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-01-12T16:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "2026-04-12T21:59:00+00:00",
        P,
        "2026-01-01",
        &[("deadline", "datetime", "2026-04-12T21:59:00Z", "UTC", "")],
    ),
    (
        "Deadline: 2026-04-12T17:00:00+02:00",
        P,
        "2026-01-01",
        &[(
            "deadline",
            "datetime",
            "2026-04-12T15:00:00Z",
            "Etc/GMT-2",
            "",
        )],
    ),
    // --- Day and month forms, any case.
    (
        "Le 1er avril 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-04-01", P, "")],
    ),
    (
        "Deadline: March 16 th, 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-03-16", P, "")],
    ),
    (
        "Deadline: 23rd May 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-05-23", P, "")],
    ),
    (
        "Deadline: 20th of February 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-02-20", P, "")],
    ),
    (
        "Clôture : 3 févr. 2026",
        P,
        "2025-10-01",
        &[("deadline", "date", "2026-02-03", P, "")],
    ),
    (
        "Deadline: 5 Sept 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-09-05", P, "")],
    ),
    (
        "Deadline: Apr 3, 2026",
        P,
        "2025-10-01",
        &[("deadline", "date", "2026-04-03", P, "")],
    ),
    (
        "DATE LIMITE : 7 DÉCEMBRE 2025",
        P,
        "2025-10-01",
        &[("deadline", "date", "2025-12-07", P, "")],
    ),
    (
        "deadline: 5 SEPTEMBER 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-09-05", P, "")],
    ),
    (
        "Thursday, 5 June 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-06-05", P, "")],
    ),
    (
        "Deadline: 18-09-2024",
        P,
        "2024-06-01",
        &[("deadline", "date", "2024-09-18", P, "")],
    ),
    // --- Month precision.
    (
        "Clôture mi-février 2026",
        P,
        "2025-10-01",
        &[("deadline", "month", "2026-02", P, "")],
    ),
    (
        "Clôture mi-février",
        P,
        "2025-11-01",
        &[("deadline", "month", "2026-02", P, "")],
    ),
    (
        "Clôture prévue début avril",
        P,
        "2025-11-01",
        &[("deadline", "month", "2026-04", P, "")],
    ),
    (
        "Deadline: end of April 2021",
        P,
        "2020-11-01",
        &[("deadline", "month", "2021-04", P, "")],
    ),
    (
        "Deadline: April 2021",
        P,
        "2020-11-01",
        &[("deadline", "month", "2021-04", P, "")],
    ),
    // --- Missing year: nearest to now within [now-6 months, now+18 months).
    (
        "Deadline: 10 January",
        P,
        "2025-11-15",
        &[("deadline", "date", "2026-01-10", P, "")],
    ),
    (
        "Deadline: 10 December",
        P,
        "2025-11-15",
        &[("deadline", "date", "2025-12-10", P, "")],
    ),
    (
        "Deadline: 1 June",
        P,
        "2025-11-15",
        &[("deadline", "date", "2025-06-01", P, "")],
    ),
    (
        "Deadline: 1 July",
        P,
        "2025-11-15",
        &[("deadline", "date", "2025-07-01", P, "")],
    ),
    (
        "Deadline: 1 April",
        P,
        "2025-11-15",
        &[("deadline", "date", "2026-04-01", P, "")],
    ),
    // --- Ranges.
    (
        "du 1er au 15 mars 2026",
        P,
        "2025-11-01",
        &[
            ("opening", "date", "2026-03-01", P, ""),
            ("deadline", "date", "2026-03-15", P, ""),
        ],
    ),
    (
        "Applications open from 3 March to 28 April 2026",
        P,
        "2025-11-01",
        &[
            ("opening", "date", "2026-03-03", P, ""),
            ("deadline", "date", "2026-04-28", P, ""),
        ],
    ),
    (
        "Candidatures du 1er décembre 2025 au 15 janvier 2026",
        P,
        "2025-11-01",
        &[
            ("opening", "date", "2025-12-01", P, ""),
            ("deadline", "date", "2026-01-15", P, ""),
        ],
    ),
    (
        "Call window: 25 November - 15 January 2026",
        P,
        "2025-11-01",
        &[
            ("opening", "date", "2025-11-25", P, ""),
            ("deadline", "date", "2026-01-15", P, ""),
        ],
    ),
    (
        "Dépôt des dossiers jusqu'au 30 juin 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-06-30", P, "")],
    ),
    // --- Several cut-offs.
    (
        "Cut-off dates: 2 February 2026, 26 April 2026 and 4 October 2026",
        P,
        "2025-11-01",
        &[
            ("deadline", "date", "2026-02-02", P, ""),
            ("deadline", "date", "2026-04-26", P, ""),
            ("deadline", "date", "2026-10-04", P, ""),
        ],
    ),
    (
        "Cut-off dates: 2 February, 26 April and 4 October 2026",
        P,
        "2025-11-01",
        &[
            ("deadline", "date", "2026-02-02", P, ""),
            ("deadline", "date", "2026-04-26", P, ""),
            ("deadline", "date", "2026-10-04", P, ""),
        ],
    ),
    (
        "Dates limites : 15 mars et 15 septembre 2026",
        P,
        "2025-11-01",
        &[
            ("deadline", "date", "2026-03-15", P, ""),
            ("deadline", "date", "2026-09-15", P, ""),
        ],
    ),
    // --- Roles: publication, opening and events are never deadlines.
    (
        "Published on 3 March 2025. Deadline: 5 May 2025.",
        P,
        "2025-03-10",
        &[
            ("publication", "date", "2025-03-03", P, ""),
            ("deadline", "date", "2025-05-05", P, ""),
        ],
    ),
    (
        "Posted: 2 May 2025",
        P,
        "2025-03-10",
        &[("publication", "date", "2025-05-02", P, "")],
    ),
    (
        "Date de publication : 2 mai 2025",
        P,
        "2025-03-10",
        &[("publication", "date", "2025-05-02", P, "")],
    ),
    (
        "Info day: 12 March 2025",
        P,
        "2025-03-01",
        &[("other", "date", "2025-03-12", P, "")],
    ),
    (
        "Webinaire le 12 mars 2025 à 14h00",
        P,
        "2025-03-01",
        &[("other", "datetime", "2025-03-12T13:00:00Z", P, "")],
    ),
    (
        "Results will be announced on 1 July 2025",
        P,
        "2025-03-01",
        &[("other", "date", "2025-07-01", P, "")],
    ),
    (
        "Réunion d'information le 5 avril 2025",
        P,
        "2025-03-01",
        &[("other", "date", "2025-04-05", P, "")],
    ),
    (
        "Webinar: 3 March 2026 – 4 March 2026",
        P,
        "2026-01-01",
        &[
            ("other", "date", "2026-03-03", P, ""),
            ("other", "date", "2026-03-04", P, ""),
        ],
    ),
    (
        "Call opens on 3 March 2025 and closes on 5 May 2025",
        P,
        "2025-01-01",
        &[
            ("opening", "date", "2025-03-03", P, ""),
            ("deadline", "date", "2025-05-05", P, ""),
        ],
    ),
    (
        "Ouverture de l'appel : 3 mars 2025\nDate limite : 5 mai 2025",
        P,
        "2025-01-01",
        &[
            ("opening", "date", "2025-03-03", P, ""),
            ("deadline", "date", "2025-05-05", P, ""),
        ],
    ),
    (
        "Deadline\nUKRI must receive your application by 10 January 2024 4.00pm UK time.\nWebinar for potential applicants: 5 December 2023 2:00pm UK time",
        P,
        "2023-11-01",
        &[
            (
                "deadline",
                "datetime",
                "2024-01-10T16:00:00Z",
                "Europe/London",
                "",
            ),
            (
                "other",
                "datetime",
                "2023-12-05T14:00:00Z",
                "Europe/London",
                "",
            ),
        ],
    ),
    // --- Labels.
    (
        "Pre-proposal deadline : 2016-10-27 at 13:00 CEST",
        P,
        "2016-09-01",
        &[(
            "deadline",
            "datetime",
            "2016-10-27T11:00:00Z",
            "Europe/Brussels",
            "pre-proposal",
        )],
    ),
    (
        "Stage 2 deadline: 17 September 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-09-17", P, "stage 2")],
    ),
    // --- Traps.
    (
        "General call 2023 – Round 2 deadlines for KA1 and KA2\nRound 2 deadlines are open for the following KA1 types of projects until 4 October 2021 (12h CET):",
        P,
        "2021-07-01",
        &[(
            "deadline",
            "datetime",
            "2021-10-04T10:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "Full Proposal Deadline(s) (due by 5 p.m. submitter's local time): July 18, Annually Thereafter",
        "America/New_York",
        "2026-03-01",
        &[(
            "deadline",
            "datetime",
            "2026-07-18T21:00:00Z",
            "America/New_York",
            "full proposal",
        )],
    ),
    ("Up to 3 may be funded in 2025.", P, "2025-01-01", &[]),
    (
        "Budget: 12.50 EUR per day, deadline 5 May 2025",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-05-05", P, "")],
    ),
    ("Le mois d'avril est chargé.", P, "2025-01-01", &[]),
    (
        "Envoi le 15 mai 2015, cachet de la poste faisant foi.",
        P,
        "2015-01-01",
        &[("deadline", "date", "2015-05-15", P, "")],
    ),
    // --- Layout: labels and keywords on neighbouring lines.
    (
        "Opening : 2016-09-05 at 16:16 CEST\nPre-proposal deadline : 2016-10-27 at 13:00 CEST",
        P,
        "2016-09-01",
        &[
            (
                "opening",
                "datetime",
                "2016-09-05T14:16:00Z",
                "Europe/Brussels",
                "",
            ),
            (
                "deadline",
                "datetime",
                "2016-10-27T11:00:00Z",
                "Europe/Brussels",
                "pre-proposal",
            ),
        ],
    ),
    (
        "ÉTAPE 1\nCLOTURE DU DÉPÔT DES PRÉ-PROPOSITIONS\nLe jeudi 28 octobre 2021 à 17h00 (heure de Paris)",
        P,
        "2021-07-20",
        &[(
            "deadline",
            "datetime",
            "2021-10-28T15:00:00Z",
            P,
            "pre-proposal",
        )],
    ),
    (
        "3 March 2025\nWebinar: 5 March 2025",
        P,
        "2025-01-01",
        &[
            ("deadline", "date", "2025-03-03", P, ""),
            ("other", "date", "2025-03-05", P, ""),
        ],
    ),
    (
        "DATE DE PUBLICATION 20 JUILLET 2021 – Version 1.0 Version actualisée 1.1 au 25 septembre 2021",
        P,
        "2021-07-20",
        &[
            ("publication", "date", "2021-07-20", P, ""),
            ("publication", "date", "2021-09-25", P, ""),
        ],
    ),
    (
        "Les date et heure limites de dépôt seront précisées lors de l’invitation à déposer une proposition détaillée (mi-février 2022).",
        P,
        "2021-07-20",
        &[("other", "month", "2022-02", P, "full proposal")],
    ),
    (
        "Les dossiers doivent être déposés le 5 mai 2025 au plus tard.",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-05-05", P, "")],
    ),
    (
        "Deadline: March 3, 2025 at 5:00 PM ET",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-03-03T22:00:00Z",
            "America/New_York",
            "",
        )],
    ),
    // --- More shapes seen on call pages.
    (
        "Appel publié le 3 mars 2025, clôture le 5 mai 2025 à 12h.",
        P,
        "2025-01-01",
        &[
            ("publication", "date", "2025-03-03", P, ""),
            ("deadline", "datetime", "2025-05-05T10:00:00Z", P, ""),
        ],
    ),
    (
        "Open: 01/02/2025 - Close: 30/04/2025",
        P,
        "2025-01-01",
        &[
            ("opening", "date", "2025-02-01", P, ""),
            ("deadline", "date", "2025-04-30", P, ""),
        ],
    ),
    (
        "Deadline: 2025/03/15",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-03-15", P, "")],
    ),
    (
        "Deadline 15/03/25",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-03-15", P, "")],
    ),
    ("Version 1.2.25 published", P, "2025-01-01", &[]),
    // A time stated before the date, on the same line.
    (
        "Closing date: 12 noon on 5 March 2025",
        P,
        "2025-01-01",
        &[("deadline", "datetime", "2025-03-05T11:00:00Z", P, "")],
    ),
    (
        "Submission deadline: 17:00 (Brussels time) on 5 March 2025",
        P,
        "2025-01-01",
        &[(
            "deadline",
            "datetime",
            "2025-03-05T16:00:00Z",
            "Europe/Brussels",
            "",
        )],
    ),
    (
        "ouverture le 1er septembre, clôture le 15 novembre",
        P,
        "2025-06-01",
        &[
            ("opening", "date", "2025-09-01", P, ""),
            ("deadline", "date", "2025-11-15", P, ""),
        ],
    ),
    (
        "Date limite : 15/03/2025 à 12h (heure de Paris) ; résultats : juin 2025",
        P,
        "2025-01-01",
        &[
            ("deadline", "datetime", "2025-03-15T11:00:00Z", P, ""),
            ("other", "month", "2025-06", P, ""),
        ],
    ),
    // --- Markup: the datetime attribute wins; other lines are read as text.
    (
        "<dl><dt>Application Deadline</dt><dd><time datetime=\"2026-04-12T21:59:00+00:00\">12 Apr 2026 - 23:59 (Europe/Brussels)</time></dd><dt>Posted on</dt><dd>2 March 2026</dd></dl>",
        P,
        "2026-03-05",
        &[
            (
                "deadline",
                "datetime",
                "2026-04-12T21:59:00Z",
                "Europe/Brussels",
                "",
            ),
            ("publication", "date", "2026-03-02", P, ""),
        ],
    ),
    (
        "<script>var d = '1 March 2025';</script><STYLE>p{}</STYLE><p>Deadline: 5 May 2025</p>",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-05-05", P, "")],
    ),
    ("Deadline: 31 April 2025", P, "2025-01-01", &[]),
    (
        "Dates limites : le 2 et le 16 mai 2025",
        P,
        "2025-01-01",
        &[
            ("deadline", "date", "2025-05-02", P, ""),
            ("deadline", "date", "2025-05-16", P, ""),
        ],
    ),
    (
        "Cut-offs: 2, 16 and 30 May 2025 at 17:00",
        P,
        "2025-01-01",
        &[
            ("deadline", "date", "2025-05-02", P, ""),
            ("deadline", "date", "2025-05-16", P, ""),
            ("deadline", "datetime", "2025-05-30T15:00:00Z", P, ""),
        ],
    ),
    (
        "Proposals can be submitted between 1 March 2025 and 30 April 2025.",
        P,
        "2025-01-01",
        &[
            ("opening", "date", "2025-03-01", P, ""),
            ("deadline", "date", "2025-04-30", P, ""),
        ],
    ),
    (
        "The project must start between 1 January 2026 and 1 March 2026.",
        P,
        "2025-06-01",
        &[
            ("other", "date", "2026-01-01", P, ""),
            ("other", "date", "2026-03-01", P, ""),
        ],
    ),
    ("Sections 1 and 2 apply.", P, "2025-01-01", &[]),
    (
        "<p>Deadline:&nbsp;5&nbsp;May&nbsp;2025</p>",
        P,
        "2025-01-01",
        &[("deadline", "date", "2025-05-05", P, "")],
    ),
];

#[test]
fn every_rule_case_gives_the_expected_dates() {
    for (phrase, zone, now, expected) in RULES {
        check(phrase, &ctx(Language::En, zone, now), expected);
    }
}

#[test]
fn text_keeps_the_original_words() {
    let c = ctx(FR, P, "2016-07-01");
    let f = extract("Le jeudi 27 octobre 2016 à 13h00 (heure de Paris)", &c);
    assert_eq!(
        f[0].point.text,
        "jeudi 27 octobre 2016 à 13h00 (heure de Paris)"
    );
    let f = extract("La clôture est prévue fin mars 2022.", &c);
    assert_eq!(f[0].point.text, "fin mars 2022");
    let f = extract(
        "<time datetime=\"2026-04-12T21:59:00+00:00\">12 Apr 2026 - 23:59 (Europe/Brussels)</time>",
        &c,
    );
    assert_eq!(f[0].point.text, "12 Apr 2026 - 23:59 (Europe/Brussels)");
}

#[test]
fn empty_and_dateless_text_give_nothing() {
    let c = ctx(EN, P, "2025-01-01");
    for t in [
        "",
        "   ",
        "<p></p>",
        "a < b and c > d",
        "12345678",
        "Horizon 2020",
        "KA201",
    ] {
        assert!(extract(t, &c).is_empty(), "{t:?}");
    }
}

#[test]
fn throughput_is_linear_on_large_text() {
    // Realistic prose with a date every hundred bytes, at two sizes. A
    // quadratic scan would take 64x the time on the 8x text; the bound is
    // 40x, and the best of five runs damps noise from tests running
    // alongside. Absolute speed is a release-build matter (measured 20+ MB/s
    // on this dense text and 60 MB/s on dateless prose).
    let chunk = "Le programme soutient la mobilité des chercheurs entre la France et ses partenaires. \
        Les dossiers sont évalués par un comité mixte. Date limite de dépôt : 14 juin 2021 à 17h00 (heure de Paris). \
        The call supports joint research projects; eligible costs include travel and subsistence. \
        Webinar: 3 March 2026. Budget 12.50 EUR. Application period: October 15, 2014 – January 18, 2015.\n";
    let c = ctx(FR, P, "2025-01-01");
    let best = |text: &str| {
        (0..5)
            .map(|_| {
                let t0 = std::time::Instant::now();
                let found = extract(text, &c);
                assert_eq!(found.len(), 4 * (text.len() / chunk.len()));
                t0.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let small = chunk.repeat(200);
    let large = chunk.repeat(1600);
    let (t1, t8) = (best(&small), best(&large));
    eprintln!(
        "throughput: {:.1} MB/s; 8x text took {:.1}x the time",
        large.len() as f64 / 1e6 / t8,
        t8 / t1
    );
    assert!(t8 < 40.0 * t1, "not linear: 8x text took {:.1}x", t8 / t1);
}

#[test]
fn real_page_texts_give_the_expected_dates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real/page_text");
    if !dir.exists() {
        test_support::skipped(format_args!("{} absent", dir.display()));
        return;
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, &str, &str, &[Exp])] = &[
        (
            "anr_aapg_2022_call_text_header_fr.txt",
            P,
            "2021-07-20",
            &[
                ("publication", "date", "2021-07-20", P, ""),
                ("publication", "date", "2021-09-25", P, ""),
                (
                    "deadline",
                    "datetime",
                    "2021-10-28T15:00:00Z",
                    P,
                    "pre-proposal",
                ),
                ("deadline", "month", "2022-03", P, "full proposal"),
                ("other", "month", "2022-02", P, "full proposal"),
            ],
        ),
        (
            "anr_call_details_en_generic_call_2017.txt",
            P,
            "2016-09-10",
            &[
                (
                    "opening",
                    "datetime",
                    "2016-09-05T14:16:00Z",
                    "Europe/Brussels",
                    "",
                ),
                (
                    "deadline",
                    "datetime",
                    "2016-10-27T11:00:00Z",
                    "Europe/Brussels",
                    "pre-proposal",
                ),
                (
                    "deadline",
                    "datetime",
                    "2017-04-04T11:00:00Z",
                    "Europe/Brussels",
                    "",
                ),
            ],
        ),
        ("campusfrance_phc_candidater_page.txt", P, "2024-01-01", &[]),
        (
            "campusfrance_phc_utique_call_page.txt",
            P,
            "2023-01-01",
            &[("deadline", "date", "2023-04-18", P, "")],
        ),
        (
            "ukri_opportunity_ukerc_deadline_section.txt",
            "Europe/London",
            "2023-11-01",
            &[(
                "deadline",
                "datetime",
                "2024-01-10T16:00:00Z",
                "Europe/London",
                "",
            )],
        ),
        (
            "region_aura_aide_enseignement_superieur_page.txt",
            P,
            "2025-11-01",
            &[
                ("deadline", "date", "2026-01-31", P, ""),
                ("other", "date", "2024-10-11", P, ""),
            ],
        ),
    ];
    for (name, zone, now, expected) in cases {
        check(&read(name), &ctx(Language::Fr, zone, now), expected);
    }
}

#[test]
fn an_empty_time_element_still_gives_its_instant() {
    let c = ctx(EN, P, "2025-01-01");
    let f = extract(
        "<time datetime=\"2025-01-01T10:00:00+02:00\"> </time> févr mi",
        &c,
    );
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        f[0].point.at.unwrap().to_rfc3339(),
        "2025-01-01T08:00:00+00:00"
    );
    assert_eq!(f[0].point.zone, "Etc/GMT-2");
}

/// Pieces of the grammar the random tests mix: odd mixtures of digits,
/// separators, multibyte letters and markup.
const FRAGMENT_PARTS: &[&str] = &[
    "1",
    "12",
    "2025",
    "31",
    "0",
    "99",
    "-",
    "–",
    "/",
    ".",
    ":",
    ",",
    "(",
    ")",
    "'",
    "’",
    " ",
    "\n",
    "é",
    "É",
    "<",
    ">",
    "<time datetime=\"2025-01-01T10:00:00+02:00\">",
    "</time>",
    "<p>",
    "<script>",
    "&nbsp;",
    "&",
    "T",
    "Z",
    "+",
    "h",
    "heures",
    "midi",
    "minuit",
    "noon",
    "pm",
    "p",
    "m",
    "mars",
    "May",
    "may",
    "févr",
    "sept",
    "fin",
    "mi",
    "début",
    "end",
    "of",
    "au",
    "to",
    "jusqu",
    "le",
    "jeudi",
    "CET",
    "GMT",
    "UTC",
    "ET",
    "heure",
    "de",
    "Paris",
    "time",
    "local",
    "Europe",
    "Madrid",
    "annually",
    "deadline",
    "publié",
    "webinar",
    "opens",
    "step",
    "I",
    "th",
    "er",
    "🙂",
    "\u{a0}",
];

/// One to `max_parts` random [`FRAGMENT_PARTS`], a space after about a
/// third of them.
fn fragment(rng: &mut XorShift, max_parts: u64) -> String {
    let n = rng.next() % max_parts + 1;
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(FRAGMENT_PARTS));
        if rng.next().is_multiple_of(3) {
            s.push(' ');
        }
    }
    s
}

#[test]
fn random_fragments_never_panic_and_keep_the_invariants() {
    // Deterministic xorshift over pieces of the grammar: odd mixtures of
    // digits, separators, multibyte letters and markup.
    let c = ctx(EN, P, "2025-06-01");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let s = fragment(&mut rng, 20);
        for f in extract(&s, &c) {
            assert_eq!(
                f.point.at.is_some(),
                f.point.precision == Precision::Datetime,
                "{s:?}"
            );
            assert!(f.point.zone.parse::<Tz>().is_ok(), "{s:?}");
        }
    }
}

/// `is_starter` and the qualifier and month sets (packed lookups) answer as
/// the lowercase-then-compare tests they replaced, on the vocabulary in
/// every case and on every word of the fixtures (real samples too when
/// present), each word alone and in place.
#[test]
fn starter_lookup_matches_the_vocabulary_test() {
    let old = |raw: &str| Lower::of(raw).is_some_and(|w| starts_something(w.as_str()));
    let mut words: Vec<String> = Vec::new();
    let vocab = MONTHS
        .iter()
        .map(|(n, _)| *n)
        .chain(WEEKDAYS.iter().copied())
        .chain(OTHER_STARTERS.iter().copied());
    for w in vocab {
        let mut title = w.to_owned();
        if let Some(c) = title.get_mut(..1) {
            c.make_ascii_uppercase();
        }
        words.extend([
            w.to_owned(),
            w.to_uppercase(),
            title,
            format!("{w}s"),
            w[1..].to_owned(),
        ]);
    }
    let is_qualifier = |raw: &str| Lower::of(raw).is_some_and(|w| QUALIFIERS.contains(&w.as_str()));
    let is_month = |raw: &str| Lower::of(raw).is_some_and(|w| month_of(w.as_str()).is_some());
    let mut hits = [0; 3];
    let mut check = |text: &str, start: usize, end: usize| {
        let w = &text[start..end];
        assert_eq!(is_starter_at(text, start, end), old(w), "{w:?}");
        assert_eq!(
            QUALIFIER_SET.contains_at(text, start, end),
            is_qualifier(w),
            "{w:?}"
        );
        assert_eq!(
            MONTH_SET.contains_at(text, start, end),
            is_month(w),
            "{w:?}"
        );
        hits[0] += usize::from(old(w));
        hits[1] += usize::from(is_qualifier(w));
        hits[2] += usize::from(is_month(w));
    };
    for w in &words {
        check(w, 0, w.len());
        // In place too, as the scanner asks (packed from the text around).
        let text = format!("x {w} y z long enough to read sixteen bytes around");
        check(&text, 2, 2 + w.len());
    }
    let mut in_fixtures = 0;
    for text in fixture_texts() {
        for t in tokenize(&text).0.iter().filter(|t| t.kind == Kind::Word) {
            check(&text, t.start(), t.end());
            in_fixtures += 1;
        }
    }
    assert!(in_fixtures > 10_000, "fixtures not found");
    assert!(
        hits.iter().all(|&n| n > 200),
        "too few of each seen: {hits:?}"
    );
}

/// The tokenizer as it was before the byte-class table: the reference the
/// table-driven one must match token for token.
fn tokenize_reference(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut toks = Vec::with_capacity(text.len() / 5);
    let mut nl = false;
    let mut i = 0;
    // Byte loop with ASCII fast paths; non-ASCII characters are decoded only
    // to ask whether they are letters or spaces.
    let char_at = |i: usize| text[i..].chars().next().unwrap_or(' ');
    let is_letter_at = |i: usize| -> Option<usize> {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            Some(1)
        } else if c >= 0x80 {
            let ch = char_at(i);
            ch.is_alphabetic().then(|| ch.len_utf8())
        } else {
            None
        }
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            nl |= c == b'\n';
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            let mut num: u32 = 0;
            while i < b.len() && b[i].is_ascii_digit() {
                num = num
                    .saturating_mul(10)
                    .saturating_add(u32::from(b[i] - b'0'));
                i += 1;
            }
            toks.push(Tok::new(Kind::Num, start, i, num, nl));
        } else if let Some(w) = is_letter_at(i) {
            let start = i;
            i += w;
            while i < b.len() {
                match is_letter_at(i) {
                    Some(w) => i += w,
                    None => break,
                }
            }
            toks.push(Tok::new(Kind::Word, start, i, 0, nl));
        } else {
            let ch = if c < 0x80 { char::from(c) } else { char_at(i) };
            if ch.is_whitespace() {
                i += ch.len_utf8();
                continue;
            }
            let end = i + ch.len_utf8();
            toks.push(Tok::new(Kind::Punct(ch), i, end, 0, nl));
            i = end;
        }
        nl = false;
    }
    toks
}

/// The table-driven tokenizer gives the tokens of the reference one on
/// every fixture (real samples too when present) and on odd characters.
#[test]
fn tokenizer_matches_the_reference() {
    let mut texts: Vec<String> = vec![
        "×÷ ÀÖØöøÿ ª µ º ° ’‘ “” «\u{a0}» \u{b}\u{c}\u{1c}\u{85}x\u{2028}y 17h00 1er 18T19 4.00pm"
            .into(),
        "İstanbul Kelvin\u{212a} straße ΣΑΣ ǅ 日本 2024年 Ⅻ ①".into(),
        String::new(),
    ];
    texts.extend(fixture_texts());
    assert!(texts.len() > 20, "fixtures not found");
    for text in &texts {
        assert_eq!(tokenize(text).0, tokenize_reference(text));
        candidates_hold_every_start(text);
    }
}

/// Every token a reading can start at is among the tokenizer's candidates
/// (numbers, and words `is_starter` accepts), and the branch-free first test
/// of a word answers as the plain one.
fn candidates_hold_every_start(text: &str) {
    let (toks, cands) = tokenize(text);
    for (i, t) in toks.iter().enumerate() {
        let raw = &text[t.start()..t.end()];
        let start = match t.kind {
            Kind::Num => true,
            Kind::Word => raw.len() <= STARTER_MAX_BYTES && is_starter(raw),
            Kind::Punct(_) => false,
        };
        if start {
            assert!(cands.contains(&(i as u32)), "{raw:?} in {text:?}");
        }
        if t.kind == Kind::Word && raw.is_ascii() {
            let b = raw.as_bytes();
            for set in [&*STARTERS, &*AFTER_NUMBER] {
                assert_eq!(
                    set.may_have_ascii_at(b[0], b[b.len() - 1], b.len()),
                    set.may_have_ascii(b),
                    "{raw:?}"
                );
            }
        }
    }
}

/// `letter_at`'s shortcuts agree with `char::is_alphabetic` on every
/// character they cover (and on their neighbours).
#[test]
fn letter_shortcuts_match_unicode() {
    for cp in (0x20..0x300).chain(0x1FF0..0x2100) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let s = format!("{c}x");
        let want = c.is_alphabetic().then(|| c.len_utf8());
        if c.is_ascii() && !c.is_ascii_alphabetic() && c != '_' {
            assert_eq!(letter_at(&s, 0), None, "U+{cp:04X}");
        } else if !c.is_ascii() {
            assert_eq!(letter_at(&s, 0), want, "U+{cp:04X}");
        }
    }
}

/// The word sets hold their ASCII words in packed form only, which needs
/// them to be letters a–z; and they answer as the plain lists would.
#[test]
fn word_sets_answer_as_their_lists() {
    let after: Vec<&str> = MONTHS
        .iter()
        .map(|(n, _)| *n)
        .chain(ORDINAL_SUFFIXES.iter().copied())
        .chain(AFTER_NUMBER_WORDS.iter().copied())
        .collect();
    for w in after.iter().chain(WEEKDAYS).chain(OTHER_STARTERS) {
        assert!(
            !w.is_ascii() || w.bytes().all(|c| c.is_ascii_lowercase()),
            "{w}"
        );
    }
    let mut words: Vec<String> = Vec::new();
    for w in &after {
        words.extend([
            w.to_string(),
            w.to_uppercase(),
            format!("{w}x"),
            format!("x{w}"),
        ]);
    }
    words.extend(["İ", "K", "\u{212a}", "ÉME", "Ème", "_", "a_", "AM", "Pm"].map(String::from));
    for text in fixture_texts() {
        for t in tokenize(&text).0.iter().filter(|t| t.kind == Kind::Word) {
            words.push(text[t.start()..t.end()].to_owned());
        }
    }
    for w in &words {
        let want = Lower::of(w).is_some_and(|l| after.contains(&l.as_str()));
        assert_eq!(AFTER_NUMBER.contains(w), want, "{w:?}");
    }
    // The tables stay at most half full, so that probes end soon.
    for set in [&*STARTERS, &*AFTER_NUMBER] {
        let used = set.packed.iter().filter(|k| **k != 0).count();
        assert!(used > 20 && used <= SLOTS / 2, "{used} of {SLOTS} slots");
    }
}

/// Every text file of the fixtures (real samples too when present).
fn fixture_texts() -> Vec<String> {
    test_support::fixture_texts()
        .into_iter()
        .map(|(_, text)| text)
        .collect()
}

/// Skipping inert numbers and visiting only the tokenizer's candidates
/// change nothing the scanner finds: same points, ranges and pending times
/// as a scan of every token without the shortcut, on every fixture, every
/// table phrase and odd number contexts.
#[test]
fn inert_numbers_are_skipped_exactly() {
    let mut texts = fixture_texts();
    texts.extend(REAL.iter().map(|r| r.0.to_owned()));
    texts.extend(RULES.iter().map(|r| r.0.to_owned()));
    texts.extend(
        [
            "n°7 soutient 12 projets, 3 pays; 2026 et 2027 ou 5 or 6 & 7 – 8 — 9 / 10 . 11 : 12",
            "1er mars, 2 et 16 mai 2025, 3rd of May, 4th May 2026, 5 h 30, 6 heures, 7 pm, 8 a.m.",
            "9 am 10pm 11 p.m. 12 noon 1-15 March 2024 du 1er au 15 mars jusqu'au 3 avril 17 Ème",
            "2024-05-06 06/05/2024 6.5.2024 6-5-2024 12:00 12.00 24 hours 3 hrs 4 Uhr 5 AM",
            "1 2 3 4\n5\n6 Mars 7 MARS 8 février 9 FÉVRIER 10 août 11 the 12 le 13 of 14 thru 15",
            "HORIZON-CL4-2026-TWIN-08, 4-2026-05-06, 4 - 2026-05-06, 4-2026/05/06, 12-123-4 31-2026",
            "du 4-2026-5-6 au 7–2026–05–09 ou 3—2025-12-31T10:00:00Z; 5-100 6-1000 7-10000-8",
            "1-15 March. 3-4 mai, 2-3 juin 2026 5–12-2026 6-12-2026 du 7-9 avril",
            "en mars, en 2025, in March 2026, mi-février, mi - mars, fin\nmai, début juin, \
             courant avril 2026, Mid-May, early may 2026, late may, EN JUIN, en lien, in the",
            "Fin mars 2024; Début: 3 avril; mi-2025; in 12 March; en 5 mai; late 2026",
        ]
        .map(String::from),
    );
    for text in &texts {
        let sc = Scan::new(text);
        // The reference visits every token, as the scanner did before it
        // kept a list of candidates.
        let every = Scan {
            text,
            toks: sc.toks.clone(),
            cands: (0..sc.toks.len() as u32).collect(),
        };
        let (fast_items, fast_pending) = scan_points_with(&sc, true);
        let (slow_items, slow_pending) = scan_points_with(&every, false);
        assert_eq!(
            format!("{fast_items:?} {fast_pending:?}"),
            format!("{slow_items:?} {slow_pending:?}"),
            "{}",
            &text[..text.len().min(120)]
        );
    }
}

/// The mask-driven tokenizer and the candidate list change nothing, on long
/// random mixtures of the grammar's pieces (every 64-byte boundary of the
/// masks falls somewhere inside a token).
#[test]
fn random_fragments_tokenize_and_scan_as_the_references() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    for _ in 0..5_000 {
        let s = fragment(&mut rng, 120);
        let sc = Scan::new(&s);
        assert_eq!(sc.toks, tokenize_reference(&s), "{s:?}");
        candidates_hold_every_start(&s);
        let every = Scan {
            text: &s,
            toks: sc.toks.clone(),
            cands: (0..sc.toks.len() as u32).collect(),
        };
        assert_eq!(
            format!("{:?}", scan_points_with(&sc, true)),
            format!("{:?}", scan_points_with(&every, false)),
            "{s:?}"
        );
    }
}

/// `class_at` names the class the role regex's own groups name, for every
/// match in the fixtures, the table phrases and each of their lines (a
/// window starts at a line start, where the `^` branch applies).
#[test]
fn role_classes_match_the_capture_groups() {
    let groups = ROLE_KEYWORDS
        .iter()
        .enumerate()
        .map(|(n, (_, k))| format!("(?P<g{n}>{k})"))
        .collect::<Vec<_>>()
        .join("|");
    let reference = Regex::new(&format!(
        r"(?i)(?:^|[^\p{{L}}\p{{N}}_])(?:{groups})(?:[^\p{{L}}\p{{N}}_]|$)"
    ))
    .unwrap();
    let mut texts = fixture_texts();
    texts.extend(REAL.iter().map(|r| r.0.to_owned()));
    texts.extend(RULES.iter().map(|r| r.0.to_owned()));
    texts.extend(
        [
            "-published 3 May",
            "publication ouverte du 1er au 3 mai",
            "Clôture: 3 mai; ouverte deadline",
            "à partir du 3 mai",
            "info days webinar opens closes",
            "’Deadline’ «clôture» (Opening)",
        ]
        .map(String::from),
    );
    let lines: Vec<String> = texts
        .iter()
        .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    texts.extend(lines);
    let mut seen = [0usize; 4];
    for text in &texts {
        for m in ROLE_RE.find_iter(text) {
            let c = reference.captures_at(text, m.start()).unwrap();
            let n = (0..4).find(|n| c.name(&format!("g{n}")).is_some()).unwrap();
            seen[n] += 1;
            assert_eq!(
                class_at(text, m),
                Some(ROLE_KEYWORDS[n].0),
                "{:?} in {:?}",
                m.as_str(),
                &text
                    [floor_char(text, m.start().saturating_sub(40))..ceil_char(text, m.end() + 40)]
            );
        }
    }
    assert!(
        seen.iter().all(|&n| n > 0),
        "every class was compared: {seen:?}"
    );
}

/// One [`Scratch`] carried from text to text gives each text the dates a
/// fresh one gives: texts of every length in a row (a long one leaves
/// candidates past the next one's end, a short one a small buffer), each
/// read twice.
#[test]
fn a_reused_scratch_reads_as_a_fresh_one() {
    let c = ctx(Language::Fr, "Europe/Paris", "2026-01-15");
    let mut texts = fixture_texts();
    assert!(texts.len() > 20, "fixtures not found");
    let mut rng = XorShift(0x5C2A_7C11);
    texts.extend((0..300).map(|_| {
        let parts = 1 + rng.next() % 200;
        fragment(&mut rng, parts)
    }));
    let mut scratch = Scratch::default();
    for text in texts.iter().chain(texts.iter().rev()) {
        assert_eq!(
            format!("{:?}", extract_with(text, &c, &mut scratch)),
            format!("{:?}", extract(text, &c)),
            "{}",
            &text[..floor_char(text, text.len().min(120))]
        );
    }
}
