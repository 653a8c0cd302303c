//! `fundwatch sources list|check`: the officer's view of source health, and
//! the tool for writing selectors (fetch and extract one source, store
//! nothing).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;

use fundwatch::crawl::{self, Sink};
use fundwatch::fetch::Fetcher;
use fundwatch::model::Call;
use fundwatch::store::{SourceState, Store};

use super::{Cli, Exit};

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Each source with kind, schedule, next run, last success, last error,
    /// consecutive failures and calls stored.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch and extract one source without storing anything, and print what
    /// was extracted.
    Check {
        /// Source id.
        id: String,
        /// Print the extracted calls as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, cmd: &SourcesCommand) -> anyhow::Result<Exit> {
    match cmd {
        SourcesCommand::List { json } => list(cli, *json),
        SourcesCommand::Check { id, json } => check(cli, id, *json),
    }
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

fn list(cli: &Cli, json: bool) -> anyhow::Result<Exit> {
    let sources = cli.load_sources()?;
    let now = Utc::now();
    // Listing must work before the first crawl: no database yet is not an error.
    let (states, counts) = if cli.db_path().exists() {
        let store = Store::open(&cli.db_path())
            .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
        (store.source_states()?, store.calls_per_source()?)
    } else {
        (Vec::new(), Default::default())
    };
    let mut rows = Vec::new();
    for s in &sources.list {
        let state = states.iter().find(|st| st.id == s.id);
        let next = state
            .and_then(|st| st.next_run)
            .or_else(|| s.schedule.next_after(now, s.timezone));
        rows.push(json!({
            "id": s.id,
            "name": s.name,
            "kind": s.kind.name(),
            "url": s.url.as_str(),
            "schedule": s.schedule.expr,
            "next_run": next,
            "last_attempt": state.and_then(|st| st.last_attempt),
            "last_success": state.and_then(|st| st.last_success),
            "last_error": state.and_then(|st| st.last_error.clone()),
            "last_error_at": state.and_then(|st| st.last_error_at),
            "consecutive_failures": state.map(|st| st.consecutive_failures).unwrap_or(0),
            "failing_since": state.and_then(|st| st.failing_since),
            "calls": counts.get(&s.id).copied().unwrap_or(0),
        }));
    }
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:<26} {:<9} {:<14} {:<16} {:<16} {:>5} {:>6}  last error",
        "id", "kind", "schedule", "next run", "last success", "fails", "calls"
    )?;
    for (s, row) in sources.list.iter().zip(&rows) {
        let state = states.iter().find(|st| st.id == s.id);
        let next = row["next_run"].as_str().and_then(|t| t.parse().ok());
        writeln!(
            out,
            "{:<26} {:<9} {:<14} {:<16} {:<16} {:>5} {:>6}  {}",
            s.id,
            s.kind.name(),
            s.schedule.expr,
            fmt_time(next),
            fmt_time(state.and_then(|st| st.last_success)),
            state.map(|st| st.consecutive_failures).unwrap_or(0),
            counts.get(&s.id).copied().unwrap_or(0),
            state.map(last_error_cell).unwrap_or_default(),
        )?;
    }
    Ok(Exit::Ok)
}

/// The "last error" cell: the message with its time. The error is kept
/// after a later success (it is the source's history), and undated it read
/// as a current failure next to "fails 0".
fn last_error_cell(state: &SourceState) -> String {
    match &state.last_error {
        Some(e) => format!("{}: {e}", fmt_time(state.last_error_at)),
        None => String::new(),
    }
}

fn check(cli: &Cli, id: &str, json: bool) -> anyhow::Result<Exit> {
    let sources = cli.load_sources()?;
    let selected = super::crawl_cmd::select(&sources, &[id.to_owned()])?;
    let source = selected[0];
    let fetcher = Fetcher::new(&source.fetch).context("cannot set up the HTTP client")?;
    let runtime = super::runtime()?;
    let now = Utc::now();
    let report = runtime.block_on(crawl::crawl_source(&fetcher, source, &Sink::DryRun, now));
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({
                "source": report.source,
                "fetched": report.fetched,
                "errors": report.errors,
                "warnings": report.warnings,
                "calls": report.calls,
            }))?
        )?;
    } else {
        writeln!(
            out,
            "{} ({}): {} documents fetched, {} calls extracted",
            source.id,
            source.url,
            report.fetched,
            report.calls.len()
        )?;
        for c in &report.calls {
            print_call_brief(&mut out, c, now)?;
        }
        for w in &report.warnings {
            writeln!(out, "warning: {w}")?;
        }
        for e in &report.errors {
            writeln!(out, "error: {e}")?;
        }
    }
    Ok(if report.failed() {
        Exit::Partial
    } else {
        Exit::Ok
    })
}

/// A few lines per call: title, URL, status, deadlines.
pub fn print_call_brief(out: &mut impl Write, c: &Call, now: DateTime<Utc>) -> std::io::Result<()> {
    writeln!(out, "\n* {}", c.title)?;
    writeln!(out, "  {}", c.url)?;
    writeln!(
        out,
        "  id {}  status {}  funder {}{}",
        c.id,
        c.status,
        c.funder,
        c.programme
            .as_deref()
            .map(|p| format!("  programme {p}"))
            .unwrap_or_default()
    )?;
    if let Some(o) = &c.opening {
        writeln!(
            out,
            "  opens     {}",
            super::show_cmd::describe_date(o, now)
        )?;
    }
    for d in &c.deadlines {
        writeln!(
            out,
            "  deadline  {}",
            super::show_cmd::describe_date(d, now)
        )?;
    }
    if c.deadlines.is_empty() {
        writeln!(out, "  deadline  (none found)")?;
    }
    if !c.summary.is_empty() {
        let s: String = c.summary.chars().take(160).collect();
        writeln!(
            out,
            "  {s}{}",
            if c.summary.chars().count() > 160 {
                "…"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}
