//! Cancelling a run for good (`aios cancel RUN`, the TUI's runs view): the one function
//! both call, so the refusal, the journaled reason and the forgotten secret inputs are
//! the same wherever the operator cancels from.

use std::path::Path;

use crate::error::{Error, Result};
use crate::journal::{Event, Journal, RunRecord, RunStatus};

/// A run just cancelled.
#[derive(Debug, Clone)]
pub struct Cancelled {
    /// The run as it was before (its workflow, its lease).
    pub run: RunRecord,
    /// The process executing it now, if any: it stops at its next poll.
    pub executor: Option<String>,
}

/// Cancel `run_id` with an optional `reason` (kept in the journal). A finished run is
/// refused (conflict), but a failed run whose failure item waits is closed (the item
/// withdrawn). Its secret inputs, kept under `data_dir`, are forgotten.
pub fn cancel(
    journal: &mut Journal,
    run_id: i64,
    reason: Option<String>,
    data_dir: &Path,
) -> Result<Cancelled> {
    let run = journal.run(run_id)?;
    // A failed run whose failure item waits is still open: cancelling it closes it
    // (and withdraws the item).
    let awaits_choice = run.status == RunStatus::Failed
        && journal.run_proposals(run.id)?.iter().any(|p| {
            p.kind == crate::journal::ProposalKind::Failure
                && p.status == crate::journal::ProposalStatus::Pending
        });
    if run.status.is_terminal() && !awaits_choice {
        let was = match run.status {
            RunStatus::Cancelled => "was already cancelled",
            RunStatus::Failed => "already failed",
            _ => "already succeeded",
        };
        return Err(
            Error::conflict(format!("run {} {was}; there is nothing to cancel", run.id))
                .with_hint(format!("see it with: aios show {}", run.id)),
        );
    }
    journal.commit(run.id, &[Event::RunCancelled { reason }])?;
    // A cancelled run never goes on: its secret inputs are forgotten.
    crate::secrets::Store::new(data_dir).remove_run(&run.uid)?;
    let executor = match (&run.lease_owner, run.lease_expires) {
        (Some(owner), Some(exp)) if exp > journal.now() => Some(owner.clone()),
        _ => None,
    };
    Ok(Cancelled { run, executor })
}

/// A run's inputs as the operator may see them: `(name, value)` with a secret input
/// (whose value never enters the journal) shown as `secret`.
pub fn shown_inputs(inputs: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = inputs.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let placeholder = crate::secrets::placeholder_of(&format!("inputs.{k}"));
            let shown = if v.as_str() == Some(placeholder.as_str()) {
                "secret".to_string()
            } else {
                v.to_string()
            };
            (k.clone(), shown)
        })
        .collect()
}
