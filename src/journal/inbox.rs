//! What the inbox TUI reads and writes besides decisions: light rows of pending items
//! (no action or evidence bodies, so 10,000 of them load in milliseconds), a cheap
//! change marker to poll, and snoozes. Also the items a run's end withdraws (a failed
//! or cancelled run leaves nothing to decide) and a resume puts back.

use rusqlite::{OptionalExtension, params};

use super::types::*;
use super::{SqliteJournal, append, project, query};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// A pending inbox item as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    pub id: i64,
    /// `action`, `approval`, `attention`, or a kind added later (kept as text so a
    /// newer kind still lists).
    pub kind: String,
    pub run_id: i64,
    pub workflow: String,
    pub step_id: String,
    pub summary: String,
    pub created_at: Millis,
    /// `evidence.confidence`, when the proposal carries one (0..1).
    pub confidence: Option<f64>,
    /// `evidence.versions`: what the proposal was built from (see [`super::VersionRef`]).
    pub versions: Vec<super::VersionRef>,
    /// Hidden until this instant.
    pub snoozed_until: Option<Millis>,
    /// When its `on_timeout` decides for the operator, if it has a deadline.
    pub deadline: Option<Millis>,
    /// What happens at the deadline (`reject`, `approve`, `remind`, `policy:NAME`).
    pub on_timeout: Option<String>,
    /// How often it was surfaced again (`on_timeout = "remind"`).
    pub reminders: u32,
    /// An offline heuristic (no LLM) drafted some of it (`evidence.agents`).
    pub offline: bool,
}

/// What changed in the journal since a given event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changes {
    /// The newest event's sequence number (pass it back next time).
    pub seq: i64,
    /// Some event may have changed the pending inbox items.
    pub inbox: bool,
    /// Some event changed a run or a step.
    pub runs: bool,
}

impl SqliteJournal {
    /// Pending inbox items with the fields the list needs, oldest first (front ends
    /// sort them with [`crate::inbox::order`]).
    pub fn inbox_rows(&self) -> Result<Vec<InboxRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.kind, p.run_id, r.workflow, p.step_id, p.summary, p.created_at,
                    json_extract(p.evidence, '$.confidence'),
                    json_extract(p.evidence, '$.versions'),
                    s.until, p.deadline, p.on_timeout, p.reminders, p.offline
             -- Read from this index alone (migration 0020), not from the items.
             FROM proposals p INDEXED BY proposals_pending_list JOIN runs r ON r.id = p.run_id
             LEFT JOIN proposal_snoozes s ON s.proposal = p.id
             WHERE p.status = 'pending' ORDER BY p.id",
        )?;
        let rows = stmt.query_map([], |r| {
            let confidence: Option<f64> = r.get::<_, Option<f64>>(7).unwrap_or(None);
            let versions: Option<String> = r.get::<_, Option<String>>(8).unwrap_or(None);
            Ok(InboxRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                run_id: r.get(2)?,
                workflow: r.get(3)?,
                step_id: r.get(4)?,
                summary: r.get(5)?,
                created_at: r.get(6)?,
                confidence,
                versions: versions
                    .and_then(|v| serde_json::from_str(&v).ok())
                    .unwrap_or_default(),
                snoozed_until: r.get(9)?,
                deadline: r.get(10)?,
                on_timeout: r.get(11)?,
                reminders: r.get(12)?,
                offline: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
            })
        })?;
        let mut rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        // Notices (about schedules, not runs) list with the rest.
        let notices = self.notices(false)?;
        if !notices.is_empty() {
            rows.extend(notices.into_iter().map(|n| InboxRow {
                id: n.id,
                kind: ProposalKind::Notice.as_str().to_string(),
                run_id: super::notices::NO_RUN,
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

    /// What changed after event `since` (0: from the start). One indexed range scan
    /// of the new events only, so polling it is cheap however big the inbox is.
    pub fn changes_since(&self, since: i64) -> Result<Changes> {
        if since <= 0 {
            // The first look: everything may have changed. Only the newest event is
            // read (the history is not scanned: a TUI opens as fast on a million
            // events as on ten).
            let seq: Option<i64> = self
                .conn
                .prepare_cached("SELECT max(seq) FROM events")?
                .query_row([], |r| r.get(0))?;
            return Ok(match seq {
                Some(seq) => Changes {
                    seq,
                    inbox: true,
                    runs: true,
                },
                None => Changes::default(),
            });
        }
        let (seq, inbox, runs): (Option<i64>, Option<bool>, Option<bool>) = self
            .conn
            .prepare_cached(
                "SELECT max(seq),
                        max(type IN ('proposal_created', 'proposal_decided', 'proposal_snoozed',
                                     'proposal_unsnoozed', 'run_cancelled',
                                     'proposal_reminded', 'notice_raised', 'notice_acknowledged',
                                     'proposal_withdrawn', 'proposal_reopened')),
                        max(type NOT IN ('proposal_snoozed', 'proposal_unsnoozed', 'notice_raised',
                                         'notice_acknowledged'))
                 FROM events WHERE seq > ?1",
            )?
            .query_row(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(Changes {
            seq: seq.unwrap_or(since),
            inbox: inbox.unwrap_or(false),
            runs: runs.unwrap_or(false),
        })
    }

    /// Hide a pending item until `until`. Journaled like any state change.
    pub fn snooze(&mut self, proposal: i64, until: Millis, by: &str) -> Result<ProposalRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let p = query::proposal(&tx, proposal)?;
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
        append(&tx, p.run_id, &ev, at)?;
        project::apply(&tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(p)
    }

    /// Show a snoozed item again now (`aios inbox unsnooze ID`). An item that is not
    /// snoozed (or no longer: its time is up) is refused, as is a decided one.
    pub fn unsnooze(&mut self, proposal: i64, by: &str) -> Result<ProposalRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let p = query::proposal(&tx, proposal)?;
        if p.status != ProposalStatus::Pending {
            return Err(Error::conflict(format!(
                "inbox item {} is {}; only pending items are snoozed",
                p.id, p.status
            )));
        }
        let until: Option<Millis> = tx
            .prepare_cached("SELECT until FROM proposal_snoozes WHERE proposal = ?1")?
            .query_row(params![proposal], |r| r.get(0))
            .optional()?;
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
        append(&tx, p.run_id, &ev, at)?;
        project::apply(&tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(p)
    }

    /// Until when an item is snoozed, if it is.
    pub fn snoozed_until(&self, proposal: i64) -> Result<Option<Millis>> {
        Ok(self
            .conn
            .prepare_cached("SELECT until FROM proposal_snoozes WHERE proposal = ?1")?
            .query_row(params![proposal], |r| r.get(0))
            .optional()?)
    }
}

/// Why the event `ev` of run `run` ends it, for the items it withdraws; `None` when
/// it does not end the run.
pub(super) fn ending(run: i64, ev: &Event) -> Option<String> {
    match ev {
        Event::RunStatus {
            status: RunStatus::Failed,
            error,
        } => Some(match error {
            Some(e) => format!("run {run} failed: {e}"),
            None => format!("run {run} failed"),
        }),
        Event::RunStatus {
            status: RunStatus::Cancelled,
            ..
        }
        | Event::RunCancelled { reason: None } => Some(format!("run {run} was cancelled")),
        Event::RunCancelled { reason: Some(r) } => Some(format!("run {run} was cancelled: {r}")),
        Event::RunStatus {
            status: RunStatus::Succeeded,
            ..
        } => Some(format!("run {run} succeeded")),
        _ => None,
    }
}

/// Withdraw run `run`'s pending items, journaled in `tx` (the transaction that ends
/// the run): nothing stays in the inbox that could not be decided.
pub(super) fn withdraw_pending(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    reason: &str,
    at: Millis,
) -> Result<()> {
    withdraw_pending_but(tx, run, reason, at, None)
}

/// [`withdraw_pending`], keeping item `keep` (a failure item recorded again).
pub(super) fn withdraw_pending_but(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    reason: &str,
    at: Millis,
    keep: Option<i64>,
) -> Result<()> {
    let pending: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT id, step_id FROM proposals WHERE run_id = ?1 AND status = 'pending' ORDER BY id",
        )?
        .query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (proposal, step) in pending {
        if Some(proposal) == keep {
            continue;
        }
        let ev = Event::ProposalWithdrawn {
            proposal,
            step,
            reason: reason.to_string(),
        };
        append(tx, run, &ev, at)?;
        project::apply(tx, run, &ev, at)?;
    }
    Ok(())
}

impl SqliteJournal {
    /// Put back the items a failure of run `run` withdrew that its steps still wait
    /// on (each step's latest item, of the attempt it is at, while the step is
    /// `waiting` or `needs_attention`). Called when the failed run is resumed, before
    /// its driver re-attaches its items. Returns the events journaled.
    pub fn reopen_withdrawn(&mut self, run: i64) -> Result<Vec<Event>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let items: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT p.id, p.step_id FROM proposals p
                   JOIN steps s ON s.run_id = p.run_id AND s.step_id = p.step_id
                 WHERE p.run_id = ?1 AND p.status = 'withdrawn'
                   AND s.status IN ('waiting', 'needs_attention') AND p.attempt = s.attempts
                   AND p.id = (SELECT max(id) FROM proposals q WHERE q.run_id = p.run_id AND q.step_id = p.step_id)
                 ORDER BY p.id",
            )?
            .query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut events = Vec::new();
        for (proposal, step) in items {
            let ev = Event::ProposalReopened { proposal, step };
            append(&tx, run, &ev, at)?;
            project::apply(&tx, run, &ev, at)?;
            events.push(ev);
        }
        tx.commit()?;
        Ok(events)
    }
}
