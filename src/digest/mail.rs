//! The mail transport: builds the multipart message (text + HTML, stable
//! Message-ID, RFC 8058 one-click unsubscribe headers) and hands it to the
//! configured SMTP relay with lettre, or writes it as an `.eml` file into
//! `DIR/outbox/` when no relay is configured, so fundwatch works out of the
//! box and the officer can open what would have been sent.
//!
//! Failures are classified the way SMTP does (RFC 5321 §4.2.1): a 4xx reply,
//! a refused or dropped connection or a timeout is *temporary* and retried
//! here with exponential backoff; a 5xx reply is *permanent* for that
//! message and returned at once, so the caller can record it and go on with
//! the other recipients. Logs name the recipient's domain, never the address.
//!
//! TLS goes through lettre's rustls with the ring provider, the one reqwest
//! uses too (DESIGN.md "One TLS stack"; ring rather than aws-lc-rs for CI's
//! build time, see BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use crate::settings::{Settings, TlsMode};

/// `List-Unsubscribe` (RFC 2369).
const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
/// `List-Unsubscribe-Post` (RFC 8058 §3.1).
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The recipient's address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// text/plain part.
    pub text: String,
    /// text/html part.
    pub html: String,
    /// Message-ID with angle brackets (stable per digest).
    pub message_id: String,
    /// `List-Unsubscribe` value (`<https://...>`): adds both RFC 8058 headers.
    pub list_unsubscribe: Option<String>,
    /// File name (without `.eml`) in the file outbox.
    pub file_stem: String,
}

/// How temporary failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the second attempt; each later wait is `factor` times longer.
    pub first_delay: Duration,
    /// Growth of the wait.
    pub factor: u32,
}

impl Default for RetryPolicy {
    /// 3 attempts, waiting 2 s then 10 s: a greylisting relay or a relay
    /// restarting gets a chance; a longer outage leaves the digest pending
    /// for the next run rather than holding the job.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_secs(2),
            factor: 5,
        }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32) -> Duration {
        self.first_delay * self.factor.saturating_pow(retry)
    }
}

/// Delivery failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address or header could not be used.
    #[error(
        "cannot build the message to {domain}: {message}; check the address in the profiles file and mail.from"
    )]
    Build {
        /// The recipient's domain.
        domain: String,
        /// What is wrong.
        message: String,
    },
    /// The relay answered 4xx, or the connection failed, on every attempt.
    #[error(
        "temporary failure sending to {domain} after {attempts} attempts: {message}; it stays pending and is retried on the next run"
    )]
    Temporary {
        /// The recipient's domain.
        domain: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The relay rejected the message for good (5xx).
    #[error("the relay rejected the message to {domain}: {message}; check the recipient's address")]
    Permanent {
        /// The recipient's domain.
        domain: String,
        /// The relay's answer.
        message: String,
    },
    /// The file outbox could not be written.
    #[error("cannot write {path}: {source}; check that the data directory is writable")]
    File {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The SMTP settings cannot be used (TLS setup, password).
    #[error("cannot set up SMTP: {0}; fix the [smtp] section of the settings file")]
    Setup(String),
}

impl MailError {
    /// True for a permanent rejection (not retried, reported to the officer).
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Permanent { .. } | MailError::Build { .. })
    }
}

/// The domain of an address, for logs (`marie@univ.fr` → `univ.fr`).
pub fn domain_of(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .unwrap_or("?")
}

/// Builds the MIME message: multipart/alternative (text, then HTML, as RFC
/// 2046 §5.1.4 orders them: the richest last), Message-ID, and the one-click
/// unsubscribe pair when configured.
pub fn build_message(from: &str, m: &Outgoing) -> Result<Message, MailError> {
    let domain = domain_of(&m.to).to_owned();
    let bad = |message: String| MailError::Build {
        domain: domain.clone(),
        message,
    };
    let from: Mailbox = from
        .parse()
        .map_err(|e| bad(format!("from {from:?}: {e}")))?;
    let to: Mailbox = m.to.parse().map_err(|e| bad(format!("recipient: {e}")))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(m.message_id.clone()));
    if let Some(u) = &m.list_unsubscribe {
        b = b
            .raw_header(HeaderValue::new(LIST_UNSUBSCRIBE, u.clone()))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    b.multipart(MultiPart::alternative_plain_html(
        m.text.clone(),
        m.html.clone(),
    ))
    .map_err(|e| bad(e.to_string()))
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends messages through the configured transport.
pub struct Mailer {
    transport: Transport,
    from: String,
    retry: RetryPolicy,
    /// Cancelled: a temporary failure is not retried (see
    /// [`Mailer::with_stop`]).
    stop: CancellationToken,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("retry", &self.retry)
            .finish()
    }
}

/// "transient error (451): try later" with the relay's own words.
fn smtp_message(e: &lettre::transport::smtp::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// What the logs say about a failure: the reply code only when there is
/// one, since the relay's text often quotes the recipient's address.
fn log_message(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP reply {code}"),
        None => e.to_string(),
    }
}

impl Mailer {
    /// The transport `settings` describe: SMTP when `[smtp]` is present
    /// (password read now, so a rotated credential is used), else `.eml`
    /// files in `data_dir/outbox/`.
    pub fn from_settings(settings: &Settings, data_dir: &Path) -> Result<Mailer, MailError> {
        let transport = match &settings.smtp {
            None => Transport::Files(data_dir.join("outbox")),
            Some(smtp) => {
                let tls = match smtp.tls {
                    TlsMode::None => Tls::None,
                    TlsMode::Starttls | TlsMode::Tls => {
                        let params = TlsParameters::new(smtp.host.clone())
                            .map_err(|e| MailError::Setup(e.to_string()))?;
                        if smtp.tls == TlsMode::Tls {
                            Tls::Wrapper(params)
                        } else {
                            Tls::Required(params)
                        }
                    }
                };
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    .port(smtp.port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
                if let Some(user) = &smtp.user {
                    let password = match &smtp.password {
                        Some(secret) => secret.read().map_err(MailError::Setup)?,
                        None => String::new(),
                    };
                    b = b.credentials(Credentials::new(user.clone(), password));
                }
                Transport::Smtp(b.build())
            }
        };
        Ok(Mailer {
            transport,
            from: settings.from.clone(),
            retry: RetryPolicy::default(),
            stop: CancellationToken::new(),
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Mailer {
        self.retry = retry;
        self
    }

    /// Stops retrying when `stop` is cancelled: the wait before a retry
    /// (up to 10 s by default) ends there, and the message is reported as a
    /// temporary failure, so that a daemon asked to stop is not held by a
    /// relay that says "try later".
    pub fn with_stop(mut self, stop: CancellationToken) -> Mailer {
        self.stop = stop;
        self
    }

    /// True when messages go to files rather than a relay.
    pub fn is_file_outbox(&self) -> bool {
        matches!(self.transport, Transport::Files(_))
    }

    /// Delivers `m`, retrying temporary failures.
    pub async fn send(&self, m: &Outgoing) -> Result<(), MailError> {
        let message = build_message(&self.from, m)?;
        let domain = domain_of(&m.to).to_owned();
        match &self.transport {
            Transport::Files(dir) => write_eml(dir, &m.file_stem, &message.formatted()).await,
            Transport::Smtp(t) => {
                let attempts = self.retry.attempts.max(1);
                let mut last = String::new();
                for attempt in 0..attempts {
                    if attempt > 0 {
                        tokio::select! {
                            () = tokio::time::sleep(self.retry.delay(attempt - 1)) => {}
                            () = self.stop.cancelled() => {
                                return Err(MailError::Temporary {
                                    domain,
                                    attempts: attempt,
                                    message: format!("{last}; not retried: fundwatch is stopping"),
                                });
                            }
                        }
                    }
                    match t.send(message.clone()).await {
                        Ok(_) => {
                            tracing::info!(%domain, attempt = attempt + 1, "digest accepted by the relay");
                            return Ok(());
                        }
                        Err(e) if e.is_permanent() => {
                            tracing::warn!(%domain, error = %log_message(&e), "the relay rejected a message");
                            return Err(MailError::Permanent {
                                domain,
                                message: smtp_message(&e),
                            });
                        }
                        Err(e) => {
                            last = smtp_message(&e);
                            tracing::warn!(%domain, attempt = attempt + 1, error = %log_message(&e), "temporary failure, will retry");
                        }
                    }
                }
                Err(MailError::Temporary {
                    domain,
                    attempts,
                    message: last,
                })
            }
        }
    }
}

/// Writes `bytes` to `dir/stem.eml` atomically (temporary file, then rename).
async fn write_eml(dir: &Path, stem: &str, bytes: &[u8]) -> Result<(), MailError> {
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{safe}.eml"));
    let tmp = dir.join(format!(".{safe}.eml.tmp"));
    let io = |source| MailError::File {
        path: path.clone(),
        source,
    };
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, &path).await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            to: "Marie Dupont <marie@univ.example>".into(),
            subject: "fundwatch — 1 nouvel appel pour vous (semaine 48)".into(),
            text: "Bonjour".into(),
            html: "<p>Bonjour</p>".into(),
            message_id: "<digest.p.2026-W48@univ.example>".into(),
            list_unsubscribe: Some("<https://intranet.example/unsub?profile=p>".into()),
            file_stem: "p-2026-W48".into(),
        }
    }

    #[test]
    fn message_is_multipart_alternative_with_rfc8058_headers() {
        let m = build_message("Veille <veille@univ.example>", &outgoing()).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(parsed.message_id(), Some("digest.p.2026-W48@univ.example"));
        assert_eq!(
            parsed.subject(),
            Some("fundwatch — 1 nouvel appel pour vous (semaine 48)")
        );
        assert_eq!(parsed.text_body_count(), 1);
        assert_eq!(parsed.html_body_count(), 1);
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe: <https://intranet.example/unsub?profile=p>"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );

        let mut plain = outgoing();
        plain.list_unsubscribe = None;
        let raw = String::from_utf8(build_message("v@univ.example", &plain).unwrap().formatted())
            .unwrap();
        assert!(!raw.contains("List-Unsubscribe"), "{raw}");
    }

    #[test]
    fn bad_addresses_are_permanent_and_logs_get_the_domain_only() {
        let mut m = outgoing();
        m.to = "not an address".into();
        let e = build_message("v@univ.example", &m).unwrap_err();
        assert!(e.is_permanent());
        assert_eq!(domain_of("Marie <marie@univ.example>"), "univ.example");
        assert_eq!(domain_of("marie@univ.example"), "univ.example");
    }

    #[test]
    fn backoff_grows() {
        let r = RetryPolicy::default();
        assert_eq!(r.delay(0), Duration::from_secs(2));
        assert_eq!(r.delay(1), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn without_smtp_messages_become_eml_files() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_or_default(&dir.path().join("none.toml")).unwrap();
        let mailer = Mailer::from_settings(&settings, dir.path()).unwrap();
        assert!(mailer.is_file_outbox());
        mailer.send(&outgoing()).await.unwrap();
        let eml = std::fs::read_to_string(dir.path().join("outbox/p-2026-W48.eml")).unwrap();
        assert!(
            eml.contains("Message-ID: <digest.p.2026-W48@univ.example>"),
            "{eml}"
        );
    }
}
