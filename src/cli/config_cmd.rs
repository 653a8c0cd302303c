//! `fundwatch config check`: validates every configuration file and shows
//! when each source will run next, so the officer sees the effect of an edit
//! before the daemon does.

use std::io::Write;

use chrono::Utc;
use clap::Subcommand;

use super::{Cli, Exit};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate sources.toml, fundwatch.toml and profiles.toml (every
    /// profile query with the search parser); print each source's next runs.
    Check,
}

pub fn run(cli: &Cli, cmd: &ConfigCommand) -> anyhow::Result<Exit> {
    match cmd {
        ConfigCommand::Check => check(cli),
    }
}

fn check(cli: &Cli) -> anyhow::Result<Exit> {
    let sources = cli.load_sources()?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {} sources, valid",
        sources.path.display(),
        sources.list.len()
    )?;
    for s in &sources.list {
        let runs = s.schedule.upcoming(now, s.timezone, 3);
        let runs: Vec<String> = runs
            .iter()
            .map(|t| {
                t.with_timezone(&s.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect();
        writeln!(
            out,
            "  {:<28} {:<9} {:<16} next: {}",
            s.id,
            s.kind.name(),
            s.schedule.expr,
            runs.join(", ")
        )?;
    }
    let settings = cli.load_settings()?;
    match &settings.path {
        Some(p) => writeln!(
            out,
            "{}: valid; digests {} ({}), report {}, {}",
            p.display(),
            settings.digest_schedule.expr,
            settings.timezone,
            settings.report_schedule.expr,
            match &settings.smtp {
                Some(s) => format!("SMTP {}:{}", s.host, s.port),
                None => "no [smtp]: digests written to DIR/outbox/".to_owned(),
            }
        )?,
        None => writeln!(
            out,
            "{}: absent; defaults apply, digests written to DIR/outbox/",
            cli.config.display()
        )?,
    }
    let (n, problems) = super::profiles_cmd::query_problems(cli)?;
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("fundwatch: error: {p}");
        }
        return Ok(Exit::Config);
    }
    writeln!(out, "{}: {n} profiles, valid", cli.profiles.display())?;
    Ok(Exit::Ok)
}
