//! The retry policy as pure functions: which failures are worth another
//! attempt, how long to back off, and how to read `Retry-After`.
//!
//! Kept free of IO so every rule is a table-driven unit test. The split
//! between transient and permanent failures follows lychee's `RetryExt`
//! (itself vendored from reqwest-middleware): timeouts, connection failures,
//! 408, 429 and 5xx are retried; every other 4xx is a fact about the request
//! and is never retried.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::FetchError;

/// Longest `Retry-After` honoured. A server asking for more (some answer
/// 503 with a day) is treated as asking for this long, so one misconfigured
/// host cannot park a crawl for a day.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// Relative spread of the backoff jitter: ±20 %, so retries of parallel jobs
/// that failed together do not come back together.
pub const JITTER: f64 = 0.2;

/// True for HTTP statuses worth retrying: 408 Request Timeout, 429 Too Many
/// Requests and every 5xx (RFC 9110 §15.5.9, RFC 6585 §4, RFC 9110 §15.6).
pub fn status_is_transient(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Whether a failed attempt is retried: the failure is transient *now* (a
/// timeout, a connection error, a retryable status) and retries remain.
///
/// Robots and wait-budget errors are transient for the next crawl
/// ([`FetchError::is_transient`]) but never retried inside one fetch.
pub fn should_retry(err: &FetchError, retries_done: u32, max_retries: u32) -> bool {
    if retries_done >= max_retries {
        return false;
    }
    match err {
        FetchError::Timeout { .. } | FetchError::Connect { .. } | FetchError::Network { .. } => {
            true
        }
        FetchError::Status { status, .. } => status_is_transient(*status),
        _ => false,
    }
}

/// Delay before retry number `retry` (0-based): `base × 2^retry`, capped at
/// `cap`, then spread by ±[`JITTER`]. `jitter` is a sample in `[-1, 1]`
/// (the caller draws it, so this stays deterministic under test).
pub fn backoff_delay(retry: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(30));
    let nominal = base.saturating_mul(factor).min(cap);
    let spread = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
    nominal.mul_f64(spread)
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): either delay-seconds or
/// an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms that
/// RFC 9110 §5.6.7 says recipients must accept). A date in the past means
/// "now". `now` should be the answer's own `Date` header when it has one, so
/// clock skew between us and the server does not distort the wait.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate instead of failing.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Parses an HTTP-date in any of the three forms of RFC 9110 §5.6.7.
pub fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    if let Ok(t) = DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; asctime: "Sun Nov  6 08:49:37 1994".
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(value, fmt).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn url() -> Url {
        Url::parse("http://example.org/calls").unwrap()
    }

    fn status(status: u16) -> FetchError {
        FetchError::Status {
            url: url(),
            status,
            body: "".into(),
            retry_after: None,
        }
    }

    #[test]
    fn transient_statuses_are_408_429_and_5xx_only() {
        let table = [
            (200, false),
            (304, false),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (405, false),
            (408, true),
            (410, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (599, true),
        ];
        for (code, want) in table {
            assert_eq!(status_is_transient(code), want, "status {code}");
        }
    }

    #[test]
    fn should_retry_transient_failures_while_retries_remain() {
        let timeout = FetchError::Timeout {
            url: url(),
            after: Duration::from_secs(1),
        };
        let too_large = FetchError::BodyTooLarge {
            url: url(),
            limit: 10,
            size: 11,
            announced: false,
        };
        let robots = FetchError::RobotsDisallowed { url: url() };
        let table: [(&FetchError, u32, u32, bool); 9] = [
            (&timeout, 0, 3, true),
            (&timeout, 2, 3, true),
            (&timeout, 3, 3, false), // budget spent
            (&timeout, 0, 0, false), // retries disabled
            (&status(503), 0, 1, true),
            (&status(429), 0, 1, true),
            (&status(404), 0, 5, false), // never on other 4xx
            (&too_large, 0, 5, false),   // a fact about the resource
            (&robots, 0, 5, false),
        ];
        for (err, done, max, want) in table {
            assert_eq!(
                should_retry(err, done, max),
                want,
                "{err} done={done} max={max}"
            );
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_stays_within_jitter_bounds() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(30);
        let table = [
            (0, 0.0, 1000),
            (1, 0.0, 2000),
            (2, 0.0, 4000),
            (4, 0.0, 16000),
            (5, 0.0, 30000), // 32 s capped at 30 s
            (60, 0.0, 30000),
            (0, 1.0, 1200),
            (0, -1.0, 800),
            (3, -1.0, 6400),
            (0, 7.0, 1200), // out-of-range samples are clamped
        ];
        for (retry, jitter, want_ms) in table {
            let got = backoff_delay(retry, base, cap, jitter);
            assert_eq!(got.as_millis(), want_ms, "retry {retry} jitter {jitter}");
        }
        for retry in 0..10 {
            for j in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                let d = backoff_delay(retry, base, cap, j);
                assert!(d <= cap.mul_f64(1.0 + JITTER), "{d:?}");
                assert!(d >= base.mul_f64(1.0 - JITTER), "{d:?}");
            }
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_the_three_http_date_forms() {
        let now = DateTime::parse_from_rfc3339("1994-11-06T08:49:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let table: [(&str, Option<u64>); 10] = [
            ("120", Some(120)),
            (" 2 ", Some(2)),
            ("0", Some(0)),
            // RFC 9110 §5.6.7 examples, 37 s after `now`.
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(37)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(37)),
            ("Sun Nov  6 08:49:37 1994", Some(37)),
            // A date already past means "retry now".
            ("Sat, 05 Nov 1994 08:49:37 GMT", Some(0)),
            ("-5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in table {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }
}
