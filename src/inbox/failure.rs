//! Deciding a failure item (see [`crate::journal::Failure`]): a plain approval
//! retries, `skip=true` skips the failed step (only when it says `on_reject =
//! "skip"`), `compensate=true` closes the run and proposes its undo (only when a
//! committed step has one), a rejection abandons the run.

use super::{DecideRequest, choices, next};
use crate::error::{Error, Result};
use crate::journal::{Decision, DecisionInput, Journal, ProposalRecord};

/// A failure: retry (a plain approval), `skip=true` (only when the step may be
/// skipped), `compensate=true` (only when something the run did can be undone), or
/// a rejection (abandon the run). Recorded as `fields.failure = retry | skip |
/// compensate`.
pub(super) fn decide(
    journal: &mut Journal,
    p: &ProposalRecord,
    req: DecideRequest,
) -> Result<ProposalRecord> {
    let id = p.id;
    let f = crate::journal::Failure::of(&p.action);
    let skip = req.fields.iter().any(|(k, _)| k == choices::SKIP);
    let compensate = req.fields.iter().any(|(k, _)| k == choices::COMPENSATE);
    if req.decision == Decision::Done
        || req.edit.is_some()
        || req
            .fields
            .iter()
            .any(|(k, _)| k != choices::SKIP && k != choices::COMPENSATE)
        || (skip && compensate)
    {
        return Err(Error::invalid(format!(
            "item {id} is a failure: approve it to retry the step, with --skip to skip it, with --compensate to undo what the run did, or reject it to abandon the run"
        ))
        .with_hint(next(p)));
    }
    if req.decision == Decision::Reject && (skip || compensate) {
        return Err(
            Error::invalid("--skip and --compensate are ways to approve a failure")
                .with_hint(next(p)),
        );
    }
    if skip && !f.skippable {
        return Err(Error::invalid(format!(
            "step `{}` may not be skipped: the run goes on without a step only when it says on_reject = \"skip\"",
            f.step
        ))
        .with_hint(next(p)));
    }
    if compensate && !f.compensable {
        return Err(Error::invalid(format!(
            "run {} committed no step that declares an `undo`; there is nothing to compensate",
            p.run_id
        ))
        .with_hint(next(p)));
    }
    let choice = if skip {
        crate::journal::FailureChoice::Skip
    } else if compensate {
        crate::journal::FailureChoice::Compensate
    } else {
        crate::journal::FailureChoice::Retry
    };
    let fields = (req.decision == Decision::Approve)
        .then(|| serde_json::json!({ "failure": choice.as_str() }));
    journal.decide(
        id,
        DecisionInput {
            decision: req.decision,
            reason: req.reason,
            fields,
            edited: None,
            diff: None,
            by: req.by,
        },
    )
}
