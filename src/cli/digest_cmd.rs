//! `fundwatch digest`: preview one profile's digest, send the current
//! period's digests (the daemon runs the same job on its schedule), and list
//! the outbox.

use std::io::Write;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};

use fundwatch::digest::Period;
use fundwatch::digest::mail::RetryPolicy;
use fundwatch::digest::send::{self, DigestContext, DigestError};
use fundwatch::store::Store;

use super::{Cli, Exit, InvalidInput};

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Print a profile's digest for a period without sending or recording it.
    Preview(PreviewArgs),
    /// Send the current period's digests that have not been sent yet.
    Send(SendArgs),
    /// Show the outbox: every recorded digest (pending, sent, failed).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Profile id.
    #[arg(value_name = "PROFILE")]
    profile: String,
    /// Print the HTML part instead of the text part.
    #[arg(long)]
    html: bool,
    /// ISO week, e.g. 2026-W48 (default: the current week).
    #[arg(long, value_name = "YYYY-Www")]
    period: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Only this profile (repeatable); default: every active profile.
    #[arg(long = "profile", value_name = "ID")]
    only: Vec<String>,
    /// Say what would be recorded and sent; record and send nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array of the outbox rows.
    #[arg(long)]
    json: bool,
}

/// The job context from the command line's files.
pub fn context(cli: &Cli) -> anyhow::Result<DigestContext> {
    Ok(DigestContext {
        db_path: cli.db_path(),
        data_dir: cli.data_dir.clone(),
        settings: cli.load_settings()?,
        profiles: cli.load_profiles()?,
        glossary: super::index_cmd::glossary(cli)?,
        retry: RetryPolicy::default(),
        stop: tokio_util::sync::CancellationToken::new(),
    })
}

/// Unknown profile ids are argument errors (exit 3).
fn invalid(e: DigestError) -> anyhow::Error {
    match e {
        e @ DigestError::UnknownProfile { .. } => InvalidInput(e.to_string()).into(),
        e => anyhow::Error::new(e),
    }
}

pub fn run(cli: &Cli, cmd: &DigestCommand) -> anyhow::Result<Exit> {
    match cmd {
        DigestCommand::Preview(a) => preview(cli, a),
        DigestCommand::Send(a) => send_now(cli, a),
        DigestCommand::List(a) => list(cli, a),
    }
}

fn preview(cli: &Cli, a: &PreviewArgs) -> anyhow::Result<Exit> {
    let period = a
        .period
        .as_deref()
        .map(Period::parse)
        .transpose()
        .map_err(InvalidInput)?;
    let ctx = context(cli)?;
    super::ensure_dir(&cli.data_dir)?;
    let planned = send::preview(&ctx, &a.profile, period, Utc::now()).map_err(invalid)?;
    let mut out = std::io::stdout().lock();
    if a.html {
        write!(out, "{}", planned.rendered.html)?;
    } else {
        writeln!(out, "Subject: {}", planned.rendered.subject)?;
        writeln!(out, "To: {}", planned.digest.profile.email)?;
        writeln!(out, "Message-ID: {}", planned.rendered.message_id)?;
        if planned.digest.is_empty() {
            writeln!(
                out,
                "(empty: this digest would not be sent{})",
                if ctx.settings.send_empty {
                    "; send_empty is on, so it would"
                } else {
                    ""
                }
            )?;
        }
        writeln!(out)?;
        write!(out, "{}", planned.rendered.text)?;
    }
    Ok(Exit::Ok)
}

fn send_now(cli: &Cli, a: &SendArgs) -> anyhow::Result<Exit> {
    let ctx = context(cli)?;
    super::ensure_dir(&cli.data_dir)?;
    let runtime = super::runtime()?;
    let report = runtime
        .block_on(send::send_digests(&ctx, &a.only, a.dry_run, Utc::now()))
        .map_err(invalid)?;
    let mut out = std::io::stdout().lock();
    let period = report.period.map(|p| p.to_string()).unwrap_or_default();
    let verb = if a.dry_run {
        "would record"
    } else {
        "recorded"
    };
    for (id, n, u, c) in &report.recorded {
        writeln!(
            out,
            "{period} {id}: {verb} ({n} new, {u} updated, {c} closing soon)"
        )?;
    }
    for id in &report.empty {
        writeln!(out, "{period} {id}: nothing to send")?;
    }
    for id in &report.already {
        writeln!(out, "{period} {id}: already recorded for this period")?;
    }
    for u in &report.uncomposed {
        // The error names the profile and says how to fix it.
        writeln!(
            out,
            "{period} {}: FAILED (not composed): {}",
            u.profile_id, u.error
        )?;
    }
    for (id, p) in &report.sent {
        writeln!(out, "{p} {id}: sent")?;
    }
    for f in &report.failed {
        let what = if f.permanent {
            "FAILED (rejected)"
        } else {
            "not sent yet (will retry)"
        };
        writeln!(out, "{} {}: {what}: {}", f.period, f.profile_id, f.error)?;
    }
    if ctx.settings.smtp.is_none() && !a.dry_run && !report.sent.is_empty() {
        writeln!(
            out,
            "no [smtp] in {}: messages written to {}",
            cli.config.display(),
            cli.data_dir.join("outbox").display()
        )?;
    }
    Ok(if report.has_failures() {
        Exit::Partial
    } else {
        Exit::Ok
    })
}

fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<Exit> {
    super::ensure_dir(&cli.data_dir)?;
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let rows = store.outbox(None)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        writeln!(out, "the outbox is empty")?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:<9} {:<24} {:<8} {:>3} {:>3} {:>3} {:<20} detail",
        "period", "profile", "status", "new", "upd", "cls", "recorded"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<9} {:<24} {:<8} {:>3} {:>3} {:>3} {:<20} {}",
            r.period,
            r.profile_id,
            r.status.as_str(),
            r.new_ids.len(),
            r.updated_ids.len(),
            r.closing_ids.len(),
            r.created_at.format("%Y-%m-%d %H:%M UTC"),
            r.last_error.as_deref().unwrap_or("")
        )?;
    }
    Ok(Exit::Ok)
}
