//! Extraction end to end on fixture files: feeds, HTML listings and detail
//! pages, the EU portal's two-page answer, and a conformance pass over the
//! real samples in `../shared/fixtures/real/` when they are present.
//!
//! Sources are built from `sources.toml` text through the real config
//! loader, so the selectors are the ones an officer would write.
//!
//! Tests whose names end in `_dates_from_text` need the real date extractor
//! (`crate::dates::extract`); they fail while it is a stub.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::skipped;

use chrono::{DateTime, Utc};
use fundwatch::config::{HtmlSpec, Source, SourceKind, Sources};
use fundwatch::extract::eu_portal::{self, PortalRow};
use fundwatch::extract::{ExtractError, ExtractProblem, feed, html};
use fundwatch::model::{Budget, CallDraft, DatePoint, Precision, Status};
use url::Url;

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fixture_str(rel: &str) -> String {
    String::from_utf8(fixture(rel)).expect("fixture is UTF-8")
}

fn real_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real");
    if p.is_dir() {
        Some(p)
    } else {
        skipped("../shared/fixtures/real absent");
        None
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test instant")
}

/// One source from a `[[source]]` block (common keys filled in).
fn source(block: &str) -> Source {
    let text = format!("[[source]]\nschedule = \"0 6 * * *\"\nfunder = \"Funder\"\n{block}");
    let mut s = Sources::parse(&text, Path::new("test-sources.toml")).expect("test source");
    s.list.remove(0)
}

fn html_spec(s: &Source) -> &HtmlSpec {
    match &s.kind {
        SourceKind::Html(spec) => spec,
        other => panic!("not an html source: {other:?}"),
    }
}

/// The parts of a date that do not depend on how the date extractor words
/// its `text`: instant, local date, precision, zone, label.
fn when(d: &DatePoint) -> String {
    let mut s = match d.at {
        Some(a) => format!("{} {}", a.to_rfc3339(), d.zone),
        None => format!("{} {} {}", d.date_string(), d.precision, d.zone),
    };
    if let Some(l) = &d.label {
        s.push_str(&format!(" [{l}]"));
    }
    s
}

fn whens(ds: &[DatePoint]) -> Vec<String> {
    ds.iter().map(when).collect()
}

fn without_dates(mut d: CallDraft) -> CallDraft {
    d.deadlines.clear();
    d.opening = None;
    d
}

// ---------------------------------------------------------------- feeds

fn anr() -> Source {
    source(
        "id = \"anr\"\nkind = \"feed\"\nurl = \"https://anr.fr/fr/rss/\"\nlevel = \"national\"\n\
         language = \"fr\"\ntimezone = \"Europe/Paris\"\n",
    )
}

fn ukri() -> Source {
    source(
        "id = \"ukri\"\nkind = \"feed\"\nurl = \"https://www.ukri.org/opportunity/feed/\"\n\
         level = \"international\"\nlanguage = \"en\"\ntimezone = \"Europe/London\"\n",
    )
}

#[test]
fn rss2_items_become_drafts_and_a_bad_item_is_a_problem() {
    let got = feed::extract(
        &fixture("feeds/rss2.xml"),
        &anr(),
        at("2025-12-01T00:00:00Z"),
    )
    .unwrap();
    let calls: Vec<CallDraft> = got.calls.into_iter().map(without_dates).collect();
    assert_eq!(
        calls,
        vec![
            CallDraft {
                native_id: Some("anr-aapg-2026".into()),
                url: "https://anr.fr/fr/detail/call/appel-a-projets-generique-2026/?utm_source=rss&utm_medium=feed".into(),
                title: "Appel à projets générique 2026".into(),
                summary: "L’appel à projets générique (AAPG) est ouvert à toutes les disciplines.\n\nDate limite de dépôt : 08/03/2026 à 17h00 (heure de Paris)".into(),
                text: "L’appel à projets générique (AAPG) est ouvert à toutes les disciplines.\n\nDate limite de dépôt : 08/03/2026 à 17h00 (heure de Paris)".into(),
                tags: vec!["Appels ouverts".into(), "Toutes disciplines".into()],
                ..CallDraft::default()
            },
            CallDraft {
                native_id: Some("anr-fral-2026".into()),
                url: "https://anr.fr/fr/detail/call/appel-franco-allemand-shs-2026/".into(),
                title: "Appel franco-allemand en sciences humaines et sociales".into(),
                summary: "En lien avec le topic européen HORIZON-CL2-2026-01-TRANSFO-03.\n\nOuverture : 15/01/2026\nClôture le 14 avril 2026 à 13h00 (heure de Paris)".into(),
                text: "En lien avec le topic européen HORIZON-CL2-2026-01-TRANSFO-03.\n\nOuverture : 15/01/2026\nClôture le 14 avril 2026 à 13h00 (heure de Paris)".into(),
                identifiers: vec!["HORIZON-CL2-2026-01-TRANSFO-03".into()],
                ..CallDraft::default()
            },
            CallDraft {
                native_id: Some("anr-news-4711".into()),
                url: "https://anr.fr/fr/actualites/resultats-flash-2025/".into(),
                title: "Résultats de l'appel Flash 2025".into(),
                summary: "La liste des projets financés est en ligne.".into(),
                text: "La liste des projets financés est en ligne.".into(),
                ..CallDraft::default()
            },
        ]
    );
    assert_eq!(
        got.problems,
        vec![ExtractProblem {
            item: "item 4".into(),
            message: "entry has neither a title nor a link; skipped".into()
        }]
    );
}

#[test]
fn rss2_exclude_filter_drops_news_items() {
    let mut src = anr();
    src.exclude = vec!["résultats".into()];
    let got = feed::extract(&fixture("feeds/rss2.xml"), &src, at("2025-12-01T00:00:00Z")).unwrap();
    let titles: Vec<_> = got.calls.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Appel à projets générique 2026",
            "Appel franco-allemand en sciences humaines et sociales"
        ]
    );
}

#[test]
fn rss2_deadlines_come_from_the_description_not_pubdate_dates_from_text() {
    let got = feed::extract(
        &fixture("feeds/rss2.xml"),
        &anr(),
        at("2025-12-01T00:00:00Z"),
    )
    .unwrap();
    let dated: Vec<(Vec<String>, Option<String>)> = got
        .calls
        .iter()
        .map(|c| (whens(&c.deadlines), c.opening.as_ref().map(when)))
        .collect();
    assert_eq!(
        dated,
        vec![
            // 17h00 Paris in March (CET, UTC+1) is 16:00 UTC.
            (
                vec!["2026-03-08T16:00:00+00:00 Europe/Paris".to_owned()],
                None
            ),
            // 13h00 Paris in April (CEST, UTC+2) is 11:00 UTC.
            (
                vec!["2026-04-14T11:00:00+00:00 Europe/Paris".to_owned()],
                Some("2026-01-15 date Europe/Paris".to_owned())
            ),
            (vec![], None),
        ]
    );
}

#[test]
fn atom_entries_become_drafts() {
    let got = feed::extract(
        &fixture("feeds/atom.xml"),
        &ukri(),
        at("2026-09-02T00:00:00Z"),
    )
    .unwrap();
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let calls: Vec<CallDraft> = got.calls.into_iter().map(without_dates).collect();
    assert_eq!(
        calls,
        vec![
            CallDraft {
                native_id: Some("tag:ukri.org,2026:opportunity/uk-energy-research-centre-2027-to-2032".into()),
                url: "https://www.ukri.org/opportunity/uk-energy-research-centre-2027-to-2032/".into(),
                title: "UK Energy Research Centre 2027 to 2032".into(),
                summary: "Apply for funding to host the next phase of the UK Energy Research Centre.\n\nUKRI must receive your application by 10 January 2027 4.00pm UK time.\n\nWebinar: 12 October 2026 at 2.00pm.".into(),
                text: "Apply for funding to host the next phase of the UK Energy Research Centre.\n\nUKRI must receive your application by 10 January 2027 4.00pm UK time.\n\nWebinar: 12 October 2026 at 2.00pm.".into(),
                tags: vec!["Energy".into()],
                ..CallDraft::default()
            },
            CallDraft {
                native_id: Some("tag:ukri.org,2026:opportunity/quantum-ai-networks".into()),
                url: "https://www.ukri.org/opportunity/quantum-ai-networks/".into(),
                title: "Quantum & AI networks".into(),
                summary: "Summary\n\nNetworks bridging quantum technologies and artificial intelligence.\n\nDeadline\n\nClosing date: 5 March 2027 4:00pm UK time".into(),
                text: "Summary\n\nNetworks bridging quantum technologies and artificial intelligence.\n\nDeadline\n\nClosing date: 5 March 2027 4:00pm UK time".into(),
                ..CallDraft::default()
            },
        ]
    );
}

#[test]
fn atom_deadlines_skip_the_webinar_dates_from_text() {
    let got = feed::extract(
        &fixture("feeds/atom.xml"),
        &ukri(),
        at("2026-09-02T00:00:00Z"),
    )
    .unwrap();
    let deadlines: Vec<Vec<String>> = got.calls.iter().map(|c| whens(&c.deadlines)).collect();
    assert_eq!(
        deadlines,
        vec![
            // 4.00pm UK time in January (GMT) is 16:00 UTC; the webinar is not a deadline.
            vec!["2027-01-10T16:00:00+00:00 Europe/London".to_owned()],
            vec!["2027-03-05T16:00:00+00:00 Europe/London".to_owned()],
        ]
    );
}

#[test]
fn json_feed_parses() {
    let src = source(
        "id = \"nsf\"\nkind = \"feed\"\nurl = \"https://www.nsf.gov/rss/x.json\"\n\
         level = \"international\"\nlanguage = \"en\"\ntimezone = \"America/New_York\"\n",
    );
    let got = feed::extract(
        &fixture("feeds/jsonfeed.json"),
        &src,
        at("2026-06-02T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(got.calls.len(), 1);
    let c = &got.calls[0];
    assert_eq!(c.title, "Cyber-Physical Systems");
    assert_eq!(
        c.url,
        "https://www.nsf.gov/funding/opportunities/nsf-26-501"
    );
    assert_eq!(
        c.native_id.as_deref(),
        Some("https://www.nsf.gov/funding/opportunities/nsf-26-501")
    );
    assert_eq!(
        c.text,
        "Full Proposal Deadline(s) (due by 5 p.m. submitter's local time): November 17, 2026"
    );
}

#[test]
fn malformed_feed_is_an_error_naming_the_source() {
    let err = feed::extract(
        &fixture("feeds/malformed.xml"),
        &anr(),
        at("2025-12-01T00:00:00Z"),
    )
    .unwrap_err();
    assert!(
        matches!(err, ExtractError::Feed { ref source_id, .. } if source_id == "anr"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("source \"anr\"") && msg.contains("cannot be parsed"),
        "{msg}"
    );
    let err = feed::extract(
        b"<html><body>not a feed</body></html>",
        &anr(),
        at("2025-12-01T00:00:00Z"),
    )
    .unwrap_err();
    assert!(matches!(err, ExtractError::Feed { .. }), "{err:?}");
}

// ---------------------------------------------------------------- HTML

fn aura() -> Source {
    source(
        "id = \"region-aura\"\nkind = \"html\"\nurl = \"https://www.auvergnerhonealpes.fr/aides\"\n\
         level = \"regional\"\nlanguage = \"fr\"\ntimezone = \"Europe/Paris\"\n\
         [source.html]\nitem = \"article.aide-card\"\ntitle = \"h3\"\nlink = \"h3 a@href\"\n\
         summary = \".aide-card__summary\"\ndeadline = \".aide-card__date\"\n\
         next_page = \"a.pager__next@href\"\nmax_pages = 3\n\
         [source.html.detail]\nbody = \".aide__content\"\ntitle = \"h1\"\n",
    )
}

fn euraxess() -> Source {
    source(
        "id = \"euraxess\"\nkind = \"html\"\nurl = \"https://euraxess.ec.europa.eu/jobs/search\"\n\
         level = \"international\"\nlanguage = \"en\"\ntimezone = \"Europe/Brussels\"\n\
         [source.html]\nitem = \"article.ecl-content-item\"\ntitle = \"h3.ecl-content-block__title\"\n\
         link = \"h3.ecl-content-block__title a@href\"\nsummary = \".ecl-content-block__description\"\n\
         deadline = \".id-Application-Deadline\"\nnext_page = \"a.ecl-pagination__link[aria-label*=next]@href\"\n\
         [source.html.detail]\ntitle = \"h1.ecl-content-block__title\"\nbody = \"#offer-description + div\"\n\
         deadline = \"dl.ecl-description-list time\"\n",
    )
}

#[test]
fn aura_listing_pages_follow_next_and_report_linkless_items() {
    let src = aura();
    let spec = html_spec(&src);
    let page1_url = Url::parse("https://www.auvergnerhonealpes.fr/aides").unwrap();
    let now = at("2026-09-01T00:00:00Z");
    let p1 = html::listing(
        &fixture_str("html/listing1.html"),
        &page1_url,
        spec,
        &src,
        now,
    )
    .unwrap();
    let items: Vec<CallDraft> = p1.items.into_iter().map(without_dates).collect();
    assert_eq!(
        items,
        vec![
            CallDraft {
                url: "https://www.auvergnerhonealpes.fr/aides/soutenir-le-developpement-territorial-de-lenseignement-superieur".into(),
                title: "Soutenir le développement territorial de l’enseignement supérieur".into(),
                summary: "Accompagner les établissements d’enseignement supérieur dans leurs projets d’implantation territoriale.".into(),
                text: "Soutenir le développement territorial de l’enseignement supérieur\n\nAccompagner les établissements d’enseignement supérieur dans leurs projets d’implantation territoriale.\n\nDate limite du dépôt : 31/01/2027".into(),
                ..CallDraft::default()
            },
            CallDraft {
                url: "https://www.auvergnerhonealpes.fr/aides/pack-ambition-recherche".into(),
                title: "Pack Ambition Recherche".into(),
                summary: "Financer des projets de recherche collaboratifs.".into(),
                text: "Pack Ambition Recherche\n\nFinancer des projets de recherche collaboratifs.\n\nDate limite du dépôt : 15/10/2026".into(),
                ..CallDraft::default()
            },
            CallDraft {
                url: "https://www.auvergnerhonealpes.fr/aides/mobilite-internationale-des-etudiants".into(),
                title: "Mobilité internationale des étudiants".into(),
                summary: "Bourses régionales pour les séjours d'études à l'étranger.".into(),
                text: "Mobilité internationale des étudiants\n\nBourses régionales pour les séjours d'études à l'étranger.\n\nAide permanente".into(),
                ..CallDraft::default()
            },
        ]
    );
    assert_eq!(
        p1.problems,
        vec![ExtractProblem {
            item: "item 3 (Aide sans lien (brouillon du site))".into(),
            message: "no link: selector \"h3 a@href\" matched nothing; skipped".into()
        }]
    );
    let next = p1.next_page.expect("page 1 has a next page");
    assert_eq!(
        next.as_str(),
        "https://www.auvergnerhonealpes.fr/aides?page=1"
    );

    let p2 = html::listing(&fixture_str("html/listing2.html"), &next, spec, &src, now).unwrap();
    assert_eq!(p2.next_page, None);
    assert!(p2.problems.is_empty());
    assert_eq!(
        p2.items.iter().map(|c| c.url.as_str()).collect::<Vec<_>>(),
        vec![
            "https://www.auvergnerhonealpes.fr/aides/investissements-numeriques-des-universites?xtor=RSS-1"
        ]
    );
}

#[test]
fn aura_listing_deadlines_dates_from_text() {
    let src = aura();
    let url = Url::parse("https://www.auvergnerhonealpes.fr/aides").unwrap();
    let p1 = html::listing(
        &fixture_str("html/listing1.html"),
        &url,
        html_spec(&src),
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap();
    let got: Vec<Vec<String>> = p1.items.iter().map(|c| whens(&c.deadlines)).collect();
    assert_eq!(
        got,
        vec![
            vec!["2027-01-31 date Europe/Paris".to_owned()],
            vec!["2026-10-15 date Europe/Paris".to_owned()],
            vec![],
        ]
    );
}

#[test]
fn aura_detail_fills_title_and_body() {
    let src = aura();
    let spec = html_spec(&src).detail.clone().expect("detail spec");
    let url = Url::parse("https://www.auvergnerhonealpes.fr/aides/soutenir-le-developpement-territorial-de-lenseignement-superieur").unwrap();
    let mut draft = CallDraft {
        url: url.to_string(),
        title: "Soutenir le développement territorial".into(),
        summary: "listing summary".into(),
        ..CallDraft::default()
    };
    html::detail(
        &mut draft,
        &fixture_str("html/detail-aura.html"),
        &url,
        &spec,
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        without_dates(draft),
        CallDraft {
            url: url.to_string(),
            title: "Soutenir le développement territorial de l’enseignement supérieur et de la recherche".into(),
            summary: "listing summary".into(),
            text: "Date limite du dépôt : 31/01/2027\n\nVotre projet\n\nVous êtes un établissement d’enseignement supérieur et vous souhaitez développer une antenne dans une ville moyenne de la région.\n\nMontant et accompagnement proposé\n\nSubvention d’investissement jusqu’à 50 % des dépenses ;\nplafond : 500 000 €.\n\nBénéficiaires et points d'attention\n\nUniversités, écoles et organismes de recherche implantés en Auvergne-Rhône-Alpes.".into(),
            ..CallDraft::default()
        }
    );
}

#[test]
fn aura_detail_body_gives_the_deadline_dates_from_text() {
    let src = aura();
    let spec = html_spec(&src).detail.clone().expect("detail spec");
    let url = Url::parse("https://www.auvergnerhonealpes.fr/aides/x").unwrap();
    let mut draft = CallDraft::default();
    html::detail(
        &mut draft,
        &fixture_str("html/detail-aura.html"),
        &url,
        &spec,
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        whens(&draft.deadlines),
        vec!["2027-01-31 date Europe/Paris"]
    );
}

#[test]
fn euraxess_listing_and_detail_use_time_elements() {
    let src = euraxess();
    let spec = html_spec(&src);
    let url =
        Url::parse("https://euraxess.ec.europa.eu/jobs/search?f%5B0%5D=offer_type%3Ajob_offer")
            .unwrap();
    let now = at("2026-03-03T00:00:00Z");
    let page = html::listing(
        &fixture_str("html/euraxess-listing.html"),
        &url,
        spec,
        &src,
        now,
    )
    .unwrap();
    assert!(page.problems.is_empty(), "{:?}", page.problems);
    assert_eq!(
        page.next_page.as_ref().map(Url::as_str),
        Some("https://euraxess.ec.europa.eu/jobs/search?f%5B0%5D=offer_type%3Ajob_offer&page=1")
    );
    let summary: Vec<_> = page
        .items
        .iter()
        .map(|c| {
            (
                c.native_id.as_deref(),
                c.url.as_str(),
                c.title.as_str(),
                c.summary.as_str(),
                c.deadlines.clone(),
                c.identifiers.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Some("420001"),
                "https://euraxess.ec.europa.eu/jobs/420001",
                "PhD position in glaciology",
                "Funded through HORIZON-MSCA-2025-DN-01 (MSCA Doctoral Networks).",
                vec![DatePoint::instant(
                    at("2026-04-30T21:59:00Z"),
                    chrono_tz::Europe::Paris,
                    "30 Apr 2026 - 23:59 (Europe/Paris)"
                )],
                vec!["HORIZON-MSCA-2025-DN-01".to_owned()],
            ),
            (
                Some("420002"),
                "https://euraxess.ec.europa.eu/jobs/420002",
                "Postdoctoral researcher in volcanology",
                "Two-year contract in the Canary Islands.",
                vec![DatePoint::instant(
                    at("2026-03-16T23:59:59Z"),
                    chrono_tz::Atlantic::Canary,
                    "16 Mar 2026 - 23:59 (Atlantic/Canary)"
                )],
                vec![],
            ),
        ]
    );

    let detail_spec = spec.detail.clone().expect("detail spec");
    let mut draft = page.items[0].clone();
    let detail_url = Url::parse(&draft.url).unwrap();
    html::detail(
        &mut draft,
        &fixture_str("html/detail-euraxess.html"),
        &detail_url,
        &detail_spec,
        &src,
        now,
    )
    .unwrap();
    assert_eq!(
        draft.title,
        "PhD position in glaciology (MSCA Doctoral Network)"
    );
    assert_eq!(
        draft.text,
        "The Institute of Environmental Geosciences offers a PhD position within the doctoral network HORIZON-MSCA-2025-DN-01.\n\nFieldwork in the Alps."
    );
    // The detail page's deadline replaces the listing's; the starting date
    // that follows it in the same list is not a deadline.
    assert_eq!(
        draft.deadlines,
        vec![DatePoint::instant(
            at("2026-05-07T21:59:00Z"),
            chrono_tz::Europe::Paris,
            "7 May 2026 - 23:59 (Europe/Paris)"
        )]
    );
    assert_eq!(
        draft.identifiers,
        vec!["HORIZON-MSCA-2025-DN-01".to_owned()]
    );
}

fn windows1252_page() -> (Source, Url, String) {
    let src = source(
        "id = \"appels\"\nkind = \"html\"\nurl = \"https://www.example-region.fr/appels\"\n\
         level = \"regional\"\nlanguage = \"fr\"\n\
         [source.html]\nitem = \"div.appel\"\ntitle = \"h3\"\nlink = \"a@href\"\n\
         summary = \".resume\"\ndeadline = \".date\"\n",
    );
    // fetch decodes bodies by their declared charset before extraction.
    let bytes = fixture("html/windows1252.html");
    let (text, _, had_errors) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!had_errors);
    let url = Url::parse("https://www.example-region.fr/appels").unwrap();
    (src, url, text.into_owned())
}

#[test]
fn windows_1252_page_decoded_then_extracted() {
    let (src, url, text) = windows1252_page();
    let page = html::listing(
        &text,
        &url,
        html_spec(&src),
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(page.items.len(), 1);
    let c = &page.items[0];
    assert_eq!(c.title, "Appel à projets d’excellence 2027");
    assert_eq!(c.summary, "Soutien à l’excellence scientifique régionale.");
    assert_eq!(
        c.url,
        "https://www.example-region.fr/appels/excellence-2027"
    );
}

#[test]
fn windows_1252_page_deadline_dates_from_text() {
    let (src, url, text) = windows1252_page();
    let page = html::listing(
        &text,
        &url,
        html_spec(&src),
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        whens(&page.items[0].deadlines),
        vec!["2027-02-15 date Europe/Paris"]
    );
}

#[test]
fn a_hundred_thousand_nested_divs_are_refused_in_well_under_a_second() {
    let src = aura();
    let url = Url::parse("https://www.auvergnerhonealpes.fr/aides/deep").unwrap();
    let page = format!(
        "<html><body>{}<article class=\"aide-card\"><h3><a href=\"/x\">x</a></h3></article></body></html>",
        "<div>".repeat(100_000)
    );
    let started = Instant::now();
    let err = html::listing(
        &page,
        &url,
        html_spec(&src),
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap_err();
    let mut draft = CallDraft::default();
    let detail_err = html::detail(
        &mut draft,
        &page,
        &url,
        html_spec(&src).detail.as_ref().unwrap(),
        &src,
        at("2026-09-01T00:00:00Z"),
    )
    .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    for e in [err, detail_err] {
        assert!(
            matches!(e, ExtractError::TooDeep { depth, limit, ref url } if depth > limit && limit == html::MAX_NESTING && url.ends_with("/aides/deep")),
            "{e:?}"
        );
        assert!(e.to_string().contains("not parsed"), "{e}");
    }
    // A page just under the limit is parsed normally.
    let ok = format!(
        "{}<article class=\"aide-card\"><h3><a href=\"/x\">x</a></h3></article>",
        "<div>".repeat(html::MAX_NESTING - 10)
    );
    let page = html::listing(&ok, &url, html_spec(&src), &src, at("2026-09-01T00:00:00Z")).unwrap();
    assert_eq!(page.items.len(), 1);
}

// ---------------------------------------------------------------- EU portal

fn eu() -> Source {
    source(
        "id = \"eu-portal\"\nkind = \"eu-portal\"\n\
         url = \"https://api.tech.ec.europa.eu/search-api/prod/rest/search\"\n\
         level = \"eu\"\nlanguage = \"en\"\ntimezone = \"Europe/Brussels\"\n",
    )
}

fn day(d: &str) -> DatePoint {
    DatePoint::day(
        d.parse().unwrap(),
        chrono_tz::Europe::Brussels,
        format!("{d}T00:00:00.000+0000"),
    )
}

const TOPIC: &str = eu_portal::TOPIC_URL;

#[test]
fn eu_portal_two_pages_collapse_duplicates_and_stubs() {
    let p1 = eu_portal::parse_page(&fixture("eu_portal/page1.json")).unwrap();
    let p2 = eu_portal::parse_page(&fixture("eu_portal/page2.json")).unwrap();
    assert_eq!(
        (p1.total_results, p1.rows.len()),
        (103, eu_portal::PAGE_SIZE as usize)
    );
    assert_eq!((p2.total_results, p2.rows.len()), (103, 3));
    let rows: Vec<PortalRow> = p1.rows.into_iter().chain(p2.rows).collect();
    let got = eu_portal::into_drafts(rows, &eu(), at("2026-03-10T00:00:00Z"));

    // 103 rows: the stub and the legacy copy collapse into their topics.
    assert_eq!(got.calls.len(), 101);
    assert_eq!(
        got.problems,
        vec![ExtractProblem {
            item: "row 100 (HORIZON-MISS-2026-05-SOIL-01-two-stage)".into(),
            message: "budgetOverview: not valid JSON (EOF while parsing a string at line 1 column 595), probably truncated; its complete entries were used".into()
        }]
    );
    let ids: Vec<&str> = got
        .calls
        .iter()
        .map(|c| c.native_id.as_deref().unwrap())
        .collect();
    assert_eq!(
        ids[..6],
        [
            "CREA-CULT-2026-COOP",
            "ERASMUS-EDU-2026-PI-ALL-INNO",
            "EuropeAid/186999/DD/ACT/FR",
            "HORIZON-CL2-2026-01-TRANSFO-03",
            "HORIZON-CL5-2026-D3-07",
            "HORIZON-CL4-2026-TWIN-01",
        ]
    );
    assert_eq!(
        ids[99..],
        [
            "HORIZON-MISS-2026-05-SOIL-01-two-stage",
            "LIFE-2026-SAP-ENV"
        ]
    );

    let crea = &got.calls[0];
    let mut crea_cmp = crea.clone();
    crea_cmp.text.clear();
    crea_cmp.summary.clear();
    assert_eq!(
        crea_cmp,
        CallDraft {
            native_id: Some("CREA-CULT-2026-COOP".into()),
            url: format!("{TOPIC}CREA-CULT-2026-COOP"),
            title: "European cooperation projects".into(),
            programme: Some("Creative Europe".into()),
            opening: Some(day("2026-03-03")),
            deadlines: vec![day("2026-05-05")],
            source_status: Some(Status::Open),
            budget: Some(Budget {
                total: Some(6_000_000.0),
                min_per_grant: Some(200_000.0),
                max_per_grant: Some(1_000_000.0),
                expected_grants: Some(12),
                currency: "EUR".into()
            }),
            tags: vec![
                "Social sciences and humanities".into(),
                "cooperation".into(),
                "Research and Innovation Actions".into()
            ],
            identifiers: vec!["CREA-CULT-2026-COOP".into()],
            ..CallDraft::default()
        }
    );
    assert!(
        crea.text
            .starts_with("Expected Outcome:\n\nProposals are expected to contribute"),
        "{}",
        crea.text
    );
    assert!(crea.text.contains("Scope:\n\nEuropean cooperation projects: pilots in at least three countries;\ntraining of early-career researchers;"), "{}", crea.text);
    assert!(
        crea.summary.starts_with("Proposals are expected") && crea.summary.ends_with('…'),
        "{}",
        crea.summary
    );

    let erasmus = &got.calls[1];
    assert_eq!(erasmus.source_status, Some(Status::Forthcoming));
    assert_eq!(erasmus.opening, Some(day("2026-04-01")));
    assert_eq!(erasmus.programme.as_deref(), Some("Erasmus+"));

    let prospect = &got.calls[2];
    assert_eq!(
        prospect.url,
        "https://webgate.ec.europa.eu/prospect/external/publishedcalls.htm?callId=186999"
    );
    assert_eq!(prospect.programme.as_deref(), Some("EuropeAid"));
    assert_eq!(
        prospect.deadlines,
        vec![DatePoint::instant(
            at("2026-09-30T11:00:09Z"),
            chrono_tz::UTC,
            "2026-09-30T11:00:09.000+0000"
        )]
    );

    // The stub came first (page 1) but the full row (page 2) won, in place.
    let transfo = &got.calls[3];
    assert_eq!(transfo.title, "Arts and culture in education");
    assert_eq!(transfo.source_status, Some(Status::Open));
    assert_eq!(transfo.deadlines, vec![day("2026-09-23")]);
    assert!(transfo.text.starts_with("Expected Outcome:"));

    // The new-index row beat its legacy copy (17:00 UTC instant, no text).
    let d3 = &got.calls[4];
    assert_eq!(d3.url, format!("{TOPIC}HORIZON-CL5-2026-D3-07"));
    assert_eq!(d3.deadlines, vec![day("2026-09-16")]);
    assert!(!d3.text.is_empty());

    let soil = &got.calls[99];
    assert_eq!(soil.source_status, Some(Status::Forthcoming));
    assert_eq!(
        soil.deadlines,
        vec![
            day("2026-04-08").with_label("stage 1"),
            day("2026-09-14").with_label("stage 2")
        ]
    );
    assert_eq!(
        soil.budget,
        Some(Budget {
            total: Some(24_000_000.0),
            min_per_grant: Some(12_000_000.0),
            max_per_grant: Some(12_000_000.0),
            expected_grants: Some(2),
            currency: "EUR".into()
        })
    );
}

#[test]
fn eu_portal_request_and_paging() {
    let src = eu();
    let r = eu_portal::request(&src);
    let names: Vec<&str> = r.parts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["query", "languages", "sort"]);
    let q: serde_json::Value = serde_json::from_str(&r.parts[0].1).unwrap();
    assert_eq!(
        q,
        serde_json::json!({"bool": {"must": [
            {"terms": {"type": ["1", "2"]}},
            {"terms": {"status": ["31094502", "31094501"]}},
            {"term": {"programmePeriod": "2021 - 2027"}}
        ]}})
    );
    assert_eq!(
        eu_portal::page_url(&src.url, 2, eu_portal::PAGE_SIZE).as_str(),
        "https://api.tech.ec.europa.eu/search-api/prod/rest/search?apiKey=SEDIA&text=***&pageSize=100&pageNumber=2"
    );
}

// ---------------------------------------------------------------- real samples

#[test]
fn conformance_sedia_horizon_subset() {
    let Some(dir) = real_dir() else { return };
    let bytes = std::fs::read(dir.join("sedia_search_response_horizon_subset.json")).unwrap();
    let page = eu_portal::parse_page(&bytes).unwrap();
    assert_eq!((page.total_results, page.rows.len()), (9, 4));
    let got = eu_portal::into_drafts(page.rows, &eu(), at("2026-03-10T00:00:00Z"));
    type Row = (String, String, Option<Status>, Vec<String>, Option<String>);
    let summary: Vec<Row> = got
        .calls
        .iter()
        .map(|c| {
            (
                c.native_id.clone().unwrap(),
                c.url.clone(),
                c.source_status,
                whens(&c.deadlines),
                c.opening.as_ref().map(when),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "HORIZON-MISS-2027-05-SOIL-01-two-stage".into(),
                format!("{TOPIC}HORIZON-MISS-2027-05-SOIL-01-two-stage"),
                Some(Status::Forthcoming),
                vec![
                    "2027-04-08 date Europe/Brussels [stage 1]".into(),
                    "2027-09-14 date Europe/Brussels [stage 2]".into()
                ],
                Some("2027-02-04 date Europe/Brussels".into()),
            ),
            (
                "HORIZON-CL2-2024-TRANSFORMATIONS-01-08".into(),
                format!("{TOPIC}HORIZON-CL2-2024-TRANSFORMATIONS-01-08"),
                Some(Status::Forthcoming),
                vec!["2024-02-07T17:00:00+00:00 UTC".into()],
                Some("2023-10-04 date Europe/Brussels".into()),
            ),
            (
                "HORIZON-CL3-2026-02-CS-ECCC-01".into(),
                format!("{TOPIC}HORIZON-CL3-2026-02-CS-ECCC-01"),
                Some(Status::Open),
                vec!["2026-09-15 date Europe/Brussels".into()],
                Some("2026-03-03 date Europe/Brussels".into()),
            ),
            (
                "HORIZON-JU-CBE-2026-IAFlag-02".into(),
                format!("{TOPIC}HORIZON-JU-CBE-2026-IAFlag-02"),
                Some(Status::Open),
                vec!["2026-09-22 date Europe/Brussels".into()],
                Some("2026-04-23 date Europe/Brussels".into()),
            ),
        ]
    );
    // The real url of a new-index row is the one we build.
    assert_eq!(
        got.calls[0].url,
        "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/HORIZON-MISS-2027-05-SOIL-01-two-stage"
    );
    for c in &got.calls {
        assert_eq!(c.programme.as_deref(), Some("Horizon Europe"));
        assert_eq!(c.identifiers, vec![c.native_id.clone().unwrap()]);
        assert!(!c.title.is_empty());
    }
    // ECCC-01's own budget entry survives the truncation of budgetOverview.
    assert_eq!(
        got.calls[2].budget,
        Some(Budget {
            total: Some(20_000_000.0),
            min_per_grant: Some(3_000_000.0),
            max_per_grant: Some(4_000_000.0),
            expected_grants: Some(5),
            currency: "EUR".into()
        })
    );
    // IAFlag-02's entry was cut off; its call-level year map is not claimed.
    assert_eq!(got.calls[3].budget, None);
    // Truncated budgetOverview strings are reported, not fatal.
    let budget_notes = got
        .problems
        .iter()
        .filter(|p| p.message.starts_with("budgetOverview:"))
        .count();
    assert_eq!(budget_notes, 3, "{:?}", got.problems);
    assert!(got.calls[2].text.starts_with("Expected Outcome:"));
    // Older rows put keywords as one JSON-encoded array.
    assert!(
        got.calls[1].tags.contains(&"Gender research".to_owned()),
        "{:?}",
        got.calls[1].tags
    );
    assert!(
        got.calls[0]
            .tags
            .contains(&"Research and Innovation Actions".to_owned())
    );
}

#[test]
fn conformance_sedia_2023_item_keeps_the_offset_instant() {
    let Some(dir) = real_dir() else { return };
    let item =
        std::fs::read_to_string(dir.join("sedia_search_result_item_2023_batt4eu.json")).unwrap();
    let body = format!("{{\"apiVersion\":\"2.101\",\"totalResults\":1,\"results\":[{item}]}}");
    let page = eu_portal::parse_page(body.as_bytes()).unwrap();
    let got = eu_portal::into_drafts(page.rows, &eu(), at("2023-06-01T00:00:00Z"));
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.calls.len(), 1);
    let c = &got.calls[0];
    assert_eq!(c.native_id.as_deref(), Some("HORIZON-CL5-2024-D2-01-03"));
    assert!(
        c.title
            .starts_with("Development of technical and business solutions")
    );
    // 19:00 +0200 is 17:00 UTC, shown in Brussels time.
    assert_eq!(
        c.deadlines,
        vec![DatePoint::instant(
            at("2024-04-18T17:00:00Z"),
            chrono_tz::Europe::Brussels,
            "2024-04-18T19:00:00.000+0200"
        )]
    );
    assert_eq!(c.deadlines[0].precision, Precision::Datetime);
    assert_eq!(
        c.opening.as_ref().map(when).as_deref(),
        Some("2023-12-07 date Europe/Brussels")
    );
    assert_eq!(c.source_status, Some(Status::Forthcoming));
    assert!(c.tags.contains(&"batteries".to_owned()), "{:?}", c.tags);
}

#[test]
fn conformance_euraxess_listing_and_detail() {
    let Some(dir) = real_dir() else { return };
    let src = euraxess();
    let spec = html_spec(&src);
    let listing_html =
        std::fs::read_to_string(dir.join("euraxess_jobs_search_results.html")).unwrap();
    let url = Url::parse(
        "https://euraxess.ec.europa.eu/jobs/search?f%5B0%5D=offer_type%3Ajob_offer&page=0",
    )
    .unwrap();
    let now = at("2026-03-05T00:00:00Z");
    let page = html::listing(&listing_html, &url, spec, &src, now).unwrap();
    assert!(page.problems.is_empty(), "{:?}", page.problems);
    let got: Vec<(String, Vec<String>)> = page
        .items
        .iter()
        .map(|c| (c.native_id.clone().unwrap(), whens(&c.deadlines)))
        .collect();
    let want: Vec<(&str, &str)> = vec![
        ("415163", "2026-04-12T21:59:00+00:00 Europe/Brussels"),
        ("415161", "2026-03-17T23:59:59+00:00 Europe/Lisbon"),
        ("415159", "2026-04-12T21:59:00+00:00 Europe/Brussels"),
        ("415158", "2026-04-05T21:00:00+00:00 Europe/Vienna"),
        ("415157", "2026-03-18T22:59:59+00:00 Europe/Madrid"),
        ("415156", "2026-03-12T22:59:59+00:00 Europe/Madrid"),
        ("415160", "2026-04-01T21:59:59+00:00 Europe/Warsaw"),
        ("415152", "2026-04-06T13:00:00+00:00 Europe/Amsterdam"),
        ("415150", "2026-04-05T21:00:00+00:00 Europe/Vienna"),
        ("415147", "2026-03-16T23:59:59+00:00 Atlantic/Canary"),
    ];
    let want: Vec<(String, Vec<String>)> = want
        .into_iter()
        .map(|(i, d)| (i.to_owned(), vec![d.to_owned()]))
        .collect();
    assert_eq!(got, want);
    let first = &page.items[0];
    assert_eq!(first.title, "Postdoctoral Researcher");
    assert_eq!(first.url, "https://euraxess.ec.europa.eu/jobs/415163");
    assert!(
        first
            .summary
            .starts_with("The Centre for Research on Social Inequality (CRIS)")
    );
    // "ERC-funded" is prose, not a topic identifier.
    assert!(first.identifiers.is_empty(), "{:?}", first.identifiers);
    assert_eq!(
        page.next_page.as_ref().map(Url::as_str),
        Some("https://euraxess.ec.europa.eu/jobs/search?f%5B0%5D=offer_type%3Ajob_offer&page=1")
    );

    let detail_html = std::fs::read_to_string(dir.join("euraxess_job_offer_detail.html")).unwrap();
    let mut draft = first.clone();
    let detail_url = Url::parse(&draft.url).unwrap();
    html::detail(
        &mut draft,
        &detail_html,
        &detail_url,
        spec.detail.as_ref().unwrap(),
        &src,
        now,
    )
    .unwrap();
    assert_eq!(draft.title, "Postdoctoral Researcher");
    assert_eq!(
        draft.deadlines,
        vec![DatePoint::instant(
            at("2026-04-12T21:59:00Z"),
            chrono_tz::Europe::Brussels,
            "12 Apr 2026 - 23:59 (Europe/Brussels)"
        )]
    );
    assert!(
        draft
            .text
            .starts_with("The Centre for Research on Social Inequality (CRIS) at the Sciences Po"),
        "{}",
        draft.text
    );
    assert!(draft.text.contains("Key responsibilities:"));
}

#[test]
fn conformance_derived_ft_feed() {
    let Some(dir) = real_dir() else { return };
    let bytes = std::fs::read(dir.join("ft_portal_derived_calls_rss.xml")).unwrap();
    let src = source(
        "id = \"ft-derived\"\nkind = \"feed\"\nurl = \"https://example.org/eu_calls_feed.xml\"\n\
         level = \"eu\"\nlanguage = \"en\"\ntimezone = \"Europe/Brussels\"\n",
    );
    let got = feed::extract(&bytes, &src, at("2026-08-22T00:00:00Z")).unwrap();
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.calls.len(), 25);
    // pubDate (= startDate) never becomes a deadline.
    assert!(
        got.calls
            .iter()
            .all(|c| c.deadlines.iter().all(|d| d.date_string() != "2026-08-18"))
    );
    let first = &got.calls[0];
    assert_eq!(first.title, "Second Call for Proposals for Project Grants");
    assert_eq!(
        first.url,
        "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/competitive-calls-cs/47365875"
    );
    // CREA-CULT-2025-COOP-UA-2 is the guid of two cascade calls: not an id.
    // Their link is shared too, so the title tells them apart.
    assert_eq!(
        first.native_id.as_deref(),
        Some(
            "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/competitive-calls-cs/47365875#Second Call for Proposals for Project Grants"
        )
    );

    // Same for the two FACTCHECKERS calls.
    let fact: Vec<&str> = got
        .calls
        .iter()
        .filter(|c| c.url.ends_with("/competitive-calls-cs/48165818"))
        .map(|c| c.native_id.as_deref().unwrap())
        .collect();
    assert_eq!(
        fact,
        [
            "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/competitive-calls-cs/48165818#Emergency Response - Support Grants",
            "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/competitive-calls-cs/48165818#Emergency Response - Microgrants for Ecosystem Development",
        ]
    );
    let horizon = got
        .calls
        .iter()
        .find(|c| c.title == "Superconducting Platform Technologies")
        .unwrap();
    assert_eq!(
        horizon.native_id.as_deref(),
        Some("HORIZON-JU-EUROHPC-2026-SPT-10-01")
    );
    // Escaped HTML descriptions become text.
    assert!(got.calls[1].text.starts_with("The purpose of this call is to identify and support projects that can foster EU Code Week’s mission"), "{}", got.calls[1].text);
    let mut native: Vec<&str> = got
        .calls
        .iter()
        .filter_map(|c| c.native_id.as_deref())
        .collect();
    native.sort_unstable();
    let n = native.len();
    native.dedup();
    assert_eq!(native.len(), n, "native ids must be unique within the feed");
}
