//! The driver: performs the machine's effects. It is the only part of the engine that
//! touches the journal, the connectors, the async executor and time, and it feeds
//! every result back to the machine as an input.

mod agent;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{Value as Json, json};

use super::machine::{Decided, Effect, Input, Machine, Outcome, Phase, Prepared};
use super::{Observer, RunEnv, RunOutcome};
use crate::clock::Millis;
use crate::connectors::{Action, ExecError, RenderEnv};
use crate::error::Result;
use crate::journal::{
    Decision, Event, Journal, ProposalKind, ProposalRecord, ProposalStatus, RunRecord, RunStatus,
};
use crate::template::{Context, StepView};
use crate::workflow::{StepSpec, Workflow};

/// What a prepared step will do when executed.
#[derive(Debug, Clone)]
pub(super) enum Prepped {
    /// A `set` step's computed values.
    Values(Json),
    /// An `approval` gate's rendered title, body and fields.
    Gate(Json),
    /// A side effect.
    Action(Action),
    /// An agent step's rendered request.
    Agent(Box<crate::agent::AgentRequest>),
    /// A memory step's rendered write (`remember`, `fact`, `outcome`).
    Memory(MemoryWrite),
    /// A `wait` step's end (journal clock, ms).
    Timer(Millis),
}

/// What a memory step writes, rendered.
#[derive(Debug, Clone)]
pub(super) enum MemoryWrite {
    Note {
        text: String,
        tags: Vec<String>,
    },
    Fact {
        entity: String,
        key: String,
        value: Json,
    },
    Outcome {
        values: Json,
    },
}

/// A finished commit or LLM call, sent back from the executor.
struct Completion {
    step: usize,
    attempt: u32,
    done: Done,
}

enum Done {
    Action(std::result::Result<Json, ExecError>),
    Agent(Box<agent::CallDone>),
    Embedded(Box<agent::EmbedDone>),
}

/// The async side: a tokio runtime, built on first use, and an HTTP client, built
/// on the first HTTP action (so runs without side effects start neither).
struct Exec {
    rt: tokio::runtime::Runtime,
    client: Option<reqwest::Client>,
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
    /// Agent steps between calls (model, repair, errors so far).
    pub(super) jobs: HashMap<usize, crate::agent::Job>,
    /// Estimated cost of LLM calls in flight (not journaled yet).
    reserved_usd: f64,
}

/// Commit buffered events at least this often.
const MAX_BUFFERED: usize = 256;

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
        ctx.attach_facts(std::sync::Arc::new(crate::journal::FactReader::new(
            journal.path(),
        )));
        Driver {
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
            exec: None,
            tx,
            rx,
            in_flight: HashMap::new(),
            timers: Vec::new(),
            sleepers: HashMap::new(),
            pending_effects: Vec::new(),
            buffer: Vec::new(),
            jobs: HashMap::new(),
            reserved_usd: 0.0,
        }
    }

    /// Journal events. Transitions of pure work (`set` values, skips, decisions
    /// already durable in the inbox) are buffered and committed together: one
    /// transaction per batch instead of one per step. A crash before the commit loses
    /// only work that resume recomputes identically. The buffer is committed before
    /// anything the outside world can see: a side effect starts, an inbox item is
    /// created, the driver blocks, or the run ends.
    pub(super) fn record(&mut self, events: Vec<Event>) -> Result<()> {
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
        // Whatever happened, stop child work and give the lease back.
        for (_, h) in self.in_flight.drain() {
            h.abort();
        }
        let release = self.journal.release_lease(self.run.id, &self.env.owner);
        let outcome = result?;
        release?;
        Ok(outcome)
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
            match self.machine.outcome() {
                Outcome::Active => {}
                Outcome::Waiting => return self.finish(RunStatus::Waiting, None),
                Outcome::Succeeded => return self.finish(RunStatus::Succeeded, None),
                Outcome::Failed => {
                    let err = self.failure_summary();
                    return self.finish(RunStatus::Failed, Some(err));
                }
            }
            // Wait for a completion, a due retry, or the next poll.
            let now = Instant::now();
            let next_timer = self.timers.iter().map(|(t, _)| *t).min();
            let mut wait = self.env.poll;
            if let Some(t) = next_timer {
                wait = wait.min(t.saturating_duration_since(now));
            }
            self.flush()?;
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

    fn cancelled(&self) -> RunOutcome {
        RunOutcome {
            run_id: self.run.id,
            status: RunStatus::Cancelled,
            error: Some("cancelled by the operator".into()),
        }
    }

    fn finish(&mut self, status: RunStatus, error: Option<String>) -> Result<RunOutcome> {
        self.flush()?;
        let current = self.journal.run_status(self.run.id)?;
        if current == RunStatus::Cancelled {
            return Ok(self.cancelled());
        }
        if current != status || status != RunStatus::Waiting {
            self.record(vec![Event::RunStatus {
                status,
                error: error.clone(),
            }])?;
            self.flush()?;
        }
        Ok(RunOutcome {
            run_id: self.run.id,
            status,
            error,
        })
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
            Effect::Prepare { step, attempt } => self.prepare(step, attempt),
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
                self.set_view(step, "failed", Json::Null);
                self.record(vec![Event::StepFailed {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                    error,
                    retry_at: None,
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

    pub(super) fn set_view(&self, step: usize, status: &'static str, output: Json) {
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

    fn prepare(&mut self, step: usize, attempt: u32) -> Result<()> {
        let s = &self.wf.steps[step];
        if let Some(cond) = &s.when {
            match self.ctx.condition(cond) {
                Ok(true) => {}
                Ok(false) => {
                    self.feed(Input::Prepared {
                        step,
                        outcome: Prepared::Skip,
                    });
                    return Ok(());
                }
                Err(e) => {
                    self.reasons
                        .insert(step, format!("`when` could not be evaluated: {e}"));
                    self.feed(Input::Prepared {
                        step,
                        outcome: Prepared::Fail,
                    });
                    return Ok(());
                }
            }
        }
        let rendered = match &s.spec {
            StepSpec::Set(set) => {
                let mut out = serde_json::Map::with_capacity(set.values.len());
                let mut err = None;
                for (k, v) in &set.values {
                    match self.ctx.render_json(v) {
                        Ok(v) => {
                            out.insert(k.clone(), v);
                        }
                        Err(e) => {
                            err = Some(format!("value `{k}`: {e}"));
                            break;
                        }
                    }
                }
                match err {
                    Some(e) => Err(e),
                    None => Ok(Prepped::Values(Json::Object(out))),
                }
            }
            StepSpec::Approval(a) => (|| {
                let title = self.ctx.render(&a.title)?;
                let body = a.body.as_ref().map(|b| self.ctx.render(b)).transpose()?;
                let fields: Vec<Json> = a
                    .fields
                    .iter()
                    .map(|f| {
                        json!({
                            "name": f.name,
                            "type": f.ty.as_str(),
                            "required": f.required,
                            "default": f.default,
                            "description": f.description,
                        })
                    })
                    .collect();
                Ok::<_, String>(Prepped::Gate(
                    json!({ "title": title, "body": body, "fields": fields }),
                ))
            })(),
            StepSpec::Agent(a) => self.render_agent(a),
            StepSpec::Wait(w) => match (&w.duration, &w.until) {
                (Some(d), _) => Ok(Prepped::Timer(
                    self.journal.now().saturating_add(d.as_millis() as Millis),
                )),
                (None, Some(u)) => self.ctx.render(u).and_then(|text| {
                    text.trim()
                        .parse::<jiff::Timestamp>()
                        .map(|t| Prepped::Timer(t.as_millisecond()))
                        .map_err(|e| {
                            format!("`until` rendered to `{text}`, not an RFC 3339 instant: {e}")
                        })
                }),
                (None, None) => Err("a wait step needs `duration` or `until`".into()),
            },
            StepSpec::Remember(r) => (|| {
                let text = self.ctx.render(&r.text)?;
                if text.trim().is_empty() {
                    return Err("`text` rendered to nothing; there is nothing to remember".into());
                }
                let tags = r
                    .tags
                    .iter()
                    .map(|t| self.ctx.render(t).map(|t| t.trim().to_string()))
                    .filter(|t| !matches!(t, Ok(t) if t.is_empty()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Note { text, tags }))
            })(),
            StepSpec::Fact(f) => (|| {
                let entity = self.ctx.render(&f.entity)?.trim().to_string();
                let key = self.ctx.render(&f.key)?.trim().to_string();
                if entity.is_empty() || key.is_empty() {
                    return Err(format!(
                        "the fact's {} rendered empty",
                        if entity.is_empty() { "entity" } else { "key" }
                    ));
                }
                let value = self
                    .ctx
                    .render_json(&f.value)
                    .map_err(|e| format!("value: {e}"))?;
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Fact { entity, key, value }))
            })(),
            StepSpec::Outcome(o) => (|| {
                let mut values = serde_json::Map::with_capacity(o.values.len());
                for (k, v) in &o.values {
                    values.insert(
                        k.clone(),
                        self.ctx
                            .render_json(v)
                            .map_err(|e| format!("value `{k}`: {e}"))?,
                    );
                }
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Outcome {
                    values: Json::Object(values),
                }))
            })(),
            _ => {
                let dir = std::path::PathBuf::from(&self.run.dir);
                let renv = RenderEnv {
                    dir: &dir,
                    run_uid: &self.run.uid,
                };
                Action::render(s, &self.ctx, &renv, attempt).map(Prepped::Action)
            }
        };
        match rendered {
            Ok(p) => {
                self.prepped[step] = Some(p);
                self.feed(Input::Prepared {
                    step,
                    outcome: Prepared::Ready,
                });
            }
            Err(e) => {
                self.reasons.insert(step, e);
                self.feed(Input::Prepared {
                    step,
                    outcome: Prepared::Fail,
                });
            }
        }
        Ok(())
    }

    fn evidence(&self, step: usize) -> Json {
        const MAX: usize = 16 * 1024;
        let mut upstream = serde_json::Map::new();
        for &n in &self.wf.steps[step].needs {
            let id = &self.wf.steps[n].id;
            let out = self.journal_output(n).unwrap_or(Json::Null);
            let text = out.to_string();
            let v = if text.len() > MAX {
                json!({ "truncated": true, "bytes": text.len() })
            } else {
                out
            };
            upstream.insert(id.clone(), v);
        }
        let mut ev = json!({ "upstream": upstream });
        let agents = self.agent_evidence(step);
        // The fact versions the upstream agents' prompts used: the inbox compares
        // them with the current ones at decision time (stale when a fact changed).
        let facts = crate::agent::context::versions(agents.iter().map(|a| &a["context"]));
        // The proposal's own confidence is its least confident upstream agent's, with
        // that agent's rationale (listings show one number; the detail shows all).
        if let Some(weakest) = agents
            .iter()
            .filter(|a| a["confidence"].is_number())
            .min_by(|a, b| {
                let (x, y) = (a["confidence"].as_f64(), b["confidence"].as_f64());
                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
            })
        {
            ev["confidence"] = weakest["confidence"].clone();
            if weakest["rationale"].is_string() {
                ev["rationale"] = weakest["rationale"].clone();
            }
        }
        if !agents.is_empty() {
            ev["agents"] = Json::Array(agents);
        }
        // The workflow file the action was rendered from: the item turns stale when
        // the file is edited meanwhile (see `journal::versions`).
        if let Some(name) = self
            .run
            .path
            .as_deref()
            .and_then(|p| std::path::Path::new(p).file_name())
        {
            let key = std::path::Path::new(&self.run.dir).join(name);
            ev["versions"] = json!([{
                "kind": "workflow_file",
                "key": key.display().to_string(),
                "version": self.run.source_hash,
            }]);
        }
        if !facts.is_empty() {
            match ev["versions"].as_array_mut() {
                Some(v) => v.extend(facts),
                None => ev["versions"] = Json::Array(facts),
            }
        }
        ev
    }

    fn journal_output(&self, step: usize) -> Option<Json> {
        self.ctx.step_output(&self.wf.steps[step].id)
    }

    fn propose(&mut self, step: usize, attempt: u32) -> Result<()> {
        let s = &self.wf.steps[step];
        let (kind, summary, action) = match &self.prepped[step] {
            Some(Prepped::Gate(g)) => (
                ProposalKind::Approval,
                crate::connectors::truncate_line(g["title"].as_str().unwrap_or("approval"), 100),
                g.clone(),
            ),
            Some(Prepped::Action(a)) => {
                (ProposalKind::Action, a.summary(), serde_json::to_value(a)?)
            }
            _ => {
                return Err(crate::error::Error::other(format!(
                    "internal: step `{}` was proposed before it was rendered",
                    s.id
                )));
            }
        };
        let evidence = self.evidence(step);
        if self.open_item(step, attempt, kind, summary, action, evidence)? {
            self.feed(Input::Proposed { step });
        }
        Ok(())
    }

    /// Create an inbox item for `step` and tell the observer. False when the run was
    /// cancelled meanwhile (nothing is created; the next poll ends the drive).
    fn open_item(
        &mut self,
        step: usize,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
    ) -> Result<bool> {
        let step_id = self.wf.steps[step].id.clone();
        self.flush()?;
        // A decision deadline applies to the step's own question (gate or action),
        // never to attention items or budget stops.
        let deadline = match (self.wf.steps[step].deadline, kind) {
            (Some(d), ProposalKind::Approval | ProposalKind::Action) => Some((
                self.journal
                    .now()
                    .saturating_add(d.after.as_millis() as Millis),
                d.on_timeout.as_str().to_string(),
            )),
            _ => None,
        };
        let Some(id) = self.journal.create_proposal_with(
            self.run.id,
            &step_id,
            attempt,
            kind,
            summary.clone(),
            action.clone(),
            evidence.clone(),
            deadline,
        )?
        else {
            return Ok(false);
        };
        self.open_items.insert(step, id);
        self.observer.event(
            self.run.id,
            &Event::ProposalCreated {
                proposal: id,
                step: step_id,
                attempt,
                kind,
                summary,
                action,
                evidence,
            },
        );
        Ok(true)
    }

    fn ask_attention(&mut self, step: usize, attempt: u32) -> Result<()> {
        let s = &self.wf.steps[step];
        let (summary, action) = match &self.prepped[step] {
            Some(Prepped::Action(a)) => (
                format!("interrupted, outcome unknown: {}", a.summary()),
                serde_json::to_value(a)?,
            ),
            _ => (
                format!("`{}` was interrupted; its outcome is unknown", s.id),
                Json::Null,
            ),
        };
        let evidence = json!({
            "reason": "the process running this step stopped before recording its result",
            "choices": ["approve: run it again", "approve --done: it happened, mark it done", "reject: fail the step"],
        });
        self.open_item(
            step,
            attempt,
            ProposalKind::Attention,
            summary,
            action,
            evidence,
        )?;
        Ok(())
    }

    fn execute(&mut self, step: usize, attempt: u32) -> Result<()> {
        match self.prepped[step].clone() {
            Some(Prepped::Values(v)) => {
                self.succeed(step, attempt, v)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Gate(_)) => {
                let out = self
                    .gate_answers
                    .remove(&step)
                    .unwrap_or_else(|| json!({ "decision": "approved" }));
                self.succeed(step, attempt, out)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Agent(req)) => self.agent_call(step, attempt, *req),
            Some(Prepped::Timer(due_at)) => {
                self.sleepers.remove(&step);
                let now = self.journal.now();
                self.succeed(
                    step,
                    attempt,
                    json!({
                        "until": crate::clock::format_ms(due_at),
                        "woke_at": crate::clock::format_ms(now.max(due_at)),
                    }),
                )?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Memory(w)) => {
                self.write_memory(step, attempt, w)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Action(action)) => {
                self.record(vec![Event::StepStarted {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                }])?;
                self.flush()?;
                let timeout = self.wf.steps[step].timeout;
                let exec_env = self.env.exec.clone();
                let tx = self.tx.clone();
                let needs_client = matches!(action, Action::Http(_));
                let exec = self.exec(needs_client)?;
                let client = exec.client.clone();
                let handle = exec.rt.spawn(async move {
                    let result = action.commit(&exec_env, client.as_ref(), timeout).await;
                    let _ = tx.send(Completion {
                        step,
                        attempt,
                        done: Done::Action(result),
                    });
                });
                self.in_flight.insert(step, handle);
                Ok(())
            }
            None => {
                self.reasons.insert(
                    step,
                    "nothing to execute: the step was never rendered".into(),
                );
                self.feed(Input::Finished {
                    step,
                    ok: false,
                    retryable: false,
                });
                Ok(())
            }
        }
    }

    /// Commit a memory step: its memory event (with the fact version or note id
    /// allocated in the same transaction) and its success, atomically.
    fn write_memory(&mut self, step: usize, attempt: u32, w: MemoryWrite) -> Result<()> {
        self.flush()?;
        let step_id = self.wf.steps[step].id.clone();
        let events = self.journal.commit_allocated(self.run.id, |a| {
            let (ev, output) = match w {
                MemoryWrite::Note { text, tags } => {
                    let note = a.next_note_id()?;
                    let output = json!({ "note": note, "text": text, "tags": tags });
                    (
                        Event::NoteAdded {
                            step: step_id.clone(),
                            note,
                            text,
                            tags,
                        },
                        output,
                    )
                }
                MemoryWrite::Fact { entity, key, value } => {
                    let version = a.next_fact_version(&entity, &key)?;
                    let output = json!({
                        "entity": entity, "key": key, "value": value, "version": version,
                    });
                    (
                        Event::FactSet {
                            step: step_id.clone(),
                            entity,
                            key,
                            value,
                            version,
                        },
                        output,
                    )
                }
                MemoryWrite::Outcome { values } => (
                    Event::OutcomeRecorded {
                        step: Some(step_id.clone()),
                        values: values.clone(),
                    },
                    json!({ "values": values }),
                ),
            };
            Ok(vec![
                ev,
                Event::StepSucceeded {
                    step: step_id.clone(),
                    attempt,
                    output,
                },
            ])
        })?;
        for ev in &events {
            if let Event::StepSucceeded { output, .. } = ev {
                self.set_view(step, "succeeded", output.clone());
            }
            self.observer.event(self.run.id, ev);
        }
        Ok(())
    }

    fn exec(&mut self, with_client: bool) -> Result<&Exec> {
        use crate::error::Error;
        if self.exec.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::other(format!("cannot start the executor: {e}")))?;
            self.exec = Some(Exec { rt, client: None });
        }
        let exec = self.exec.as_mut().expect("just set");
        if with_client && exec.client.is_none() {
            let client = reqwest::Client::builder()
                .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::other(format!("cannot build the HTTP client: {e}")))?;
            exec.client = Some(client);
        }
        Ok(exec)
    }

    fn completed(&mut self, c: Completion) -> Result<()> {
        self.in_flight.remove(&c.step);
        let result = match c.done {
            Done::Agent(done) => return self.agent_done(c.step, c.attempt, *done),
            Done::Embedded(done) => return self.embedded(c.step, c.attempt, *done),
            Done::Action(r) => r,
        };
        if self.machine.step(c.step).attempt != c.attempt {
            return Ok(());
        }
        match result {
            Ok(output) => {
                self.succeed(c.step, c.attempt, output)?;
                self.feed(Input::Finished {
                    step: c.step,
                    ok: true,
                    retryable: false,
                });
            }
            Err(e) => {
                self.reasons.insert(c.step, e.message);
                self.feed(Input::Finished {
                    step: c.step,
                    ok: false,
                    retryable: e.retryable,
                });
            }
        }
        Ok(())
    }

    /// Pick up decisions taken elsewhere (another terminal, `aios approve`).
    fn poll_decisions(&mut self) -> Result<()> {
        if self.open_items.is_empty() {
            return Ok(());
        }
        let items: Vec<(usize, i64)> = self.open_items.iter().map(|(s, p)| (*s, *p)).collect();
        for (step, id) in items {
            let p = self.journal.proposal(id)?;
            if p.status != ProposalStatus::Pending {
                self.open_items.remove(&step);
                self.apply_decision(step, &p);
            }
        }
        Ok(())
    }

    /// Feed a recorded decision on `p` (an item of `step`) to the machine.
    pub(super) fn apply_decision(&mut self, step: usize, p: &ProposalRecord) {
        let Some(decision) = p.decision else { return };
        if p.kind == ProposalKind::Notice {
            // Notices belong to no run: nothing for a driver to apply.
            return;
        }
        match p.kind {
            ProposalKind::Approval => {
                let answer = json!({
                    "decision": if decision == Decision::Reject { "rejected" } else { "approved" },
                    "fields": p.fields.clone().unwrap_or_else(|| json!({})),
                    "reason": p.reason,
                    "by": p.decided_by,
                });
                self.gate_answers.insert(step, answer);
                if decision == Decision::Reject {
                    self.reasons.insert(
                        step,
                        format!(
                            "rejected: {}",
                            p.reason.as_deref().unwrap_or("no reason given")
                        ),
                    );
                }
            }
            ProposalKind::Budget | ProposalKind::Notice => {}
            ProposalKind::Action | ProposalKind::Attention => {
                if let Ok(a) = serde_json::from_value::<Action>(p.final_action().clone()) {
                    self.prepped[step] = Some(Prepped::Action(a));
                }
                if decision == Decision::Reject {
                    let why = p.reason.as_deref().unwrap_or("no reason given");
                    self.reasons.insert(
                        step,
                        if p.kind == ProposalKind::Attention {
                            format!("failed by the operator after an interruption: {why}")
                        } else {
                            format!("rejected: {why}")
                        },
                    );
                }
                if decision == Decision::Done {
                    let out = p
                        .fields
                        .clone()
                        .unwrap_or_else(|| json!({ "marked_done": true }));
                    self.gate_answers.insert(step, out);
                }
            }
        }
        if p.kind == ProposalKind::Budget {
            self.budget_decided(step, p);
        }
        let timeout_fail = crate::inbox::is_timeout_failure(p);
        if timeout_fail {
            self.reasons.insert(
                step,
                format!(
                    "failed: {}",
                    p.reason.as_deref().unwrap_or("no decision by its deadline")
                ),
            );
        }
        let d = match (p.kind, decision) {
            (_, Decision::Approve) => Decided::Approve,
            (_, Decision::Done) => Decided::Done,
            (_, Decision::Reject) if timeout_fail => Decided::Fail,
            (ProposalKind::Attention, Decision::Reject) => Decided::Fail,
            (_, Decision::Reject) => Decided::Reject,
        };
        self.feed(Input::Decided { step, decision: d });
    }
}
