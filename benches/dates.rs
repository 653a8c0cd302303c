//! Date extraction benchmark (issue: deadlines): throughput in MB/s and
//! phrases per second on a realistic text mix, and accuracy on labelled real
//! phrasings, printed side by side with Python's `dateparser`
//! (`search_dates`) on the same corpus and phrases, in one run.
//!
//! Run: `cargo bench --bench dates` (dateparser: `pip install dateparser`;
//! without it the dateparser column says so).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use fundwatch::dates::{DateContext, extract};
use fundwatch::model::{DateRole, Language, Precision};

/// Sentences of the kind that surround deadlines on call pages: numbers,
/// budgets, years and programme codes, but no date.
const FILLER_FR: &[&str] = &[
    "L'appel à projets vise à soutenir des collaborations entre laboratoires publics et entreprises.",
    "Le montant maximal de l'aide est de 200 000 euros par projet, pour une durée de 24 à 48 mois.",
    "Les projets doivent associer au moins deux établissements d'enseignement supérieur de la région.",
    "Le dossier comprend une description scientifique de 10 pages au maximum et une annexe financière.",
    "Les candidatures sont évaluées par un comité d'experts internationaux selon trois critères.",
    "Le programme finance la mobilité des doctorants et des chercheurs en début de carrière.",
    "Pour toute question, contactez le point de contact national du programme Horizon Europe.",
];
const FILLER_EN: &[&str] = &[
    "The call supports research and innovation actions with a budget of EUR 24 million for 4 projects.",
    "Applicants must form a consortium of at least three independent legal entities from three Member States.",
    "Proposals are evaluated on excellence, impact and the quality and efficiency of the implementation.",
    "The fellowship covers a living allowance, a mobility allowance and research, training and networking costs.",
    "Universities, research organisations and SMEs are eligible; see section 3 of the work programme 2025-2027.",
    "An information session for applicants will be held online; slides are published on the portal.",
    "The expected duration of the projects is 36 months, with a maximum EU contribution of EUR 6 million.",
];

struct Labelled {
    phrase: String,
    lang: Language,
    now: chrono::DateTime<Utc>,
    want: BTreeSet<String>,
}

fn load_labelled(path: &Path) -> Vec<Labelled> {
    let text = std::fs::read_to_string(path).expect("labelled phrases");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Labelled {
                phrase: f[0].replace("\\n", "\n"),
                lang: if f[1] == "fr" {
                    Language::Fr
                } else {
                    Language::En
                },
                now: NaiveDate::parse_from_str(f[2], "%Y-%m-%d")
                    .expect("now")
                    .and_hms_opt(12, 0, 0)
                    .expect("noon")
                    .and_utc(),
                want: if f[3] == "-" {
                    BTreeSet::new()
                } else {
                    f[3].split(',').map(str::to_owned).collect()
                },
            }
        })
        .collect()
}

fn ours_found(l: &Labelled) -> BTreeSet<String> {
    let ctx = DateContext {
        lang: l.lang,
        zone: chrono_tz::Europe::Paris,
        now: l.now,
    };
    extract(&l.phrase, &ctx)
        .into_iter()
        .filter(|f| f.role == DateRole::Deadline)
        .map(|f| match f.point.precision {
            Precision::Month => f.point.date_string(),
            _ => f.point.date.format("%Y-%m-%d").to_string(),
        })
        .collect()
}

fn ours_correct(l: &Labelled) -> bool {
    ours_found(l) == l.want
}

/// Documents of about 2–3 KB, each holding `per_doc` labelled phrases among
/// filler sentences, the way a call page holds its dates.
fn corpus(labelled: &[Labelled], docs: usize, per_doc: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(docs);
    let mut k = 0usize;
    for d in 0..docs {
        let filler = if d % 2 == 0 { FILLER_FR } else { FILLER_EN };
        let mut doc = String::new();
        for p in 0..per_doc {
            for s in 0..4 {
                doc.push_str(filler[(d + p + s) % filler.len()]);
                doc.push(' ');
            }
            doc.push('\n');
            doc.push_str(&labelled[k % labelled.len()].phrase);
            doc.push('\n');
            k += 1;
        }
        out.push(doc);
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let labelled_path = root.join("tests/fixtures/dates/labelled.tsv");
    let labelled = load_labelled(&labelled_path);
    let per_doc = 4;
    let docs = corpus(&labelled, 4000, per_doc);
    let bytes: usize = docs.iter().map(String::len).sum();

    // fundwatch: the whole corpus, best of 3.
    let ctx = DateContext {
        lang: Language::Fr,
        zone: chrono_tz::Europe::Paris,
        now: "2026-11-26T12:00:00Z".parse().expect("now"),
    };
    let mut best = f64::MAX;
    let mut found = 0usize;
    for _ in 0..3 {
        let t = Instant::now();
        found = docs.iter().map(|d| extract(d, &ctx).len()).sum();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let ours_mbs = bytes as f64 / best / 1e6;
    let ours_pps = (docs.len() * per_doc) as f64 / best;
    let ours_ok = labelled.iter().filter(|l| ours_correct(l)).count();

    // dateparser on the same documents (a prefix, within a time budget) and phrases.
    let tmp =
        std::env::temp_dir().join(format!("fundwatch-dates-bench-{}.json", std::process::id()));
    let payload =
        serde_json::json!({ "docs": docs, "seconds_budget": 20, "phrases_per_doc": per_doc });
    std::fs::write(&tmp, payload.to_string()).expect("write corpus");
    let py = Command::new("python3")
        .arg(root.join("benches/dateparser_bench.py"))
        .arg(&tmp)
        .arg(&labelled_path)
        .output();
    let _ = std::fs::remove_file(&tmp);
    let dp: serde_json::Value = match py {
        Ok(out) => serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            serde_json::json!({ "error": format!("dateparser run failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")) })
        }),
        Err(e) => serde_json::json!({ "error": format!("python3 not runnable: {e}") }),
    };

    println!(
        "date extraction — {} documents, {:.1} MB, {} labelled phrases",
        docs.len(),
        bytes as f64 / 1e6,
        labelled.len()
    );
    println!("(fundwatch found {found} dates in the corpus)\n");
    println!(
        "{:<22} {:>12} {:>14} {:>16}",
        "", "MB/s", "phrases/s", "accuracy"
    );
    println!(
        "{:<22} {:>12.2} {:>14.0} {:>9}/{} ({:.0}%)",
        "fundwatch",
        ours_mbs,
        ours_pps,
        ours_ok,
        labelled.len(),
        100.0 * ours_ok as f64 / labelled.len() as f64
    );
    if let Some(err) = dp.get("error") {
        println!(
            "{:<22} {}",
            "dateparser",
            err.as_str().unwrap_or("unavailable")
        );
        return;
    }
    let f = |k: &str| dp[k].as_f64().unwrap_or(0.0);
    println!(
        "{:<22} {:>12.4} {:>14.1} {:>9}/{} ({:.0}%)",
        format!("dateparser {}", dp["version"].as_str().unwrap_or("?")),
        f("mb_per_s"),
        f("phrases_per_s"),
        f("correct"),
        f("total"),
        100.0 * f("correct") / f("total").max(1.0)
    );
    for l in labelled.iter().filter(|l| !ours_correct(l)) {
        println!(
            "fundwatch missed: {:?}: expected {:?}, found {:?}",
            l.phrase,
            l.want,
            ours_found(l)
        );
    }
    println!(
        "\nspeed ratio: {:.0}× (MB/s); dateparser measured on {} of {} documents in {:.1} s",
        ours_mbs / f("mb_per_s").max(f64::MIN_POSITIVE),
        f("docs"),
        docs.len(),
        f("seconds")
    );
}
