//! The run state machine. Pure: no IO, no clock, no environment.
//!
//! It decides which steps to prepare, propose, execute, retry, skip or fail, given
//! what the driver reports back. `handle(input) -> Vec<Effect>`; the driver performs
//! the effects and feeds their results back as new inputs.

use std::collections::BTreeSet;
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
    /// A `wait` step: once prepared it sleeps until the driver says its time came.
    pub timer: bool,
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
                timer: s.policy().timer,
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
    /// A `wait` step: its timer is set; or a step whose call waits for its
    /// target's circuit breaker. Waiting for `TimerDue`.
    Sleeping,
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
    /// Rendered; ready to propose or execute (as the step's `approve` says).
    Ready,
    /// Rendered, and it must be proposed whatever the step's `approve` says (its
    /// connector says so: a tool not annotated read-only).
    Ask,
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
    /// A running step stopped before spending money (a budget cap): it waits for the
    /// operator under a new attempt number (each stop has its own inbox item);
    /// approval executes that attempt.
    Blocked {
        step: usize,
    },
    /// A sleeping step's time has come (the driver read its clock).
    TimerDue {
        step: usize,
    },
    /// A running step's call waits for its target's circuit breaker: the attempt
    /// did not run; the step sleeps until the driver says its time came
    /// (`TimerDue`), then executes the same attempt. No retry is spent.
    Held {
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
    /// Record when a `wait` step ends and wake the machine then (`TimerDue`).
    Sleep { step: usize, attempt: u32 },
}

/// Where the run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Work is in flight or can start.
    Active,
    /// Nothing can move until the operator decides or a timer is due.
    Waiting,
    Succeeded,
    Failed,
}

/// The state machine of one run.
///
/// Bookkeeping is incremental so a run of n steps costs O(n log n) in total: each
/// step knows its dependents and how many of its needs are still unmet, ready steps
/// wait in an ordered set (file order), and phases are counted as they change.
#[derive(Debug, Clone)]
pub struct Machine {
    plan: Vec<StepPlan>,
    steps: Vec<StepState>,
    max_parallel: usize,
    /// A step failed: start nothing new.
    halted: bool,
    /// Start nothing new (commit decided steps only, then stop).
    paused: bool,
    dependents: Vec<Vec<usize>>,
    /// Needs of each step that have not succeeded or been skipped yet.
    unmet: Vec<usize>,
    /// Pending steps whose needs are all met, in file order.
    ready: BTreeSet<usize>,
    /// Steps in Preparing or Running (they hold a slot).
    busy: usize,
    /// Steps in Preparing, Running or RetryWait.
    in_flight: usize,
    /// Steps in Proposed, NeedsAttention or Sleeping.
    waiting: usize,
    /// Steps that succeeded or were skipped.
    done: usize,
}

impl Machine {
    /// A machine for a fresh run.
    pub fn new(plan: Vec<StepPlan>, max_parallel: usize) -> Machine {
        let steps = vec![StepState::new(Phase::Pending, 0); plan.len()];
        Machine::restore(plan, steps, max_parallel)
    }

    /// A machine resumed from recorded step states.
    pub fn restore(plan: Vec<StepPlan>, steps: Vec<StepState>, max_parallel: usize) -> Machine {
        let n = plan.len();
        let mut dependents = vec![Vec::new(); n];
        for (i, p) in plan.iter().enumerate() {
            for &d in &p.needs {
                dependents[d].push(i);
            }
        }
        let mut m = Machine {
            halted: steps.iter().any(|s| s.phase == Phase::Failed),
            paused: false,
            max_parallel: max_parallel.max(1),
            unmet: vec![0; n],
            ready: BTreeSet::new(),
            busy: 0,
            in_flight: 0,
            waiting: 0,
            done: 0,
            dependents,
            plan,
            steps,
        };
        for i in 0..n {
            m.unmet[i] = m.plan[i]
                .needs
                .iter()
                .filter(|&&d| !m.steps[d].phase.is_done_ok())
                .count();
            m.count(m.steps[i].phase, 1);
            if m.steps[i].phase == Phase::Pending && m.unmet[i] == 0 {
                m.ready.insert(i);
            }
        }
        m
    }

    /// Add (`sign` = 1) or remove (`sign` = -1) one step in `phase` from the counters.
    fn count(&mut self, phase: Phase, sign: isize) {
        let add = |c: &mut usize| *c = c.wrapping_add_signed(sign);
        if matches!(phase, Phase::Preparing | Phase::Running) {
            add(&mut self.busy);
        }
        if matches!(phase, Phase::Preparing | Phase::Running | Phase::RetryWait) {
            add(&mut self.in_flight);
        }
        if matches!(
            phase,
            Phase::Proposed | Phase::NeedsAttention | Phase::Sleeping
        ) {
            add(&mut self.waiting);
        }
        if phase.is_done_ok() {
            add(&mut self.done);
        }
    }

    /// The one place a phase changes: keeps counters, unmet needs and the ready set.
    fn set_phase(&mut self, i: usize, phase: Phase) {
        let old = self.steps[i].phase;
        if old == phase {
            return;
        }
        self.count(old, -1);
        self.count(phase, 1);
        self.steps[i].phase = phase;
        if old == Phase::Pending {
            self.ready.remove(&i);
        }
        if phase == Phase::Pending && self.unmet[i] == 0 {
            self.ready.insert(i);
        }
        if phase.is_done_ok() && !old.is_done_ok() {
            for k in 0..self.dependents[i].len() {
                let d = self.dependents[i][k];
                self.unmet[d] -= 1;
                if self.unmet[d] == 0 && self.steps[d].phase == Phase::Pending {
                    self.ready.insert(d);
                }
            }
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

    /// Whether a step failed: nothing new starts and the run will fail.
    pub fn halted(&self) -> bool {
        self.halted
    }

    /// Whether a failed attempt of `step` would be retried (its `retry` has
    /// attempts left and the run is not failing).
    pub fn retries_left(&self, i: usize) -> bool {
        !self.halted && self.steps[i].tries < self.plan[i].retry.attempts
    }

    /// Make failed steps pending again (resume of a failed run).
    pub fn reset_failed(&mut self) -> Vec<usize> {
        let failed: Vec<usize> = (0..self.steps.len())
            .filter(|&i| self.steps[i].phase == Phase::Failed)
            .collect();
        for &i in &failed {
            self.set_phase(i, Phase::Pending);
            self.steps[i].tries = 0;
        }
        self.halted = false;
        failed
    }

    /// Start whatever can start now.
    pub fn schedule(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.halted || self.paused {
            return out;
        }
        while self.busy < self.max_parallel {
            let Some(&i) = self.ready.first() else { break };
            self.set_phase(i, Phase::Preparing);
            let s = &mut self.steps[i];
            s.attempt += 1;
            s.tries = 1;
            out.push(Effect::Prepare {
                step: i,
                attempt: s.attempt,
            });
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
                        self.set_phase(step, Phase::Skipped);
                        out.push(Effect::Skip {
                            step,
                            rejected: false,
                        });
                    }
                    Prepared::Fail => self.fail(step, &mut out),
                    Prepared::Ready if self.plan[step].timer => {
                        self.set_phase(step, Phase::Sleeping);
                        out.push(Effect::Sleep { step, attempt });
                    }
                    Prepared::Ready | Prepared::Ask
                        if self.plan[step].approval || outcome == Prepared::Ask =>
                    {
                        out.push(Effect::Propose { step, attempt });
                    }
                    Prepared::Ready | Prepared::Ask => {
                        self.set_phase(step, Phase::Running);
                        out.push(Effect::Execute { step, attempt });
                    }
                }
            }
            Input::Proposed { step } => {
                if matches!(self.steps[step].phase, Phase::Preparing | Phase::Pending) {
                    self.set_phase(step, Phase::Proposed);
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
                        self.set_phase(step, Phase::Running);
                        let s = &mut self.steps[step];
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
                                self.set_phase(step, Phase::Skipped);
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
                        self.set_phase(step, Phase::Succeeded);
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
                    self.set_phase(step, Phase::Succeeded);
                } else {
                    let s = self.steps[step];
                    let retry = self.plan[step].retry;
                    if retryable && !self.halted && s.tries < retry.attempts {
                        self.set_phase(step, Phase::RetryWait);
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
                    self.set_phase(step, Phase::Running);
                    let s = &mut self.steps[step];
                    s.attempt += 1;
                    s.tries += 1;
                    out.push(Effect::Execute {
                        step,
                        attempt: s.attempt,
                    });
                }
            }
            Input::Blocked { step } => {
                if self.steps[step].phase != Phase::Running {
                    return out;
                }
                self.set_phase(step, Phase::Proposed);
                self.steps[step].attempt += 1;
            }
            Input::Held { step } => {
                if self.steps[step].phase != Phase::Running {
                    return out;
                }
                self.set_phase(step, Phase::Sleeping);
            }
            Input::TimerDue { step } => {
                if self.steps[step].phase != Phase::Sleeping {
                    return out;
                }
                self.set_phase(step, Phase::Running);
                out.push(Effect::Execute {
                    step,
                    attempt: self.steps[step].attempt,
                });
            }
            Input::Interrupted { step } => {
                self.set_phase(step, Phase::NeedsAttention);
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
        self.set_phase(step, Phase::Failed);
        self.halted = true;
        out.push(Effect::Fail { step });
        // Scheduled retries of other steps will not run now.
        for i in 0..self.steps.len() {
            if self.steps[i].phase == Phase::RetryWait {
                self.set_phase(i, Phase::Failed);
                out.push(Effect::Fail { step: i });
            }
        }
    }

    /// Whether a step failed for good: no new step starts.
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// Where the run stands now.
    pub fn outcome(&self) -> Outcome {
        if self.in_flight > 0 {
            Outcome::Active
        } else if self.halted {
            Outcome::Failed
        } else if self.done == self.steps.len() {
            Outcome::Succeeded
        } else if self.waiting > 0 || self.paused {
            Outcome::Waiting
        } else if !self.ready.is_empty() {
            Outcome::Active
        } else {
            // Pending steps whose needs can never be met cannot exist without a
            // failure, but stay safe: nothing to do and nothing awaited is a failure.
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
