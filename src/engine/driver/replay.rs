//! Resume of an agent step: the calls an interrupted attempt journaled, and for a
//! step with tools its loop's calls and tool results (across the attempts its
//! proposals and budget stops started), fed into fresh turns so that nothing
//! journaled is paid for or made again.

use serde_json::Value as Json;

use crate::agent::turns::{Input as TurnInput, Next, Policy};
use crate::agent::{AgentRequest, CallFailure, Turns};
use crate::journal::{Event, LlmCallRecord};

/// Feed an interrupted attempt's journaled calls into fresh turns, as long as each
/// is the call the turns would make next (same model, in order).
pub(super) fn replay(
    req: &AgentRequest,
    policy: Policy,
    turns: &mut Turns,
    calls: &[LlmCallRecord],
    mut next: Next,
) -> Next {
    for c in calls {
        let Next::Call(call) = &next else { break };
        if call.alias != c.call.alias {
            break;
        }
        let k = &c.call;
        next = match (&k.failure, &k.response) {
            (Some(kind), _) => {
                let Some(kind) = crate::agent::FailureKind::parse(kind) else {
                    break;
                };
                let f = CallFailure {
                    message: k.error.clone().unwrap_or_default(),
                    hint: None,
                    kind,
                    http_attempts: k.http_attempts,
                };
                turns.handle(req, policy, TurnInput::Failed(&f))
            }
            (None, Some(text)) => turns.handle(
                req,
                policy,
                TurnInput::Replied {
                    text,
                    finish: k.finish_reason.as_deref(),
                    offline: k.heuristic,
                    tool_calls: &k.tool_calls,
                },
            ),
            _ => break,
        };
    }
    next
}

/// Replay a tool loop's journaled turns (LLM calls and tool results, in order) into
/// fresh turns: what the loop had when the process stopped. Stops at the first
/// record that is not what the turns expect.
pub(in crate::engine) fn replay_loop(
    req: &AgentRequest,
    policy: Policy,
    turns: &mut Turns,
    records: &[LoopRecord],
    mut next: Next,
) -> Next {
    for r in records {
        next = match (r, &next) {
            (LoopRecord::Call(c), Next::Call(call)) if call.alias == c.alias => {
                match (&c.failure, &c.response) {
                    (Some(kind), _) => {
                        let Some(kind) = crate::agent::FailureKind::parse(kind) else {
                            break;
                        };
                        let f = CallFailure {
                            message: c.error.clone().unwrap_or_default(),
                            hint: None,
                            kind,
                            http_attempts: c.http_attempts,
                        };
                        turns.handle(req, policy, TurnInput::Failed(&f))
                    }
                    (None, Some(text)) => turns.handle(
                        req,
                        policy,
                        TurnInput::Replied {
                            text,
                            finish: c.finish_reason.as_deref(),
                            offline: c.heuristic,
                            tool_calls: &c.tool_calls,
                        },
                    ),
                    _ => break,
                }
            }
            (LoopRecord::Tool { call_id, result }, Next::Tools(_)) => {
                match turns.tool_result(req, policy, call_id, result) {
                    Some(n) => n,
                    None => Next::Tools(turns.work(req)),
                }
            }
            _ => break,
        };
    }
    next
}

/// A journaled record of a tool loop.
#[derive(Debug, Clone)]
pub(in crate::engine) enum LoopRecord {
    Call(Box<crate::journal::LlmCall>),
    Tool { call_id: String, result: Json },
}

/// The records of `step`'s current tool loop, from the run's events: its LLM calls
/// and tool results since the step last failed or succeeded.
pub(in crate::engine) fn loop_records(
    events: &[crate::journal::EventRecord],
    step: &str,
) -> Vec<LoopRecord> {
    let mut out = Vec::new();
    for e in events {
        match &e.event {
            Event::StepFailed { step: s, .. } | Event::StepSucceeded { step: s, .. }
                if s == step =>
            {
                out.clear()
            }
            Event::LlmCall(c) if c.step == step => out.push(LoopRecord::Call(c.clone())),
            Event::AgentTool {
                step: s,
                call_id,
                result,
                ..
            } if s == step => out.push(LoopRecord::Tool {
                call_id: call_id.clone(),
                result: result.clone(),
            }),
            _ => {}
        }
    }
    out
}
