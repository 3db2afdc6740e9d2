//! The run state machine. Pure: no IO, no clock, no environment.
//!
//! It decides which steps to prepare, propose, execute, retry, skip or fail, given
//! what the driver reports back. `handle(input) -> Vec<Effect>`; the driver performs
//! the effects and feeds their results back as new inputs.

use std::time::Duration;

use crate::workflow::{Approve, OnReject, Retry};

/// What the machine needs to know about a step (derived from the workflow).
#[derive(Debug, Clone)]
pub struct StepPlan {
    pub needs: Vec<usize>,
    /// The rendered action must be approved by the operator before it runs.
    pub approval: bool,
    pub on_reject: OnReject,
    pub retry: Retry,
}

impl StepPlan {
    pub fn from_workflow(wf: &crate::workflow::Workflow) -> Vec<StepPlan> {
        wf.steps
            .iter()
            .map(|s| StepPlan {
                needs: s.needs.clone(),
                approval: s.approve == Approve::Always,
                on_reject: s.on_reject,
                retry: s.retry,
            })
            .collect()
    }
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started: waiting for its needs or a free slot.
    Pending,
    /// `Prepare` was emitted; waiting for the rendered result.
    Preparing,
    /// A proposal is in the inbox; waiting for the operator.
    Proposed,
    /// `Execute` was emitted for this attempt.
    Running,
    /// A failed attempt; the next one is scheduled.
    RetryWait,
    /// The outcome of an interrupted side effect is unknown; the operator decides.
    NeedsAttention,
    Succeeded,
    Failed,
    Skipped,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed | Phase::Skipped)
    }

    fn is_done_ok(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Skipped)
    }
}

/// A step's state inside the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepState {
    pub phase: Phase,
    /// The attempt in progress or last made (0 = never tried).
    pub attempt: u32,
    /// Attempts made since the action was last rendered (retries count here).
    pub tries: u32,
}

impl StepState {
    pub fn new(phase: Phase, attempt: u32) -> StepState {
        StepState {
            phase,
            attempt,
            tries: 0,
        }
    }
}

/// What happened to a prepared step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// Rendered; ready to propose or execute.
    Ready,
    /// Its `when` condition was false.
    Skip,
    /// Rendering failed (a template error): not retried.
    Fail,
}

/// The operator's decision, as the machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Commit the proposed action (or, for attention items, retry it).
    Approve,
    /// Reject: the step fails or is skipped according to `on_reject`.
    Reject,
    /// Attention items: the side effect happened; the step succeeded.
    Done,
    /// Attention items: fail the step.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Prepared {
        step: usize,
        outcome: Prepared,
    },
    /// The driver stored the proposal.
    Proposed {
        step: usize,
    },
    Decided {
        step: usize,
        decision: Decided,
    },
    /// An attempt ended. `retryable` is false for errors a retry cannot fix.
    Finished {
        step: usize,
        ok: bool,
        retryable: bool,
    },
    /// A scheduled retry is due.
    RetryDue {
        step: usize,
    },
    /// The step's outcome is unknown after a crash and it is not idempotent.
    Interrupted {
        step: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Evaluate `when` and render the action for `attempt`.
    Prepare { step: usize, attempt: u32 },
    /// Store the rendered action as a proposal for the operator.
    Propose { step: usize, attempt: u32 },
    /// Perform the rendered (or approved) action.
    Execute { step: usize, attempt: u32 },
    /// The attempt failed and another is due after `delay`.
    ScheduleRetry {
        step: usize,
        next_attempt: u32,
        delay: Duration,
    },
    /// The step failed for good.
    Fail { step: usize },
    /// The step is skipped (condition false, or rejected with `on_reject = "skip"`).
    Skip { step: usize, rejected: bool },
    /// Put an attention item in the inbox for an interrupted step.
    AskAttention { step: usize, attempt: u32 },
    /// The operator marked an interrupted step done.
    MarkDone { step: usize },
}

/// Where the run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Work is in flight or can start.
    Active,
    /// Nothing can move until the operator decides.
    Waiting,
    Succeeded,
    Failed,
}

/// The state machine of one run.
#[derive(Debug, Clone)]
pub struct Machine {
    plan: Vec<StepPlan>,
    steps: Vec<StepState>,
    max_parallel: usize,
    /// A step failed: start nothing new.
    halted: bool,
    /// Start nothing new (commit decided steps only, then stop).
    paused: bool,
}

impl Machine {
    /// A machine for a fresh run.
    pub fn new(plan: Vec<StepPlan>, max_parallel: usize) -> Machine {
        let steps = vec![StepState::new(Phase::Pending, 0); plan.len()];
        Machine::restore(plan, steps, max_parallel)
    }

    /// A machine resumed from recorded step states.
    pub fn restore(plan: Vec<StepPlan>, steps: Vec<StepState>, max_parallel: usize) -> Machine {
        let halted = steps.iter().any(|s| s.phase == Phase::Failed);
        Machine {
            plan,
            steps,
            max_parallel: max_parallel.max(1),
            halted,
            paused: false,
        }
    }

    /// Start no new step from now on; decided and running steps still finish.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn step(&self, i: usize) -> StepState {
        self.steps[i]
    }

    pub fn steps(&self) -> &[StepState] {
        &self.steps
    }

    /// Make a failed step pending again (resume of a failed run).
    pub fn reset_failed(&mut self) -> Vec<usize> {
        let mut reset = Vec::new();
        for (i, s) in self.steps.iter_mut().enumerate() {
            if s.phase == Phase::Failed {
                s.phase = Phase::Pending;
                s.tries = 0;
                reset.push(i);
            }
        }
        self.halted = false;
        reset
    }

    fn busy(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.phase, Phase::Preparing | Phase::Running))
            .count()
    }

    /// Start whatever can start now.
    pub fn schedule(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.halted || self.paused {
            return out;
        }
        let mut free = self.max_parallel.saturating_sub(self.busy());
        for i in 0..self.steps.len() {
            if free == 0 {
                break;
            }
            if self.steps[i].phase != Phase::Pending {
                continue;
            }
            let ready = self.plan[i]
                .needs
                .iter()
                .all(|&n| self.steps[n].phase.is_done_ok());
            if ready {
                let s = &mut self.steps[i];
                s.phase = Phase::Preparing;
                s.attempt += 1;
                s.tries = 1;
                out.push(Effect::Prepare {
                    step: i,
                    attempt: s.attempt,
                });
                free -= 1;
            }
        }
        out
    }

    /// Feed one input; returns the effects to perform (including newly startable steps).
    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::Prepared { step, outcome } => {
                if self.steps[step].phase != Phase::Preparing {
                    return out;
                }
                let attempt = self.steps[step].attempt;
                match outcome {
                    Prepared::Skip => {
                        self.steps[step].phase = Phase::Skipped;
                        out.push(Effect::Skip {
                            step,
                            rejected: false,
                        });
                    }
                    Prepared::Fail => self.fail(step, &mut out),
                    Prepared::Ready if self.plan[step].approval => {
                        out.push(Effect::Propose { step, attempt });
                    }
                    Prepared::Ready => {
                        self.steps[step].phase = Phase::Running;
                        out.push(Effect::Execute { step, attempt });
                    }
                }
            }
            Input::Proposed { step } => {
                if matches!(self.steps[step].phase, Phase::Preparing | Phase::Pending) {
                    self.steps[step].phase = Phase::Proposed;
                }
            }
            Input::Decided { step, decision } => {
                let phase = self.steps[step].phase;
                if !matches!(phase, Phase::Proposed | Phase::NeedsAttention) {
                    return out;
                }
                let attempt = self.steps[step].attempt;
                match decision {
                    Decided::Approve => {
                        if self.halted {
                            // The run is failing: keep the approval for a resume.
                            return out;
                        }
                        let s = &mut self.steps[step];
                        s.phase = Phase::Running;
                        if phase == Phase::NeedsAttention {
                            // A retry after an interruption is a new attempt.
                            s.attempt = attempt + 1;
                        }
                        s.tries = s.tries.max(1);
                        out.push(Effect::Execute {
                            step,
                            attempt: s.attempt,
                        });
                    }
                    Decided::Reject if phase == Phase::Proposed => {
                        match self.plan[step].on_reject {
                            OnReject::Skip => {
                                self.steps[step].phase = Phase::Skipped;
                                out.push(Effect::Skip {
                                    step,
                                    rejected: true,
                                });
                            }
                            OnReject::Fail => self.fail(step, &mut out),
                        }
                    }
                    Decided::Reject | Decided::Fail => self.fail(step, &mut out),
                    Decided::Done => {
                        self.steps[step].phase = Phase::Succeeded;
                        out.push(Effect::MarkDone { step });
                    }
                }
            }
            Input::Finished {
                step,
                ok,
                retryable,
            } => {
                if self.steps[step].phase != Phase::Running {
                    return out;
                }
                if ok {
                    self.steps[step].phase = Phase::Succeeded;
                } else {
                    let s = self.steps[step];
                    let retry = self.plan[step].retry;
                    if retryable && !self.halted && s.tries < retry.attempts {
                        self.steps[step].phase = Phase::RetryWait;
                        out.push(Effect::ScheduleRetry {
                            step,
                            next_attempt: s.attempt + 1,
                            delay: backoff(&retry, s.tries),
                        });
                    } else {
                        self.fail(step, &mut out);
                    }
                }
            }
            Input::RetryDue { step } => {
                if self.steps[step].phase != Phase::RetryWait {
                    return out;
                }
                if self.halted {
                    self.fail(step, &mut out);
                } else {
                    let s = &mut self.steps[step];
                    s.phase = Phase::Running;
                    s.attempt += 1;
                    s.tries += 1;
                    out.push(Effect::Execute {
                        step,
                        attempt: s.attempt,
                    });
                }
            }
            Input::Interrupted { step } => {
                self.steps[step].phase = Phase::NeedsAttention;
                out.push(Effect::AskAttention {
                    step,
                    attempt: self.steps[step].attempt,
                });
            }
        }
        out.extend(self.schedule());
        out
    }

    fn fail(&mut self, step: usize, out: &mut Vec<Effect>) {
        self.steps[step].phase = Phase::Failed;
        self.halted = true;
        out.push(Effect::Fail { step });
        // Scheduled retries of other steps will not run now.
        for (i, s) in self.steps.iter_mut().enumerate() {
            if s.phase == Phase::RetryWait {
                s.phase = Phase::Failed;
                out.push(Effect::Fail { step: i });
            }
        }
    }

    /// Where the run stands now.
    pub fn outcome(&self) -> Outcome {
        let in_flight = self.steps.iter().any(|s| {
            matches!(
                s.phase,
                Phase::Preparing | Phase::Running | Phase::RetryWait
            )
        });
        if in_flight {
            return Outcome::Active;
        }
        if self.halted {
            return Outcome::Failed;
        }
        if self.steps.iter().all(|s| s.phase.is_done_ok()) {
            return Outcome::Succeeded;
        }
        let waiting = self
            .steps
            .iter()
            .any(|s| matches!(s.phase, Phase::Proposed | Phase::NeedsAttention));
        if waiting || self.paused {
            return Outcome::Waiting;
        }
        // Pending steps whose needs can never be met cannot exist without a failure,
        // but stay safe: a run with nothing to do and nothing awaited has failed.
        let startable = self.steps.iter().enumerate().any(|(i, s)| {
            s.phase == Phase::Pending
                && self.plan[i]
                    .needs
                    .iter()
                    .all(|&n| self.steps[n].phase.is_done_ok())
        });
        if startable {
            Outcome::Active
        } else {
            Outcome::Failed
        }
    }
}

/// Delay before the attempt after `tries` failed tries: backoff * 2^(tries-1), capped.
pub fn backoff(retry: &Retry, tries: u32) -> Duration {
    let exp = tries.saturating_sub(1).min(30);
    let d = retry.backoff.saturating_mul(1u32 << exp);
    d.min(retry.max_backoff)
}

#[cfg(test)]
mod tests;
