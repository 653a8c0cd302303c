//! Keeps the derived tantivy index in step with SQLite, the truth.
//!
//! The index remembers the database's data version it reflects (its commit
//! payload); the store marks every written call with the version of its
//! write. Catching up is therefore "refresh every call written after the
//! indexed version, then commit with the current version": one commit per
//! crawl, nothing done when nothing changed, and an index left behind by a
//! crash between the two commits is caught up the next time anyone syncs.

use crate::index::{IndexDoc, IndexError, IndexHandle};
use crate::store::{Store, StoreError, StoredCall};

/// Syncing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the index failed (or another process holds its writer).
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Documents refreshed (deleted then added).
    pub refreshed: u64,
    /// True when the whole index was rebuilt.
    pub rebuilt: bool,
    /// The database version the index now reflects.
    pub generation: i64,
}

/// The index document of a stored call.
pub fn index_doc(stored: StoredCall) -> IndexDoc {
    let sources = stored.links.iter().map(|l| l.source_id.clone()).collect();
    IndexDoc {
        call: stored.call,
        first_seen: stored.first_seen,
        last_changed: stored.last_changed,
        sources,
    }
}

/// Rebuilds the whole index from the database (`fundwatch reindex`).
pub fn rebuild(store: &Store, index: &IndexHandle) -> Result<SyncReport, SyncError> {
    let generation = store.data_version()?;
    // Streamed from the database into the writer: a collection never sits
    // in memory whole.
    let mut updater = index.rebuilder()?;
    let mut refreshed = 0;
    store.for_each_call(|c| {
        updater.add(&index_doc(c))?;
        refreshed += 1;
        Ok::<_, SyncError>(())
    })?;
    updater.commit(generation)?;
    Ok(SyncReport {
        refreshed,
        rebuilt: true,
        generation,
    })
}

/// Brings the index up to the database's current version: refreshes the
/// calls written since the indexed version, or rebuilds when the index has
/// never been committed or claims a version the database never reached (the
/// database was replaced).
pub fn catch_up(store: &Store, index: &IndexHandle) -> Result<SyncReport, SyncError> {
    let current = store.data_version()?;
    let indexed = index.indexed_generation()?;
    // Documents analysed under another glossary carry other concept
    // numbers: only a rebuild makes them agree again.
    if indexed.is_some() && !index.glossary_current()? {
        return rebuild(store, index);
    }
    match indexed {
        Some(g) if g == current => Ok(SyncReport {
            refreshed: 0,
            rebuilt: false,
            generation: g,
        }),
        Some(g) if g < current => {
            let ids = store.calls_since_rev(g)?;
            let mut writer = index.writer()?;
            let mut refreshed = 0;
            for id in &ids {
                match store.call(id)? {
                    Some(stored) => writer.upsert(&index_doc(stored))?,
                    None => writer.delete(id),
                }
                refreshed += 1;
            }
            writer.commit(current)?;
            Ok(SyncReport {
                refreshed,
                rebuilt: false,
                generation: current,
            })
        }
        _ => rebuild(store, index),
    }
}

/// How far the index lags the database (0 when in step).
pub fn lag(store: &Store, index: &IndexHandle) -> Result<i64, SyncError> {
    let current = store.data_version()?;
    Ok(match index.indexed_generation()? {
        Some(g) => current - g,
        None => current,
    })
}
