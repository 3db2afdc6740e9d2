//! The executor: a pure state machine ([`machine`]) and the driver ([`driver`]) that
//! performs its effects against the journal, the connectors and time.
//!
//! [`start`] creates a run from a validated workflow and drives it; [`resume`] picks a
//! run up again from the journal (after a wait, a failure or a crash) using the
//! workflow snapshot stored with the run, never the file as it is now; [`resume_on`]
//! continues it on a corrected definition instead, when [`steer`]'s rules allow;
//! [`cancel`] stops one for good.

pub mod cancel;
pub mod compensate;
mod driver;
mod failure;
pub mod machine;
pub mod prompt;
pub mod steer;

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::connectors::{Action, ExecEnv};
use crate::error::{Error, Result};
use crate::journal::{
    Event, Journal, Owner, ProposalKind, ProposalStatus, RunStatus, StepDecl, StepStatus,
};
use crate::template::Context;
use crate::workflow::{self, Workflow};
pub use driver::handoff::{Handoff, required_tags};
use driver::{Driver, Prepped};
use machine::{Input, Machine, Phase, StepPlan, StepState};

/// How a driver runs: who it is, what children get, how often it polls.
#[derive(Debug, Clone)]
pub struct RunEnv {
    pub owner: Owner,
    pub exec: ExecEnv,
    /// Lease length; renewed every third of it while the run is driven.
    pub lease_ttl: Duration,
    /// How often to look for cancellation and decisions taken elsewhere.
    pub poll: Duration,
    /// Providers, models and spending caps for agent steps (empty: the offline
    /// heuristic provider answers every call).
    pub agent: std::sync::Arc<crate::agent::AgentSettings>,
    /// The `[embeddings]` endpoint, when configured: agent steps with a `context`
    /// embed their memory query with it (otherwise retrieval is full-text only).
    pub embedder: Option<std::sync::Arc<crate::memory::Embedder>>,
    /// Where commits resolve `secret("NAME")` placeholders, and what is redacted
    /// from what runs keep (empty: no secrets).
    pub secrets: crate::secrets::Secrets,
    /// Personas and autonomy rules (default: only the open `default` persona, no
    /// rules).
    pub trust: std::sync::Arc<crate::trust::TrustSettings>,
    /// The targets' circuit breakers (`[breakers]`).
    pub breakers: crate::health::BreakerSettings,
    /// The `[imap]` accounts mail triggers read (`aios tick` polls them).
    pub mail: std::sync::Arc<crate::mail::MailSettings>,
    /// Rate limits per target (`[rate]`): commits and LLM calls wait for their turn.
    pub rates: std::sync::Arc<crate::rate::RateLimits>,
    /// The driver's tags (sorted): a worker's `--tags`; none for every other driver.
    /// A step whose `runs_on` (with its persona's) needs a tag not here is not
    /// started: the run is handed to the workers that have them.
    pub tags: Vec<String>,
}

impl RunEnv {
    pub fn new(owner: Owner, exec: ExecEnv) -> RunEnv {
        RunEnv {
            owner,
            exec,
            lease_ttl: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            agent: Default::default(),
            embedder: None,
            secrets: Default::default(),
            trust: Default::default(),
            breakers: Default::default(),
            mail: Default::default(),
            rates: Default::default(),
            tags: Vec::new(),
        }
    }
}

/// Receives every journaled event of the runs it watches (for progress output).
pub trait Observer {
    fn event(&mut self, run: i64, event: &Event);

    /// Whether [`Observer::live`] is shown (a terminal watches): the driver then
    /// wakes a few times a second while a call is in flight.
    fn wants_live(&self) -> bool {
        false
    }

    /// The LLM calls in flight now (empty when the last one came back).
    fn live(&mut self, _calls: &[LiveCall]) {}
}

/// An LLM call in flight, for a live progress line.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCall {
    pub step: String,
    /// `provider/model`.
    pub model: String,
    pub elapsed: Duration,
    /// Content pieces streamed so far (about one token each), when the provider
    /// streams.
    pub tokens: Option<u64>,
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _run: i64, _event: &Event) {}
}

/// Where a driven run ended up when the driver returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub run_id: i64,
    pub status: RunStatus,
    pub error: Option<String>,
    /// The run was handed to workers (still `running`, queued): a step needs tags
    /// this driver lacks.
    pub handoff: Option<Handoff>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub workflow: &'a Workflow,
    pub source: &'a str,
    /// The workflow file as given (for display).
    pub path: Option<&'a str>,
    /// Absolute folder of the workflow file: relative paths in steps start here.
    pub dir: &'a Path,
    /// Inputs already checked by [`workflow::resolve_inputs`], secret inputs
    /// already replaced by their placeholders ([`workflow::split_secret_inputs`]).
    pub inputs: Json,
    /// The run's uid, when the caller chose it (to keep the run's secret inputs in
    /// the store under it before the run is recorded); otherwise a new one.
    pub uid: Option<String>,
    /// A dry run (`aios run --dry-run`): nothing is committed (see [`Driver`]'s
    /// rehearsals), and the run is kept apart from real ones.
    pub dry: Option<crate::journal::DryMode>,
}

/// A new run uid (UUID v7, hex).
pub fn new_uid() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// What `resume` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Continue until the run finishes or waits on the operator.
    Continue,
    /// Commit what the operator decided, start nothing new, then stop.
    CommitDecided,
}

/// Record a new run (workflow snapshot, hash, inputs). Returns its id.
pub fn create(journal: &mut Journal, new: NewRun<'_>) -> Result<i64> {
    let source = new.source;
    journal.create_run(source, created_event(new))
}

/// The `RunCreated` event of a new run (for callers that create the run inside a
/// transaction of their own, like a schedule's fire).
pub fn created_event(new: NewRun<'_>) -> Event {
    let hash = crate::journal::source_hash(new.source);
    let uid = new.uid.unwrap_or_else(new_uid);
    Event::RunCreated {
        uid,
        workflow: new.workflow.name.clone(),
        path: new.path.map(str::to_string),
        dir: new.dir.display().to_string(),
        source_hash: hash,
        inputs: new.inputs,
        steps: new
            .workflow
            .steps
            .iter()
            .map(|s| StepDecl {
                id: s.id.clone(),
                kind: s.kind().name().to_string(),
            })
            .collect(),
        dry: new.dry,
    }
}

/// Create a run and drive it.
pub fn start(
    journal: &mut Journal,
    new: NewRun<'_>,
    env: &RunEnv,
    observer: &mut dyn Observer,
) -> Result<RunOutcome> {
    let wf = new.workflow.clone();
    let id = create(journal, new)?;
    drive_run(journal, id, Some(wf), None, env, observer, Mode::Continue)
}

/// Load the workflow snapshot a run was started with.
pub fn snapshot(journal: &Journal, run: i64) -> Result<Workflow> {
    let r = journal.run(run)?;
    let origin = r.path.clone().unwrap_or_else(|| r.workflow.clone());
    workflow::load(&r.source, &origin).map_err(|d| {
        Error::storage(format!(
            "the workflow stored with run {run} no longer loads ({}, first: {})",
            d.count(),
            d.first().map(|d| d.message.as_str()).unwrap_or("?")
        ))
        .with_hint("this aios is older or newer than the one that started the run")
    })
}

/// Review `rev` against the run and journal the change (`Ok(false)`: nothing
/// changed). A refusal lists every problem and the rules.
fn change_definition(
    journal: &mut Journal,
    run: &crate::journal::RunRecord,
    old: &Workflow,
    rev: &steer::Revision<'_>,
    observer: &mut dyn Observer,
) -> Result<bool> {
    let steps = journal.steps(run.id)?;
    let items = journal.run_proposals(run.id)?;
    match steer::review(run, old, rev, &steps, &items) {
        Ok(None) => Ok(false),
        Ok(Some(change)) => {
            journal.change_workflow(run.id, rev.source, &change.events)?;
            for ev in &change.events {
                observer.event(run.id, ev);
            }
            Ok(true)
        }
        Err(problems) => {
            let file = rev.path.unwrap_or("the new definition");
            let mut msg = format!("run {} cannot continue on {file}:\n", run.id);
            for p in &problems {
                msg.push_str(&format!("  - {p}\n"));
            }
            msg.push_str(&format!("the rules: {}", steer::RULES));
            Err(Error::conflict(msg).with_hint(format!(
                "change {file} to follow the rules, or start a new run of it: aios run {}",
                crate::connectors::shell::quote(file)
            )))
        }
    }
}

/// Continue a run from the journal: after a wait, a failure or a crash.
pub fn resume(
    journal: &mut Journal,
    run_id: i64,
    env: &RunEnv,
    observer: &mut dyn Observer,
    mode: Mode,
) -> Result<RunOutcome> {
    drive_run(journal, run_id, None, None, env, observer, mode)
}

/// Continue a run on a corrected definition (`aios resume RUN --workflow FILE`): the
/// change is checked against where each step stands ([`steer::review`]), journaled
/// with the new source as the run's snapshot, then the run is driven on it. A
/// definition the rules refuse changes nothing (a conflict naming every problem).
pub fn resume_on(
    journal: &mut Journal,
    run_id: i64,
    rev: steer::Revision<'_>,
    env: &RunEnv,
    observer: &mut dyn Observer,
) -> Result<RunOutcome> {
    drive_run(
        journal,
        run_id,
        None,
        Some(rev),
        env,
        observer,
        Mode::Continue,
    )
}

/// Drive a recorded run. `wf` is the already-validated snapshot when the caller has
/// it (a run just created); otherwise it is loaded from the journal. A storage error
/// names the run: the way on is `aios resume`, not the same command again.
fn drive_run(
    journal: &mut Journal,
    run_id: i64,
    wf: Option<Workflow>,
    rev: Option<steer::Revision<'_>>,
    env: &RunEnv,
    observer: &mut dyn Observer,
    mode: Mode,
) -> Result<RunOutcome> {
    let outcome = drive_recorded(journal, run_id, wf, rev, env, observer, mode)
        .map_err(|e| e.in_run(run_id))?;
    if outcome.status == RunStatus::Failed && mode == Mode::Continue {
        failure::saga(journal, run_id, env, observer)?;
    }
    Ok(outcome)
}

fn drive_recorded(
    journal: &mut Journal,
    run_id: i64,
    wf: Option<Workflow>,
    rev: Option<steer::Revision<'_>>,
    env: &RunEnv,
    observer: &mut dyn Observer,
    mode: Mode,
) -> Result<RunOutcome> {
    let mut run = journal.run(run_id)?;
    if run.dry.is_some() && wf.is_none() {
        return Err(
            Error::conflict(format!("run {run_id} is a dry run; it cannot be resumed")).with_hint(
                format!(
                    "dry-run the workflow again{}",
                    run.path
                        .as_deref()
                        .map(|p| format!(
                            ": aios run --dry-run {}",
                            crate::connectors::shell::quote(p)
                        ))
                        .unwrap_or_default()
                ),
            ),
        );
    }
    match run.status {
        RunStatus::Succeeded => {
            return Err(Error::conflict(format!(
                "run {run_id} already succeeded; there is nothing to resume"
            ))
            .with_hint(format!(
                "start a new run, or see it with: aios show {run_id}"
            )));
        }
        RunStatus::Cancelled => {
            return Err(Error::conflict(format!(
                "run {run_id} was cancelled; it cannot be resumed"
            ))
            .with_hint("start a new run of the workflow instead"));
        }
        _ => {}
    }
    let closing = if mode == Mode::Continue && run.status == RunStatus::Failed {
        failure::closed_by(journal, run_id)?
    } else {
        None
    };
    if let Some(e) = closing {
        return Err(e);
    }
    let mut wf = match wf {
        Some(wf) => wf,
        None => snapshot(journal, run_id)?,
    };
    if let Err(held) =
        journal.acquire_lease(run_id, &env.owner, env.lease_ttl.as_millis() as i64)?
    {
        return Err(held.into_error(run_id));
    }
    if let Some(rev) = rev {
        // Checked and journaled under the lease: no other process drives the run
        // while its definition changes.
        let changed = change_definition(journal, &run, &wf, &rev, observer);
        if changed.is_err() {
            let _ = journal.release_lease(run_id, &env.owner);
        }
        if changed? {
            run = journal.run(run_id)?;
        }
        wf = rev.workflow.clone();
    }
    // A failure withdrew the items its waiting steps were asking; they are back now.
    // Its failure item was decided (retry, skip) or is withdrawn (resumed by hand).
    if mode == Mode::Continue && run.status == RunStatus::Failed {
        for ev in failure::settle_failure(journal, run_id)? {
            observer.event(run_id, &ev);
        }
        for ev in journal.reopen_withdrawn(run_id)? {
            observer.event(run_id, &ev);
        }
    }
    let steps = journal.steps(run_id)?;
    let items = journal.run_proposals(run_id)?;
    let ctx = Context::with_secret_inputs(
        &run.inputs,
        &wf.secret_inputs(),
        run.id,
        &crate::clock::format_ms(run.created_at),
        &wf.name,
    );
    let plan = StepPlan::from_workflow(&wf);
    let index: std::collections::HashMap<String, usize> = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();

    // Rebuild each step's state from the projections.
    let mut states = vec![StepState::new(Phase::Pending, 0); wf.steps.len()];
    let mut interrupted = Vec::new();
    let mut tools_interrupted = Vec::new();
    let mut resets = Vec::new();
    let mut reruns = Vec::new();
    for rec in &steps {
        let Some(&i) = index.get(rec.step_id.as_str()) else {
            continue;
        };
        // An approved side-effecting tool call of its agent was in flight: its
        // outcome is unknown (invariant 8), the operator decides.
        let in_flight = match rec.status {
            StepStatus::Running => {
                driver::tool_call_in_flight(journal, run_id, &wf.steps[i], &items)?
            }
            _ => None,
        };
        let phase = match rec.status {
            _ if in_flight.is_some() => {
                tools_interrupted.extend(in_flight.map(|p| (i, p)));
                Phase::Running
            }
            StepStatus::Pending => Phase::Pending,
            StepStatus::Succeeded => Phase::Succeeded,
            StepStatus::Skipped => Phase::Skipped,
            StepStatus::Failed => Phase::Failed,
            StepStatus::Waiting if wf.steps[i].policy().timer => Phase::Sleeping,
            // Its call waits for its target's circuit breaker.
            StepStatus::Waiting if rec.held.is_some() => Phase::Sleeping,
            StepStatus::Waiting => Phase::Proposed,
            StepStatus::NeedsAttention => Phase::NeedsAttention,
            StepStatus::Running => {
                let approved = items.iter().rev().find(|p| {
                    p.step_id == rec.step_id
                        && !matches!(
                            p.kind,
                            ProposalKind::Approval | ProposalKind::Budget | ProposalKind::Rescue
                        )
                        && p.status == ProposalStatus::Approved
                });
                if wf.steps[i].idempotent && approved.is_some() {
                    // Safe to repeat, and already approved: run the same action again.
                    reruns.push((i, approved.map(|p| p.final_action().clone())));
                    Phase::NeedsAttention
                } else if wf.steps[i].idempotent {
                    resets.push(i);
                    Phase::Pending
                } else {
                    interrupted.push(i);
                    Phase::Running
                }
            }
        };
        states[i] = StepState::new(phase, rec.attempts);
    }
    let mut machine = Machine::restore(plan, states, wf.max_parallel);
    if mode == Mode::CommitDecided {
        machine.pause();
    }
    let mut failed_resets = Vec::new();
    if mode == Mode::Continue && run.status == RunStatus::Failed {
        failed_resets = machine.reset_failed();
    }

    let mut d = Driver::new(journal, run, wf, machine, ctx, env, observer);
    for rec in &steps {
        if let Some(&i) = index.get(rec.step_id.as_str()) {
            match rec.status {
                StepStatus::Succeeded => {
                    d.set_view(i, "succeeded", rec.output.clone().unwrap_or(Json::Null))
                }
                StepStatus::Skipped => d.set_view(i, "skipped", Json::Null),
                _ => {}
            }
        }
    }
    // Sleeping `wait` steps: their end as journaled when they started waiting.
    // Steps held by a breaker: the action they were about to commit (approved, or
    // rendered as it was), and when they may try again.
    for (step_id, due_at) in d.journal.wake_times(run_id)? {
        let Some(&i) = index.get(step_id.as_str()) else {
            continue;
        };
        if d.machine.step(i).phase != Phase::Sleeping {
            continue;
        }
        if d.wf.steps[i].policy().timer {
            d.prepped[i] = Some(Prepped::Timer(due_at));
        } else {
            d.prepped[i] = items
                .iter()
                .rev()
                .find(|p| {
                    p.step_id == step_id
                        && p.status == ProposalStatus::Approved
                        && !matches!(
                            p.kind,
                            ProposalKind::Approval | ProposalKind::Budget | ProposalKind::Rescue
                        )
                })
                .and_then(|p| serde_json::from_value::<Action>(p.final_action().clone()).ok())
                .map(Prepped::Action);
            if d.prepped[i].is_none() {
                let attempt = d.machine.step(i).attempt;
                if let workflow::StepSpec::Action(spec) = &d.wf.steps[i].spec
                    && let Ok(a) = d.render_action(i, spec, attempt)
                {
                    d.prepped[i] = Some(Prepped::Action(a));
                }
            }
        }
        // Held by a breaker that has closed since: it goes now.
        let due_at = match steps
            .iter()
            .find(|r| r.step_id == step_id)
            .and_then(|r| r.held.clone())
        {
            Some((target, _)) => match crate::connectors::Target::parse(&target)
                .ok()
                .map(|t| d.journal.breaker(&t))
                .transpose()?
                .flatten()
            {
                Some(b) if b.is_tripped() => due_at,
                _ => due_at.min(d.journal.now()),
            },
            None => due_at,
        };
        d.sleepers.insert(i, due_at);
    }
    let mut events = Vec::new();
    for (i, _) in &reruns {
        events.push(Event::StepReset {
            step: d.wf.steps[*i].id.clone(),
            reason: "interrupted; running the approved action again (idempotent)".into(),
        });
    }
    // An interrupted agent step starts its next attempt from the calls the last one
    // journaled (resume never pays for a call twice).
    let mut run_events = None;
    for &i in &resets {
        if let workflow::StepSpec::Agent(a) = &d.wf.steps[i].spec
            && !a.tools.is_empty()
        {
            // A tool loop spans the attempts its proposals started: read it from
            // the events.
            if run_events.is_none() {
                run_events = Some(d.journal.events(run_id)?);
            }
            let records =
                driver::loop_records(run_events.as_deref().unwrap_or_default(), &d.wf.steps[i].id);
            if !records.is_empty() {
                d.agents.carried_loop.insert(i, records);
            }
            continue;
        }
        if matches!(d.wf.steps[i].spec, workflow::StepSpec::Agent(_)) {
            let mut calls = d.journal.llm_calls(&crate::journal::CallFilter {
                run: Some(run_id),
                step: Some(d.wf.steps[i].id.clone()),
                attempt: Some(d.machine.step(i).attempt),
                ..Default::default()
            })?;
            calls.reverse();
            if !calls.is_empty() {
                d.agents.carried.insert(i, calls);
            }
        }
    }
    for &i in failed_resets.iter().chain(resets.iter()) {
        events.push(Event::StepReset {
            step: d.wf.steps[i].id.clone(),
            reason: if failed_resets.contains(&i) {
                "resumed after a failure".into()
            } else {
                "interrupted; safe to run again".into()
            },
        });
    }
    if !events.is_empty() {
        d.record(events)?;
    }

    // Re-attach inbox items: the item of the current attempt a step is waiting on.
    for p in items.iter().rev() {
        let Some(&i) = index.get(p.step_id.as_str()) else {
            continue;
        };
        let st = d.machine.step(i);
        let relevant = match p.kind {
            ProposalKind::Attention => st.phase == Phase::NeedsAttention,
            _ => st.phase == Phase::Proposed,
        };
        if !relevant
            || p.attempt != st.attempt
            || d.open_items.contains_key(&i)
            || matches!(
                p.status,
                ProposalStatus::Cancelled | ProposalStatus::Withdrawn
            )
        {
            continue;
        }
        match p.kind {
            ProposalKind::Approval => {
                d.prepped[i] = Some(Prepped::Gate(crate::journal::Gate::of(&p.action)))
            }
            ProposalKind::Budget => d.restore_budget_stop(i, &p.action),
            ProposalKind::Rescue => d.restore_rescue(i, &p.action),
            _ if Driver::is_agent_tool_item(p) => d.restore_agent_tool(i, p),
            _ => {
                if let Ok(a) = serde_json::from_value::<Action>(p.final_action().clone()) {
                    d.prepped[i] = Some(Prepped::Action(a));
                }
            }
        }
        d.open_items.insert(i, p.id);
    }
    // A started side effect whose outcome is unknown: ask the operator. The item
    // carries the action that was running (approved, or rendered as it was).
    for &i in &interrupted {
        let step_id = d.wf.steps[i].id.clone();
        if let Some(p) = items.iter().rev().find(|p| {
            p.step_id == step_id
                && !matches!(
                    p.kind,
                    ProposalKind::Approval | ProposalKind::Budget | ProposalKind::Rescue
                )
        }) && let Ok(a) = serde_json::from_value::<Action>(p.final_action().clone())
        {
            d.prepped[i] = Some(Prepped::Action(a));
        }
        if d.prepped[i].is_none() {
            // No stored action (approve = "never"): render it as it was.
            let attempt = d.machine.step(i).attempt;
            if let workflow::StepSpec::Action(spec) = &d.wf.steps[i].spec
                && let Ok(a) = d.render_action(i, spec, attempt)
            {
                d.prepped[i] = Some(Prepped::Action(a));
            }
        }
        d.feed(Input::Interrupted { step: i });
    }
    for (i, p) in tools_interrupted {
        d.tool_interrupted(i, p);
        d.feed(Input::Interrupted { step: i });
    }
    for (i, action) in reruns {
        if let Some(a) = action.and_then(|a| serde_json::from_value::<Action>(a).ok()) {
            d.prepped[i] = Some(Prepped::Action(a));
        }
        d.feed(Input::Decided {
            step: i,
            decision: machine::Decided::Approve,
        });
    }
    // Decisions already recorded (by `aios approve` before this resume).
    let decided: Vec<(usize, i64)> = d.open_items.iter().map(|(s, p)| (*s, *p)).collect();
    for (step, id) in decided {
        let p = d.journal.proposal(id)?;
        if p.status != ProposalStatus::Pending {
            d.open_items.remove(&step);
            d.apply_decision(step, &p);
        }
    }
    d.drive()
}
