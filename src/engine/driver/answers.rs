//! An agent step's call came back (or the offline provider answered in place):
//! the call is journaled before anything uses it (a successful one in the same
//! transaction as the step's success, any other before the next call starts), then
//! the driver does what [`crate::agent::turns`] says: the next call ([`super::calls`]),
//! the step's success, or giving up (another attempt or the rescue item). Replies
//! and errors are redacted on the executor before they come back.

use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::Driver;
use super::Prepped;
use super::agent::with_context;
use super::calls::CallDone;
use crate::agent::turns::{GiveUp, Input as TurnInput, Next, Policy, Success};
use crate::agent::{
    AgentRequest, Backend, CallFailure, Chat, FailureKind, Reply, Target, Turns, Usage, heuristic,
    provider,
};
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::{Event, LlmCall, Verdict};

impl Driver<'_> {
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
    pub(super) fn offline_call(
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
