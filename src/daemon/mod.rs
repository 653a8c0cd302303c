//! The long-running service (`fundwatch daemon`): runs every source on its
//! own cron schedule, the digests and the officer report on theirs, keeps
//! the index in step with the database, and lives under systemd.
//!
//! # Architecture
//!
//! - [`plan`]: pure scheduling rules (next run, jitter, overdue-once,
//!   backoff). [`state`]: the published state and its one-line summary.
//!   [`lock`]: one writer per data directory. [`notify`]: `sd_notify`.
//! - this file: the loop. One task owns the schedule (a map job → next run)
//!   and is the only one to start jobs; every job runs as its own tokio task
//!   in a `JoinSet`, so a slow or failing source never delays another (the
//!   shared [`Fetcher`] serialises requests per host, which is the only
//!   coupling between sources). A job's result comes back to the loop
//!   through the `JoinSet`, which then computes and persists its next run
//!   (`Store::set_next_run`, shown by `fundwatch sources list` and
//!   `fundwatch status`).
//! - `tokio_util`'s `CancellationToken` stops in-flight crawls at a safe
//!   point (an `.await`: between two HTTP requests, or before or after the
//!   one-transaction store write — never inside it) when the grace period
//!   after SIGTERM has run out. A `JoinSet` rather than a `TaskTracker`:
//!   it hands each job's result back to the loop, which needs it.
//!
//! # Database and index
//!
//! Three SQLite connections, each behind its own mutex and only used on
//! blocking threads (never held across an `.await`): one shared by the crawl
//! jobs, one for the index catch-up, one for the loop's own bookkeeping and
//! the watchdog's `SELECT 1` — so a long crawl write or index rebuild never
//! delays the watchdog. WAL lets them read while another writes.
//!
//! The daemon is *the* index writer. It keeps one [`IndexHandle`] for its
//! life but takes tantivy's writer only while catching up (after each crawl
//! that changed calls, one commit, see [`crate::sync`]): the writer holds a
//! 50 MB arena and threads, which would dominate an idle daemon's memory,
//! and other writers are kept out by the data-directory lock anyway. At
//! most one catch-up runs at a time; crawls finishing meanwhile are folded
//! into the next one. A crawl answered 304 changes nothing and commits
//! nothing.
//!
//! # Signals
//!
//! SIGTERM/SIGINT: no new jobs; in-flight jobs get [`DaemonConfig::grace`]
//! to finish, then are cancelled at their next safe point (a crawl
//! between two writes; the digest job between two messages, leaving the
//! rest pending for the next start); the index is
//! caught up and committed, the state row written, the database closed —
//! within 10 s. SIGHUP: the three configuration files are reloaded
//! together; if any is invalid, the previous configuration stays in force
//! and one log line names the file and the key.
//!
//! # Crash safety
//!
//! Every store write is one transaction, so `kill -9` loses at most the
//! crawl in flight (refetched at the next start: its run was never
//! recorded, so it is overdue and runs once at start). An index left behind
//! the database is caught up at start.

pub mod lock;
pub mod notify;
pub mod plan;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{ConfigError, CronSchedule, Source, Sources};
use crate::crawl::{self, CrawlReport, Sink};
use crate::digest::send;
use crate::fetch::{FetchError, Fetcher};
use crate::index::{Glossary, IndexError, IndexHandle};
use crate::settings::{Profiles, Settings};
use crate::store::{RunRecord, Store, StoreError};
use crate::sync::{self, SyncReport};

use lock::{DirLock, LockError};
use notify::Notifier;
use state::{DaemonState, JobTimes, STATE_KEY};

/// Longest sleep of the loop: wall-clock schedules are re-checked at least
/// this often, so a clock change or a suspend does not leave a job waiting
/// on a stale monotonic deadline.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// After a digest run that left digests pending (the relay was down or said
/// "try later"), the next try comes this soon instead of at the next weekly
/// run: a week late, those digests would arrive beside the next week's,
/// with closing-soon calls already closed.
const DIGEST_RETRY: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// How often statuses are recomputed from the dates when nothing else
/// changes a call: a call closes when its last deadline passes even if its
/// source is not crawled that day.
const STATUS_REFRESH_EVERY: Duration = Duration::from_secs(3600);

/// Time the cancelled jobs get to reach their safe point after the grace
/// period, before they are aborted.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Time the last index catch-up at shutdown may take.
const FINAL_SYNC_WAIT: Duration = Duration::from_secs(2);

/// What the daemon needs to start.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Holds `fundwatch.db`, `index/` and the lock file.
    pub data_dir: PathBuf,
    /// `sources.toml`.
    pub sources_path: PathBuf,
    /// `fundwatch.toml` (defaults when missing).
    pub settings_path: PathBuf,
    /// `profiles.toml` (none when missing).
    pub profiles_path: PathBuf,
    /// The search glossary the index handle uses.
    pub glossary: Glossary,
    /// Largest random delay added to a scheduled run (itself capped at a
    /// quarter of the schedule's period, see [`plan::jitter_cap`]).
    pub max_jitter: Duration,
    /// Time in-flight jobs get to finish after SIGTERM before they are
    /// cancelled. With the cancel wait and the last commit, the daemon exits
    /// within 10 s.
    pub grace: Duration,
}

impl DaemonConfig {
    /// The default grace period after SIGTERM.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(6);
}

/// Why the daemon could not start (once started, problems are logged and
/// it keeps running).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// Another process holds the data directory (exit code 4).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A configuration file is invalid at start (exit code 3).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened.
    #[error("cannot open the database {path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The cause (boxed: it is large, and this error is rare).
        #[source]
        source: Box<StoreError>,
    },
    /// The index could not be opened.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The HTTP client could not be built (boxed: large and rare).
    #[error("cannot set up the HTTP client: {0}")]
    Fetch(Box<FetchError>),
    /// Signal handlers could not be installed.
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    /// A startup task died.
    #[error("the daemon could not start: {0}")]
    Startup(String),
}

/// A job the loop schedules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Job {
    /// Crawl one source.
    Source(String),
    /// Send the digests due.
    Digest,
    /// Send the officer's report.
    Report,
    /// Catch the index up with the database (not scheduled: requested).
    Index,
}

impl Job {
    fn name(&self) -> &str {
        match self {
            Job::Source(id) => id,
            Job::Digest => "digest",
            Job::Report => "report",
            Job::Index => "index",
        }
    }
}

/// What a finished job hands back to the loop.
enum Done {
    Crawl {
        id: String,
        started: DateTime<Utc>,
        /// `None`: cancelled at shutdown.
        report: Option<CrawlReport>,
        elapsed: Duration,
    },
    Sync {
        result: Result<SyncReport, String>,
        elapsed: Duration,
    },
    Periodic {
        job: Job,
        started: DateTime<Utc>,
        outcome: Result<String, String>,
        /// Digests stay pending after a temporary failure: try again soon.
        retry_soon: bool,
    },
}

/// Runs a closure on a blocking thread with the store locked.
async fn with_store<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = crate::store::lock(&store);
        f(&mut s)
    })
    .await
    .map_err(|e| format!("database task failed: {e}"))?
}

/// A configuration error on one line (toml's messages quote the file over
/// several lines; journald shows one line per entry).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn open_store(path: &Path) -> Result<Arc<Mutex<Store>>, DaemonError> {
    Store::open(path)
        .map(|s| Arc::new(Mutex::new(s)))
        .map_err(|source| DaemonError::Store {
            path: path.to_owned(),
            source: Box::new(source),
        })
}

/// The three configuration files, loaded together.
type Config = (Sources, Settings, Profiles);

/// Loads the three files together: all of them, or every error (each
/// names its file and key).
fn load_all(cfg: &DaemonConfig) -> Result<Config, Vec<ConfigError>> {
    let sources = Sources::load(&cfg.sources_path);
    let settings = Settings::load_or_default(&cfg.settings_path);
    let profiles = Profiles::load_or_empty(&cfg.profiles_path);
    match (sources, settings, profiles) {
        (Ok(a), Ok(b), Ok(c)) => Ok((a, b, c)),
        (a, b, c) => Err([a.err(), b.err(), c.err()].into_iter().flatten().collect()),
    }
}

/// Runs the daemon until SIGTERM or SIGINT. Takes the data-directory lock
/// first; returns once everything is committed and closed.
pub async fn run(cfg: DaemonConfig, notifier: Notifier) -> Result<(), DaemonError> {
    let lock_dir = cfg.data_dir.clone();
    let lock = tokio::task::spawn_blocking(move || DirLock::acquire(&lock_dir, "daemon"))
        .await
        .map_err(|e| DaemonError::Startup(e.to_string()))??;
    let (sources, settings, profiles) = match load_all(&cfg) {
        Ok(c) => c,
        Err(mut errors) => {
            for e in errors.iter().skip(1) {
                error!(error = %one_line(&e.to_string()), "invalid configuration");
            }
            return Err(DaemonError::Config(errors.remove(0)));
        }
    };
    let db = cfg.data_dir.join("fundwatch.db");
    let index_dir = cfg.data_dir.join("index");
    let glossary = cfg.glossary.clone();
    let opened = tokio::task::spawn_blocking(move || {
        // The first open migrates the schema; the others find it done.
        let crawl_store = open_store(&db)?;
        let sync_store = open_store(&db)?;
        let own_store = open_store(&db)?;
        let index = IndexHandle::open_or_create(&index_dir)?.with_glossary(glossary);
        Ok::<_, DaemonError>((crawl_store, sync_store, own_store, index))
    })
    .await
    .map_err(|e| DaemonError::Startup(e.to_string()))??;
    let (crawl_store, sync_store, own_store, index) = opened;
    let fetcher = Fetcher::new(
        &sources
            .list
            .first()
            .map(|s| s.fetch.clone())
            .unwrap_or_default(),
    )
    .map_err(|e| DaemonError::Fetch(Box::new(e)))?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;

    let now = Utc::now();
    let mut daemon = Daemon {
        state: DaemonState {
            pid: lock.info().pid,
            started_at: lock.info().started_at,
            updated_at: now,
            activity: "starting".to_owned(),
            running: Vec::new(),
            digest: JobTimes::default(),
            report: JobTimes::default(),
            stopped_at: None,
        },
        cfg,
        sources,
        settings,
        profiles,
        fetcher,
        crawl_store,
        sync_store,
        own_store,
        index: Arc::new(index),
        notifier,
        next: BTreeMap::new(),
        running: BTreeSet::new(),
        tasks: JoinSet::new(),
        task_jobs: HashMap::new(),
        sync_wanted: false,
        status_refreshed: None,
        cancel: CancellationToken::new(),
        stopping: false,
        published: String::new(),
        commits: 0,
    };
    daemon.schedule_all(now).await;
    // Database and index are open: ready. The catch-up of an index left
    // behind by a crash runs as the first job.
    daemon.request_sync();
    let status = daemon.activity(Utc::now());
    daemon.notifier.ready(&status);
    info!(
        pid = daemon.state.pid,
        sources = daemon.sources.list.len(),
        profiles = daemon.profiles.list.len(),
        data_dir = %daemon.cfg.data_dir.display(),
        "daemon started"
    );

    let ping_every = daemon.notifier.watchdog_interval();
    let mut next_ping = ping_every.map(|_| Instant::now());
    loop {
        let now = Utc::now();
        daemon.spawn_due(now);
        if daemon
            .status_refreshed
            .is_some_and(|t| t.elapsed() >= STATUS_REFRESH_EVERY)
        {
            daemon.request_sync();
        }
        daemon.publish(now).await;
        let mut wake = daemon.next_wake(now);
        if let Some(t) = daemon.status_refreshed {
            wake = wake.min(t + STATUS_REFRESH_EVERY);
        }
        if let Some(p) = next_ping {
            wake = wake.min(p);
        }
        tokio::select! {
            _ = term.recv() => {
                info!(signal = "SIGTERM", "stopping");
                break;
            }
            _ = int.recv() => {
                info!(signal = "SIGINT", "stopping");
                break;
            }
            _ = hup.recv() => daemon.reload(Utc::now()).await,
            Some(joined) = daemon.tasks.join_next_with_id(), if !daemon.tasks.is_empty() => {
                daemon.finished(joined).await;
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        if let (Some(every), Some(at)) = (ping_every, next_ping)
            && Instant::now() >= at
        {
            daemon.watchdog(every).await;
            next_ping = Some(Instant::now() + every);
        }
    }
    daemon.shutdown().await;
    drop(daemon);
    drop(lock);
    Ok(())
}

struct Daemon {
    cfg: DaemonConfig,
    sources: Sources,
    settings: Settings,
    profiles: Profiles,
    fetcher: Fetcher,
    /// Shared by the crawl jobs.
    crawl_store: Arc<Mutex<Store>>,
    /// The index catch-up's.
    sync_store: Arc<Mutex<Store>>,
    /// The loop's bookkeeping and the watchdog check.
    own_store: Arc<Mutex<Store>>,
    index: Arc<IndexHandle>,
    notifier: Notifier,
    /// Next run of every job not running now.
    next: BTreeMap<Job, DateTime<Utc>>,
    running: BTreeSet<Job>,
    tasks: JoinSet<Done>,
    task_jobs: HashMap<tokio::task::Id, Job>,
    /// A catch-up was asked for while one was running.
    sync_wanted: bool,
    /// When statuses were last recomputed (None: not yet).
    status_refreshed: Option<Instant>,
    /// Cancels in-flight crawls once the shutdown grace period is over.
    cancel: CancellationToken,
    stopping: bool,
    state: DaemonState,
    /// The last activity line published.
    published: String,
    /// Index commits made (logged at shutdown; the benchmark counts them).
    commits: u64,
}

impl Daemon {
    fn jitter(&self) -> f64 {
        rand::random::<f64>()
    }

    fn next_for(
        &self,
        schedule: &CronSchedule,
        tz: chrono_tz::Tz,
        last: Option<DateTime<Utc>>,
        failures: u32,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        plan::next_run_with(
            schedule,
            tz,
            last,
            failures,
            now,
            self.jitter(),
            self.cfg.max_jitter,
        )
    }

    /// Computes every job's next run from what the database remembers (last
    /// attempt, failure streak; the digest and report times from the last
    /// daemon's state row) and persists the sources' next runs.
    async fn schedule_all(&mut self, now: DateTime<Utc>) {
        let states = with_store(&self.own_store, |s| {
            let states = s.source_states().map_err(|e| e.to_string())?;
            let previous = s.meta(STATE_KEY).map_err(|e| e.to_string())?;
            let undelivered = s.undelivered().map_err(|e| e.to_string())?;
            Ok((states, previous, undelivered))
        })
        .await;
        let (states, previous, undelivered) = match states {
            Ok(v) => v,
            Err(e) => {
                warn!(error = %e, "cannot read the source states; scheduling every source from now");
                (Vec::new(), None, 0)
            }
        };
        let previous: Option<DaemonState> = previous.and_then(|p| serde_json::from_str(&p).ok());
        if let Some(p) = previous {
            self.state.digest.last_run = p.digest.last_run;
            self.state.digest.last_outcome = p.digest.last_outcome;
            self.state.report.last_run = p.report.last_run;
            self.state.report.last_outcome = p.report.last_outcome;
        }
        let by_id: HashMap<&str, _> = states.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut planned = Vec::new();
        for source in &self.sources.list {
            let st = by_id.get(source.id.as_str());
            let next = self.next_for(
                &source.schedule,
                source.timezone,
                st.and_then(|s| s.last_attempt),
                st.map_or(0, |s| s.consecutive_failures),
                now,
            );
            planned.push((source.id.clone(), next));
        }
        for (id, next) in &planned {
            self.next.insert(Job::Source(id.clone()), *next);
        }
        self.schedule_periodic(now);
        if undelivered > 0 {
            // Left by the last daemon (a relay that said "later", a send its
            // shutdown stopped): its retry was only in its memory, and the
            // weekly schedule would hold them for up to a week.
            info!(
                undelivered,
                "digests left undelivered by the last run: delivering them now"
            );
            self.next.insert(Job::Digest, now);
            self.state.digest.next_run = Some(now);
        }
        let persisted = with_store(&self.own_store, move |s| {
            for (id, next) in &planned {
                s.set_next_run(id, Some(*next)).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = persisted {
            warn!(error = %e, "cannot persist the next runs; `fundwatch status` will not show them");
        }
    }

    /// (Re)computes the digest's and the report's next runs.
    fn schedule_periodic(&mut self, now: DateTime<Utc>) {
        let tz = self.settings.timezone;
        for job in [Job::Digest, Job::Report] {
            if self.running.contains(&job) {
                continue;
            }
            let (schedule, times) = match job {
                Job::Digest => (&self.settings.digest_schedule, &self.state.digest),
                _ => (&self.settings.report_schedule, &self.state.report),
            };
            let next = self.next_for(schedule, tz, times.last_run, 0, now);
            match job {
                Job::Digest => self.state.digest.next_run = Some(next),
                _ => self.state.report.next_run = Some(next),
            }
            self.next.insert(job, next);
        }
    }

    /// When the loop must wake up: the earliest next run, at most
    /// [`MAX_SLEEP`] from now.
    fn next_wake(&self, now: DateTime<Utc>) -> Instant {
        let soonest = self
            .next
            .values()
            .min()
            .map(|t| (*t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP);
        Instant::now() + soonest.min(MAX_SLEEP)
    }

    /// Starts every job whose time has come.
    fn spawn_due(&mut self, now: DateTime<Utc>) {
        if self.stopping {
            return;
        }
        let due: Vec<Job> = self
            .next
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(j, _)| j.clone())
            .collect();
        for job in due {
            self.next.remove(&job);
            match &job {
                Job::Source(id) => {
                    let Some(source) = self.sources.get(id).cloned() else {
                        continue;
                    };
                    self.spawn_crawl(source);
                }
                Job::Digest | Job::Report => self.spawn_periodic(job.clone(), now),
                Job::Index => {}
            }
        }
    }

    fn spawn_crawl(&mut self, source: Source) {
        info!(source.id = %source.id, url = %source.url, "crawl started");
        let fetcher = self.fetcher.clone();
        let sink = Sink::Store(self.crawl_store.clone());
        let cancel = self.cancel.clone();
        let job = Job::Source(source.id.clone());
        let handle = self.tasks.spawn(async move {
            let started = Utc::now();
            let t0 = Instant::now();
            let report = tokio::select! {
                r = crawl::crawl_source(&fetcher, &source, &sink, started) => Some(r),
                _ = cancel.cancelled() => None,
            };
            Done::Crawl {
                id: source.id,
                started,
                report,
                elapsed: t0.elapsed(),
            }
        });
        self.task_jobs.insert(handle.id(), job.clone());
        self.running.insert(job);
    }

    fn spawn_periodic(&mut self, job: Job, now: DateTime<Utc>) {
        info!(job = job.name(), "job started");
        let ctx = PeriodicContext {
            digest: send::DigestContext {
                db_path: self.cfg.data_dir.join("fundwatch.db"),
                data_dir: self.cfg.data_dir.clone(),
                settings: self.settings.clone(),
                profiles: self.profiles.clone(),
                glossary: self.cfg.glossary.clone(),
                retry: crate::digest::mail::RetryPolicy::default(),
                stop: self.cancel.clone(),
            },
        };
        let deliver_only = job == Job::Digest && !self.weekly_digest_due(now);
        let which = job.clone();
        let handle = self.tasks.spawn(async move {
            let (outcome, retry_soon) = match which {
                Job::Digest => digest_job(&ctx, now, deliver_only).await,
                _ => (report_job(&ctx, now).await, false),
            };
            Done::Periodic {
                job: which,
                started: now,
                outcome,
                retry_soon,
            }
        });
        self.task_jobs.insert(handle.id(), job.clone());
        self.running.insert(job);
    }

    /// Whether the digest schedule has ticked since the digest job last ran
    /// (since the daemon started, when it never ran): the weekly job is
    /// due. Otherwise the digest job runs to deliver what is left pending
    /// (a retry, or undelivered digests found at start) and records nothing.
    fn weekly_digest_due(&self, now: DateTime<Utc>) -> bool {
        let since = self.state.digest.last_run.unwrap_or(self.state.started_at);
        self.settings
            .digest_schedule
            .next_after(since, self.settings.timezone)
            .is_some_and(|tick| tick <= now)
    }

    /// Asks for an index catch-up: now, or after the one running.
    fn request_sync(&mut self) {
        if self.running.contains(&Job::Index) {
            self.sync_wanted = true;
            return;
        }
        self.sync_wanted = false;
        // Statuses move with the calendar: recompute them with the first
        // catch-up, then at most every STATUS_REFRESH_EVERY.
        let refresh = self
            .status_refreshed
            .is_none_or(|t| t.elapsed() >= STATUS_REFRESH_EVERY);
        if refresh {
            self.status_refreshed = Some(Instant::now());
        }
        let store = self.sync_store.clone();
        let index = self.index.clone();
        let handle = self.tasks.spawn(async move {
            let t0 = Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                let mut store = crate::store::lock(&store);
                if refresh {
                    let changed = store
                        .refresh_statuses(Utc::now())
                        .map_err(|e| e.to_string())?;
                    if !changed.is_empty() {
                        info!(calls = changed.len(), "statuses recomputed from the dates");
                    }
                }
                sync::catch_up(&store, &index).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("index task failed: {e}")));
            Done::Sync {
                result,
                elapsed: t0.elapsed(),
            }
        });
        self.task_jobs.insert(handle.id(), Job::Index);
        self.running.insert(Job::Index);
    }

    /// Handles a finished (or panicked) job.
    async fn finished(&mut self, joined: Result<(tokio::task::Id, Done), tokio::task::JoinError>) {
        let (job, done, panic) = match joined {
            Ok((id, done)) => (self.task_jobs.remove(&id), Some(done), None),
            Err(e) => {
                let job = self.task_jobs.remove(&e.id());
                error!(job = job.as_ref().map(Job::name), error = %e, "job died");
                let panic = e.is_panic().then(|| panic_message(e.into_panic()));
                (job, None, panic)
            }
        };
        let Some(job) = job else {
            return;
        };
        self.running.remove(&job);
        let now = Utc::now();
        match (done, &job) {
            (
                Some(Done::Crawl {
                    id,
                    started,
                    report,
                    elapsed,
                }),
                _,
            ) => {
                self.crawl_finished(id, started, report, elapsed, now).await;
            }
            (None, Job::Source(id)) => {
                let id = id.clone();
                match panic {
                    Some(message) => self.crawl_panicked(id, message, now).await,
                    // Aborted: only the shutdown aborts tasks.
                    None => {
                        self.crawl_finished(id, now, None, Duration::ZERO, now)
                            .await;
                    }
                }
            }
            (Some(Done::Sync { result, elapsed }), _) => {
                match result {
                    Ok(r) if r.refreshed > 0 || r.rebuilt => {
                        self.commits += 1;
                        info!(
                            refreshed = r.refreshed,
                            rebuilt = r.rebuilt,
                            generation = r.generation,
                            duration_ms = elapsed.as_millis() as u64,
                            commits = self.commits,
                            "index committed"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "index not updated; retried after the next crawl"),
                }
                if self.sync_wanted {
                    self.request_sync();
                }
            }
            (None, Job::Index) => {
                if self.sync_wanted {
                    self.request_sync();
                }
            }
            (
                Some(Done::Periodic {
                    job,
                    started,
                    outcome,
                    retry_soon,
                }),
                _,
            ) => {
                self.periodic_finished(job, started, outcome, retry_soon, now);
            }
            (None, job) => {
                let job = job.clone();
                let why = match panic {
                    Some(message) => format!("the job panicked: {message}"),
                    None => "the job was aborted".to_owned(),
                };
                self.periodic_finished(job, now, Err(why), false, now);
            }
        }
    }

    /// A crawl task that panicked: a failure of its source like any other,
    /// so it is retried with the usual backoff. Handing it to
    /// [`Daemon::crawl_finished`] without a report would take the shutdown
    /// path and never schedule the source again until a restart.
    ///
    /// The crawl died before recording its run, so the run is recorded here
    /// (that is what counts the failure and shows it in `sources list` and
    /// the officer's report). Its start is not known here; `now` stands for
    /// it, which only shifts the backoff by the crawl's duration.
    async fn crawl_panicked(&mut self, id: String, message: String, now: DateTime<Utc>) {
        let report = CrawlReport {
            source: id.clone(),
            errors: vec![format!(
                "the crawl panicked (a bug in fundwatch; please report it with this message): {message}"
            )],
            ..CrawlReport::default()
        };
        let run = RunRecord {
            source_id: id.clone(),
            started_at: now,
            finished_at: now,
            ok: false,
            fetched: None,
            new: 0,
            updated: 0,
            unchanged: 0,
            errors: report.errors.clone(),
        };
        let recorded = with_store(&self.own_store, move |s| {
            s.record_run(&run).map_err(|e| e.to_string())
        })
        .await;
        if let Err(e) = recorded {
            warn!(source.id = %id, error = %e, "cannot record the panicked crawl's run");
        }
        self.crawl_finished(id, now, Some(report), Duration::ZERO, now)
            .await;
    }

    async fn crawl_finished(
        &mut self,
        id: String,
        started: DateTime<Utc>,
        report: Option<CrawlReport>,
        elapsed: Duration,
        now: DateTime<Utc>,
    ) {
        let Some(report) = report else {
            info!(source.id = %id, "crawl cancelled by the shutdown; it runs again at the next start");
            return;
        };
        let source = self.sources.get(&id).cloned();
        let state_id = id.clone();
        let state = with_store(&self.own_store, move |s| {
            s.source_state(&state_id).map_err(|e| e.to_string())
        })
        .await;
        let failures = match &state {
            Ok(Some(st)) => st.consecutive_failures,
            Ok(None) => u32::from(report.failed()),
            Err(e) => {
                warn!(source.id = %id, error = %e, "cannot read the source state");
                u32::from(report.failed())
            }
        };
        let next = source
            .as_ref()
            .map(|s| self.next_for(&s.schedule, s.timezone, Some(started), failures, now));
        let backoff_until = (failures > 0).then(|| {
            started + chrono::Duration::from_std(plan::backoff(failures)).unwrap_or_default()
        });
        let persist_id = id.clone();
        let persisted = with_store(&self.own_store, move |s| {
            s.set_next_run(&persist_id, next)
                .map_err(|e| e.to_string())?;
            s.set_backoff_until(&persist_id, backoff_until)
                .map_err(|e| e.to_string())
        })
        .await;
        if let Err(e) = persisted {
            warn!(source.id = %id, error = %e, "cannot persist the next run");
        }
        let next_text = next
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "none (removed)".into());
        if report.failed() {
            warn!(
                source.id = %id,
                duration_ms = elapsed.as_millis() as u64,
                failures,
                next_run = %next_text,
                error = %report.errors.join("; "),
                "crawl failed; backing off"
            );
        } else {
            info!(
                source.id = %id,
                duration_ms = elapsed.as_millis() as u64,
                fetched = report.fetched,
                items = report.items,
                new = report.new,
                updated = report.updated,
                unchanged = report.unchanged,
                not_modified = report.not_modified,
                warnings = report.warnings.len(),
                next_run = %next_text,
                "crawl finished"
            );
        }
        if let Some(next) = next {
            self.next.insert(Job::Source(id), next);
        }
        if !report.changed.is_empty() {
            self.request_sync();
        }
    }

    fn periodic_finished(
        &mut self,
        job: Job,
        started: DateTime<Utc>,
        outcome: Result<String, String>,
        retry_soon: bool,
        now: DateTime<Utc>,
    ) {
        let line = match &outcome {
            Ok(s) => {
                info!(job = job.name(), outcome = %s, "job finished");
                s.clone()
            }
            Err(e) => {
                warn!(job = job.name(), error = %e, "job failed");
                format!("failed: {e}")
            }
        };
        let times = match job {
            Job::Digest => &mut self.state.digest,
            _ => &mut self.state.report,
        };
        times.last_run = Some(started);
        times.last_outcome = Some(line);
        self.schedule_periodic(now);
        if retry_soon && job == Job::Digest {
            let soon = now + DIGEST_RETRY;
            if self.next.get(&Job::Digest).is_none_or(|at| soon < *at) {
                info!(at = %soon, "digests left pending: trying again then");
                self.next.insert(Job::Digest, soon);
                self.state.digest.next_run = Some(soon);
            }
        }
    }

    /// The one-line summary of what runs and what comes next.
    fn activity(&self, now: DateTime<Utc>) -> String {
        let running: Vec<String> = self.running.iter().map(|j| j.name().to_owned()).collect();
        let next = self
            .next
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(j, at)| (j.name(), *at));
        state::activity(&running, next, now, self.settings.timezone)
    }

    /// Sends STATUS= and rewrites the state row when the summary changed.
    async fn publish(&mut self, now: DateTime<Utc>) {
        let line = self.activity(now);
        if line == self.published {
            return;
        }
        self.notifier.status(&line);
        self.published = line.clone();
        self.state.activity = line;
        self.state.running = self.running.iter().map(|j| j.name().to_owned()).collect();
        self.state.updated_at = now;
        self.write_state().await;
    }

    async fn write_state(&self) {
        let Ok(json) = serde_json::to_string(&self.state) else {
            return;
        };
        if let Err(e) = with_store(&self.own_store, move |s| {
            s.set_meta(STATE_KEY, &json).map_err(|e| e.to_string())
        })
        .await
        {
            warn!(error = %e, "cannot write the daemon state; `fundwatch status` may be stale");
        }
    }

    /// Pings the watchdog if the database answers within the interval.
    async fn watchdog(&self, every: Duration) {
        let check = with_store(&self.own_store, |s| {
            s.connection()
                .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map_err(|e| e.to_string())
        });
        match tokio::time::timeout(every, check).await {
            Ok(Ok(1)) => self.notifier.watchdog(),
            Ok(Ok(other)) => warn!(
                answer = other,
                "database check answered oddly; watchdog not pinged"
            ),
            Ok(Err(e)) => warn!(error = %e, "database check failed; watchdog not pinged"),
            Err(_) => warn!("database check timed out; watchdog not pinged"),
        }
    }

    /// SIGHUP: reloads the three files; keeps the old configuration if any
    /// is invalid.
    async fn reload(&mut self, now: DateTime<Utc>) {
        let cfg = self.cfg.clone();
        let loaded = tokio::task::spawn_blocking(move || load_all(&cfg)).await;
        let (sources, settings, profiles) = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(errors)) => {
                for e in errors {
                    error!(
                        error = %one_line(&e.to_string()),
                        "configuration not reloaded; the previous configuration stays in force"
                    );
                }
                return;
            }
            Err(e) => {
                error!(error = %e, "configuration not reloaded");
                return;
            }
        };
        let old = std::mem::replace(&mut self.sources, sources);
        self.profiles = profiles;
        let settings_changed = self.settings != settings;
        self.settings = settings;
        // New or changed sources are rescheduled from their stored state;
        // unchanged ones keep their planned run (and jitter).
        let mut reschedule = Vec::new();
        for s in &self.sources.list {
            if old.get(&s.id) != Some(s) && !self.running.contains(&Job::Source(s.id.clone())) {
                reschedule.push(s.id.clone());
            }
        }
        let removed: Vec<String> = old
            .list
            .iter()
            .filter(|s| self.sources.get(&s.id).is_none())
            .map(|s| s.id.clone())
            .collect();
        for id in &removed {
            self.next.remove(&Job::Source(id.clone()));
        }
        let ids = reschedule.clone();
        let states = with_store(&self.own_store, move |s| {
            ids.iter()
                .map(|id| s.source_state(id).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap_or_default();
        let mut planned: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
        for (i, id) in reschedule.iter().enumerate() {
            let Some(source) = self.sources.get(id) else {
                continue;
            };
            let st = states.get(i).and_then(Option::as_ref);
            let next = self.next_for(
                &source.schedule,
                source.timezone,
                st.and_then(|s| s.last_attempt),
                st.map_or(0, |s| s.consecutive_failures),
                now,
            );
            planned.push((id.clone(), Some(next)));
        }
        for (id, next) in &planned {
            if let Some(next) = next {
                self.next.insert(Job::Source(id.clone()), *next);
            }
        }
        planned.extend(removed.iter().map(|id| (id.clone(), None)));
        if let Err(e) = with_store(&self.own_store, move |s| {
            for (id, next) in &planned {
                s.set_next_run(id, *next).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await
        {
            warn!(error = %e, "cannot persist the next runs");
        }
        if settings_changed {
            self.schedule_periodic(now);
        }
        info!(
            sources = self.sources.list.len(),
            rescheduled = reschedule.len(),
            removed = removed.len(),
            profiles = self.profiles.list.len(),
            "configuration reloaded"
        );
    }

    /// Graceful stop: no new jobs, in-flight ones finish (or are cancelled
    /// after the grace period), last index commit, state row written.
    async fn shutdown(&mut self) {
        self.stopping = true;
        let in_flight: Vec<String> = self.running.iter().map(|j| j.name().to_owned()).collect();
        let line = if in_flight.is_empty() {
            "stopping".to_owned()
        } else {
            format!("stopping: finishing {}", in_flight.join(", "))
        };
        self.notifier.stopping(&line);
        info!(in_flight = ?in_flight, grace_ms = self.cfg.grace.as_millis() as u64, "no new jobs; waiting for the running ones");
        let deadline = Instant::now() + self.cfg.grace;
        self.drain_until(deadline).await;
        if !self.tasks.is_empty() {
            let left: Vec<&str> = self.running.iter().map(Job::name).collect();
            warn!(jobs = ?left, "grace period over; cancelling the running jobs at their next safe point");
            self.cancel.cancel();
            self.drain_until(Instant::now() + CANCEL_WAIT).await;
            if !self.tasks.is_empty() {
                self.tasks.abort_all();
                while let Some(j) = self.tasks.join_next_with_id().await {
                    if let Ok((id, _)) = j {
                        self.task_jobs.remove(&id);
                    }
                }
            }
        }
        // The last commit: whatever the finished crawls stored.
        let store = self.sync_store.clone();
        let index = self.index.clone();
        let last = tokio::time::timeout(
            FINAL_SYNC_WAIT,
            tokio::task::spawn_blocking(move || {
                let store = crate::store::lock(&store);
                sync::catch_up(&store, &index).map_err(|e| e.to_string())
            }),
        )
        .await;
        match last {
            Ok(Ok(Ok(r))) => {
                if r.refreshed > 0 || r.rebuilt {
                    self.commits += 1;
                    info!(
                        refreshed = r.refreshed,
                        generation = r.generation,
                        "index committed"
                    );
                }
            }
            Ok(Ok(Err(e))) => {
                warn!(error = %e, "last index update failed; it catches up at the next start")
            }
            Ok(Err(e)) => {
                warn!(error = %e, "last index update failed; it catches up at the next start")
            }
            Err(_) => warn!("last index update still running; it catches up at the next start"),
        }
        self.running.clear();
        let now = Utc::now();
        self.state.activity = "stopped".to_owned();
        self.state.running = Vec::new();
        self.state.updated_at = now;
        self.state.stopped_at = Some(now);
        self.write_state().await;
        info!(index_commits = self.commits, "daemon stopped");
    }

    async fn drain_until(&mut self, deadline: Instant) {
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(joined) = self.tasks.join_next_with_id() => self.finished(joined).await,
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }
}

/// The message a task panicked with (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// What the digest and report jobs get: the same context `fundwatch digest
/// send` and `fundwatch report send` build, so the daemon and the CLI behave
/// the same.
struct PeriodicContext {
    digest: send::DigestContext,
}

/// The weekly digests: records and sends the current period's digests that
/// were not sent yet (a restart never sends one twice nor skips one).
///
/// Also says whether digests are left undelivered (a temporary failure, a
/// claim a shutdown interrupted): the daemon then tries again in
/// [`DIGEST_RETRY`].
///
/// With `deliver_only`, it delivers what is pending and records nothing
/// (see [`Daemon::weekly_digest_due`]).
async fn digest_job(
    ctx: &PeriodicContext,
    now: DateTime<Utc>,
    deliver_only: bool,
) -> (Result<String, String>, bool) {
    let run = if deliver_only {
        send::deliver_digests(&ctx.digest, now).await
    } else {
        send::send_digests(&ctx.digest, &[], false, now).await
    };
    match run {
        Ok(r) => {
            // Left pending by a temporary failure, or still claimed by a
            // sender a shutdown stopped mid-exchange (the restart's run
            // leaves those until their claim is stale): try again soon.
            let retry_soon = r.undelivered > 0;
            (digest_outcome(&r), retry_soon)
        }
        Err(e) => (Err(e.to_string()), false),
    }
}

/// The digest job's line in the log and in `fundwatch status`.
fn digest_outcome(r: &send::SendReport) -> Result<String, String> {
    let summary = format!(
        "{} recorded, {} sent, {} failed, {} empty, {} not composed",
        r.recorded.len(),
        r.sent.len(),
        r.failed.len(),
        r.empty.len(),
        r.uncomposed.len()
    );
    if !r.uncomposed.is_empty() {
        // Only `profiles check` validates queries and the daemon does not
        // run it: this line is where the officer learns which profile to fix.
        let why: Vec<&str> = r.uncomposed.iter().map(|u| u.error.as_str()).collect();
        Err(format!(
            "some digests were not composed: {summary}; {}",
            why.join("; ")
        ))
    } else if r.has_failures() {
        Err(format!("some digests were not delivered: {summary}"))
    } else {
        Ok(summary)
    }
}

/// The officer's report.
async fn report_job(ctx: &PeriodicContext, now: DateTime<Utc>) -> Result<String, String> {
    let r = send::send_report(&ctx.digest, now)
        .await
        .map_err(|e| e.to_string())?;
    if r.failed.is_empty() {
        Ok(format!("sent to {} address(es)", r.sent.len()))
    } else {
        Err(format!(
            "not delivered to {}",
            r.failed
                .iter()
                .map(|(a, why)| format!("{a}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon over `dir` with one feed source, `src`, due every minute;
    /// nothing scheduled or running yet.
    fn daemon_in(dir: &Path) -> Daemon {
        let cfg = DaemonConfig {
            data_dir: dir.to_owned(),
            sources_path: dir.join("sources.toml"),
            settings_path: dir.join("fundwatch.toml"),
            profiles_path: dir.join("profiles.toml"),
            glossary: Glossary::default(),
            max_jitter: Duration::ZERO,
            grace: DaemonConfig::DEFAULT_GRACE,
        };
        let sources = Sources::parse(
            "[[source]]\nid = \"src\"\nkind = \"feed\"\nurl = \"https://x.org/\"\n\
             schedule = \"0 * * * * *\"\nlevel = \"eu\"\nfunder = \"F\"\nlanguage = \"en\"\n",
            &cfg.sources_path,
        )
        .unwrap();
        let db = dir.join("fundwatch.db");
        let now = Utc::now();
        Daemon {
            state: DaemonState {
                pid: 1,
                started_at: now,
                updated_at: now,
                activity: String::new(),
                running: Vec::new(),
                digest: JobTimes::default(),
                report: JobTimes::default(),
                stopped_at: None,
            },
            settings: Settings::load_or_default(&cfg.settings_path).unwrap(),
            profiles: Profiles::load_or_empty(&cfg.profiles_path).unwrap(),
            fetcher: Fetcher::new(&sources.list[0].fetch).unwrap(),
            sources,
            crawl_store: open_store(&db).unwrap(),
            sync_store: open_store(&db).unwrap(),
            own_store: open_store(&db).unwrap(),
            index: Arc::new(IndexHandle::open_or_create(&dir.join("index")).unwrap()),
            cfg,
            notifier: Notifier::disabled(),
            next: BTreeMap::new(),
            running: BTreeSet::new(),
            tasks: JoinSet::new(),
            task_jobs: HashMap::new(),
            sync_wanted: false,
            status_refreshed: None,
            cancel: CancellationToken::new(),
            stopping: false,
            published: String::new(),
            commits: 0,
        }
    }

    #[tokio::test]
    async fn a_panicked_crawl_is_a_failure_and_its_source_is_scheduled_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = daemon_in(dir.path());
        let job = Job::Source("src".to_owned());
        // A crawl task that panics, as a bug in an extractor would.
        let handle = d.tasks.spawn(async { panic!("boom") });
        d.task_jobs.insert(handle.id(), job.clone());
        d.running.insert(job.clone());
        let joined = d.tasks.join_next_with_id().await.unwrap();
        assert!(joined.as_ref().is_err_and(|e| e.is_panic()));
        let before = Utc::now();
        d.finished(joined).await;
        let after = Utc::now();

        assert!(!d.running.contains(&job));
        let next = *d.next.get(&job).expect("the source is scheduled again");
        // Every minute by its schedule, but one failure backs off 5 minutes.
        let backoff = chrono::Duration::from_std(plan::BACKOFF_BASE).unwrap();
        assert!(
            next >= before + backoff && next <= after + backoff,
            "{before} {next} {after}"
        );
        let st = d
            .own_store
            .lock()
            .unwrap()
            .source_state("src")
            .unwrap()
            .unwrap();
        assert_eq!(st.consecutive_failures, 1);
        assert_eq!(st.next_run, Some(next));
        let err = st.last_error.unwrap();
        assert!(
            err.contains("the crawl panicked") && err.contains("boom"),
            "{err}"
        );
    }

    /// Digests left pending by a relay that said "try later" are tried
    /// again in half an hour: the next try used to be next week's run.
    #[tokio::test]
    async fn pending_digests_are_tried_again_soon_not_next_week() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = daemon_in(dir.path());
        let now = Utc::now();
        d.schedule_periodic(now);
        let weekly = d.next[&Job::Digest];
        assert!(weekly > now + chrono::TimeDelta::hours(1), "{weekly}");

        // As `finished` calls it: the job is no longer running.
        d.periodic_finished(
            Job::Digest,
            now,
            Err("some digests were not delivered".into()),
            true,
            now,
        );
        assert_eq!(d.next[&Job::Digest], now + DIGEST_RETRY);
        assert_eq!(d.state.digest.next_run, Some(now + DIGEST_RETRY));

        // Delivered at the retry: back to the weekly schedule.
        let later = now + DIGEST_RETRY;
        d.periodic_finished(Job::Digest, later, Ok("1 sent".into()), false, later);
        let next = d.next[&Job::Digest];
        assert!(
            next > later + chrono::TimeDelta::hours(1),
            "{later} {next} {weekly}"
        );
    }

    /// Digests left undelivered by the last daemon (its retry lived only in
    /// its memory) waited for the next weekly run after a restart.
    #[tokio::test]
    async fn undelivered_digests_are_delivered_at_start_not_next_week() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = daemon_in(dir.path());
        let now = Utc::now();
        d.schedule_all(now).await;
        assert!(
            d.next[&Job::Digest] > now + chrono::TimeDelta::hours(1),
            "nothing pending: the weekly run"
        );
        d.own_store
            .lock()
            .unwrap()
            .record_digest(
                &crate::store::DigestRecord {
                    profile_id: "p".into(),
                    period: "2026-W48".into(),
                    recipient: "p@univ.example".into(),
                    subject: "s".into(),
                    message_id: "<m@univ.example>".into(),
                    text: "t".into(),
                    html: "<p>h</p>".into(),
                    list_unsubscribe: None,
                    new_ids: vec!["a".into()],
                    updated_ids: vec![],
                    closing_ids: vec![],
                    window_start: now - chrono::TimeDelta::days(7),
                },
                now,
            )
            .unwrap();
        let mut restarted = daemon_in(dir.path());
        restarted.schedule_all(now).await;
        assert_eq!(restarted.next[&Job::Digest], now);
        assert_eq!(restarted.state.digest.next_run, Some(now));
    }

    /// A retry of undelivered digests ran the whole digest job, which
    /// records the current period's digests: a retry (or a restart) in a
    /// new week before the weekly time recorded and sent that week's
    /// digests early. Only a tick of the schedule makes the weekly job due.
    #[test]
    fn only_the_schedule_makes_the_weekly_digest_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = daemon_in(dir.path());
        let tz = d.settings.timezone;
        let tick = |after: DateTime<Utc>| d.settings.digest_schedule.next_after(after, tz).unwrap();
        let started = d.state.started_at;
        let first = tick(started);
        let second = tick(first);
        let minute = chrono::TimeDelta::minutes(1);
        let table = [
            // (last run, now, due)
            (None, first - minute, false),
            (None, first, true),
            (Some(first), first + DIGEST_RETRY, false),
            (Some(first), second - minute, false),
            (Some(first), second + minute, true),
            (
                Some(first - chrono::TimeDelta::days(30)),
                first - minute,
                true,
            ),
        ];
        for (last, now, due) in table {
            d.state.digest.last_run = last;
            assert_eq!(d.weekly_digest_due(now), due, "last {last:?}, now {now}");
        }
    }

    #[test]
    fn config_errors_fit_on_one_line() {
        let table = [("a\n  b\n\nc", "a b c"), ("one", "one"), ("", "")];
        for (input, want) in table {
            assert_eq!(one_line(input), want);
        }
    }
}
