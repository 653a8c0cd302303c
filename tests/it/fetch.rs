//! The fetcher against real loopback servers: wiremock's `MockServer` (with
//! `.expect(n)` verified when the server drops) and, where byte-level
//! control is needed (chunked bodies, dropped connections), a tiny raw
//! tokio server. Delays are kept in the hundreds of milliseconds so the whole
//! module runs in a few seconds.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fundwatch::config::FetchPolicy;
use fundwatch::fetch::{FetchError, FetchOutcome, Fetched, Fetcher};
use fundwatch::model::Validators;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::support::skipped;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const UA: &str = "fundwatch/0-test (+mailto:relations-internationales@example.org)";

fn policy() -> FetchPolicy {
    FetchPolicy {
        user_agent: UA.to_owned(),
        min_delay_per_host: Duration::ZERO,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_body: 1_000_000,
        max_retries: 2,
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(&policy())
        .unwrap()
        .with_backoff(Duration::from_millis(50), Duration::from_millis(200))
}

fn url(server: &MockServer, p: &str) -> Url {
    Url::parse(&format!("{}{p}", server.uri())).unwrap()
}

fn fetched(outcome: FetchOutcome) -> Fetched {
    match outcome {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified(v) => panic!("expected a body, got 304 with {v:?}"),
    }
}

async fn robots_404(server: &MockServer) {
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
}

#[tokio::test]
async fn sends_the_policy_user_agent_and_returns_validators() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(method("GET"))
        .and(path("/calls"))
        .and(header("user-agent", UA))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"abc\"")
                .insert_header("Last-Modified", "Mon, 03 Nov 2025 10:00:00 GMT")
                .set_body_raw("<html>ok</html>", "text/html; charset=utf-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let f = fetched(
        fetcher()
            .get(&url(&server, "/calls"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.status, 200);
    assert_eq!(f.body.as_ref(), b"<html>ok</html>");
    assert_eq!(f.content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(f.validators.etag.as_deref(), Some("\"abc\""));
    assert_eq!(
        f.validators.last_modified.as_deref(),
        Some("Mon, 03 Nov 2025 10:00:00 GMT")
    );
    // robots.txt was asked with the same User-Agent.
    let requests = server.received_requests().await.unwrap();
    let robots = requests
        .iter()
        .find(|r| r.url.path() == "/robots.txt")
        .unwrap();
    assert_eq!(robots.headers.get("user-agent").unwrap(), UA);
}

#[tokio::test]
async fn conditional_get_sends_validators_and_304_is_not_modified() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "\"v1\""))
        // Not matched with `header()`: wiremock splits values on commas,
        // and HTTP-dates contain one. Checked below instead.
        .and(header_exists("if-modified-since"))
        .respond_with(
            ResponseTemplate::new(304)
                .insert_header("Last-Modified", "Tue, 04 Nov 2025 08:00:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let old = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Mon, 03 Nov 2025 10:00:00 GMT".into()),
    };
    let outcome = fetcher()
        .get(&url(&server, "/feed.xml"), &policy(), Some(&old))
        .await
        .unwrap();
    match outcome {
        FetchOutcome::NotModified(v) => assert_eq!(
            v,
            Validators {
                etag: Some("\"v1\"".into()),
                last_modified: Some("Tue, 04 Nov 2025 08:00:00 GMT".into()),
            }
        ),
        FetchOutcome::Fetched(f) => panic!("expected 304, got {}", f.status),
    }
    let requests = server.received_requests().await.unwrap();
    let feed = requests
        .iter()
        .find(|r| r.url.path() == "/feed.xml")
        .unwrap();
    assert_eq!(
        feed.headers.get("if-modified-since").unwrap(),
        "Mon, 03 Nov 2025 10:00:00 GMT"
    );
}

/// `/busy` answers `first` once, then 200 "done"; each is expected once.
async fn busy_once_then_done(server: &MockServer, first: ResponseTemplate) {
    Mock::given(path("/busy"))
        .respond_with(first)
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(200).set_body_string("done"))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for_then_retried() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    busy_once_then_done(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "2"),
    )
    .await;
    let started = Instant::now();
    let f = fetched(
        fetcher()
            .get(&url(&server, "/busy"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.body.as_ref(), b"done");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// `Retry-After: 0` is a floor under the backoff, not a replacement for
/// it: the retry used to follow the 503 at once.
#[tokio::test]
async fn a_retry_after_of_zero_still_gets_the_backoff() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    busy_once_then_done(
        &server,
        ResponseTemplate::new(503).insert_header("Retry-After", "0"),
    )
    .await;
    // A 400 ms backoff (±20 % jitter); the policy's own delay is zero.
    let fetcher = Fetcher::new(&policy())
        .unwrap()
        .with_backoff(Duration::from_millis(400), Duration::from_millis(400));
    let started = Instant::now();
    let f = fetched(
        fetcher
            .get(&url(&server, "/busy"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.body.as_ref(), b"done");
    assert!(
        started.elapsed() >= Duration::from_millis(320),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once_naming_the_wait() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/maintenance"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "7200"))
        .expect(1)
        .mount(&server)
        .await;
    let fetcher = fetcher().with_retry_budget(Duration::from_secs(10));
    let started = Instant::now();
    let err = fetcher
        .get(&url(&server, "/maintenance"), &policy(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::RetryAfterTooLong { wait, .. } if wait == Duration::from_secs(3600)),
        "{err}"
    );
    assert!(err.to_string().contains("wait 1h"), "{err}");
    assert!(err.is_transient());
    // The host stays parked: the next request to it fails without being sent
    // (expect(1) above checks that).
    let err = fetcher
        .get(&url(&server, "/maintenance"), &policy(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::RetryAfterTooLong { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_500_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let f = fetched(
        fetcher()
            .get(&url(&server, "/flaky"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.body.as_ref(), b"ok");
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_max_retries() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad gateway"))
        .expect(3) // 1 + max_retries (2)
        .mount(&server)
        .await;
    let err = fetcher()
        .get(&url(&server, "/down"), &policy(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 502, .. }),
        "{err}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Page introuvable"))
        .expect(1)
        .mount(&server)
        .await;
    let u = url(&server, "/gone");
    let err = fetcher().get(&u, &policy(), None).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err}"
    );
    assert!(!err.is_transient());
    let msg = err.to_string();
    assert!(
        msg.contains(u.as_str()) && msg.contains("Page introuvable"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_with_an_error_naming_the_url() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let p = FetchPolicy {
        timeout: Duration::from_millis(300),
        max_retries: 0,
        ..policy()
    };
    let u = url(&server, "/slow");
    let started = Instant::now();
    let err = fetcher().get(&u, &p, None).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    let msg = err.to_string();
    assert!(msg.contains(u.as_str()) && msg.contains("timeout"), "{msg}");
}

#[tokio::test]
async fn content_length_over_the_cap_is_rejected_before_reading() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 5000]))
        .expect(1) // too large is not transient: no retry
        .mount(&server)
        .await;
    let p = FetchPolicy {
        max_body: 1000,
        ..policy()
    };
    let err = fetcher()
        .get(&url(&server, "/big"), &p, None)
        .await
        .unwrap_err();
    match &err {
        FetchError::BodyTooLarge {
            limit,
            size,
            announced,
            ..
        } => assert_eq!((*limit, *size, *announced), (1000, 5000, true)),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    assert!(!err.is_transient());
}

/// A raw HTTP/1.1 server on loopback. `handle(n, path, stream)` answers the
/// n-th connection (0-based); `/robots.txt` gets a 404 without counting.
async fn raw_server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(usize, String, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let req_path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            if req_path == "/robots.txt" {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
                continue;
            }
            let fut = handle(n, req_path, stream);
            n += 1;
            tokio::spawn(fut);
        }
    });
    addr
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_cut_off_while_streaming() {
    let sent = Arc::new(Mutex::new(0usize));
    let sent_by_server = sent.clone();
    let addr = raw_server(move |_, _, mut stream| {
        let sent = sent_by_server.clone();
        async move {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            // Up to 100 × 500 bytes, stopping when the client hangs up.
            for _ in 0..100 {
                let chunk = format!("1f4\r\n{}\r\n", "x".repeat(500));
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                *sent.lock().unwrap() += 500;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
    })
    .await;
    let p = FetchPolicy {
        max_body: 1000,
        ..policy()
    };
    let u = Url::parse(&format!("http://{addr}/chunked")).unwrap();
    let err = fetcher().get(&u, &p, None).await.unwrap_err();
    match &err {
        FetchError::BodyTooLarge {
            limit,
            announced,
            size,
            ..
        } => {
            assert_eq!((*limit, *announced), (1000, false));
            assert!(*size > 1000 && *size <= 1500, "{size}");
        }
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    // The client stopped reading long before the server was done.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(*sent.lock().unwrap() < 50_000);
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_off_after_decompression_quickly() {
    // 50 MB of zeros compress to ~50 kB: small on the wire, huge inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..50 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 200_000, "{}", bomb.len());

    let server = MockServer::start().await;
    robots_404(&server).await;
    Mock::given(path("/bomb"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .set_body_raw(bomb, "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = FetchPolicy {
        max_body: 1_000_000,
        ..policy()
    };
    let started = Instant::now();
    let err = fetcher()
        .get(&url(&server, "/bomb"), &p, None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    match &err {
        FetchError::BodyTooLarge {
            limit,
            size,
            announced,
            ..
        } => {
            assert_eq!((*limit, *announced), (1_000_000, false));
            // Stopped at the first chunk past the cap, not at 50 MB.
            assert!(*size > 1_000_000 && *size < 2_000_000, "{size}");
        }
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("1000000 bytes"), "{err}");
}

async fn mount_redirect_chain(server: &MockServer, hops: usize) {
    for n in 1..=hops {
        Mock::given(path(format!("/hop/{n}")))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("/hop/{}", n - 1).as_str()),
            )
            .mount(server)
            .await;
    }
    Mock::given(path("/hop/0"))
        .respond_with(ResponseTemplate::new(200).set_body_string("landed"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn five_redirects_are_followed_six_are_an_error() {
    let server = MockServer::start().await;
    robots_404(&server).await;
    mount_redirect_chain(&server, 6).await;
    let f = fetched(
        fetcher()
            .get(&url(&server, "/hop/5"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.body.as_ref(), b"landed");
    assert_eq!(f.url.path(), "/hop/0");

    let u = url(&server, "/hop/6");
    let err = fetcher().get(&u, &policy(), None).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooManyRedirects { limit: 5, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(u.as_str()), "{err}");
}

/// A redirect to another host is asked of that host under its own
/// robots.txt: reqwest followed it under the first host's rules, so a page
/// the second host disallows was fetched.
#[tokio::test]
async fn a_redirect_to_another_host_obeys_that_hosts_robots_txt() {
    let first = MockServer::start().await;
    let second = MockServer::start().await;
    robots_404(&first).await;
    Mock::given(path("/robots.txt"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /private\n"),
        )
        .expect(1)
        .mount(&second)
        .await;
    Mock::given(path("/private/calls"))
        .respond_with(ResponseTemplate::new(200).set_body_string("secret"))
        .expect(0)
        .mount(&second)
        .await;
    Mock::given(path("/public/calls"))
        .respond_with(ResponseTemplate::new(200).set_body_string("public"))
        .expect(1)
        .mount(&second)
        .await;
    for p in ["private", "public"] {
        Mock::given(path(format!("/{p}")))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("{}/{p}/calls", second.uri()).as_str()),
            )
            .mount(&first)
            .await;
    }
    let fetcher = fetcher();
    let err = fetcher
        .get(&url(&first, "/private"), &policy(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::RobotsDisallowed { url } if url.path() == "/private/calls"),
        "{err:?}"
    );
    let f = fetched(
        fetcher
            .get(&url(&first, "/public"), &policy(), None)
            .await
            .unwrap(),
    );
    assert_eq!(f.body.as_ref(), b"public");
    assert_eq!(f.url.as_str(), format!("{}/public/calls", second.uri()));
}

#[tokio::test]
async fn robots_disallow_is_respected_and_robots_is_fetched_once() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .and(header("user-agent", UA))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "User-agent: *\nDisallow: /\n\nUser-agent: fundwatch\nDisallow: /private\nAllow: /\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/private/calls"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/public"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(2)
        .mount(&server)
        .await;
    let fetcher = fetcher();
    let u = url(&server, "/private/calls");
    let err = fetcher.get(&u, &policy(), None).await.unwrap_err();
    assert!(
        matches!(err, FetchError::RobotsDisallowed { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(u.as_str()), "{err}");
    assert!(!err.is_transient());
    for _ in 0..2 {
        fetched(
            fetcher
                .get(&url(&server, "/public"), &policy(), None)
                .await
                .unwrap(),
        );
    }
}

#[tokio::test]
async fn robots_404_allows_everything() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/aides"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    fetched(
        fetcher()
            .get(&url(&server, "/aides"), &policy(), None)
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn robots_5xx_disallows_the_host_for_this_fetch() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/aides"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let fetcher = fetcher();
    let err = fetcher
        .get(&url(&server, "/aides"), &policy(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::RobotsUnreachable { .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    // The failure is not cached: the next fetch asks robots.txt again.
    fetched(
        fetcher
            .get(&url(&server, "/aides"), &policy(), None)
            .await
            .unwrap(),
    );
}

/// Records when each request arrived.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl Respond for Arrivals {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200)
            .set_body_string("ok")
            .set_delay(Duration::from_millis(600))
    }
}

#[tokio::test]
async fn requests_to_one_host_are_spaced_and_hosts_are_independent() {
    let p = FetchPolicy {
        min_delay_per_host: Duration::from_millis(200),
        ..policy()
    };
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    let (arrivals_a, arrivals_b) = (Arrivals::default(), Arrivals::default());
    for (server, arrivals) in [(&a, &arrivals_a), (&b, &arrivals_b)] {
        robots_404(server).await;
        Mock::given(path("/page"))
            .respond_with(arrivals.clone())
            .mount(server)
            .await;
    }
    let fetcher = fetcher();
    // Two requests to A and one to B, all at once.
    let (ua, ub) = (url(&a, "/page"), url(&b, "/page"));
    let (r1, r2, r3) = tokio::join!(
        fetcher.get(&ua, &p, None),
        fetcher.get(&ua, &p, None),
        fetcher.get(&ub, &p, None),
    );
    for r in [r1, r2, r3] {
        fetched(r.unwrap());
    }
    let a_times = arrivals_a.0.lock().unwrap().clone();
    let b_times = arrivals_b.0.lock().unwrap().clone();
    assert_eq!((a_times.len(), b_times.len()), (2, 1));
    // Same host: the second starts ≥ 600 ms (answer) + 200 ms (delay) after the first.
    let gap = a_times[1] - a_times[0];
    assert!(gap >= Duration::from_millis(800), "same host gap {gap:?}");
    // Other host: not queued behind A (which would put it ≥ 600 ms later).
    let cross = if b_times[0] > a_times[0] {
        b_times[0] - a_times[0]
    } else {
        a_times[0] - b_times[0]
    };
    assert!(
        cross < Duration::from_millis(300),
        "hosts serialised: {cross:?}"
    );
}

#[tokio::test]
async fn robots_crawl_delay_raises_the_host_delay() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("User-agent: fundwatch\nCrawl-delay: 0.4\n"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let arrivals = Arrivals::default();
    Mock::given(path("/page"))
        .respond_with(arrivals.clone())
        .expect(2)
        .mount(&server)
        .await;
    let fetcher = fetcher();
    let u = url(&server, "/page");
    for _ in 0..2 {
        fetched(fetcher.get(&u, &policy(), None).await.unwrap());
    }
    let times = arrivals.0.lock().unwrap().clone();
    // 600 ms answer + 400 ms Crawl-delay (the policy's own delay is zero).
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_millis(1000), "gap {gap:?}");
}

/// The request right after robots.txt waits its `Crawl-delay` too: the
/// delay was read while robots.txt was still being cached, so the first
/// page followed robots.txt with the policy's delay alone.
#[tokio::test]
async fn the_first_request_after_robots_txt_waits_its_crawl_delay() {
    let server = MockServer::start().await;
    let robots = Arrivals::default();
    #[derive(Clone)]
    struct Robots(Arrivals);
    impl Respond for Robots {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            self.0.0.lock().unwrap().push(Instant::now());
            ResponseTemplate::new(200).set_body_string("User-agent: *\nCrawl-delay: 0.5\n")
        }
    }
    Mock::given(path("/robots.txt"))
        .respond_with(Robots(robots.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let page = Arrivals::default();
    Mock::given(path("/page"))
        .respond_with(page.clone())
        .expect(1)
        .mount(&server)
        .await;
    fetched(
        fetcher()
            .get(&url(&server, "/page"), &policy(), None)
            .await
            .unwrap(),
    );
    let gap = page.0.lock().unwrap()[0] - robots.0.lock().unwrap()[0];
    assert!(gap >= Duration::from_millis(500), "gap {gap:?}");
}

#[tokio::test]
async fn robots_redirects_are_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/robots.txt"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/static/robots.txt"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/static/robots.txt"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /recherche\n"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/recherche"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = fetcher()
        .get(&url(&server, "/recherche"), &policy(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::RobotsDisallowed { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/robots.txt"), "{err}");
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let addr = raw_server(|n, _, mut stream| async move {
        if n == 0 {
            // Hang up without answering.
            drop(stream);
            return;
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
    })
    .await;
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let f = fetched(fetcher().get(&u, &policy(), None).await.unwrap());
    assert_eq!(f.body.as_ref(), b"ok");
}

/// A connection that breaks after the headers, in the middle of the body,
/// is a network failure and is retried: reqwest reports every error of the
/// body stream as a decode error, so it used to fail the source at once,
/// saying the body "cannot be decoded".
#[tokio::test]
async fn a_connection_dropped_in_the_middle_of_the_body_is_retried() {
    let addr = raw_server(|n, _, mut stream| async move {
        if n == 0 {
            // 100 bytes announced, 3 sent, then the connection closes.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
                .await;
            return;
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
    })
    .await;
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let f = fetched(fetcher().get(&u, &policy(), None).await.unwrap());
    assert_eq!(f.body.as_ref(), b"ok");

    // Without retries left, the error says what happened.
    let addr = raw_server(|_, _, mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
            .await;
    })
    .await;
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let no_retry = FetchPolicy {
        max_retries: 0,
        ..policy()
    };
    let err = fetcher().get(&u, &no_retry, None).await.unwrap_err();
    assert!(matches!(err, FetchError::Network { .. }), "{err:?}: {err}");
    assert!(err.is_transient(), "{err}");
}

/// A connection dropped on robots.txt is retried like one on a page: it
/// used to fail the source at once ("robots.txt is unreachable").
#[tokio::test]
async fn a_dropped_connection_on_robots_txt_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let robots_asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let asked = robots_asked.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let answer: &[u8] = if head.starts_with("GET /robots.txt ") {
                if asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    // The first robots.txt request: hang up without answering.
                    continue;
                }
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            };
            let _ = stream.write_all(answer).await;
        }
    });
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let f = fetched(fetcher().get(&u, &policy(), None).await.unwrap());
    assert_eq!(f.body.as_ref(), b"ok");
    assert_eq!(robots_asked.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A source's own `connect_timeout` is the one its requests get: the
/// client was built once with the first policy's, and every later source
/// silently used it.
#[tokio::test]
async fn each_policy_gets_its_own_connect_timeout() {
    // A listener whose backlog is full drops further SYNs, so connecting
    // to it hangs until the connect timeout: a black hole on loopback.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let hole = socket.listen(0).unwrap();
    let addr = hole.local_addr().unwrap();
    let mut parked = Vec::new();
    // Fill the backlog: connections that complete are parked, until one
    // does not complete within 200 ms.
    loop {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => parked.push(s),
            _ => break,
        }
        assert!(parked.len() < 64, "the backlog never filled");
    }
    let fetcher = Fetcher::new(&FetchPolicy {
        connect_timeout: Duration::from_secs(30),
        ..policy()
    })
    .unwrap();
    let quick = FetchPolicy {
        connect_timeout: Duration::from_millis(300),
        timeout: Duration::from_secs(20),
        max_retries: 0,
        ..policy()
    };
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let started = Instant::now();
    let err = fetcher.get(&u, &quick, None).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "gave up after {took:?}, not after the source's 300 ms: {err}"
    );
    assert!(
        matches!(
            err,
            FetchError::Connect { .. } | FetchError::RobotsUnreachable { .. }
        ),
        "{err:?}"
    );
    drop(parked);
}

/// A body that is not valid gzip is the server's fault, not the
/// network's: reported as undecodable and not retried.
#[tokio::test]
async fn a_corrupt_gzip_body_is_a_decode_error_and_is_not_retried() {
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = requests.clone();
    let addr = raw_server(move |_, _, mut stream| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 12\r\nconnection: close\r\n\r\nnot gzip at!",
                )
                .await;
        }
    })
    .await;
    let u = Url::parse(&format!("http://{addr}/page")).unwrap();
    let err = fetcher().get(&u, &policy(), None).await.unwrap_err();
    assert!(matches!(err, FetchError::Decode { .. }), "{err:?}: {err}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn windows_1252_pages_decode_right_with_header_meta_or_neither() {
    // "Date limite de dépôt : 31/01/2026 – l’appel" in windows-1252 (’ = 0x92).
    let text: &[u8] =
        b"<p>Date limite de d\xe9p\xf4t : 31/01/2026 \x96 l\x92appel \xe0 projets</p>";
    let server = MockServer::start().await;
    robots_404(&server).await;
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("/header", [b"<html><body>".as_slice(), text, b"</body></html>"].concat(), "text/html; charset=windows-1252"),
        (
            "/meta",
            [b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head><body>".as_slice(), text, b"</body></html>"].concat(),
            "text/html",
        ),
        ("/none", [b"<html><body>".as_slice(), text, b"</body></html>"].concat(), "text/html"),
    ];
    for (p, body, ct) in &cases {
        Mock::given(path(*p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), ct))
            .mount(&server)
            .await;
    }
    let fetcher = fetcher();
    for (p, _, _) in &cases {
        let f = fetched(
            fetcher
                .get(&url(&server, p), &policy(), None)
                .await
                .unwrap(),
        );
        let decoded = f.text();
        assert!(
            decoded.contains("Date limite de dépôt : 31/01/2026 – l’appel à projets"),
            "{p}: {decoded}"
        );
    }
}

/// Keeps the requests it answers.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Request>>>);

impl Respond for Capture {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(req.clone());
        ResponseTemplate::new(200)
            .set_body_raw(r#"{"totalResults":0,"results":[]}"#, "application/json")
    }
}

#[tokio::test]
async fn post_json_parts_sends_blob_file_parts_like_the_eu_portal() {
    let server = MockServer::start().await;
    let capture = Capture::default();
    Mock::given(method("POST"))
        .and(path("/search-api/prod/rest/search"))
        .respond_with(capture.clone())
        .expect(1)
        .mount(&server)
        .await;
    let parts = vec![
        (
            "query".to_owned(),
            r#"{"bool":{"must":[{"terms":{"type":["1","2","8"]}}]}}"#.to_owned(),
        ),
        ("languages".to_owned(), r#"["en"]"#.to_owned()),
    ];
    let u = url(
        &server,
        "/search-api/prod/rest/search?apiKey=SEDIA&text=***&pageSize=100&pageNumber=1",
    );
    let f = fetcher()
        .post_json_parts(&u, &policy(), &parts)
        .await
        .unwrap();
    assert_eq!(f.body.as_ref(), br#"{"totalResults":0,"results":[]}"#);

    let requests = capture.0.lock().unwrap().clone();
    let req = &requests[0];
    assert_eq!(req.headers.get("user-agent").unwrap(), UA);
    let ct = req
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .expect(&ct);
    let body = String::from_utf8(req.body.clone()).unwrap();
    let sections: Vec<&str> = body
        .split(&format!("--{boundary}"))
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "--")
        .collect();
    assert_eq!(sections.len(), 2, "{body}");
    for (section, (name, json)) in sections.iter().zip(&parts) {
        let (head, content) = section.split_once("\r\n\r\n").unwrap();
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains(&format!(
                "content-disposition: form-data; name=\"{name}\"; filename=\"blob\""
            )),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(content, json);
    }
    // No robots.txt for the API call.
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != "/robots.txt")
    );
}

#[tokio::test]
async fn post_errors_quote_the_body_and_the_form_is_rebuilt_for_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            r#"{"type":"throwable","message":"no query part"}"#,
            "application/json",
        ))
        .expect(2) // first try + one retry, each with a full form
        .mount(&server)
        .await;
    let p = FetchPolicy {
        max_retries: 1,
        ..policy()
    };
    let u = url(&server, "/search");
    let parts = vec![("query".to_owned(), "{}".to_owned())];
    let err = fetcher().post_json_parts(&u, &p, &parts).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 500") && msg.contains(r#"\"type\":\"throwable\""#),
        "{msg}"
    );
    for req in server.received_requests().await.unwrap() {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        assert!(
            body.contains("filename=\"blob\"") && body.contains("{}"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn real_samples_survive_gzip_transfer_and_decoding() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real");
    if !dir.exists() {
        skipped(format_args!("{} absent", dir.display()));
        return;
    }
    let server = MockServer::start().await;
    robots_404(&server).await;
    let samples = [
        ("euraxess_job_offer_detail.html", "text/html"),
        ("ft_portal_derived_calls_rss.xml", "application/rss+xml"),
    ];
    for (name, ct) in samples {
        let original = std::fs::read(dir.join(name)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&original).unwrap();
        Mock::given(path(format!("/{name}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Encoding", "gzip")
                    .set_body_raw(gz.finish().unwrap(), ct),
            )
            .expect(1)
            .mount(&server)
            .await;
        let f = fetched(
            fetcher()
                .get(&url(&server, &format!("/{name}")), &policy(), None)
                .await
                .unwrap(),
        );
        assert_eq!(f.body.as_ref(), original.as_slice(), "{name}");
        assert_eq!(f.text(), String::from_utf8(original).unwrap(), "{name}");
    }
}

/// Real bug: a refused connection read "cannot connect: error sending request
/// for url (…)", which hid the reason behind reqwest's own wrapper message.
#[tokio::test]
async fn a_connect_error_says_why_not_only_which_url() {
    // A port bound but not listening refuses connections, and stays ours
    // meanwhile (a listener dropped to free its port lets another test's
    // server take it).
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = closed.local_addr().unwrap();
    let u: Url = format!("http://{addr}/feed.xml").parse().unwrap();
    let p = FetchPolicy {
        max_retries: 0,
        ..policy()
    };
    let msg = fetcher().get(&u, &p, None).await.unwrap_err().to_string();
    assert!(msg.contains("refused"), "{msg}");
    assert!(!msg.contains("error sending request"), "{msg}");
    drop(closed);
}

/// HTTPS runs on rustls with ring, the only crypto provider compiled in
/// (`Fetcher::new` installs it; without it reqwest panics when building the
/// client). A server that answers a TLS hello in plain HTTP makes the
/// handshake fail, and the error names the TLS failure.
#[tokio::test]
async fn https_uses_the_ring_provider_and_a_failed_handshake_says_why() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let u: Url = format!("https://{addr}/feed.xml").parse().unwrap();
    let p = FetchPolicy {
        max_retries: 0,
        ..policy()
    };
    let msg = fetcher().get(&u, &p, None).await.unwrap_err().to_string();
    assert!(msg.contains(&format!("https://{addr}/robots.txt")), "{msg}");
    assert!(msg.contains("corrupt message"), "{msg}");
}
