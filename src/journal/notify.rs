//! Notifications in the journal: their own append-only event log (`notify_events`)
//! and its projection (`notifications`), one row per (key, channel). Queuing is one
//! immediate transaction that inserts only what is missing, so ten concurrent ticks
//! queue each notification once; claiming is a compare-and-swap, so one tick sends
//! it; the outcome (sent, or failed with the next try's time) is recorded only by the
//! claimant. Also what notifications are made from: the pending items, failed runs,
//! schedule notices and the facts of the daily digest.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::SqliteJournal;
use crate::clock::Millis;
use crate::error::Result;

/// A notification to queue (for one channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// What it is about, the same for every channel: `waiting:12`.
    pub key: String,
    pub channel: String,
    /// `waiting`, `failed`, `schedule`, `budget`, `digest`.
    pub event: String,
    pub title: String,
    pub body: String,
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub event: String,
    pub title: String,
    pub body: String,
    /// `pending`, `sent` or `failed` (gave up).
    pub status: String,
    pub attempts: u32,
    pub next_at: Millis,
    pub claimed_by: Option<String>,
    pub claim_until: Option<Millis>,
    pub error: Option<String>,
    pub reply: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum NotifyEvent {
    Queued {
        key: String,
        channel: String,
        event: String,
        title: String,
        body: String,
    },
    Claimed {
        by: String,
        until: Millis,
    },
    Sent {
        by: String,
        reply: String,
    },
    Failed {
        by: String,
        error: String,
        /// The next try; `None`: no more tries.
        next_at: Option<Millis>,
    },
}

impl NotifyEvent {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            NotifyEvent::Queued { .. } => "queued",
            NotifyEvent::Claimed { .. } => "claimed",
            NotifyEvent::Sent { .. } => "sent",
            NotifyEvent::Failed { .. } => "failed",
        }
    }
}

const COLS: &str = "id, key, channel, event, title, body, status, attempts, next_at, claimed_by,
    claim_until, error, reply, created_at, sent_at";

fn row(r: &Row<'_>) -> rusqlite::Result<NotificationRecord> {
    Ok(NotificationRecord {
        id: r.get(0)?,
        key: r.get(1)?,
        channel: r.get(2)?,
        event: r.get(3)?,
        title: r.get(4)?,
        body: r.get(5)?,
        status: r.get(6)?,
        attempts: r.get(7)?,
        next_at: r.get(8)?,
        claimed_by: r.get(9)?,
        claim_until: r.get(10)?,
        error: r.get(11)?,
        reply: r.get(12)?,
        created_at: r.get(13)?,
        sent_at: r.get(14)?,
    })
}

/// Append an event and apply it to `notifications`, in the caller's transaction.
fn record(tx: &Transaction<'_>, id: i64, ev: &NotifyEvent, at: Millis) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO notify_events (notification, type, data, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, ev.type_name(), serde_json::to_string(ev)?, at])?;
    match ev {
        NotifyEvent::Queued {
            key,
            channel,
            event,
            title,
            body,
        } => {
            tx.prepare_cached(
                "INSERT INTO notifications (id, key, channel, event, title, body, status, next_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
            )?
            .execute(params![id, key, channel, event, title, body, at])?;
        }
        NotifyEvent::Claimed { by, until } => {
            tx.prepare_cached(
                "UPDATE notifications SET claimed_by = ?2, claim_until = ?3, attempts = attempts + 1 WHERE id = ?1",
            )?
            .execute(params![id, by, until])?;
        }
        NotifyEvent::Sent { reply, .. } => {
            tx.prepare_cached(
                "UPDATE notifications SET status = 'sent', reply = ?2, error = NULL, sent_at = ?3,
                   claimed_by = NULL, claim_until = NULL WHERE id = ?1",
            )?
            .execute(params![id, reply, at])?;
        }
        NotifyEvent::Failed { error, next_at, .. } => {
            tx.prepare_cached(
                "UPDATE notifications SET status = ?2, error = ?3, next_at = coalesce(?4, next_at),
                   claimed_by = NULL, claim_until = NULL WHERE id = ?1",
            )?
            .execute(params![
                id,
                if next_at.is_some() {
                    "pending"
                } else {
                    "failed"
                },
                error,
                next_at
            ])?;
        }
    }
    Ok(())
}

/// A pending inbox item, as notifications speak of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    pub id: i64,
    /// `action`, `approval`, `attention`, `budget`, or `notice`.
    pub kind: String,
    pub run_id: i64,
    /// The workflow (or a notice's schedule).
    pub workflow: String,
    pub step_id: String,
    pub summary: String,
    pub created_at: Millis,
}

/// A run that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRun {
    pub id: i64,
    pub workflow: String,
    pub error: Option<String>,
    pub finished_at: Millis,
}

/// What notifications are made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifySources {
    /// Pending inbox items not snoozed past now, oldest first (notices included).
    pub pending: Vec<PendingItem>,
    /// Runs that failed since the horizon, oldest first.
    pub failed: Vec<FailedRun>,
}

/// An outcome recorded on a run.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRow {
    pub run_id: i64,
    pub workflow: String,
    pub key: String,
    pub value: Json,
}

/// What the daily digest says besides the pending items and failures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DigestFacts {
    /// LLM spending since the start of the UTC day, and of the month.
    pub spent_today: f64,
    pub spent_month: f64,
    /// Runs that succeeded since the digest's start.
    pub succeeded: i64,
    /// Outcomes recorded since the digest's start (at most 10).
    pub outcomes: Vec<OutcomeRow>,
    /// Items an autonomy policy decided since the digest's start (at most 10):
    /// `(item, run, workflow, step, policy:NAME, reason)`.
    pub by_policy: Vec<(i64, i64, String, String, String, String)>,
}

impl SqliteJournal {
    /// Queue what is not queued yet (by key and channel), in one transaction.
    /// Returns the ids created.
    pub fn queue_notifications(&mut self, items: &[NewNotification]) -> Result<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.now();
        let tx = self.write_tx()?;
        let mut created = Vec::new();
        for n in items {
            let exists: Option<i64> = tx
                .prepare_cached("SELECT id FROM notifications WHERE key = ?1 AND channel = ?2")?
                .query_row(params![n.key, n.channel], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                continue;
            }
            let id: i64 = tx.query_row(
                "SELECT coalesce(max(id), 0) + 1 FROM notifications",
                [],
                |r| r.get(0),
            )?;
            record(
                &tx,
                id,
                &NotifyEvent::Queued {
                    key: n.key.clone(),
                    channel: n.channel.clone(),
                    event: n.event.clone(),
                    title: n.title.clone(),
                    body: n.body.clone(),
                },
                at,
            )?;
            created.push(id);
        }
        tx.commit()?;
        Ok(created)
    }

    /// Claim up to `limit` pending notifications that are due and not claimed by a
    /// live claimant, for `by`, until `now + hold`. One transaction: two ticks never
    /// claim the same one.
    pub fn claim_notifications(
        &mut self,
        by: &str,
        hold: Millis,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let due: Vec<NotificationRecord> = tx
            .prepare_cached(&format!(
                "SELECT {COLS} FROM notifications
                 WHERE status = 'pending' AND next_at <= ?1
                   AND (claim_until IS NULL OR claim_until < ?1)
                 ORDER BY next_at, id LIMIT ?2"
            ))?
            .query_map(params![at, limit as i64], row)?
            .collect::<rusqlite::Result<_>>()?;
        let until = at.saturating_add(hold);
        let mut out = Vec::with_capacity(due.len());
        for mut n in due {
            record(
                &tx,
                n.id,
                &NotifyEvent::Claimed {
                    by: by.to_string(),
                    until,
                },
                at,
            )?;
            n.claimed_by = Some(by.to_string());
            n.claim_until = Some(until);
            n.attempts += 1;
            out.push(n);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Whether `by` still holds the claim on `id` (checked in `tx`).
    fn holds(tx: &Transaction<'_>, id: i64, by: &str) -> Result<bool> {
        let holder: Option<Option<String>> = tx
            .prepare_cached(
                "SELECT claimed_by FROM notifications WHERE id = ?1 AND status = 'pending'",
            )?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        Ok(holder.flatten().as_deref() == Some(by))
    }

    /// Record that `by` sent `id`. False when `by` no longer held it.
    pub fn notification_sent(&mut self, id: i64, by: &str, reply: &str) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        if !Self::holds(&tx, id, by)? {
            return Ok(false);
        }
        record(
            &tx,
            id,
            &NotifyEvent::Sent {
                by: by.to_string(),
                reply: reply.to_string(),
            },
            at,
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Record that `by` could not send `id`: tried again at `next_at`, or never
    /// (`None`). False when `by` no longer held it.
    pub fn notification_failed(
        &mut self,
        id: i64,
        by: &str,
        error: &str,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        if !Self::holds(&tx, id, by)? {
            return Ok(false);
        }
        record(
            &tx,
            id,
            &NotifyEvent::Failed {
                by: by.to_string(),
                error: error.to_string(),
                next_at,
            },
            at,
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// The channels a notification with `key` is queued for.
    pub fn notification_keys(&self, key: &str) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT channel FROM notifications WHERE key = ?1 ORDER BY channel")?
            .query_map(params![key], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The newest notifications first (at most `limit`).
    pub fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM notifications ORDER BY id DESC LIMIT ?1"
            ))?
            .query_map(params![limit as i64], row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Pending items (not snoozed past now) and the runs that failed since
    /// `horizon`.
    pub fn notify_sources(&self, horizon: Millis) -> Result<NotifySources> {
        let now = self.now();
        let mut pending: Vec<PendingItem> = self
            .conn
            .prepare_cached(
                "SELECT p.id, p.kind, p.run_id, r.workflow, p.step_id, p.summary, p.created_at
                 FROM proposals p JOIN runs r ON r.id = p.run_id
                 LEFT JOIN proposal_snoozes s ON s.proposal = p.id
                 WHERE p.status = 'pending' AND (s.until IS NULL OR s.until <= ?1)
                 ORDER BY p.created_at, p.id",
            )?
            .query_map(params![now], |r| {
                Ok(PendingItem {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    run_id: r.get(2)?,
                    workflow: r.get(3)?,
                    step_id: r.get(4)?,
                    summary: r.get(5)?,
                    created_at: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let notices: Vec<PendingItem> = self
            .conn
            .prepare_cached(
                "SELECT id, kind, schedule, summary, created_at FROM notices
                 WHERE status = 'pending' ORDER BY created_at, id",
            )?
            .query_map([], |r| {
                Ok(PendingItem {
                    id: r.get(0)?,
                    kind: "notice".to_string(),
                    run_id: 0,
                    workflow: r.get(2)?,
                    step_id: r.get(1)?,
                    summary: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        pending.extend(notices);
        pending.sort_by_key(|p| (p.created_at, p.id));
        let failed = self
            .conn
            .prepare_cached(
                "SELECT id, workflow, error, finished_at FROM runs
                 WHERE status = 'failed' AND finished_at >= ?1 ORDER BY finished_at, id",
            )?
            .query_map(params![horizon], |r| {
                Ok(FailedRun {
                    id: r.get(0)?,
                    workflow: r.get(1)?,
                    error: r.get(2)?,
                    finished_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(NotifySources { pending, failed })
    }

    /// Spending, successes and outcomes for the digest: since `since` (successes,
    /// outcomes), the UTC day and month starting at `day` and `month` (spending).
    pub fn digest_facts(&self, since: Millis, day: Millis, month: Millis) -> Result<DigestFacts> {
        let succeeded: i64 = self.conn.query_row(
            "SELECT count(*) FROM runs WHERE status = 'succeeded' AND finished_at >= ?1",
            params![since],
            |r| r.get(0),
        )?;
        let outcomes = self
            .conn
            .prepare_cached(
                "SELECT o.run_id, r.workflow, o.key, o.value FROM outcomes o JOIN runs r ON r.id = o.run_id
                 WHERE o.at >= ?1 ORDER BY o.at, o.run_id, o.key LIMIT 10",
            )?
            .query_map(params![since], |r| {
                let v: String = r.get(3)?;
                Ok(OutcomeRow {
                    run_id: r.get(0)?,
                    workflow: r.get(1)?,
                    key: r.get(2)?,
                    value: serde_json::from_str(&v).unwrap_or(Json::String(v)),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let by_policy = self
            .conn
            .prepare_cached(
                "SELECT p.id, p.run_id, r.workflow, p.step_id, p.decided_by, coalesce(p.reason, '')
                 FROM proposals p JOIN runs r ON r.id = p.run_id
                 WHERE p.decided_by LIKE 'policy:%' AND p.decided_at >= ?1 ORDER BY p.decided_at, p.id LIMIT 10",
            )?
            .query_map(params![since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(DigestFacts {
            by_policy,
            spent_today: self.llm_spent_since(day)?,
            spent_month: self.llm_spent_since(month)?,
            succeeded,
            outcomes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::OpenOptions;

    fn journal(dir: &tempfile::TempDir, at: i64) -> SqliteJournal {
        let clock = crate::clock::Clock::Fixed(jiff::Timestamp::from_millisecond(at).unwrap());
        SqliteJournal::open(&dir.path().join("aios.db"), clock, OpenOptions::default()).unwrap()
    }

    fn new(key: &str, channel: &str) -> NewNotification {
        NewNotification {
            key: key.into(),
            channel: channel.into(),
            event: "waiting".into(),
            title: "t".into(),
            body: "b".into(),
        }
    }

    /// Queued once per (key, channel); claimed by one; the outcome recorded only
    /// by the claimant; a failure comes back when due; a claim lapses.
    #[test]
    fn queue_claim_send_and_retry() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(&dir, 1_000);
        let ids = j
            .queue_notifications(&[new("waiting:1", "phone"), new("waiting:1", "mail")])
            .unwrap();
        assert_eq!(ids, [1, 2]);
        assert!(
            j.queue_notifications(&[new("waiting:1", "phone")])
                .unwrap()
                .is_empty()
        );
        let a = j.claim_notifications("a", 60_000, 10).unwrap();
        assert_eq!(a.len(), 2);
        assert!(j.claim_notifications("b", 60_000, 10).unwrap().is_empty());
        assert!(
            !j.notification_sent(1, "b", "ok").unwrap(),
            "b holds no claim"
        );
        assert!(j.notification_sent(1, "a", "200").unwrap());
        assert!(j.notification_failed(2, "a", "down", Some(31_000)).unwrap());
        let rows = j.notifications(10).unwrap();
        assert_eq!(
            (rows[1].status.as_str(), rows[1].reply.as_deref()),
            ("sent", Some("200"))
        );
        assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("pending", 1));
        assert!(
            j.claim_notifications("a", 60_000, 10).unwrap().is_empty(),
            "not due yet"
        );
        let mut later = journal(&dir, 31_000);
        let again = later.claim_notifications("c", 1_000, 10).unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 2));
        // c stops without recording: its claim lapses, and d may take it.
        let mut after = journal(&dir, 32_001);
        let d = after.claim_notifications("d", 1_000, 10).unwrap();
        assert_eq!(d[0].id, 2);
        assert!(after.notification_failed(2, "d", "gone", None).unwrap());
        assert_eq!(after.notifications(10).unwrap()[0].status, "failed");
    }
}
