//! `fundwatch status [--json]`: is a daemon running on this data directory
//! (the lock, [`fundwatch::daemon::lock::probe`]), since when, what it is
//! doing (its state row, [`fundwatch::daemon::state`]), each source's last
//! and next run and health, the digest and report runs, the outbox.
//!
//! Read-only and lock-free: it works while the daemon runs, and before the
//! first crawl (no database yet is not an error).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{Value, json};

use fundwatch::daemon::lock::{self, LockInfo, Probe};
use fundwatch::daemon::state::{DaemonState, JobTimes, STATE_KEY};
use fundwatch::store::{SourceState, Store};

use super::{Cli, Exit};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Outbox counts by status, or why there are none.
enum Outbox {
    /// The outbox table does not exist in this database (yet).
    NotAvailable,
    /// Rows per status.
    Counts(Vec<(String, u64)>),
}

fn outbox(store: &Store) -> anyhow::Result<Outbox> {
    let conn = store.connection();
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .context("cannot read the database schema")?;
    if !exists {
        return Ok(Outbox::NotAvailable);
    }
    let mut stmt = conn
        .prepare("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")
        .context("cannot read the outbox")?;
    let counts = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .context("cannot read the outbox")?;
    Ok(Outbox::Counts(
        counts
            .into_iter()
            .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
            .collect(),
    ))
}

/// One source's health word.
fn health(state: Option<&SourceState>) -> &'static str {
    match state {
        None => "never run",
        Some(s) if s.consecutive_failures > 0 => "failing",
        Some(s) if s.last_success.is_some() => "ok",
        Some(_) => "never run",
    }
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

pub fn run(cli: &Cli, args: &StatusArgs) -> anyhow::Result<Exit> {
    let probe = lock::probe(&cli.data_dir)?;
    let (running, holder): (bool, Option<LockInfo>) = match probe {
        Probe::Held(info) => (true, info),
        Probe::Free { last } => (false, last),
    };
    let db = cli.db_path();
    let (states, daemon_state, outbox) = if db.exists() {
        let store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
        let state: Option<DaemonState> = store
            .meta(STATE_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok());
        (store.source_states()?, state, Some(outbox(&store)?))
    } else {
        (Vec::new(), None, None)
    };
    // The configured sources, in file order; sources only the database knows
    // (removed from the file) follow. An unreadable file is reported, not fatal.
    let (mut ids, sources_problem) = match cli.load_sources() {
        Ok(s) => (
            s.list.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    for st in &states {
        if !ids.contains(&st.id) {
            ids.push(st.id.clone());
        }
    }
    // A daemon holding the lock owns the state row; another holder (a
    // one-shot crawl) or none means the row is the last daemon's.
    let daemon_running = running && holder.as_ref().is_none_or(|h| h.command == "daemon");
    let current = daemon_state
        .as_ref()
        .filter(|s| daemon_running && holder.as_ref().is_none_or(|h| h.pid == s.pid));
    let empty = JobTimes::default();
    let digest = daemon_state.as_ref().map_or(&empty, |s| &s.digest);
    let report = daemon_state.as_ref().map_or(&empty, |s| &s.report);

    let source_rows: Vec<Value> = ids
        .iter()
        .map(|id| {
            let st = states.iter().find(|s| &s.id == id);
            json!({
                "id": id,
                "health": health(st),
                "last_run": st.and_then(|s| s.last_attempt),
                "last_success": st.and_then(|s| s.last_success),
                "next_run": st.and_then(|s| s.next_run),
                "consecutive_failures": st.map_or(0, |s| s.consecutive_failures),
                "failing_since": st.and_then(|s| s.failing_since),
                "last_error": st.and_then(|s| s.last_error.clone()),
            })
        })
        .collect();
    let outbox_json = match &outbox {
        Some(Outbox::Counts(c)) => json!(
            c.iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>()
        ),
        _ => Value::Null,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "data_dir": cli.data_dir,
            "daemon": {
                "running": daemon_running,
                "lock_holder": holder,
                "pid": current.map(|s| s.pid),
                "since": current.map(|s| s.started_at),
                "activity": current.map(|s| s.activity.clone()),
                "running_jobs": current.map(|s| s.running.clone()),
                "updated_at": current.map(|s| s.updated_at),
                "last_stopped_at": daemon_state.as_ref().and_then(|s| s.stopped_at),
            },
            "sources": source_rows,
            "sources_file_problem": sources_problem,
            "digest": digest,
            "report": report,
            "outbox": outbox_json,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(Exit::Ok);
    }
    match (&holder, running) {
        (Some(h), true) if h.command == "daemon" => writeln!(
            out,
            "daemon: running (pid {}, since {})",
            h.pid,
            fmt_time(Some(h.started_at))
        )?,
        (Some(h), true) => writeln!(
            out,
            "daemon: not running; a one-shot `fundwatch {}` (pid {}) holds the data directory",
            h.command, h.pid
        )?,
        (None, true) => writeln!(out, "daemon: starting (lock held, details not written yet)")?,
        (_, false) => match daemon_state.as_ref() {
            Some(s) if s.stopped_at.is_some() => writeln!(
                out,
                "daemon: not running (last one, pid {}, stopped at {})",
                s.pid,
                fmt_time(s.stopped_at)
            )?,
            Some(s) => writeln!(
                out,
                "daemon: not running (last one, pid {}, ended without a clean stop; last seen {})",
                s.pid,
                fmt_time(Some(s.updated_at))
            )?,
            None => writeln!(out, "daemon: not running")?,
        },
    }
    if let Some(s) = current {
        writeln!(out, "doing: {}", s.activity)?;
    }
    writeln!(out, "data directory: {}", cli.data_dir.display())?;
    if let Some(p) = &sources_problem {
        writeln!(out, "sources file: {p}")?;
    }
    writeln!(out, "sources:")?;
    writeln!(
        out,
        "  {:<28} {:<10} {:<20} {:<20} problem",
        "id", "health", "last run", "next run"
    )?;
    for row in &source_rows {
        let time = |k: &str| fmt_time(row[k].as_str().and_then(|t| t.parse().ok()));
        let problem = match row["last_error"].as_str() {
            Some(e) if row["health"] == "failing" => format!(
                "{} failures since {}: {e}",
                row["consecutive_failures"],
                time("failing_since")
            ),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<28} {:<10} {:<20} {:<20} {problem}",
            row["id"].as_str().unwrap_or_default(),
            row["health"].as_str().unwrap_or_default(),
            time("last_run"),
            time("next_run"),
        )?;
    }
    for (name, t) in [("digest", digest), ("report", report)] {
        writeln!(
            out,
            "{name}: last run {}{}, next {}",
            fmt_time(t.last_run),
            t.last_outcome
                .as_ref()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default(),
            fmt_time(t.next_run)
        )?;
    }
    match outbox {
        None => writeln!(out, "outbox: no database yet")?,
        Some(Outbox::NotAvailable) => writeln!(out, "outbox: not available yet")?,
        Some(Outbox::Counts(c)) if c.is_empty() => writeln!(out, "outbox: empty")?,
        Some(Outbox::Counts(c)) => writeln!(
            out,
            "outbox: {}",
            c.iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?,
    }
    Ok(Exit::Ok)
}
