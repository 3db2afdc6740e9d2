//! The rescue of an agent step that every model failed once its `retry` has no
//! attempt left: instead of failing the run, the step waits on a `rescue` inbox
//! item holding its request, the replies and errors of the attempt, and its offline
//! draft. The operator's answer comes back through the one decision path
//! ([`crate::inbox::decide`]): their own reply (checked against the step's output
//! there), the offline draft, another attempt from the first model, or a rejection
//! (the step fails, or is skipped with `on_reject = "skip"`).

use serde_json::{Value as Json, json};

use super::agent::with_context;
use super::{Driver, Prepped};
use crate::agent::{AgentRequest, Usage, heuristic};
use crate::engine::machine::{Decided, Input};
use crate::error::Result;
use crate::journal::{CallFilter, Decision, ProposalKind, ProposalRecord};

impl Driver<'_> {
    /// Every model failed and no retry is left: open the rescue item.
    pub(super) fn open_rescue(&mut self, step: usize, message: String) -> Result<()> {
        let Some(Prepped::Agent(req)) = self.prepped[step].clone() else {
            // Nothing to rescue from: fail as before.
            self.reasons.insert(step, message);
            self.feed(Input::Finished {
                step,
                ok: false,
                retryable: false,
            });
            return Ok(());
        };
        self.flush()?;
        let failed_attempt = self.machine.step(step).attempt;
        let mut calls = self.journal.llm_calls(&CallFilter {
            run: Some(self.run.id),
            step: Some(self.wf.steps[step].id.clone()),
            attempt: Some(failed_attempt),
            ..CallFilter::default()
        })?;
        calls.reverse();
        let replies: Vec<Json> = calls
            .iter()
            .filter(|c| !c.call.heuristic)
            .map(|c| {
                json!({
                    "call": c.id,
                    "model": c.call.alias,
                    "provider": c.call.provider,
                    "response": c.call.response,
                    "error": c.call.error,
                    "finish_reason": c.call.finish_reason,
                })
            })
            .collect();
        let offline = heuristic::answer(&req)
            .ok()
            .map(|(text, value)| value.unwrap_or(Json::String(text)));
        let summary = format!(
            "every model failed: {}",
            crate::connectors::truncate_line(&message, 120)
        );
        let id = self.wf.steps[step].id.clone();
        let action = json!({
            "request": req,
            "error": message,
            "replies": replies,
            "offline": offline,
            "failed_attempt": failed_attempt,
        });
        let mut choices = vec![
            "approve --edit FILE: your reply (JSON checked against the schema, or text); start from: aios inbox show ID --action".to_string(),
        ];
        if !action["offline"].is_null() {
            choices.push("approve --offline: use the step's offline draft".into());
        }
        choices.push(format!(
            "approve: run `{id}` again from its first model (after fixing the config, say)"
        ));
        choices.push("reject --reason R: the step fails (resume later)".into());
        let evidence = json!({ "choices": choices });
        self.feed(Input::Blocked { step });
        let attempt = self.machine.step(step).attempt;
        self.open_item(
            step,
            attempt,
            ProposalKind::Rescue,
            summary,
            action,
            evidence,
        )?;
        Ok(())
    }

    /// A rescue was decided: the step's output when the operator gave one (then the
    /// step is done), or why it stops; `None` for a plain approval (run it again).
    pub(super) fn rescue_decided(&mut self, step: usize, p: &ProposalRecord) -> Option<Decided> {
        let req = serde_json::from_value::<AgentRequest>(p.action["request"].clone()).ok();
        if let Some(r) = &req {
            self.prepped[step] = Some(Prepped::Agent(Box::new(r.clone())));
        }
        if p.decision == Some(Decision::Reject) {
            self.reasons.insert(
                step,
                format!(
                    "the operator gave up on it at its rescue: {}",
                    p.reason.as_deref().unwrap_or("no reason given")
                ),
            );
            return None;
        }
        let with = p.fields.as_ref().and_then(|f| f["rescue"].as_str())?;
        let by = p.decided_by.clone().unwrap_or_default();
        let rescued = json!({ "by": by, "with": with, "error": p.action["error"] });
        let out = match (with, &req) {
            ("edit", Some(r)) => {
                let e = p.edited.clone().unwrap_or(Json::Null);
                let value = e.get("json").cloned();
                let text = e["text"].as_str().unwrap_or_default();
                let mut out = json!({
                    "text": text,
                    "rationale": value.as_ref().and_then(|v| v.get("rationale")).cloned()
                        .unwrap_or(json!("written by the operator at the step's rescue")),
                    "confidence": value.as_ref().and_then(|v| v.get("confidence")).cloned().unwrap_or(Json::Null),
                    "heuristic": false,
                    "model": "operator",
                    "provider": "operator",
                    "usage": {"tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0},
                });
                if let Some(v) = value {
                    out["json"] = v;
                }
                with_context(out, r)
            }
            ("offline", Some(r)) => {
                let target = self
                    .env
                    .agent
                    .resolve(crate::agent::config::HEURISTIC)
                    .ok()?;
                let (text, value) = heuristic::answer(r).ok()?;
                with_context(
                    crate::agent::output(&target, &text, value, Usage::default()),
                    r,
                )
            }
            _ => return None,
        };
        let mut out = out;
        out["rescued"] = rescued;
        self.gate_answers.insert(step, out);
        Some(Decided::Done)
    }

    /// Resume: a step waiting on a rescue item gets its request back (for a retry).
    pub(in crate::engine) fn restore_rescue(&mut self, step: usize, action: &Json) {
        if let Ok(req) = serde_json::from_value::<AgentRequest>(action["request"].clone()) {
            self.prepped[step] = Some(Prepped::Agent(Box::new(req)));
        }
    }
}
