//! The inbox's views and upkeep on PostgreSQL: `journal::inbox` — light rows of
//! pending items, a cheap change marker to poll, snoozes, and the items a resumed
//! failed run gets back.

use super::PgJournal;
use super::project::{append, apply};
use super::runs::proposal_in;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::notices::NO_RUN;
use crate::journal::store::{InboxUpkeep, RunStore};
use crate::journal::types::*;
use crate::journal::{Changes, InboxRow};

impl InboxUpkeep for PgJournal {
    fn inbox_rows(&self) -> Result<Vec<InboxRow>> {
        let rows = self.conn().query(
            "SELECT p.id, p.kind, p.run_id, r.workflow, p.step_id, p.summary, p.created_at,
                    (p.evidence::json->'confidence')::TEXT, (p.evidence::json->'versions')::TEXT,
                    s.until, p.deadline, p.on_timeout, p.reminders,
                    COALESCE(EXISTS (
                        SELECT 1 FROM json_array_elements(
                            CASE WHEN json_typeof(p.evidence::json->'agents') = 'array'
                                 THEN p.evidence::json->'agents' ELSE '[]'::json END) a
                        WHERE json_typeof(a) = 'object'
                          AND json_typeof(a->'heuristic') = 'boolean'
                          AND (a->>'heuristic')::boolean), false)
             FROM proposals p JOIN runs r ON r.id = p.run_id
             LEFT JOIN proposal_snoozes s ON s.proposal = p.id
             WHERE p.status = 'pending' ORDER BY p.id",
            &[],
        )?;
        let mut rows: Vec<InboxRow> = rows
            .iter()
            .map(|r| {
                // JSON text: a number, or anything else (no confidence).
                let confidence: Option<&str> = r.get(7);
                let versions: Option<&str> = r.get(8);
                InboxRow {
                    id: r.get(0),
                    kind: r.get(1),
                    run_id: r.get(2),
                    workflow: r.get(3),
                    step_id: r.get(4),
                    summary: r.get(5),
                    created_at: r.get(6),
                    confidence: confidence
                        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
                        .and_then(|c| c.as_f64()),
                    versions: versions
                        .and_then(|v| serde_json::from_str(v).ok())
                        .unwrap_or_default(),
                    snoozed_until: r.get(9),
                    deadline: r.get(10),
                    on_timeout: r.get(11),
                    reminders: u32::try_from(r.get::<_, i64>(12)).unwrap_or(u32::MAX),
                    offline: r.get(13),
                }
            })
            .collect();
        // Notices (about schedules, not runs) list with the rest.
        let notices = super::notices::notices(&mut *self.conn(), false)?;
        if !notices.is_empty() {
            rows.extend(notices.into_iter().map(|n| InboxRow {
                id: n.id,
                kind: ProposalKind::Notice.as_str().to_string(),
                run_id: NO_RUN,
                workflow: n.schedule,
                step_id: String::new(),
                summary: n.summary,
                created_at: n.created_at,
                confidence: None,
                versions: Vec::new(),
                snoozed_until: None,
                deadline: None,
                on_timeout: None,
                reminders: 0,
                offline: false,
            }));
            rows.sort_by_key(|r| r.id);
        }
        Ok(rows)
    }

    fn changes_since(&self, since: i64) -> Result<Changes> {
        if since <= 0 {
            let seq: Option<i64> = self
                .conn()
                .query_one("SELECT max(seq) FROM events", &[])?
                .get(0);
            return Ok(match seq {
                Some(seq) => Changes {
                    seq,
                    inbox: true,
                    runs: true,
                },
                None => Changes::default(),
            });
        }
        let r = self.conn().query_one(
            "SELECT max(seq),
                    bool_or(type IN ('proposal_created', 'proposal_decided', 'proposal_snoozed',
                                     'proposal_unsnoozed', 'run_cancelled',
                                     'proposal_reminded', 'notice_raised', 'notice_acknowledged',
                                     'proposal_withdrawn', 'proposal_reopened')),
                    bool_or(type NOT IN ('proposal_snoozed', 'proposal_unsnoozed', 'notice_raised',
                                         'notice_acknowledged'))
             FROM events WHERE seq > $1",
            &[&since],
        )?;
        Ok(Changes {
            seq: r.get::<_, Option<i64>>(0).unwrap_or(since),
            inbox: r.get::<_, Option<bool>>(1).unwrap_or(false),
            runs: r.get::<_, Option<bool>>(2).unwrap_or(false),
        })
    }

    fn snooze(&mut self, proposal: i64, until: Millis, by: &str) -> Result<ProposalRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let p = proposal_in(&mut *tx, proposal, true)?;
        if p.status != ProposalStatus::Pending {
            return Err(Error::conflict(format!(
                "inbox item {} is {}; only pending items can be snoozed",
                p.id, p.status
            )));
        }
        let ev = Event::ProposalSnoozed {
            proposal,
            step: p.step_id.clone(),
            until,
            by: by.to_string(),
        };
        append(&mut tx, p.run_id, &ev, at)?;
        apply(&mut tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(p)
    }

    fn unsnooze(&mut self, proposal: i64, by: &str) -> Result<ProposalRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let p = proposal_in(&mut *tx, proposal, true)?;
        if p.status != ProposalStatus::Pending {
            return Err(Error::conflict(format!(
                "inbox item {} is {}; only pending items are snoozed",
                p.id, p.status
            )));
        }
        let until: Option<Millis> = tx
            .query_opt(
                "SELECT until FROM proposal_snoozes WHERE proposal = $1",
                &[&proposal],
            )?
            .map(|r| r.get(0));
        if until.is_none_or(|u| u <= at) {
            return Err(Error::conflict(format!(
                "inbox item {} is not snoozed; it is in the inbox",
                p.id
            ))
            .with_hint(format!("see it with: aios inbox show {}", p.id)));
        }
        let ev = Event::ProposalUnsnoozed {
            proposal,
            step: p.step_id.clone(),
            by: by.to_string(),
        };
        append(&mut tx, p.run_id, &ev, at)?;
        apply(&mut tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(p)
    }

    fn snoozed_until(&self, proposal: i64) -> Result<Option<Millis>> {
        Ok(self
            .conn()
            .query_opt(
                "SELECT until FROM proposal_snoozes WHERE proposal = $1",
                &[&proposal],
            )?
            .map(|r| r.get(0)))
    }

    fn reopen_withdrawn(&mut self, run: i64) -> Result<Vec<Event>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        tx.execute("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", &[&run])?;
        let items: Vec<(i64, String)> = tx
            .query(
                "SELECT p.id, p.step_id FROM proposals p
                   JOIN steps s ON s.run_id = p.run_id AND s.step_id = p.step_id
                 WHERE p.run_id = $1 AND p.status = 'withdrawn'
                   AND s.status IN ('waiting', 'needs_attention') AND p.attempt = s.attempts
                   AND p.id = (SELECT max(id) FROM proposals q WHERE q.run_id = p.run_id AND q.step_id = p.step_id)
                 ORDER BY p.id",
                &[&run],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut events = Vec::new();
        for (proposal, step) in items {
            let ev = Event::ProposalReopened { proposal, step };
            append(&mut tx, run, &ev, at)?;
            apply(&mut tx, run, &ev, at)?;
            events.push(ev);
        }
        tx.commit()?;
        Ok(events)
    }
}
