//! The digest outbox: one row per (profile, period), recorded *before* the
//! message is sent and marked after. That ordering is what makes delivery
//! exactly-once per (profile, period) across crashes and restarts:
//!
//! - the `UNIQUE (profile_id, period)` constraint means a second run for the
//!   same week finds the row and records nothing new;
//! - a crash after recording leaves the row `pending`: the next run sends it
//!   (the stored rendering, same Message-ID), it never composes a second one;
//! - a row is *claimed* (`pending` → `sending`) in one UPDATE before the SMTP
//!   exchange, so two processes (the daemon and a `digest send`) never send
//!   the same row; a claim older than the stale timeout (a crash in the
//!   middle of the exchange) is taken over;
//! - a temporary failure puts the row back to `pending` with its error (the
//!   next run retries); a permanent rejection (SMTP 5xx) marks it `failed`
//!   with the server's answer, for the officer's report.
//!
//! The rows also are the history of what each profile was sent (call ids per
//! section), from which the next digest is composed.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Store, StoreError, parse_opt_ts, parse_ts, ts};

/// Where a recorded digest stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    /// Recorded, not delivered yet (new, or a temporary failure to retry).
    Pending,
    /// Claimed by a sender now.
    Sending,
    /// Accepted by the relay (or written to the file outbox).
    Sent,
    /// Permanently rejected; not retried.
    Failed,
}

impl OutboxStatus {
    /// The name stored in the database and shown by `digest list`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<OutboxStatus> {
        Some(match s {
            "pending" => OutboxStatus::Pending,
            "sending" => OutboxStatus::Sending,
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            _ => return None,
        })
    }
}

/// A digest to record: the rendered message and what it contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecord {
    /// The profile.
    pub profile_id: String,
    /// The period (`2026-W48`).
    pub period: String,
    /// The recipient's address.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Message-ID, with angle brackets.
    pub message_id: String,
    /// text/plain part.
    pub text: String,
    /// text/html part.
    pub html: String,
    /// `List-Unsubscribe` value, when configured.
    pub list_unsubscribe: Option<String>,
    /// Call ids of the "new" section.
    pub new_ids: Vec<String>,
    /// Call ids of the "updated" section.
    pub updated_ids: Vec<String>,
    /// Call ids of the "closing soon" section.
    pub closing_ids: Vec<String>,
    /// Start of the window of changes the digest covers.
    pub window_start: DateTime<Utc>,
}

/// One outbox row without the message bodies (listings, history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// The profile.
    pub profile_id: String,
    /// The period.
    pub period: String,
    /// The recipient's address.
    pub recipient: String,
    /// Where it stands.
    pub status: OutboxStatus,
    /// Subject.
    pub subject: String,
    /// Call ids of the "new" section.
    pub new_ids: Vec<String>,
    /// Call ids of the "updated" section.
    pub updated_ids: Vec<String>,
    /// Call ids of the "closing soon" section.
    pub closing_ids: Vec<String>,
    /// Start of the window of changes it covers.
    pub window_start: DateTime<Utc>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the last attempt started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When it was accepted.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A row with its message, ready to be (re)sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The row.
    pub entry: OutboxEntry,
    /// Message-ID, with angle brackets.
    pub message_id: String,
    /// text/plain part.
    pub text: String,
    /// text/html part.
    pub html: String,
    /// `List-Unsubscribe` value.
    pub list_unsubscribe: Option<String>,
}

const ENTRY_COLUMNS: &str = "id, profile_id, period, recipient, status, subject, new_ids, \
     updated_ids, closing_ids, window_start, created_at, attempts, last_attempt, last_error, sent_at";

type RawEntry = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn raw_entry(r: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
    ))
}

fn decode_entry(raw: RawEntry) -> Result<OutboxEntry, StoreError> {
    let (
        id,
        profile_id,
        period,
        recipient,
        status,
        subject,
        new_ids,
        updated_ids,
        closing_ids,
        window_start,
        created_at,
        attempts,
        last_attempt,
        last_error,
        sent_at,
    ) = raw;
    let key = id.to_string();
    let bad = |what, detail: String| StoreError::BadRow {
        table: "outbox",
        key: key.clone(),
        what,
        detail,
    };
    let ids = |what, s: &str| {
        serde_json::from_str::<Vec<String>>(s).map_err(|e| bad(what, e.to_string()))
    };
    Ok(OutboxEntry {
        status: OutboxStatus::parse(&status)
            .ok_or_else(|| bad("status", format!("unknown status {status:?}")))?,
        new_ids: ids("new_ids", &new_ids)?,
        updated_ids: ids("updated_ids", &updated_ids)?,
        closing_ids: ids("closing_ids", &closing_ids)?,
        window_start: parse_ts("outbox", &key, "window_start", &window_start)?,
        created_at: parse_ts("outbox", &key, "created_at", &created_at)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_attempt: parse_opt_ts("outbox", &key, "last_attempt", last_attempt)?,
        sent_at: parse_opt_ts("outbox", &key, "sent_at", sent_at)?,
        last_error,
        id,
        profile_id,
        period,
        recipient,
        subject,
    })
}

/// Where the next digest window of a profile with these outbox rows starts
/// (`None`: no rows, a first digest).
///
/// Normally when its latest digest was recorded: what came before was in
/// that digest or an earlier one. A permanently rejected digest reached
/// nobody, and its calls are offered again ([`crate::digest::compose`]), so
/// it must not move the window either: a failed row recorded after the
/// latest other one gives back its own window start, and the earliest such
/// start wins. Without that, the calls of a digest rejected for a mistyped
/// address fall before the next window and are never listed once the
/// address is fixed.
pub fn next_window_start(rows: &[OutboxEntry]) -> Option<DateTime<Utc>> {
    let last_kept = rows
        .iter()
        .filter(|r| r.status != OutboxStatus::Failed)
        .map(|r| r.created_at)
        .max();
    let failed_since = rows
        .iter()
        .filter(|r| r.status == OutboxStatus::Failed)
        .filter(|r| last_kept.is_none_or(|t| r.created_at > t))
        .map(|r| r.window_start);
    last_kept.into_iter().chain(failed_since).min()
}

fn json_ids(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

impl Store {
    /// Records a digest as `pending`. Returns its row id, or `None` when a
    /// digest for this (profile, period) is already recorded: that one is
    /// the digest of the period, whatever its status.
    pub fn record_digest(
        &mut self,
        d: &DigestRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let e = self.err("recording a digest");
        let tx = self.write_tx("recording a digest")?;
        let n = tx
            .execute(
                "INSERT INTO outbox (profile_id, period, recipient, status, subject, message_id,
                    text_body, html_body, list_unsubscribe, new_ids, updated_ids, closing_ids,
                    window_start, created_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (profile_id, period) DO NOTHING",
                params![
                    d.profile_id,
                    d.period,
                    d.recipient,
                    d.subject,
                    d.message_id,
                    d.text,
                    d.html,
                    d.list_unsubscribe,
                    json_ids(&d.new_ids),
                    json_ids(&d.updated_ids),
                    json_ids(&d.closing_ids),
                    ts(d.window_start),
                    ts(now),
                ],
            )
            .map_err(&e)?;
        let id = (n == 1).then(|| tx.last_insert_rowid());
        tx.commit().map_err(e)?;
        Ok(id)
    }

    /// Every outbox row (no bodies), oldest first; of one profile when given.
    pub fn outbox(&self, profile_id: Option<&str>) -> Result<Vec<OutboxEntry>, StoreError> {
        let raw: Vec<RawEntry> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM outbox WHERE ?1 IS NULL OR profile_id = ?1
                 ORDER BY created_at, id"
            ))
            .and_then(|mut s| s.query_map([profile_id], raw_entry)?.collect())
            .map_err(self.err("reading the outbox"))?;
        raw.into_iter().map(decode_entry).collect()
    }

    /// Outbox rows recorded or attempted at or after `since` (the officer's
    /// report: digests sent and failed this period).
    pub fn outbox_since(&self, since: DateTime<Utc>) -> Result<Vec<OutboxEntry>, StoreError> {
        let raw: Vec<RawEntry> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM outbox
                 WHERE created_at >= ?1 OR last_attempt >= ?1 ORDER BY created_at, id"
            ))
            .and_then(|mut s| s.query_map([ts(since)], raw_entry)?.collect())
            .map_err(self.err("reading the outbox"))?;
        raw.into_iter().map(decode_entry).collect()
    }

    /// The digest of (profile, period), if recorded.
    pub fn outbox_entry(
        &self,
        profile_id: &str,
        period: &str,
    ) -> Result<Option<OutboxEntry>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM outbox WHERE profile_id = ?1 AND period = ?2"
            ))
            .and_then(|mut s| s.query_row([profile_id, period], raw_entry).optional())
            .map_err(self.err("reading the outbox"))?
            .map(decode_entry)
            .transpose()
    }

    /// Where each profile's next digest window starts, by
    /// [`next_window_start`] over its rows; profiles without any row are
    /// absent (their first digest follows the first-run rule).
    pub fn last_digests(&self) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let mut by_profile: HashMap<String, Vec<OutboxEntry>> = HashMap::new();
        for row in self.outbox(None)? {
            by_profile
                .entry(row.profile_id.clone())
                .or_default()
                .push(row);
        }
        Ok(by_profile
            .into_iter()
            .filter_map(|(p, rows)| next_window_start(&rows).map(|t| (p, t)))
            .collect())
    }

    /// Rows waiting for delivery: `pending`, or claimed longer than `stale`
    /// ago (a sender died mid-exchange), oldest first.
    pub fn deliverable(
        &self,
        now: DateTime<Utc>,
        stale: TimeDelta,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let raw: Vec<RawEntry> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM outbox
                 WHERE status = 'pending' OR (status = 'sending' AND last_attempt < ?1)
                 ORDER BY created_at, id"
            ))
            .and_then(|mut s| s.query_map([ts(now - stale)], raw_entry)?.collect())
            .map_err(self.err("reading the outbox"))?;
        raw.into_iter().map(decode_entry).collect()
    }

    /// How many rows are not delivered yet: pending, or claimed by a
    /// sender (which may have died: its claim goes stale after a while).
    pub fn undelivered(&self) -> Result<usize, StoreError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(self.err("reading the outbox"))
    }

    /// Claims row `id` for sending (see the module doc) and returns its
    /// message; `None` when another sender has it or it is no longer
    /// deliverable.
    pub fn claim_digest(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        stale: TimeDelta,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        let e = self.err("claiming a digest");
        let tx = self.write_tx("claiming a digest")?;
        let n = tx
            .execute(
                "UPDATE outbox SET status = 'sending', last_attempt = ?2, attempts = attempts + 1
                 WHERE id = ?1 AND (status = 'pending' OR (status = 'sending' AND last_attempt < ?3))",
                params![id, ts(now), ts(now - stale)],
            )
            .map_err(&e)?;
        if n == 0 {
            return Ok(None);
        }
        let row = tx
            .query_row(
                &format!(
                    "SELECT {ENTRY_COLUMNS}, message_id, text_body, html_body, list_unsubscribe
                     FROM outbox WHERE id = ?1"
                ),
                [id],
                |r| {
                    Ok((
                        raw_entry(r)?,
                        r.get(15)?,
                        r.get(16)?,
                        r.get(17)?,
                        r.get(18)?,
                    ))
                },
            )
            .map_err(&e)?;
        tx.commit().map_err(e)?;
        let (raw, message_id, text, html, list_unsubscribe) = row;
        Ok(Some(OutboxMessage {
            entry: decode_entry(raw)?,
            message_id,
            text,
            html,
            list_unsubscribe,
        }))
    }

    /// How many calls were first stored at or after `since` (the officer's
    /// report: calls added this period).
    pub fn calls_added_since(&self, since: DateTime<Utc>) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM calls WHERE first_seen >= ?1",
                [ts(since)],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.err("counting added calls"))
    }

    /// Marks row `id` delivered.
    pub fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let e = self.err("marking a digest sent");
        let tx = self.write_tx("marking a digest sent")?;
        tx.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, ts(now)],
        )
        .map_err(&e)?;
        tx.commit().map_err(e)
    }

    /// Records a failed delivery of row `id`: `failed` for good when
    /// `permanent`, else back to `pending` for the next run.
    pub fn mark_failed(&mut self, id: i64, error: &str, permanent: bool) -> Result<(), StoreError> {
        let e = self.err("marking a digest failed");
        let tx = self.write_tx("marking a digest failed")?;
        tx.execute(
            "UPDATE outbox SET status = ?2, last_error = ?3 WHERE id = ?1",
            params![id, if permanent { "failed" } else { "pending" }, error],
        )
        .map_err(&e)?;
        tx.commit().map_err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(profile: &str, period: &str) -> DigestRecord {
        DigestRecord {
            profile_id: profile.into(),
            period: period.into(),
            recipient: format!("{profile}@univ.example"),
            subject: "s".into(),
            message_id: format!("<digest.{profile}.{period}@univ.example>"),
            text: "t".into(),
            html: "<p>h</p>".into(),
            list_unsubscribe: None,
            new_ids: vec!["a".into()],
            updated_ids: vec![],
            closing_ids: vec!["b".into()],
            window_start: "2026-11-16T06:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn one_row_per_profile_and_period_claimed_once() {
        let mut s = Store::open_in_memory().unwrap();
        let now: DateTime<Utc> = "2026-11-23T06:00:00Z".parse().unwrap();
        let stale = TimeDelta::minutes(15);
        let id = s
            .record_digest(&record("p1", "2026-W48"), now)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.record_digest(&record("p1", "2026-W48"), now).unwrap(),
            None
        );
        s.record_digest(&record("p2", "2026-W48"), now)
            .unwrap()
            .unwrap();
        assert_eq!(s.deliverable(now, stale).unwrap().len(), 2);

        let m = s.claim_digest(id, now, stale).unwrap().unwrap();
        assert_eq!(m.message_id, "<digest.p1.2026-W48@univ.example>");
        assert_eq!(m.entry.closing_ids, vec!["b".to_owned()]);
        // Claimed: a second sender gets nothing, until the claim goes stale.
        assert!(s.claim_digest(id, now, stale).unwrap().is_none());
        assert_eq!(s.deliverable(now, stale).unwrap().len(), 1);
        let later = now + TimeDelta::minutes(20);
        assert_eq!(s.deliverable(later, stale).unwrap().len(), 2);

        // A temporary failure goes back to pending; a permanent one stays failed.
        s.mark_failed(id, "451 try later", false).unwrap();
        let e = s.outbox_entry("p1", "2026-W48").unwrap().unwrap();
        assert_eq!((e.status, e.attempts), (OutboxStatus::Pending, 1));
        assert_eq!(e.last_error.as_deref(), Some("451 try later"));
        s.claim_digest(id, now, stale).unwrap().unwrap();
        s.mark_sent(id, now).unwrap();
        let e = s.outbox_entry("p1", "2026-W48").unwrap().unwrap();
        assert_eq!(
            (e.status, e.attempts, e.last_error),
            (OutboxStatus::Sent, 2, None)
        );
        assert!(s.claim_digest(id, later, stale).unwrap().is_none());

        let p2 = s.outbox_entry("p2", "2026-W48").unwrap().unwrap();
        s.claim_digest(p2.id, now, stale).unwrap().unwrap();
        s.mark_failed(p2.id, "550 no such user", true).unwrap();
        assert!(s.deliverable(later, stale).unwrap().is_empty());
        assert_eq!(s.outbox(None).unwrap().len(), 2);
        assert_eq!(
            s.outbox(Some("p2")).unwrap()[0].status,
            OutboxStatus::Failed
        );
        assert_eq!(s.last_digests().unwrap().get("p1"), Some(&now));
        assert_eq!(s.outbox_since(later).unwrap().len(), 0);
        assert_eq!(s.outbox_since(now).unwrap().len(), 2);
    }
}
