//! `fundwatch daemon`: runs the service in the foreground (systemd's
//! `Type=notify` unit starts it so). Everything lives in
//! [`fundwatch::daemon`]; this file turns the command line into a
//! [`DaemonConfig`] and the outcome into an exit code.

use std::time::Duration;

use clap::Args;

use fundwatch::daemon::lock::{self, DirLock, LockError, Probe};
use fundwatch::daemon::notify::Notifier;
use fundwatch::daemon::{self, DaemonConfig, DaemonError};

use super::{Cli, Exit};

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Largest random delay added to each scheduled run, so sources of one
    /// host do not fire together (capped at a quarter of the schedule's
    /// period). `0s` turns it off.
    #[arg(long, value_name = "DURATION", default_value = "90s", value_parser = humantime::parse_duration)]
    max_jitter: Duration,
}

pub fn run(cli: &Cli, args: &DaemonArgs) -> anyhow::Result<Exit> {
    super::ensure_dir(&cli.data_dir)?;
    let cfg = DaemonConfig {
        data_dir: cli.data_dir.clone(),
        sources_path: cli.sources.clone(),
        settings_path: cli.config.clone(),
        profiles_path: cli.profiles.clone(),
        glossary: super::index_cmd::glossary(cli)?,
        max_jitter: args.max_jitter,
        grace: DaemonConfig::DEFAULT_GRACE,
    };
    let runtime = super::runtime()?;
    match runtime.block_on(daemon::run(cfg, Notifier::from_env())) {
        Ok(()) => Ok(Exit::Ok),
        Err(DaemonError::Lock(e @ LockError::Held { .. })) => {
            eprintln!("fundwatch: error: {e}");
            Ok(Exit::Busy)
        }
        Err(e @ DaemonError::Config(_)) => {
            eprintln!("fundwatch: error: {e}");
            Ok(Exit::Config)
        }
        Err(e) => Err(e.into()),
    }
}

/// Takes the data-directory lock for a one-shot writer (`crawl`,
/// `reindex`): `Err(Exit::Busy)` after saying who holds it (the daemon
/// crawls and indexes by itself). No directory yet: nobody can hold it, and
/// nothing is created here.
pub fn lock_for_one_shot(
    cli: &Cli,
    command: &str,
) -> anyhow::Result<Result<Option<DirLock>, Exit>> {
    if !cli.data_dir.is_dir() {
        return Ok(Ok(None));
    }
    match DirLock::acquire(&cli.data_dir, command) {
        Ok(l) => Ok(Ok(Some(l))),
        Err(e @ LockError::Held { .. }) => {
            eprintln!("fundwatch: error: {e}");
            Ok(Err(Exit::Busy))
        }
        Err(e) => Err(e.into()),
    }
}

/// True when another process (the daemon, a one-shot crawl) holds the data
/// directory: readers then leave the index to it instead of catching it up.
pub fn writer_running(cli: &Cli) -> bool {
    matches!(lock::probe(&cli.data_dir), Ok(Probe::Held(_)))
}
