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
//! When no model is left the step gives up: it is retried (per the step's `retry`)
//! when any failure was one a retry might not meet again (a timeout, a 5xx, an
//! invalid reply); otherwise it fails with every model's error.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{AgentRequest, CallFailure, FailureKind, interpret};

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
        })
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
            } => {
                self.calls += 1;
                let cut = is_truncated(finish);
                match interpret(req, text) {
                    Ok(value) => Next::Done(Success {
                        text: text.to_string(),
                        truncated: cut && value.is_none(),
                        value,
                        fell_back: self.failed.clone(),
                        errors: self.errors.clone(),
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

#[cfg(test)]
mod tests;
