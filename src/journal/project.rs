//! Projections: how each event changes `runs`, `steps` and `proposals`.
//!
//! `apply` is the only writer of projection rows, used both when an event is appended
//! and when `aios replay` rebuilds the projections from the log.

use rusqlite::{Transaction, params};

use super::types::*;
use crate::clock::Millis;
use crate::error::Result;

pub(super) fn apply(tx: &Transaction<'_>, run: i64, ev: &Event, at: Millis) -> Result<()> {
    match ev {
        Event::RunCreated {
            uid,
            workflow,
            path,
            dir,
            source_hash,
            inputs,
            steps,
            dry,
        } => {
            tx.execute(
                "INSERT INTO runs (id, uid, workflow, path, dir, source_hash, inputs, status, created_at, updated_at, dry)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?8, ?8, ?9)",
                params![run, uid, workflow, path, dir, source_hash, inputs.to_string(), at, dry.map(|d| d.as_str())],
            )?;
            let mut stmt = tx.prepare_cached(
                "INSERT INTO steps (run_id, step_id, idx, kind, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
            )?;
            for (i, s) in steps.iter().enumerate() {
                stmt.execute(params![run, s.id, i as i64, s.kind])?;
            }
        }
        Event::RunStatus { status, error } => {
            let finished = status.is_terminal().then_some(at);
            tx.prepare_cached(
                "UPDATE runs SET status = ?2, error = ?3, updated_at = ?4, finished_at = ?5 WHERE id = ?1",
            )?
            .execute(params![run, status.as_str(), error, at, finished])?;
        }
        Event::RunCancelled { reason } => {
            tx.execute(
                "UPDATE runs SET status = 'cancelled', error = ?2, updated_at = ?3, finished_at = ?3 WHERE id = ?1",
                params![run, reason, at],
            )?;
            tx.execute(
                "UPDATE proposals SET status = 'cancelled' WHERE run_id = ?1 AND status = 'pending'",
                params![run],
            )?;
        }
        Event::StepStarted { step, attempt } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'running', attempts = ?3, error = NULL, started_at = ?4, finished_at = NULL,
                   throttled_until = NULL, throttled_by = NULL, held = NULL WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, attempt, at],
            )?;
        }
        Event::StepSucceeded {
            step,
            attempt,
            output,
        } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'succeeded', attempts = max(attempts, ?3), output = ?4, error = NULL,
                   started_at = coalesce(started_at, ?5), finished_at = ?5, throttled_until = NULL, throttled_by = NULL, held = NULL
                 WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, attempt, output.to_string(), at],
            )?;
        }
        Event::StepFailed {
            step,
            attempt,
            error,
            retry_at,
            ..
        } => {
            let status = if retry_at.is_some() {
                "pending"
            } else {
                "failed"
            };
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = ?3, attempts = max(attempts, ?4), error = ?5, finished_at = ?6,
                   throttled_until = NULL, throttled_by = NULL, held = NULL WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, status, attempt, error, at],
            )?;
        }
        Event::StepSkipped { step, reason } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'skipped', error = ?3, finished_at = ?4, throttled_until = NULL, throttled_by = NULL, held = NULL
                 WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, reason, at],
            )?;
        }
        Event::StepReset { step, .. } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'pending', finished_at = NULL, throttled_until = NULL, throttled_by = NULL, held = NULL
                 WHERE run_id = ?1 AND step_id = ?2",
                params![run, step],
            )?;
        }
        Event::ProposalCreated {
            proposal,
            step,
            attempt,
            kind,
            summary,
            action,
            evidence,
        } => {
            tx.prepare_cached(
                "INSERT INTO proposals (id, run_id, step_id, attempt, kind, status, summary, action, evidence, created_at, offline)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                proposal,
                run,
                step,
                attempt,
                kind.as_str(),
                summary,
                action.to_string(),
                evidence.to_string(),
                at,
                // Beside the evidence, for the list (see migration 0020).
                super::Evidence::of(evidence).offline_draft().then_some(1),
            ])?;
            let status = match kind {
                ProposalKind::Attention => "needs_attention",
                // The step of a failure item stays failed: the item is about the run.
                ProposalKind::Failure => return Ok(()),
                _ => "waiting",
            };
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = ?3, attempts = max(attempts, ?4), held = NULL WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, status, attempt],
            )?;
        }
        Event::ProposalDecided {
            proposal,
            decision,
            reason,
            fields,
            edited,
            diff,
            by,
            ..
        } => {
            let status = match decision {
                Decision::Approve | Decision::Done => "approved",
                Decision::Reject => "rejected",
            };
            tx.prepare_cached(
                "UPDATE proposals SET status = ?2, decision = ?3, reason = ?4, fields = ?5, edited = ?6, diff = ?7,
                   decided_by = ?8, decided_at = ?9 WHERE id = ?1",
            )?
            .execute(params![
                proposal,
                status,
                decision.as_str(),
                reason,
                fields.as_ref().map(|f| f.to_string()),
                edited.as_ref().map(|e| e.to_string()),
                diff,
                by,
                at
            ])?;
            super::memory::index_decision(tx, run, *proposal, *decision, reason, diff, at)?;
        }
        Event::LlmCall(c) => {
            tx.prepare_cached(
                "INSERT INTO llm_calls (run_id, step_id, attempt, alias, provider, model, request, response, error,
                   tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at, finish_reason, failure, persona)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?
            .execute(params![
                // Run 0: a call of no run (`aios llm prompt`).
                (run != 0).then_some(run),
                c.step,
                c.attempt,
                c.alias,
                c.provider,
                c.model,
                c.request.to_string(),
                c.response,
                c.error,
                c.tokens_in as i64,
                c.tokens_out as i64,
                c.cost_usd,
                c.latency_ms as i64,
                c.http_attempts,
                c.heuristic,
                at,
                c.finish_reason,
                c.failure,
                c.persona,
            ])?;
            // The call went: its step no longer waits for a turn.
            tx.prepare_cached(
                "UPDATE steps SET throttled_until = NULL, throttled_by = NULL
                 WHERE run_id = ?1 AND step_id = ?2 AND throttled_until IS NOT NULL",
            )?
            .execute(params![run, c.step])?;
        }
        Event::TimerSet {
            step,
            attempt,
            due_at,
        } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'waiting', attempts = max(attempts, ?3), wake_at = ?4,
                   started_at = coalesce(started_at, ?5) WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, attempt, due_at, at],
            )?;
        }
        Event::StepHeld {
            step,
            attempt,
            target,
            until,
            reason,
        } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET status = 'waiting', attempts = max(attempts, ?3), wake_at = ?4, held = ?5,
                   error = ?6 WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, attempt, until, target, reason],
            )?;
        }
        Event::DeadlineSet {
            proposal,
            due_at,
            on_timeout,
            ..
        } => {
            tx.prepare_cached("UPDATE proposals SET deadline = ?2, on_timeout = ?3 WHERE id = ?1")?
                .execute(params![proposal, due_at, on_timeout])?;
        }
        Event::ProposalWithdrawn {
            proposal, reason, ..
        } => {
            tx.prepare_cached(
                "UPDATE proposals SET status = 'withdrawn', reason = ?2 WHERE id = ?1",
            )?
            .execute(params![proposal, reason])?;
        }
        Event::ProposalReopened { proposal, .. } => {
            tx.prepare_cached(
                "UPDATE proposals SET status = 'pending', reason = NULL WHERE id = ?1",
            )?
            .execute(params![proposal])?;
        }
        Event::ProposalReminded {
            proposal,
            reminder,
            next_due,
            ..
        } => {
            tx.prepare_cached("UPDATE proposals SET deadline = ?2, reminders = ?3 WHERE id = ?1")?
                .execute(params![proposal, next_due, reminder])?;
        }
        Event::WorkflowChanged {
            source_hash,
            path,
            dir,
            steps,
            inputs_added,
            ..
        } => workflow_changed(tx, run, source_hash, path, dir, steps, inputs_added)?,
        Event::StepThrottled {
            step,
            target,
            rate,
            until,
            ..
        } => {
            step_update(
                tx,
                run,
                step,
                "UPDATE steps SET throttled_until = ?3, throttled_by = ?4 WHERE run_id = ?1 AND step_id = ?2",
                params![run, step, until, format!("{target} {rate}")],
            )?;
        }
        // Shown in the timeline; nothing to project.
        Event::StepWarned { .. } => {}
        Event::FactSet { .. }
        | Event::FactRecorded { .. }
        | Event::FactUnset { .. }
        | Event::NoteAdded { .. }
        | Event::NoteForgotten { .. }
        | Event::OutcomeRecorded { .. } => super::memory::apply(tx, run, ev, at)?,
        // What a dry run would have done: in the log only.
        Event::StepRehearsed { .. } => {}
        // In the event log only: resume reads a tool loop from the events.
        Event::AgentTool { .. } => {}
        Event::NoticeRaised { .. } | Event::NoticeAcknowledged { .. } => {
            super::notices::apply(tx, ev, at)?;
        }
        Event::TrustChanged {
            workflow,
            step,
            level,
            by,
            reason,
        } => {
            tx.prepare_cached(
                // Its own event was appended just before: the latest seq is its.
                "INSERT INTO trust_marks (workflow, step, level, by, reason, run_id, seq, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT coalesce(max(seq), 0) FROM events), ?7)",
            )?
            .execute(params![workflow, step, level, by, reason, run, at])?;
        }
        Event::ProposalSnoozed {
            proposal,
            until,
            by,
            ..
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO proposal_snoozes (proposal, run_id, until, by, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![proposal, run, until, by, at])?;
        }
        Event::ProposalUnsnoozed { proposal, .. } => {
            tx.prepare_cached("DELETE FROM proposal_snoozes WHERE proposal = ?1")?
                .execute(params![proposal])?;
        }
    }
    if !matches!(ev, Event::RunCreated { .. }) {
        tx.prepare_cached("UPDATE runs SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![run, at])?;
    }
    Ok(())
}

/// A run continues on a new definition: the run points at the new source; the
/// step rows follow the new list (kept rows get their new position and kind, new
/// steps are pending, rows of steps not in it go); added inputs join the run's.
fn workflow_changed(
    tx: &Transaction<'_>,
    run: i64,
    source_hash: &str,
    path: &Option<String>,
    dir: &str,
    steps: &[StepDecl],
    inputs_added: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    tx.prepare_cached("UPDATE runs SET source_hash = ?2, path = ?3, dir = ?4 WHERE id = ?1")?
        .execute(params![run, source_hash, path, dir])?;
    if !inputs_added.is_empty() {
        let current: String = tx
            .prepare_cached("SELECT inputs FROM runs WHERE id = ?1")?
            .query_row(params![run], |r| r.get(0))?;
        let mut inputs: serde_json::Value =
            serde_json::from_str(&current).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = inputs.as_object_mut() {
            for (k, v) in inputs_added {
                obj.insert(k.clone(), v.clone());
            }
        }
        tx.prepare_cached("UPDATE runs SET inputs = ?2 WHERE id = ?1")?
            .execute(params![run, inputs.to_string()])?;
    }
    let existing: Vec<String> = tx
        .prepare_cached("SELECT step_id FROM steps WHERE run_id = ?1")?
        .query_map(params![run], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &existing {
        if !steps.iter().any(|s| &s.id == id) {
            tx.prepare_cached("DELETE FROM steps WHERE run_id = ?1 AND step_id = ?2")?
                .execute(params![run, id])?;
        }
    }
    for (i, s) in steps.iter().enumerate() {
        if existing.contains(&s.id) {
            tx.prepare_cached(
                "UPDATE steps SET idx = ?3, kind = ?4 WHERE run_id = ?1 AND step_id = ?2",
            )?
            .execute(params![run, s.id, i as i64, s.kind])?;
        } else {
            tx.prepare_cached(
                "INSERT INTO steps (run_id, step_id, idx, kind, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
            )?
            .execute(params![run, s.id, i as i64, s.kind])?;
        }
    }
    Ok(())
}

fn step_update(
    tx: &Transaction<'_>,
    run: i64,
    step: &str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<()> {
    let n = tx.prepare_cached(sql)?.execute(params)?;
    if n == 0 {
        return Err(crate::error::Error::storage(format!(
            "run {run} has no step `{step}` in the journal"
        )));
    }
    Ok(())
}
