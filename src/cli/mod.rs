//! Command-line interface: the clap definitions and the dispatch to one file
//! per subcommand. Everything here is thin: it parses, opens what the command
//! needs, calls the library and prints.

mod config_cmd;
mod dates_cmd;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use fundwatch::config::{ConfigError, Sources};

/// Exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Unexpected error.
    Unexpected = 1,
    /// Some sources failed in a one-shot crawl.
    SourcesFailed = 2,
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
        if err
            .chain()
            .any(|e| e.is::<ConfigError>() || e.is::<InvalidInput>())
        {
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
Exit codes: 0 success; 1 unexpected error; 2 some sources failed during a crawl \
(the others were stored); 3 invalid configuration or arguments (nothing was changed); \
4 another fundwatch process holds the lock this command needs.

Logging: set RUST_LOG (e.g. RUST_LOG=fundwatch=debug).";

/// fundwatch — watches funding calls (EU, national, regional) for an
/// international office, stores them in SQLite and indexes them for search.
#[derive(Debug, Parser)]
#[command(name = "fundwatch", version, about, long_about = None, after_help = AFTER_HELP)]
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
    /// Find the dates in a text (argument or stdin), as fundwatch reads them.
    Dates(dates_cmd::DatesArgs),
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
        Command::Dates(a) => dates_cmd::run(a),
    }
}

/// True when the error is a closed stdout (`fundwatch search … | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Creates the data directory if needed.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}
