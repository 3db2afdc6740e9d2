//! Projections on PostgreSQL: how each event changes `runs`, `steps`, `proposals`,
//! `proposal_snoozes`, `trust_marks`, `llm_calls` and `notices` — the SQL of `journal::project`, in
//! PostgreSQL's dialect (held steps and workflow changes too; memory's tables:
//! `pg::memory::project`).
//! back, nothing is half-written and nothing is silently dropped.

use postgres::Transaction;
use postgres::types::ToSql;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::types::*;

/// Append `ev` to the log; returns its sequence number (allocated by the database).
pub(super) fn append(tx: &mut Transaction<'_>, run: i64, ev: &Event, at: Millis) -> Result<i64> {
    let data = serde_json::to_string(ev)?;
    let row = tx.query_one(
        "INSERT INTO events (run_id, step_id, type, data, at) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        &[&run, &ev.step(), &ev.type_name(), &data, &at],
    )?;
    Ok(row.get(0))
}

fn step_update(
    tx: &mut Transaction<'_>,
    run: i64,
    step: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<()> {
    if tx.execute(sql, params)? == 0 {
        return Err(Error::storage(format!(
            "run {run} has no step `{step}` in the journal"
        )));
    }
    Ok(())
}

pub(super) fn apply(tx: &mut Transaction<'_>, run: i64, ev: &Event, at: Millis) -> Result<()> {
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $8, $9)",
                &[&run, uid, workflow, path, dir, source_hash, &inputs.to_string(), &at, &dry.map(|d| d.as_str())],
            )?;
            let stmt = tx.prepare(
                "INSERT INTO steps (run_id, step_id, idx, kind, status) VALUES ($1, $2, $3, $4, 'pending')",
            )?;
            for (i, s) in steps.iter().enumerate() {
                tx.execute(&stmt, &[&run, &s.id, &(i as i64), &s.kind])?;
            }
        }
        Event::RunStatus { status, error } => {
            let finished = status.is_terminal().then_some(at);
            tx.execute(
                "UPDATE runs SET status = $2, error = $3, updated_at = $4, finished_at = $5 WHERE id = $1",
                &[&run, &status.as_str(), error, &at, &finished],
            )?;
        }
        Event::RunCancelled { reason } => {
            tx.execute(
                "UPDATE runs SET status = 'cancelled', error = $2, updated_at = $3, finished_at = $3 WHERE id = $1",
                &[&run, reason, &at],
            )?;
            tx.execute(
                "UPDATE proposals SET status = 'cancelled' WHERE run_id = $1 AND status = 'pending'",
                &[&run],
            )?;
        }
        Event::StepStarted { step, attempt } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'running', attempts = $3, error = NULL, started_at = $4, finished_at = NULL,
               throttled_until = NULL, throttled_by = NULL, held = NULL WHERE run_id = $1 AND step_id = $2",
            &[&run, step, &i64::from(*attempt), &at],
        )?,
        Event::StepSucceeded {
            step,
            attempt,
            output,
        } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'succeeded', attempts = greatest(attempts, $3), output = $4, error = NULL,
               started_at = coalesce(started_at, $5), finished_at = $5, throttled_until = NULL, throttled_by = NULL, held = NULL
             WHERE run_id = $1 AND step_id = $2",
            &[&run, step, &i64::from(*attempt), &output.to_string(), &at],
        )?,
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
                "UPDATE steps SET status = $3, attempts = greatest(attempts, $4), error = $5, finished_at = $6,
                   throttled_until = NULL, throttled_by = NULL, held = NULL WHERE run_id = $1 AND step_id = $2",
                &[&run, step, &status, &i64::from(*attempt), error, &at],
            )?;
        }
        Event::StepSkipped { step, reason } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'skipped', error = $3, finished_at = $4, throttled_until = NULL, throttled_by = NULL, held = NULL
             WHERE run_id = $1 AND step_id = $2",
            &[&run, step, reason, &at],
        )?,
        Event::StepReset { step, .. } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'pending', finished_at = NULL, throttled_until = NULL, throttled_by = NULL, held = NULL
             WHERE run_id = $1 AND step_id = $2",
            &[&run, step],
        )?,
        Event::ProposalCreated {
            proposal,
            step,
            attempt,
            kind,
            summary,
            action,
            evidence,
        } => {
            tx.execute(
                "INSERT INTO proposals (id, run_id, step_id, attempt, kind, status, summary, action, evidence, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)",
                &[
                    proposal,
                    &run,
                    step,
                    &i64::from(*attempt),
                    &kind.as_str(),
                    summary,
                    &action.to_string(),
                    &evidence.to_string(),
                    &at,
                ],
            )?;
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
                "UPDATE steps SET status = $3, attempts = greatest(attempts, $4), held = NULL WHERE run_id = $1 AND step_id = $2",
                &[&run, step, &status, &i64::from(*attempt)],
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
            tx.execute(
                "UPDATE proposals SET status = $2, decision = $3, reason = $4, fields = $5, edited = $6, diff = $7,
                   decided_by = $8, decided_at = $9 WHERE id = $1",
                &[
                    proposal,
                    &status,
                    &decision.as_str(),
                    reason,
                    &fields.as_ref().map(|f| f.to_string()),
                    &edited.as_ref().map(|e| e.to_string()),
                    diff,
                    by,
                    &at,
                ],
            )?;
            // Decisions are searchable memory, indexed in their own transaction.
            super::memory::index_decision(tx, run, *proposal, *decision, reason, diff, at)?;
        }
        Event::LlmCall(c) => {
            tx.execute(
                "INSERT INTO llm_calls (run_id, step_id, attempt, alias, provider, model, request, response, error,
                   tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at, finish_reason, failure, persona)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                &[
                    // Run 0: a call of no run (`aios llm prompt`).
                    &(run != 0).then_some(run),
                    &c.step,
                    &i64::from(c.attempt),
                    &c.alias,
                    &c.provider,
                    &c.model,
                    &c.request.to_string(),
                    &c.response,
                    &c.error,
                    &(c.tokens_in as i64),
                    &(c.tokens_out as i64),
                    &c.cost_usd,
                    &(c.latency_ms as i64),
                    &i64::from(c.http_attempts),
                    &c.heuristic,
                    &at,
                    &c.finish_reason,
                    &c.failure,
                    &c.persona,
                ],
            )?;
            // The call went: its step no longer waits for a turn.
            tx.execute(
                "UPDATE steps SET throttled_until = NULL, throttled_by = NULL
                 WHERE run_id = $1 AND step_id = $2 AND throttled_until IS NOT NULL",
                &[&run, &c.step],
            )?;
        }
        Event::TimerSet {
            step,
            attempt,
            due_at,
        } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'waiting', attempts = greatest(attempts, $3), wake_at = $4,
               started_at = coalesce(started_at, $5) WHERE run_id = $1 AND step_id = $2",
            &[&run, step, &i64::from(*attempt), due_at, &at],
        )?,
        Event::StepThrottled {
            step,
            target,
            rate,
            until,
            ..
        } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET throttled_until = $3, throttled_by = $4 WHERE run_id = $1 AND step_id = $2",
            &[&run, step, until, &format!("{target} {rate}")],
        )?,
        Event::StepHeld {
            step,
            attempt,
            target,
            until,
            reason,
        } => step_update(
            tx,
            run,
            step,
            "UPDATE steps SET status = 'waiting', attempts = greatest(attempts, $3), wake_at = $4, held = $5,
               error = $6 WHERE run_id = $1 AND step_id = $2",
            &[&run, step, &i64::from(*attempt), until, target, reason],
        )?,
        Event::DeadlineSet {
            proposal,
            due_at,
            on_timeout,
            ..
        } => {
            tx.execute(
                "UPDATE proposals SET deadline = $2, on_timeout = $3 WHERE id = $1",
                &[proposal, due_at, on_timeout],
            )?;
        }
        Event::ProposalWithdrawn {
            proposal, reason, ..
        } => {
            tx.execute(
                "UPDATE proposals SET status = 'withdrawn', reason = $2 WHERE id = $1",
                &[proposal, reason],
            )?;
        }
        Event::ProposalReopened { proposal, .. } => {
            tx.execute(
                "UPDATE proposals SET status = 'pending', reason = NULL WHERE id = $1",
                &[proposal],
            )?;
        }
        Event::ProposalReminded {
            proposal,
            reminder,
            next_due,
            ..
        } => {
            tx.execute(
                "UPDATE proposals SET deadline = $2, reminders = $3 WHERE id = $1",
                &[proposal, next_due, &i64::from(*reminder)],
            )?;
        }
        Event::TrustChanged {
            workflow,
            step,
            level,
            by,
            reason,
        } => {
            tx.execute(
                // Its own event was appended just before, in this transaction.
                "INSERT INTO trust_marks (workflow, step, level, by, reason, run_id, seq, at)
                 VALUES ($1, $2, $3, $4, $5, $6, currval(pg_get_serial_sequence('events', 'seq')), $7)",
                &[workflow, step, level, by, reason, &run, &at],
            )?;
        }
        Event::ProposalSnoozed {
            proposal,
            until,
            by,
            ..
        } => {
            tx.execute(
                "INSERT INTO proposal_snoozes (proposal, run_id, until, by, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (proposal) DO UPDATE SET run_id = $2, until = $3, by = $4, at = $5",
                &[proposal, &run, until, by, &at],
            )?;
        }
        Event::ProposalUnsnoozed { proposal, .. } => {
            tx.execute(
                "DELETE FROM proposal_snoozes WHERE proposal = $1",
                &[proposal],
            )?;
        }
        Event::WorkflowChanged {
            source_hash,
            path,
            dir,
            steps,
            inputs_added,
            ..
        } => super::upkeep::workflow_changed(tx, run, source_hash, path, dir, steps, inputs_added)?,
        Event::NoticeRaised { .. } | Event::NoticeAcknowledged { .. } => {
            super::notices::project(tx, ev, at)?;
        }
        // In the log only.
        Event::StepWarned { .. } | Event::StepRehearsed { .. } | Event::AgentTool { .. } => {}
        Event::FactSet { .. }
        | Event::FactUnset { .. }
        | Event::FactRecorded { .. }
        | Event::NoteAdded { .. }
        | Event::NoteForgotten { .. }
        | Event::OutcomeRecorded { .. } => super::memory::project(tx, run, ev, at)?,
    }
    if matches!(ev, Event::RunCreated { .. }) {
        return Ok(());
    }
    touch(tx, run, at)
}

fn touch(tx: &mut Transaction<'_>, run: i64, at: Millis) -> Result<()> {
    tx.execute(
        "UPDATE runs SET updated_at = $2 WHERE id = $1",
        &[&run, &at],
    )?;
    Ok(())
}
