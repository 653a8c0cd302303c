//! Matching and digest benchmark (issue 5): 10,000 profiles against a
//! database of 100,000 generated calls (French and English, realistic
//! titles, summaries, funders, levels, deadlines), of which 1,000 are new or
//! changed in the period.
//!
//! Prints, for one digest run as the job does it:
//! - loading the period's candidates from SQLite;
//! - building the in-RAM candidate index (`matching::Matcher::new`);
//! - matching all 10,000 profiles on 2 threads (target: < 1 s);
//! - composing and rendering all 10,000 digests.
//!
//! Matching never touches the big tantivy index (see `matching` and
//! `index::ram`): the 100,000 calls live in SQLite, which is where the job
//! reads candidates from, so the corpus is built there.
//!
//! Run: `cargo bench --bench matching` (`-- --calls N --profiles N` for
//! other sizes).

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use fundwatch::digest::Period;
use fundwatch::digest::compose::{ComposeInput, compose};
use fundwatch::digest::render::{RenderOptions, render};
use fundwatch::index::Glossary;
use fundwatch::matching::{Candidate, Matcher};
use fundwatch::model::{Call, DatePoint, Language, Level, Status};
use fundwatch::settings::Profile;
use fundwatch::store::Store;

/// (French, English) research topics: titles, summaries and queries draw
/// from the same vocabulary, as real calls and profiles do.
const TOPICS: &[(&str, &str)] = &[
    ("santé des sols", "soil health"),
    ("agroécologie", "agroecology"),
    ("mobilité des doctorants", "doctoral mobility"),
    ("intelligence artificielle", "artificial intelligence"),
    ("changement climatique", "climate change"),
    ("biodiversité marine", "marine biodiversity"),
    ("énergies renouvelables", "renewable energy"),
    ("santé publique", "public health"),
    ("maladies infectieuses", "infectious diseases"),
    ("sciences sociales", "social sciences"),
    ("patrimoine culturel", "cultural heritage"),
    ("physique quantique", "quantum physics"),
    ("matériaux avancés", "advanced materials"),
    ("économie circulaire", "circular economy"),
    ("villes durables", "sustainable cities"),
    ("neurosciences", "neuroscience"),
    ("cybersécurité", "cybersecurity"),
    ("hydrogène", "hydrogen"),
    ("eau et assainissement", "water and sanitation"),
    ("sécurité alimentaire", "food security"),
    ("vieillissement", "ageing"),
    ("robotique", "robotics"),
    ("océanographie", "oceanography"),
    ("éducation numérique", "digital education"),
    ("migrations", "migration"),
    ("cancer", "cancer"),
    ("génomique", "genomics"),
    ("photonique", "photonics"),
    ("forêts", "forests"),
    ("mobilité urbaine", "urban mobility"),
];

const FUNDERS: &[(&str, Level, Option<&str>)] = &[
    ("ANR", Level::National, Some("AAPG")),
    ("Commission européenne", Level::Eu, Some("Horizon Europe")),
    ("Commission européenne", Level::Eu, Some("Erasmus+")),
    (
        "Région Auvergne-Rhône-Alpes",
        Level::Regional,
        Some("Pack Ambition Recherche"),
    ),
    ("Campus France", Level::International, Some("PHC")),
    ("UKRI", Level::International, None),
    ("NSF", Level::International, None),
];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn gen_call(i: usize, rng: &mut Rng, now: DateTime<Utc>) -> Call {
    let (t1fr, t1en) = TOPICS[rng.below(TOPICS.len())];
    let (t2fr, t2en) = TOPICS[rng.below(TOPICS.len())];
    let (funder, level, programme) = FUNDERS[rng.below(FUNDERS.len())];
    let english = matches!(level, Level::Eu | Level::International) && rng.below(3) > 0;
    let (title, summary) = if english {
        (
            format!("Call for proposals on {t1en} and {t2en} ({i})"),
            format!(
                "This call supports research and innovation on {t1en}, with links to {t2en}. \
                 Consortia of at least three partners; budget up to EUR {} per project.",
                (rng.below(40) + 1) * 50_000
            ),
        )
    } else {
        (
            format!("Appel à projets {t1fr} et {t2fr} ({i})"),
            format!(
                "L'appel soutient des projets de recherche sur {t1fr}, en lien avec {t2fr}. \
                 Aide maximale de {} euros par projet, durée de 24 à 48 mois.",
                (rng.below(40) + 1) * 10_000
            ),
        )
    };
    let days = rng.below(200) as i64 + 3;
    Call {
        id: format!("call{i:06}"),
        source_id: "bench".into(),
        native_id: Some(format!("n{i}")),
        url: format!("https://calls.example.org/{i}"),
        title,
        summary,
        text: String::new(),
        funder: funder.into(),
        programme: programme.map(str::to_owned),
        level,
        language: if english { Language::En } else { Language::Fr },
        opening: None,
        deadlines: vec![DatePoint::instant(
            now + Duration::days(days),
            chrono_tz::Europe::Paris,
            "",
        )],
        status: Status::Open,
        budget: None,
        tags: vec![],
        identifiers: vec![],
    }
}

fn gen_profile(i: usize, rng: &mut Rng) -> Profile {
    let lang = if rng.below(2) == 0 {
        Language::Fr
    } else {
        Language::En
    };
    let (afr, aen) = TOPICS[rng.below(TOPICS.len())];
    let (bfr, ben) = TOPICS[rng.below(TOPICS.len())];
    let query = match rng.below(4) {
        0 => format!("\"{afr}\" OR \"{aen}\""),
        1 => format!("\"{afr}\" OR \"{aen}\" OR \"{bfr}\" OR \"{ben}\""),
        2 => format!(
            "({}) NOT {}",
            aen.split(' ').next().unwrap_or(aen),
            ben.split(' ').next().unwrap_or(ben)
        ),
        _ => afr.to_owned(),
    };
    let levels = match rng.below(4) {
        0 => vec![Level::Eu],
        1 => vec![Level::Eu, Level::National],
        _ => vec![],
    };
    Profile {
        id: format!("p{i:05}"),
        name: format!("Chercheur {i}"),
        email: format!("p{i}@univ.example"),
        language: lang,
        query,
        levels,
        funders: vec![],
        programmes: vec![],
        min_days_before_deadline: (rng.below(3) * 5) as u32,
        active: true,
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n_calls = arg("--calls", 100_000);
    let n_changed = arg("--changed", 1_000);
    let n_profiles = arg("--profiles", 10_000);
    let now: DateTime<Utc> = Utc::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    println!(
        "fundwatch matching bench: {n_calls} calls, {n_changed} new or changed in the period, {n_profiles} profiles; {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(&dir.path().join("fundwatch.db")).expect("store");
    let t = Instant::now();
    let old = now - Duration::days(60);
    let mut calls: Vec<Call> = (0..n_calls).map(|i| gen_call(i, &mut rng, now)).collect();
    let fresh = n_changed / 2;
    for chunk in calls[..n_calls - fresh].chunks(5_000) {
        store.apply_calls("bench", chunk, old).expect("apply");
    }
    println!(
        "  corpus: {} calls stored in SQLite in {:.1} s (setup, not timed below)",
        n_calls - fresh,
        t.elapsed().as_secs_f64()
    );
    // The period: half the changed calls are new, half are old ones whose deadline moved.
    let period_start = now - Duration::days(7);
    let t_changed = now - Duration::days(2);
    store
        .apply_calls("bench", &calls[n_calls - fresh..], t_changed)
        .expect("apply new");
    let moved: Vec<Call> = calls[..n_changed - fresh]
        .iter_mut()
        .map(|c| {
            c.deadlines[0] = DatePoint::instant(
                c.deadlines[0].cutoff() + Duration::days(14),
                chrono_tz::Europe::Paris,
                "",
            );
            c.clone()
        })
        .collect();
    store
        .apply_calls("bench", &moved, t_changed)
        .expect("apply moved");

    let profiles: Vec<Profile> = (0..n_profiles).map(|i| gen_profile(i, &mut rng)).collect();

    // 1. Candidates from SQLite.
    let t = Instant::now();
    let mut candidates = Vec::new();
    for id in store.calls_changed_since(period_start).expect("changed") {
        let s = store.call(&id).expect("call").expect("exists");
        candidates.push(Candidate {
            call: s.call,
            first_seen: s.first_seen,
            last_changed: s.last_changed,
        });
    }
    let changes = store.changes_since(period_start).expect("changes");
    let load = t.elapsed();

    // 2. The in-RAM index.
    let t = Instant::now();
    let matcher = Matcher::new(candidates, Glossary::default()).expect("matcher");
    let build = t.elapsed();

    // Parsing alone (one thread), to see where matching time goes.
    let t = Instant::now();
    for p in &profiles {
        matcher.check_query(p).expect("valid query");
    }
    let parsing = t.elapsed();

    // 3. Matching every profile, 2 threads.
    let last = Some(period_start);
    let args: Vec<(&Profile, Option<DateTime<Utc>>)> = profiles.iter().map(|p| (p, last)).collect();
    let t = Instant::now();
    let results = matcher.match_all(&args, now, 2);
    let matching = t.elapsed();
    let total_matches: usize = results.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum();
    let nonempty = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|v| !v.is_empty()))
        .count();

    // 4. Compose and render every digest.
    let opts = RenderOptions {
        timezone: chrono_tz::Europe::Paris,
        unsubscribe_url: Some("https://intranet.univ.example/unsub?profile={profile}"),
        domain: "univ.example",
    };
    let period = Period::containing(now, chrono_tz::Europe::Paris);
    let history = HashMap::<String, Vec<fundwatch::store::OutboxEntry>>::new();
    let t = Instant::now();
    let mut bytes = 0usize;
    for (p, r) in profiles.iter().zip(results) {
        let matches = r
            .expect("valid query")
            .into_iter()
            .map(|m| (matcher.candidates()[m.candidate].call.clone(), m.reasons))
            .collect();
        let d = compose(
            ComposeInput {
                profile: p,
                period,
                matches,
                changes: &changes,
                window_start: period_start,
                history: history.get(&p.id).map_or(&[][..], Vec::as_slice),
                closing_candidates: Vec::new(),
                closing_soon_days: 14,
                timezone: chrono_tz::Europe::Paris,
            },
            now,
        );
        if d.is_empty() {
            continue;
        }
        let out = render(&d, &opts, now).expect("render");
        bytes += out.text.len() + out.html.len();
    }
    let rendering = t.elapsed();

    println!(
        "  candidates loaded from SQLite: {} in {:.1} ms",
        matcher.candidates().len(),
        load.as_secs_f64() * 1e3
    );
    println!(
        "  (parsing the {n_profiles} queries alone, 1 thread: {:.1} ms)",
        parsing.as_secs_f64() * 1e3
    );
    println!(
        "  in-RAM candidate index built in {:.1} ms",
        build.as_secs_f64() * 1e3
    );
    println!(
        "  matched {n_profiles} profiles in {:.1} ms on 2 threads ({:.1} µs/profile); {total_matches} matches, {nonempty} non-empty digests",
        matching.as_secs_f64() * 1e3,
        matching.as_secs_f64() * 1e6 / n_profiles as f64
    );
    println!(
        "  total for all matches (load + index + match): {:.1} ms (target < 1000 ms)",
        (load + build + matching).as_secs_f64() * 1e3
    );
    println!(
        "  composed and rendered {nonempty} digests in {:.1} ms ({:.1} MB of text + HTML)",
        rendering.as_secs_f64() * 1e3,
        bytes as f64 / 1e6
    );
}
