//! The crawl job: one source, end to end — fetch (with its validators),
//! extract, normalise, store — and the record of how it went. The one-shot
//! `fundwatch crawl`, `fundwatch sources check` and the daemon all call
//! [`crawl_source`], so they behave the same.
//!
//! Partial success is normal (DESIGN.md): a malformed item becomes a warning
//! and the rest of the source is kept; a failed source is recorded in its
//! run and state rows and never stops the others.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, warn};
use url::Url;

use crate::config::{Source, SourceKind};
use crate::extract::{self, ExtractProblem, Extracted};
use crate::fetch::{FetchOutcome, Fetcher};
use crate::model::{Call, Validators};
use crate::normalize;
use crate::store::{RunRecord, Store};

/// The EU portal never has more than this many pages for one query in
/// practice (725 open topics in total in 2026); the cap stops a server that
/// keeps answering full pages from looping us forever.
const MAX_PORTAL_PAGES: u32 = 100;

/// What one crawl of one source did. Serialised as the `--json` output of
/// `fundwatch crawl`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CrawlReport {
    /// Source id.
    pub source: String,
    /// Documents fetched with a body (a 304 counts zero).
    pub fetched: u32,
    /// Calls seen for the first time.
    pub new: usize,
    /// Calls whose stored fields changed.
    pub updated: usize,
    /// Calls seen again unchanged.
    pub unchanged: usize,
    /// Why the source failed (empty when it succeeded).
    pub errors: Vec<String>,
    /// Items skipped or pages that failed while the source as a whole succeeded.
    pub warnings: Vec<String>,
    /// True when the server said nothing changed (HTTP 304).
    pub not_modified: bool,
    /// Items the source yielded this time.
    pub items: usize,
    /// Ids of new and updated calls (for the index).
    #[serde(skip)]
    pub changed: Vec<String>,
    /// The calls themselves, for `sources check` (not stored then).
    #[serde(skip)]
    pub calls: Vec<Call>,
}

impl CrawlReport {
    /// True when the source failed.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// What fetching and extracting produced, before storing.
struct Harvest {
    drafts: Extracted,
    fetched: u32,
    /// Validators to remember once the calls are safely stored.
    validators: Vec<(Url, Validators)>,
    not_modified: bool,
}

/// Where results go.
#[derive(Clone)]
pub enum Sink {
    /// Store in the database (the normal crawl).
    Store(Arc<Mutex<Store>>),
    /// Only extract (`sources check`): nothing is written; validators are
    /// not sent, so the officer always sees the current content.
    DryRun,
}

/// Crawls one source. Never returns an error: failures are in the report
/// (and, with a store, in the run log and the source state).
pub async fn crawl_source(
    fetcher: &Fetcher,
    source: &Source,
    sink: &Sink,
    now: DateTime<Utc>,
) -> CrawlReport {
    let started = Utc::now();
    let mut report = CrawlReport {
        source: source.id.clone(),
        ..CrawlReport::default()
    };
    let store = match sink {
        Sink::Store(s) => Some(s.clone()),
        Sink::DryRun => None,
    };
    let extraction = extraction_fingerprint(source);
    // Validators earned with other extraction settings are not sent: a 304
    // would keep the calls as the old selectors or the old fundwatch read
    // them (the officer fixes a selector, crawls, and nothing changes).
    let same_extraction = match &store {
        Some(s) => {
            let (s, id) = (s.clone(), source.id.clone());
            tokio::task::spawn_blocking(move || crate::store::lock(&s).extraction(&id))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
                .is_some_and(|f| f == extraction)
        }
        None => false,
    };
    let validators_from = store.as_ref().filter(|_| same_extraction);
    let harvest = harvest(fetcher, source, validators_from, now).await;
    match harvest {
        Err(message) => report.errors.push(message),
        Ok(h) => {
            report.fetched = h.fetched;
            report.not_modified = h.not_modified;
            report.warnings = h.drafts.problems.iter().map(problem_message).collect();
            report.items = h.drafts.calls.len();
            let calls: Vec<Call> = h
                .drafts
                .calls
                .into_iter()
                .map(|d| normalize::normalize(d, source, now))
                .collect();
            match &store {
                None => report.calls = calls,
                Some(store) if !h.not_modified => {
                    let store = store.clone();
                    let id = source.id.clone();
                    let validators = h.validators;
                    let stored = tokio::task::spawn_blocking(move || {
                        let mut store = crate::store::lock(&store);
                        // Stamped when stored, not when the crawl started: a
                        // digest recorded while this crawl was fetching (a
                        // listing with detail pages takes minutes) did not see
                        // these calls, and the next one covers what changed
                        // after it; stamped with the start, they fell before
                        // that window and no digest announced them.
                        let stored_at = Utc::now().max(now);
                        let summary = store
                            .apply_calls(&id, &calls, stored_at)
                            .map_err(|e| e.to_string())?;
                        // Validators only after the calls are stored: if storing
                        // failed, the next crawl must not get a 304 and skip them.
                        for (url, v) in &validators {
                            store
                                .set_validators(url.as_str(), v, now)
                                .map_err(|e| e.to_string())?;
                        }
                        store
                            .set_extraction(&id, &extraction)
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>(summary)
                    })
                    .await;
                    match stored {
                        Ok(Ok(summary)) => {
                            report.new = summary.new.len();
                            report.updated = summary.updated.len();
                            report.unchanged = summary.unchanged;
                            report.changed =
                                summary.new.into_iter().chain(summary.updated).collect();
                        }
                        Ok(Err(e)) => report.errors.push(format!(
                            "storing the calls failed, nothing was changed: {e}"
                        )),
                        Err(e) => report.errors.push(format!("storing the calls failed: {e}")),
                    }
                }
                // A 304 may carry a newer Last-Modified or ETag: remember
                // them (RFC 9111 §4.3.4), nothing else to store.
                Some(store) => {
                    let store = store.clone();
                    let validators = h.validators;
                    let saved = tokio::task::spawn_blocking(move || {
                        let mut store = crate::store::lock(&store);
                        for (url, v) in &validators {
                            store
                                .set_validators(url.as_str(), v, now)
                                .map_err(|e| e.to_string())?;
                        }
                        Ok::<_, String>(())
                    })
                    .await;
                    if let Ok(Err(e)) | Err(e) = saved.map_err(|e| e.to_string()) {
                        warn!(source.id = %source.id, error = %e, "could not update the validators after a 304");
                    }
                }
            }
        }
    }
    if let Some(store) = store {
        let run = RunRecord {
            source_id: source.id.clone(),
            started_at: started,
            finished_at: Utc::now(),
            ok: !report.failed(),
            // `None` when nothing was re-read (304), so the "suddenly yields
            // zero items" check keeps comparing with the last real count.
            fetched: (!report.not_modified && !report.failed()).then_some(report.items as u64),
            new: report.new as u64,
            updated: report.updated as u64,
            unchanged: report.unchanged as u64,
            errors: report
                .errors
                .iter()
                .chain(report.warnings.iter())
                .cloned()
                .collect(),
        };
        let recorded = tokio::task::spawn_blocking(move || {
            let mut store = crate::store::lock(&store);
            store.record_run(&run).map_err(|e| e.to_string())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = recorded.map_err(|e| e.to_string()) {
            warn!(source.id = %source.id, error = %e, "could not record the run");
        }
    }
    if report.failed() {
        warn!(source.id = %source.id, errors = ?report.errors, "source failed");
    } else {
        info!(source.id = %source.id, fetched = report.fetched, new = report.new, updated = report.updated,
            unchanged = report.unchanged, not_modified = report.not_modified, "source crawled");
    }
    report
}

/// What a source's stored calls and validators depend on besides the
/// pages: its extraction settings (everything but when and how politely to
/// fetch) and the fundwatch version, hashed. Debug output is a stable
/// serialisation of them within one version, and a new version changes
/// the fingerprint anyway.
fn extraction_fingerprint(source: &Source) -> String {
    use sha2::{Digest, Sha256};
    let settings = format!(
        "{} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        env!("CARGO_PKG_VERSION"),
        source.kind,
        source.url,
        source.level,
        source.funder,
        source.language,
        source.timezone,
        source.tags,
        source.programmes,
        source.statuses,
        source.include,
        source.exclude,
    );
    hex::encode(&Sha256::digest(settings.as_bytes())[..8])
}

/// A problem as the crawl reports it. The message says itself whether the
/// item was skipped or kept (`entry has no link; kept without a URL`, a
/// SEDIA date ignored in a row that is kept): the report must not call
/// every problem a skip.
fn problem_message(p: &ExtractProblem) -> String {
    format!("{}: {}", p.item, p.message)
}

async fn stored_validators(store: Option<&Arc<Mutex<Store>>>, url: &Url) -> Option<Validators> {
    let store = store?.clone();
    let url = url.to_string();
    tokio::task::spawn_blocking(move || crate::store::lock(&store).validators(&url).ok().flatten())
        .await
        .ok()
        .flatten()
}

async fn harvest(
    fetcher: &Fetcher,
    source: &Source,
    store: Option<&Arc<Mutex<Store>>>,
    now: DateTime<Utc>,
) -> Result<Harvest, String> {
    match &source.kind {
        SourceKind::Feed => {
            let validators = stored_validators(store, &source.url).await;
            match fetcher
                .get(&source.url, &source.fetch, validators.as_ref())
                .await
                .map_err(|e| e.to_string())?
            {
                FetchOutcome::NotModified(v) => Ok(Harvest {
                    drafts: Extracted::default(),
                    fetched: 0,
                    validators: vec![(source.url.clone(), v)],
                    not_modified: true,
                }),
                FetchOutcome::Fetched(f) => {
                    let body =
                        crate::fetch::charset::feed_bytes(&f.body, f.content_type.as_deref());
                    let drafts =
                        extract::feed::extract(&body, source, now).map_err(|e| e.to_string())?;
                    Ok(Harvest {
                        drafts,
                        fetched: 1,
                        validators: vec![(source.url.clone(), f.validators)],
                        not_modified: false,
                    })
                }
            }
        }
        SourceKind::Html(spec) => {
            let mut out = Extracted::default();
            let mut fetched = 0;
            let mut validators = Vec::new();
            // False once a page or detail page this crawl should have read
            // was not: see below.
            let mut complete = true;
            let mut page_url = source.url.clone();
            let mut seen_pages = std::collections::HashSet::new();
            for page in 0..spec.max_pages {
                if !seen_pages.insert(page_url.clone()) {
                    break;
                }
                // Conditional GET only on the first listing page: when it has
                // not changed, nothing behind it is re-read.
                let v = if page == 0 {
                    stored_validators(store, &page_url).await
                } else {
                    None
                };
                let fetched_page = match fetcher.get(&page_url, &source.fetch, v.as_ref()).await {
                    Ok(FetchOutcome::NotModified(v)) if page == 0 => {
                        return Ok(Harvest {
                            drafts: Extracted::default(),
                            fetched: 0,
                            validators: vec![(page_url, v)],
                            not_modified: true,
                        });
                    }
                    Ok(FetchOutcome::NotModified(_)) => break,
                    Ok(FetchOutcome::Fetched(f)) => f,
                    // The first page failing fails the source; a later page
                    // failing keeps what the earlier pages gave.
                    Err(e) if page == 0 => return Err(e.to_string()),
                    Err(e) => {
                        complete = false;
                        out.problems.push(ExtractProblem {
                            item: format!("page {}", page + 1),
                            message: e.to_string(),
                        });
                        break;
                    }
                };
                fetched += 1;
                if page == 0 {
                    validators.push((page_url.clone(), fetched_page.validators.clone()));
                }
                let text = fetched_page.text();
                let listing =
                    match extract::html::listing(&text, &fetched_page.url, spec, source, now) {
                        Ok(l) => l,
                        Err(e) if page == 0 => return Err(e.to_string()),
                        Err(e) => {
                            complete = false;
                            out.problems.push(ExtractProblem {
                                item: format!("page {}", page + 1),
                                message: e.to_string(),
                            });
                            break;
                        }
                    };
                out.calls.extend(listing.items);
                out.problems.extend(listing.problems);
                match listing.next_page {
                    Some(next) => page_url = next,
                    None => break,
                }
            }
            if let Some(detail) = &spec.detail {
                for draft in &mut out.calls {
                    let Ok(url) = Url::parse(&draft.url) else {
                        continue;
                    };
                    match fetcher.get(&url, &source.fetch, None).await {
                        Ok(FetchOutcome::Fetched(f)) => {
                            fetched += 1;
                            if let Err(e) =
                                extract::html::detail(draft, &f.text(), &f.url, detail, source, now)
                            {
                                out.problems.push(ExtractProblem {
                                    item: draft.url.clone(),
                                    message: format!("detail page: {e}"),
                                });
                            }
                        }
                        Ok(FetchOutcome::NotModified(_)) => {}
                        Err(e) => {
                            complete = false;
                            out.problems.push(ExtractProblem {
                                item: draft.url.clone(),
                                message: format!("detail page not read, listing data kept: {e}"),
                            });
                        }
                    }
                }
            }
            // The first page's validators stand for the whole listing: the
            // next crawl that gets a 304 for it re-reads nothing behind it.
            // Remembered after a page 2 or a detail page that could not be
            // read, they would keep that page unread until page 1 changed
            // (months, for a deadline moved on a detail page); forgotten,
            // the next crawl reads everything again.
            if !complete {
                validators.clear();
            }
            Ok(Harvest {
                drafts: out,
                fetched,
                validators,
                not_modified: false,
            })
        }
        SourceKind::EuPortal => {
            let request = extract::eu_portal::request(source);
            let mut rows = Vec::new();
            let mut fetched = 0;
            for page_number in 1..=MAX_PORTAL_PAGES {
                let url = extract::eu_portal::page_url(
                    &source.url,
                    page_number,
                    extract::eu_portal::PAGE_SIZE,
                );
                let answer = fetcher
                    .post_json_parts(&url, &source.fetch, &request.parts)
                    .await
                    .map_err(|e| format!("page {page_number}: {e}"))?;
                fetched += 1;
                let page = extract::eu_portal::parse_page(&answer.body)
                    .map_err(|e| format!("page {page_number}: {e}"))?;
                let count = page.rows.len() as u64;
                rows.extend(page.rows);
                if count < u64::from(extract::eu_portal::PAGE_SIZE)
                    || u64::from(page_number) * u64::from(extract::eu_portal::PAGE_SIZE)
                        >= page.total_results
                {
                    break;
                }
            }
            let drafts = extract::eu_portal::into_drafts(rows, source, now);
            Ok(Harvest {
                drafts,
                fetched,
                validators: Vec::new(),
                not_modified: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crawl printed "skipped item item 3 (…): entry has no link; kept
    /// without a URL": every problem was called a skip, and the label
    /// ("item 3") was prefixed with "item" once more.
    #[test]
    fn a_kept_item_is_not_reported_as_skipped() {
        let kept = ExtractProblem::new("item 3 (anr-3)", "entry has no link; kept without a URL");
        assert_eq!(
            problem_message(&kept),
            "item 3 (anr-3): entry has no link; kept without a URL"
        );
        let skipped =
            ExtractProblem::new("item 4", "entry has neither a title nor a link; skipped");
        assert_eq!(
            problem_message(&skipped),
            "item 4: entry has neither a title nor a link; skipped"
        );
    }
}
