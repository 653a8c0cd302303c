//! The tantivy index on disk: indexing, every search feature, upkeep
//! (update, writer lock, generations), and the exports (ICS parsed back by
//! the independent `ical` crate).

use std::io::BufReader;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::{London, Paris};
use fundwatch::export;
use fundwatch::index::{Glossary, Hit, IndexDoc, IndexError, IndexHandle, SearchRequest, Sort};
use fundwatch::model::{Call, DatePoint, Language, Level, Status};
use tempfile::TempDir;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 20, 10, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn call(
    id: &str,
    source: &str,
    language: Language,
    level: Level,
    status: Status,
    funder: &str,
    programme: Option<&str>,
    title: &str,
    summary: &str,
    text: &str,
    deadlines: Vec<DatePoint>,
) -> Call {
    Call {
        id: id.to_owned(),
        source_id: source.to_owned(),
        native_id: None,
        url: format!("https://example.org/calls/{id}"),
        title: title.to_owned(),
        summary: summary.to_owned(),
        text: text.to_owned(),
        funder: funder.to_owned(),
        programme: programme.map(str::to_owned),
        level,
        language,
        opening: None,
        deadlines,
        status,
        budget: None,
        tags: Vec::new(),
        identifiers: Vec::new(),
    }
}

/// Five calls shaped like the real sources (Région AURA, EU portal,
/// Campus France PHC, UKRI, ANR).
fn corpus() -> Vec<Call> {
    let mut aura = call(
        "aura-pack-2026",
        "aura",
        Language::Fr,
        Level::Regional,
        Status::Open,
        "Région Auvergne-Rhône-Alpes",
        Some("Pack Ambition International"),
        "Appel à projets : mobilité internationale des doctorants",
        "La Région soutient la mobilité sortante des doctorants inscrits dans un établissement de la région.",
        "Un événement de lancement est organisé à Lyon. Les dossiers sont déposés sur la plateforme régionale.",
        vec![DatePoint::day(day(2026, 1, 15), Paris, "15 janvier 2026")],
    );
    aura.tags = vec!["international".into()];

    let msca = call(
        "msca-dn-2026",
        "eu-portal",
        Language::En,
        Level::Eu,
        Status::Open,
        "European Commission",
        Some("Horizon Europe"),
        "MSCA Doctoral Networks 2026",
        "Doctoral networks implement doctoral programmes by partnerships of universities and other organisations.",
        "This call for proposals supports the training and mobility of doctoral candidates across sectors.",
        vec![DatePoint::instant(
            Utc.with_ymd_and_hms(2025, 11, 25, 16, 0, 0).unwrap(),
            chrono_tz::Europe::Brussels,
            "25 November 2025 17:00 Brussels time",
        )],
    );

    let phc = call(
        "phc-amadeus-2026",
        "campus-france",
        Language::Fr,
        Level::International,
        Status::Open,
        "Campus France",
        Some("PHC"),
        "Partenariat Hubert Curien Amadeus (Autriche)",
        "Le PHC soutient les échanges de chercheurs entre laboratoires français et autrichiens.",
        "Une subvention de mobilité couvre les séjours ; les jeunes chercheurs sont encouragés.",
        vec![
            DatePoint::day(day(2026, 3, 15), Paris, "15 mars 2026").with_label("pré-proposition"),
            DatePoint::day(day(2026, 6, 30), Paris, "30 juin 2026").with_label("dossier complet"),
        ],
    );

    let ukri = call(
        "ukri-fellowship-2026",
        "ukri",
        Language::En,
        Level::International,
        Status::Forthcoming,
        "UKRI",
        Some("Future Leaders"),
        "Future Leaders Fellowships, round 10",
        "Fellowships for early career researchers and innovators, hosted by a UK university or business.",
        "Applicants need a host organisation. Funding covers salary, research costs, and training.",
        vec![DatePoint::month(2026, 4, London, "End of April 2026").unwrap()],
    );

    let anr = call(
        "anr-aapg-2025",
        "anr",
        Language::Fr,
        Level::National,
        Status::Closed,
        "ANR",
        Some("AAPG"),
        "Appel à projets générique 2025",
        "L'appel à projets générique de l'ANR finance la recherche fondamentale.",
        "Les chercheurs et chercheuses déposent une pré-proposition.",
        vec![DatePoint::day(day(2025, 10, 1), Paris, "1er octobre 2025")],
    );
    vec![aura, msca, phc, ukri, anr]
}

fn doc(call: Call, sources: &[&str]) -> IndexDoc {
    IndexDoc {
        call,
        first_seen: Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap(),
        last_changed: Utc.with_ymd_and_hms(2025, 10, 1, 8, 0, 0).unwrap(),
        sources: sources.iter().map(|s| s.to_string()).collect(),
    }
}

/// A built index in a tempdir (the TempDir must outlive the handle).
fn built() -> (TempDir, IndexHandle) {
    let tmp = TempDir::new().unwrap();
    let handle = IndexHandle::create(&tmp.path().join("index")).unwrap();
    let docs = corpus().into_iter().map(|c| {
        let extra: &[&str] = if c.id == "phc-amadeus-2026" {
            &["euraxess"]
        } else {
            &[]
        };
        doc(c, extra)
    });
    assert_eq!(handle.rebuild(docs, 1).unwrap(), 5);
    (tmp, handle)
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn sorted_ids(hits: &[Hit]) -> Vec<&str> {
    let mut v = ids(hits);
    v.sort_unstable();
    v
}

fn search(h: &IndexHandle, q: &str) -> Vec<Hit> {
    h.search(&SearchRequest::new(q), now())
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn without_glossary(dir: &Path) -> IndexHandle {
    IndexHandle::open(dir)
        .unwrap()
        .with_glossary(Glossary::empty())
}

#[test]
fn indexed_calls_are_found_and_carry_the_stored_call() {
    let (_tmp, h) = built();
    assert_eq!(h.num_docs(), 5);
    // The glossary adds "doctoral" (MSCA); the AURA call is among the hits.
    let hits = search(&h, "doctorants");
    assert_eq!(sorted_ids(&hits), vec!["aura-pack-2026", "msca-dn-2026"]);
    let hit = hits.iter().find(|h| h.id == "aura-pack-2026").unwrap();
    assert_eq!(
        hit.title,
        "Appel à projets : mobilité internationale des doctorants"
    );
    assert_eq!(hit.funder, "Région Auvergne-Rhône-Alpes");
    assert_eq!(hit.level, Level::Regional);
    assert_eq!(hit.status, Status::Open);
    assert_eq!(
        hit.programme.as_deref(),
        Some("Pack Ambition International")
    );
    assert_eq!(hit.url, "https://example.org/calls/aura-pack-2026");
    assert_eq!(hit.next_deadline.as_ref().unwrap().date, day(2026, 1, 15));
    assert_eq!(hit.deadlines.len(), 1);
    assert_eq!(hit.call, corpus()[0]);
    assert!(hit.score > 0.0);

    let phc = &search(&h, "Amadeus")[0];
    assert_eq!(phc.sources, vec!["campus-france", "euraxess"]);
}

#[test]
fn accents_and_case_do_not_matter() {
    let (tmp, _h) = built();
    let h = without_glossary(&tmp.path().join("index"));
    for q in ["evenement", "EVENEMENT", "Événement", "evènement"] {
        assert_eq!(ids(&search(&h, q)), vec!["aura-pack-2026"], "{q}");
    }
    assert_eq!(ids(&search(&h, "AUTRICHE")), vec!["phc-amadeus-2026"]);
}

#[test]
fn french_and_english_inflections_match() {
    let (tmp, _h) = built();
    let h = without_glossary(&tmp.path().join("index"));
    // "mobilités" → "mobilité" (French stems); without the glossary the
    // English "mobility" of the MSCA call must not match.
    let hits = search(&h, "mobilités");
    assert_eq!(
        sorted_ids(&hits),
        vec!["aura-pack-2026", "phc-amadeus-2026"]
    );
    // "university" → "universities" (English stems).
    let hits = search(&h, "university");
    assert_eq!(
        sorted_ids(&hits),
        vec!["msca-dn-2026", "ukri-fellowship-2026"]
    );
    let hits = search(&h, "universities");
    assert_eq!(
        sorted_ids(&hits),
        vec!["msca-dn-2026", "ukri-fellowship-2026"]
    );
    // Plural French word in the query, singular in the text.
    assert_eq!(ids(&search(&h, "subventions")), vec!["phc-amadeus-2026"]);
}

#[test]
fn the_glossary_crosses_languages_both_ways() {
    let (tmp, h) = built();
    // French query finds the English calls.
    let hits = search(&h, "mobilité");
    assert_eq!(
        sorted_ids(&hits),
        vec!["aura-pack-2026", "msca-dn-2026", "phc-amadeus-2026"]
    );
    let hits = search(&h, "bourse");
    assert_eq!(ids(&hits), vec!["ukri-fellowship-2026"]);
    // A multi-word French phrase typed without quotes.
    let hits = search(&h, "appel à projets");
    assert_eq!(
        sorted_ids(&hits),
        vec!["anr-aapg-2025", "aura-pack-2026", "msca-dn-2026"]
    );
    // English query finds the French calls.
    let hits = search(&h, "\"call for proposals\"");
    assert_eq!(
        sorted_ids(&hits),
        vec!["anr-aapg-2025", "aura-pack-2026", "msca-dn-2026"]
    );
    let hits = search(&h, "partnership");
    assert_eq!(sorted_ids(&hits), vec!["msca-dn-2026", "phc-amadeus-2026"]);
    // Without the glossary, the same queries stay in their language.
    let bare = without_glossary(&tmp.path().join("index"));
    assert_eq!(ids(&search(&bare, "bourse")), Vec::<&str>::new());
    assert_eq!(ids(&search(&bare, "partnership")), vec!["msca-dn-2026"]);
}

#[test]
fn an_officers_glossary_file_extends_the_default() {
    let (tmp, _h) = built();
    let file = tmp.path().join("glossary.tsv");
    std::fs::write(&file, "# ours\nAutriche\tAustria\n").unwrap();
    let mut g = Glossary::default();
    g.extend(Glossary::load(&file).unwrap());
    let h = IndexHandle::open(&tmp.path().join("index"))
        .unwrap()
        .with_glossary(g);
    assert_eq!(ids(&search(&h, "austria")), vec!["phc-amadeus-2026"]);
    let missing = Glossary::load(&tmp.path().join("nope.tsv")).unwrap_err();
    assert!(missing.to_string().contains("nope.tsv"), "{missing}");
}

#[test]
fn boolean_operators_phrases_and_fields() {
    let (_tmp, h) = built();
    // (query, expected ids, sorted)
    let cases: &[(&str, &[&str])] = &[
        // plain words are ANDed
        ("doctoral networks", &["msca-dn-2026"]),
        ("doctoral AND training", &["msca-dn-2026"]),
        (
            "Amadeus OR UKRI",
            &["phc-amadeus-2026", "ukri-fellowship-2026"],
        ),
        (
            "chercheurs NOT Amadeus",
            &["anr-aapg-2025", "ukri-fellowship-2026"],
        ),
        (
            "chercheurs -Amadeus",
            &["anr-aapg-2025", "ukri-fellowship-2026"],
        ),
        // The glossary applies under NOT too: "subvention" also excludes
        // "funding" (UKRI) and "financement"/"finance" (ANR).
        ("chercheurs NOT subvention", &[]),
        ("\"doctoral networks\"", &["msca-dn-2026"]),
        ("\"networks doctoral\"", &[]),
        ("title:fellowships", &["ukri-fellowship-2026"]),
        ("title:autriche", &["phc-amadeus-2026"]),
        // The glossary applies inside fields too ("doctoral").
        ("title:doctorants", &["aura-pack-2026", "msca-dn-2026"]),
        ("funder:ukri", &["ukri-fellowship-2026"]),
        ("funder:\"european commission\"", &["msca-dn-2026"]),
        ("programme:\"horizon europe\"", &["msca-dn-2026"]),
        ("level:EU", &["msca-dn-2026"]),
        ("status:closed", &["anr-aapg-2025"]),
        ("source:euraxess", &["phc-amadeus-2026"]),
        ("tags:international", &["aura-pack-2026"]),
        ("language:en level:international", &["ukri-fellowship-2026"]),
        ("(Amadeus OR UKRI) AND status:open", &["phc-amadeus-2026"]),
        // A purely negative query means "everything but".
        ("NOT mobility", &["anr-aapg-2025", "ukri-fellowship-2026"]),
        (
            "level: IN [eu national]",
            &["anr-aapg-2025", "msca-dn-2026"],
        ),
        (
            "deadline:[2026-01-01T00:00:00Z TO *]",
            &["aura-pack-2026", "phc-amadeus-2026", "ukri-fellowship-2026"],
        ),
    ];
    for (q, expected) in cases {
        assert_eq!(sorted_ids(&search(&h, q)), expected.to_vec(), "{q}");
    }
}

#[test]
fn each_filter_narrows_the_results() {
    let (_tmp, h) = built();
    let all = |mut r: SearchRequest| {
        r.query = String::new();
        let hits = h.search(&r, now()).unwrap();
        let mut v: Vec<String> = hits.into_iter().map(|h| h.id).collect();
        v.sort();
        v
    };
    let base = SearchRequest::default();
    assert_eq!(all(base.clone()).len(), 5);
    let cases: Vec<(SearchRequest, &[&str])> = vec![
        (
            SearchRequest {
                levels: vec![Level::Eu, Level::National],
                ..base.clone()
            },
            &["anr-aapg-2025", "msca-dn-2026"],
        ),
        (
            SearchRequest {
                funders: vec!["campus france".into()],
                ..base.clone()
            },
            &["phc-amadeus-2026"],
        ),
        (
            SearchRequest {
                funders: vec!["Region Auvergne-Rhone-Alpes".into()],
                ..base.clone()
            },
            &["aura-pack-2026"],
        ),
        (
            SearchRequest {
                programmes: vec!["Horizon Europe".into()],
                ..base.clone()
            },
            &["msca-dn-2026"],
        ),
        (
            SearchRequest {
                statuses: vec![Status::Forthcoming],
                ..base.clone()
            },
            &["ukri-fellowship-2026"],
        ),
        (
            SearchRequest {
                languages: vec![Language::En],
                ..base.clone()
            },
            &["msca-dn-2026", "ukri-fellowship-2026"],
        ),
        (
            SearchRequest {
                sources: vec!["euraxess".into(), "anr".into()],
                ..base.clone()
            },
            &["anr-aapg-2025", "phc-amadeus-2026"],
        ),
        // Any deadline in the window: the PHC's second stage (30 June) counts.
        (
            SearchRequest {
                deadline_after: Some(day(2026, 4, 1)),
                deadline_before: Some(day(2026, 6, 30)),
                ..base.clone()
            },
            &["phc-amadeus-2026", "ukri-fellowship-2026"],
        ),
        // Both ends included; "End of April" means 30 April.
        (
            SearchRequest {
                deadline_after: Some(day(2026, 4, 30)),
                ..base.clone()
            },
            &["phc-amadeus-2026", "ukri-fellowship-2026"],
        ),
        (
            SearchRequest {
                deadline_before: Some(day(2025, 11, 25)),
                ..base.clone()
            },
            &["anr-aapg-2025", "msca-dn-2026"],
        ),
        (
            SearchRequest {
                closing_within: Some(7),
                ..base.clone()
            },
            &["msca-dn-2026"],
        ),
        (
            SearchRequest {
                closing_within: Some(60),
                ..base.clone()
            },
            &["aura-pack-2026", "msca-dn-2026"],
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(all(req.clone()), expected.to_vec(), "{req:?}");
    }
    // Filters combine with a query.
    let req = SearchRequest {
        query: "chercheurs".into(),
        statuses: vec![Status::Open],
        ..base.clone()
    };
    assert_eq!(
        ids(&h.search(&req, now()).unwrap()),
        vec!["phc-amadeus-2026"]
    );
    // An inverted window is refused with a hint.
    let req = SearchRequest {
        deadline_after: Some(day(2026, 5, 1)),
        deadline_before: Some(day(2026, 1, 1)),
        ..base
    };
    let err = h.search(&req, now()).unwrap_err();
    assert!(matches!(err, IndexError::Filter { .. }), "{err:?}");
    assert!(err.to_string().contains("swap them"), "{err}");
}

#[test]
fn sorting_by_deadline_and_by_relevance() {
    let (_tmp, h) = built();
    // Next deadline first; the closed ANR call (no upcoming deadline) last.
    let req = SearchRequest {
        sort: Sort::Deadline,
        ..SearchRequest::default()
    };
    let order = vec![
        "msca-dn-2026",
        "aura-pack-2026",
        "phc-amadeus-2026",
        "ukri-fellowship-2026",
        "anr-aapg-2025",
    ];
    assert_eq!(ids(&h.search(&req, now()).unwrap()), order);
    // An empty query sorted by relevance falls back to the deadline order.
    assert_eq!(
        ids(&h.search(&SearchRequest::default(), now()).unwrap()),
        order
    );
    // Later `now`: the PHC's next deadline is its second stage (30 June),
    // after the UKRI month (30 April).
    let later = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
    let hits = h.search(&req, later).unwrap();
    assert_eq!(
        ids(&hits)[..2],
        ["ukri-fellowship-2026", "phc-amadeus-2026"]
    );
    assert_eq!(
        hits[1].next_deadline.as_ref().unwrap().label.as_deref(),
        Some("dossier complet")
    );
    // Limit keeps the soonest.
    let req = SearchRequest {
        sort: Sort::Deadline,
        limit: 2,
        ..SearchRequest::default()
    };
    assert_eq!(ids(&h.search(&req, now()).unwrap()), order[..2].to_vec());

    // Relevance: a title match outranks a text-only match.
    let hits = search(&h, "chercheurs");
    assert_eq!(ids(&hits)[0], "phc-amadeus-2026");
    let hits = search(&h, "fellowship");
    assert_eq!(ids(&hits)[0], "ukri-fellowship-2026");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // Same query sorted by deadline: MSCA is not in it; UKRI and PHC order by date.
    let req = SearchRequest {
        query: "mobilité".into(),
        sort: Sort::Deadline,
        ..SearchRequest::default()
    };
    assert_eq!(
        ids(&h.search(&req, now()).unwrap()),
        vec!["msca-dn-2026", "aura-pack-2026", "phc-amadeus-2026"]
    );
}

#[test]
fn snippets_highlight_the_matched_words() {
    let (_tmp, h) = built();
    let hits = search(&h, "evenement");
    let s = &hits[0].snippet;
    assert!(s.to_marked_string().contains("«événement»"), "{s:?}");
    assert_eq!(&s.text[s.highlights[0].clone()], "événement");
    // Glossary equivalents are highlighted too.
    let hits = search(&h, "mobilité");
    let msca = hits.iter().find(|h| h.id == "msca-dn-2026").unwrap();
    assert!(
        msca.snippet.marked("[", "]").contains("[mobility]"),
        "{:?}",
        msca.snippet
    );
    // Title-only match: the summary's start, nothing highlighted.
    let hits = search(&h, "title:Amadeus");
    assert!(hits[0].snippet.highlights.is_empty());
    assert!(
        hits[0].snippet.text.starts_with("Le PHC soutient"),
        "{:?}",
        hits[0].snippet
    );
}

#[test]
fn syntax_errors_point_at_the_problem() {
    let (_tmp, h) = built();
    let err = h
        .search(&SearchRequest::new("mobilité AND (doctorant"), now())
        .unwrap_err();
    match &err {
        IndexError::Query {
            query, position, ..
        } => {
            assert_eq!(query, "mobilité AND (doctorant");
            assert!(position.is_some(), "{err}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
    assert!(err.to_string().contains("invalid query"), "{err}");
    assert!(err.to_string().contains("position"), "{err}");

    let err = h
        .search(&SearchRequest::new("colour:red"), now())
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `colour:`"), "{err}");
    assert!(err.to_string().contains("funder"), "{err}");

    let err = h.search(&SearchRequest::new("title:"), now()).unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::Query {
                position: Some(6),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("expected word"), "{err}");

    let err = h
        .search(&SearchRequest::new("\"call for"), now())
        .unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::Query {
                position: Some(9),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing delimiter"), "{err}");

    // The grammar cannot always say where; the message still says what to check.
    let err = h
        .search(&SearchRequest::new("a OR OR b"), now())
        .unwrap_err();
    assert!(err.to_string().contains("parentheses and quotes"), "{err}");

    // Mid-query problems carry the text near them.
    let err = h
        .search(
            &SearchRequest::new("mobilité (doctorant OR) chercheur"),
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, IndexError::Query { .. }), "{err:?}");
}

#[test]
fn an_update_replaces_the_document() {
    let (_tmp, h) = built();
    let mut changed = corpus()[0].clone();
    changed.title = "Appel à projets : mobilité sortante, édition révisée".into();
    let mut w = h.writer().unwrap();
    w.upsert(&doc(changed.clone(), &[])).unwrap();
    w.upsert(&doc(changed, &[])).unwrap();
    w.commit(2).unwrap();
    assert_eq!(h.num_docs(), 5);
    assert_eq!(ids(&search(&h, "révisée")), vec!["aura-pack-2026"]);
    assert_eq!(ids(&search(&h, "title:internationale")), Vec::<&str>::new());

    let mut w = h.writer().unwrap();
    w.delete("anr-aapg-2025");
    w.commit(3).unwrap();
    assert_eq!(h.num_docs(), 4);

    // Dropping an updater without commit discards its changes.
    let mut w = h.writer().unwrap();
    w.delete("ukri-fellowship-2026");
    drop(w);
    h.reload().unwrap();
    assert_eq!(h.num_docs(), 4);
    assert_eq!(h.indexed_generation().unwrap(), Some(3));
}

#[test]
fn a_second_writer_is_told_who_holds_the_lock() {
    let (tmp, h) = built();
    let dir = tmp.path().join("index");
    let first = h.writer().unwrap();
    let other = IndexHandle::open(&dir).unwrap();
    let err = other.writer().unwrap_err();
    assert!(matches!(err, IndexError::WriterBusy { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("another fundwatch process"), "{msg}");
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    drop(first);
    // Released: the other handle can write now.
    other.writer().unwrap().commit(9).unwrap();
}

#[test]
fn the_generation_round_trips_through_reopen() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("index");
    let h = IndexHandle::create(&dir).unwrap();
    assert_eq!(h.indexed_generation().unwrap(), None);
    let mut w = h.writer().unwrap();
    w.upsert(&doc(corpus()[1].clone(), &[])).unwrap();
    w.commit(41).unwrap();
    assert_eq!(h.indexed_generation().unwrap(), Some(41));
    drop(h);
    let h = IndexHandle::open(&dir).unwrap();
    assert_eq!(h.indexed_generation().unwrap(), Some(41));
    assert_eq!(h.num_docs(), 1);
    h.rebuild(corpus().into_iter().map(|c| doc(c, &[])), -3)
        .unwrap();
    assert_eq!(h.indexed_generation().unwrap(), Some(-3));
    assert_eq!(h.num_docs(), 5);

    // Opening where there is no index says how to build one.
    let err = IndexHandle::open(&tmp.path().join("elsewhere")).unwrap_err();
    assert!(matches!(err, IndexError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("fundwatch reindex"), "{err}");
    // open_or_create makes one.
    let h = IndexHandle::open_or_create(&tmp.path().join("elsewhere")).unwrap();
    assert_eq!(h.num_docs(), 0);
}

#[test]
fn another_process_commits_become_visible_after_reload() {
    let (tmp, h) = built();
    let writer_side = IndexHandle::open(&tmp.path().join("index")).unwrap();
    let mut w = writer_side.writer().unwrap();
    w.delete("msca-dn-2026");
    w.commit(5).unwrap();
    assert_eq!(h.num_docs(), 5, "manual reload policy: not yet visible");
    h.reload().unwrap();
    assert_eq!(h.num_docs(), 4);
}

fn prop<'a>(
    event: &'a ical::parser::ical::component::IcalEvent,
    name: &str,
) -> &'a ical::property::Property {
    event
        .properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn ics_export_parses_back_with_an_independent_parser() {
    let mut calls = corpus();
    // Characters that need escaping, and a title long enough to fold.
    calls[2].title = "Partenariat Hubert Curien Amadeus; Autriche, France \\ appel très long pour vérifier le pliage des lignes".into();
    let ics = export::to_ics(&calls, now());
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    let mut parser = ical::IcalParser::new(BufReader::new(ics.as_bytes()));
    let cal = parser
        .next()
        .expect("one calendar")
        .expect("valid calendar");
    assert!(parser.next().is_none());
    // One event per deadline: 1 + 1 + 2 + 1 + 1.
    assert_eq!(cal.events.len(), 6);
    let uids: Vec<&str> = cal
        .events
        .iter()
        .map(|e| prop(e, "UID").value.as_deref().unwrap())
        .collect();
    assert_eq!(
        uids,
        vec![
            "aura-pack-2026-1@fundwatch",
            "msca-dn-2026-1@fundwatch",
            "phc-amadeus-2026-1@fundwatch",
            "phc-amadeus-2026-2@fundwatch",
            "ukri-fellowship-2026-1@fundwatch",
            "anr-aapg-2025-1@fundwatch",
        ]
    );
    for e in &cal.events {
        assert_eq!(
            prop(e, "DTSTAMP").value.as_deref(),
            Some("20251120T100000Z")
        );
    }
    // A day: all-day, DATE value, DTEND the next day.
    let aura = &cal.events[0];
    let start = prop(aura, "DTSTART");
    assert_eq!(start.value.as_deref(), Some("20260115"));
    assert_eq!(
        start.params.as_ref().unwrap(),
        &vec![("VALUE".to_string(), vec!["DATE".to_string()])]
    );
    assert_eq!(prop(aura, "DTEND").value.as_deref(), Some("20260116"));
    // An instant: UTC DATE-TIME, no DTEND.
    let msca = &cal.events[1];
    assert_eq!(
        prop(msca, "DTSTART").value.as_deref(),
        Some("20251125T160000Z")
    );
    assert!(msca.properties.iter().all(|p| p.name != "DTEND"));
    assert_eq!(
        prop(msca, "URL").value.as_deref(),
        Some("https://example.org/calls/msca-dn-2026")
    );
    // Stage label in the summary, escaping survives folding.
    let phc2 = &cal.events[3];
    let summary = prop(phc2, "SUMMARY").value.as_deref().unwrap();
    assert_eq!(
        summary,
        "Deadline: Partenariat Hubert Curien Amadeus\\; Autriche\\, France \\\\ appel très long pour vérifier le pliage des lignes — dossier complet"
    );
    let description = prop(phc2, "DESCRIPTION").value.as_deref().unwrap();
    assert!(
        description.contains("Funder: Campus France\\nProgramme: PHC\\nStage: dossier complet"),
        "{description}"
    );
    // A month: all-day on its last day.
    let ukri = &cal.events[4];
    assert_eq!(prop(ukri, "DTSTART").value.as_deref(), Some("20260430"));
    assert!(
        prop(ukri, "SUMMARY")
            .value
            .as_deref()
            .unwrap()
            .ends_with("(end of month)")
    );
}

#[test]
fn json_and_csv_exports_of_hits() {
    let (_tmp, h) = built();
    let hits = search(&h, "Amadeus");
    let json: serde_json::Value = serde_json::from_str(&export::to_json(&hits)).unwrap();
    let o = &json[0];
    assert_eq!(o["id"], "phc-amadeus-2026");
    assert_eq!(o["title"], "Partenariat Hubert Curien Amadeus (Autriche)");
    assert_eq!(o["funder"], "Campus France");
    assert_eq!(o["level"], "international");
    assert_eq!(o["status"], "open");
    assert_eq!(o["programme"], "PHC");
    assert!(o["score"].as_f64().unwrap() > 0.0);
    assert_eq!(o["deadlines"].as_array().unwrap().len(), 2);
    assert_eq!(o["deadlines"][0]["date"], "2026-03-15");
    assert_eq!(o["deadlines"][0]["precision"], "date");
    assert_eq!(o["deadlines"][0]["zone"], "Europe/Paris");
    assert_eq!(o["deadlines"][0]["label"], "pré-proposition");
    assert!(o["deadlines"][0]["at"].is_null());
    assert_eq!(o["next_deadline"]["date"], "2026-03-15");

    let msca = Hit::from_call(corpus()[1].clone(), now());
    let v = export::hit_json(&msca);
    assert_eq!(v["deadlines"][0]["at"], "2025-11-25T16:00:00+00:00");
    assert_eq!(v["score"], 0.0);

    let csv = export::to_csv(&hits);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], "phc-amadeus-2026");
    assert_eq!(
        &rows[0][8],
        "2026-03-15 [pré-proposition]; 2026-06-30 [dossier complet]"
    );
}

#[test]
fn glossary_phrases_are_highlighted_whole() {
    let (_tmp, h) = built();
    let hits = search(&h, "appel à projets");
    let msca = hits.iter().find(|h| h.id == "msca-dn-2026").unwrap();
    assert!(
        msca.snippet
            .marked("[", "]")
            .contains("This [call for proposals] supports"),
        "{:?}",
        msca.snippet
    );
}

/// The index marks glossary terms when it stores calls; under another
/// glossary, searches expand terms at query time instead. Both must find
/// the same calls.
#[test]
fn concept_tokens_find_what_query_time_expansion_finds() {
    let (tmp, native) = built();
    assert!(native.glossary_current().unwrap());
    // Any other glossary (here: one more group) disables the concept tokens.
    let mut g = Glossary::default();
    g.extend(Glossary::parse("jumelage\ttwinning\n", "test").unwrap());
    let expanding = IndexHandle::open(&tmp.path().join("index"))
        .unwrap()
        .with_glossary(g);
    assert!(!expanding.glossary_current().unwrap());
    for q in [
        "mobilité",
        "mobilités",
        "doctorants",
        "appel à projets",
        "\"call for proposals\"",
        "chercheurs NOT subvention",
        "bourse OR partnership",
        "title:bourse",
        "summary:researchers",
        "universities AND doctoral",
        "enseignement supérieur",
        "NOT mobility",
    ] {
        assert_eq!(
            sorted_ids(&search(&native, q)),
            sorted_ids(&search(&expanding, q)),
            "{q}"
        );
    }
}

#[test]
fn an_edited_glossary_is_used_at_once_and_the_next_catch_up_rebuilds() {
    let tmp = TempDir::new().unwrap();
    let mut store = fundwatch::store::Store::open(&tmp.path().join("fundwatch.db")).unwrap();
    for call in corpus() {
        let source = call.source_id.clone();
        store.apply_calls(&source, &[call], now()).unwrap();
    }
    let dir = tmp.path().join("index");
    let h = IndexHandle::create(&dir).unwrap();
    let first = fundwatch::sync::catch_up(&store, &h).unwrap();
    assert!(first.rebuilt);
    assert!(h.glossary_current().unwrap());
    // Unchanged: nothing to do.
    assert_eq!(fundwatch::sync::catch_up(&store, &h).unwrap().refreshed, 0);
    drop(h);

    let mut g = Glossary::default();
    g.extend(Glossary::parse("Autriche\tAustria\n", "ours").unwrap());
    let h = IndexHandle::open(&dir).unwrap().with_glossary(g);
    assert!(!h.glossary_current().unwrap());
    // Right away, by query-time expansion.
    assert_eq!(ids(&search(&h, "austria")), vec!["phc-amadeus-2026"]);
    // The catch-up notices the glossary and rebuilds with it.
    let report = fundwatch::sync::catch_up(&store, &h).unwrap();
    assert!(report.rebuilt, "{report:?}");
    assert_eq!(report.refreshed, 5);
    assert!(h.glossary_current().unwrap());
    assert_eq!(ids(&search(&h, "austria")), vec!["phc-amadeus-2026"]);
}

#[test]
fn an_index_of_another_version_is_replaced_by_an_empty_one() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("index");
    std::fs::create_dir_all(&dir).unwrap();
    // The schema of an older fundwatch: text fields per language.
    let mut schema = tantivy::schema::Schema::builder();
    schema.add_text_field("title_fr", tantivy::schema::TEXT);
    schema.add_text_field("title_en", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(&dir, schema.build()).unwrap();
    assert!(matches!(
        IndexHandle::open(&dir),
        Err(IndexError::Incompatible { .. })
    ));
    // Derived data: replaced, and left uncommitted so the next catch-up
    // rebuilds it from the database.
    let h = IndexHandle::open_or_create(&dir).unwrap();
    assert_eq!(h.num_docs(), 0);
    assert_eq!(h.indexed_generation().unwrap(), None);
}
