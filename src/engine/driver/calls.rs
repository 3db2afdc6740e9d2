//! Performing an agent step's turns: [`crate::agent::turns`] decides (next call,
//! repair round, next model, retry, give up); this module does. It resolves each
//! alias, picks how JSON is asked for (the schema form unless the provider refused
//! it before), checks the step's deadline and the budget, calls the model on the
//! executor (never holding the journal across an `.await`), and journals every call
//! before its result is used: a successful call in the same transaction as the
//! step's success, any other before the next call starts. Calls in flight are shown
//! to the observer (the live line of `aios run`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::Driver;
use super::Prepped;
use super::agent::with_context;
use super::execute::Done;
use crate::agent::turns::{Call, GiveUp, Input as TurnInput, Next, Policy, Success};
use crate::agent::{
    AgentRequest, Backend, CallFailure, Chat, FailureKind, Form, Reply, Target, Turns, Usage,
    budget, heuristic, provider,
};
use crate::engine::LiveCall;
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::{Event, LlmCall, LlmCallRecord, Verdict};

/// A finished call, sent back from the executor.
pub(in crate::engine) struct CallDone {
    target: Target,
    chat: Chat,
    result: std::result::Result<Reply, CallFailure>,
    latency: Duration,
    estimate: f64,
    /// The record of the memory the prompt used.
    context: Option<Json>,
}

/// A call in flight, for the live line.
pub(super) struct InFlight {
    step: String,
    model: String,
    since: Instant,
    pieces: Arc<AtomicU64>,
    streaming: bool,
}

/// What the driver keeps about agent steps between calls.
#[derive(Default)]
pub(in crate::engine) struct AgentState {
    /// Where each step is among its calls.
    pub(super) turns: HashMap<usize, Turns>,
    /// Each step's deadline: (attempt, when it passes).
    deadlines: HashMap<usize, (u32, Instant)>,
    /// Calls in flight.
    live: HashMap<usize, InFlight>,
    /// Whether (provider, model, endpoint) refused the schema form recently.
    refusals: HashMap<(String, String, String), bool>,
    /// Journaled calls of an interrupted attempt, replayed into the next one's
    /// turns so resume never pays for them twice.
    pub(in crate::engine) carried: HashMap<usize, Vec<LlmCallRecord>>,
    /// The same for a step with tools: its loop's journaled calls and tool results
    /// (across the attempts its proposals started).
    pub(in crate::engine) carried_loop: HashMap<usize, Vec<super::replay::LoopRecord>>,
    /// One HTTP client per provider (each has its own `connect_timeout`).
    clients: HashMap<String, reqwest::Client>,
    /// The conversation of each step's last journaled call: a call that continues
    /// it journals only its new messages (see [`crate::agent::request_record`]).
    sent: HashMap<usize, Vec<crate::agent::Message>>,
}

impl AgentState {
    /// The calls in flight, as the observer sees them.
    pub(super) fn live(&self) -> Vec<LiveCall> {
        let mut v: Vec<LiveCall> = self
            .live
            .values()
            .map(|f| LiveCall {
                step: f.step.clone(),
                model: f.model.clone(),
                elapsed: f.since.elapsed(),
                tokens: f.streaming.then(|| f.pieces.load(Ordering::Relaxed)),
            })
            .collect();
        v.sort_by(|a, b| a.step.cmp(&b.step));
        v
    }

    pub(super) fn has_live(&self) -> bool {
        !self.live.is_empty()
    }
}

impl Driver<'_> {
    pub(super) fn policy(&self, step: usize) -> Policy {
        Policy {
            retries_left: self.machine.retries_left(step),
        }
    }

    /// Run an agent step's attempt: its first call, or the one a budget stop held
    /// back. Calls journaled by an interrupted attempt are replayed first.
    pub(super) fn agent_call(
        &mut self,
        step: usize,
        attempt: u32,
        req: AgentRequest,
    ) -> Result<()> {
        if req.needs_retrieval() {
            return self.retrieve_context(step, attempt, req);
        }
        let mut turns = self.agents.turns.remove(&step).unwrap_or_default();
        let policy = self.policy(step);
        // Between a turn's tool calls (a proposal was decided): make the rest.
        if turns.awaiting().next().is_some() {
            let work = turns.work(&req);
            return self.run_tools(step, attempt, req, turns, work);
        }
        let mut next = turns.next(&req, policy);
        if let Some(records) = self.agents.carried_loop.remove(&step) {
            next = super::replay::replay_loop(&req, policy, &mut turns, &records, next);
            if let Next::Tools(work) = next {
                return self.run_tools(step, attempt, req, turns, work);
            }
        } else if let Some(calls) = self.agents.carried.remove(&step) {
            next = super::replay::replay(&req, policy, &mut turns, &calls, next);
        }
        self.perform_turn(step, attempt, req, turns, next)
    }

    /// Do what the turns decided, until a call is in flight or the step is settled.
    pub(super) fn perform_turn(
        &mut self,
        step: usize,
        attempt: u32,
        req: AgentRequest,
        mut turns: Turns,
        mut next: Next,
    ) -> Result<()> {
        let policy = self.policy(step);
        loop {
            let call = match next {
                Next::Call(c) => c,
                Next::GiveUp(g) => return self.agent_give_up(step, g),
                Next::Tools(work) => return self.run_tools(step, attempt, req, turns, work),
                Next::Done(_) => {
                    return Err(crate::error::Error::other(
                        "internal: an agent step succeeded without a reply",
                    ));
                }
            };
            let target = match self.env.agent.resolve(&call.alias) {
                Ok(t) => t,
                Err(e) => {
                    next = turns.handle(&req, policy, TurnInput::Unavailable(&e));
                    continue;
                }
            };
            if !target.is_heuristic()
                && let Some(why) = self.provider_blocked(step, target.provider_name())?
            {
                // Its provider's breaker is open: on to the next model, if any.
                next = turns.handle(&req, policy, TurnInput::Unavailable(&why));
                continue;
            }
            let form = self.form_for(&req, &call, &target)?;
            if target.is_heuristic() {
                let chat = crate::agent::chat(&req, &call, form, &target.sampling);
                match self.offline_call(step, attempt, &req, &target, &chat, &mut turns, policy)? {
                    Some(n) => {
                        next = n;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            // Rate limit (`[rate]`): wait for the provider's turn before the call
            // (the wait does not count against the step's deadline).
            let rate = Some(crate::connectors::Target::new(
                crate::connectors::TargetKind::Llm,
                target.provider_name(),
            ));
            if let Some(due) = self.wait_for_turn(step, attempt, rate)? {
                let then = super::rate::Then::Turn(Box::new(super::rate::HeldTurn {
                    req,
                    turns,
                    next: Next::Call(call),
                }));
                self.hold(step, attempt, due, then);
                return Ok(());
            }
            let deadline = self.deadline(step, attempt);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let msg = format!(
                    "the step's deadline ({}) passed before `{}` could be called (hint: raise the step's `timeout`)",
                    crate::clock::format_duration(self.step_deadline(step)),
                    call.alias
                );
                next = turns.handle(&req, policy, TurnInput::Deadline(&msg));
                continue;
            }
            // The call's conversation takes the loop's messages over (no copy).
            let chat = crate::agent::chat_of(&req, call, form, &target.sampling);
            let estimate = budget::estimate(&target, &chat);
            if estimate > 0.0
                && let Err(stop) = budget::check(&self.ledger(step)?, estimate)
            {
                return self.budget_stop(step, req, turns, &target, stop);
            }
            if turns.started != attempt {
                turns.started = attempt;
                self.record(vec![Event::StepStarted {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                }])?;
            }
            // Everything before the call is durable before money is spent.
            self.flush()?;
            self.spawn_call(step, attempt, &req, target, chat, estimate, remaining)?;
            self.agents.turns.insert(step, turns);
            return Ok(());
        }
    }

    /// The step's deadline for this attempt (set when its first call is made).
    fn deadline(&mut self, step: usize, attempt: u32) -> Instant {
        let limit = self.step_deadline(step);
        match self.agents.deadlines.get(&step) {
            Some((a, at)) if *a == attempt => *at,
            _ => {
                let at = Instant::now() + limit;
                self.agents.deadlines.insert(step, (attempt, at));
                at
            }
        }
    }

    fn step_deadline(&self, step: usize) -> Duration {
        self.wf.steps[step]
            .timeout
            .unwrap_or(Duration::from_secs(600))
    }

    /// How this call asks for JSON: the schema form, unless the turns say the server
    /// refused it, or the journal remembers that it did lately.
    fn form_for(&mut self, req: &AgentRequest, call: &Call, target: &Target) -> Result<Form> {
        if !req.json {
            return Ok(Form::Text);
        }
        if call.plain || req.schema.is_none() {
            return Ok(Form::Json);
        }
        let Backend::Provider(p) = &target.backend else {
            return Ok(Form::Schema);
        };
        let key = (p.name.clone(), target.model.clone(), provider::endpoint(p));
        let refused = match self.agents.refusals.get(&key) {
            Some(r) => *r,
            None => {
                let since = self
                    .journal
                    .now()
                    .saturating_sub(crate::agent::structured::REFUSAL_MEMORY_MS);
                let r = self
                    .journal
                    .schema_refusal(&key.0, &key.1, &key.2, since)?
                    .is_some();
                self.agents.refusals.insert(key, r);
                r
            }
        };
        Ok(if refused { Form::Json } else { Form::Schema })
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_call(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        target: Target,
        chat: Chat,
        estimate: f64,
        remaining: Duration,
    ) -> Result<()> {
        let Backend::Provider(p) = target.backend.clone() else {
            unreachable!("offline calls are answered in place")
        };
        self.reserved_usd += estimate;
        let context = req.used_context().map(|c| c.record.clone());
        let pieces = Arc::new(AtomicU64::new(0));
        self.agents.live.insert(
            step,
            InFlight {
                step: self.wf.steps[step].id.clone(),
                model: format!("{}/{}", p.name, target.model),
                since: Instant::now(),
                pieces: pieces.clone(),
                streaming: p.stream,
            },
        );
        let limit = self.step_deadline(step);
        let tx = self.tx.clone();
        let secrets = self.secrets.clone();
        let client = self.llm_client(&p)?;
        let exec = self.exec()?;
        let handle = exec.rt.spawn(async move {
            let started = Instant::now();
            let call = provider::call(&client, &p, &target.model, &chat, p.timeout, Some(pieces));
            let result = match tokio::time::timeout(remaining, call).await {
                Ok(r) => r,
                Err(_) => Err(CallFailure {
                    message: format!(
                        "provider `{}` (model `{}`): no reply before the step's deadline ({}) passed",
                        p.name,
                        target.model,
                        crate::clock::format_duration(limit)
                    ),
                    hint: Some("raise the step's `timeout`, or use a faster model".into()),
                    kind: FailureKind::Deadline,
                    http_attempts: 1,
                }),
            };
            // A reply (streamed or not) or an error body that echoes a key is
            // redacted before the turns read it or anything records it.
            let result = redact_result(&secrets, result);
            let _ = tx.send(super::Completion {
                step,
                attempt,
                done: Done::Agent(Box::new(CallDone {
                    target,
                    chat,
                    result,
                    latency: started.elapsed(),
                    estimate,
                    context,
                })),
            });
        });
        self.in_flight.insert(step, handle);
        Ok(())
    }

    /// The HTTP client for an LLM provider (its `connect_timeout` applied).
    fn llm_client(&mut self, p: &crate::agent::config::ProviderConfig) -> Result<reqwest::Client> {
        if let Some(c) = self.agents.clients.get(&p.name) {
            return Ok(c.clone());
        }
        let c = provider::client(p).map_err(|e| {
            crate::error::Error::other(format!("cannot build the HTTP client: {e}"))
        })?;
        self.agents.clients.insert(p.name.clone(), c.clone());
        Ok(c)
    }

    fn call_event(
        &self,
        step: usize,
        attempt: u32,
        target: &Target,
        chat: &Chat,
        latency: Duration,
        context: Option<&Json>,
    ) -> LlmCall {
        let earlier = crate::agent::continued(self.agents.sent.get(&step).map(Vec::as_slice), chat);
        LlmCall {
            step: self.wf.steps[step].id.clone(),
            attempt,
            alias: target.alias.clone(),
            provider: target.provider_name().to_string(),
            model: target.model.clone(),
            request: crate::agent::request_record(target, chat, context, earlier),
            response: None,
            error: None,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            latency_ms: latency.as_millis() as u64,
            http_attempts: 0,
            heuristic: target.is_heuristic(),
            finish_reason: None,
            failure: None,
            persona: Some(self.persona_name(step).to_string()),
            tool_calls: Vec::new(),
        }
    }

    /// The offline provider: instant and free, so its call is buffered like other
    /// pure work. Returns what to do next, or `None` once the step is settled.
    #[allow(clippy::too_many_arguments)]
    fn offline_call(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        target: &Target,
        chat: &Chat,
        turns: &mut Turns,
        policy: Policy,
    ) -> Result<Option<Next>> {
        let started = Instant::now();
        let text = heuristic::draft_text(req);
        let context = req.used_context().map(|c| &c.record);
        let mut call = self.call_event(step, attempt, target, chat, started.elapsed(), context);
        call.response = Some(text.clone());
        let errors = turns.errors.len();
        let next = turns.handle(
            req,
            policy,
            TurnInput::Replied {
                text: &text,
                finish: None,
                offline: true,
                tool_calls: &[],
            },
        );
        if turns.errors.len() > errors {
            call.error = turns.errors.last().cloned();
        }
        self.record(vec![Event::LlmCall(Box::new(call))])?;
        self.agents.sent.insert(step, chat.messages.clone());
        match next {
            Next::Done(s) => {
                self.agent_succeeded(step, attempt, req, target, s, Usage::default())?;
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    /// A call came back: journal it (with the step's success when it is valid)
    /// before anything uses it, then do what the turns say.
    pub(super) fn agent_done(&mut self, step: usize, attempt: u32, done: CallDone) -> Result<()> {
        self.in_flight.remove(&step);
        if self.agents.live.remove(&step).is_some() && self.observer.wants_live() {
            let live = self.agents.live();
            self.observer.live(&live);
        }
        self.reserved_usd = (self.reserved_usd - done.estimate).max(0.0);
        let CallDone {
            target,
            chat,
            result,
            latency,
            context,
            ..
        } = done;
        let verdict = match &result {
            Ok(_) => Some(Verdict::Answered),
            Err(f) => match f.kind {
                FailureKind::Transient => Some(Verdict::Failed(f.full())),
                FailureKind::Fatal | FailureKind::SchemaRefused => Some(Verdict::Answered),
                // The step ran out of time: nothing said about the provider.
                FailureKind::Deadline => None,
            },
        };
        if let (Some(v), false) = (verdict, target.is_heuristic()) {
            let provider = crate::connectors::Target::new(
                crate::connectors::TargetKind::Llm,
                target.provider_name(),
            );
            self.report(Some(provider), v)?;
        }
        let mut call = self.call_event(step, attempt, &target, &chat, latency, context.as_ref());
        match &result {
            Ok(r) => {
                call.response = Some(r.text.clone());
                call.tokens_in = r.tokens_in;
                call.tokens_out = r.tokens_out;
                call.http_attempts = r.http_attempts;
                call.cost_usd = target.cost(r.tokens_in, r.tokens_out);
                call.finish_reason = r.finish.clone();
                call.tool_calls = r.tool_calls.clone();
            }
            Err(f) => {
                call.error = Some(f.full());
                call.http_attempts = f.http_attempts;
                call.failure = Some(f.kind.as_str().to_string());
                if f.kind == FailureKind::SchemaRefused
                    && let Backend::Provider(p) = &target.backend
                {
                    let key = (p.name.clone(), target.model.clone(), provider::endpoint(p));
                    self.agents.refusals.insert(key, true);
                }
            }
        }
        let current = self.machine.step(step).attempt == attempt;
        let req = match &self.prepped[step] {
            Some(Prepped::Agent(r)) if current => Some((**r).clone()),
            _ => None,
        };
        let Some(req) = req else {
            // A stale attempt: its cost is still real.
            self.record(vec![Event::LlmCall(Box::new(call))])?;
            self.agents.sent.insert(step, chat.messages);
            return self.flush();
        };
        let mut turns = self.agents.turns.remove(&step).unwrap_or_default();
        let policy = self.policy(step);
        let errors = turns.errors.len();
        let next = match &result {
            Ok(r) => turns.handle(
                &req,
                policy,
                TurnInput::Replied {
                    text: &r.text,
                    finish: r.finish.as_deref(),
                    offline: false,
                    tool_calls: &r.tool_calls,
                },
            ),
            Err(f) => turns.handle(&req, policy, TurnInput::Failed(f)),
        };
        if result.is_ok() && turns.errors.len() > errors {
            call.error = turns.errors.last().cloned();
        }
        self.record(vec![Event::LlmCall(Box::new(call))])?;
        self.agents.sent.insert(step, chat.messages);
        match next {
            Next::Done(s) => {
                let usage = result
                    .as_ref()
                    .map(|r| Usage {
                        tokens_in: r.tokens_in,
                        tokens_out: r.tokens_out,
                        cost_usd: target.cost(r.tokens_in, r.tokens_out),
                    })
                    .unwrap_or_default();
                // The paid call and the step's success: one transaction, now.
                self.agent_succeeded(step, attempt, &req, &target, s, usage)?;
                self.flush()
            }
            other => {
                self.flush()?;
                self.perform_turn(step, attempt, req, turns, other)
            }
        }
    }

    /// The step's output, marked when it came from a fallback or was cut short.
    fn agent_succeeded(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        target: &Target,
        s: Success,
        usage: Usage,
    ) -> Result<()> {
        let mut out = with_context(crate::agent::output(target, &s.text, s.value, usage), req);
        if !s.fell_back.is_empty() {
            out["fallback"] = json!({ "from": s.fell_back, "errors": s.errors });
        }
        if s.truncated {
            out["truncated"] = json!(true);
        }
        if s.tool_turns > 0 {
            out["tool_turns"] = json!(s.tool_turns);
        }
        self.agents.deadlines.remove(&step);
        self.set_view(step, "succeeded", out.clone());
        self.record(vec![Event::StepSucceeded {
            step: self.wf.steps[step].id.clone(),
            attempt,
            output: out,
        }])?;
        self.feed(Input::Finished {
            step,
            ok: true,
            retryable: false,
        });
        Ok(())
    }

    /// No model is left: another attempt when the step's `retry` allows, else the
    /// rescue item (see [`super::rescue`]), unless the run is failing anyway (another
    /// step failed meanwhile) or a dry run (which never waits on the inbox): then the
    /// step fails too.
    pub(super) fn agent_give_up(&mut self, step: usize, g: GiveUp) -> Result<()> {
        self.agents.turns.remove(&step);
        self.agents.deadlines.remove(&step);
        if g.retry || self.machine.halted() || self.dry() {
            self.reasons.insert(step, g.message);
            self.feed(Input::Finished {
                step,
                ok: false,
                retryable: g.retry,
            });
            return Ok(());
        }
        self.open_rescue(step, g.message)
    }
}

/// A call's result with every known secret value redacted: the reply's text (a
/// JSON reply stays JSON, see [`crate::agent::redact_reply`]), or the failure's
/// message and hint.
pub(in crate::engine) fn redact_result(
    secrets: &crate::secrets::Secrets,
    result: std::result::Result<Reply, CallFailure>,
) -> std::result::Result<Reply, CallFailure> {
    if secrets.nothing_to_redact() {
        return result;
    }
    match result {
        Ok(mut r) => {
            r.text = crate::agent::redact_reply(secrets, &r.text);
            for c in &mut r.tool_calls {
                secrets.redact_json(&mut c.arguments);
            }
            Ok(r)
        }
        Err(mut f) => {
            f.message = secrets.redact(&f.message);
            f.hint = f.hint.map(|h| secrets.redact(&h));
            Err(f)
        }
    }
}
