//! `fundwatch crawl`: crawls the chosen sources once, now, stores what they
//! hold and says per source what happened. Exit code 2 when some failed.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use futures_util::StreamExt;

use fundwatch::config::{Source, Sources};
use fundwatch::crawl::{self, CrawlReport, Sink};
use fundwatch::fetch::Fetcher;
use fundwatch::store::Store;

use super::{Cli, Exit, InvalidInput};

/// Sources crawled at once; the fetcher still serialises requests per host.
const PARALLEL_SOURCES: usize = 8;

#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Crawl only this source (repeatable); default: all sources.
    #[arg(long = "source", value_name = "ID")]
    only: Vec<String>,
    /// Print a JSON array of {source, fetched, new, updated, unchanged, errors, warnings}.
    #[arg(long)]
    json: bool,
}

/// The sources named on the command line, or all of them.
pub fn select<'a>(sources: &'a Sources, ids: &[String]) -> Result<Vec<&'a Source>, InvalidInput> {
    if ids.is_empty() {
        return Ok(sources.list.iter().collect());
    }
    ids.iter()
        .map(|id| {
            sources.get(id).ok_or_else(|| {
                InvalidInput(format!(
                    "no source {id:?} in {}; known ids: {}",
                    sources.path.display(),
                    sources
                        .list
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}

/// Crawls `selected` with at most [`PARALLEL_SOURCES`] at once, ticking `progress`.
pub async fn crawl_all(
    fetcher: &Fetcher,
    selected: &[&Source],
    sink: &Sink,
    progress: &indicatif::ProgressBar,
) -> Vec<CrawlReport> {
    let now = Utc::now();
    let mut reports: Vec<CrawlReport> = futures_util::stream::iter(selected.iter().copied())
        .map(|s| async move {
            let r = crawl::crawl_source(fetcher, s, sink, now).await;
            progress.inc(1);
            progress.set_message(s.id.clone());
            r
        })
        .buffer_unordered(PARALLEL_SOURCES)
        .collect()
        .await;
    // Report in file order, whatever order they finished in.
    reports.sort_by_key(|r| selected.iter().position(|s| s.id == r.source));
    reports
}

pub fn progress_bar(len: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} sources  {msg}")
    {
        bar.set_style(style);
    }
    bar
}

pub fn run(cli: &Cli, args: &CrawlArgs) -> anyhow::Result<Exit> {
    let sources = cli.load_sources()?;
    let selected = select(&sources, &args.only)?;
    super::ensure_dir(&cli.data_dir)?;
    let _lock = match super::daemon_cmd::lock_for_one_shot(cli, "crawl")? {
        Ok(lock) => lock,
        Err(busy) => return Ok(busy),
    };
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let store = Arc::new(Mutex::new(store));
    let fetcher = Fetcher::new(
        &selected
            .first()
            .map(|s| s.fetch.clone())
            .unwrap_or_default(),
    )
    .context("cannot set up the HTTP client")?;
    let runtime = super::runtime()?;
    let progress = progress_bar(selected.len(), args.json);
    let reports = runtime.block_on(crawl_all(
        &fetcher,
        &selected,
        &Sink::Store(store.clone()),
        &progress,
    ));
    progress.finish_and_clear();
    {
        let mut store = fundwatch::store::lock(&store);
        // Calls of sources not crawled now still close when their last
        // deadline passes.
        store
            .refresh_statuses(chrono::Utc::now())
            .context("recomputing the statuses of stored calls")?;
        super::index_cmd::update_index(cli, &store)?;
    }
    print_reports(&reports, args.json)?;
    Ok(if reports.iter().any(CrawlReport::failed) {
        Exit::Partial
    } else {
        Exit::Ok
    })
}

fn print_reports(reports: &[CrawlReport], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(reports)?)?;
        return Ok(());
    }
    for r in reports {
        if r.failed() {
            writeln!(out, "{:<28} FAILED: {}", r.source, r.errors.join("; "))?;
            continue;
        }
        let note = if r.not_modified {
            "  (not modified)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<28} fetched {:>3}  new {:>4}  updated {:>4}  unchanged {:>4}  failed 0{}",
            r.source, r.fetched, r.new, r.updated, r.unchanged, note
        )?;
        for w in &r.warnings {
            writeln!(out, "{:<28}   warning: {w}", "")?;
        }
    }
    let failed = reports.iter().filter(|r| r.failed()).count();
    if failed == reports.len() && failed > 0 {
        writeln!(
            out,
            "every source failed ({failed}); nothing new was stored: check the network."
        )?;
    } else if failed > 0 {
        writeln!(
            out,
            "{failed} of {} sources failed; the others were stored.",
            reports.len()
        )?;
    }
    Ok(())
}
