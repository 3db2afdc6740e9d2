//! An agent step's tool calls in the driver: what [`crate::agent::turns`] decided
//! for each call of a turn, done. aios's own tools (read-only) answer at once from
//! the journal; read-only MCP tools run on the executor; a call of any other tool
//! is an inbox item of the `tool` connector (the exact call, the tool's annotations,
//! the agent's reason), one at a time: the step waits (like a budget stop, under a
//! new attempt), and the operator's decision comes back as the call's result (the
//! tool's output once the call is made, or the rejection and its reason).
//!
//! Every result is redacted, then journaled (`agent_tool`) before the model reads
//! it; resume replays the journaled turns and results ([`super::replay`]).
//!
//! An approved call is a side effect: the step's start (`step_started`) is journaled
//! before it is made. A resume that finds the step running with that call's result
//! not journaled does not make it again (invariant 8): the step needs attention, on
//! an item that carries the call and the loop, and the operator's answer (made
//! again, done, did not happen) is the call's result.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use super::execute::Done;
use super::{Driver, Prepped};
use crate::agent::tools::{self, ToolSource};
use crate::agent::turns::{Mode, Next, ToolWork};
use crate::agent::{AgentRequest, Turns};
use crate::connectors::Action;
use crate::connectors::tool::ToolAction;
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::{Decision, Event, ProposalKind, ProposalRecord};

/// The results of a turn's MCP calls, back from the executor.
pub(in crate::engine) struct ToolsDone {
    results: Vec<(ToolWork, std::result::Result<Json, String>, Option<i64>)>,
}

/// The operator's answer to a proposed call, waiting for the step to go on.
#[derive(Debug, Clone)]
pub(in crate::engine) struct ToolDecision {
    call_id: String,
    proposal: i64,
    /// The call to make (as approved, maybe edited), or `None`: rejected.
    approved: Option<ToolAction>,
    reason: Option<String>,
    /// The call's result as the operator gave it (a call interrupted in flight:
    /// done, or not made), instead of making or refusing it.
    outcome: Option<Json>,
}

/// What the driver keeps about agent tool calls between turns.
#[derive(Default)]
pub(in crate::engine) struct ToolState {
    /// Decided proposals, by step.
    decided: HashMap<usize, ToolDecision>,
    /// Resume: the item that approved the call each step was making when the
    /// process stopped (its attention item is opened from it).
    interrupted: HashMap<usize, ProposalRecord>,
}

impl Driver<'_> {
    /// Make a turn's tool calls (those still awaited): aios's own at once, MCP
    /// read-only ones on the executor, then the first proposal.
    pub(super) fn run_tools(
        &mut self,
        step: usize,
        attempt: u32,
        req: AgentRequest,
        mut turns: Turns,
        work: Vec<ToolWork>,
    ) -> Result<()> {
        let mut spawn = Vec::new();
        let mut proposal = None;
        for w in work {
            let tool = &req.tools[w.tool];
            match (&w.mode, &tool.source) {
                (Mode::Inline, ToolSource::Aios { name }) => {
                    let name = name.clone();
                    let result = self.aios_tool(&name, &w.call.arguments);
                    if let Some(n) =
                        self.tool_finished(step, attempt, &req, &mut turns, &w, result, None)?
                    {
                        return self.perform_turn(step, attempt, req, turns, n);
                    }
                }
                (Mode::Inline, ToolSource::Mcp { .. }) => spawn.push((w, None)),
                (Mode::Propose { .. }, _) => {
                    let decided = self
                        .tool_state
                        .decided
                        .get(&step)
                        .filter(|d| d.call_id == w.call.id)
                        .cloned();
                    match decided {
                        Some(d) => {
                            self.tool_state.decided.remove(&step);
                            if let Some(outcome) = d.outcome {
                                if let Some(n) = self.tool_finished(
                                    step,
                                    attempt,
                                    &req,
                                    &mut turns,
                                    &w,
                                    Ok(outcome),
                                    Some(d.proposal),
                                )? {
                                    return self.perform_turn(step, attempt, req, turns, n);
                                }
                                continue;
                            }
                            match d.approved {
                                Some(a) => {
                                    // The side effect's intent, journaled (by the
                                    // flush before the call) before it is made.
                                    if turns.started != attempt {
                                        turns.started = attempt;
                                        self.record(vec![Event::StepStarted {
                                            step: self.wf.steps[step].id.clone(),
                                            attempt,
                                        }])?;
                                    }
                                    let w = ToolWork {
                                        call: crate::agent::ToolCall {
                                            arguments: Json::Object(a.arguments.clone()),
                                            ..w.call.clone()
                                        },
                                        ..w
                                    };
                                    spawn.push((w, Some(d.proposal)));
                                }
                                None => {
                                    let result = Ok(tools::rejected(d.reason.as_deref()));
                                    if let Some(n) = self.tool_finished(
                                        step,
                                        attempt,
                                        &req,
                                        &mut turns,
                                        &w,
                                        result,
                                        Some(d.proposal),
                                    )? {
                                        return self.perform_turn(step, attempt, req, turns, n);
                                    }
                                }
                            }
                        }
                        // A call the step's persona refuses is never proposed: the
                        // agent reads the refusal as the call's result.
                        None if proposal.is_none() => match self.persona_refuses(step, &req, &w) {
                            Some(refusal) => {
                                if let Some(n) = self.tool_finished(
                                    step,
                                    attempt,
                                    &req,
                                    &mut turns,
                                    &w,
                                    Err(refusal),
                                    None,
                                )? {
                                    return self.perform_turn(step, attempt, req, turns, n);
                                }
                            }
                            None => proposal = Some(w),
                        },
                        None => {}
                    }
                }
            }
        }
        if !spawn.is_empty() {
            return self.spawn_tools(step, attempt, &req, turns, spawn);
        }
        match proposal {
            Some(w) => self.propose_tool(step, req, turns, w),
            None => {
                self.agents.turns.insert(step, turns);
                Ok(())
            }
        }
    }

    /// Run MCP calls on the executor, one after the other.
    fn spawn_tools(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        turns: Turns,
        calls: Vec<(ToolWork, Option<i64>)>,
    ) -> Result<()> {
        self.flush()?;
        let actions: Vec<(ToolWork, Option<i64>, ToolAction)> = calls
            .into_iter()
            .map(|(w, p)| {
                let a = mcp_action(req, &w);
                (w, p, a)
            })
            .collect();
        self.agents.turns.insert(step, turns);
        // Every call commits under the step's persona (its scopes are checked again).
        let persona = self.persona(step);
        let tx = self.tx.clone();
        let exec = self.exec()?;
        let res = exec.resources.clone();
        let handle = exec.rt.spawn(async move {
            let mut results = Vec::new();
            for (w, p, a) in actions {
                let r = match &persona {
                    Ok(persona) => Action::Tool(a)
                        .commit(&res, None, persona)
                        .await
                        .map_err(|e| e.message),
                    Err(e) => Err(e.clone()),
                };
                results.push((w, r, p));
            }
            let _ = tx.send(super::Completion {
                step,
                attempt,
                done: Done::Tools(Box::new(ToolsDone { results })),
            });
        });
        self.in_flight.insert(step, handle);
        Ok(())
    }

    /// A turn's MCP calls came back: journal each result, then go on.
    pub(super) fn tools_done(&mut self, step: usize, attempt: u32, done: ToolsDone) -> Result<()> {
        self.in_flight.remove(&step);
        let req = match &self.prepped[step] {
            Some(Prepped::Agent(r)) if self.machine.step(step).attempt == attempt => (**r).clone(),
            _ => return Ok(()),
        };
        let mut turns = self.agents.turns.remove(&step).unwrap_or_default();
        let mut next = None;
        for (w, result, proposal) in done.results {
            if let Some(n) =
                self.tool_finished(step, attempt, &req, &mut turns, &w, result, proposal)?
            {
                next = Some(n);
            }
        }
        match next {
            Some(n) => self.perform_turn(step, attempt, req, turns, n),
            None => {
                let work = turns.work(&req);
                self.run_tools(step, attempt, req, turns, work)
            }
        }
    }

    /// A call's result: redacted, journaled, then given to the turns.
    #[allow(clippy::too_many_arguments)]
    fn tool_finished(
        &mut self,
        step: usize,
        attempt: u32,
        req: &AgentRequest,
        turns: &mut Turns,
        w: &ToolWork,
        result: std::result::Result<Json, String>,
        proposal: Option<i64>,
    ) -> Result<Option<Next>> {
        let (mut value, error) = match result {
            Ok(v) => (v, false),
            Err(e) => (json!({ "error": e }), true),
        };
        self.secrets.redact_json(&mut value);
        let mut arguments = w.call.arguments.clone();
        self.secrets.redact_json(&mut arguments);
        self.record(vec![Event::AgentTool {
            step: self.wf.steps[step].id.clone(),
            attempt,
            call_id: w.call.id.clone(),
            tool: req.tools[w.tool].label(),
            arguments,
            result: value.clone(),
            error,
            proposal,
        }])?;
        self.flush()?;
        let policy = self.policy(step);
        Ok(turns.tool_result(req, policy, &w.call.id, &value))
    }

    /// Why the step's persona refuses the call `w` (`None`: it allows it).
    fn persona_refuses(&self, step: usize, req: &AgentRequest, w: &ToolWork) -> Option<String> {
        let action = Action::Tool(mcp_action(req, w));
        match self.persona(step) {
            Ok(p) => p.check(&action).err(),
            Err(e) => Some(e),
        }
    }

    /// Propose a side-effecting call: the step waits on an `action` item of the
    /// `tool` connector.
    fn propose_tool(
        &mut self,
        step: usize,
        req: AgentRequest,
        turns: Turns,
        w: ToolWork,
    ) -> Result<()> {
        let action = mcp_action(&req, &w);
        let reason = match &w.mode {
            Mode::Propose { reason } => reason.clone(),
            Mode::Inline => None,
        };
        let summary = format!(
            "agent `{}` asks to call {} on {}",
            self.wf.steps[step].id, action.tool, action.server
        );
        let mut evidence = crate::journal::Evidence {
            rationale: reason.clone(),
            choices: vec![
                "approve (or approve with edited arguments): the call is made; its result goes back to the agent".into(),
                "reject --reason R: the call is not made; the agent reads R".into(),
            ],
            ..Default::default()
        }
        .to_json();
        evidence["agent"] = json!({
            "call_id": w.call.id,
            "reason": reason,
            "request": req,
            "job": turns,
        });
        let action = serde_json::to_value(Action::Tool(action))?;
        self.feed(Input::Blocked { step });
        let attempt = self.machine.step(step).attempt;
        self.agents.turns.insert(step, turns);
        self.open_item(
            step,
            attempt,
            ProposalKind::Action,
            summary,
            action,
            evidence,
        )?;
        Ok(())
    }

    /// Whether an inbox item is an agent step's proposed tool call, or the
    /// attention item of one interrupted in flight.
    pub(in crate::engine) fn is_agent_tool_item(p: &ProposalRecord) -> bool {
        matches!(p.kind, ProposalKind::Action | ProposalKind::Attention)
            && p.evidence.get("agent").is_some()
    }

    /// Resume: `step` was making the call `p` approved when the process stopped.
    pub(in crate::engine) fn tool_interrupted(&mut self, step: usize, p: ProposalRecord) {
        self.restore_agent_tool(step, &p);
        self.tool_state.interrupted.insert(step, p);
    }

    /// The attention item of a call interrupted in flight (see
    /// [`Driver::tool_interrupted`]), if `step` has one to ask; `Ok(false)`: it
    /// has none.
    pub(super) fn ask_tool_attention(&mut self, step: usize, attempt: u32) -> Result<bool> {
        let Some(p) = self.tool_state.interrupted.remove(&step) else {
            return Ok(false);
        };
        let action = p.final_action().clone();
        let summary = match serde_json::from_value::<Action>(action.clone()) {
            Ok(a) => format!("interrupted, outcome unknown: {}", a.summary()),
            Err(_) => format!(
                "`{}` was interrupted during a tool call; its outcome is unknown",
                self.wf.steps[step].id
            ),
        };
        let mut evidence = crate::journal::Evidence {
            reason: Some(crate::inbox::view::CRASHED.into()),
            choices: vec![
                "approve: make the call again; its result goes back to the agent".into(),
                "approve --done: it happened; the agent reads that it was made".into(),
                "reject --reason R: it did not happen; the agent reads R".into(),
            ],
            ..Default::default()
        }
        .to_json();
        evidence["agent"] = p.evidence["agent"].clone();
        self.open_item(
            step,
            attempt,
            ProposalKind::Attention,
            summary,
            action,
            evidence,
        )?;
        Ok(true)
    }

    /// Resume: a step waiting on its proposed call gets its request and turns back.
    pub(in crate::engine) fn restore_agent_tool(&mut self, step: usize, p: &ProposalRecord) {
        let agent = &p.evidence["agent"];
        if let Ok(req) = serde_json::from_value::<AgentRequest>(agent["request"].clone()) {
            self.prepped[step] = Some(Prepped::Agent(Box::new(req)));
        }
        let job = serde_json::from_value::<Turns>(agent["job"].clone()).unwrap_or_default();
        self.agents.turns.insert(step, job);
    }

    /// The operator decided a proposed call: the step goes on (approved or not: a
    /// rejection is the call's result).
    pub(in crate::engine) fn agent_tool_decided(&mut self, step: usize, p: &ProposalRecord) {
        let Some(decision) = p.decision else { return };
        if !matches!(self.prepped[step], Some(Prepped::Agent(_)))
            || !self.agents.turns.contains_key(&step)
        {
            self.restore_agent_tool(step, p);
        }
        let approved = match decision {
            Decision::Approve => match serde_json::from_value::<Action>(p.final_action().clone()) {
                Ok(Action::Tool(a)) => Some(a),
                _ => None,
            },
            _ => None,
        };
        let reason = match (&approved, decision) {
            (None, Decision::Approve) => Some("the approved call could not be read".to_string()),
            _ => p.reason.clone(),
        };
        // A call interrupted in flight: the operator says what became of it.
        let outcome = match (p.kind, decision) {
            (ProposalKind::Attention, Decision::Done) => Some(tools::marked_done()),
            (ProposalKind::Attention, Decision::Reject) => Some(tools::not_made(reason.as_deref())),
            _ => None,
        };
        self.tool_state.decided.insert(
            step,
            ToolDecision {
                call_id: p.evidence["agent"]["call_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                proposal: p.id,
                approved,
                reason,
                outcome,
            },
        );
        self.feed(Input::Decided {
            step,
            decision: crate::engine::machine::Decided::Approve,
        });
    }

    /// One of aios's own tools (all read the journal).
    fn aios_tool(&self, name: &str, args: &Json) -> std::result::Result<Json, String> {
        let text = |k: &str| args[k].as_str().map(str::to_string);
        let int =
            |k: &str, default: i64, max: i64| args[k].as_i64().unwrap_or(default).clamp(1, max);
        let err = |e: crate::error::Error| e.message;
        match name {
            "memory.search" => {
                let q = text("query").ok_or("`query` is required")?;
                let k = int("k", 5, 20) as usize;
                let hits = crate::memory::search(self.journal, &q, k, &[], None).map_err(err)?;
                Ok(json!({ "hits": hits.iter().map(|h| json!({
                    "kind": h.doc.kind,
                    "id": h.doc.id,
                    "text": h.doc.text,
                    "score": h.score,
                })).collect::<Vec<_>>() }))
            }
            "fact.get" => {
                let entity = text("entity").ok_or("`entity` is required")?;
                let facts = self.journal.facts(&entity).map_err(err)?;
                let key = text("key");
                let mut out = serde_json::Map::new();
                for f in facts {
                    if key.as_deref().is_none_or(|k| k == f.key) {
                        out.insert(
                            f.key.clone(),
                            json!({"value": f.value, "version": f.version}),
                        );
                    }
                }
                Ok(json!({ "entity": entity, "facts": out }))
            }
            "decisions.recent" => {
                let wf = text("workflow");
                let limit = int("limit", 10, 50) as usize;
                let mut items: Vec<_> = self
                    .journal
                    .inbox(true)
                    .map_err(err)?
                    .into_iter()
                    .filter(|p| p.decision.is_some() && p.kind != ProposalKind::Notice)
                    .filter(|p| wf.as_deref().is_none_or(|w| w == p.workflow))
                    .collect();
                items.sort_by_key(|p| std::cmp::Reverse((p.decided_at, p.id)));
                Ok(
                    json!({ "decisions": items.iter().take(limit).map(|p| json!({
                    "proposal": p.id,
                    "workflow": p.workflow,
                    "step": p.step_id,
                    "summary": p.summary,
                    "decision": p.decision.map(|d| d.as_str()),
                    "reason": p.reason,
                    "at": p.decided_at.map(crate::clock::format_ms),
                })).collect::<Vec<_>>() }),
                )
            }
            "run.output" => {
                let run = args["run"]
                    .as_i64()
                    .ok_or("`run` is required (a run's id)")?;
                let r = self.journal.run(run).map_err(err)?;
                let only = text("step");
                let mut steps = serde_json::Map::new();
                for s in self.journal.steps(run).map_err(err)? {
                    if only.as_deref().is_none_or(|o| o == s.step_id)
                        && let Some(o) = s.output
                    {
                        steps.insert(s.step_id.clone(), o);
                    }
                }
                Ok(json!({
                    "run": run,
                    "workflow": r.workflow,
                    "status": r.status.as_str(),
                    "steps": steps,
                }))
            }
            other => Err(format!("no aios tool `{other}`")),
        }
    }
}

/// Resume: the item that approved the side-effecting call `step`'s agent was
/// making when the process stopped (the step is running, and no result of that
/// call is journaled), if any.
pub(in crate::engine) fn tool_call_in_flight(
    journal: &crate::journal::Journal,
    run: i64,
    step: &crate::workflow::Step,
    items: &[ProposalRecord],
) -> Result<Option<ProposalRecord>> {
    match &step.spec {
        crate::workflow::StepSpec::Agent(a) if !a.tools.is_empty() => {}
        _ => return Ok(None),
    }
    let Some(p) = items
        .iter()
        .rev()
        .find(|p| p.step_id == step.id && Driver::is_agent_tool_item(p))
    else {
        return Ok(None);
    };
    if p.status != crate::journal::ProposalStatus::Approved || p.decision != Some(Decision::Approve)
    {
        return Ok(None);
    }
    let answered = journal.events(run)?.iter().any(|e| {
        matches!(&e.event, Event::AgentTool { step: s, proposal: Some(id), .. }
            if *s == step.id && *id == p.id)
    });
    Ok((!answered).then(|| p.clone()))
}

/// The `tool` connector's call for an MCP tool's work.
fn mcp_action(req: &AgentRequest, w: &ToolWork) -> ToolAction {
    let (server, tool, title, annotations) = match &req.tools[w.tool].source {
        ToolSource::Mcp {
            server,
            tool,
            title,
            annotations,
        } => (
            server.clone(),
            tool.clone(),
            title.clone(),
            annotations.clone(),
        ),
        ToolSource::Aios { name } => (String::new(), name.clone(), None, None),
    };
    // The model's arguments are text, never a reference to a secret: sealed so
    // that a `secret("NAME")` it writes reaches the tool as those characters.
    let mut arguments = w.call.arguments.clone();
    seal_leaves(&mut arguments);
    ToolAction {
        server,
        tool,
        arguments: arguments.as_object().cloned().unwrap_or_default(),
        title,
        annotations,
        listing: None,
    }
}

/// Escape every string of a JSON value into sealed text that means exactly it.
fn seal_leaves(v: &mut Json) {
    match v {
        Json::String(s) => {
            if let std::borrow::Cow::Owned(e) = crate::secrets::placeholder::escape(s) {
                *s = e;
            }
        }
        Json::Array(a) => a.iter_mut().for_each(seal_leaves),
        Json::Object(m) => m.values_mut().for_each(seal_leaves),
        _ => {}
    }
}
