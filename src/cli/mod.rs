//! Command-line interface: the clap definitions and the dispatch to one file
//! per subcommand. Everything here is thin: it parses, opens what the command
//! needs, calls the library and prints.

mod config_cmd;
mod crawl_cmd;
mod daemon_cmd;
mod dates_cmd;
mod digest_cmd;
mod export_cmd;
mod index_cmd;
mod profiles_cmd;
mod report_cmd;
mod search_cmd;
mod show_cmd;
mod sources_cmd;
mod stats_cmd;
mod status_cmd;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use fundwatch::config::{ConfigError, Sources};
use fundwatch::index::IndexError;
use fundwatch::settings::{Profiles, Settings};

/// Exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Unexpected error.
    Unexpected = 1,
    /// Partial failure: some sources of a crawl, or some deliveries of a
    /// digest or report run, failed (the rest was done).
    Partial = 2,
    /// Invalid configuration.
    Config = 3,
    /// Another process holds the lock this command needs.
    Busy = 4,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

impl Exit {
    /// The exit code for an error that ended a command.
    pub fn for_error(err: &anyhow::Error) -> Exit {
        let invalid = |e: &(dyn std::error::Error + 'static)| {
            e.is::<ConfigError>()
                || e.is::<InvalidInput>()
                || matches!(
                    e.downcast_ref::<IndexError>(),
                    Some(IndexError::Query { .. } | IndexError::Filter { .. })
                )
        };
        if err.chain().any(invalid) {
            Exit::Config
        } else {
            Exit::Unexpected
        }
    }
}

/// A command-line value that is wrong (bad date, unknown zone): exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 unexpected error; 2 partial failure: some sources failed during a \
crawl (the others were stored), or some digests or reports were not delivered; 3 invalid configuration or arguments (nothing was changed); \
4 another fundwatch process holds the lock this command needs.

Logging: set RUST_LOG (e.g. RUST_LOG=fundwatch=debug).";

/// fundwatch — watches funding calls (EU, national, regional) for an
/// international office, stores them in SQLite and indexes them for search.
#[derive(Debug, Parser)]
#[command(name = "fundwatch", version, about, long_about = None, after_help = AFTER_HELP, term_width = 100)]
pub struct Cli {
    /// Data directory: holds fundwatch.db, index/ and outbox/.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = ".",
        env = "FUNDWATCH_DATA_DIR"
    )]
    pub data_dir: PathBuf,

    /// Sources file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "sources.toml",
        env = "FUNDWATCH_SOURCES"
    )]
    pub sources: PathBuf,

    /// Settings file (mail transport, digest and report schedules); absent:
    /// defaults, digests written to DIR/outbox/.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "fundwatch.toml",
        env = "FUNDWATCH_CONFIG"
    )]
    pub config: PathBuf,

    /// Profiles file (the academics' interest profiles); absent: no profiles.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "profiles.toml",
        env = "FUNDWATCH_PROFILES"
    )]
    pub profiles: PathBuf,

    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration files and show each source's next runs.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Crawl sources now, once, and store what they hold.
    Crawl(crawl_cmd::CrawlArgs),
    /// Run the service: every source, the digests and the report on their schedules.
    Daemon(daemon_cmd::DaemonArgs),
    /// Find the dates in a text (argument or stdin), as fundwatch reads them.
    Dates(dates_cmd::DatesArgs),
    /// Weekly digests: preview, send, list the outbox.
    #[command(subcommand)]
    Digest(digest_cmd::DigestCommand),
    /// Export the matching calls: iCalendar (one event per deadline), CSV or JSON.
    Export(export_cmd::ExportArgs),
    /// Check the interest profiles, or test what one would receive.
    #[command(subcommand)]
    Profiles(profiles_cmd::ProfilesCommand),
    /// Rebuild the search index from the database.
    Reindex(index_cmd::ReindexArgs),
    /// The officer's report on sources and digests.
    #[command(subcommand)]
    Report(report_cmd::ReportCommand),
    /// Full-text search over the calls, with filters.
    Search(search_cmd::SearchArgs),
    /// One call: every field, every deadline, its sources and change history.
    Show(show_cmd::ShowArgs),
    /// List sources with their health, or check one without storing.
    #[command(subcommand)]
    Sources(sources_cmd::SourcesCommand),
    /// Indicators: calls by level, funder, programme, status, deadline month, week, source.
    Stats(stats_cmd::StatsArgs),
    /// Whether a daemon runs here, what it does, each source's last and next run.
    Status(status_cmd::StatusArgs),
}

impl Cli {
    /// `DIR/fundwatch.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("fundwatch.db")
    }

    /// Loads and validates the sources file.
    pub fn load_sources(&self) -> anyhow::Result<Sources> {
        Ok(Sources::load(&self.sources)?)
    }

    /// Loads and validates the settings file (defaults when absent).
    pub fn load_settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load_or_default(&self.config)?)
    }

    /// Loads and validates the profiles file (no profiles when absent).
    pub fn load_profiles(&self) -> anyhow::Result<Profiles> {
        Ok(Profiles::load_or_empty(&self.profiles)?)
    }
}

/// Sets up tracing: plain lines without colours when stderr is not a
/// terminal (journald adds its own timestamps), `RUST_LOG` filtering.
pub fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let default = match cli.verbose {
        0 => "fundwatch=warn",
        1 => "fundwatch=info",
        2 => "fundwatch=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .with_target(false);
    // Under systemd, journald timestamps every line already.
    if terminal {
        builder.init();
    } else {
        builder.without_time().init();
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Config(c) => config_cmd::run(&cli, c),
        Command::Crawl(a) => crawl_cmd::run(&cli, a),
        Command::Daemon(a) => daemon_cmd::run(&cli, a),
        Command::Dates(a) => dates_cmd::run(a),
        Command::Digest(c) => digest_cmd::run(&cli, c),
        Command::Export(a) => export_cmd::run(&cli, a),
        Command::Profiles(c) => profiles_cmd::run(&cli, c),
        Command::Reindex(a) => index_cmd::run(&cli, a),
        Command::Report(c) => report_cmd::run(&cli, c),
        Command::Search(a) => search_cmd::run(&cli, a),
        Command::Stats(a) => stats_cmd::run(&cli, a),
        Command::Status(a) => status_cmd::run(&cli, a),
        Command::Show(a) => show_cmd::run(&cli, a),
        Command::Sources(c) => sources_cmd::run(&cli, c),
    }
}

/// True when the error is a closed stdout (`fundwatch search … | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The one line `fundwatch: error: …` prints: the error and its causes,
/// each cause only when the line does not already say it. The library's
/// messages quote their cause (so that a log line alone says why) and also
/// keep it as the error's source, and `{:#}` printed it twice: "… re-crawl
/// to rebuild it: file is not a database: Error code 26: file is not a
/// database".
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        // "Error code 26: file is not a database" adds nothing to a line
        // that already ends in "file is not a database".
        let said = line.contains(&cause)
            || cause
                .rsplit(": ")
                .next()
                .is_some_and(|tail| !tail.is_empty() && line.contains(tail));
        if !said {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

/// A tokio runtime for the commands that do network IO.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Creates the data directory if needed.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Causes the message already quotes are not printed again; causes it
    /// does not quote are.
    #[test]
    fn the_error_line_says_each_cause_once() {
        let corrupt = anyhow::anyhow!("Error code 26: file is not a database")
            .context("file is not a database")
            .context("cannot open x.db: x.db is not a fundwatch database; move it aside: file is not a database");
        let unquoted = anyhow::Error::new(std::io::Error::other("connection refused"))
            .context("cannot reach the relay");
        let quoted = anyhow::Error::new(std::io::Error::other("disk full"))
            .context("cannot write the index: disk full; free some space");
        let table = [
            (
                corrupt,
                "cannot open x.db: x.db is not a fundwatch database; move it aside: file is not a database",
            ),
            (unquoted, "cannot reach the relay: connection refused"),
            (quoted, "cannot write the index: disk full; free some space"),
        ];
        for (err, want) in table {
            assert_eq!(super::error_line(&err), want);
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        // Catches clashing argument ids between global and subcommand
        // options, which clap otherwise reports only when the command runs.
        super::Cli::command().debug_assert();
    }
}
