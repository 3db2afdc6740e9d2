//! Notifications on PostgreSQL: `journal::notify` — their own append-only log
//! (`notify_events`) and its projection (`notifications`), one row per (key,
//! channel). Queuing inserts only what is missing, under an advisory lock on each
//! (key, channel), so ten ticks on ten machines queue each notification once (and
//! take one id for it); claiming takes due rows
//! `FOR UPDATE SKIP LOCKED`, so one tick sends each; the outcome is recorded only by
//! the claimant, its claim checked on the row read `FOR UPDATE`. Also what
//! notifications are made from: pending items, failed runs, the digest's facts.

use postgres::{Row, Transaction};
use serde_json::Value as Json;

use super::PgJournal;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::notify::{
    DigestFacts, FailedRun, NewNotification, NotificationRecord, NotifyEvent, NotifySources,
    OutcomeRow, PendingItem,
};
use crate::journal::store::{LlmLedger, NotifyStore, RunStore};

const COLS: &str = "id, key, channel, event, title, body, status, attempts, next_at, claimed_by,
    claim_until, error, reply, created_at, sent_at";

fn row(r: &Row) -> NotificationRecord {
    NotificationRecord {
        id: r.get(0),
        key: r.get(1),
        channel: r.get(2),
        event: r.get(3),
        title: r.get(4),
        body: r.get(5),
        status: r.get(6),
        attempts: u32::try_from(r.get::<_, i64>(7)).unwrap_or(u32::MAX),
        next_at: r.get(8),
        claimed_by: r.get(9),
        claim_until: r.get(10),
        error: r.get(11),
        reply: r.get(12),
        created_at: r.get(13),
        sent_at: r.get(14),
    }
}

/// Append `ev` for notification `id` to the log.
fn append(tx: &mut Transaction<'_>, id: i64, ev: &NotifyEvent, at: Millis) -> Result<()> {
    tx.execute(
        "INSERT INTO notify_events (notification, type, data, at) VALUES ($1, $2, $3, $4)",
        &[&id, &ev.type_name(), &serde_json::to_string(ev)?, &at],
    )?;
    Ok(())
}

/// Append `ev` (not `queued`: see `queue_notifications`) and apply it to its row.
fn record(tx: &mut Transaction<'_>, id: i64, ev: &NotifyEvent, at: Millis) -> Result<()> {
    append(tx, id, ev, at)?;
    match ev {
        NotifyEvent::Queued { .. } => {
            unreachable!("queued rows are inserted by queue_notifications")
        }
        NotifyEvent::Claimed { by, until } => {
            tx.execute(
                "UPDATE notifications SET claimed_by = $2, claim_until = $3, attempts = attempts + 1 WHERE id = $1",
                &[&id, by, until],
            )?;
        }
        NotifyEvent::Sent { reply, .. } => {
            tx.execute(
                "UPDATE notifications SET status = 'sent', reply = $2, error = NULL, sent_at = $3,
                   claimed_by = NULL, claim_until = NULL WHERE id = $1",
                &[&id, reply, &at],
            )?;
        }
        NotifyEvent::Failed { error, next_at, .. } => {
            let status = if next_at.is_some() {
                "pending"
            } else {
                "failed"
            };
            tx.execute(
                "UPDATE notifications SET status = $2, error = $3, next_at = coalesce($4, next_at),
                   claimed_by = NULL, claim_until = NULL WHERE id = $1",
                &[&id, &status, error, next_at],
            )?;
        }
    }
    Ok(())
}

/// Replay one logged event of notification `id` (a copy, `import`): `queued`
/// inserts the row under its id, the others go through [`record`].
pub(super) fn replay(
    tx: &mut Transaction<'_>,
    id: i64,
    ev: &NotifyEvent,
    at: Millis,
) -> Result<()> {
    match ev {
        NotifyEvent::Queued {
            key,
            channel,
            event,
            title,
            body,
        } => {
            tx.execute(
                "INSERT INTO notifications (id, key, channel, event, title, body, status, next_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
                &[&id, key, channel, event, title, body, &at],
            )?;
            append(tx, id, ev, at)
        }
        _ => record(tx, id, ev, at),
    }
}

/// Whether `by` holds the claim on pending notification `id` (its row locked).
fn holds(tx: &mut Transaction<'_>, id: i64, by: &str) -> Result<bool> {
    let holder: Option<Option<String>> = tx
        .query_opt(
            "SELECT claimed_by FROM notifications WHERE id = $1 AND status = 'pending' FOR UPDATE",
            &[&id],
        )?
        .map(|r| r.get(0));
    Ok(holder.flatten().as_deref() == Some(by))
}

impl NotifyStore for PgJournal {
    fn queue_notifications(&mut self, items: &[NewNotification]) -> Result<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The writers of a (key, channel) take turns on an advisory lock on it (all
        // of them first, in one order: two ticks never wait for each other in a
        // circle), so a notice already queued takes no id.
        let mut keys: Vec<String> = items
            .iter()
            .map(|n| format!("{}\n{}", n.key, n.channel))
            .collect();
        keys.sort();
        keys.dedup();
        for k in &keys {
            tx.execute(
                "SELECT pg_advisory_xact_lock(1634299768, hashtext($1))",
                &[k],
            )?;
        }
        let mut created = Vec::new();
        for n in items {
            let id: Option<i64> = tx
                .query_opt(
                    "INSERT INTO notifications (id, key, channel, event, title, body, status, next_at, created_at)
                     SELECT nextval('notification_ids'), $1, $2, $3, $4, $5, 'pending', $6, $6
                     WHERE NOT EXISTS (SELECT 1 FROM notifications WHERE key = $1 AND channel = $2)
                     RETURNING id",
                    &[&n.key, &n.channel, &n.event, &n.title, &n.body, &at],
                )?
                .map(|r| r.get(0));
            let Some(id) = id else { continue };
            let ev = NotifyEvent::Queued {
                key: n.key.clone(),
                channel: n.channel.clone(),
                event: n.event.clone(),
                title: n.title.clone(),
                body: n.body.clone(),
            };
            append(&mut tx, id, &ev, at)?;
            created.push(id);
        }
        tx.commit()?;
        Ok(created)
    }

    fn claim_notifications(
        &mut self,
        by: &str,
        hold: Millis,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let due: Vec<NotificationRecord> = tx
            .query(
                &format!(
                    "SELECT {COLS} FROM notifications
                     WHERE status = 'pending' AND next_at <= $1
                       AND (claim_until IS NULL OR claim_until < $1)
                     ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
                ),
                &[&at, &(limit as i64)],
            )?
            .iter()
            .map(row)
            .collect();
        let until = at.saturating_add(hold);
        let mut out = Vec::with_capacity(due.len());
        for mut n in due {
            let ev = NotifyEvent::Claimed {
                by: by.to_string(),
                until,
            };
            record(&mut tx, n.id, &ev, at)?;
            n.claimed_by = Some(by.to_string());
            n.claim_until = Some(until);
            n.attempts += 1;
            out.push(n);
        }
        tx.commit()?;
        Ok(out)
    }

    fn notification_sent(&mut self, id: i64, by: &str, reply: &str) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        if !holds(&mut tx, id, by)? {
            return Ok(false);
        }
        let ev = NotifyEvent::Sent {
            by: by.to_string(),
            reply: reply.to_string(),
        };
        record(&mut tx, id, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    fn notification_failed(
        &mut self,
        id: i64,
        by: &str,
        error: &str,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        if !holds(&mut tx, id, by)? {
            return Ok(false);
        }
        let ev = NotifyEvent::Failed {
            by: by.to_string(),
            error: error.to_string(),
            next_at,
        };
        record(&mut tx, id, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    fn notification_keys(&self, key: &str) -> Result<Vec<String>> {
        Ok(self
            .conn()
            .query(
                "SELECT channel FROM notifications WHERE key = $1 ORDER BY channel COLLATE \"C\"",
                &[&key],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>> {
        Ok(self
            .conn()
            .query(
                &format!("SELECT {COLS} FROM notifications ORDER BY id DESC LIMIT $1"),
                &[&(limit as i64)],
            )?
            .iter()
            .map(row)
            .collect())
    }

    fn notify_sources(&self, horizon: Millis) -> Result<NotifySources> {
        let now = self.now();
        let mut conn = self.conn();
        let mut pending: Vec<PendingItem> = conn
            .query(
                "SELECT p.id, p.kind, p.run_id, r.workflow, p.step_id, p.summary, p.created_at
                 FROM proposals p JOIN runs r ON r.id = p.run_id
                 LEFT JOIN proposal_snoozes s ON s.proposal = p.id
                 WHERE p.status = 'pending' AND (s.until IS NULL OR s.until <= $1)
                 ORDER BY p.created_at, p.id",
                &[&now],
            )?
            .iter()
            .map(|r| PendingItem {
                id: r.get(0),
                kind: r.get(1),
                run_id: r.get(2),
                workflow: r.get(3),
                step_id: r.get(4),
                summary: r.get(5),
                created_at: r.get(6),
            })
            .collect();
        let notices = conn.query(
            "SELECT id, kind, schedule, summary, created_at FROM notices
             WHERE status = 'pending' ORDER BY created_at, id",
            &[],
        )?;
        pending.extend(notices.iter().map(|r| PendingItem {
            id: r.get(0),
            kind: "notice".to_string(),
            run_id: 0,
            workflow: r.get(2),
            step_id: r.get(1),
            summary: r.get(3),
            created_at: r.get(4),
        }));
        pending.sort_by_key(|p| (p.created_at, p.id));
        let failed = conn
            .query(
                "SELECT id, workflow, error, finished_at FROM runs
                 WHERE status = 'failed' AND finished_at >= $1 ORDER BY finished_at, id",
                &[&horizon],
            )?
            .iter()
            .map(|r| FailedRun {
                id: r.get(0),
                workflow: r.get(1),
                error: r.get(2),
                finished_at: r.get(3),
            })
            .collect();
        Ok(NotifySources { pending, failed })
    }

    fn digest_facts(&self, since: Millis, day: Millis, month: Millis) -> Result<DigestFacts> {
        let (succeeded, outcomes, by_policy) = {
            let mut conn = self.conn();
            let succeeded: i64 = conn
                .query_one(
                    "SELECT count(*) FROM runs WHERE status = 'succeeded' AND finished_at >= $1",
                    &[&since],
                )?
                .get(0);
            let outcomes = conn.query(
                "SELECT o.run_id, r.workflow, o.key, o.value FROM outcomes o JOIN runs r ON r.id = o.run_id
                 WHERE o.at >= $1 ORDER BY o.at, o.run_id, o.key COLLATE \"C\" LIMIT 10",
                &[&since],
            )?
            .iter()
            .map(|r| {
                let v: String = r.get(3);
                OutcomeRow {
                    run_id: r.get(0),
                    workflow: r.get(1),
                    key: r.get(2),
                    value: serde_json::from_str(&v).unwrap_or(Json::String(v)),
                }
            })
            .collect();
            let by_policy = conn
                .query(
                    "SELECT p.id, p.run_id, r.workflow, p.step_id, p.decided_by, coalesce(p.reason, '')
                     FROM proposals p JOIN runs r ON r.id = p.run_id
                     WHERE p.decided_by LIKE 'policy:%' AND p.decided_at >= $1
                     ORDER BY p.decided_at, p.id LIMIT 10",
                    &[&since],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                .collect();
            (succeeded, outcomes, by_policy)
        };
        Ok(DigestFacts {
            by_policy,
            spent_today: self.llm_spent_since(day)?,
            spent_month: self.llm_spent_since(month)?,
            succeeded,
            outcomes,
        })
    }
}
