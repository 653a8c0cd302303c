//! The digest and report jobs, as the daemon and the CLI run them:
//!
//! 1. **plan**: for every active profile without a digest for the current
//!    period, match the calls new or changed since its last digest
//!    ([`crate::matching`]), compose ([`super::compose`]) and render;
//! 2. **record** each non-empty digest in the outbox as `pending` (the
//!    `UNIQUE (profile, period)` row: a second run records nothing);
//! 3. **deliver** every pending row (this period's and any left by an
//!    earlier crash or temporary failure): claim, send, mark sent / failed.
//!
//! Recording before sending is what makes a crash harmless: a row recorded
//! but not sent is sent by the next run, with the same stored message and
//! Message-ID, and never composed again. A period the daemon missed is not
//! skipped either: the next digest's window starts at the previous digest,
//! so it covers the missed weeks.
//!
//! The store is synchronous: every database step runs on a blocking thread
//! and the connection is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::compose::{ComposeInput, SentHistory, compose};
use super::mail::{MailError, Mailer, Outgoing, RetryPolicy};
use super::render::{RenderError, RenderOptions, Rendered, render};
use super::report::{Report, ReportInput, compose_report, render_report};
use super::{Digest, Period};
use crate::index::Glossary;
use crate::matching::{Candidate, MatchError, Matcher, window_start};
use crate::settings::{Profile, Profiles, Settings};
use crate::store::{DigestRecord, OutboxEntry, Store, StoreError, next_window_start};

/// A claim older than this is taken over (its sender died mid-exchange).
pub const STALE_CLAIM: TimeDelta = TimeDelta::minutes(15);

/// Messages delivered at once: a recipient whose relay stalls or retries
/// does not hold the others.
const PARALLEL_SENDS: usize = 4;

/// Threads used to match profiles.
const MATCH_THREADS: usize = 2;

/// `meta` key: when the officer's report was last sent.
const REPORT_META: &str = "report.last_sent";

/// What the jobs need.
#[derive(Debug, Clone)]
pub struct DigestContext {
    /// `DIR/fundwatch.db`.
    pub db_path: PathBuf,
    /// `DIR`: the file outbox is `DIR/outbox/`.
    pub data_dir: PathBuf,
    /// Validated settings.
    pub settings: Settings,
    /// Validated profiles.
    pub profiles: Profiles,
    /// The glossary queries are expanded with (as in `fundwatch search`).
    pub glossary: Glossary,
    /// Retry policy for temporary SMTP failures.
    pub retry: RetryPolicy,
    /// Cancelled when the run must stop (the daemon's shutdown): no further
    /// digest is claimed and no failed send waits for its retry; the
    /// exchange in progress finishes. What is left stays pending, unclaimed,
    /// for the next run.
    pub stop: CancellationToken,
}

/// Digest and report job failures (per-recipient delivery failures are not
/// errors: they are in [`SendReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A profile's query is invalid, or matching failed.
    #[error(transparent)]
    Match(#[from] MatchError),
    /// A template failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The transport cannot be set up.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// `--profile` named a profile that does not exist.
    #[error("no profile {id:?} in {file}; known ids: {known}")]
    UnknownProfile {
        /// The id asked for.
        id: String,
        /// The profiles file.
        file: String,
        /// The ids it has.
        known: String,
    },
    /// No officer address is configured.
    #[error("no officer address: set mail.officer in the settings file")]
    NoOfficer,
    /// A blocking task panicked.
    #[error("internal error in a background task: {0}")]
    Task(String),
}

/// One digest planned for a profile.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The composed digest.
    pub digest: Digest,
    /// Its rendering.
    pub rendered: Rendered,
    /// Start of the window it covers.
    pub window_start: DateTime<Utc>,
}

/// A delivery that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    /// Profile id.
    pub profile_id: String,
    /// Period.
    pub period: String,
    /// True when rejected for good; false when it stays pending.
    pub permanent: bool,
    /// Why.
    pub error: String,
}

/// A profile whose digest could not be composed this run (its query does
/// not parse, or matching it failed). Nothing is recorded for it, so the
/// next run tries again once the profile is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncomposed {
    /// Profile id.
    pub profile_id: String,
    /// Why, naming the profile and what to do.
    pub error: String,
}

/// The outcome of one claimed row: delivered (profile, period), or not.
type Delivery = Result<(String, String), Undelivered>;

/// What [`send_digests`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    /// The current period.
    pub period: Option<Period>,
    /// Profiles whose digest was recorded by this run (or, in a dry run,
    /// would be), with (new, updated, closing soon) counts.
    pub recorded: Vec<(String, usize, usize, usize)>,
    /// Profiles with nothing to send this period (not recorded).
    pub empty: Vec<String>,
    /// Profiles already recorded for this period by an earlier run.
    pub already: Vec<String>,
    /// (profile, period) delivered by this run.
    pub sent: Vec<(String, String)>,
    /// Deliveries that failed.
    pub failed: Vec<Undelivered>,
    /// Profiles whose digest could not be composed (the others' were).
    pub uncomposed: Vec<Uncomposed>,
    /// Digests of any period still not delivered after this run: left
    /// pending by a temporary failure, or claimed by a sender that was
    /// stopped mid-exchange (its claim goes stale after [`STALE_CLAIM`]).
    pub undelivered: usize,
}

impl SendReport {
    /// True when some digest was not composed or some delivery failed (the
    /// CLI exits 2).
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty() || !self.uncomposed.is_empty()
    }
}

async fn blocking<T, F>(f: F) -> Result<T, DigestError>
where
    F: FnOnce() -> Result<T, DigestError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DigestError::Task(e.to_string()))?
}

/// The profiles `only` names (all active ones when empty).
fn selected<'a>(ctx: &'a DigestContext, only: &[String]) -> Result<Vec<&'a Profile>, DigestError> {
    for id in only {
        if ctx.profiles.get(id).is_none() {
            return Err(DigestError::UnknownProfile {
                id: id.clone(),
                file: ctx.profiles.path.display().to_string(),
                known: ctx
                    .profiles
                    .list
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(ctx
        .profiles
        .list
        .iter()
        .filter(|p| p.active && (only.is_empty() || only.contains(&p.id)))
        .collect())
}

fn domain(settings: &Settings) -> String {
    super::mail::domain_of(&settings.from).to_owned()
}

/// Loads the candidates of every window starting at or after `earliest`.
fn load_candidates(store: &Store, earliest: DateTime<Utc>) -> Result<Vec<Candidate>, StoreError> {
    let mut out = Vec::new();
    for id in store.calls_changed_since(earliest)? {
        if let Some(s) = store.call(&id)? {
            out.push(Candidate {
                call: s.call,
                first_seen: s.first_seen,
                last_changed: s.last_changed,
            });
        }
    }
    Ok(out)
}

/// Plans the digests of `profiles` for `period` at `now`, each with the
/// window starting at `last[profile]` (first-run rule when absent) and the
/// profile's outbox `history`. Reads the store; writes nothing.
///
/// One result per profile, in the order of `profiles`: a profile whose
/// query does not parse gets its [`MatchError`] and the others are planned
/// all the same (the daemon only checks the profiles file's structure, so
/// one bad query must not hold every recipient's digest). The outer error
/// is for what affects them all: the database, the templates.
pub fn plan(
    store: &Store,
    ctx: &DigestContext,
    profiles: &[&Profile],
    period: Period,
    last: &HashMap<String, DateTime<Utc>>,
    history: &HashMap<String, Vec<OutboxEntry>>,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Planned, MatchError>>, DigestError> {
    if profiles.is_empty() {
        return Ok(Vec::new());
    }
    let windows: Vec<DateTime<Utc>> = profiles
        .iter()
        .map(|p| window_start(last.get(&p.id).copied(), now))
        .collect();
    let earliest = windows.iter().min().copied().unwrap_or(now);
    let candidates = load_candidates(store, earliest)?;
    let changes = store.changes_since(earliest)?;

    // Calls sent before and not yet announced as closing: loaded once each.
    let mut closing_ids: HashSet<String> = HashSet::new();
    for p in profiles {
        let h = SentHistory::from_rows(history.get(&p.id).map_or(&[][..], Vec::as_slice));
        closing_ids.extend(h.sent.difference(&h.announced_closing).cloned());
    }
    let mut closing_calls = HashMap::new();
    for id in closing_ids {
        if let Some(s) = store.call(&id)? {
            closing_calls.insert(id, s.call);
        }
    }

    let matcher = Matcher::new(candidates, ctx.glossary.clone())?;
    let args: Vec<(&Profile, Option<DateTime<Utc>>)> = profiles
        .iter()
        .map(|p| (*p, last.get(&p.id).copied()))
        .collect();
    let results = matcher.match_all(&args, now, MATCH_THREADS);
    let domain = domain(&ctx.settings);
    let opts = RenderOptions {
        timezone: ctx.settings.timezone,
        unsubscribe_url: ctx.settings.unsubscribe_url.as_deref(),
        domain: &domain,
    };
    let mut out = Vec::with_capacity(profiles.len());
    for ((p, result), window) in profiles.iter().zip(results).zip(windows) {
        let matches = match result {
            Ok(m) => m,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let matches = matches
            .into_iter()
            .map(|m| (matcher.candidates()[m.candidate].call.clone(), m.reasons))
            .collect();
        let rows = history.get(&p.id).map_or(&[][..], Vec::as_slice);
        let sent = SentHistory::from_rows(rows);
        let closing_candidates = sent
            .sent
            .iter()
            .filter_map(|id| closing_calls.get(id).cloned())
            .collect();
        let digest = compose(
            ComposeInput {
                profile: p,
                period,
                matches,
                changes: &changes,
                window_start: window,
                history: rows,
                closing_candidates,
                closing_soon_days: ctx.settings.closing_soon_days,
                timezone: ctx.settings.timezone,
            },
            now,
        );
        let rendered = render(&digest, &opts, now)?;
        out.push(Ok(Planned {
            digest,
            rendered,
            window_start: window,
        }));
    }
    Ok(out)
}

fn record_of(p: &Planned) -> DigestRecord {
    let ids = |items: &[super::DigestItem]| items.iter().map(|i| i.call.id.clone()).collect();
    DigestRecord {
        profile_id: p.digest.profile.id.clone(),
        period: p.digest.period.to_string(),
        recipient: p.digest.profile.email.clone(),
        subject: p.rendered.subject.clone(),
        message_id: p.rendered.message_id.clone(),
        text: p.rendered.text.clone(),
        html: p.rendered.html.clone(),
        list_unsubscribe: p.rendered.list_unsubscribe.clone(),
        new_ids: ids(&p.digest.new),
        updated_ids: ids(&p.digest.updated),
        closing_ids: ids(&p.digest.closing_soon),
        window_start: p.window_start,
    }
}

/// Steps 1 and 2: plans the current period's digests of the selected
/// profiles that have none yet and records the non-empty ones (or, with
/// `dry_run`, only says what would be recorded). Synchronous: call it on a
/// blocking thread. The crash test stops here, as a crash would.
pub fn record_digests(
    store: &mut Store,
    ctx: &DigestContext,
    only: &[String],
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<SendReport, DigestError> {
    let period = Period::containing(now, ctx.settings.timezone);
    let profiles = selected(ctx, only)?;
    let mut history: HashMap<String, Vec<OutboxEntry>> = HashMap::new();
    for row in store.outbox(None)? {
        history.entry(row.profile_id.clone()).or_default().push(row);
    }
    let period_str = period.to_string();
    let mut report = SendReport {
        period: Some(period),
        ..SendReport::default()
    };
    let mut todo = Vec::new();
    for p in profiles {
        let done = history
            .get(&p.id)
            .is_some_and(|rows| rows.iter().any(|r| r.period == period_str));
        if done {
            report.already.push(p.id.clone());
        } else {
            todo.push(p);
        }
    }
    let last = store.last_digests()?;
    let planned = plan(store, ctx, &todo, period, &last, &history, now)?;
    for (profile, p) in todo.iter().zip(planned) {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                report.uncomposed.push(Uncomposed {
                    profile_id: profile.id.clone(),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let id = p.digest.profile.id.clone();
        if p.digest.is_empty() && !ctx.settings.send_empty {
            report.empty.push(id);
            continue;
        }
        let counts = (
            p.digest.new.len(),
            p.digest.updated.len(),
            p.digest.closing_soon.len(),
        );
        if dry_run {
            report.recorded.push((id, counts.0, counts.1, counts.2));
            continue;
        }
        match store.record_digest(&record_of(&p), now)? {
            Some(_) => report.recorded.push((id, counts.0, counts.1, counts.2)),
            // Another process recorded it meanwhile: that one stands.
            None => report.already.push(id),
        }
    }
    Ok(report)
}

/// Step 3: delivers every deliverable outbox row of the selected profiles
/// (all rows when `only` is empty), at most `PARALLEL_SENDS` at once.
pub async fn deliver_pending(
    store: Arc<Mutex<Store>>,
    ctx: &DigestContext,
    only: &[String],
    now: DateTime<Utc>,
) -> Result<(Vec<(String, String)>, Vec<Undelivered>), DigestError> {
    let mailer = Mailer::from_settings(&ctx.settings, &ctx.data_dir)?
        .with_retry(ctx.retry)
        .with_stop(ctx.stop.clone());
    let s = store.clone();
    let rows = blocking(move || Ok(lock(&s).deliverable(now, STALE_CLAIM)?)).await?;
    let rows: Vec<OutboxEntry> = rows
        .into_iter()
        .filter(|r| only.is_empty() || only.contains(&r.profile_id))
        .collect();
    let mailer = &mailer;
    let results: Vec<Result<Option<Delivery>, DigestError>> = futures_util::stream::iter(rows)
        .map(|row| {
            let store = store.clone();
            async move {
                // Stopping: leave it pending and unclaimed, so that the next
                // run sends it at once (a claim would hold it for
                // STALE_CLAIM).
                if ctx.stop.is_cancelled() {
                    return Ok(None);
                }
                let s = store.clone();
                let id = row.id;
                let Some(msg) =
                    blocking(move || Ok(lock(&s).claim_digest(id, now, STALE_CLAIM)?)).await?
                else {
                    return Ok(None);
                };
                let out = Outgoing {
                    to: msg.entry.recipient.clone(),
                    subject: msg.entry.subject.clone(),
                    text: msg.text,
                    html: msg.html,
                    message_id: msg.message_id,
                    list_unsubscribe: msg.list_unsubscribe,
                    file_stem: format!("{}-{}", msg.entry.profile_id, msg.entry.period),
                };
                let key = (msg.entry.profile_id.clone(), msg.entry.period.clone());
                let result = mailer.send(&out).await;
                let s = store.clone();
                match result {
                    Ok(()) => {
                        blocking(move || Ok(lock(&s).mark_sent(id, now)?)).await?;
                        Ok(Some(Ok(key)))
                    }
                    Err(e) => {
                        let permanent = e.is_permanent();
                        let error = e.to_string();
                        let err = error.clone();
                        blocking(move || Ok(lock(&s).mark_failed(id, &err, permanent)?)).await?;
                        Ok(Some(Err(Undelivered {
                            profile_id: key.0,
                            period: key.1,
                            permanent,
                            error,
                        })))
                    }
                }
            }
        })
        .buffer_unordered(PARALLEL_SENDS)
        .collect()
        .await;
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r? {
            Some(Ok(k)) => sent.push(k),
            Some(Err(u)) => failed.push(u),
            None => {}
        }
    }
    sent.sort();
    failed.sort_by(|a, b| (&a.profile_id, &a.period).cmp(&(&b.profile_id, &b.period)));
    Ok((sent, failed))
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    // A panic while holding the lock leaves the store usable: every write
    // is its own transaction, rolled back on failure.
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the database (its directory must exist: the CLI creates it).
fn open(ctx: &DigestContext) -> Result<Store, DigestError> {
    Ok(Store::open(&ctx.db_path)?)
}

/// The database, shared by a job's blocking steps.
async fn open_shared(ctx: &DigestContext) -> Result<Arc<Mutex<Store>>, DigestError> {
    let c = ctx.clone();
    Ok(Arc::new(Mutex::new(blocking(move || open(&c)).await?)))
}

/// The digest job: records the current period's digests of the selected
/// profiles (`only` empty: every active profile) that have none yet, then
/// delivers every pending one. With `dry_run`, records and sends nothing
/// and reports what would be recorded.
pub async fn send_digests(
    ctx: &DigestContext,
    only: &[String],
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<SendReport, DigestError> {
    let store = open_shared(ctx).await?;
    let mut report = {
        let (c, s, only) = (ctx.clone(), store.clone(), only.to_vec());
        blocking(move || record_digests(&mut lock(&s), &c, &only, dry_run, now)).await?
    };
    if !dry_run {
        deliver_into(&mut report, store, ctx, only, now).await?;
    }
    Ok(report)
}

/// Delivers the digests already recorded and still pending, and records
/// nothing: the daemon's retry of undelivered digests between two weekly
/// runs. The whole job there would record the *next* period's digests
/// early when the retry (or a restart) falls in a new period before its
/// scheduled time.
pub async fn deliver_digests(
    ctx: &DigestContext,
    now: DateTime<Utc>,
) -> Result<SendReport, DigestError> {
    let mut report = SendReport::default();
    deliver_into(&mut report, open_shared(ctx).await?, ctx, &[], now).await?;
    Ok(report)
}

/// [`deliver_pending`], then the count of what is still undelivered, into
/// `report`.
async fn deliver_into(
    report: &mut SendReport,
    store: Arc<Mutex<Store>>,
    ctx: &DigestContext,
    only: &[String],
    now: DateTime<Utc>,
) -> Result<(), DigestError> {
    let (sent, failed) = deliver_pending(store.clone(), ctx, only, now).await?;
    report.sent = sent;
    report.failed = failed;
    report.undelivered = blocking(move || Ok(lock(&store).undelivered()?)).await?;
    Ok(())
}

/// `fundwatch digest preview`: the digest `profile_id` would get for
/// `period` (default: the current one) at `now`, composed and rendered but
/// neither recorded nor sent.
pub fn preview(
    ctx: &DigestContext,
    profile_id: &str,
    period: Option<Period>,
    now: DateTime<Utc>,
) -> Result<Planned, DigestError> {
    let p = ctx
        .profiles
        .get(profile_id)
        .ok_or_else(|| DigestError::UnknownProfile {
            id: profile_id.to_owned(),
            file: ctx.profiles.path.display().to_string(),
            known: ctx
                .profiles
                .list
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let period = period.unwrap_or_else(|| Period::containing(now, ctx.settings.timezone));
    let store = open(ctx)?;
    // History before this period only: previewing a recorded week shows it
    // as it was composed, not as "already sent".
    let period_str = period.to_string();
    let rows: Vec<OutboxEntry> = store
        .outbox(Some(&p.id))?
        .into_iter()
        .filter(|r| r.period != period_str)
        .collect();
    let last: HashMap<String, DateTime<Utc>> = next_window_start(&rows)
        .map(|t| (p.id.clone(), t))
        .into_iter()
        .collect();
    let history = HashMap::from([(p.id.clone(), rows)]);
    let planned = plan(&store, ctx, &[p], period, &last, &history, now)?
        .pop()
        .ok_or_else(|| DigestError::Task("planning returned no digest".to_owned()))?;
    planned.map_err(DigestError::from)
}

/// What [`send_report`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    /// The report.
    pub report: Report,
    /// Officer addresses it reached.
    pub sent: Vec<String>,
    /// Officer addresses it did not reach, with why.
    pub failed: Vec<(String, String)>,
}

/// The officer's report job: composes the report of the window since the
/// last report (7 days on the first) and sends it to every officer address.
pub async fn send_report(
    ctx: &DigestContext,
    now: DateTime<Utc>,
) -> Result<ReportOutcome, DigestError> {
    if ctx.settings.officer.is_empty() {
        return Err(DigestError::NoOfficer);
    }
    let c = ctx.clone();
    let report = blocking(move || {
        let store = open(&c)?;
        let since = store
            .meta(REPORT_META)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now - TimeDelta::days(7));
        let states = store.source_states()?;
        let runs = store.recent_runs(None, 5000)?;
        let outbox = store.outbox_since(since)?;
        let calls_added = store.calls_added_since(since)?;
        let calls_changed = store.calls_changed_since(since)?.len() as u64;
        Ok(compose_report(ReportInput {
            states: &states,
            runs: &runs,
            outbox: &outbox,
            calls_added,
            calls_changed,
            since,
            period: Period::containing(now, c.settings.timezone),
            broken_profiles: c
                .profiles
                .list
                .iter()
                .filter_map(|p| {
                    crate::matching::check_profile(p, &c.glossary)
                        .err()
                        .map(|e| (p.id.clone(), e.to_string()))
                })
                .collect(),
        }))
    })
    .await?;
    let rendered = render_report(&report, ctx.settings.timezone);
    let mailer = Mailer::from_settings(&ctx.settings, &ctx.data_dir)?
        .with_retry(ctx.retry)
        .with_stop(ctx.stop.clone());
    let domain = domain(&ctx.settings);
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for (i, to) in ctx.settings.officer.iter().enumerate() {
        let out = Outgoing {
            to: to.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: rendered.html.clone(),
            message_id: format!(
                "<report.{}.{}.{i}@{domain}>",
                report.period,
                now.timestamp()
            ),
            list_unsubscribe: None,
            file_stem: format!("report-{}-{}-{i}", report.period, now.timestamp()),
        };
        match mailer.send(&out).await {
            Ok(()) => sent.push(to.clone()),
            Err(e) => failed.push((to.clone(), e.to_string())),
        }
    }
    if !sent.is_empty() {
        let c = ctx.clone();
        blocking(move || {
            let mut store = open(&c)?;
            store.set_meta(
                REPORT_META,
                &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )?;
            Ok(())
        })
        .await?;
    }
    Ok(ReportOutcome {
        report,
        sent,
        failed,
    })
}
