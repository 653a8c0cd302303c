//! Search latency and index size: fundwatch's tantivy index against SQLite
//! FTS5 (`unicode61 remove_diacritics 2`) on the same generated corpus and
//! the same queries.
//!
//! Run: `cargo bench --bench search` (N calls from `FUNDWATCH_BENCH_N`,
//! default 100000; rounds from `FUNDWATCH_BENCH_ROUNDS`, default 20).
//!
//! The two sides do comparable work per query: top 20 by BM25 with a
//! highlighted excerpt and the title. They do not find the same calls:
//! FTS5 has no French/English stemming and no glossary, which is why
//! fundwatch uses tantivy; the table shows what that costs in time and disk.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use fundwatch::index::{IndexHandle, SearchRequest};
use fundwatch::model::{Call, DatePoint, Language, Level, Status};
use fundwatch::store::Store;

/// splitmix64: a deterministic corpus without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FR_TOPIC: &[&str] = &[
    "mobilité",
    "mobilités",
    "doctorants",
    "doctorant",
    "chercheurs",
    "chercheuse",
    "recherche",
    "partenariat",
    "partenariats",
    "subvention",
    "bourse",
    "bourses",
    "enseignement supérieur",
    "coopération internationale",
    "santé",
    "numérique",
    "changement climatique",
    "énergie",
    "agriculture",
    "biodiversité",
    "intelligence artificielle",
    "sciences humaines",
    "innovation",
    "formation",
    "étudiants",
    "laboratoires",
    "universités",
    "événement",
    "colloque",
    "transfert de technologie",
    "science ouverte",
    "développement durable",
    "jeunes chercheurs",
    "appel à projets",
    "séjour de recherche",
    "professeur invité",
    "Afrique",
    "Brésil",
    "Japon",
    "Inde",
    "Allemagne",
    "Autriche",
    "Québec",
    "région",
    "métropole",
];
const FR_FILL: &[&str] = &[
    "le",
    "la",
    "les",
    "des",
    "du",
    "un",
    "une",
    "et",
    "pour",
    "dans",
    "sur",
    "avec",
    "par",
    "projet",
    "projets",
    "dossier",
    "candidature",
    "date",
    "limite",
    "dépôt",
    "financement",
    "programme",
    "établissement",
    "équipe",
    "soutien",
    "action",
    "objectif",
    "durée",
    "mois",
    "montant",
    "maximum",
    "éligibles",
    "porteur",
    "plateforme",
    "thématique",
    "priorité",
    "international",
    "européen",
    "national",
    "régional",
    "appel",
    "lauréats",
    "sélection",
    "évaluation",
    "comité",
    "critères",
    "budget",
    "dépenses",
    "frais",
    "voyage",
];
const EN_TOPIC: &[&str] = &[
    "mobility",
    "doctoral",
    "PhD candidates",
    "researchers",
    "research",
    "partnership",
    "partnerships",
    "grant",
    "grants",
    "fellowship",
    "fellowships",
    "higher education",
    "international cooperation",
    "health",
    "digital",
    "climate change",
    "energy",
    "agriculture",
    "biodiversity",
    "artificial intelligence",
    "social sciences",
    "innovation",
    "training",
    "students",
    "laboratories",
    "universities",
    "university",
    "conference",
    "technology transfer",
    "open science",
    "sustainable development",
    "early career researchers",
    "call for proposals",
    "research stay",
    "visiting professor",
    "Africa",
    "Brazil",
    "Japan",
    "India",
    "Germany",
    "networks",
    "consortium",
];
const EN_FILL: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "for",
    "with",
    "on",
    "by",
    "a",
    "an",
    "project",
    "projects",
    "proposal",
    "application",
    "deadline",
    "submission",
    "funding",
    "programme",
    "institution",
    "team",
    "support",
    "action",
    "objective",
    "duration",
    "months",
    "amount",
    "maximum",
    "eligible",
    "applicant",
    "portal",
    "topic",
    "priority",
    "international",
    "European",
    "national",
    "call",
    "awards",
    "selection",
    "evaluation",
    "panel",
    "criteria",
    "budget",
    "costs",
    "travel",
    "expected",
    "outcomes",
    "impact",
    "scope",
];
const FUNDERS: &[(&str, Level)] = &[
    ("Région Auvergne-Rhône-Alpes", Level::Regional),
    ("ANR", Level::National),
    ("Campus France", Level::International),
    ("European Commission", Level::Eu),
    ("UKRI", Level::International),
    ("NSF", Level::International),
    ("Erasmus+", Level::Eu),
];
const PROGRAMMES: &[&str] = &[
    "Horizon Europe",
    "Erasmus+",
    "PHC",
    "AAPG",
    "Pack Ambition International",
    "MSCA",
    "Future Leaders",
    "ERC",
];

/// `target` characters of text: topic words sprinkled in filler.
fn prose(rng: &mut Rng, fr: bool, target: usize) -> String {
    let (topic, fill) = if fr {
        (FR_TOPIC, FR_FILL)
    } else {
        (EN_TOPIC, EN_FILL)
    };
    let mut s = String::with_capacity(target + 32);
    let mut sentence = 0;
    while s.len() < target {
        let w = if rng.below(6) == 0 {
            rng.pick(topic)
        } else {
            rng.pick(fill)
        };
        if sentence == 0 {
            let mut c = w.chars();
            if let Some(first) = c.next() {
                s.extend(first.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push_str(w);
        }
        sentence += 1;
        if sentence > 8 + rng.below(12) {
            s.push_str(". ");
            sentence = 0;
        } else {
            s.push(' ');
        }
    }
    s.truncate(s.trim_end().len());
    s
}

fn corpus(n: usize) -> Vec<Call> {
    let mut rng = Rng(0x00F0_0D5E_ED00);
    let paris = chrono_tz::Europe::Paris;
    (0..n)
        .map(|i| {
            let fr = rng.below(2) == 0;
            let (funder, level) = FUNDERS[rng.below(FUNDERS.len())];
            let day = NaiveDate::from_ymd_opt(2025, 1, 1)
                .and_then(|d| d.checked_add_days(chrono::Days::new(rng.below(800) as u64)))
                .unwrap_or_default();
            let text_len = 2_000 + rng.below(4_000);
            let title_len = 70 + rng.below(20);
            let summary_len = 250 + rng.below(100);
            Call {
                id: format!("bench-{i:06}"),
                source_id: "bench".into(),
                native_id: None,
                url: format!("https://example.org/calls/{i}"),
                title: prose(&mut rng, fr, title_len),
                summary: prose(&mut rng, fr, summary_len),
                text: prose(&mut rng, fr, text_len),
                funder: funder.into(),
                programme: Some(PROGRAMMES[rng.below(PROGRAMMES.len())].into()),
                level,
                language: if fr { Language::Fr } else { Language::En },
                opening: None,
                deadlines: vec![DatePoint::day(day, paris, "")],
                status: if rng.below(3) == 0 {
                    Status::Closed
                } else {
                    Status::Open
                },
                budget: None,
                tags: Vec::new(),
                identifiers: Vec::new(),
            }
        })
        .collect()
}

/// The query mix, in fundwatch syntax and the FTS5 equivalent.
const QUERIES: &[(&str, &str)] = &[
    ("mobilité", "mobilité"),
    ("doctorants", "doctorants"),
    ("universities", "universities"),
    ("\"appel à projets\"", "\"appel à projets\""),
    ("\"call for proposals\"", "\"call for proposals\""),
    ("climate change", "climate change"),
    ("santé numérique", "santé numérique"),
    ("bourse OR fellowship", "bourse OR fellowship"),
    ("chercheurs NOT Japon", "chercheurs NOT Japon"),
    ("title:innovation", "title:innovation"),
    ("evenement colloque", "evenement colloque"),
    (
        "Brazil AND partnership AND energy",
        "Brazil AND partnership AND energy",
    ),
];

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                total += dir_size(&path);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let median = v[v.len() / 2];
    let p99 = v[((v.len() as f64 * 0.99).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)];
    (median, p99)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("FUNDWATCH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("FUNDWATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::TempDir::new()?;
    let now = Utc
        .with_ymd_and_hms(2025, 11, 20, 10, 0, 0)
        .single()
        .ok_or("bad now")?;

    let t = Instant::now();
    let calls = corpus(n);
    let text_bytes: usize = calls
        .iter()
        .map(|c| c.title.len() + c.summary.len() + c.text.len())
        .sum();
    eprintln!(
        "corpus: {n} calls, {:.0} MB of text, generated in {:.1?}",
        text_bytes as f64 / 1e6,
        t.elapsed()
    );

    // fundwatch's own pipeline: the calls into SQLite (the truth, one
    // transaction per batch of 1,000 as a crawl of a big source would do),
    // then the index built from the database, as `fundwatch reindex` does.
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let index_dir = data_dir.join("index");
    let t = Instant::now();
    let mut store = Store::open(&data_dir.join("fundwatch.db"))?;
    for batch in calls.chunks(1_000) {
        store.apply_calls("bench", batch, now)?;
    }
    let sqlite_build = t.elapsed();
    let handle = IndexHandle::create(&index_dir)?;
    let t = Instant::now();
    fundwatch::sync::rebuild(&store, &handle)?;
    let tantivy_build = t.elapsed();
    let ingest_total = sqlite_build + tantivy_build;
    let tantivy_size = dir_size(&index_dir);
    eprintln!(
        "fundwatch: SQLite in {sqlite_build:.1?} + index in {tantivy_build:.1?}, index {} MB",
        tantivy_size / 1_000_000
    );
    drop(store);

    // SQLite FTS5
    let db_path = tmp.path().join("fts.sqlite");
    let mut db = rusqlite::Connection::open(&db_path)?;
    let has_fts5: bool = db
        .prepare("PRAGMA compile_options")?
        .query_map([], |r| r.get::<_, String>(0))?
        .filter_map(Result::ok)
        .any(|o| o == "ENABLE_FTS5");
    if !has_fts5 {
        return Err("the bundled SQLite lacks FTS5 (ENABLE_FTS5 not in compile_options)".into());
    }
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE VIRTUAL TABLE calls_fts USING fts5(
             id UNINDEXED, title, summary, text, funder, programme,
             tokenize = 'unicode61 remove_diacritics 2');",
    )?;
    let t = Instant::now();
    {
        let tx = db.transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO calls_fts (id, title, summary, text, funder, programme)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for c in &calls {
                ins.execute(rusqlite::params![
                    c.id,
                    c.title,
                    c.summary,
                    c.text,
                    c.funder,
                    c.programme
                ])?;
            }
        }
        tx.commit()?;
    }
    db.execute_batch(
        "INSERT INTO calls_fts(calls_fts) VALUES('optimize'); PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    let fts_build = t.elapsed();
    let fts_size = std::fs::metadata(&db_path)?.len();
    eprintln!(
        "fts5: built in {fts_build:.1?}, {} MB",
        fts_size / 1_000_000
    );

    // Latency: every query of the mix, `rounds` times, after one warm-up pass.
    let mut per_query: Vec<(Vec<Duration>, Vec<Duration>, usize, usize)> = QUERIES
        .iter()
        .map(|_| (Vec::new(), Vec::new(), 0, 0))
        .collect();
    let mut stmt = db.prepare(
        "SELECT id, title, snippet(calls_fts, 3, '«', '»', '…', 24)
         FROM calls_fts WHERE calls_fts MATCH ?1 ORDER BY rank LIMIT 20",
    )?;
    for round in 0..=rounds {
        for (i, (tq, fq)) in QUERIES.iter().enumerate() {
            let t = Instant::now();
            let hits = handle.search(&SearchRequest::new(*tq), now)?;
            let dt = t.elapsed();
            let t = Instant::now();
            let rows: Vec<(String, String, String)> = stmt
                .query_map([fq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let df = t.elapsed();
            if round > 0 {
                per_query[i].0.push(dt);
                per_query[i].1.push(df);
            }
            per_query[i].2 = hits.len();
            per_query[i].3 = rows.len();
        }
    }

    println!();
    println!(
        "corpus: {n} calls ({:.0} MB text), {rounds} rounds × {} queries, top 20 with snippet",
        text_bytes as f64 / 1e6,
        QUERIES.len()
    );
    println!();
    println!("| engine | build | size on disk | median | p99 |");
    println!("| --- | --- | --- | --- | --- |");
    let all_t: Vec<Duration> = per_query.iter().flat_map(|q| q.0.iter().copied()).collect();
    let all_f: Vec<Duration> = per_query.iter().flat_map(|q| q.1.iter().copied()).collect();
    let (tm, tp) = stats(all_t);
    let (fm, fp) = stats(all_f);
    println!(
        "| fundwatch: SQLite + tantivy (FR+EN stems, glossary) | {ingest_total:.1?} ({sqlite_build:.1?} + {tantivy_build:.1?}) | {:.0} MB (index) | {} | {} |",
        tantivy_size as f64 / 1e6,
        ms(tm),
        ms(tp)
    );
    println!(
        "| SQLite FTS5 unicode61 remove_diacritics 2 | {fts_build:.1?} | {:.0} MB | {} | {} |",
        fts_size as f64 / 1e6,
        ms(fm),
        ms(fp)
    );
    println!();
    println!("| query | tantivy median | tantivy p99 | hits | FTS5 median | FTS5 p99 | hits |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for ((tq, _), (t, f, th, fh)) in QUERIES.iter().zip(per_query) {
        let (tm, tp) = stats(t);
        let (fm, fp) = stats(f);
        println!(
            "| `{tq}` | {} | {} | {th} | {} | {} | {fh} |",
            ms(tm),
            ms(tp),
            ms(fm),
            ms(fp)
        );
    }

    // Whole process: `fundwatch search` as the officer runs it (open the
    // database and the index, search, print), wall time over the same mix.
    let bin = env!("CARGO_BIN_EXE_fundwatch");
    let mut walls = Vec::new();
    for round in 0..=3 {
        for (tq, _) in QUERIES {
            let t = Instant::now();
            let out = std::process::Command::new(bin)
                .arg("--data-dir")
                .arg(&data_dir)
                .args(["search", tq])
                .output()?;
            let dt = t.elapsed();
            if !out.status.success() {
                return Err(format!(
                    "fundwatch search {tq}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            if round > 0 {
                walls.push(dt);
            }
        }
    }
    let (wm, wp) = stats(walls);
    println!();
    println!(
        "whole-process `fundwatch search` (release binary {bin}): median {}, p99 {}",
        ms(wm),
        ms(wp)
    );
    println!(
        "targets: ingest < 60 s ({}), p99 <= 5 ms ({}), p99 at least 3x better than FTS5 ({:.1}x), process median <= 25 ms ({})",
        if ingest_total.as_secs_f64() < 60.0 {
            "met"
        } else {
            "NOT met"
        },
        if tp <= Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        },
        fp.as_secs_f64() / tp.as_secs_f64().max(1e-9),
        if wm <= Duration::from_millis(25) {
            "met"
        } else {
            "NOT met"
        },
    );
    Ok(())
}
