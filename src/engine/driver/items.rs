//! Inbox items: proposals of rendered actions and gates (with their evidence),
//! attention items for interrupted steps, and the decisions taken on them, picked up
//! by polling and fed back to the machine.

use serde_json::{Value as Json, json};

use super::{Driver, Prepped};
use crate::clock::Millis;
use crate::connectors::Action;
use crate::engine::machine::{Decided, Input};
use crate::error::Result;
use crate::journal::{
    Decision, Event, Evidence, PolicyNote, ProposalKind, ProposalRecord, ProposalStatus, VersionRef,
};
use crate::trust::{Candidate, Mode, Verdict};

/// How many recipients an action has (an email's to, cc and bcc), if it has any.
fn recipients(action: &Json) -> Option<usize> {
    let n: usize = ["to", "cc", "bcc"]
        .iter()
        .filter_map(|k| action[k].as_array().map(Vec::len))
        .sum();
    (n > 0).then_some(n)
}

impl Driver<'_> {
    fn evidence(&self, step: usize) -> Evidence {
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
        let agents = self.agent_evidence(step);
        // The fact versions the upstream agents' prompts used: the inbox compares
        // them with the current ones at decision time (stale when a fact changed).
        let facts =
            crate::agent::context::versions(agents.iter().filter_map(|a| a.context.as_ref()));
        // The proposal's own confidence is its least confident upstream agent's, with
        // that agent's rationale (listings show one number; the detail shows all).
        let weakest = agents
            .iter()
            .filter(|a| a.confidence.is_some())
            .min_by(|a, b| {
                a.confidence
                    .partial_cmp(&b.confidence)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        let (confidence, rationale) = match weakest {
            Some(a) => (a.confidence, a.rationale.clone()),
            None => (None, None),
        };
        // The workflow file the action was rendered from: the item turns stale when
        // the file is edited meanwhile (see `journal::versions`).
        let mut versions = Vec::new();
        if let Some(name) = self
            .run
            .path
            .as_deref()
            .and_then(|p| std::path::Path::new(p).file_name())
        {
            let key = std::path::Path::new(&self.run.dir).join(name);
            versions.push(VersionRef {
                kind: "workflow_file".into(),
                key: key.display().to_string(),
                version: self.run.source_hash.clone().into(),
            });
        }
        versions.extend(facts);
        Evidence {
            upstream: Some(upstream),
            confidence,
            rationale,
            agents,
            versions,
            ..Evidence::default()
        }
    }

    fn journal_output(&self, step: usize) -> Option<Json> {
        self.ctx.step_output(&self.wf.steps[step].id)
    }

    pub(super) fn propose(&mut self, step: usize, attempt: u32) -> Result<()> {
        let s = &self.wf.steps[step];
        let (kind, summary, action) = match &self.prepped[step] {
            Some(Prepped::Gate(g)) => (
                ProposalKind::Approval,
                crate::connectors::truncate_line(&g.title, 100),
                g.to_json(),
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
        let mut evidence = self.evidence(step);
        let verdict = match kind {
            ProposalKind::Action => Some(self.autonomy(step, &action, &evidence)?),
            _ => None,
        };
        let quiet = match &verdict {
            Some(Verdict::Decide {
                rule,
                mode: Mode::Notify { quiet },
                ..
            }) => Some((
                self.journal
                    .now()
                    .saturating_add(quiet.as_millis() as Millis),
                crate::trust::policy_decider(rule),
            )),
            _ => None,
        };
        evidence.policy = match &verdict {
            Some(Verdict::Decide {
                rule, mode, reason, ..
            }) => Some(PolicyNote {
                rule: rule.clone(),
                mode: match mode {
                    Mode::Auto => "auto",
                    Mode::Notify { .. } => "notify",
                }
                .into(),
                reason: reason.clone(),
            }),
            Some(Verdict::Ask { why: Some(why) }) => Some(PolicyNote {
                rule: String::new(),
                mode: "asks".into(),
                reason: why.clone(),
            }),
            Some(Verdict::Demote { rule, reason }) => Some(PolicyNote {
                rule: rule.clone(),
                mode: "asks".into(),
                reason: format!("demoted: {reason}"),
            }),
            _ => None,
        };
        let evidence = evidence.to_json();
        if !self.open_item_with(step, attempt, kind, summary, action, evidence, quiet)? {
            return Ok(());
        }
        self.feed(Input::Proposed { step });
        let wf = self.wf.name.clone();
        let step_id = self.wf.steps[step].id.clone();
        match verdict {
            Some(Verdict::Demote { rule, reason }) => {
                self.journal.mark_trust(
                    self.run.id,
                    &wf,
                    &step_id,
                    false,
                    &crate::trust::policy_decider(&rule),
                    Some(reason),
                )?;
            }
            Some(Verdict::Decide {
                rule,
                mode,
                reason,
                promote,
            }) => {
                let by = crate::trust::policy_decider(&rule);
                if promote {
                    self.journal.mark_trust(
                        self.run.id,
                        &wf,
                        &step_id,
                        true,
                        &by,
                        Some(reason.clone()),
                    )?;
                }
                if mode == Mode::Auto {
                    self.decide_by_policy(step, by, reason)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The autonomy verdict on a new proposal of `step`.
    fn autonomy(&self, step: usize, action: &Json, evidence: &Evidence) -> Result<Verdict> {
        let rules = self.env.trust.rules_for(&self.wf);
        let s = &self.wf.steps[step];
        let stats = self.journal.step_stats(&self.wf.name, &s.id)?;
        if rules.is_empty() && !stats.promoted() {
            return Ok(Verdict::Ask { why: None });
        }
        let persona = s
            .persona
            .as_deref()
            .or(self.wf.persona.as_deref())
            .unwrap_or(crate::trust::persona::DEFAULT);
        let kind = action["kind"].as_str().unwrap_or("");
        let c = Candidate {
            workflow: &self.wf.name,
            step: &s.id,
            kind,
            persona,
            action,
            confidence: evidence.confidence,
            run_cost_usd: self.journal.llm_spent_by_run(self.run.id)?,
            recipients: recipients(action),
        };
        Ok(crate::trust::autonomy::evaluate(&rules, &c, &stats))
    }

    /// Approve `step`'s open item as `by` (a policy), through the one decision path,
    /// and go on as after an operator's approval. A stale item is left for a person.
    fn decide_by_policy(&mut self, step: usize, by: String, reason: String) -> Result<()> {
        let Some(&id) = self.open_items.get(&step) else {
            return Ok(());
        };
        let req = crate::inbox::DecideRequest {
            decision: Decision::Approve,
            reason: Some(reason),
            edit: None,
            fields: Vec::new(),
            by,
            // A policy never approves what changed since it was proposed.
            confirm_stale: false,
        };
        match crate::inbox::decide(self.journal, id, req) {
            Ok(p) => {
                self.observer.event(
                    self.run.id,
                    &Event::ProposalDecided {
                        proposal: id,
                        step: p.step_id.clone(),
                        decision: Decision::Approve,
                        reason: p.reason.clone(),
                        fields: None,
                        edited: None,
                        diff: None,
                        by: p.decided_by.clone().unwrap_or_default(),
                    },
                );
                self.open_items.remove(&step);
                self.apply_decision(step, &p);
                Ok(())
            }
            Err(e) if e.kind == crate::error::ErrorKind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create an inbox item for `step` and tell the observer. False when the run was
    /// cancelled meanwhile (nothing is created; the next poll ends the drive).
    pub(super) fn open_item(
        &mut self,
        step: usize,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
    ) -> Result<bool> {
        self.open_item_with(step, attempt, kind, summary, action, evidence, None)
    }

    /// [`Driver::open_item`], with a policy's quiet period (`notify`) as its
    /// deadline: `(when, "policy:NAME")`.
    #[allow(clippy::too_many_arguments)]
    fn open_item_with(
        &mut self,
        step: usize,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
        quiet: Option<(Millis, String)>,
    ) -> Result<bool> {
        let step_id = self.wf.steps[step].id.clone();
        self.flush()?;
        // A decision deadline applies to the step's own question (gate or action),
        // never to attention items or budget stops.
        let deadline = match (self.wf.steps[step].deadline, kind) {
            _ if quiet.is_some() => quiet,
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

    pub(super) fn ask_attention(&mut self, step: usize, attempt: u32) -> Result<()> {
        if self.ask_tool_attention(step, attempt)? {
            return Ok(());
        }
        let s = &self.wf.steps[step];
        // A commit that failed with its outcome unknown left its reason; otherwise
        // the process that ran the step stopped (a crash).
        let failed = self.reasons.remove(&step);
        let what = if failed.is_some() {
            "outcome unknown"
        } else {
            "interrupted, outcome unknown"
        };
        let (summary, action) = match &self.prepped[step] {
            Some(Prepped::Action(a)) => {
                (format!("{what}: {}", a.summary()), serde_json::to_value(a)?)
            }
            _ => (
                format!("`{}` was interrupted; its outcome is unknown", s.id),
                Json::Null,
            ),
        };
        let evidence = Evidence {
            reason: Some(failed.unwrap_or_else(|| crate::inbox::view::CRASHED.into())),
            choices: vec![
                "approve: run it again".into(),
                "approve --done: it happened, mark it done".into(),
                "reject: fail the step".into(),
            ],
            ..Evidence::default()
        }
        .to_json();
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

    /// Pick up decisions taken elsewhere (another terminal, `aios approve`).
    pub(super) fn poll_decisions(&mut self) -> Result<()> {
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
    pub(in crate::engine) fn apply_decision(&mut self, step: usize, p: &ProposalRecord) {
        let Some(decision) = p.decision else { return };
        if matches!(p.kind, ProposalKind::Notice | ProposalKind::Failure) {
            // Notices belong to no run, and a failure item is applied before its
            // failed run is driven again (`crate::engine::resume`).
            return;
        }
        if Self::is_agent_tool_item(p) {
            self.agent_tool_decided(step, p);
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
            ProposalKind::Budget
            | ProposalKind::Notice
            | ProposalKind::Rescue
            | ProposalKind::Failure => {}
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
        let rescued = p.kind == ProposalKind::Rescue && self.rescue_decided(step, p).is_some();
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
            // The operator gave the step's output (their reply, or the offline draft).
            (_, Decision::Approve) if rescued => Decided::Done,
            (_, Decision::Approve) => Decided::Approve,
            (_, Decision::Done) => Decided::Done,
            (_, Decision::Reject) if timeout_fail => Decided::Fail,
            (ProposalKind::Attention, Decision::Reject) => Decided::Fail,
            (_, Decision::Reject) => Decided::Reject,
        };
        self.feed(Input::Decided { step, decision: d });
    }
}
