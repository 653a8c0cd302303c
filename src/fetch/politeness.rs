//! Per-host politeness: one request at a time per host, and a pause between
//! the end of one request and the start of the next.
//!
//! # Architecture
//!
//! - `Hosts` maps an origin (`scheme://host:port`) to a `HostSlot`, an
//!   async mutex created on first use. Holding the slot *is* the right to
//!   talk to that host, so requests to one host are serialised while
//!   different hosts proceed in parallel (lychee's `ratelimit/` does the same
//!   with a `governor` limiter per host).
//! - `HostState::next_allowed` is when the next request may start. It is
//!   set when a request ends, from [`next_allowed`]: the policy's
//!   `min_delay_per_host`, raised by the robots.txt `Crawl-delay` and by a
//!   429/503 `Retry-After` (RFC 9110 §10.2.3).
//!
//! Redirects are followed hop by hop by the fetcher (see `fetch`'s module
//! doc), each hop in its own host's slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::retry::RETRY_AFTER_CAP;

/// Longest robots.txt `Crawl-delay` honoured: a site asking for more still
/// gets a request every minute, which is already very gentle for a weekly
/// digest.
pub const CRAWL_DELAY_CAP: Duration = Duration::from_secs(60);

/// What we remember about one host between requests.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    /// Earliest start of the next request; `None` before the first one.
    pub(crate) next_allowed: Option<Instant>,
}

/// The right to send to one host; lock it for the whole request.
pub(crate) type HostSlot = Arc<tokio::sync::Mutex<HostState>>;

/// Every host seen by the process.
#[derive(Debug, Default)]
pub(crate) struct Hosts {
    slots: Mutex<HashMap<String, HostSlot>>,
}

impl Hosts {
    /// The slot of `origin`, created on first use.
    pub(crate) fn slot(&self, origin: &str) -> HostSlot {
        // A poisoned map only means another thread panicked while inserting;
        // the map itself is still consistent.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(origin.to_owned()).or_default().clone()
    }
}

/// When the next request to a host may start, given when the last one ended.
/// The largest of the configured delay, the robots.txt `Crawl-delay` (capped
/// at [`CRAWL_DELAY_CAP`]) and the server's `Retry-After` (capped at
/// [`RETRY_AFTER_CAP`]) wins.
pub fn next_allowed(
    ended: Instant,
    min_delay: Duration,
    crawl_delay: Option<Duration>,
    retry_after: Option<Duration>,
) -> Instant {
    let wait = min_delay
        .max(crawl_delay.unwrap_or_default().min(CRAWL_DELAY_CAP))
        .max(retry_after.unwrap_or_default().min(RETRY_AFTER_CAP));
    ended + wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_of_delay_crawl_delay_and_retry_after_wins_each_capped() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let table = [
            (s(2), None, None, s(2)),
            (s(2), Some(s(5)), None, s(5)),
            (s(2), Some(s(1)), None, s(2)),
            (s(2), None, Some(s(30)), s(30)),
            (s(2), Some(s(5)), Some(s(3)), s(5)),
            (s(0), Some(s(86_400)), None, CRAWL_DELAY_CAP),
            (s(0), None, Some(s(86_400)), RETRY_AFTER_CAP),
        ];
        for (min, crawl, retry_after, want) in table {
            assert_eq!(
                next_allowed(t0, min, crawl, retry_after) - t0,
                want,
                "{min:?} {crawl:?} {retry_after:?}"
            );
        }
    }

    #[tokio::test]
    async fn one_slot_per_origin() {
        let hosts = Hosts::default();
        let a = hosts.slot("http://a.example");
        let a2 = hosts.slot("http://a.example");
        let b = hosts.slot("http://b.example");
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        let _held = a.lock().await;
        assert!(a2.try_lock().is_err(), "same host is serialised");
        assert!(b.try_lock().is_ok(), "other hosts are independent");
    }
}
