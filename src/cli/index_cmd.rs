//! The index as the CLI uses it: opening it beside the database, keeping it
//! in step after a crawl, and `fundwatch reindex`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use fundwatch::index::{Glossary, IndexError, IndexHandle};
use fundwatch::store::Store;
use fundwatch::sync::{self, SyncError};

use super::{Cli, Exit};

#[derive(Debug, Args)]
pub struct ReindexArgs {}

/// `DIR/index`.
pub fn index_dir(cli: &Cli) -> PathBuf {
    cli.data_dir.join("index")
}

/// The glossary: the built-in one, extended by `glossary.tsv` beside the
/// sources file when the officer keeps one there.
pub fn glossary(cli: &Cli) -> anyhow::Result<Glossary> {
    let mut g = Glossary::default();
    let extra = cli
        .sources
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("glossary.tsv");
    if extra.is_file() {
        g.extend(Glossary::load(&extra)?);
    }
    Ok(g)
}

/// Opens (or creates) the index.
pub fn open_index(cli: &Cli) -> anyhow::Result<IndexHandle> {
    let dir = index_dir(cli);
    Ok(IndexHandle::open_or_create(&dir)?.with_glossary(glossary(cli)?))
}

/// True when the error is "another process holds the index writer".
pub fn is_writer_busy(e: &SyncError) -> bool {
    matches!(e, SyncError::Index(IndexError::WriterBusy { .. }))
}

/// Brings the index up to date after a crawl (one commit, only the changed
/// calls). When the daemon holds the writer, it will catch up itself: say so
/// instead of failing the crawl, whose data is safely stored.
pub fn update_index(cli: &Cli, store: &Store) -> anyhow::Result<()> {
    let index = open_index(cli)?;
    match sync::catch_up(store, &index) {
        Ok(_) => Ok(()),
        Err(e) if is_writer_busy(&e) => {
            eprintln!(
                "fundwatch: note: the index at {} is being written by another fundwatch process (the daemon?); \
                 it will pick up these changes itself",
                index.dir().display()
            );
            Ok(())
        }
        Err(e) => Err(e).context("the calls are stored, but updating the search index failed"),
    }
}

/// Opens the index for reading, first catching it up with the database when
/// it lags and nobody else is writing it (after a crash between the two
/// commits, for instance).
pub fn open_for_search(cli: &Cli) -> anyhow::Result<IndexHandle> {
    let index = open_index(cli)?;
    // While the daemon (or a one-shot crawl) holds the data directory, it
    // keeps the index current: read as is, never compete for the writer.
    if cli.db_path().exists() && !super::daemon_cmd::writer_running(cli) {
        let store = Store::open(&cli.db_path())
            .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
        match sync::catch_up(&store, &index) {
            Ok(_) => {}
            // The daemon is writing: it keeps the index current; read as is.
            Err(e) if is_writer_busy(&e) => index.reload()?,
            Err(e) => {
                return Err(e)
                    .context("the search index lags the database and could not be caught up");
            }
        }
    }
    Ok(index)
}

pub fn run(cli: &Cli, _args: &ReindexArgs) -> anyhow::Result<Exit> {
    let _lock = match super::daemon_cmd::lock_for_one_shot(cli, "reindex")? {
        Ok(lock) => lock,
        Err(busy) => return Ok(busy),
    };
    let store = Store::open(&cli.db_path())
        .with_context(|| format!("cannot open {}", cli.db_path().display()))?;
    let index = open_index(cli)?;
    match sync::rebuild(&store, &index) {
        Ok(r) => {
            writeln!(
                std::io::stdout().lock(),
                "reindexed {} calls into {}",
                r.refreshed,
                index.dir().display()
            )?;
            Ok(Exit::Ok)
        }
        Err(e) if is_writer_busy(&e) => {
            eprintln!("fundwatch: error: {e}");
            Ok(Exit::Busy)
        }
        Err(e) => Err(e.into()),
    }
}
