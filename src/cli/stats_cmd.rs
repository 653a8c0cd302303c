//! `fundwatch stats`: the indicators the officer reports on.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use chrono::Utc;
use clap::Args;

use fundwatch::stats::Stats;
use fundwatch::store::{Store, StoreError};

use super::{Cli, Exit, InvalidInput};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn section(
    out: &mut impl Write,
    title: &str,
    counts: &BTreeMap<String, u64>,
    by_count: bool,
) -> std::io::Result<()> {
    writeln!(out, "\n{title}")?;
    let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
    if by_count {
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    }
    for (k, v) in rows {
        writeln!(out, "  {v:>7}  {k}")?;
    }
    Ok(())
}

pub fn run(cli: &Cli, args: &StatsArgs) -> anyhow::Result<Exit> {
    if !cli.db_path().exists() {
        return Err(InvalidInput(format!(
            "no database at {}: run `fundwatch crawl` first",
            cli.db_path().display()
        ))
        .into());
    }
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let now = Utc::now();
    let mut stats = Stats::default();
    store.for_each_call(|c| {
        let sources: Vec<String> = c.links.iter().map(|l| l.source_id.clone()).collect();
        stats.add(&c.call, c.first_seen, &sources, now);
        Ok::<_, StoreError>(())
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
        return Ok(Exit::Ok);
    }
    writeln!(out, "{} calls", stats.total)?;
    section(&mut out, "by level", &stats.by_level, true)?;
    section(&mut out, "by status", &stats.by_status, true)?;
    section(&mut out, "by funder", &stats.by_funder, true)?;
    section(&mut out, "by programme", &stats.by_programme, true)?;
    section(
        &mut out,
        "open and forthcoming calls by month of next deadline",
        &stats.open_by_deadline_month,
        false,
    )?;
    section(
        &mut out,
        "new calls per week (first seen)",
        &stats.new_per_week,
        false,
    )?;
    section(&mut out, "calls per source", &stats.per_source, true)?;
    Ok(Exit::Ok)
}
