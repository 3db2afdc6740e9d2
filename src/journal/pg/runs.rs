//! Runs, events and inbox items on PostgreSQL: the same decisions as the
//! SQLite journal (`journal::{mod, query, trust}`), each taken on rows read
//! `FOR UPDATE` in the transaction that writes its outcome.

use postgres::Row;
use postgres::types::ToSql;
use serde_json::Value as Json;

use super::PgJournal;
use super::project::{append, apply};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::store::{InboxStore, RunStore};
use crate::journal::types::*;
use crate::journal::{DecisionInput, inbox, not_decidable};

fn json_col(s: Option<String>) -> Option<Json> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn word<T>(s: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(s).ok_or_else(|| Error::storage(format!("unknown status word `{s}`")))
}

const RUN_COLS: &str = "r.id, r.uid, r.workflow, r.path, r.dir, s.text, r.source_hash, r.inputs,
    r.status, r.error, r.created_at, r.updated_at, r.finished_at, r.lease_owner, r.lease_expires,
    r.dry";

fn run_row(r: &Row) -> Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0),
        uid: r.get(1),
        workflow: r.get(2),
        path: r.get(3),
        dir: r.get(4),
        source: r.get(5),
        source_hash: r.get(6),
        inputs: json_col(r.get(7)).unwrap_or(Json::Null),
        status: word(r.get(8), RunStatus::parse)?,
        error: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
        finished_at: r.get(12),
        lease_owner: r.get(13),
        lease_expires: r.get(14),
        dry: r.get::<_, Option<&str>>(15).and_then(DryMode::parse),
    })
}

const PROPOSAL_COLS: &str =
    "p.id, p.run_id, r.workflow, r.status, p.step_id, p.attempt, p.kind, p.status,
    p.summary, p.action, p.evidence, p.decision, p.reason, p.fields, p.edited, p.diff, p.decided_by,
    p.decided_at, p.created_at, p.deadline, p.on_timeout, p.reminders";

fn proposal_row(r: &Row) -> Result<ProposalRecord> {
    Ok(ProposalRecord {
        id: r.get(0),
        run_id: r.get(1),
        workflow: r.get(2),
        run_status: word(r.get(3), RunStatus::parse)?,
        step_id: r.get(4),
        attempt: r.get::<_, i64>(5) as u32,
        kind: word(r.get(6), ProposalKind::parse)?,
        status: word(r.get(7), ProposalStatus::parse)?,
        summary: r.get(8),
        action: json_col(r.get(9)).unwrap_or(Json::Null),
        evidence: json_col(r.get(10)).unwrap_or(Json::Null),
        decision: r.get::<_, Option<&str>>(11).and_then(Decision::parse),
        reason: r.get(12),
        fields: json_col(r.get(13)),
        edited: json_col(r.get(14)),
        diff: r.get(15),
        decided_by: r.get(16),
        decided_at: r.get(17),
        created_at: r.get(18),
        deadline: r.get(19),
        on_timeout: r.get(20),
        reminders: r.get::<_, i64>(21) as u32,
    })
}

fn step_row(r: &Row) -> Result<StepRecord> {
    let status: &str = r.get(3);
    Ok(StepRecord {
        step_id: r.get(0),
        idx: r.get(1),
        kind: r.get(2),
        status: word(status, StepStatus::parse)?,
        attempts: r.get::<_, i64>(4) as u32,
        output: json_col(r.get(5)),
        error: r.get(6),
        started_at: r.get(7),
        finished_at: r.get(8),
        throttled: match (r.get::<_, Option<i64>>(9), r.get::<_, Option<String>>(10)) {
            (Some(until), Some(by)) => Some((until, by)),
            _ => None,
        },
        held: match (
            r.get::<_, Option<String>>(11),
            r.get::<_, Option<Millis>>(12),
        ) {
            (Some(t), Some(until)) if status == "waiting" => Some((t, until)),
            _ => None,
        },
    })
}

pub(super) fn no_run(id: i64) -> Error {
    Error::not_found(format!("no run {id}")).with_hint("list runs with: aios runs")
}

pub(super) fn proposal_in(
    c: &mut impl postgres::GenericClient,
    id: i64,
    lock: bool,
) -> Result<ProposalRecord> {
    let sql = format!(
        "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id WHERE p.id = $1{}",
        if lock { " FOR UPDATE OF p" } else { "" }
    );
    match c.query_opt(&sql, &[&id])? {
        Some(row) => proposal_row(&row),
        // Notices share the id space: one number names one inbox item.
        None => match super::notices::notice(c, id, false)? {
            Some(n) => Ok(n.as_proposal()),
            None => Err(Error::not_found(format!("no inbox item {id}"))
                .with_hint("list pending items with: aios inbox list")),
        },
    }
}

impl PgJournal {
    fn proposals_where(
        &self,
        cond: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<ProposalRecord>> {
        let sql = format!(
            "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id {cond} ORDER BY p.id"
        );
        self.conn()
            .query(&sql, params)?
            .iter()
            .map(proposal_row)
            .collect()
    }

    /// Trust: an edited or rejected action of a promoted step demotes it back to
    /// asking (`journal::trust::demote_on_decision`), in the decision's transaction.
    fn demote_on_decision(
        tx: &mut postgres::Transaction<'_>,
        p: &ProposalRecord,
        at: Millis,
    ) -> Result<()> {
        if p.kind != ProposalKind::Action {
            return Ok(());
        }
        let why = match (p.decision, p.edited.is_some()) {
            (Some(Decision::Reject), _) => "rejected",
            (Some(Decision::Approve), true) => "edited",
            _ => return Ok(()),
        };
        let level: Option<String> = tx
            .query_opt(
                "SELECT level FROM trust_marks WHERE workflow = $1 AND step = $2 ORDER BY id DESC LIMIT 1",
                &[&p.workflow, &p.step_id],
            )?
            .map(|r| r.get(0));
        if level.as_deref() != Some("promoted") {
            return Ok(());
        }
        let by = p.decided_by.clone().unwrap_or_default();
        let ev = Event::TrustChanged {
            workflow: p.workflow.clone(),
            step: p.step_id.clone(),
            level: "demoted".into(),
            by: by.clone(),
            reason: Some(format!(
                "inbox item {} was {why} by {by}{}",
                p.id,
                p.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
        };
        append(tx, p.run_id, &ev, at)?;
        apply(tx, p.run_id, &ev, at)?;
        Ok(())
    }
}

impl RunStore for PgJournal {
    fn runs_of_workflow(&self, name: &str) -> Result<Vec<(i64, RunStatus)>> {
        let rows = self.conn().query(
            "SELECT id, status FROM runs WHERE workflow = $1 ORDER BY id",
            &[&name],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get(0), RunStatus::parse(r.get(1))?)))
            .collect())
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    fn commit(&mut self, run_id: i64, events: &[Event]) -> Result<i64> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The run's row is the lock every writer of the run takes first: commits of
        // one run are serialized, and a side effect never starts in a run cancelled
        // by another process (the check and `step_started` are one transaction).
        let status = lock_run(&mut tx, run_id)?;
        if status.as_deref() == Some("cancelled")
            && events
                .iter()
                .any(|e| matches!(e, Event::StepStarted { .. }))
        {
            return Err(Error::conflict(format!("run {run_id} was cancelled")));
        }
        let mut seq = 0;
        for ev in events {
            if let Some(reason) = inbox::ending(run_id, ev) {
                withdraw_pending(&mut tx, run_id, &reason, at)?;
            }
            seq = append(&mut tx, run_id, ev, at)?;
            apply(&mut tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(seq)
    }

    fn create_run(&mut self, source: &str, created: Event) -> Result<i64> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let id = insert_run(&mut tx, source, &created, at)?;
        tx.commit()?;
        Ok(id)
    }

    fn run(&self, id: i64) -> Result<RunRecord> {
        let row = self.conn().query_opt(
            &format!("SELECT {RUN_COLS} FROM runs r JOIN sources s ON s.hash = r.source_hash WHERE r.id = $1"),
            &[&id],
        )?;
        run_row(&row.ok_or_else(|| no_run(id))?)
    }

    fn runs(&self, status: Option<RunStatus>, limit: usize) -> Result<Vec<RunSummary>> {
        self.runs_of(status, limit, false)
    }

    fn runs_of(
        &self,
        status: Option<RunStatus>,
        limit: usize,
        dry: bool,
    ) -> Result<Vec<RunSummary>> {
        let rows = self.conn().query(
            "SELECT r.id, r.workflow, r.status, r.created_at, r.updated_at,
                    (SELECT count(*) FROM steps s WHERE s.run_id = r.id),
                    (SELECT count(*) FROM steps s WHERE s.run_id = r.id AND s.status IN ('succeeded', 'skipped'))
             FROM runs r WHERE ($1::TEXT IS NULL OR r.status = $1) AND (r.dry IS NOT NULL) = $3
             ORDER BY r.id DESC LIMIT $2",
            &[&status.map(|s| s.as_str()), &(limit.min(i64::MAX as usize) as i64), &dry],
        )?;
        rows.iter()
            .map(|r| {
                Ok(RunSummary {
                    id: r.get(0),
                    workflow: r.get(1),
                    status: word(r.get(2), RunStatus::parse)?,
                    created_at: r.get(3),
                    updated_at: r.get(4),
                    steps_total: r.get(5),
                    steps_done: r.get(6),
                })
            })
            .collect()
    }

    fn run_by_uid(&self, uid: &str) -> Result<Option<(i64, RunStatus)>> {
        let row = self
            .conn()
            .query_opt("SELECT id, status FROM runs WHERE uid = $1", &[&uid])?;
        row.map(|r| Ok((r.get(0), word(r.get(1), RunStatus::parse)?)))
            .transpose()
    }

    fn run_status(&self, id: i64) -> Result<RunStatus> {
        let row = self
            .conn()
            .query_opt("SELECT status FROM runs WHERE id = $1", &[&id])?
            .ok_or_else(|| Error::not_found(format!("no run {id}")))?;
        word(row.get(0), RunStatus::parse)
    }

    fn run_times(&self, id: i64) -> Result<RunTimes> {
        let run = self.run(id)?;
        let rows = self.conn().query(
            "SELECT at, data::json->>'status' FROM events
             WHERE run_id = $1 AND type IN ('run_status', 'run_cancelled') ORDER BY seq",
            &[&id],
        )?;
        let statuses: Vec<(Millis, RunStatus)> = rows
            .iter()
            .map(|r| {
                // `run_cancelled` carries no status word: it ends the run.
                let status = r
                    .get::<_, Option<&str>>(1)
                    .and_then(RunStatus::parse)
                    .unwrap_or(RunStatus::Cancelled);
                (r.get(0), status)
            })
            .collect();
        let end = run.finished_at.unwrap_or_else(|| self.now());
        Ok(RunTimes::of(run.created_at, &statuses, end))
    }

    fn steps(&self, run: i64) -> Result<Vec<StepRecord>> {
        let rows = self.conn().query(
            "SELECT step_id, idx, kind, status, attempts, output, error, started_at, finished_at,
               throttled_until, throttled_by, held, wake_at
             FROM steps WHERE run_id = $1 ORDER BY idx",
            &[&run],
        )?;
        rows.iter().map(step_row).collect()
    }

    fn events(&self, run: i64) -> Result<Vec<EventRecord>> {
        let rows = self.conn().query(
            "SELECT seq, run_id, at, data FROM events WHERE run_id = $1 ORDER BY seq",
            &[&run],
        )?;
        rows.iter()
            .map(|r| {
                Ok(EventRecord {
                    seq: r.get(0),
                    run_id: r.get(1),
                    at: r.get(2),
                    event: serde_json::from_str(r.get(3))?,
                })
            })
            .collect()
    }
}

/// Withdraw run `run`'s pending items in the transaction that ends it.
pub(super) fn withdraw_pending(
    tx: &mut postgres::Transaction<'_>,
    run: i64,
    reason: &str,
    at: Millis,
) -> Result<()> {
    withdraw_pending_but(tx, run, reason, at, None)
}

/// [`withdraw_pending`], keeping item `keep` (a failure item recorded again).
pub(super) fn withdraw_pending_but(
    tx: &mut postgres::Transaction<'_>,
    run: i64,
    reason: &str,
    at: Millis,
    keep: Option<i64>,
) -> Result<()> {
    let pending: Vec<(i64, String)> = tx
        .query(
            "SELECT id, step_id FROM proposals WHERE run_id = $1 AND status = 'pending' ORDER BY id",
            &[&run],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
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
        apply(tx, run, &ev, at)?;
    }
    Ok(())
}

impl InboxStore for PgJournal {
    fn create_proposal(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
    ) -> Result<Option<i64>> {
        self.create_proposal_with(run_id, step, attempt, kind, summary, action, evidence, None)
    }

    fn create_proposal_with(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
        deadline: Option<(Millis, String)>,
    ) -> Result<Option<i64>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The run's row lock: a run cancelled by another process gets no new items,
        // and two creators of the same item take turns (the second finds the first's).
        let status = lock_run(&mut tx, run_id)?;
        if status.as_deref() == Some("cancelled") {
            return Ok(None);
        }
        let existing: Option<i64> = tx
            .query_opt(
                "SELECT id FROM proposals WHERE run_id = $1 AND step_id = $2 AND attempt = $3 AND kind = $4",
                &[&run_id, &step, &i64::from(attempt), &kind.as_str()],
            )?
            .map(|r| r.get(0));
        if let Some(id) = existing {
            return Ok(Some(id));
        }
        let id: i64 = tx.query_one("SELECT nextval('inbox_ids')", &[])?.get(0);
        let ev = Event::ProposalCreated {
            proposal: id,
            step: step.to_string(),
            attempt,
            kind,
            summary,
            action,
            evidence,
        };
        append(&mut tx, run_id, &ev, at)?;
        apply(&mut tx, run_id, &ev, at)?;
        if let Some((due_at, on_timeout)) = deadline {
            let ev = Event::DeadlineSet {
                proposal: id,
                step: step.to_string(),
                due_at,
                on_timeout,
            };
            append(&mut tx, run_id, &ev, at)?;
            apply(&mut tx, run_id, &ev, at)?;
        }
        tx.commit()?;
        Ok(Some(id))
    }

    fn decide(&mut self, proposal: i64, decide: DecisionInput) -> Result<ProposalRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The item's row, locked: of two deciders, the second reads the first's
        // decision once it commits.
        let p = proposal_in(&mut *tx, proposal, true)?;
        if matches!(
            p.status,
            ProposalStatus::Approved | ProposalStatus::Rejected
        ) {
            let when = p
                .decided_at
                .map(crate::clock::format_ms)
                .unwrap_or_default();
            let who = p.decided_by.clone().unwrap_or_else(|| "someone".into());
            return Err(Error::conflict(format!(
                "inbox item {} was already decided: {} by {who} at {when}",
                p.id,
                p.decision.map(|d| d.as_str()).unwrap_or(p.status.as_str()),
            ))
            .with_hint(format!("see what happened with: aios log {}", p.run_id)));
        }
        let open_run = if p.kind == ProposalKind::Failure {
            p.run_status == RunStatus::Failed
        } else {
            !p.run_status.is_terminal()
        };
        if p.status != ProposalStatus::Pending || !open_run {
            return Err(not_decidable(&p));
        }
        let ev = Event::ProposalDecided {
            proposal,
            step: p.step_id.clone(),
            decision: decide.decision,
            reason: decide.reason,
            fields: decide.fields,
            edited: decide.edited,
            diff: decide.diff,
            by: decide.by,
        };
        append(&mut tx, p.run_id, &ev, at)?;
        apply(&mut tx, p.run_id, &ev, at)?;
        let p = proposal_in(&mut *tx, proposal, false)?;
        Self::demote_on_decision(&mut tx, &p, at)?;
        tx.commit()?;
        Ok(p)
    }

    fn proposal(&self, id: i64) -> Result<ProposalRecord> {
        proposal_in(&mut *self.conn(), id, false)
    }

    fn inbox(&self, all: bool) -> Result<Vec<ProposalRecord>> {
        let mut items = if all {
            self.proposals_where("", &[])?
        } else {
            self.proposals_where("WHERE p.status = 'pending'", &[])?
        };
        // Notices (about schedules, not runs) are inbox items too.
        let notices = super::notices::notices(&mut *self.conn(), all)?;
        items.extend(notices.iter().map(|n| n.as_proposal()));
        items.sort_by_key(|p| p.id);
        Ok(items)
    }

    fn run_proposals(&self, run: i64) -> Result<Vec<ProposalRecord>> {
        self.proposals_where("WHERE p.run_id = $1", &[&run])
    }
}

/// A new run inside `tx`: its workflow's source (once per text), an id from the
/// database, its `RunCreated` event and what that event projects.
pub(super) fn insert_run(
    tx: &mut postgres::Transaction<'_>,
    source: &str,
    created: &Event,
    at: Millis,
) -> Result<i64> {
    if let Event::RunCreated { source_hash, .. } = created {
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[source_hash, &source],
        )?;
    }
    let id: i64 = tx.query_one("SELECT nextval('run_ids')", &[])?.get(0);
    append(tx, id, created, at)?;
    apply(tx, id, created, at)?;
    Ok(id)
}

/// Lock run `run`'s row for the rest of `tx` (every write to a run takes it, so a run
/// another process cancelled gets no more writes) and read its status; `None`: no
/// such run.
pub(super) fn lock_run(tx: &mut postgres::Transaction<'_>, run: i64) -> Result<Option<String>> {
    Ok(tx
        .query_opt("SELECT status FROM runs WHERE id = $1 FOR UPDATE", &[&run])?
        .map(|r| r.get(0)))
}
