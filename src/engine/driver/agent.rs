//! Agent steps in the driver: render the request, retrieve the step's memory
//! `context` (its query embedded on the executor when `[embeddings]` is configured),
//! check the budget, call the model on the executor (never holding the journal across
//! an `.await`), journal every call before its result is used, ask once more after an
//! invalid reply, fall back to the next model after a provider error, and stop at a
//! spending cap (the caps themselves are in [`super::budget`]).

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::execute::Done;
use super::{Driver, Prepped};
use crate::agent::budget;
use crate::agent::{
    AgentRequest, Backend, CallFailure, Chat, Job, PromptContext, Repair, Reply, Target, Usage,
    UsedContext, heuristic,
};
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::{Event, LlmCall};
use crate::memory::{QueryVector, Scope};
use crate::workflow::{AgentSpec, OutputFormat, StepSpec};

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

/// A step's memory query, embedded on the executor.
pub(in crate::engine) struct EmbedDone {
    req: AgentRequest,
    result: std::result::Result<QueryVector, String>,
}

impl Driver<'_> {
    /// Render an agent step: system, prompt and the offline draft.
    pub(super) fn render_agent(&self, a: &AgentSpec) -> std::result::Result<Prepped, String> {
        let json = a.output == OutputFormat::Json;
        let system = a.system.as_ref().map(|s| self.ctx.render(s)).transpose()?;
        let prompt = self.ctx.render(&a.prompt)?;
        let offline = match &a.offline {
            Some(o) => Some(
                self.ctx
                    .render_json(o)
                    .map_err(|e| format!("`offline`: {e}"))?,
            ),
            None => heuristic::fallback_draft(json, a.schema.as_ref())
                .map(|d| self.ctx.render_json(&d))
                .transpose()
                .map_err(|e| format!("schema default: {e}"))?,
        };
        let context = a
            .context
            .as_ref()
            .map(|c| c.render(&self.ctx))
            .transpose()?
            .map(|query| PromptContext { query, used: None });
        Ok(Prepped::Agent(Box::new(AgentRequest {
            models: a.models.clone(),
            system,
            prompt,
            json,
            schema: a.schema.clone(),
            offline,
            max_tokens: a.max_tokens,
            context,
        })))
    }

    /// Retrieve a step's `context` before its first call. The memory query is
    /// network IO when embeddings are configured: it is embedded on the executor and
    /// comes back as [`EmbedDone`]; full-text retrieval alone happens at once.
    fn retrieve_context(&mut self, step: usize, attempt: u32, req: AgentRequest) -> Result<()> {
        let query = req
            .context
            .as_ref()
            .and_then(|c| c.query.memory.clone())
            .filter(|q| q.chars().any(char::is_alphanumeric));
        let (Some(embedder), Some(query)) = (self.env.embedder.clone(), query) else {
            return self.context_retrieved(step, attempt, req, None, None);
        };
        let tx = self.tx.clone();
        let (exec, client) = self.exec_http()?;
        let handle = exec.rt.spawn(async move {
            let result = embedder
                .embed(&client, std::slice::from_ref(&query))
                .await
                .map_err(|e| e.message)
                .and_then(|mut v| match v.pop() {
                    Some(vec) => Ok(QueryVector {
                        model: embedder.model().to_string(),
                        vec,
                    }),
                    None => Err("the endpoint returned no vector".to_string()),
                });
            let _ = tx.send(super::Completion {
                step,
                attempt,
                done: Done::Embedded(Box::new(EmbedDone { req, result })),
            });
        });
        self.in_flight.insert(step, handle);
        Ok(())
    }

    /// The memory query was embedded (or not): retrieve, then call.
    pub(super) fn embedded(&mut self, step: usize, attempt: u32, done: EmbedDone) -> Result<()> {
        self.in_flight.remove(&step);
        if self.machine.step(step).attempt != attempt {
            return Ok(());
        }
        match done.result {
            Ok(v) => self.context_retrieved(step, attempt, done.req, Some(v), None),
            Err(e) => {
                let warning = format!("the memory query was not embedded ({e}): full-text only");
                self.context_retrieved(step, attempt, done.req, None, Some(warning))
            }
        }
    }

    /// Answer the step's context from memory, keep what it used with the request
    /// (so every call of the step, and a budget stop, uses the same), then call.
    fn context_retrieved(
        &mut self,
        step: usize,
        attempt: u32,
        mut req: AgentRequest,
        vector: Option<QueryVector>,
        warning: Option<String>,
    ) -> Result<()> {
        let scope = self.scope(step);
        if let Some(c) = req.context.as_mut() {
            let r = crate::memory::retrieve(self.journal, &c.query, &scope, vector.as_ref())?;
            c.used = Some(UsedContext::new(&r, warning));
        }
        self.prepped[step] = Some(Prepped::Agent(Box::new(req.clone())));
        self.agent_call(step, attempt, req)
    }

    /// Where a step's decisions come from: this workflow, this step and every step
    /// built from its work (an agent step's own decisions are on the proposals it
    /// feeds).
    fn scope(&self, step: usize) -> Scope {
        let steps = &self.wf.steps;
        let mut fed = vec![false; steps.len()];
        fed[step] = true;
        // Needs point backwards in a valid workflow's dependency order, but do not
        // rely on file order: repeat until nothing changes.
        let mut changed = true;
        while changed {
            changed = false;
            for (j, s) in steps.iter().enumerate() {
                if !fed[j] && s.needs.iter().any(|&n| fed[n]) {
                    fed[j] = true;
                    changed = true;
                }
            }
        }
        Scope {
            workflow: self.wf.name.clone(),
            step: steps[step].id.clone(),
            feeds: steps
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != step && fed[*j])
                .map(|(_, s)| s.id.clone())
                .collect(),
        }
    }

    /// Make the next call of an agent step (or stop at a cap, or fail).
    pub(super) fn agent_call(
        &mut self,
        step: usize,
        attempt: u32,
        req: AgentRequest,
    ) -> Result<()> {
        if req.needs_retrieval() {
            return self.retrieve_context(step, attempt, req);
        }
        let mut job = self.jobs.remove(&step).unwrap_or_default();
        loop {
            let Some(alias) = req.models.get(job.model_idx) else {
                let msg = if job.errors.is_empty() {
                    "no model left to try".to_string()
                } else {
                    job.errors.join("; ")
                };
                self.agent_fail(step, msg, false);
                return Ok(());
            };
            let target = match self.env.agent.resolve(alias) {
                Ok(t) => t,
                Err(e) => {
                    job.errors.push(e);
                    job.model_idx += 1;
                    job.repair = None;
                    continue;
                }
            };
            let chat = crate::agent::chat(&req, &job);
            if target.is_heuristic() {
                return self.heuristic_call(step, attempt, &req, &target, &chat, job);
            }
            let estimate = budget::estimate(&target, &chat);
            if estimate > 0.0
                && let Err(stop) = budget::check(&self.ledger()?, estimate)
            {
                return self.budget_stop(step, req, job, &target, stop);
            }
            // Rate limit (`[rate]`): wait for the provider's turn before the call.
            let turn = Some(crate::rate::RateTarget::llm(target.provider_name()));
            let then = super::rate::Then::Call(Box::new(req.clone()));
            if self.hold_for_turn(step, attempt, turn, then)? {
                self.jobs.insert(step, job);
                return Ok(());
            }
            if job.started != attempt {
                job.started = attempt;
                self.record(vec![Event::StepStarted {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                }])?;
            }
            // Everything before the call is durable before money is spent.
            self.flush()?;
            let Backend::Provider(provider) = target.backend.clone() else {
                unreachable!("heuristic targets returned above")
            };
            self.reserved_usd += estimate;
            let context = req.used_context().map(|c| c.record.clone());
            let timeout = self.wf.steps[step].timeout;
            let tx = self.tx.clone();
            let secrets = self.secrets.clone();
            let (exec, client) = self.exec_http()?;
            let handle = exec.rt.spawn(async move {
                let started = Instant::now();
                let result =
                    crate::agent::provider::call(&client, &provider, &target.model, &chat, timeout)
                        .await;
                // A reply or an error body that echoes a key is redacted before
                // anything records or reads it.
                let result = match result {
                    Ok(mut r) => {
                        r.text = secrets.redact(&r.text);
                        Ok(r)
                    }
                    Err(mut f) => {
                        f.message = secrets.redact(&f.message);
                        f.hint = f.hint.map(|h| secrets.redact(&h));
                        Err(f)
                    }
                };
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
            self.jobs.insert(step, job);
            return Ok(());
        }
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
        LlmCall {
            step: self.wf.steps[step].id.clone(),
            attempt,
            alias: target.alias.clone(),
            provider: target.provider_name().to_string(),
            model: target.model.clone(),
            request: crate::agent::request_record(target, chat, context),
            response: None,
            error: None,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            latency_ms: latency.as_millis() as u64,
            http_attempts: 0,
            heuristic: target.is_heuristic(),
        }
    }

    /// The offline provider: instant and free, so its call and the step's success
    /// are buffered like other pure work.
    fn heuristic_call(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        target: &Target,
        chat: &Chat,
        mut job: Job,
    ) -> Result<()> {
        let started = Instant::now();
        let answer = heuristic::answer(req);
        let context = req.used_context().map(|c| &c.record);
        let mut call = self.call_event(step, attempt, target, chat, started.elapsed(), context);
        match answer {
            Ok((text, value)) => {
                call.response = Some(text.clone());
                let out = with_context(
                    crate::agent::output(target, &text, value, Usage::default()),
                    req,
                );
                self.set_view(step, "succeeded", out.clone());
                self.record(vec![
                    Event::LlmCall(Box::new(call)),
                    Event::StepSucceeded {
                        step: self.wf.steps[step].id.clone(),
                        attempt,
                        output: out,
                    },
                ])?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
            }
            Err(e) => {
                call.error = Some(e.clone());
                self.record(vec![Event::LlmCall(Box::new(call))])?;
                job.errors.push(format!("`{}`: {e}", target.alias));
                self.agent_fail(step, job.errors.join("; "), false);
            }
        }
        Ok(())
    }

    /// A call came back: journal it (with the step's success when it is valid) before
    /// anything uses it.
    pub(super) fn agent_done(&mut self, step: usize, attempt: u32, done: CallDone) -> Result<()> {
        self.in_flight.remove(&step);
        self.reserved_usd = (self.reserved_usd - done.estimate).max(0.0);
        let CallDone {
            target,
            chat,
            result,
            latency,
            context,
            ..
        } = done;
        let mut call = self.call_event(step, attempt, &target, &chat, latency, context.as_ref());
        let current = self.machine.step(step).attempt == attempt;
        let req = match &self.prepped[step] {
            Some(Prepped::Agent(r)) if current => Some((**r).clone()),
            _ => None,
        };
        let Some(req) = req else {
            // A stale attempt: its cost is still real.
            if let Ok(r) = &result {
                call.response = Some(r.text.clone());
                call.tokens_in = r.tokens_in;
                call.tokens_out = r.tokens_out;
                call.cost_usd = target.cost(r.tokens_in, r.tokens_out);
            }
            self.record(vec![Event::LlmCall(Box::new(call))])?;
            return self.flush();
        };
        let mut job = self.jobs.remove(&step).unwrap_or_default();
        job.calls += 1;
        match result {
            Ok(reply) => {
                call.response = Some(reply.text.clone());
                call.tokens_in = reply.tokens_in;
                call.tokens_out = reply.tokens_out;
                call.http_attempts = reply.http_attempts;
                call.cost_usd = target.cost(reply.tokens_in, reply.tokens_out);
                let usage = Usage {
                    tokens_in: reply.tokens_in,
                    tokens_out: reply.tokens_out,
                    cost_usd: call.cost_usd,
                };
                match crate::agent::interpret(&req, &reply.text) {
                    Ok(value) => {
                        let out = with_context(
                            crate::agent::output(&target, &reply.text, value, usage),
                            &req,
                        );
                        self.set_view(step, "succeeded", out.clone());
                        // The paid call and the step's success: one transaction, now.
                        self.record(vec![
                            Event::LlmCall(Box::new(call)),
                            Event::StepSucceeded {
                                step: self.wf.steps[step].id.clone(),
                                attempt,
                                output: out,
                            },
                        ])?;
                        self.flush()?;
                        self.feed(Input::Finished {
                            step,
                            ok: true,
                            retryable: false,
                        });
                    }
                    Err(verr) => {
                        call.error = Some(verr.clone());
                        self.record(vec![Event::LlmCall(Box::new(call))])?;
                        self.flush()?;
                        match job.repair.take() {
                            None => {
                                job.errors.push(format!("`{}`: {verr}", target.alias));
                                job.repair = Some(Repair {
                                    response: reply.text,
                                    error: verr,
                                });
                                self.jobs.insert(step, job);
                                return self.agent_call(step, attempt, req);
                            }
                            Some(_) => {
                                job.errors.push(format!(
                                    "`{}` after it was asked to correct its reply: {verr}",
                                    target.alias
                                ));
                                self.agent_fail(step, job.errors.join("; "), false);
                            }
                        }
                    }
                }
            }
            Err(f) => {
                call.error = Some(f.full());
                call.http_attempts = f.http_attempts;
                self.record(vec![Event::LlmCall(Box::new(call))])?;
                self.flush()?;
                job.errors.push(f.full());
                if job.model_idx + 1 < req.models.len() {
                    job.model_idx += 1;
                    job.repair = None;
                    self.jobs.insert(step, job);
                    return self.agent_call(step, attempt, req);
                }
                self.agent_fail(step, job.errors.join("; "), f.retryable);
            }
        }
        Ok(())
    }

    fn agent_fail(&mut self, step: usize, message: String, retryable: bool) {
        self.jobs.remove(&step);
        self.reasons.insert(step, message);
        self.feed(Input::Finished {
            step,
            ok: false,
            retryable,
        });
    }

    /// The agent steps a step was built from (through its needs), with their
    /// rationale and confidence: a proposal's evidence.
    pub(super) fn agent_evidence(&self, step: usize) -> Vec<crate::journal::Drafter> {
        let n = self.wf.steps.len();
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = self.wf.steps[step].needs.clone();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(self.wf.steps[i].needs.iter().copied());
            }
        }
        let mut out = Vec::new();
        for (i, s) in self.wf.steps.iter().enumerate() {
            if !seen[i] || !matches!(s.spec, StepSpec::Agent(_)) {
                continue;
            }
            let Some(o) = self.ctx.step_output(&s.id) else {
                continue;
            };
            if o.is_null() {
                continue;
            }
            let text = |k: &str| o[k].as_str().map(str::to_string);
            out.push(crate::journal::Drafter {
                step: s.id.clone(),
                model: text("model"),
                provider: text("provider"),
                heuristic: o["heuristic"].as_bool(),
                rationale: text("rationale"),
                confidence: o["confidence"].as_f64(),
                context: Some(o["context"].clone()).filter(|c| !c.is_null()),
            });
        }
        out
    }
}

/// An agent step's output with the record of the memory its prompt used
/// (`output.context`), so resume and proposals read it from the journal.
fn with_context(mut out: Json, req: &AgentRequest) -> Json {
    if let Some(c) = req.used_context() {
        out["context"] = c.record.clone();
    }
    out
}
