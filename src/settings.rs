//! `fundwatch.toml` (mail transport, digest and report schedules) and
//! `profiles.toml` (the academics' interest profiles), parsed strictly and
//! validated once into runtime types, like `sources.toml` in [`crate::config`].
//!
//! A missing settings file is not an error: fundwatch then runs with the
//! defaults and writes messages to the file outbox, so it works out of the
//! box. A missing profiles file means nobody subscribed yet.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::config::{ConfigError, CronSchedule};
use crate::model::{Language, Level};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on localhost only).
    None,
}

/// Where the SMTP password comes from; never the settings file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable's name.
    Env(String),
    /// A file path, e.g. a systemd credential
    /// (`/run/credentials/fundwatch.service/smtp`).
    File(PathBuf),
}

impl Secret {
    /// Reads the secret now (at send time, so a rotated credential is used).
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Env(var) => std::env::var(var).map_err(|_| {
                format!("the SMTP password variable {var} is not set (settings: smtp.password_env)")
            }),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| format!("cannot read the SMTP password file {}: {e}", path.display())),
        }
    }
}

/// SMTP relay settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// User for AUTH, if any.
    pub user: Option<String>,
    /// Password source, if any.
    pub password: Option<Secret>,
    /// Seconds to wait for the server.
    pub timeout_secs: u64,
}

/// Validated `fundwatch.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the settings came from (`None`: defaults, no file).
    pub path: Option<PathBuf>,
    /// SMTP relay; `None` = `.eml` files in `DIR/outbox/`.
    pub smtp: Option<Smtp>,
    /// From header of every message.
    pub from: String,
    /// The officer's addresses (the report goes there).
    pub officer: Vec<String>,
    /// One-click unsubscribe URL template (`{profile}` is replaced).
    pub unsubscribe_url: Option<String>,
    /// When digests are sent.
    pub digest_schedule: CronSchedule,
    /// Zone of the digest and report schedules, and of dates in digests.
    pub timezone: Tz,
    /// Calls already sent come back in "closing soon" this many days before.
    pub closing_soon_days: u32,
    /// Send a digest with nothing in it.
    pub send_empty: bool,
    /// When the officer's report is sent.
    pub report_schedule: CronSchedule,
}

/// Default digest schedule: Monday 07:00.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 7 * * Mon";
/// Default report schedule: Monday 07:30.
pub const DEFAULT_REPORT_SCHEDULE: &str = "0 30 7 * * Mon";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    smtp: Option<RawSmtp>,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    digest: RawDigest,
    #[serde(default)]
    report: RawReport,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    tls: Option<String>,
    user: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMail {
    from: Option<String>,
    #[serde(default)]
    officer: Vec<String>,
    unsubscribe_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    schedule: Option<String>,
    timezone: Option<String>,
    closing_soon_days: Option<u32>,
    send_empty: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReport {
    schedule: Option<String>,
}

fn invalid(path: &Path, key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        source_id: None,
        key: key.to_owned(),
        message,
    }
}

fn syntax(path: &Path, e: toml::de::Error) -> ConfigError {
    ConfigError::Syntax {
        path: path.to_owned(),
        source_id: None,
        message: e.to_string().trim_end().replace('\n', "\n  "),
    }
}

/// A plausible mail address: `local@domain`, optionally as `Name <local@domain>`.
fn check_mailbox(s: &str) -> Result<(), String> {
    s.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| {
            format!("{s:?} is not a valid address ({e}); write e.g. \"Veille <veille@univ.fr>\"")
        })
}

impl Settings {
    /// Loads `path`; when it does not exist, the defaults (file outbox).
    pub fn load_or_default(path: &Path) -> Result<Settings, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Settings::parse("", path).map(|mut s| {
                    s.path = None;
                    s
                })
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Validates the text of a settings file.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let raw: RawSettings = toml::from_str(text).map_err(|e| syntax(path, e))?;
        let smtp = match raw.smtp {
            None => None,
            Some(s) => {
                let tls = match s.tls.as_deref().unwrap_or("starttls") {
                    "starttls" => TlsMode::Starttls,
                    "tls" => TlsMode::Tls,
                    "none" => TlsMode::None,
                    other => {
                        return Err(invalid(
                            path,
                            "smtp.tls",
                            format!(
                                "unknown mode {other:?}: expected \"starttls\", \"tls\" or \"none\""
                            ),
                        ));
                    }
                };
                if s.host.trim().is_empty() {
                    return Err(invalid(path, "smtp.host", "must not be empty".into()));
                }
                let password = match (s.password_env, s.password_file) {
                    (Some(_), Some(_)) => {
                        return Err(invalid(
                            path,
                            "smtp.password_env",
                            "set password_env or password_file, not both".into(),
                        ));
                    }
                    (Some(var), None) => Some(Secret::Env(var)),
                    (None, Some(file)) => Some(Secret::File(file)),
                    (None, None) => None,
                };
                if password.is_some() && s.user.is_none() {
                    return Err(invalid(
                        path,
                        "smtp.user",
                        "a password is configured but no user".into(),
                    ));
                }
                let default_port = match tls {
                    TlsMode::Tls => 465,
                    TlsMode::Starttls => 587,
                    TlsMode::None => 25,
                };
                Some(Smtp {
                    host: s.host,
                    port: s.port.unwrap_or(default_port),
                    tls,
                    user: s.user,
                    password,
                    timeout_secs: s.timeout_secs.unwrap_or(30),
                })
            }
        };
        let from = raw
            .mail
            .from
            .unwrap_or_else(|| "fundwatch <fundwatch@localhost>".to_owned());
        check_mailbox(&from).map_err(|m| invalid(path, "mail.from", m))?;
        for o in &raw.mail.officer {
            check_mailbox(o).map_err(|m| invalid(path, "mail.officer", m))?;
        }
        if let Some(u) = &raw.mail.unsubscribe_url {
            url::Url::parse(&u.replace("{profile}", "x")).map_err(|e| {
                invalid(
                    path,
                    "mail.unsubscribe_url",
                    format!("invalid URL {u:?}: {e}"),
                )
            })?;
        }
        let digest_schedule = CronSchedule::parse(
            raw.digest
                .schedule
                .as_deref()
                .unwrap_or(DEFAULT_DIGEST_SCHEDULE),
        )
        .map_err(|m| invalid(path, "digest.schedule", m))?;
        let report_schedule = CronSchedule::parse(
            raw.report
                .schedule
                .as_deref()
                .unwrap_or(DEFAULT_REPORT_SCHEDULE),
        )
        .map_err(|m| invalid(path, "report.schedule", m))?;
        let timezone = match raw.digest.timezone.as_deref() {
            None => chrono_tz::Europe::Paris,
            Some(tz) => tz.parse::<Tz>().map_err(|_| {
                invalid(
                    path,
                    "digest.timezone",
                    format!("unknown time zone {tz:?}: use an IANA name such as \"Europe/Paris\""),
                )
            })?,
        };
        Ok(Settings {
            path: Some(path.to_owned()),
            smtp,
            from,
            officer: raw.mail.officer,
            unsubscribe_url: raw.mail.unsubscribe_url,
            digest_schedule,
            timezone,
            closing_soon_days: raw.digest.closing_soon_days.unwrap_or(14),
            send_empty: raw.digest.send_empty.unwrap_or(false),
            report_schedule,
        })
    }
}

/// One academic's interest profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Where the digest goes.
    pub email: String,
    /// Digest language.
    pub language: Language,
    /// Query in `fundwatch search` syntax (validated against the index's
    /// parser by `fundwatch profiles check`).
    pub query: String,
    /// Only these levels (empty = all).
    pub levels: Vec<Level>,
    /// Only these funders (empty = all).
    pub funders: Vec<String>,
    /// Only these programmes (empty = all).
    pub programmes: Vec<String>,
    /// Skip calls closing sooner than this.
    pub min_days_before_deadline: u32,
    /// Inactive profiles get nothing.
    pub active: bool,
}

/// Validated `profiles.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// The file (absent file: empty list).
    pub path: PathBuf,
    /// In file order.
    pub list: Vec<Profile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    #[serde(default)]
    profile: Vec<RawProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    name: String,
    email: String,
    language: String,
    query: String,
    #[serde(default)]
    levels: Vec<String>,
    #[serde(default)]
    funders: Vec<String>,
    #[serde(default)]
    programmes: Vec<String>,
    #[serde(default)]
    min_days_before_deadline: u32,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

/// Finds the `id = "..."` of the `[[profile]]` block containing `offset`.
fn profile_id_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let start = before.rfind("[[profile]]")?;
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("[["))
        .find_map(|line| {
            let rest = line
                .trim()
                .strip_prefix("id")?
                .trim_start()
                .strip_prefix('=')?
                .trim();
            let rest = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\''))?;
            Some(rest[..rest.find(['"', '\''])?].to_owned())
        })
}

impl Profiles {
    /// Loads `path`; an absent file means no profiles.
    pub fn load_or_empty(path: &Path) -> Result<Profiles, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Profiles::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles {
                path: path.to_owned(),
                list: Vec::new(),
            }),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Validates the text of a profiles file (structure and fields; the
    /// query syntax is checked against the index's parser by the caller).
    pub fn parse(text: &str, path: &Path) -> Result<Profiles, ConfigError> {
        let raw: RawProfiles = toml::from_str(text).map_err(|e| {
            let id = e.span().and_then(|s| profile_id_at(text, s.start));
            ConfigError::Syntax {
                path: path.to_owned(),
                source_id: id.map(|i| format!("profile {i}")),
                message: e.to_string().trim_end().replace('\n', "\n  "),
            }
        })?;
        let mut seen = HashSet::new();
        let mut list = Vec::new();
        for p in raw.profile {
            let pid = p.id.clone();
            let bad = |key: &str, message: String| ConfigError::Invalid {
                path: path.to_owned(),
                source_id: Some(format!("profile {pid}")),
                key: key.to_owned(),
                message,
            };
            if pid.is_empty()
                || !pid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(
                    "id",
                    format!("{pid:?} is not a valid id: use letters, digits, '-' and '_'"),
                ));
            }
            if !seen.insert(pid.clone()) {
                return Err(bad("id", "duplicate profile id".into()));
            }
            check_mailbox(&p.email).map_err(|m| bad("email", m))?;
            let language = p
                .language
                .parse::<Language>()
                .map_err(|m| bad("language", m))?;
            let levels = p
                .levels
                .iter()
                .map(|l| l.parse::<Level>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| bad("levels", m))?;
            if p.query.trim().is_empty()
                && levels.is_empty()
                && p.funders.is_empty()
                && p.programmes.is_empty()
            {
                return Err(bad(
                    "query",
                    "empty query and no filter: this profile would match every call".into(),
                ));
            }
            list.push(Profile {
                id: p.id,
                name: p.name,
                email: p.email,
                language,
                query: p.query,
                levels,
                funders: p.funders,
                programmes: p.programmes,
                min_days_before_deadline: p.min_days_before_deadline,
                active: p.active,
            });
        }
        Ok(Profiles {
            path: path.to_owned(),
            list,
        })
    }

    /// The profile with this id.
    pub fn get(&self, id: &str) -> Option<&Profile> {
        self.list.iter().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_settings_file_means_defaults_and_the_file_outbox() {
        let s = Settings::load_or_default(Path::new("/nonexistent/fundwatch.toml")).unwrap();
        assert_eq!(s.smtp, None);
        assert_eq!(s.path, None);
        assert_eq!(s.digest_schedule.expr, DEFAULT_DIGEST_SCHEDULE);
        assert_eq!(s.closing_soon_days, 14);
        assert!(!s.send_empty);
        assert_eq!(s.timezone, chrono_tz::Europe::Paris);
    }

    #[test]
    fn the_example_files_are_valid() {
        let s = Settings::parse(
            include_str!("../fundwatch.example.toml"),
            Path::new("fundwatch.example.toml"),
        )
        .unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!(smtp.tls, TlsMode::Starttls);
        assert_eq!(
            smtp.password,
            Some(Secret::Env("FUNDWATCH_SMTP_PASSWORD".into()))
        );
        let p = Profiles::parse(
            include_str!("../profiles.example.toml"),
            Path::new("profiles.example.toml"),
        )
        .unwrap();
        assert!(p.list.len() >= 2);
        assert!(p.list.iter().any(|p| p.language == Language::En));
    }

    #[test]
    fn bad_settings_and_profiles_name_the_key() {
        let table: &[(&str, &str, &[&str])] = &[
            (
                "settings",
                "[smtp]\nhost = \"h\"\ntls = \"ssl\"\n",
                &["smtp.tls", "starttls"],
            ),
            (
                "settings",
                "[digest]\nschedule = \"weekly\"\n",
                &["digest.schedule", "cron"],
            ),
            (
                "settings",
                "[digest]\ntimezone = \"Paris\"\n",
                &["digest.timezone"],
            ),
            (
                "settings",
                "[mail]\nfrom = \"not an address\"\n",
                &["mail.from"],
            ),
            ("settings", "[mail]\nfromm = \"a@b.fr\"\n", &["fromm"]),
            (
                "profiles",
                "[[profile]]\nid = \"p1\"\nname = \"A\"\nemail = \"a@b.fr\"\nlanguage = \"de\"\nquery = \"x\"\n",
                &["profile p1", "key `language`"],
            ),
            (
                "profiles",
                "[[profile]]\nid = \"p1\"\nname = \"A\"\nemail = \"a@b.fr\"\nlanguage = \"fr\"\nquery = \"x\"\nintrests = [\"x\"]\n",
                &["profile p1", "intrests"],
            ),
            (
                "profiles",
                "[[profile]]\nid = \"p1\"\nname = \"A\"\nemail = \"nope\"\nlanguage = \"fr\"\nquery = \"x\"\n",
                &["key `email`"],
            ),
            (
                "profiles",
                "[[profile]]\nid = \"p1\"\nname = \"A\"\nemail = \"a@b.fr\"\nlanguage = \"fr\"\nquery = \"x\"\nlevels = [\"planet\"]\n",
                &["key `levels`"],
            ),
        ];
        for (kind, text, needles) in table {
            let msg = if *kind == "settings" {
                Settings::parse(text, Path::new("fundwatch.toml"))
                    .unwrap_err()
                    .to_string()
            } else {
                Profiles::parse(text, Path::new("profiles.toml"))
                    .unwrap_err()
                    .to_string()
            };
            for n in *needles {
                assert!(msg.contains(n), "{text:?}: {msg:?} lacks {n:?}");
            }
        }
    }
}
