//! `fundwatch profiles`: `check` validates every profile (fields, and the
//! query against the index's own parser), naming the profile and the
//! problem; `test ID` shows what the profile would receive now, and why.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand};

use fundwatch::digest::render::format_deadline;
use fundwatch::matching::{self, Candidate, Matcher};
use fundwatch::store::Store;

use super::{Cli, Exit, InvalidInput};

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Validate every profile: fields, and each query with the search parser.
    Check,
    /// Show which calls a profile would receive now, and why.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Profile id.
    #[arg(value_name = "ID")]
    id: String,
    /// Consider calls new or changed since this day (YYYY-MM-DD) instead of
    /// since the profile's last digest.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
}

pub fn run(cli: &Cli, cmd: &ProfilesCommand) -> anyhow::Result<Exit> {
    match cmd {
        ProfilesCommand::Check => check(cli),
        ProfilesCommand::Test(a) => test(cli, a),
    }
}

/// Checks every profile's query; returns one line per problem.
pub fn query_problems(cli: &Cli) -> anyhow::Result<(usize, Vec<String>)> {
    let profiles = cli.load_profiles()?;
    let glossary = super::index_cmd::glossary(cli)?;
    let problems = profiles
        .list
        .iter()
        .filter_map(|p| {
            matching::check_profile(p, &glossary)
                .err()
                .map(|e| format!("{}: {e}", profiles.path.display()))
        })
        .collect();
    Ok((profiles.list.len(), problems))
}

fn check(cli: &Cli) -> anyhow::Result<Exit> {
    let (n, problems) = query_problems(cli)?;
    let mut out = std::io::stdout().lock();
    if problems.is_empty() {
        writeln!(out, "{}: {n} profiles, valid", cli.profiles.display())?;
        return Ok(Exit::Ok);
    }
    for p in &problems {
        eprintln!("fundwatch: error: {p}");
    }
    Ok(Exit::Config)
}

fn test(cli: &Cli, a: &TestArgs) -> anyhow::Result<Exit> {
    let settings = cli.load_settings()?;
    let profiles = cli.load_profiles()?;
    let Some(p) = profiles.get(&a.id) else {
        return Err(InvalidInput(format!(
            "no profile {:?} in {}; known ids: {}",
            a.id,
            profiles.path.display(),
            profiles
                .list
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    };
    let now = Utc::now();
    let since: Option<DateTime<Utc>> = a
        .since
        .as_deref()
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|d| settings.timezone.from_local_datetime(&d).earliest())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    InvalidInput(format!("--since {s:?}: expected a date as YYYY-MM-DD"))
                })
        })
        .transpose()?;
    super::ensure_dir(&cli.data_dir)?;
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let last = match since {
        Some(t) => Some(t),
        None => store.last_digests()?.get(&p.id).copied(),
    };
    let start = matching::window_start(last, now);
    let mut candidates = Vec::new();
    for id in store.calls_changed_since(start)? {
        if let Some(s) = store.call(&id)? {
            candidates.push(Candidate {
                call: s.call,
                first_seen: s.first_seen,
                last_changed: s.last_changed,
            });
        }
    }
    let matcher = Matcher::new(candidates, super::index_cmd::glossary(cli)?)?;
    let matches = matcher.match_profile(p, last, now)?;
    let mut out = std::io::stdout().lock();
    let window = match (since, last) {
        (Some(_), _) => format!(
            "calls new or changed since {}",
            a.since.as_deref().unwrap_or("")
        ),
        (None, Some(t)) => format!(
            "calls new or changed since the last digest ({})",
            t.format("%Y-%m-%d %H:%M UTC")
        ),
        (None, None) => format!(
            "first digest: calls first seen in the last {} days",
            matching::FIRST_RUN_DAYS
        ),
    };
    writeln!(
        out,
        "profile {} ({}): {} of {} candidate calls match; {window}",
        p.id,
        p.language,
        matches.len(),
        matcher.candidates().len()
    )?;
    for (i, m) in matches.iter().enumerate() {
        let c = &matcher.candidates()[m.candidate].call;
        let deadline = c
            .next_deadline(now)
            .map(|d| format_deadline(d, p.language, settings.timezone, now))
            .unwrap_or_else(|| "no deadline".to_owned());
        writeln!(out, "{:>3}. {} [{}]", i + 1, c.title, c.id)?;
        writeln!(
            out,
            "     {} · {} · {deadline} · score {:.2}",
            c.funder, c.level, m.score
        )?;
        if !m.reasons.is_empty() {
            let why: Vec<String> = m
                .reasons
                .iter()
                .map(|r| format!("\"{}\" in {}", r.term, r.fields.join(", ")))
                .collect();
            writeln!(out, "     why: {}", why.join("; "))?;
        }
    }
    Ok(Exit::Ok)
}
