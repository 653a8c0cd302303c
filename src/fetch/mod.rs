//! Polite HTTP fetching: the only place fundwatch talks to the network.
//!
//! One [`Fetcher`] per process (cheap to clone, shared state behind an
//! `Arc`). Every request goes through the same steps:
//!
//! 1. robots.txt of the origin, fetched once and cached (GET only, see
//!    [`robots`]); a disallowed URL is never requested;
//! 2. the host's slot ([`politeness`]): one request at a time per host, with
//!    `min_delay_per_host` (raised by `Crawl-delay` and `Retry-After`)
//!    between the end of one request and the start of the next;
//! 3. the request, with the policy's User-Agent and total timeout and
//!    conditional validators (RFC 9110 §13.1); the body is read as a stream
//!    and cut off as soon as it exceeds `max_body` *after* decompression, so
//!    a gzip bomb is never inflated;
//! 4. a redirect (at most [`MAX_REDIRECTS`]) goes back to step 1 for its
//!    target: followed by hand, not by reqwest, so that another host's
//!    robots.txt and slot apply to it (reqwest would ask that host under
//!    the first host's rules);
//! 5. on a transient failure, a retry after an exponential backoff with
//!    jitter, or after the server's `Retry-After` ([`retry`]).
//!
//! Text decoding ([`decode_html`]) is separate and pure: extractors call
//! [`Fetched::text`] when they want characters rather than bytes.

pub mod charset;
pub mod politeness;
pub mod retry;
pub mod robots;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, DATE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, RETRY_AFTER, USER_AGENT,
};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use url::Url;

use crate::config::FetchPolicy;
use crate::model::Validators;

pub use charset::decode_html;

/// Redirects followed per request (the sixth is an error), for pages and
/// robots.txt alike (RFC 9309 §2.3.1.2 asks for at least five).
pub const MAX_REDIRECTS: usize = 5;

/// Bytes of an error answer kept for the message.
const ERROR_BODY_SNIPPET: usize = 200;

/// Bytes of an error answer read at most (the rest is not needed to explain it).
const ERROR_BODY_READ: u64 = 64 * 1024;

/// A fetch that did not produce a usable answer. Every variant names the URL
/// and says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP client could not be built.
    #[error(
        "cannot build the HTTP client: {source}. Check `user_agent` in [defaults] \
         (visible ASCII only)."
    )]
    Client {
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// Only http and https URLs are fetched.
    #[error("{url}: only http:// and https:// URLs can be fetched; fix the source's `url`")]
    UnsupportedUrl {
        /// The URL.
        url: Url,
    },
    /// A header value (User-Agent, validator) is not valid in HTTP.
    #[error("{url}: cannot build the request: {reason}")]
    InvalidRequest {
        /// The URL.
        url: Url,
        /// Which value is wrong.
        reason: String,
    },
    /// No complete answer within the policy's `timeout` (body included).
    #[error(
        "{url}: no complete answer within {} (timeout). The server is slow or down; \
         if it is always slow, raise `timeout` for this source",
        humantime::format_duration(*.after)
    )]
    Timeout {
        /// The URL.
        url: Url,
        /// The timeout that expired.
        after: Duration,
    },
    /// The connection could not be established (DNS, refused, TLS).
    #[error(
        "{url}: cannot connect: {}. Check the address and the network",
        root_cause(.source)
    )]
    Connect {
        /// The URL.
        url: Url,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed during the exchange (reset, truncated answer).
    #[error("{url}: the connection failed during the exchange: {}", root_cause(.source))]
    Network {
        /// The URL.
        url: Url,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The body could not be decompressed.
    #[error(
        "{url}: the server sent a body that cannot be decoded: {}",
        root_cause(.source)
    )]
    Decode {
        /// The URL.
        url: Url,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error(
        "{url}: more than {limit} redirects. Point the source at the final address \
         (open it in a browser to see where it lands)"
    )]
    TooManyRedirects {
        /// The URL asked for.
        url: Url,
        /// Redirects allowed.
        limit: usize,
    },
    /// The server answered with an error status (after any retries).
    #[error(
        "{url}: HTTP {status}{}{}. {}",
        retry_after.map(|d| format!(" (server asks to wait {})", humantime::format_duration(d))).unwrap_or_default(),
        if body.is_empty() { String::new() } else { format!("; the answer starts with: {body:?}") },
        status_advice(*status)
    )]
    Status {
        /// The final URL (after redirects).
        url: Url,
        /// HTTP status code.
        status: u16,
        /// The first 200 characters of the answer, for the officer (boxed
        /// to keep `Result<_, FetchError>` small).
        body: Box<str>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The body is larger than the policy's `max_body`.
    #[error(
        "{url}: body too large: {} {size} bytes, more than the limit of {limit} bytes. \
         Raise `max_body` for this source if the page is legitimately that big",
        if *announced { "Content-Length announces" } else { "received more than" }
    )]
    BodyTooLarge {
        /// The URL.
        url: Url,
        /// `max_body` of the policy.
        limit: u64,
        /// Announced length, or bytes received when reading stopped.
        size: u64,
        /// True when rejected from `Content-Length` before reading.
        announced: bool,
    },
    /// robots.txt forbids this URL to us; it was not requested.
    #[error(
        "{url}: disallowed by {} for `fundwatch`. The site does not want it \
         crawled: ask the site or drop the source",
        robots::robots_url(url)
    )]
    RobotsDisallowed {
        /// The URL not fetched (its robots.txt is [`robots::robots_url`]).
        url: Url,
    },
    /// robots.txt could not be read (5xx, network error): nothing on that
    /// host is fetched this time (RFC 9309 §2.3.1.4).
    #[error(
        "{url}: not fetched because {} is unreachable ({reason}); RFC 9309 \
         says to crawl nothing then. The next crawl will try again",
        robots::robots_url(url)
    )]
    RobotsUnreachable {
        /// The URL not fetched (its robots.txt is [`robots::robots_url`]).
        url: Url,
        /// What went wrong.
        reason: String,
    },
    /// The host asked us (Retry-After) to wait longer than this fetch may wait.
    #[error(
        "{url}: the server asks to wait {} before the next request, more than the {} this \
         fetch may wait; the next crawl will try again",
        humantime::format_duration(*.wait),
        humantime::format_duration(*.budget)
    )]
    RetryAfterTooLong {
        /// The URL.
        url: Url,
        /// The wait asked for (capped at one hour).
        wait: Duration,
        /// What was left of the retry budget.
        budget: Duration,
    },
}

fn status_advice(status: u16) -> &'static str {
    match status {
        401 | 403 => "The server refuses us; check the URL or whether the site blocks crawlers",
        404 | 410 => "The page is gone; the source may have moved: update its `url`",
        400..=499 => "The request was refused; check the source's `url` and parameters",
        _ => "The server failed; the next crawl will try again",
    }
}

impl FetchError {
    /// True when trying again later may succeed: timeouts, connection
    /// failures, 408/429/5xx, robots.txt unreachable, a long `Retry-After`.
    /// False for facts about the request or resource (404, too large,
    /// disallowed, too many redirects).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Network { .. }
            | FetchError::RobotsUnreachable { .. }
            | FetchError::RetryAfterTooLong { .. } => true,
            FetchError::Status { status, .. } => retry::status_is_transient(*status),
            _ => false,
        }
    }

    /// The URL the error is about.
    pub fn url(&self) -> Option<&Url> {
        match self {
            FetchError::Client { .. } => None,
            FetchError::UnsupportedUrl { url }
            | FetchError::InvalidRequest { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Network { url, .. }
            | FetchError::Decode { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::BodyTooLarge { url, .. }
            | FetchError::RobotsDisallowed { url, .. }
            | FetchError::RobotsUnreachable { url, .. }
            | FetchError::RetryAfterTooLong { url, .. } => Some(url),
        }
    }
}

/// The answer to a conditional GET.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// 304: the resource did not change. Carries the validators to keep
    /// (the old ones, refreshed by any the 304 sent; RFC 9111 §4.3.4).
    NotModified(Validators),
    /// A new representation.
    Fetched(Fetched),
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Final URL after redirects.
    pub url: Url,
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// Raw bytes, decompressed, at most `max_body`.
    pub body: Bytes,
    /// `ETag` / `Last-Modified` of this answer, for the next conditional GET.
    pub validators: Validators,
    /// Time taken by the successful attempt.
    pub elapsed: Duration,
}

impl Fetched {
    /// The body as text, decoded per [`decode_html`].
    pub fn text(&self) -> String {
        decode_html(&self.body, self.content_type.as_deref()).0
    }
}

/// Backoff settings of the retry loop.
#[derive(Debug, Clone, Copy)]
struct RetryTiming {
    base: Duration,
    cap: Duration,
    /// Longest total wait (backoffs and `Retry-After`) one fetch accepts.
    budget: Duration,
}

impl Default for RetryTiming {
    fn default() -> Self {
        RetryTiming {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            budget: Duration::from_secs(10 * 60),
        }
    }
}

/// Makes ring the process's rustls crypto provider. fundwatch builds rustls
/// with ring alone (aws-lc-rs is a large C library to compile), and reqwest's
/// `rustls-no-provider` feature panics when building a client unless a
/// provider was installed first; lettre's SMTP transport reads the same
/// process default.
fn install_crypto_provider() {
    // An error only says a provider is already installed: by an earlier
    // call, and so ring, since no other provider is compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug)]
struct Shared {
    /// One client per connect timeout in use: reqwest sets the connect
    /// timeout per client, not per request, and `connect_timeout` can be
    /// set per source. Sources on the default share one client (and its
    /// connection pool).
    clients: std::sync::Mutex<HashMap<Duration, reqwest::Client>>,
    /// The User-Agent a client sends when a request sets none (every
    /// request sets its policy's).
    user_agent: String,
    hosts: politeness::Hosts,
    robots: robots::RobotsCache,
}

/// The polite HTTP client. Clone it freely: clones share the connection
/// pool, the per-host slots and the robots.txt cache.
#[derive(Debug, Clone)]
pub struct Fetcher {
    shared: Arc<Shared>,
    timing: RetryTiming,
}

/// A raw answer of one attempt, body read.
struct Answer {
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    elapsed: Duration,
}

/// What to do with a body larger than the cap.
#[derive(Clone, Copy)]
enum Oversize {
    /// Fail with [`FetchError::BodyTooLarge`].
    Fail,
    /// Keep the first `cap` bytes (robots.txt, error snippets).
    Truncate,
}

impl Fetcher {
    /// Builds the client for `default_policy`'s connect timeout; a policy
    /// with another one gets its own client on first use. Each request sends
    /// its own policy's User-Agent and total timeout.
    pub fn new(default_policy: &FetchPolicy) -> Result<Fetcher, FetchError> {
        install_crypto_provider();
        let client = build_client(&default_policy.user_agent, default_policy.connect_timeout)?;
        Ok(Fetcher {
            shared: Arc::new(Shared {
                clients: std::sync::Mutex::new(HashMap::from([(
                    default_policy.connect_timeout,
                    client,
                )])),
                user_agent: default_policy.user_agent.clone(),
                hosts: politeness::Hosts::default(),
                robots: robots::RobotsCache::default(),
            }),
            timing: RetryTiming::default(),
        })
    }

    /// The client for `policy`'s connect timeout, built on first use.
    fn client(&self, policy: &FetchPolicy) -> Result<reqwest::Client, FetchError> {
        // A panic elsewhere while the map was held leaves it as it was: the
        // clients in it are still good.
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(&policy.connect_timeout) {
            return Ok(c.clone());
        }
        let c = build_client(&self.shared.user_agent, policy.connect_timeout)?;
        clients.insert(policy.connect_timeout, c.clone());
        Ok(c)
    }

    /// Changes the retry backoff: `base × 2^n`, at most `cap`, ±20 % jitter
    /// (defaults: 1 s and 60 s). Tests use milliseconds.
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Fetcher {
        self.timing.base = base;
        self.timing.cap = cap;
        self
    }

    /// Changes the longest total wait one fetch accepts for retries
    /// (default 10 minutes). A `Retry-After` beyond what is left fails with
    /// [`FetchError::RetryAfterTooLong`] instead of waiting.
    pub fn with_retry_budget(mut self, budget: Duration) -> Fetcher {
        self.timing.budget = budget;
        self
    }

    /// GET with conditional validators (`If-None-Match`, `If-Modified-Since`,
    /// RFC 9110 §13.1); returns [`FetchOutcome::NotModified`] on 304.
    #[tracing::instrument(level = "debug", skip_all, fields(url = %url))]
    pub async fn get(
        &self,
        url: &Url,
        policy: &FetchPolicy,
        validators: Option<&Validators>,
    ) -> Result<FetchOutcome, FetchError> {
        check_scheme(url)?;
        let user_agent = header_value(url, "User-Agent", &policy.user_agent)?;
        let mut conditional = Vec::new();
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                conditional.push((IF_NONE_MATCH, header_value(url, "ETag", etag)?));
            }
            if let Some(date) = &v.last_modified {
                conditional.push((IF_MODIFIED_SINCE, header_value(url, "Last-Modified", date)?));
            }
        }
        let client = self.client(policy)?;
        let mut at = url.clone();
        let mut hops = 0;
        let answer = loop {
            let rules = self.robots_for(&at, policy).await?;
            if !rules.allowed(&at) {
                info!(url = %at, "disallowed by robots.txt, not fetched");
                return Err(FetchError::RobotsDisallowed { url: at });
            }
            let answer = self
                .with_retries(&at, policy, || {
                    let mut request = client
                        .get(at.clone())
                        .header(USER_AGENT, user_agent.clone())
                        .timeout(policy.timeout);
                    for (name, value) in &conditional {
                        request = request.header(name, value.clone());
                    }
                    Ok(request)
                })
                .await?;
            match redirect_target(&answer)? {
                Some(next) if hops < MAX_REDIRECTS => {
                    debug!(from = %at, to = %next, "redirected");
                    hops += 1;
                    at = next;
                }
                Some(_) => {
                    return Err(FetchError::TooManyRedirects {
                        url: url.clone(),
                        limit: MAX_REDIRECTS,
                    });
                }
                None => break answer,
            }
        };
        let (etag, last_modified) = validators_of(&answer.headers);
        if answer.status == StatusCode::NOT_MODIFIED {
            info!(url = %url, http.status = 304, elapsed_ms = answer.elapsed.as_millis() as u64, "not modified");
            return Ok(FetchOutcome::NotModified(refresh_validators(
                validators,
                etag,
                last_modified,
            )));
        }
        info!(
            url = %url,
            final_url = %answer.url,
            http.status = answer.status.as_u16(),
            bytes = answer.body.len(),
            elapsed_ms = answer.elapsed.as_millis() as u64,
            "fetched"
        );
        Ok(FetchOutcome::Fetched(fetched(answer, etag, last_modified)))
    }

    /// POST `multipart/form-data` whose parts are JSON "file parts", as the
    /// EU portal's search API requires (SOURCES-FORMATS.md §1.1: each part
    /// has `filename="blob"` and `Content-Type: application/json`; an
    /// ordinary form field gets HTTP 500 `{"type":"throwable"}`). The form is
    /// rebuilt for each attempt since a sent form is consumed. A non-2xx
    /// answer is an error whose message quotes the start of the body.
    ///
    /// robots.txt is not consulted: this is an API call made on the API's
    /// documented terms, not crawling (RFC 9309 §2.5 scopes robots.txt to
    /// crawlers).
    #[tracing::instrument(level = "debug", skip_all, fields(url = %url))]
    pub async fn post_json_parts(
        &self,
        url: &Url,
        policy: &FetchPolicy,
        parts: &[(String, String)],
    ) -> Result<Fetched, FetchError> {
        check_scheme(url)?;
        let user_agent = header_value(url, "User-Agent", &policy.user_agent)?;
        let client = self.client(policy)?;
        let answer = self
            .with_retries(url, policy, || {
                let mut form = reqwest::multipart::Form::new();
                for (name, json) in parts {
                    let part = reqwest::multipart::Part::text(json.clone())
                        .file_name("blob")
                        .mime_str("application/json")
                        .map_err(|e| FetchError::InvalidRequest {
                            url: url.clone(),
                            reason: format!("multipart part {name:?}: {e}"),
                        })?;
                    form = form.part(name.clone(), part);
                }
                Ok(client
                    .post(url.clone())
                    .header(USER_AGENT, user_agent.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .timeout(policy.timeout)
                    .multipart(form))
            })
            .await?;
        if !answer.status.is_success() {
            // A redirect (not followed for a POST: the portal's search API
            // answers where it is asked) or a 304 (never asked for here).
            return Err(status_error(&answer));
        }
        info!(
            url = %url,
            http.status = answer.status.as_u16(),
            bytes = answer.body.len(),
            elapsed_ms = answer.elapsed.as_millis() as u64,
            "posted"
        );
        let (etag, last_modified) = validators_of(&answer.headers);
        Ok(fetched(answer, etag, last_modified))
    }

    /// Runs attempts until one gives 2xx/304, a failure is not worth
    /// retrying, retries run out or the wait budget would be exceeded.
    async fn with_retries<F>(
        &self,
        url: &Url,
        policy: &FetchPolicy,
        make: F,
    ) -> Result<Answer, FetchError>
    where
        F: Fn() -> Result<reqwest::RequestBuilder, FetchError>,
    {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let request = make()?;
            let err = match self.attempt(url, policy, request, Oversize::Fail).await {
                // Redirects are the caller's to follow (see `get`).
                Ok(answer) if answer.status.is_success() || answer.status.is_redirection() => {
                    return Ok(answer);
                }
                Ok(answer) => status_error(&answer),
                Err(err) => err,
            };
            if !retry::should_retry(&err, retries, policy.max_retries) {
                return Err(err);
            }
            let retry_after = match &err {
                FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let backoff = self.backoff(retries);
            // The server's Retry-After is a floor, not a replacement for the
            // backoff: `Retry-After: 0` (or a date already past) made every
            // retry follow the failure at once.
            let wait = match retry_after {
                Some(wait) => wait.min(retry::RETRY_AFTER_CAP).max(backoff),
                None => backoff,
            };
            let left = self.timing.budget.saturating_sub(started.elapsed());
            if wait > left {
                return Err(match retry_after {
                    Some(_) => FetchError::RetryAfterTooLong {
                        url: url.clone(),
                        wait,
                        budget: left,
                    },
                    None => err,
                });
            }
            warn!(
                url = %url,
                error = %err,
                retry = retries + 1,
                of = policy.max_retries,
                wait_ms = wait.as_millis() as u64,
                "transient failure, retrying"
            );
            // A Retry-After is enforced by the host slot (it delays every
            // request to that host, not only ours); a backoff, or what the
            // backoff adds to a shorter Retry-After, is ours alone.
            match retry_after {
                None => tokio::time::sleep(wait).await,
                Some(asked) => {
                    let asked = asked.min(retry::RETRY_AFTER_CAP);
                    if wait > asked {
                        tokio::time::sleep(wait - asked).await;
                    }
                }
            }
            retries += 1;
        }
    }

    /// The backoff before retry number `retries` (0-based), jitter drawn.
    fn backoff(&self, retries: u32) -> Duration {
        retry::backoff_delay(
            retries,
            self.timing.base,
            self.timing.cap,
            rand::random_range(-1.0..=1.0),
        )
    }

    /// One request, holding the host's slot from the polite wait before it
    /// to the end of the body, then setting when the next may start.
    async fn attempt(
        &self,
        url: &Url,
        policy: &FetchPolicy,
        request: reqwest::RequestBuilder,
        oversize: Oversize,
    ) -> Result<Answer, FetchError> {
        let origin = url.origin().ascii_serialization();
        let slot = self.shared.hosts.slot(&origin);
        let mut host = slot.lock().await;
        if let Some(next) = host.next_allowed {
            let now = Instant::now();
            if next > now {
                let wait = next - now;
                if wait > self.timing.budget {
                    return Err(FetchError::RetryAfterTooLong {
                        url: url.clone(),
                        wait,
                        budget: self.timing.budget,
                    });
                }
                debug!(url = %url, wait_ms = wait.as_millis() as u64, "waiting for the host");
                tokio::time::sleep_until(next).await;
            }
        }
        let started = Instant::now();
        let result = self.exchange(url, policy, request, oversize).await;
        let ended = Instant::now();
        let retry_after = match &result {
            Ok(answer)
                if answer.status == StatusCode::TOO_MANY_REQUESTS
                    || answer.status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                retry_after_of(&answer.headers)
            }
            _ => None,
        };
        let crawl_delay = self.shared.robots.crawl_delay(&origin);
        host.next_allowed = Some(politeness::next_allowed(
            ended,
            policy.min_delay_per_host,
            crawl_delay,
            retry_after,
        ));
        drop(host);
        match &result {
            Ok(answer) => debug!(
                url = %url,
                http.status = answer.status.as_u16(),
                bytes = answer.body.len(),
                elapsed_ms = (ended - started).as_millis() as u64,
                "answer"
            ),
            Err(err) => {
                debug!(url = %url, error = %err, elapsed_ms = (ended - started).as_millis() as u64, "attempt failed")
            }
        }
        result
    }

    /// Sends and reads the body under the cap.
    async fn exchange(
        &self,
        url: &Url,
        policy: &FetchPolicy,
        request: reqwest::RequestBuilder,
        oversize: Oversize,
    ) -> Result<Answer, FetchError> {
        let started = Instant::now();
        let response = request.send().await.map_err(|e| classify(url, policy, e))?;
        let status = response.status();
        let final_url = response.url().clone();
        let headers = response.headers().clone();
        let (cap, oversize) = if status.is_success() {
            (policy.max_body, oversize)
        } else {
            (policy.max_body.min(ERROR_BODY_READ), Oversize::Truncate)
        };
        // Early rejection on the announced length. After transparent
        // decompression reqwest reports no length, so compressed bodies are
        // caught by the streaming count below instead.
        if let (Oversize::Fail, Some(len)) = (oversize, response.content_length())
            && len > cap
        {
            return Err(FetchError::BodyTooLarge {
                url: url.clone(),
                limit: cap,
                size: len,
                announced: true,
            });
        }
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        // Chunks arrive decompressed, so this counts what would land in
        // memory, not what crossed the wire.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(url, policy, e))?;
            let room = cap.saturating_sub(body.len() as u64);
            if chunk.len() as u64 > room {
                match oversize {
                    Oversize::Truncate => {
                        // `room` < chunk.len(), a usize, so it fits.
                        body.extend_from_slice(&chunk[..room as usize]);
                        break;
                    }
                    Oversize::Fail => {
                        return Err(FetchError::BodyTooLarge {
                            url: url.clone(),
                            limit: cap,
                            size: body.len() as u64 + chunk.len() as u64,
                            announced: false,
                        });
                    }
                }
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            url: final_url,
            status,
            headers,
            body: body.freeze(),
            elapsed: started.elapsed(),
        })
    }

    /// The robots.txt rules of `url`'s origin: cached, or fetched now (one
    /// fetch per origin even under concurrency).
    async fn robots_for(
        &self,
        url: &Url,
        policy: &FetchPolicy,
    ) -> Result<robots::Rules, FetchError> {
        let origin = url.origin().ascii_serialization();
        let entry = self.shared.robots.entry(&origin);
        let mut cached = entry.lock().await;
        if let Some((rules, at)) = cached.as_ref()
            && at.elapsed() < robots::CACHE_TTL
        {
            return Ok(rules.clone());
        }
        let robots_url = robots::robots_url(url);
        let user_agent = header_value(url, "User-Agent", &policy.user_agent)?;
        let client = self.client(policy)?;
        let robots_policy = FetchPolicy {
            max_body: robots::MAX_ROBOTS_BYTES,
            ..policy.clone()
        };
        // A reset or a timeout on robots.txt is retried like one on a page:
        // unretried, one dropped connection failed the whole source for
        // this crawl (RFC 9309 makes an unreachable robots.txt "disallow
        // all"). Statuses are answers, not failures: `verdict` reads them,
        // once redirects (at most five, RFC 9309 §2.3.1.2) are followed.
        let mut retries = 0;
        let mut at = robots_url.clone();
        let mut hops = 0;
        let answer = loop {
            let request = client
                .get(at.clone())
                .header(USER_AGENT, user_agent.clone())
                .timeout(policy.timeout);
            match self
                .attempt(&at, &robots_policy, request, Oversize::Truncate)
                .await
            {
                Err(err) if retry::should_retry(&err, retries, policy.max_retries) => {
                    let wait = self.backoff(retries);
                    warn!(url = %at, error = %err, retry = retries + 1, of = policy.max_retries,
                        wait_ms = wait.as_millis() as u64, "robots.txt: transient failure, retrying");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                Ok(answer) => match redirect_target(&answer) {
                    Ok(Some(next)) if hops < MAX_REDIRECTS => {
                        hops += 1;
                        at = next;
                    }
                    Ok(Some(_)) => {
                        break Err(FetchError::TooManyRedirects {
                            url: robots_url.clone(),
                            limit: MAX_REDIRECTS,
                        });
                    }
                    // No Location (or not http): `verdict` reads the 3xx.
                    Ok(None) | Err(_) => break Ok(answer),
                },
                other => break other,
            }
        };
        let verdict = match answer {
            Ok(answer) => robots::verdict(answer.status.as_u16(), &answer.body),
            // RFC 9309 §2.3.1.2: after five redirects, "unavailable".
            Err(FetchError::TooManyRedirects { .. }) => {
                robots::Verdict::Rules(robots::Rules::AllowAll)
            }
            Err(err) => robots::Verdict::Unreachable(err.to_string()),
        };
        match verdict {
            robots::Verdict::Rules(rules) => {
                debug!(url = %robots_url, crawl_delay = ?rules.crawl_delay(), "robots.txt cached");
                // The robots.txt request set the host's next slot without
                // the Crawl-delay it carried (the rules were not cached
                // yet): the first page would follow it at once.
                if let Some(delay) = rules.crawl_delay() {
                    let slot = self.shared.hosts.slot(&origin);
                    let mut host = slot.lock().await;
                    let after =
                        politeness::next_allowed(Instant::now(), Duration::ZERO, Some(delay), None);
                    host.next_allowed = Some(host.next_allowed.map_or(after, |t| t.max(after)));
                }
                *cached = Some((rules.clone(), Instant::now()));
                Ok(rules)
            }
            robots::Verdict::Unreachable(reason) => {
                warn!(url = %robots_url, %reason, "robots.txt unreachable: disallowing the host for now");
                Err(FetchError::RobotsUnreachable {
                    url: url.clone(),
                    reason,
                })
            }
        }
    }
}

/// Where a redirect answer points (`Location` resolved against the answer's
/// URL, RFC 9110 §10.2.2), or `None` for any other answer, 304 included. A
/// redirect without a usable `Location` is an error: there is nothing else
/// to read.
fn redirect_target(answer: &Answer) -> Result<Option<Url>, FetchError> {
    if !answer.status.is_redirection() || answer.status == StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    let next = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| answer.url.join(loc.trim()).ok());
    match next {
        Some(next) => {
            check_scheme(&next)?;
            Ok(Some(next))
        }
        None => Err(status_error(answer)),
    }
}

fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ => Err(FetchError::UnsupportedUrl { url: url.clone() }),
    }
}

fn header_value(url: &Url, what: &str, value: &str) -> Result<HeaderValue, FetchError> {
    HeaderValue::from_str(value).map_err(|_| FetchError::InvalidRequest {
        url: url.clone(),
        reason: format!("{what} {value:?} is not a valid HTTP header value (visible ASCII only)"),
    })
}

/// The innermost error of reqwest's chain. reqwest's own message ("error
/// sending request for url (…)") repeats the URL and hides why; the last
/// cause says it: "Connection refused", a DNS failure, "invalid peer
/// certificate: UnknownIssuer".
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A client with fundwatch's settings: `user_agent` for requests that set
/// none, `connect_timeout`, redirects not followed.
fn build_client(
    user_agent: &str,
    connect_timeout: Duration,
) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(connect_timeout)
        // Followed by hand, each hop under its own host's robots.txt and
        // slot (see the module doc).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| FetchError::Client { source })
}

/// Maps a reqwest error to the variant that says what happened.
fn classify(url: &Url, policy: &FetchPolicy, e: reqwest::Error) -> FetchError {
    let url = url.clone();
    if e.is_timeout() {
        FetchError::Timeout {
            url,
            after: policy.timeout,
        }
    } else if e.is_redirect() {
        FetchError::TooManyRedirects {
            url,
            limit: MAX_REDIRECTS,
        }
    } else if e.is_connect() {
        FetchError::Connect { url, source: e }
    } else if e.is_decode() && !broke_while_reading(&e) {
        FetchError::Decode { url, source: e }
    } else {
        FetchError::Network { url, source: e }
    }
}

/// Whether a decode error is the connection breaking under the body rather
/// than a body that cannot be decoded. reqwest labels every error of the
/// body stream "decode": a body cut short of its Content-Length is
/// `Decode` caused by `Body` caused by hyper's `IncompleteBody`
/// (`UnexpectedEof`), an invalid gzip body `Decode` caused by `Body`
/// caused by an `InvalidData` I/O error (both seen in tests/it/fetch.rs).
/// Only the decoders say `InvalidData` or `InvalidInput`; anything else is
/// a network failure, and retried.
fn broke_while_reading(e: &reqwest::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            )
        {
            return false;
        }
        cause = c.source();
    }
    true
}

fn status_error(answer: &Answer) -> FetchError {
    let text = String::from_utf8_lossy(&answer.body);
    let snippet: String = text.trim().chars().take(ERROR_BODY_SNIPPET).collect();
    let retry_after = if answer.status == StatusCode::TOO_MANY_REQUESTS
        || answer.status == StatusCode::SERVICE_UNAVAILABLE
    {
        retry_after_of(&answer.headers)
    } else {
        None
    };
    FetchError::Status {
        url: answer.url.clone(),
        status: answer.status.as_u16(),
        body: snippet.into(),
        retry_after,
    }
}

/// `Retry-After`, read against the answer's own `Date` when present.
fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = headers
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(retry::parse_http_date)
        .unwrap_or_else(Utc::now);
    retry::parse_retry_after(value, now)
}

fn header_string(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn validators_of(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    (
        header_string(headers, ETAG),
        header_string(headers, LAST_MODIFIED),
    )
}

/// The validators to keep after a 304: the stored ones, each replaced by the
/// 304's own when it sends one (RFC 9111 §4.3.4: "update the stored
/// response ... using the header fields provided in the 304").
pub fn refresh_validators(
    old: Option<&Validators>,
    etag: Option<String>,
    last_modified: Option<String>,
) -> Validators {
    let old = old.cloned().unwrap_or_default();
    Validators {
        etag: etag.or(old.etag),
        last_modified: last_modified.or(old.last_modified),
    }
}

fn fetched(answer: Answer, etag: Option<String>, last_modified: Option<String>) -> Fetched {
    Fetched {
        content_type: header_string(&answer.headers, CONTENT_TYPE),
        url: answer.url,
        status: answer.status.as_u16(),
        body: answer.body,
        validators: Validators {
            etag,
            last_modified,
        },
        elapsed: answer.elapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_304_keeps_old_validators_and_takes_new_ones_it_carries() {
        let old = Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Mon, 03 Nov 2025 10:00:00 GMT".into()),
        };
        let table = [
            (None, None, old.clone()),
            (
                None,
                Some("Tue, 04 Nov 2025 10:00:00 GMT"),
                Validators {
                    etag: old.etag.clone(),
                    last_modified: Some("Tue, 04 Nov 2025 10:00:00 GMT".into()),
                },
            ),
            (
                Some("\"v2\""),
                None,
                Validators {
                    etag: Some("\"v2\"".into()),
                    last_modified: old.last_modified.clone(),
                },
            ),
        ];
        for (etag, lm, want) in table {
            let got = refresh_validators(Some(&old), etag.map(Into::into), lm.map(Into::into));
            assert_eq!(got, want);
        }
        assert_eq!(refresh_validators(None, None, None), Validators::default());
    }

    #[test]
    fn error_messages_name_the_url_and_say_what_to_do() {
        let url = Url::parse("https://api.example/search?apiKey=SEDIA").unwrap();
        let err = FetchError::Status {
            url: url.clone(),
            status: 500,
            body: "{\"type\":\"throwable\"}".into(),
            retry_after: None,
        };
        let msg = err.to_string();
        assert!(
            msg.starts_with("https://api.example/search?apiKey=SEDIA: HTTP 500"),
            "{msg}"
        );
        assert!(msg.contains("throwable"), "{msg}");
        let err = FetchError::RetryAfterTooLong {
            url,
            wait: Duration::from_secs(3600),
            budget: Duration::from_secs(600),
        };
        assert!(err.to_string().contains("wait 1h"), "{err}");
        assert!(err.is_transient());
    }
}
