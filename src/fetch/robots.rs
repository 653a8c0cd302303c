//! robots.txt (RFC 9309): what the answer for `/robots.txt` means, and the
//! per-origin cache.
//!
//! The fetching itself lives in [`super::Fetcher`] so it goes through the
//! same client, User-Agent and per-host politeness as every other request.
//! This module decides, from the status and body, whether we have rules, may
//! crawl everything, or must crawl nothing:
//!
//! - 2xx: parse the rules for the product token [`PRODUCT_TOKEN`]
//!   (`texting_robots` picks our group, else `*`, case-insensitively);
//! - 4xx: "unavailable", crawl everything (RFC 9309 §2.3.1.3), except 429,
//!   which says the server is overloaded and is treated like 5xx;
//! - 5xx or a network failure: "unreachable", crawl nothing (§2.3.1.4). Not
//!   cached, so the next crawl asks again;
//! - more than five redirects: unavailable (§2.3.1.2), crawl everything.
//!
//! Rules are cached per origin for at most [`CACHE_TTL`] (§2.4) and only
//! the first [`MAX_ROBOTS_BYTES`] are parsed (§2.5 asks for at least 500 KiB).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use texting_robots::Robot;
use tokio::time::Instant;
use url::Url;

/// The product token matched against `User-agent:` lines (RFC 9309 §2.2.1),
/// whatever full User-Agent header the operator configured.
pub const PRODUCT_TOKEN: &str = "fundwatch";

/// How long parsed rules are reused (RFC 9309 §2.4: "SHOULD NOT use the
/// cached version for more than 24 hours").
pub const CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Bytes of robots.txt parsed; the rest is ignored (RFC 9309 §2.5).
pub const MAX_ROBOTS_BYTES: u64 = 512 * 1024;

/// The rules that apply to us on one origin.
#[derive(Debug, Clone)]
pub enum Rules {
    /// No usable robots.txt: everything may be fetched.
    AllowAll,
    /// Parsed rules for our product token.
    Parsed(Arc<Robot>),
}

impl Rules {
    /// Whether `url` may be fetched.
    pub fn allowed(&self, url: &Url) -> bool {
        match self {
            Rules::AllowAll => true,
            Rules::Parsed(robot) => robot.allowed(url.as_str()),
        }
    }

    /// The `Crawl-delay` for us, when one is given and sensible.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Rules::AllowAll => None,
            Rules::Parsed(robot) => robot
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d.min(3600.0))),
        }
    }
}

/// What one robots.txt answer means.
#[derive(Debug)]
pub enum Verdict {
    /// Rules to apply (and cache).
    Rules(Rules),
    /// The server failed: disallow everything for now, say why.
    Unreachable(String),
}

/// Interprets the final answer for `/robots.txt` (after redirects).
pub fn verdict(status: u16, body: &[u8]) -> Verdict {
    match status {
        200..=299 => match Robot::new(PRODUCT_TOKEN, body) {
            Ok(robot) => Verdict::Rules(Rules::Parsed(Arc::new(robot))),
            // The parser is forgiving; a file it cannot read at all carries no
            // rule we could follow, which RFC 9309 §2.2 treats as no rule.
            Err(e) => {
                tracing::warn!(error = %e, "unparsable robots.txt, treated as allowing all");
                Verdict::Rules(Rules::AllowAll)
            }
        },
        429 => Verdict::Unreachable("HTTP 429 Too Many Requests".to_owned()),
        400..=499 => Verdict::Rules(Rules::AllowAll),
        // Still a 3xx after the client followed the redirects it could
        // (e.g. a 300 or a 3xx without Location): unavailable (§2.3.1.2).
        300..=399 => Verdict::Rules(Rules::AllowAll),
        _ => Verdict::Unreachable(format!("HTTP {status}")),
    }
}

/// The robots.txt address for `url`'s origin, without userinfo.
pub fn robots_url(url: &Url) -> Url {
    let mut robots = url.clone();
    robots.set_path("/robots.txt");
    robots.set_query(None);
    robots.set_fragment(None);
    // Both setters only fail on URLs that cannot have credentials, in which
    // case there are none to remove.
    let _ = robots.set_username("");
    let _ = robots.set_password(None);
    robots
}

/// Cached rules of one origin; locked while they are being fetched so
/// concurrent requests wait for one fetch instead of each making their own.
pub(crate) type Entry = Arc<tokio::sync::Mutex<Option<(Rules, Instant)>>>;

/// Rules per origin.
#[derive(Debug, Default)]
pub(crate) struct RobotsCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl RobotsCache {
    /// The entry of `origin`, created empty on first use.
    pub(crate) fn entry(&self, origin: &str) -> Entry {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.entry(origin.to_owned()).or_default().clone()
    }

    /// The cached `Crawl-delay` of `origin`, without waiting: `None` when the
    /// rules are unknown or being fetched right now.
    pub(crate) fn crawl_delay(&self, origin: &str) -> Option<Duration> {
        let entry = self.entry(origin);
        let guard = entry.try_lock().ok()?;
        guard.as_ref().and_then(|(rules, _)| rules.crawl_delay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(v: &Verdict, path: &str) -> Option<bool> {
        let url = Url::parse("https://portal.example")
            .unwrap()
            .join(path)
            .unwrap();
        match v {
            Verdict::Rules(r) => Some(r.allowed(&url)),
            Verdict::Unreachable(_) => None,
        }
    }

    #[test]
    fn statuses_map_to_rfc_9309_outcomes() {
        let body = b"User-agent: *\nDisallow: /private\n";
        let table: [(u16, &str, Option<bool>); 8] = [
            (200, "/private/x", Some(false)),
            (200, "/aides", Some(true)),
            (404, "/private/x", Some(true)), // §2.3.1.3 unavailable: allow
            (403, "/private/x", Some(true)),
            (410, "/anything", Some(true)),
            (429, "/aides", None), // overloaded: like 5xx
            (500, "/aides", None), // §2.3.1.4 unreachable: disallow
            (503, "/aides", None),
        ];
        for (status, path, want) in table {
            assert_eq!(
                allowed(&verdict(status, body), path),
                want,
                "{status} {path}"
            );
        }
    }

    #[test]
    fn our_group_wins_over_star_whatever_the_case() {
        let body = b"User-agent: *\nDisallow: /\n\nUser-agent: FundWatch\nDisallow: /admin\nCrawl-delay: 5\n";
        let v = verdict(200, body);
        assert_eq!(allowed(&v, "/aides/appel"), Some(true));
        assert_eq!(allowed(&v, "/admin/x"), Some(false));
        let Verdict::Rules(rules) = v else {
            panic!("rules expected")
        };
        assert_eq!(rules.crawl_delay(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn other_bots_groups_do_not_apply() {
        let v = verdict(200, b"User-agent: GPTBot\nDisallow: /\n");
        assert_eq!(allowed(&v, "/aides"), Some(true));
    }

    #[test]
    fn robots_url_drops_path_query_and_credentials() {
        let u = Url::parse("https://user:pw@portal.example:8443/a/b?q=1#f").unwrap();
        assert_eq!(
            robots_url(&u).as_str(),
            "https://portal.example:8443/robots.txt"
        );
    }
}
