//! The driver: performs the machine's effects. It is the only part of the engine that
//! touches the journal, the connectors, the async executor and time, and it feeds
//! every result back to the machine as an input.
//!
//! This file owns the [`Driver`] itself: its state, the event buffer
//! ([`Driver::record`], [`Driver::flush`]), the drive loop and the dispatch of the
//! machine's effects. The work behind each effect lives in the child modules:
//! [`prepare`] renders steps, [`execute`] runs prepared work on the executor,
//! [`items`] opens inbox items and applies decisions, [`memory`] writes memory
//! steps, [`agent`] renders agent steps, [`calls`] performs their turns (the calls),
//! [`answers`] journals what each call brought back and goes on,
//! [`budget`] enforces the spending caps, [`breakers`] asks and tells the targets'
//! circuit breakers, [`dry`] rehearses what a dry run does not carry out and
//! [`rate`] holds commits and calls until their turn under a rate limit, and
//! [`handoff`] hands the run to workers at a step whose tags the driver lacks.

mod agent;
mod answers;
mod breakers;
mod budget;
mod calls;
mod dry;
pub(super) use answers::redact_result;
pub(super) use replay::loop_records;
pub(super) use tools::tool_call_in_flight;
mod execute;
pub(super) mod handoff;
mod items;
mod memory;
mod prepare;
mod rate;
mod replay;
mod rescue;
pub(super) mod tools;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{Value as Json, json};

use super::machine::{Effect, Input, Machine, Outcome, Phase};
use super::{Observer, RunEnv, RunOutcome};
use crate::clock::Millis;
use crate::connectors::Action;
use crate::error::Result;
use crate::journal::{Event, Journal, RunRecord, RunStatus};
use crate::template::{Context, StepView};
use crate::workflow::Workflow;
use execute::{Completion, Exec};
use memory::MemoryWrite;

/// What a prepared step will do when executed.
#[derive(Debug, Clone)]
pub(super) enum Prepped {
    /// A `set` step's computed values.
    Values(Json),
    /// An `approval` gate's rendered title, body and fields.
    Gate(crate::journal::Gate),
    /// A side effect.
    Action(Action),
    /// An agent step's rendered request.
    Agent(Box<crate::agent::AgentRequest>),
    /// A memory step's rendered write (`remember`, `fact`, `outcome`).
    Memory(MemoryWrite),
    /// A `wait` step's end (journal clock, ms).
    Timer(Millis),
}

pub(super) struct Driver<'a> {
    pub(super) journal: &'a mut Journal,
    pub(super) run: RunRecord,
    pub(super) wf: Workflow,
    pub(super) machine: Machine,
    pub(super) ctx: Context,
    pub(super) env: &'a RunEnv,
    pub(super) observer: &'a mut dyn Observer,
    /// Rendered or approved work, per step.
    pub(super) prepped: Vec<Option<Prepped>>,
    /// The inbox item a step is waiting on.
    pub(super) open_items: HashMap<usize, i64>,
    /// Decisions on approval gates (their output).
    pub(super) gate_answers: HashMap<usize, Json>,
    /// Why a step is about to fail or be skipped.
    pub(super) reasons: HashMap<usize, String>,
    /// Steps about to fail because their definition could not be rendered.
    pub(super) render_failed: std::collections::HashSet<usize>,
    /// A dry run's steps whose proposal was rehearsed (not rehearsed again when
    /// they execute).
    pub(super) rehearsed: std::collections::HashSet<usize>,
    exec: Option<Exec>,
    tx: mpsc::Sender<Completion>,
    rx: mpsc::Receiver<Completion>,
    in_flight: HashMap<usize, tokio::task::JoinHandle<()>>,
    timers: Vec<(Instant, usize)>,
    /// Sleeping `wait` steps and when each ends (journal clock).
    pub(super) sleepers: HashMap<usize, Millis>,
    pending_effects: Vec<Effect>,
    /// Events recorded but not committed yet (see [`Driver::record`]).
    buffer: Vec<Event>,
    /// Agent steps between calls: their turns, deadlines, calls in flight.
    pub(super) agents: calls::AgentState,
    pub(super) tool_state: tools::ToolState,
    /// Estimated cost of LLM calls in flight (not journaled yet).
    reserved_usd: f64,
    /// The run's secrets: what commits resolve, and what is redacted from every
    /// event before it is journaled.
    pub(super) secrets: crate::secrets::Secrets,
    /// Steps waiting for their turn under a rate limit.
    held: Vec<rate::Held>,
    /// Steps whose turn came (by attempt): they go without taking another.
    turn_came: HashMap<usize, u32>,
    /// Set when a step needed tags this driver lacks: nothing more starts, and the
    /// run goes to the workers once the steps in flight are done.
    handoff: Option<handoff::Handoff>,
}

/// Commit buffered events at least this often.
const MAX_BUFFERED: usize = 256;

/// How often the live line is redrawn while a call is in flight.
const LIVE_TICK: std::time::Duration = std::time::Duration::from_millis(200);

impl<'a> Driver<'a> {
    pub(super) fn new(
        journal: &'a mut Journal,
        run: RunRecord,
        wf: Workflow,
        machine: Machine,
        ctx: Context,
        env: &'a RunEnv,
        observer: &'a mut dyn Observer,
    ) -> Driver<'a> {
        let (tx, rx) = mpsc::channel();
        let n = wf.steps.len();
        ctx.attach_config(env.exec.config.names());
        ctx.attach_facts(std::sync::Arc::new(journal.fact_reader()));
        let secrets = env.secrets.for_run(&run.uid);
        Driver {
            secrets,
            journal,
            run,
            wf,
            machine,
            ctx,
            env,
            observer,
            prepped: vec![None; n],
            open_items: HashMap::new(),
            gate_answers: HashMap::new(),
            reasons: HashMap::new(),
            render_failed: Default::default(),
            rehearsed: Default::default(),
            exec: None,
            tx,
            rx,
            in_flight: HashMap::new(),
            timers: Vec::new(),
            sleepers: HashMap::new(),
            pending_effects: Vec::new(),
            buffer: Vec::new(),
            agents: calls::AgentState::default(),
            tool_state: tools::ToolState::default(),
            reserved_usd: 0.0,
            held: Vec::new(),
            turn_came: HashMap::new(),
            handoff: None,
        }
    }

    /// Journal events. Transitions of pure work (`set` values, skips, decisions
    /// already durable in the inbox) are buffered and committed together: one
    /// transaction per batch instead of one per step. A crash before the commit loses
    /// only work that resume recomputes identically. The buffer is committed before
    /// anything the outside world can see: a side effect starts, an inbox item is
    /// created, the driver blocks, or the run ends.
    ///
    /// Every known secret value is redacted from the events first (outputs and
    /// errors are redacted where they arise; this is the last line).
    pub(super) fn record(&mut self, mut events: Vec<Event>) -> Result<()> {
        if !self.secrets.nothing_to_redact() {
            for ev in &mut events {
                redact_event(&self.secrets, ev);
            }
        }
        self.buffer.extend(events);
        if self.buffer.len() >= MAX_BUFFERED {
            self.flush()?;
        }
        Ok(())
    }

    /// Commit the buffered events in one transaction, then tell the observer.
    pub(super) fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.buffer);
        self.journal.commit(self.run.id, &events)?;
        for ev in &events {
            self.observer.event(self.run.id, ev);
        }
        Ok(())
    }

    pub(super) fn feed(&mut self, input: Input) {
        let fx = self.machine.handle(input);
        self.pending_effects.extend(fx);
    }

    pub(super) fn queue(&mut self, fx: Vec<Effect>) {
        self.pending_effects.extend(fx);
    }

    /// Run until the run finishes, waits on the operator, or is cancelled.
    pub(super) fn drive(mut self) -> Result<RunOutcome> {
        let result = self.drive_inner().and_then(|o| self.flush().map(|_| o));
        if result.is_err() {
            let _ = self.flush();
        }
        // Whatever happened, stop child work and give the lease back. After an error
        // the lease is left expired, still naming this process, so `aios tick` (or
        // any resume) continues the run at once; when even that write fails, the
        // lease names a process that is gone once this one exits, which is taken
        // over as well.
        for (_, h) in self.in_flight.drain() {
            h.abort();
        }
        if self.agents.has_live() && self.observer.wants_live() {
            self.observer.live(&[]);
        }
        match result {
            // Queued for the workers with the tags, and the lease given up, in one
            // transaction.
            Ok(outcome) if outcome.handoff.is_some() => {
                let tags = outcome.handoff.as_ref().map(|h| h.tags.as_slice());
                self.journal
                    .hand_off(self.run.id, tags.unwrap_or_default(), &self.env.owner)?;
                Ok(outcome)
            }
            Ok(outcome) => {
                self.journal.release_lease(self.run.id, &self.env.owner)?;
                Ok(outcome)
            }
            Err(e) => {
                let _ = self.journal.abandon_lease(self.run.id, &self.env.owner);
                Err(e)
            }
        }
    }

    fn drive_inner(&mut self) -> Result<RunOutcome> {
        let mut last_poll = Instant::now();
        let mut last_renew = Instant::now();
        if self.run.status != RunStatus::Running {
            self.record(vec![Event::RunStatus {
                status: RunStatus::Running,
                error: None,
            }])?;
        }
        let fx = self.machine.schedule();
        self.queue(fx);
        self.wake_due();
        loop {
            while !self.pending_effects.is_empty() {
                let fx = std::mem::take(&mut self.pending_effects);
                for e in fx {
                    if let Err(e) = self.perform(e) {
                        if self.journal.run_status(self.run.id)? == RunStatus::Cancelled {
                            return Ok(self.cancelled());
                        }
                        return Err(e);
                    }
                }
            }
            // Handing the run on: once nothing it started is in flight, it stops,
            // as a crash before the step would (resume plans that step again).
            if self.handoff.is_some() && self.in_flight.is_empty() {
                return self.hand_on();
            }
            match self.machine.outcome() {
                Outcome::Active => {}
                Outcome::Waiting => return self.finish(RunStatus::Waiting, None),
                Outcome::Succeeded => return self.finish(RunStatus::Succeeded, None),
                Outcome::Failed => {
                    let err = self.failure_summary();
                    return self.finish(RunStatus::Failed, Some(err));
                }
            }
            // Wait for a completion, a due retry or turn, or the next poll.
            let now = Instant::now();
            let next_timer = self
                .timers
                .iter()
                .map(|(t, _)| *t)
                .chain(self.next_turn())
                .min();
            let mut wait = self.env.poll;
            if let Some(t) = next_timer {
                wait = wait.min(t.saturating_duration_since(now));
            }
            let live = self.agents.has_live() && self.observer.wants_live();
            if live {
                wait = wait.min(LIVE_TICK);
            }
            self.flush()?;
            if live {
                let calls = self.agents.live();
                self.observer.live(&calls);
            }
            match self.rx.recv_timeout(wait) {
                Ok(c) => self.completed(c)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
            let now = Instant::now();
            let due: Vec<usize> = self
                .timers
                .iter()
                .filter(|(t, _)| *t <= now)
                .map(|(_, s)| *s)
                .collect();
            self.timers.retain(|(t, _)| *t > now);
            for step in due {
                self.feed(Input::RetryDue { step });
            }
            self.turns_due()?;
            if now.duration_since(last_poll) >= self.env.poll {
                last_poll = now;
                if self.journal.run_status(self.run.id)? == RunStatus::Cancelled {
                    return Ok(self.cancelled());
                }
                self.poll_decisions()?;
                self.wake_due();
            }
            if now.duration_since(last_renew) >= self.env.lease_ttl / 3 {
                last_renew = now;
                self.journal.renew_lease(
                    self.run.id,
                    &self.env.owner,
                    self.env.lease_ttl.as_millis() as i64,
                )?;
            }
        }
    }

    /// Wake the sleeping steps whose time has come (journal clock).
    pub(super) fn wake_due(&mut self) {
        if self.sleepers.is_empty() {
            return;
        }
        let now = self.journal.now();
        let mut due: Vec<usize> = self
            .sleepers
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(s, _)| *s)
            .collect();
        due.sort_unstable();
        for step in due {
            self.sleepers.remove(&step);
            self.feed(Input::TimerDue { step });
        }
    }

    /// The run ended for good (succeeded or cancelled): its secret inputs are
    /// forgotten. A failed run keeps them: it may be resumed.
    fn forget_secret_inputs(&self) {
        if let Some(store) = self.secrets.store() {
            let _ = store.remove_run(&self.run.uid);
        }
    }

    fn cancelled(&self) -> RunOutcome {
        self.forget_secret_inputs();
        RunOutcome {
            run_id: self.run.id,
            status: RunStatus::Cancelled,
            error: Some("cancelled by the operator".into()),
            handoff: None,
        }
    }

    fn finish(&mut self, status: RunStatus, error: Option<String>) -> Result<RunOutcome> {
        self.flush()?;
        let current = self.journal.run_status(self.run.id)?;
        if current == RunStatus::Cancelled {
            return Ok(self.cancelled());
        }
        if status == RunStatus::Failed {
            self.fail_with_item(error.clone())?;
        } else if current != status || status != RunStatus::Waiting {
            self.record(vec![Event::RunStatus {
                status,
                error: error.clone(),
            }])?;
            self.flush()?;
        }
        if status == RunStatus::Succeeded {
            self.forget_secret_inputs();
        }
        Ok(RunOutcome {
            run_id: self.run.id,
            status,
            error,
            handoff: None,
        })
    }

    /// Record the run's failure and, in the same transaction, its failure item
    /// (see [`crate::journal::Failure`]).
    fn fail_with_item(&mut self, error: Option<String>) -> Result<()> {
        let mut events = vec![Event::RunStatus {
            status: RunStatus::Failed,
            error,
        }];
        if !self.secrets.nothing_to_redact() {
            for ev in &mut events {
                redact_event(&self.secrets, ev);
            }
        }
        let steps = self.journal.steps(self.run.id)?;
        let error_of = |id: &str| {
            steps
                .iter()
                .find(|r| r.step_id == id)
                .and_then(|r| r.error.clone())
                .unwrap_or_default()
        };
        let failed: Vec<usize> = (0..self.wf.steps.len())
            .filter(|&i| self.machine.step(i).phase == Phase::Failed)
            .collect();
        // A dry run is kept apart from the inbox: it rehearses, nobody decides it.
        let first = failed.first().filter(|_| self.run.dry.is_none());
        let Some(&first) = first else {
            self.record(events)?;
            return self.flush();
        };
        let step = &self.wf.steps[first];
        let failure = crate::journal::Failure {
            step: step.id.clone(),
            kind: step.kind().name().to_string(),
            error: error_of(&step.id),
            attempts: self.machine.step(first).attempt,
            failed: failed
                .iter()
                .map(|&i| crate::journal::FailedStep {
                    step: self.wf.steps[i].id.clone(),
                    error: error_of(&self.wf.steps[i].id),
                })
                .collect(),
            skippable: step.on_reject == crate::workflow::OnReject::Skip,
            compensable: (0..self.wf.steps.len()).any(|i| {
                self.wf.steps[i].undo.is_some() && self.machine.step(i).phase == Phase::Succeeded
            }),
        };
        let attempt = self.machine.step(first).attempt;
        let created = self
            .journal
            .commit_failure(self.run.id, &events, &failure, attempt)?;
        for ev in events.iter().chain(created.iter()) {
            self.observer.event(self.run.id, ev);
        }
        Ok(())
    }

    fn failure_summary(&self) -> String {
        let failed: Vec<&str> = self
            .machine
            .steps()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.phase == Phase::Failed)
            .map(|(i, _)| self.wf.steps[i].id.as_str())
            .collect();
        match failed.as_slice() {
            [one] => format!("step `{one}` failed"),
            many => format!(
                "steps {} failed",
                many.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn perform(&mut self, e: Effect) -> Result<()> {
        match e {
            Effect::Prepare { step, .. } | Effect::Execute { step, .. }
                if self.held_for_workers(step) =>
            {
                Ok(())
            }
            Effect::Prepare { step, attempt } => self.prepare(step, attempt),
            Effect::Propose { step, attempt } if self.dry() => {
                self.rehearse_proposal(step, attempt)
            }
            Effect::Propose { step, attempt } => self.propose(step, attempt),
            Effect::Execute { step, attempt } => self.execute(step, attempt),
            Effect::ScheduleRetry {
                step,
                next_attempt,
                delay,
            } => {
                let error = self.reasons.remove(&step).unwrap_or_default();
                let retry_at = self.journal.now() + delay.as_millis() as Millis;
                self.record(vec![Event::StepFailed {
                    step: self.wf.steps[step].id.clone(),
                    attempt: next_attempt - 1,
                    error,
                    retry_at: Some(retry_at),
                    at_render: false,
                }])?;
                self.timers.push((Instant::now() + delay, step));
                Ok(())
            }
            Effect::Fail { step } => {
                let error = self
                    .reasons
                    .remove(&step)
                    .unwrap_or_else(|| "not retried: another step failed".into());
                let attempt = self.machine.step(step).attempt;
                let at_render = self.render_failed.remove(&step);
                self.set_view(step, "failed", Json::Null);
                self.record(vec![Event::StepFailed {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                    error,
                    retry_at: None,
                    at_render,
                }])
            }
            Effect::Skip { step, rejected } => {
                let reason = self.reasons.remove(&step).unwrap_or_else(|| {
                    if rejected {
                        "rejected by the operator".into()
                    } else {
                        "condition was false".into()
                    }
                });
                let output = self.gate_answers.get(&step).cloned().unwrap_or(Json::Null);
                self.set_view(step, "skipped", output);
                self.record(vec![Event::StepSkipped {
                    step: self.wf.steps[step].id.clone(),
                    reason,
                }])
            }
            Effect::AskAttention { step, attempt } => self.ask_attention(step, attempt),
            // A dry run does not wait.
            Effect::Sleep { step, .. } if self.dry() => {
                self.feed(Input::TimerDue { step });
                Ok(())
            }
            Effect::Sleep { step, attempt } => {
                let Some(Prepped::Timer(due_at)) = self.prepped[step] else {
                    return Err(crate::error::Error::other(format!(
                        "internal: wait step `{}` slept before its end was computed",
                        self.wf.steps[step].id
                    )));
                };
                // The end is journaled before anything else happens: a process that
                // stops now (or exits waiting) leaves a run that `tick` wakes then.
                self.record(vec![Event::TimerSet {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                    due_at,
                }])?;
                self.flush()?;
                self.sleepers.insert(step, due_at);
                self.wake_due();
                Ok(())
            }
            Effect::MarkDone { step } => {
                let attempt = self.machine.step(step).attempt;
                let output = self
                    .gate_answers
                    .remove(&step)
                    .unwrap_or_else(|| json!({ "marked_done": true }));
                self.succeed(step, attempt, output)
            }
        }
    }

    pub(super) fn set_view(&self, step: usize, status: &'static str, mut output: Json) {
        let _ = self.secrets.redact_json(&mut output);
        self.ctx
            .set_step(&self.wf.steps[step].id, &StepView { status, output });
    }

    fn succeed(&mut self, step: usize, attempt: u32, output: Json) -> Result<()> {
        self.set_view(step, "succeeded", output.clone());
        self.record(vec![Event::StepSucceeded {
            step: self.wf.steps[step].id.clone(),
            attempt,
            output,
        }])
    }
}

/// Replace every known secret value in an event by its placeholder.
pub(super) fn redact_event(secrets: &crate::secrets::Secrets, ev: &mut Event) {
    if secrets.nothing_to_redact() {
        return;
    }
    let Ok(mut v) = serde_json::to_value(&*ev) else {
        return;
    };
    if secrets.redact_json(&mut v)
        && let Ok(e) = serde_json::from_value(v)
    {
        *ev = e;
    }
}
