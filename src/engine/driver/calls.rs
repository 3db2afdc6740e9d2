//! Performing an agent step's turns: [`crate::agent::turns`] decides (next call,
//! repair round, next model, retry, give up); this module does. It resolves each
//! alias, picks how JSON is asked for (the schema form unless the provider refused
//! it before), checks the step's deadline and the budget, calls the model on the
//! executor (never holding the journal across an `.await`); what comes back is
//! [`super::answers`]'s, which journals every call before its result is used. Calls
//! in flight are shown to the observer (the live line of `aios run`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::Driver;
use super::answers::redact_result;
use super::execute::Done;
use crate::agent::turns::{Call, Input as TurnInput, Next, Policy};
use crate::agent::{
    AgentRequest, Backend, CallFailure, Chat, FailureKind, Form, Reply, Target, Turns, budget,
    provider,
};
use crate::engine::LiveCall;
use crate::error::Result;
use crate::journal::{Event, LlmCallRecord};

/// A finished call, sent back from the executor.
pub(in crate::engine) struct CallDone {
    pub(super) target: Target,
    pub(super) chat: Chat,
    pub(super) result: std::result::Result<Reply, CallFailure>,
    pub(super) latency: Duration,
    pub(super) estimate: f64,
    /// The record of the memory the prompt used.
    pub(super) context: Option<Json>,
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
    pub(super) deadlines: HashMap<usize, (u32, Instant)>,
    /// Calls in flight.
    pub(super) live: HashMap<usize, InFlight>,
    /// Whether (provider, model, endpoint) refused the schema form recently.
    pub(super) refusals: HashMap<(String, String, String), bool>,
    /// Journaled calls of an interrupted attempt, replayed into the next one's
    /// turns so resume never pays for them twice.
    pub(in crate::engine) carried: HashMap<usize, Vec<LlmCallRecord>>,
    /// The same for a step with tools: its loop's journaled calls and tool results
    /// (across the attempts its proposals started).
    pub(in crate::engine) carried_loop: HashMap<usize, Vec<super::replay::LoopRecord>>,
    /// One HTTP client per provider (each has its own `connect_timeout`).
    pub(super) clients: HashMap<String, reqwest::Client>,
    /// The conversation of each step's last journaled call: a call that continues
    /// it journals only its new messages (see [`crate::agent::request_record`]).
    pub(super) sent: HashMap<usize, Vec<crate::agent::Message>>,
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

    pub(super) fn step_deadline(&self, step: usize) -> Duration {
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
}
