//! Search latency and index size: fundwatch's tantivy index against SQLite
//! FTS5 (`unicode61 remove_diacritics 2`) on the same generated corpus and
//! the same queries.
//!
//! Run: `cargo bench --bench search` (N calls from `FUNDWATCH_BENCH_N`,
//! default 100000; rounds from `FUNDWATCH_BENCH_ROUNDS`, default 20; the
//! corpus from `FUNDWATCH_BENCH_CORPUS`, `realistic` by default or `dense`).
//!
//! The realistic corpus follows natural text: each call is about two or
//! three themes, content words follow Zipf's law over a 30,000-word
//! vocabulary per language, about half the words are function words, and
//! most calls open with their genre's set phrase. The dense corpus draws
//! every word from under a hundred, so every topic word is in nearly every
//! call of its language: no real collection looks like that, but it is the
//! worst case for every engine and stays as a stress test.
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
    sentences(rng, target, "", |rng| {
        if rng.below(6) == 0 {
            rng.pick(topic)
        } else {
            rng.pick(fill)
        }
    })
}

/// Sentences of 9 to 20 words from `word`, after `opening`, until `target`
/// bytes.
fn sentences<'w>(
    rng: &mut Rng,
    target: usize,
    opening: &str,
    mut word: impl FnMut(&mut Rng) -> &'w str,
) -> String {
    let mut s = String::with_capacity(target + 32);
    s.push_str(opening);
    let mut sentence = 0;
    while s.len() < target {
        let w = word(rng);
        push_word(&mut s, w, sentence == 0);
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

/// Which corpus the benchmark generates (`FUNDWATCH_BENCH_CORPUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Natural-language statistics: a few themes per call, a Zipfian
    /// vocabulary of content words among the function words, the genre's
    /// set phrases in most calls. The default, and the figure the targets
    /// are judged on.
    Realistic,
    /// Every topic word in nearly every call of its language (a 95-word
    /// vocabulary): the worst case for any engine, kept as a stress test.
    Dense,
}

/// Syllables of the generated content words, per language.
const FR_SYLLABLES: &[&str] = &[
    "ca", "ti", "on", "ré", "mé", "dé", "pro", "vé", "lo", "gie", "ma", "ter", "ri", "té", "que",
    "son", "cu", "la", "men", "tal", "phy", "si", "bio", "chi", "mie", "go", "nal", "eur", "age",
    "is", "me",
];
const EN_SYLLABLES: &[&str] = &[
    "ca", "ti", "on", "re", "me", "de", "pro", "ve", "lo", "gy", "ma", "ter", "ri", "ty", "ic",
    "son", "cu", "la", "ment", "al", "phy", "si", "bio", "chem", "ing", "go", "nal", "er", "age",
    "ism", "ous",
];

/// Zipf's law over `words`: rank r drawn with weight 1/r, as word
/// frequencies in natural text are.
struct Zipf {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(rng: &mut Rng, syllables: &[&str], size: usize) -> Zipf {
        let words: Vec<String> = (0..size)
            .map(|_| {
                let n = 2 + rng.below(3);
                (0..n).map(|_| rng.pick(syllables)).collect()
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (1..=size)
            .map(|r| {
                total += 1.0 / r as f64;
                total
            })
            .collect();
        Zipf { words, cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> &str {
        let last = self.cumulative.last().copied().unwrap_or(1.0);
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * last;
        let i = self.cumulative.partition_point(|c| *c < u);
        &self.words[i.min(self.words.len() - 1)]
    }
}

/// The realistic corpus's word source for one call.
struct Realistic<'a> {
    fill: &'static [&'static str],
    vocabulary: &'a Zipf,
    themes: Vec<&'static str>,
    genre: Option<&'static str>,
}

impl Realistic<'_> {
    /// `target` characters: function words (about half the words of real
    /// text), content words by Zipf's law, and the call's own theme words;
    /// the genre phrase opens the text when the call uses it.
    fn prose(&self, rng: &mut Rng, target: usize, with_genre: bool) -> String {
        let opening = match self.genre {
            Some(g) if with_genre => format!("{g} "),
            _ => String::new(),
        };
        sentences(rng, target, &opening, |rng| {
            let roll = rng.below(100);
            if roll < 50 {
                rng.pick(self.fill)
            } else if roll < 96 || self.themes.is_empty() {
                self.vocabulary.sample(rng)
            } else {
                self.themes[rng.below(self.themes.len())]
            }
        })
    }
}

fn push_word(s: &mut String, w: &str, capital: bool) {
    if capital {
        let mut c = w.chars();
        if let Some(first) = c.next() {
            s.extend(first.to_uppercase());
            s.push_str(c.as_str());
        }
    } else {
        s.push_str(w);
    }
}

fn corpus(n: usize, shape: Shape) -> Vec<Call> {
    let mut rng = Rng(0x00F0_0D5E_ED00);
    let fr_vocabulary = Zipf::new(&mut rng, FR_SYLLABLES, 30_000);
    let en_vocabulary = Zipf::new(&mut rng, EN_SYLLABLES, 30_000);
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
            let (title, summary, text) = match shape {
                Shape::Dense => (
                    prose(&mut rng, fr, title_len),
                    prose(&mut rng, fr, summary_len),
                    prose(&mut rng, fr, text_len),
                ),
                Shape::Realistic => {
                    // Two or three themes per call; the genre's set phrase
                    // in 70 % of French calls ("appel à projets") and half
                    // the English ones ("call for proposals").
                    let topics = if fr { FR_TOPIC } else { EN_TOPIC };
                    let themes = (0..2 + rng.below(2)).map(|_| rng.pick(topics)).collect();
                    let genre = match (fr, rng.below(10)) {
                        (true, 0..7) => Some("appel à projets"),
                        (false, 0..5) => Some("call for proposals"),
                        _ => None,
                    };
                    let words = Realistic {
                        fill: if fr { FR_FILL } else { EN_FILL },
                        vocabulary: if fr { &fr_vocabulary } else { &en_vocabulary },
                        themes,
                        genre,
                    };
                    (
                        words.prose(&mut rng, title_len, false),
                        words.prose(&mut rng, summary_len, false),
                        words.prose(&mut rng, text_len, true),
                    )
                }
            };
            Call {
                id: format!("bench-{i:06}"),
                source_id: "bench".into(),
                native_id: None,
                url: format!("https://example.org/calls/{i}"),
                title,
                summary,
                text,
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

    let shape = match std::env::var("FUNDWATCH_BENCH_CORPUS").as_deref() {
        Ok("dense") => Shape::Dense,
        Ok("realistic") | Err(_) => Shape::Realistic,
        Ok(other) => {
            return Err(format!("FUNDWATCH_BENCH_CORPUS={other}: use realistic or dense").into());
        }
    };
    let t = Instant::now();
    let calls = corpus(n, shape);
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
        "corpus: {shape:?}, {n} calls ({:.0} MB text), {rounds} rounds × {} queries, top 20 with snippet",
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
