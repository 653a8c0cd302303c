//! `fundwatch export`: the matching calls as iCalendar (one event per
//! deadline, for the officer's calendar), CSV or JSON.

use std::io::Write;

use chrono::Utc;
use clap::Args;

use fundwatch::export;
use fundwatch::index::Sort;

use super::search_cmd::Filters;
use super::{Cli, Exit};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_parser = ["ics", "csv", "json"])]
    format: String,
    /// Query (same syntax as `fundwatch search`); empty: every call passing the filters.
    #[arg(value_name = "QUERY")]
    query: Vec<String>,
    #[command(flatten)]
    filters: Filters,
}

pub fn run(cli: &Cli, args: &ExportArgs) -> anyhow::Result<Exit> {
    let mut req = args.filters.request(&args.query.join(" "))?;
    let index = super::index_cmd::open_for_search(cli)?;
    req.limit = usize::try_from(index.num_docs())
        .unwrap_or(usize::MAX)
        .max(1);
    req.sort = Sort::Deadline;
    let now = Utc::now();
    let hits = index.search(&req, now)?;
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "ics" => {
            let calls: Vec<_> = hits.into_iter().map(|h| h.call).collect();
            write!(out, "{}", export::to_ics(&calls, now))?;
        }
        "csv" => write!(out, "{}", export::to_csv(&hits))?,
        _ => writeln!(out, "{}", export::to_json(&hits))?,
    }
    Ok(Exit::Ok)
}
