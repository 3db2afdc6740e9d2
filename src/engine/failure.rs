//! A failed run and its failure item, on the engine's side: a run the item closed
//! (abandoned, or compensated) is not resumed; a retry or skip decided on it is
//! applied before the run is driven again (a resume by hand withdraws it); and a
//! workflow with `on_failure = "compensate"` has its compensations proposed at once
//! (a saga, see [`super::compensate`]).

use super::{Observer, RunEnv, compensate, snapshot};
use crate::error::{Error, Result};
use crate::journal::{Event, FailureChoice, Journal, ProposalKind, ProposalStatus, StepStatus};
use crate::workflow;

/// Why a failed run may not be resumed: its latest failure item abandoned it, or
/// chose to compensate it (either closes it).
pub(super) fn closed_by(journal: &Journal, run_id: i64) -> Result<Option<Error>> {
    let items = journal.run_proposals(run_id)?;
    let Some(p) = items.iter().rev().find(|p| p.kind == ProposalKind::Failure) else {
        return Ok(None);
    };
    let why = match (p.status, FailureChoice::of(p.fields.as_ref())) {
        (ProposalStatus::Rejected, _) => format!(
            "run {run_id} was abandoned at its failure item {} ({})",
            p.id,
            p.reason.as_deref().unwrap_or("no reason given")
        ),
        (ProposalStatus::Approved, FailureChoice::Compensate) => format!(
            "run {run_id} was closed at its failure item {}: its compensation was chosen",
            p.id
        ),
        _ => return Ok(None),
    };
    Ok(Some(
        Error::conflict(format!("{why}; it cannot be resumed")).with_hint(format!(
            "see it with: aios show {run_id}; start a new run of the workflow to do it again"
        )),
    ))
}

/// Before a failed run is driven again: apply its failure item's decision (skip
/// the failed step when the operator chose to), or withdraw the item when the run
/// is resumed by hand. Returns the events journaled.
pub(super) fn settle_failure(journal: &mut Journal, run_id: i64) -> Result<Vec<Event>> {
    let items = journal.run_proposals(run_id)?;
    let Some(p) = items.iter().rev().find(|p| p.kind == ProposalKind::Failure) else {
        return Ok(Vec::new());
    };
    match p.status {
        ProposalStatus::Pending => {
            journal.withdraw_failure(run_id, &format!("run {run_id} was resumed by hand"))
        }
        ProposalStatus::Approved if FailureChoice::of(p.fields.as_ref()) == FailureChoice::Skip => {
            let failed = journal
                .steps(run_id)?
                .into_iter()
                .any(|s| s.step_id == p.step_id && s.status == StepStatus::Failed);
            if !failed {
                return Ok(Vec::new());
            }
            let ev = Event::StepSkipped {
                step: p.step_id.clone(),
                reason: format!("skipped by the operator at failure item {}", p.id),
            };
            journal.commit(run_id, std::slice::from_ref(&ev))?;
            Ok(vec![ev])
        }
        _ => Ok(Vec::new()),
    }
}

/// A failed run of a workflow with `on_failure = "compensate"`: its failure item
/// is decided `compensate` at once and the compensations are proposed. A failure
/// with nothing to undo keeps its item for the operator.
pub(super) fn saga(
    journal: &mut Journal,
    run_id: i64,
    env: &RunEnv,
    observer: &mut dyn Observer,
) -> Result<()> {
    let wf = snapshot(journal, run_id)?;
    if wf.on_failure != workflow::OnFailure::Compensate {
        return Ok(());
    }
    let items = journal.run_proposals(run_id)?;
    let Some(p) = items
        .iter()
        .rev()
        .find(|p| p.kind == ProposalKind::Failure && p.status == ProposalStatus::Pending)
    else {
        return Ok(());
    };
    if !crate::journal::Failure::of(&p.action).compensable {
        return Ok(());
    }
    journal.decide(
        p.id,
        crate::journal::DecisionInput {
            decision: crate::journal::Decision::Approve,
            reason: Some("the workflow says on_failure = \"compensate\"".into()),
            fields: Some(serde_json::json!({ "failure": FailureChoice::Compensate.as_str() })),
            edited: None,
            diff: None,
            by: "aios (on_failure)".into(),
        },
    )?;
    let plan = compensate::plan(journal, run_id, &[], env)?;
    compensate::propose(journal, &plan, env, observer)?;
    Ok(())
}
