//! Renders a [`Digest`] into a multipart message's parts: subject, plain
//! text, HTML, a Message-ID stable per (profile, period) and the RFC 8058
//! one-click unsubscribe headers. Pure; templates are embedded so the binary
//! works from any directory under systemd.
//!
//! Everything that comes from crawled pages is escaped in the HTML part by
//! minijinja's auto-escaping (the template name ends in `.html`): a call
//! titled `<script>alert(1)</script>` arrives as text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, context};
use serde::Serialize;

use super::{Digest, DigestItem};
use crate::model::{DatePoint, Language, Level, Precision};

/// What a rendered digest needs beyond the digest itself.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// The recipient's zone for dates.
    pub timezone: Tz,
    /// One-click unsubscribe URL template (`{profile}` replaced).
    pub unsubscribe_url: Option<&'a str>,
    /// Domain for the Message-ID (the From address's domain).
    pub domain: &'a str,
}

/// A rendered digest, ready to be put in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// text/plain part.
    pub text: String,
    /// text/html part.
    pub html: String,
    /// Message-ID (with angle brackets), stable per (profile, period).
    pub message_id: String,
    /// `List-Unsubscribe` header value, when an unsubscribe URL is configured.
    pub list_unsubscribe: Option<String>,
}

/// Rendering failed: a template bug, never bad data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Rendering a template failed.
    #[error("rendering the digest failed (a template bug; please report it): {0}")]
    Render(#[from] minijinja::Error),
    /// The embedded templates do not parse.
    #[error("the digest templates do not parse (a bug; please report it): {0}")]
    Template(String),
}

struct Strings {
    greeting: &'static str,
    new: &'static str,
    updated: &'static str,
    closing_soon: &'static str,
    deadline: &'static str,
    why: &'static str,
    footer: &'static str,
    unsubscribe: &'static str,
    today: &'static str,
    past: &'static str,
}

const FR: Strings = Strings {
    greeting: "Bonjour",
    new: "Nouveaux appels",
    updated: "Appels mis à jour",
    closing_soon: "Clôture prochaine",
    deadline: "Date limite",
    why: "Pourquoi",
    footer: "Message envoyé par fundwatch, la veille des appels à projets de la Direction de l'International.",
    unsubscribe: "Se désabonner",
    today: "aujourd'hui",
    past: "passée",
};

const EN: Strings = Strings {
    greeting: "Hello",
    new: "New calls",
    updated: "Updated calls",
    closing_soon: "Closing soon",
    deadline: "Deadline",
    why: "Why",
    footer: "Sent by fundwatch, the funding-call watch of the International Office.",
    unsubscribe: "Unsubscribe",
    today: "today",
    past: "passed",
};

fn strings(lang: Language) -> &'static Strings {
    match lang {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn level_name(level: Level, lang: Language) -> &'static str {
    match (lang, level) {
        (Language::Fr, Level::Regional) => "régional",
        (Language::Fr, Level::National) => "national",
        (Language::Fr, Level::Eu) => "européen",
        (Language::Fr, Level::International) => "international",
        (Language::En, Level::Regional) => "regional",
        (Language::En, Level::National) => "national",
        (Language::En, Level::Eu) => "EU",
        (Language::En, Level::International) => "international",
    }
}

/// "28 janvier 2027, 17:00 CET (dans 63 jours)" in the recipient's zone.
pub fn format_deadline(d: &DatePoint, lang: Language, tz: Tz, now: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let months = if lang == Language::Fr {
        &MONTHS_FR
    } else {
        &MONTHS_EN
    };
    let s = strings(lang);
    let when = match (d.precision, d.at) {
        (Precision::Datetime, Some(at)) => {
            let local = at.with_timezone(&tz);
            let month = months[local.month0() as usize];
            match lang {
                Language::Fr => format!(
                    "{} {} {}, {}",
                    local.day(),
                    month,
                    local.year(),
                    local.format("%H:%M %Z")
                ),
                Language::En => format!(
                    "{} {} {}, {}",
                    local.day(),
                    month,
                    local.year(),
                    local.format("%H:%M %Z")
                ),
            }
        }
        (Precision::Month, _) => format!("{} {}", months[d.date.month0() as usize], d.date.year()),
        _ => format!(
            "{} {} {}",
            d.date.day(),
            months[d.date.month0() as usize],
            d.date.year()
        ),
    };
    let cutoff = d.cutoff();
    let rel = if cutoff < now {
        s.past.to_owned()
    } else {
        let days = (cutoff - now).num_days();
        match (days, lang) {
            (0, _) => s.today.to_owned(),
            (1, Language::Fr) => "dans 1 jour".to_owned(),
            (n, Language::Fr) => format!("dans {n} jours"),
            (1, Language::En) => "in 1 day".to_owned(),
            (n, Language::En) => format!("in {n} days"),
        }
    };
    let label = d
        .label
        .as_deref()
        .map(|l| format!(" — {l}"))
        .unwrap_or_default();
    format!("{when} ({rel}){label}")
}

#[derive(Serialize)]
struct ItemView {
    title: String,
    url: String,
    funder: String,
    level: &'static str,
    programme: Option<String>,
    deadlines: Vec<String>,
    changes: Vec<super::ChangeNote>,
    summary: String,
    reasons: String,
}

#[derive(Serialize)]
struct SectionView {
    heading: &'static str,
    items: Vec<ItemView>,
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut}…")
}

fn item_view(item: &DigestItem, lang: Language, tz: Tz, now: DateTime<Utc>) -> ItemView {
    let c = &item.call;
    // Upcoming deadlines only; a call whose every deadline passed is not sent.
    let deadlines: Vec<String> = c
        .deadlines
        .iter()
        .filter(|d| d.cutoff() >= now)
        .map(|d| format_deadline(d, lang, tz, now))
        .collect();
    let reasons = item
        .reasons
        .iter()
        .map(|r| match lang {
            Language::Fr => format!("« {} » ({})", r.term, r.fields.join(", ")),
            Language::En => format!("\"{}\" ({})", r.term, r.fields.join(", ")),
        })
        .collect::<Vec<_>>()
        .join(", ");
    // Escaping does not make a `javascript:` URL safe in an href: only
    // web links are linked.
    let url = if c.url.starts_with("https://") || c.url.starts_with("http://") {
        c.url.clone()
    } else {
        String::new()
    };
    ItemView {
        title: c.title.clone(),
        url,
        funder: c.funder.clone(),
        level: level_name(c.level, lang),
        programme: c.programme.clone(),
        deadlines,
        changes: item.changes.clone(),
        summary: shorten(
            if c.summary.is_empty() {
                &c.text
            } else {
                &c.summary
            },
            300,
        ),
        reasons,
    }
}

fn subject(d: &Digest) -> String {
    let (n, u, s) = (d.new.len(), d.updated.len(), d.closing_soon.len());
    let week = d.period.week;
    match d.profile.language {
        Language::Fr => {
            let mut parts = Vec::new();
            if n > 0 {
                parts.push(if n == 1 {
                    "1 nouvel appel".to_owned()
                } else {
                    format!("{n} nouveaux appels")
                });
            }
            if u > 0 {
                parts.push(if u == 1 {
                    "1 mis à jour".to_owned()
                } else {
                    format!("{u} mis à jour")
                });
            }
            if s > 0 {
                parts.push(if s == 1 {
                    "1 clôture prochaine".to_owned()
                } else {
                    format!("{s} clôtures prochaines")
                });
            }
            if parts.is_empty() {
                parts.push("aucun nouvel appel".to_owned());
            }
            format!(
                "fundwatch — {} pour vous (semaine {week})",
                parts.join(", ")
            )
        }
        Language::En => {
            let mut parts = Vec::new();
            if n > 0 {
                parts.push(if n == 1 {
                    "1 new call".to_owned()
                } else {
                    format!("{n} new calls")
                });
            }
            if u > 0 {
                parts.push(format!("{u} updated"));
            }
            if s > 0 {
                parts.push(format!("{s} closing soon"));
            }
            if parts.is_empty() {
                parts.push("no new calls".to_owned());
            }
            format!("fundwatch — {} for you (week {week})", parts.join(", "))
        }
    }
}

/// The Message-ID of a digest: the same for the same (profile, period), so
/// a resend after a crash is recognisably the same message.
pub fn message_id(profile_id: &str, period: super::Period, domain: &str) -> String {
    format!("<digest.{profile_id}.{period}@{domain}>")
}

/// The embedded templates, parsed once per process: rendering thousands of
/// digests must not re-parse them each time. Immutable once built.
fn templates() -> Result<&'static Environment<'static>, RenderError> {
    static ENV: std::sync::OnceLock<Result<Environment<'static>, String>> =
        std::sync::OnceLock::new();
    let built = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_template("digest.txt", include_str!("templates/digest.txt"))
            .map_err(|e| e.to_string())?;
        env.add_template("digest.html", include_str!("templates/digest.html"))
            .map_err(|e| e.to_string())?;
        Ok(env)
    });
    built.as_ref().map_err(|e| RenderError::Template(e.clone()))
}

/// Renders `d`.
pub fn render(
    d: &Digest,
    opts: &RenderOptions<'_>,
    now: DateTime<Utc>,
) -> Result<Rendered, RenderError> {
    let lang = d.profile.language;
    let s = strings(lang);
    let env = templates()?;
    let mut sections = Vec::new();
    for (heading, items) in [
        (s.new, &d.new),
        (s.updated, &d.updated),
        (s.closing_soon, &d.closing_soon),
    ] {
        if !items.is_empty() {
            sections.push(SectionView {
                heading,
                items: items
                    .iter()
                    .map(|i| item_view(i, lang, opts.timezone, now))
                    .collect(),
            });
        }
    }
    let total = d.new.len() + d.updated.len() + d.closing_soon.len();
    let intro = match lang {
        Language::Fr => format!(
            "Voici les appels à projets correspondant à votre profil pour la semaine {} ({} au total).",
            d.period.week, total
        ),
        Language::En => format!(
            "Here are the funding calls matching your profile for week {} ({} in all).",
            d.period.week, total
        ),
    };
    let unsubscribe = opts
        .unsubscribe_url
        .map(|u| u.replace("{profile}", &d.profile.id));
    let subject = subject(d);
    let t = context! {
        greeting => s.greeting, deadline => s.deadline, why => s.why, footer => s.footer, unsubscribe => s.unsubscribe,
    };
    let ctx = context! {
        t => t, name => d.profile.name.clone(), intro => intro, sections => minijinja::Value::from(minijinja::value::Serde(&sections)),
        unsubscribe => unsubscribe.clone(), subject => subject.clone(), lang => lang.as_str(),
    };
    let text = env.get_template("digest.txt")?.render(&ctx)?;
    let html = env.get_template("digest.html")?.render(&ctx)?;
    Ok(Rendered {
        subject,
        text,
        html,
        message_id: message_id(&d.profile.id, d.period, opts.domain),
        list_unsubscribe: unsubscribe.map(|u| format!("<{u}>")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{ChangeNote, Period, Reason};
    use crate::model::{Call, Status};
    use crate::settings::Profile;
    use chrono::NaiveDate;

    fn call(title: &str) -> Call {
        Call {
            id: "abc123".into(),
            source_id: "anr".into(),
            native_id: None,
            url: "https://anr.example/call?a=1&b=2".into(),
            title: title.into(),
            summary: "Soutien aux projets sur les sols & l'agroécologie.".into(),
            text: String::new(),
            funder: "ANR".into(),
            programme: Some("AAPG".into()),
            level: Level::National,
            language: Language::Fr,
            opening: None,
            deadlines: vec![DatePoint::instant(
                "2027-01-28T16:00:00Z".parse().unwrap(),
                chrono_tz::Europe::Paris,
                "28 janvier 2027 à 17h00",
            )],
            status: Status::Open,
            budget: None,
            tags: vec![],
            identifiers: vec![],
        }
    }

    fn profile(lang: Language) -> Profile {
        Profile {
            id: "dupont-soil".into(),
            name: "Marie Dupont".into(),
            email: "marie@univ.example".into(),
            language: lang,
            query: "sol".into(),
            levels: vec![],
            funders: vec![],
            programmes: vec![],
            min_days_before_deadline: 0,
            active: true,
        }
    }

    fn digest(lang: Language, title: &str) -> Digest {
        Digest {
            profile: profile(lang),
            period: Period::parse("2026-W48").unwrap(),
            new: vec![DigestItem {
                call: call(title),
                changes: vec![],
                reasons: vec![Reason {
                    term: "sol".into(),
                    fields: vec!["title".into(), "summary".into()],
                }],
            }],
            updated: vec![DigestItem {
                call: call("Appel mis à jour"),
                changes: vec![ChangeNote {
                    field: "date limite".into(),
                    old: "18/02/2027".into(),
                    new: "04/03/2027".into(),
                }],
                reasons: vec![],
            }],
            closing_soon: vec![],
        }
    }

    fn opts() -> RenderOptions<'static> {
        RenderOptions {
            timezone: chrono_tz::Europe::Paris,
            unsubscribe_url: Some("https://intranet.example/unsub?profile={profile}"),
            domain: "univ.example",
        }
    }

    #[test]
    fn french_digest_has_subject_sections_deadline_in_local_time_and_reasons() {
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let r = render(&digest(Language::Fr, "Sols vivants"), &opts(), now).unwrap();
        assert_eq!(
            r.subject,
            "fundwatch — 1 nouvel appel, 1 mis à jour pour vous (semaine 48)"
        );
        assert!(r.text.contains("== Nouveaux appels (1) =="), "{}", r.text);
        assert!(
            r.text
                .contains("Date limite: 28 janvier 2027, 17:00 CET (dans 66 jours)"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("Pourquoi: « sol » (title, summary)"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("date limite: 18/02/2027 → 04/03/2027"),
            "{}",
            r.text
        );
        // minijinja escapes '/' too; browsers decode entities in attributes.
        assert!(
            r.html
                .contains("<a href=\"https:&#x2f;&#x2f;anr.example&#x2f;call?a=1&amp;b=2\">"),
            "{}",
            r.html
        );
        assert_eq!(r.message_id, "<digest.dupont-soil.2026-W48@univ.example>");
        assert_eq!(
            r.list_unsubscribe.as_deref(),
            Some("<https://intranet.example/unsub?profile=dupont-soil>")
        );
        assert!(
            r.text
                .contains("Se désabonner: https://intranet.example/unsub?profile=dupont-soil")
        );
    }

    #[test]
    fn english_digest_uses_english_templates() {
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let r = render(&digest(Language::En, "Living soils"), &opts(), now).unwrap();
        assert_eq!(
            r.subject,
            "fundwatch — 1 new call, 1 updated for you (week 48)"
        );
        assert!(r.text.starts_with("Hello Marie Dupont,"), "{}", r.text);
        assert!(
            r.text
                .contains("Deadline: 28 January 2027, 17:00 CET (in 66 days)"),
            "{}",
            r.text
        );
        assert!(r.html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn crawled_text_is_escaped_in_html() {
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let r = render(
            &digest(Language::Fr, "<script>alert(1)</script>"),
            &opts(),
            now,
        )
        .unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(
            r.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{}",
            r.html
        );
        // The plain-text part carries it as text, unchanged.
        assert!(r.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn only_web_links_are_linked() {
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let mut d = digest(Language::En, "Sneaky");
        d.new[0].call.url = "javascript:alert(1)".into();
        let r = render(&d, &opts(), now).unwrap();
        assert!(!r.html.contains("javascript"), "{}", r.html);
    }

    #[test]
    fn deadlines_of_each_precision_read_naturally() {
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let paris = chrono_tz::Europe::Paris;
        let day = DatePoint::day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), paris, "");
        assert_eq!(
            format_deadline(&day, Language::Fr, paris, now),
            "1 décembre 2026 (dans 8 jours)"
        );
        let month = DatePoint::month(2027, 3, paris, "fin mars 2027").unwrap();
        assert_eq!(
            format_deadline(&month, Language::En, paris, now),
            "March 2027 (in 128 days)"
        );
        let past = DatePoint::day(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), paris, "");
        assert_eq!(
            format_deadline(&past, Language::En, paris, now),
            "1 November 2026 (passed)"
        );
        let staged = DatePoint::day(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(), paris, "")
            .with_label("stage 1");
        assert_eq!(
            format_deadline(&staged, Language::En, paris, now),
            "24 November 2026 (in 1 day) — stage 1"
        );
    }
}
