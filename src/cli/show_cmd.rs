//! `fundwatch show ID`: one call with every field, every deadline, every
//! source that reports it and its change history.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use fundwatch::model::{DatePoint, Precision};
use fundwatch::store::Store;

use super::{Cli, Exit, InvalidInput};

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Call id (or a unique prefix of it).
    id: String,
    /// Print JSON: {call, first_seen, last_changed, sources, history}.
    #[arg(long)]
    json: bool,
}

/// "2026-03-08 17:00 CET (in 12 days)", "2022-03 (month; in …)".
pub fn describe_date(d: &DatePoint, now: DateTime<Utc>) -> String {
    let tz = d.tz();
    let when = match (d.precision, d.at) {
        (Precision::Datetime, Some(at)) => at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        (Precision::Month, _) => format!("{} (month)", d.date_string()),
        _ => format!("{} ({})", d.date_string(), d.zone),
    };
    let days = (d.cutoff() - now).num_days();
    let rel = if d.cutoff() < now {
        "past".to_owned()
    } else if days == 0 {
        "today".to_owned()
    } else {
        format!("in {days} days")
    };
    let label = d
        .label
        .as_deref()
        .map(|l| format!(" [{l}]"))
        .unwrap_or_default();
    format!("{when} ({rel}){label}")
}

/// A history value as one short line: strings bare, deadlines as their dates.
fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => {
            let s: String = s.chars().take(80).collect();
            s.replace('\n', " ")
        }
        serde_json::Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match serde_json::from_value::<DatePoint>(i.clone()) {
                    Ok(d) => {
                        d.at.map(|t| t.format("%Y-%m-%d %H:%MZ").to_string())
                            .unwrap_or_else(|| d.date_string())
                    }
                    Err(_) => display_value(i),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        serde_json::Value::Object(_) => match serde_json::from_value::<DatePoint>(v.clone()) {
            Ok(d) => {
                d.at.map(|t| t.format("%Y-%m-%d %H:%MZ").to_string())
                    .unwrap_or_else(|| d.date_string())
            }
            Err(_) => v.to_string(),
        },
        other => other.to_string(),
    }
}

pub fn run(cli: &Cli, args: &ShowArgs) -> anyhow::Result<Exit> {
    if !cli.db_path().exists() {
        return Err(InvalidInput(format!(
            "no database at {}: run `fundwatch crawl` first (or pass --data-dir)",
            cli.db_path().display()
        ))
        .into());
    }
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let Some(stored) = store.call(&args.id)? else {
        return Err(InvalidInput(format!("no call with id {:?}", args.id)).into());
    };
    let history = store.history(&stored.call.id)?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({
            "call": stored.call,
            "first_seen": stored.first_seen,
            "last_changed": stored.last_changed,
            "sources": stored.links,
            "history": history,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(Exit::Ok);
    }
    let c = &stored.call;
    writeln!(out, "{}", c.title)?;
    writeln!(out, "{}", "=".repeat(c.title.chars().count().min(100)))?;
    writeln!(out, "id          {}", c.id)?;
    writeln!(out, "url         {}", c.url)?;
    writeln!(out, "status      {}", c.status)?;
    writeln!(out, "funder      {}", c.funder)?;
    writeln!(out, "programme   {}", c.programme.as_deref().unwrap_or("-"))?;
    writeln!(out, "level       {}", c.level)?;
    writeln!(out, "language    {}", c.language)?;
    if let Some(n) = &c.native_id {
        writeln!(out, "native id   {n}")?;
    }
    if !c.identifiers.is_empty() {
        writeln!(out, "identifiers {}", c.identifiers.join(", "))?;
    }
    if let Some(o) = &c.opening {
        writeln!(out, "opens       {}", describe_date(o, now))?;
    }
    if c.deadlines.is_empty() {
        writeln!(out, "deadlines   none found")?;
    }
    for (i, d) in c.deadlines.iter().enumerate() {
        writeln!(
            out,
            "{}{}",
            if i == 0 {
                "deadlines   "
            } else {
                "            "
            },
            describe_date(d, now)
        )?;
        if !d.text.is_empty() {
            writeln!(out, "              «{}»", d.text.replace('\n', " "))?;
        }
    }
    if let Some(b) = &c.budget {
        let fmt = |v: Option<f64>| {
            v.map(|v| format!("{v:.0} {}", b.currency))
                .unwrap_or_else(|| "-".into())
        };
        writeln!(
            out,
            "budget      total {}  per grant {} – {}  grants {}",
            fmt(b.total),
            fmt(b.min_per_grant),
            fmt(b.max_per_grant),
            b.expected_grants
                .map(|g| g.to_string())
                .unwrap_or_else(|| "-".into())
        )?;
    }
    if !c.tags.is_empty() {
        writeln!(out, "tags        {}", c.tags.join(", "))?;
    }
    writeln!(
        out,
        "first seen  {}",
        stored.first_seen.format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(
        out,
        "changed     {}",
        stored.last_changed.format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(out, "\nsources")?;
    for l in &stored.links {
        writeln!(out, "  {:<24} {}", l.source_id, l.url)?;
    }
    if !c.summary.is_empty() {
        writeln!(out, "\nsummary\n  {}", c.summary)?;
    }
    if !c.text.is_empty() {
        let t: String = c.text.chars().take(1500).collect();
        writeln!(
            out,
            "\ntext\n{t}{}",
            if c.text.chars().count() > 1500 {
                "\n…"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "\nhistory")?;
    if history.is_empty() {
        writeln!(out, "  no change recorded")?;
    }
    for h in &history {
        writeln!(
            out,
            "  {}  {:<10} {} → {}",
            h.at.format("%Y-%m-%d %H:%M"),
            h.field,
            display_value(&h.old),
            display_value(&h.new)
        )?;
    }
    Ok(Exit::Ok)
}
