//! `fundwatch search`: the officer's daily tool. Full-text query plus
//! filters over the index; a table on a terminal, JSON or CSV for scripts.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use fundwatch::export;
use fundwatch::index::{Hit, SearchRequest, Sort};
use fundwatch::model::{Level, Status};

use super::{Cli, Exit, InvalidInput};

/// Filters shared by `search`, `export` and profile tests.
#[derive(Debug, Args, Clone, Default)]
pub struct Filters {
    /// Only this level (repeatable): regional, national, eu, international.
    #[arg(long = "level", value_name = "LEVEL")]
    pub levels: Vec<String>,
    /// Only this funder, whole name (repeatable).
    #[arg(long = "funder", value_name = "NAME")]
    pub funders: Vec<String>,
    /// Only this programme, whole name (repeatable).
    #[arg(long = "programme", value_name = "NAME")]
    pub programmes: Vec<String>,
    /// Only this status (repeatable): forthcoming, open, closed.
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,
    /// Some deadline on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub deadline_after: Option<String>,
    /// Some deadline on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub deadline_before: Option<String>,
    /// Next deadline within this many days.
    #[arg(long, value_name = "DAYS")]
    pub closing_within: Option<u32>,
    /// Only calls reported by this source (repeatable).
    #[arg(long = "source", value_name = "ID")]
    pub only_sources: Vec<String>,
}

fn parse_date(flag: &str, s: &str) -> Result<NaiveDate, InvalidInput> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| InvalidInput(format!("{flag} {s:?}: expected a date as YYYY-MM-DD")))
}

impl Filters {
    /// Validates the flags into a search request for `query`.
    pub fn request(&self, query: &str) -> Result<SearchRequest, InvalidInput> {
        let levels = self
            .levels
            .iter()
            .flat_map(|l| l.split(','))
            .map(|l| {
                l.parse::<Level>()
                    .map_err(|e| InvalidInput(format!("--level: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let statuses = self
            .statuses
            .iter()
            .flat_map(|l| l.split(','))
            .map(|l| {
                l.parse::<Status>()
                    .map_err(|e| InvalidInput(format!("--status: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(SearchRequest {
            query: query.to_owned(),
            levels,
            funders: self.funders.clone(),
            programmes: self.programmes.clone(),
            statuses,
            languages: Vec::new(),
            sources: self.only_sources.clone(),
            deadline_after: self
                .deadline_after
                .as_deref()
                .map(|s| parse_date("--deadline-after", s))
                .transpose()?,
            deadline_before: self
                .deadline_before
                .as_deref()
                .map(|s| parse_date("--deadline-before", s))
                .transpose()?,
            closing_within: self.closing_within,
            ..SearchRequest::default()
        })
    }
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query: words, "phrases", AND / OR / NOT, field:value (title:, funder:,
    /// programme:, tags:, level:, status: ...). Empty: everything that passes the filters.
    #[arg(value_name = "QUERY")]
    query: Vec<String>,
    #[command(flatten)]
    filters: Filters,
    /// Order of the results.
    #[arg(long, value_parser = ["relevance", "deadline"], default_value = "relevance")]
    sort: String,
    /// Maximum number of results.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print a JSON array of {id, title, url, funder, level, status, programme, score, deadlines, snippet}.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (for spreadsheets).
    #[arg(long)]
    csv: bool,
}

/// "2027-01-28 17:00 +01:00 (in 63 d)": the officer's local time (TZ).
fn next_deadline_cell(h: &Hit, now: DateTime<Utc>) -> String {
    let Some(d) = &h.next_deadline else {
        return "-".to_owned();
    };
    let local = match d.at {
        Some(at) => at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string(),
        None => d.date_string(),
    };
    let days = (d.cutoff() - now).num_days();
    format!("{local} (in {days} d)")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!(
            "{}…",
            s.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    }
}

pub fn run(cli: &Cli, args: &SearchArgs) -> anyhow::Result<Exit> {
    let query = args.query.join(" ");
    let mut req = args.filters.request(&query)?;
    req.sort = if args.sort == "deadline" {
        Sort::Deadline
    } else {
        Sort::Relevance
    };
    req.limit = args.limit;
    let index = super::index_cmd::open_for_search(cli)?;
    let now = Utc::now();
    let hits = index.search(&req, now)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", export::to_json(&hits))?;
        return Ok(Exit::Ok);
    }
    if args.csv {
        write!(out, "{}", export::to_csv(&hits))?;
        return Ok(Exit::Ok);
    }
    if hits.is_empty() {
        writeln!(out, "no call matches")?;
        return Ok(Exit::Ok);
    }
    let (open, close) = if std::io::stdout().is_terminal() {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    writeln!(
        out,
        "{:<34} {:<60} {:<24} {:<13} id",
        "next deadline", "title", "funder", "level"
    )?;
    for h in &hits {
        writeln!(
            out,
            "{:<34} {:<60} {:<24} {:<13} {}",
            next_deadline_cell(h, now),
            truncate(&h.title, 60),
            truncate(&h.funder, 24),
            h.level,
            h.id
        )?;
        let snippet = h.snippet.marked(open, close);
        if !snippet.is_empty() {
            writeln!(out, "    {}", snippet.replace('\n', " "))?;
        }
    }
    Ok(Exit::Ok)
}
