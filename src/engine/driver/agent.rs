//! Agent steps in the driver, before and after their calls: render the request,
//! retrieve the step's memory `context` (its query embedded on the executor when
//! `[embeddings]` is configured), and the evidence a proposal carries from the agents
//! it was built from. The calls themselves are in [`super::calls`].

use serde_json::Value as Json;

use super::execute::Done;
use super::{Driver, Prepped};
use crate::agent::{AgentRequest, PromptContext, UsedContext, heuristic};
use crate::error::Result;
use crate::memory::{QueryVector, Scope};
use crate::workflow::{AgentSpec, OutputFormat, StepSpec};

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
        let tools = if a.tools.is_empty() {
            Vec::new()
        } else {
            let names: Vec<String> = a.tools.iter().map(|(n, _)| n.clone()).collect();
            let catalog = self.env.exec.mcp.catalog(crate::mcp::Lookup::LiveThenCache);
            crate::agent::tools::resolve(&names, &catalog).map_err(|e| format!("`tools`: {e}"))?
        };
        Ok(Prepped::Agent(Box::new(AgentRequest {
            models: a.models.clone(),
            system,
            prompt,
            json,
            schema: a.schema.clone(),
            offline,
            max_tokens: a.max_tokens,
            context,
            sampling: a.sampling.clone(),
            tools,
            max_turns: a.max_turns,
        })))
    }

    /// Retrieve a step's `context` before its first call. The memory query is
    /// network IO when embeddings are configured: it is embedded on the executor and
    /// comes back as [`EmbedDone`]; full-text retrieval alone happens at once.
    pub(super) fn retrieve_context(
        &mut self,
        step: usize,
        attempt: u32,
        req: AgentRequest,
    ) -> Result<()> {
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
pub(super) fn with_context(mut out: Json, req: &AgentRequest) -> Json {
    if let Some(c) = req.used_context() {
        out["context"] = c.record.clone();
    }
    out
}
