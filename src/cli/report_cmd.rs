//! `fundwatch report send`: sends the officer's report now (the daemon
//! sends it on `report.schedule`).

use std::io::Write;

use chrono::Utc;
use clap::Subcommand;

use fundwatch::digest::send;

use super::{Cli, Exit, InvalidInput};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Send the officer's report (source health, calls, digests) now.
    Send,
}

pub fn run(cli: &Cli, cmd: &ReportCommand) -> anyhow::Result<Exit> {
    match cmd {
        ReportCommand::Send => send_now(cli),
    }
}

fn send_now(cli: &Cli) -> anyhow::Result<Exit> {
    let ctx = super::digest_cmd::context(cli)?;
    if ctx.settings.officer.is_empty() {
        return Err(InvalidInput(format!(
            "no officer address: set mail.officer in {}",
            cli.config.display()
        ))
        .into());
    }
    super::ensure_dir(&cli.data_dir)?;
    let runtime = super::runtime()?;
    let outcome = runtime.block_on(send::send_report(&ctx, Utc::now()))?;
    let mut out = std::io::stdout().lock();
    let r = &outcome.report;
    writeln!(
        out,
        "report for {}: {} failing, {} yielding zero, {} recovered sources; {} calls added, {} changed; {} digests sent, {} undelivered",
        r.period,
        r.failing.len(),
        r.zero_yield.len(),
        r.recovered.len(),
        r.calls_added,
        r.calls_changed,
        r.digests_sent,
        r.undelivered.len()
    )?;
    for to in &outcome.sent {
        writeln!(out, "sent to {to}")?;
    }
    for (to, e) in &outcome.failed {
        writeln!(out, "NOT sent to {to}: {e}")?;
    }
    Ok(if outcome.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    })
}
