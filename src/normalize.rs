//! Turns what a source says ([`CallDraft`]) into a stored [`Call`]: canonical
//! URL, stable id, status computed from the dates, deduplicated tags, and the
//! identity keys by which the same call is recognised across sources.
//!
//! Pure: every function takes values and `now`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::Source;
use crate::model::{Call, CallDraft, DatePoint, Status};

/// Query parameters that only track where a click came from. Removing them
/// keeps ids stable when a portal changes its campaign tags.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
    "yclid",
    "xtor",
    "at_medium",
    "at_campaign",
    "at_source",
    "ref_src",
];

/// Canonical form of a call URL: lowercased scheme and host (the `url` crate
/// does that), no fragment, no tracking parameters (`utm_*` and
/// `TRACKING_PARAMS`), no default port. Strings that are not absolute URLs
/// are returned trimmed.
///
/// The parameters kept are kept as the source wrote them. Decoding and
/// re-encoding the query broke links: `%E9` (windows-1252 sites) is no
/// UTF-8 and came back as `%EF%BF%BD`, which also made distinct calls share
/// one URL, and SPIP's `spip.php?article123` became `?article123=`. `ref`
/// is no tracking parameter here: `?ref=AAP-2025-01` names a call.
pub fn canonical_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return raw.trim().to_owned();
    };
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let kept = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect::<Vec<_>>()
            .join("&");
        url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    url.to_string()
}

/// Whether the query pair `key=value`, as written, is a tracking parameter
/// (its key decoded, in any case).
fn is_tracking(pair: &str) -> bool {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    let key: String = url::form_urlencoded::parse(key.as_bytes())
        .next()
        .map(|(k, _)| k.to_ascii_lowercase())
        .unwrap_or_default();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

/// A short stable id derived from a call's primary identity key.
fn hash_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..6])
}

/// Title folded for comparison across sources: lowercase, accents and
/// punctuation dropped, whitespace collapsed.
pub fn fold_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut space = true;
    for c in title.chars().flat_map(char::to_lowercase) {
        let c = fold_char(c);
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.trim_end().to_owned()
}

fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'œ' => 'o',
        'æ' => 'a',
        c => c,
    }
}

/// The keys under which a call is known, most specific first. Two calls that
/// share any key are the same call (DESIGN.md: "a call found on several
/// sources is one call with several links"):
///
/// - `eu:IDENTIFIER` for every EU topic identifier the call carries, so a
///   national page quoting `HORIZON-CL4-2024-HUMAN-03` joins the portal topic;
/// - `src:SOURCE:NATIVE_ID` for the source's own id;
/// - `url:CANONICAL_URL`;
/// - `td:FOLDED_TITLE|FIRST_DEADLINE_DATE` when there is a deadline, which
///   catches the same call relayed under another URL.
pub fn identity_keys(call: &Call) -> Vec<String> {
    let mut keys: Vec<String> = call
        .identifiers
        .iter()
        .map(|i| format!("eu:{}", i.trim().to_ascii_uppercase()))
        .collect();
    if let Some(native) = &call.native_id {
        keys.push(format!("src:{}:{}", call.source_id, native));
    }
    if !call.url.is_empty() {
        keys.push(format!("url:{}", call.url));
    }
    if let Some(first) = call.deadlines.first() {
        let t = fold_title(&call.title);
        if !t.is_empty() {
            keys.push(format!("td:{t}|{}", first.date_string()));
        }
    }
    keys.dedup();
    keys
}

/// Status from the dates, per SOURCES-FORMATS.md §0 ("never trust status
/// alone; recompute from dates"): closed once every deadline's cut-off has
/// passed; forthcoming before the opening date; the source's own word only
/// where the dates say nothing.
pub fn compute_status(
    deadlines: &[DatePoint],
    opening: Option<&DatePoint>,
    source_status: Option<Status>,
    now: DateTime<Utc>,
) -> Status {
    if !deadlines.is_empty() && deadlines.iter().all(|d| d.cutoff() < now) {
        return Status::Closed;
    }
    if let Some(open) = opening {
        return if open.earliest() > now {
            Status::Forthcoming
        } else {
            Status::Open
        };
    }
    match source_status {
        Some(Status::Closed) if !deadlines.is_empty() => Status::Open,
        Some(s) => s,
        None => Status::Open,
    }
}

/// Normalises one draft from `source` into a call.
pub fn normalize(draft: CallDraft, source: &Source, now: DateTime<Utc>) -> Call {
    let url = canonical_url(&draft.url);
    let mut deadlines = draft.deadlines;
    deadlines.sort_by_key(|d| (d.cutoff(), d.label.clone()));
    deadlines.dedup_by(|a, b| a.cutoff() == b.cutoff() && a.precision == b.precision);
    let status = compute_status(&deadlines, draft.opening.as_ref(), draft.source_status, now);
    let mut tags: Vec<String> = Vec::new();
    for t in source.tags.iter().chain(draft.tags.iter()) {
        let t = t.trim();
        if !t.is_empty() && !tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            tags.push(t.to_owned());
        }
    }
    // In the case the source writes them (`HORIZON-MISS-2027-05-SOIL-01-two-stage`
    // in sedia_search_response_horizon_subset.json): they are shown as they
    // are. They are one identifier whatever their case, for dedup here and
    // as identity keys (`identity_keys`).
    let mut identifiers: Vec<String> = draft
        .identifiers
        .iter()
        .map(|i| i.trim().to_owned())
        .collect();
    identifiers.sort_by_cached_key(|i| i.to_ascii_uppercase());
    identifiers.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut call = Call {
        id: String::new(),
        source_id: source.id.clone(),
        native_id: draft
            .native_id
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        url,
        title: draft.title.trim().to_owned(),
        summary: draft.summary.trim().to_owned(),
        text: draft.text.trim().to_owned(),
        funder: draft
            .funder
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| source.funder.clone()),
        programme: draft.programme.filter(|p| !p.trim().is_empty()),
        level: source.level,
        language: draft.language.unwrap_or(source.language),
        opening: draft.opening,
        deadlines,
        status,
        budget: draft.budget,
        tags,
        identifiers,
    };
    // The id comes from the most specific key, so it survives URL tracking
    // changes (the URL is canonical) and is shared by every source that
    // names the same EU topic.
    call.id = identity_keys(&call)
        .first()
        .map(|k| hash_id(k))
        .unwrap_or_else(|| hash_id(&call.title));
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::Europe::Paris;

    #[test]
    fn canonical_url_drops_tracking_and_fragment() {
        let table = [
            (
                "https://anr.fr/fr/detail/call/x/?utm_source=rss&utm_medium=feed",
                "https://anr.fr/fr/detail/call/x/",
            ),
            (
                "https://Example.ORG:443/a?id=3&fbclid=zz#top",
                "https://example.org/a?id=3",
            ),
            (
                "https://euraxess.ec.europa.eu/jobs/415163?xtor=RSS-1",
                "https://euraxess.ec.europa.eu/jobs/415163",
            ),
            (
                "https://x.org/p?page=2&ref_src=twsrc&UTM_Medium=x",
                "https://x.org/p?page=2",
            ),
            ("https://x.org/p?utm_source=rss", "https://x.org/p"),
            ("not a url ", "not a url"),
        ];
        for (input, want) in table {
            assert_eq!(canonical_url(input), want, "{input}");
        }
    }

    /// The parameters kept stay as the source wrote them: re-encoding the
    /// query turned windows-1252 escapes into U+FFFD (so distinct calls
    /// shared one URL), SPIP's `?article123` into `?article123=`, and `ref`
    /// was dropped although it names the call on some sites.
    #[test]
    fn canonical_urls_keep_the_query_as_written() {
        let table = [
            ("https://x.fr/a?t=r%E9gion", "https://x.fr/a?t=r%E9gion"),
            (
                "https://x.fr/a?t=r%E9gion&utm_campaign=z",
                "https://x.fr/a?t=r%E9gion",
            ),
            (
                "https://x.fr/spip.php?article123",
                "https://x.fr/spip.php?article123",
            ),
            ("https://x.fr/a?q=a%20b&fbclid=1", "https://x.fr/a?q=a%20b"),
            (
                "https://x.fr/aap?ref=AAP-2025-01",
                "https://x.fr/aap?ref=AAP-2025-01",
            ),
            ("https://x.fr/a?id=1&&utm_source=x", "https://x.fr/a?id=1"),
        ];
        for (input, want) in table {
            assert_eq!(canonical_url(input), want, "{input}");
        }
    }

    #[test]
    fn fold_title_ignores_case_accents_and_punctuation() {
        assert_eq!(
            fold_title("Appel à projets — Mobilité 2026 !"),
            "appel a projets mobilite 2026"
        );
        assert_eq!(
            fold_title("APPEL A PROJETS: mobilite 2026"),
            "appel a projets mobilite 2026"
        );
    }

    fn day(y: i32, m: u32, d: u32) -> DatePoint {
        DatePoint::day(NaiveDate::from_ymd_opt(y, m, d).unwrap(), Paris, "")
    }

    /// Real bug: identifiers were stored upper-cased, so `show` printed
    /// `HORIZON-MISS-2027-05-SOIL-01-TWO-STAGE` for the portal's
    /// `…-two-stage` (sedia_search_response_horizon_subset.json). They keep
    /// the source's case; case variants are one identifier (the first
    /// given is kept), and their identity key is the same.
    #[test]
    fn eu_identifiers_keep_the_sources_case() {
        use crate::config::SourceKind;
        use crate::extract::test_support::source;
        let src = source(SourceKind::EuPortal, crate::model::Language::En);
        let now = "2026-05-10T12:00:00Z".parse().unwrap();
        let draft = CallDraft {
            title: "Soil".into(),
            url: "https://example.org/soil".into(),
            identifiers: vec![
                "HORIZON-MISS-2027-05-SOIL-01-two-stage".into(),
                " horizon-miss-2027-05-soil-01-TWO-STAGE ".into(),
                "ERC-2025-STG".into(),
            ],
            ..CallDraft::default()
        };
        let call = normalize(draft, &src, now);
        assert_eq!(
            call.identifiers,
            ["ERC-2025-STG", "HORIZON-MISS-2027-05-SOIL-01-two-stage"]
        );
        let mut upper = call.clone();
        upper.identifiers = vec![
            "ERC-2025-STG".into(),
            "HORIZON-MISS-2027-05-SOIL-01-TWO-STAGE".into(),
        ];
        let keys = |c: &Call| {
            identity_keys(c)
                .into_iter()
                .filter(|k| k.starts_with("eu:"))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&call), keys(&upper));
    }

    #[test]
    fn status_is_computed_from_dates_before_the_source_word() {
        let now = "2026-05-10T12:00:00Z".parse().unwrap();
        type Case = (
            &'static str,
            Vec<DatePoint>,
            Option<DatePoint>,
            Option<Status>,
            Status,
        );
        let table: &[Case] = &[
            (
                "all deadlines past",
                vec![day(2026, 5, 1)],
                None,
                Some(Status::Open),
                Status::Closed,
            ),
            (
                "deadline today is still open",
                vec![day(2026, 5, 10)],
                None,
                None,
                Status::Open,
            ),
            (
                "opening in the future",
                vec![day(2026, 9, 1)],
                Some(day(2026, 6, 1)),
                Some(Status::Open),
                Status::Forthcoming,
            ),
            (
                "opened already",
                vec![day(2026, 9, 1)],
                Some(day(2026, 5, 1)),
                Some(Status::Forthcoming),
                Status::Open,
            ),
            (
                "no dates: source word",
                vec![],
                None,
                Some(Status::Forthcoming),
                Status::Forthcoming,
            ),
            (
                "source says closed but a deadline is ahead",
                vec![day(2026, 9, 1)],
                None,
                Some(Status::Closed),
                Status::Open,
            ),
            ("no dates, no word", vec![], None, None, Status::Open),
        ];
        for (name, deadlines, opening, said, want) in table {
            assert_eq!(
                compute_status(deadlines, opening.as_ref(), *said, now),
                *want,
                "{name}"
            );
        }
    }
}
