//! An agent step's turns, as a pure state machine: which call to make next, what a
//! reply or a failure leads to (the repair round, the schema form given up, the next
//! model), and when to give up (retry the step, or fail it). No IO, no clock: the
//! driver resolves aliases, makes the calls, journals each one before feeding its
//! result here with [`Turns::handle`], and performs the [`Next`] it gets back.
//!
//! Rules, per model in the step's order:
//! - a valid reply ends the step;
//! - an invalid one (not JSON, off the schema) is sent back once with the errors (the
//!   repair round); one cut at `max_tokens` is asked for again, afresh and shorter,
//!   with twice the room;
//! - a second invalid reply, a provider error or an alias that cannot be used moves on
//!   to the next model (`heuristic` answers offline, so it is the last resort that
//!   always answers);
//! - a server that refuses the schema form is asked again at once with plain JSON
//!   (not a failure; the driver remembers the refusal for that provider);
//! - the step's deadline ends the turns at once, except for a later `heuristic` (the
//!   offline draft takes no time): the turns go straight to it.
//!
//! With tools (the step's `tools`), a reply that calls tools is a turn of the loop:
//! each call becomes [`ToolWork`] (inline for a read-only tool, a proposal for
//! another; an unknown tool or arguments that are not an object are answered at
//! once with an error the model reads), and once every call has its result
//! ([`Turns::tool_result`]) the next call carries them. The call that would be the
//! step's `max_turns`-th is the final turn: tools stay listed (the conversation
//! refers to them) but the model is told, and the wire asks, to answer without
//! them; a model that still calls tools then is done with (the next model answers
//! with the results so far).
//!
//! When no model is left the step gives up: it is retried (per the step's `retry`)
//! when any failure was one a retry might not meet again (a timeout, a 5xx, an
//! invalid reply); otherwise it fails with every model's error.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::tools::{self, ToolCall};
use super::{AgentRequest, CallFailure, FailureKind, Message, Role, interpret};

/// Where an agent step is among its calls. Kept by the driver between calls, and
/// stored in a budget item so a decision taken by another process continues there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turns {
    /// Index into `AgentRequest::models`.
    pub model_idx: usize,
    /// The invalid reply the next call corrects (asked once per model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<Repair>,
    /// Errors of earlier calls of this step (shown when it fails).
    #[serde(default)]
    pub errors: Vec<String>,
    /// How many calls came back.
    #[serde(default)]
    pub calls: u32,
    /// The attempt whose `step_started` was recorded (driver bookkeeping).
    #[serde(default)]
    pub started: u32,
    /// The current model's server refused the schema form: ask with plain JSON.
    #[serde(default, skip_serializing_if = "is_false")]
    pub plain: bool,
    /// A failure a retry of the step might not meet again was seen.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retryable: bool,
    /// The aliases that failed before the current one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// The tool loop's conversation after the prompt: replies that called tools and
    /// the results of those calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub convo: Vec<Message>,
    /// Replies that called tools so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tool_turns: u32,
    /// The last reply's calls, with their results as they come.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A call of the last reply and, once known, its result (the text the model reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub call: ToolCall,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// How a tool call is made.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// A read-only tool: at once.
    Inline,
    /// A side effect: a proposal in the inbox, with the agent's stated reason.
    Propose { reason: Option<String> },
}

/// A tool call to make (its result goes to [`Turns::tool_result`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolWork {
    pub call: ToolCall,
    /// Index into `AgentRequest::tools`.
    pub tool: usize,
    pub mode: Mode,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An invalid reply and why, sent back to the model once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    pub response: String,
    pub error: String,
    /// The reply stopped at `max_tokens`: the repair call gets twice the room.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

/// What the step allows beyond its models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// The step's `retry` has attempts left.
    pub retries_left: bool,
}

/// A call to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub model_idx: usize,
    pub alias: String,
    pub repair: Option<Repair>,
    /// The reply's room for this call.
    pub max_tokens: u32,
    /// Ask for plain JSON (the server refused the schema form).
    pub plain: bool,
    /// The tool loop so far (see [`Turns::convo`]).
    pub convo: Vec<Message>,
    /// The last turn of the tool loop: answer without calling tools.
    pub final_turn: bool,
}

/// A reply the step keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Success {
    pub text: String,
    /// The parsed value of a JSON reply.
    pub value: Option<Json>,
    /// A text reply that stopped at `max_tokens`.
    pub truncated: bool,
    /// The aliases that failed before this one answered.
    pub fell_back: Vec<String>,
    /// Their errors.
    pub errors: Vec<String>,
    /// Replies that called tools before this one.
    pub tool_turns: u32,
}

/// The step gives up.
#[derive(Debug, Clone, PartialEq)]
pub struct GiveUp {
    /// Every model's error.
    pub message: String,
    /// Try the step again (its `retry` has attempts left and a retry may help).
    pub retry: bool,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Call(Call),
    /// Make these tool calls; feed each result to [`Turns::tool_result`].
    Tools(Vec<ToolWork>),
    Done(Success),
    GiveUp(GiveUp),
}

/// What happened to the last call (or instead of it).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// The model answered (`offline`: the heuristic provider did).
    Replied {
        text: &'a str,
        finish: Option<&'a str>,
        offline: bool,
        /// The tools it called.
        tool_calls: &'a [ToolCall],
    },
    /// The call failed.
    Failed(&'a CallFailure),
    /// The current alias cannot be used (not configured): the driver's message.
    Unavailable(&'a str),
    /// The operator chose the next model at a budget stop.
    Switch,
    /// The step's deadline passed: the driver's message.
    Deadline(&'a str),
}

/// Whether a finish reason says the reply stopped at `max_tokens`.
pub fn is_truncated(finish: Option<&str>) -> bool {
    matches!(finish, Some("length" | "max_tokens"))
}

impl Turns {
    fn alias<'r>(&self, req: &'r AgentRequest) -> Option<&'r str> {
        req.models.get(self.model_idx).map(String::as_str)
    }

    /// The call to make now (the first one, or the one a budget stop held back).
    pub fn next(&self, req: &AgentRequest, policy: Policy) -> Next {
        let Some(alias) = self.alias(req) else {
            return Next::GiveUp(self.give_up(policy));
        };
        let room = match &self.repair {
            Some(r) if r.truncated => req.max_tokens.saturating_mul(2),
            _ => req.max_tokens,
        };
        Next::Call(Call {
            model_idx: self.model_idx,
            alias: alias.to_string(),
            repair: self.repair.clone(),
            max_tokens: room,
            plain: self.plain,
            convo: self.convo.clone(),
            final_turn: self.final_turn(req),
        })
    }

    /// Whether the next call is the tool loop's last.
    fn final_turn(&self, req: &AgentRequest) -> bool {
        !req.tools.is_empty() && self.tool_turns + 1 >= req.max_turns
    }

    /// The calls still waiting for their result.
    pub fn awaiting(&self) -> impl Iterator<Item = &ToolCall> {
        self.pending
            .iter()
            .filter(|p| p.result.is_none())
            .map(|p| &p.call)
    }

    /// A tool call's result (already redacted): once every call of the turn has
    /// one, the next call. `None` while others are still awaited (or when `id` is
    /// not awaited: a result seen twice is used once).
    pub fn tool_result(
        &mut self,
        req: &AgentRequest,
        policy: Policy,
        id: &str,
        result: &serde_json::Value,
    ) -> Option<Next> {
        let p = self
            .pending
            .iter_mut()
            .find(|p| p.call.id == id && p.result.is_none())?;
        p.result = Some(tools::result_text(result));
        self.results_in(req, policy)
    }

    /// Every call of the turn has its result: they join the conversation.
    fn results_in(&mut self, req: &AgentRequest, policy: Policy) -> Option<Next> {
        if self.pending.iter().any(|p| p.result.is_none()) {
            return None;
        }
        for p in std::mem::take(&mut self.pending) {
            self.convo.push(Message {
                role: Role::Tool,
                content: p.result.unwrap_or_default(),
                tool_calls: Vec::new(),
                tool_call_id: Some(p.call.id),
            });
        }
        Some(self.next(req, policy))
    }

    /// A reply that called tools: the calls to make.
    fn tool_turn(
        &mut self,
        req: &AgentRequest,
        policy: Policy,
        text: &str,
        calls: &[ToolCall],
    ) -> Next {
        self.tool_turns += 1;
        self.repair = None;
        self.convo.push(Message {
            role: Role::Assistant,
            content: text.to_string(),
            tool_calls: calls.to_vec(),
            tool_call_id: None,
        });
        for c in calls {
            let result = match req.tools.iter().position(|t| t.name == c.name) {
                None => {
                    let names: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
                    Some(
                        serde_json::json!({
                            "error": format!("there is no tool `{}`", c.name),
                            "tools": names,
                        })
                        .to_string(),
                    )
                }
                Some(_) if !c.arguments.is_object() => Some(
                    serde_json::json!({
                        "error": "the arguments must be a JSON object",
                        "received": c.arguments,
                    })
                    .to_string(),
                ),
                Some(_) => None,
            };
            self.pending.push(Pending {
                call: c.clone(),
                result,
            });
        }
        let work = self.work(req);
        if work.is_empty() {
            return self
                .results_in(req, policy)
                .unwrap_or_else(|| self.next(req, policy));
        }
        Next::Tools(work)
    }

    /// The calls of the turn still waiting for their result, and how each is made:
    /// inline for a read-only tool, else a proposal whose reason is a `reason`
    /// argument the tool does not take itself, or what the model said in the turn.
    pub fn work(&self, req: &AgentRequest) -> Vec<ToolWork> {
        let said = self
            .convo
            .last()
            .filter(|m| m.role == Role::Assistant)
            .map(|m| m.content.trim().to_string())
            .filter(|t| !t.is_empty());
        let mut work = Vec::new();
        for c in self.awaiting() {
            let Some(i) = req.tools.iter().position(|t| t.name == c.name) else {
                continue;
            };
            let tool = &req.tools[i];
            let mode = if tool.read_only {
                Mode::Inline
            } else {
                let arg = c.arguments["reason"]
                    .as_str()
                    .filter(|_| tool.input_schema["properties"].get("reason").is_none());
                Mode::Propose {
                    reason: arg.map(str::to_string).or_else(|| said.clone()),
                }
            };
            work.push(ToolWork {
                call: strip_reason(c, tool),
                tool: i,
                mode,
            });
        }
        work
    }

    fn give_up(&self, policy: Policy) -> GiveUp {
        GiveUp {
            message: if self.errors.is_empty() {
                "no model left to try".to_string()
            } else {
                self.errors.join("; ")
            },
            retry: self.retryable && policy.retries_left,
        }
    }

    /// The current model is done with: on to the next one.
    fn move_on(&mut self, req: &AgentRequest, policy: Policy) -> Next {
        if let Some(a) = self.alias(req) {
            self.failed.push(a.to_string());
        }
        self.model_idx += 1;
        self.repair = None;
        self.plain = false;
        self.next(req, policy)
    }

    /// The operator chose the next model (a budget stop's `--switch`): it starts
    /// fresh; the skipped one did not fail.
    pub fn skip_model(&mut self) {
        self.model_idx += 1;
        self.repair = None;
        self.plain = false;
    }

    /// Feed what happened; get what to do next.
    pub fn handle(&mut self, req: &AgentRequest, policy: Policy, input: Input<'_>) -> Next {
        let alias = self.alias(req).unwrap_or("?").to_string();
        match input {
            Input::Replied {
                text,
                finish,
                offline,
                tool_calls,
            } => {
                self.calls += 1;
                if !tool_calls.is_empty() && !req.tools.is_empty() {
                    if self.final_turn(req) {
                        self.errors.push(format!(
                            "`{alias}` still called tools at its last turn (max_turns = {})",
                            req.max_turns
                        ));
                        return self.move_on(req, policy);
                    }
                    return self.tool_turn(req, policy, text, tool_calls);
                }
                let cut = is_truncated(finish);
                match interpret(req, text) {
                    Ok(value) => Next::Done(Success {
                        text: text.to_string(),
                        truncated: cut && value.is_none(),
                        value,
                        fell_back: self.failed.clone(),
                        errors: self.errors.clone(),
                        tool_turns: self.tool_turns,
                    }),
                    Err(verr) => {
                        let room = match &self.repair {
                            Some(r) if r.truncated => req.max_tokens.saturating_mul(2),
                            _ => req.max_tokens,
                        };
                        let why = if cut {
                            format!(
                                "the reply stopped at max_tokens ({room}) before it was complete: {verr}"
                            )
                        } else {
                            verr
                        };
                        if offline {
                            let why = super::heuristic::misfit(&why);
                            self.errors.push(format!("`{alias}`: {why}"));
                            return self.move_on(req, policy);
                        }
                        match self.repair {
                            None => {
                                self.errors.push(format!("`{alias}`: {why}"));
                                self.repair = Some(Repair {
                                    response: text.to_string(),
                                    error: why,
                                    truncated: cut,
                                });
                                self.next(req, policy)
                            }
                            Some(_) => {
                                let hint = if cut {
                                    format!(
                                        " (hint: raise the step's `max_tokens`, now {})",
                                        req.max_tokens
                                    )
                                } else {
                                    String::new()
                                };
                                self.errors.push(format!(
                                    "`{alias}` after it was asked to correct its reply: {why}{hint}"
                                ));
                                self.retryable = true;
                                self.move_on(req, policy)
                            }
                        }
                    }
                }
            }
            Input::Failed(f) => {
                self.calls += 1;
                match f.kind {
                    FailureKind::SchemaRefused if !self.plain => {
                        self.plain = true;
                        self.next(req, policy)
                    }
                    FailureKind::Deadline => {
                        self.errors.push(f.full());
                        self.retryable = true;
                        self.out_of_time(req, policy)
                    }
                    kind => {
                        self.errors.push(f.full());
                        if kind == FailureKind::Transient {
                            self.retryable = true;
                        }
                        self.move_on(req, policy)
                    }
                }
            }
            Input::Unavailable(e) => {
                self.errors.push(e.to_string());
                self.move_on(req, policy)
            }
            Input::Switch => {
                self.skip_model();
                self.next(req, policy)
            }
            Input::Deadline(msg) => {
                self.errors.push(msg.to_string());
                self.retryable = true;
                self.out_of_time(req, policy)
            }
        }
    }

    /// The deadline passed: only the offline draft (no time needed) may still answer.
    fn out_of_time(&mut self, req: &AgentRequest, policy: Policy) -> Next {
        let offline = req
            .models
            .iter()
            .enumerate()
            .skip(self.model_idx + 1)
            .find(|(_, m)| m.as_str() == super::config::HEURISTIC);
        match offline {
            Some((i, _)) => {
                if let Some(a) = self.alias(req) {
                    self.failed.push(a.to_string());
                }
                self.model_idx = i;
                self.repair = None;
                self.plain = false;
                self.next(req, policy)
            }
            None => Next::GiveUp(self.give_up(policy)),
        }
    }
}

/// A call's arguments without the `reason` convention's argument (when the tool
/// does not take one itself): what the tool receives.
fn strip_reason(c: &ToolCall, tool: &super::ToolDef) -> ToolCall {
    let mut c = c.clone();
    if tool.input_schema["properties"].get("reason").is_none()
        && let Some(m) = c.arguments.as_object_mut()
    {
        m.remove("reason");
    }
    c
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_tools;
