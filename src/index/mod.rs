//! The full-text index: a tantivy index derived from SQLite, rebuildable at
//! any time, that answers the officer's searches and the profiles' saved
//! queries without touching the database.
//!
//! # Architecture
//! - [`schema`]: fields (the whole text in `all`, the parts for `title:`
//!   queries; keywords; dates; the stored `Call` JSON) and the
//!   query-language aliases.
//! - [`analyzer`]: the bilingual text analyser (French and English stems,
//!   glossary concepts) and the keyword analyser.
//! - [`glossary`]: bilingual funding vocabulary, marked at index time.
//! - [`query`]: the query language (tantivy grammar + glossary + aliases),
//!   built into tantivy queries.
//! - [`search`]: filters, sorting, hits and snippets.
//! - this file: opening, the writer ([`IndexUpdater`]) and generations.
//!
//! ## Locking
//! Only one process writes the index (DESIGN.md): tantivy's own writer lock
//! (`.tantivy-writer.lock` in the index directory) enforces it, and a second
//! writer gets [`IndexError::WriterBusy`]. Readers never lock.
//!
//! ## Generations
//! The caller passes the database generation each commit reflects; it is
//! stored in tantivy's commit payload, so [`IndexHandle::indexed_generation`]
//! tells an index lagging the database (the daemon died between the SQLite
//! commit and the index commit) and the caller can catch it up.
//!
//! ## Glossary
//! The commit payload also records the [`Glossary::fingerprint`] the
//! documents were analysed with. Searches use the index's concept tokens
//! only under that same glossary; under another one (the officer edited
//! `glossary.tsv`) they expand glossary terms at query time, slower but
//! right, and the next catch-up rebuilds the index ([`IndexHandle::glossary_current`]).
//!
//! ## Reloading
//! Readers use `ReloadPolicy::Manual`: a commit through this handle reloads
//! it; another process's commits become visible after [`IndexHandle::reload`].
//! That keeps searches deterministic (tantivy's `reload_after_commit.rs`).

pub mod analyzer;
pub mod glossary;
pub mod query;
pub mod ram;
pub mod schema;
pub mod search;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::directory::error::LockError;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use crate::model::Call;

pub use glossary::{Glossary, GlossaryError};
pub use schema::Fields;
pub use search::{Hit, SearchRequest, Snippet, Sort};

/// Memory the writer may use before flushing a segment. 50 MB is tantivy's
/// documented comfortable minimum; a batch of calls is far smaller.
const WRITER_MEMORY: usize = 50_000_000;

/// Memory for a rebuild, shared by the indexing threads: 100,000 calls are
/// about 0.5 GB of text, and a bigger budget means fewer segments to merge.
const REBUILD_MEMORY: usize = 200_000_000;

/// What one index document is built from: the call plus the bookkeeping the
/// database holds about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    /// The call.
    pub call: Call,
    /// When the database first saw it.
    pub first_seen: DateTime<Utc>,
    /// When it last changed.
    pub last_changed: DateTime<Utc>,
    /// Every source that reports it (the call's own `source_id` is added if
    /// missing).
    pub sources: Vec<String>,
}

/// Index failures. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// No index exists in the directory.
    #[error("no index at {dir}; run `fundwatch reindex` to build it from the database")]
    Missing {
        /// The index directory.
        dir: PathBuf,
    },
    /// The index could not be opened or created.
    #[error("cannot open the index at {dir}: {source}; run `fundwatch reindex` to rebuild it")]
    Open {
        /// The index directory.
        dir: PathBuf,
        /// tantivy's error.
        #[source]
        source: TantivyError,
    },
    /// The index was written with another schema (another fundwatch version).
    #[error(
        "the index at {dir} was built by another fundwatch version (schema differs); run `fundwatch reindex` to rebuild it"
    )]
    Incompatible {
        /// The index directory.
        dir: PathBuf,
    },
    /// Another writer holds the index lock.
    #[error(
        "another fundwatch process (the daemon?) is writing the index at {dir}; wait for it or stop it"
    )]
    WriterBusy {
        /// The index directory.
        dir: PathBuf,
    },
    /// Writing or committing failed.
    #[error(
        "cannot write the index at {dir}: {source}; check free disk space, then run `fundwatch reindex`"
    )]
    Write {
        /// The index directory.
        dir: PathBuf,
        /// tantivy's error.
        #[source]
        source: TantivyError,
    },
    /// Reading or searching failed.
    #[error("cannot read the index at {dir}: {source}; run `fundwatch reindex` if it persists")]
    Read {
        /// The index directory.
        dir: PathBuf,
        /// tantivy's error.
        #[source]
        source: TantivyError,
    },
    /// A stored document does not hold a readable call.
    #[error(
        "the index at {dir} holds an unreadable document ({message}); run `fundwatch reindex` to rebuild it"
    )]
    Corrupt {
        /// The index directory.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The search query is not valid.
    #[error("invalid query {query:?}: {message}{}", where_(position, near))]
    Query {
        /// The query as typed.
        query: String,
        /// Byte offset of the problem, when the parser knows it.
        position: Option<usize>,
        /// The text at `position` (up to 20 characters), empty when unknown.
        near: String,
        /// What is wrong.
        message: String,
    },
    /// A filter value is not usable.
    #[error("invalid filter {filter}: {message}")]
    Filter {
        /// Which filter.
        filter: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn where_(position: &Option<usize>, near: &str) -> String {
    match position {
        Some(p) if near.is_empty() => format!(" (at position {p}, end of query)"),
        Some(p) => format!(" (at position {p}, near {near:?})"),
        None => String::new(),
    }
}

impl IndexError {
    pub(crate) fn query(query: &str, position: Option<usize>, message: String) -> IndexError {
        let near = position
            .and_then(|p| query.get(p..))
            .map(|rest| rest.chars().take(20).collect())
            .unwrap_or_default();
        IndexError::Query {
            query: query.to_owned(),
            position,
            near,
            message,
        }
    }
}

/// The generation payload stored with each commit.
#[derive(Serialize, Deserialize)]
struct Payload {
    fundwatch_generation: i64,
    /// The glossary fingerprint the documents were analysed with (absent in
    /// indexes committed before concept tokens existed).
    #[serde(default)]
    glossary: Option<String>,
}

/// An open index: schema handles, a reader, and the glossary queries use.
pub struct IndexHandle {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    glossary: Glossary,
    /// The last commit was analysed with `glossary`: searches may use its
    /// concept tokens. Refreshed at every reload.
    concepts: AtomicBool,
}

impl std::fmt::Debug for IndexHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexHandle")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl IndexHandle {
    /// Opens the index in `dir` (the index directory itself, `DIR/index`).
    pub fn open(dir: &Path) -> Result<IndexHandle, IndexError> {
        let open_err = |source| IndexError::Open {
            dir: dir.to_owned(),
            source,
        };
        if !dir.join("meta.json").is_file() {
            return Err(IndexError::Missing {
                dir: dir.to_owned(),
            });
        }
        let index = Index::open_in_dir(dir).map_err(open_err)?;
        let fields =
            Fields::from_schema(&index.schema()).ok_or_else(|| IndexError::Incompatible {
                dir: dir.to_owned(),
            })?;
        IndexHandle::wrap(dir, index, fields)
    }

    /// Creates an empty index in `dir` (created if absent; must not already
    /// hold an index).
    pub fn create(dir: &Path) -> Result<IndexHandle, IndexError> {
        let open_err = |source| IndexError::Open {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(TantivyError::from(e)))?;
        let fields = Fields::build();
        let index = Index::create_in_dir(dir, fields.schema.clone()).map_err(open_err)?;
        IndexHandle::wrap(dir, index, fields)
    }

    /// Opens the index in `dir`, creating an empty one when there is none.
    /// An index written by another fundwatch version (another schema) is
    /// derived data: it is deleted and an empty one created, which the next
    /// catch-up fills from the database.
    pub fn open_or_create(dir: &Path) -> Result<IndexHandle, IndexError> {
        match IndexHandle::open(dir) {
            Err(IndexError::Missing { .. }) => IndexHandle::create(dir),
            Err(IndexError::Incompatible { .. }) => {
                std::fs::remove_dir_all(dir).map_err(|e| IndexError::Write {
                    dir: dir.to_owned(),
                    source: TantivyError::from(e),
                })?;
                IndexHandle::create(dir)
            }
            other => other,
        }
    }

    fn wrap(dir: &Path, index: Index, fields: Fields) -> Result<IndexHandle, IndexError> {
        let glossary = Glossary::default();
        analyzer::register(&index, &glossary);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| IndexError::Open {
                dir: dir.to_owned(),
                source,
            })?;
        let handle = IndexHandle {
            dir: dir.to_owned(),
            index,
            reader,
            fields,
            glossary,
            concepts: AtomicBool::new(false),
        };
        handle.refresh_concepts()?;
        Ok(handle)
    }

    /// Replaces the glossary (default: the built-in one): searches expand
    /// its terms, and documents written through this handle are analysed
    /// with it.
    pub fn with_glossary(mut self, glossary: Glossary) -> IndexHandle {
        analyzer::register(&self.index, &glossary);
        self.glossary = glossary;
        // An unreadable payload surfaces at the next generation check;
        // until then searches simply expand at query time.
        if self.refresh_concepts().is_err() {
            self.concepts.store(false, Ordering::Relaxed);
        }
        self
    }

    /// True when the index was built with this handle's glossary. When not,
    /// searches still work (slower) and [`crate::sync::catch_up`] rebuilds.
    pub fn glossary_current(&self) -> Result<bool, IndexError> {
        Ok(self.payload()?.and_then(|p| p.glossary) == Some(self.glossary.fingerprint()))
    }

    /// Whether searches may use concept tokens.
    pub(crate) fn concepts_usable(&self) -> bool {
        self.concepts.load(Ordering::Relaxed)
    }

    fn refresh_concepts(&self) -> Result<(), IndexError> {
        let current = self.glossary_current()?;
        self.concepts.store(current, Ordering::Relaxed);
        Ok(())
    }

    fn payload(&self) -> Result<Option<Payload>, IndexError> {
        let metas = self.index.load_metas().map_err(|e| self.read_err(e))?;
        let Some(payload) = metas.payload else {
            return Ok(None);
        };
        serde_json::from_str::<Payload>(&payload)
            .map(Some)
            .map_err(|e| IndexError::Corrupt {
                dir: self.dir.clone(),
                message: format!("commit payload {payload:?}: {e}"),
            })
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The schema handles.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Makes commits from other processes visible to searches.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload().map_err(|e| self.read_err(e))?;
        self.refresh_concepts()
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The database generation the last commit reflects; `None` for an index
    /// never committed by fundwatch.
    pub fn indexed_generation(&self) -> Result<Option<i64>, IndexError> {
        Ok(self.payload()?.map(|p| p.fundwatch_generation))
    }

    /// Takes the writer lock. Fails with [`IndexError::WriterBusy`] when
    /// another writer (this process or another) holds it.
    pub fn writer(&self) -> Result<IndexUpdater<'_>, IndexError> {
        self.writer_with_memory(WRITER_MEMORY)
    }

    fn writer_with_memory(&self, memory: usize) -> Result<IndexUpdater<'_>, IndexError> {
        match self.index.writer::<TantivyDocument>(memory) {
            Ok(writer) => Ok(IndexUpdater {
                handle: self,
                writer,
                changed: 0,
            }),
            Err(TantivyError::LockFailure(LockError::LockBusy, _)) => Err(IndexError::WriterBusy {
                dir: self.dir.clone(),
            }),
            Err(source) => Err(self.write_err(source)),
        }
    }

    /// Replaces the whole index content with `docs` in one commit (for
    /// `fundwatch reindex`). Searches see the old content until the commit.
    pub fn rebuild<I>(&self, docs: I, generation: i64) -> Result<u64, IndexError>
    where
        I: IntoIterator<Item = IndexDoc>,
    {
        let mut updater = self.rebuilder()?;
        for doc in docs {
            updater.add(&doc)?;
        }
        let n = updater.changed;
        updater.commit(generation)?;
        Ok(n)
    }

    /// A writer for a whole new content: every document is deleted (at
    /// commit), then the caller adds them all. It indexes with a larger
    /// memory budget than incremental updates: fewer, larger segments to
    /// flush and merge when a whole collection goes through at once.
    pub fn rebuilder(&self) -> Result<IndexUpdater<'_>, IndexError> {
        let updater = self.writer_with_memory(REBUILD_MEMORY)?;
        updater
            .writer
            .delete_all_documents()
            .map_err(|e| self.write_err(e))?;
        Ok(updater)
    }

    fn read_err(&self, source: TantivyError) -> IndexError {
        IndexError::Read {
            dir: self.dir.clone(),
            source,
        }
    }

    fn write_err(&self, source: TantivyError) -> IndexError {
        IndexError::Write {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Builds the tantivy document of a call.
    fn document(&self, doc: &IndexDoc) -> Result<TantivyDocument, IndexError> {
        let f = &self.fields;
        let call = &doc.call;
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &call.id);
        use schema::TextPart;
        let mut add_part = |part: TextPart, value: &str| {
            if value.trim().is_empty() {
                return;
            }
            let field = f.text_field(part);
            if field != f.all {
                d.add_text(field, value);
            }
            for _ in 0..part.weight() {
                d.add_text(f.all, value);
            }
        };
        add_part(TextPart::Title, &call.title);
        add_part(TextPart::Summary, &call.summary);
        add_part(TextPart::Funder, &call.funder);
        if let Some(p) = &call.programme {
            add_part(TextPart::Programme, p);
        }
        for tag in &call.tags {
            add_part(TextPart::Tags, tag);
        }
        add_part(TextPart::Text, &call.text);
        d.add_text(f.level, call.level.as_str());
        d.add_text(f.status, call.status.as_str());
        d.add_text(f.language, call.language.as_str());
        d.add_text(f.funder_exact, &call.funder);
        if let Some(p) = &call.programme {
            d.add_text(f.programme_exact, p);
        }
        let mut sources: Vec<&str> = vec![call.source_id.as_str()];
        for s in &doc.sources {
            if !sources.contains(&s.as_str()) {
                sources.push(s);
            }
        }
        for s in sources {
            d.add_text(f.source, s);
        }
        for id in &call.identifiers {
            d.add_text(f.identifier, id);
        }
        for deadline in &call.deadlines {
            let cutoff = deadline.cutoff();
            d.add_date(f.deadline, tdate(cutoff));
            let local_day = cutoff.with_timezone(&deadline.tz()).date_naive();
            d.add_date(
                f.deadline_day,
                tdate(local_day.and_time(NaiveTime::MIN).and_utc()),
            );
        }
        if let Some(opening) = &call.opening {
            d.add_date(f.opening, tdate(opening.earliest()));
        }
        d.add_date(f.first_seen, tdate(doc.first_seen));
        d.add_date(f.last_changed, tdate(doc.last_changed));
        let json = serde_json::to_string(call).map_err(|e| IndexError::Corrupt {
            dir: self.dir.clone(),
            message: format!("call {} does not serialise: {e}", call.id),
        })?;
        d.add_text(f.call, json);
        Ok(d)
    }
}

pub(crate) fn tdate(t: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_secs(t.timestamp())
}

/// The index writer for one batch. Holds the writer lock until dropped;
/// changes become visible (and durable) only at [`IndexUpdater::commit`],
/// and are discarded if the updater is dropped without committing.
pub struct IndexUpdater<'a> {
    handle: &'a IndexHandle,
    writer: IndexWriter,
    changed: u64,
}

impl std::fmt::Debug for IndexUpdater<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexUpdater")
            .field("dir", &self.handle.dir)
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl IndexUpdater<'_> {
    /// Replaces the document of `doc.call.id` (tantivy has no update:
    /// delete by id term, then add). Pass only calls that changed: an
    /// unchanged call costs nothing because it is never sent here.
    pub fn upsert(&mut self, doc: &IndexDoc) -> Result<(), IndexError> {
        self.delete(&doc.call.id);
        self.add(doc)
    }

    /// Removes the document of call `id` (no-op when absent).
    pub fn delete(&mut self, id: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.handle.fields.id, id));
        self.changed += 1;
    }

    /// Adds the document of a call not in the index (after
    /// [`IndexHandle::rebuilder`]; use [`IndexUpdater::upsert`] otherwise).
    pub fn add(&mut self, doc: &IndexDoc) -> Result<(), IndexError> {
        let d = self.handle.document(doc)?;
        self.writer
            .add_document(d)
            .map_err(|e| self.handle.write_err(e))?;
        self.changed += 1;
        Ok(())
    }

    /// Commits the batch as reflecting database `generation`, waits for
    /// segment merges, releases the lock and reloads the handle's reader.
    pub fn commit(mut self, generation: i64) -> Result<(), IndexError> {
        let handle = self.handle;
        let payload = serde_json::to_string(&Payload {
            fundwatch_generation: generation,
            glossary: Some(handle.glossary.fingerprint()),
        })
        .map_err(|e| IndexError::Corrupt {
            dir: handle.dir.clone(),
            message: format!("generation payload: {e}"),
        })?;
        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(|e| handle.write_err(e))?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(|e| handle.write_err(e))?;
        self.writer
            .wait_merging_threads()
            .map_err(|e| handle.write_err(e))?;
        handle.reload()
    }
}
