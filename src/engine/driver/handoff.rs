//! Handing a run to workers: a step whose `runs_on` (with its persona's) needs tags
//! the driver lacks is not started; nothing more starts, the steps in flight finish,
//! and the driver stops as a crash before the step would, leaving the run queued for
//! the workers with those tags ([`super::Driver::drive`] queues it and gives the lease
//! up in one transaction).

use super::{Driver, RunOutcome};
use crate::error::Result;
use crate::journal::RunStatus;
use crate::workflow::Workflow;

/// Why a driver handed its run to workers: the first step it did not start, and
/// the tags that step needs (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub step: String,
    pub tags: Vec<String>,
}

/// The tags a step needs of its driver: its own `runs_on` and its persona's
/// (sorted, no repeats).
pub fn required_tags(
    trust: &crate::trust::TrustSettings,
    wf: &Workflow,
    step: &crate::workflow::Step,
) -> Vec<String> {
    let mut tags = step.runs_on.clone();
    if let Ok(p) = trust.persona_of(wf, step) {
        tags.extend(p.runs_on.iter().cloned());
    }
    crate::journal::tag_set(&tags)
}

impl Driver<'_> {
    /// Whether `step` may not start on this driver: it (with its persona) needs tags
    /// the driver lacks, or the run is being handed on already. The first such step
    /// sets the hand-off.
    pub(super) fn held_for_workers(&mut self, step: usize) -> bool {
        if self.handoff.is_some() {
            return true;
        }
        if self.dry() {
            return false;
        }
        let need = required_tags(&self.env.trust, &self.wf, &self.wf.steps[step]);
        if crate::journal::tags_cover(&self.env.tags, &need) {
            return false;
        }
        self.handoff = Some(Handoff {
            step: self.wf.steps[step].id.clone(),
            tags: need,
        });
        true
    }

    /// Stop driving: the run goes to the workers ([`Driver::drive`] queues it).
    pub(super) fn hand_on(&mut self) -> Result<RunOutcome> {
        self.flush()?;
        if self.journal.run_status(self.run.id)? == RunStatus::Cancelled {
            return Ok(self.cancelled());
        }
        Ok(RunOutcome {
            run_id: self.run.id,
            status: RunStatus::Running,
            error: None,
            handoff: self.handoff.clone(),
        })
    }
}
