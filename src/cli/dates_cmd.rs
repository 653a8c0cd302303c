//! `fundwatch dates`: prints every date fundwatch finds in a text, with its
//! role, precision and zone. The officer's way to check what fundwatch reads
//! in a page, and the way extraction is tested from outside.

use std::io::{Read, Write};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use clap::Args;
use serde_json::json;

use fundwatch::dates::{self, DateContext};
use fundwatch::model::{FoundDate, Language, Precision};

use super::{Exit, InvalidInput};

#[derive(Debug, Args)]
pub struct DatesArgs {
    /// Language of the text (both are tried; this breaks ties).
    #[arg(long, default_value = "fr", value_parser = ["fr", "en"])]
    lang: String,
    /// Zone for times given without one (IANA name).
    #[arg(long, value_name = "ZONE", default_value = "Europe/Paris")]
    tz: String,
    /// Context date used to infer a missing year (YYYY-MM-DD or RFC 3339; default: now).
    #[arg(long, value_name = "DATE")]
    now: Option<String>,
    /// Print a JSON array of {role, precision, at, date, zone, label, text}.
    #[arg(long)]
    json: bool,
    /// The text; read from stdin when absent.
    text: Option<String>,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, InvalidInput> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| {
            InvalidInput(format!(
                "--now {s:?}: expected YYYY-MM-DD or an RFC 3339 date-time"
            ))
        })
}

/// The JSON shape of one found date (documented in `--help` and the README).
pub fn found_json(f: &FoundDate) -> serde_json::Value {
    json!({
        "role": f.role.as_str(),
        "precision": f.point.precision.as_str(),
        "at": f.point.at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "date": f.point.date_string(),
        "zone": f.point.zone,
        "label": f.point.label,
        "text": f.point.text,
    })
}

pub fn run(args: &DatesArgs) -> anyhow::Result<Exit> {
    let zone: Tz = args.tz.parse().map_err(|_| {
        InvalidInput(format!(
            "--tz {:?}: unknown time zone; use an IANA name such as Europe/Paris",
            args.tz
        ))
    })?;
    let now = match &args.now {
        Some(s) => parse_now(s)?,
        None => Utc::now(),
    };
    let lang: Language = args.lang.parse().map_err(InvalidInput)?;
    let text = match &args.text {
        Some(t) => t.clone(),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the text from stdin")?;
            s
        }
    };
    let mut out = std::io::stdout().lock();
    let found = dates::extract(&text, &DateContext { lang, zone, now });
    if args.json {
        let arr: Vec<_> = found.iter().map(found_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&arr)?)?;
        return Ok(Exit::Ok);
    }
    if found.is_empty() {
        writeln!(out, "no date found")?;
    }
    for f in &found {
        let p = &f.point;
        let when = match p.precision {
            Precision::Datetime => {
                let at = p.at.unwrap_or_default();
                format!(
                    "{} ({})",
                    at.with_timezone(&p.tz()).format("%Y-%m-%d %H:%M %Z"),
                    at.format("%H:%MZ")
                )
            }
            _ => p.date_string(),
        };
        let label = p
            .label
            .as_deref()
            .map(|l| format!(" [{l}]"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<12} {:<9} {:<32} {}{}  «{}»",
            f.role.as_str(),
            p.precision.as_str(),
            when,
            p.zone,
            label,
            p.text
        )?;
    }
    Ok(Exit::Ok)
}
