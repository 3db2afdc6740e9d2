//! Preparing a step: evaluate its `when` condition and render what it will do
//! (`set` values, memory read by a `memory` step, an approval gate, an agent request,
//! a wait's end, a memory write or a side effect) into a [`Prepped`], then tell the
//! machine whether it is ready.

use serde_json::Value as Json;

use super::{Driver, MemoryWrite, Prepped};
use crate::clock::Millis;
use crate::connectors::{Action, ActionSpec, RenderCx};
use crate::engine::machine::{Input, Prepared};
use crate::error::Result;
use crate::journal::{Gate, GateField};
use crate::workflow::StepSpec;

impl Driver<'_> {
    pub(super) fn prepare(&mut self, step: usize, attempt: u32) -> Result<()> {
        let s = &self.wf.steps[step];
        if let Some(cond) = &s.when {
            match self.ctx.condition(cond) {
                Ok(true) => {}
                Ok(false) => {
                    self.feed(Input::Prepared {
                        step,
                        outcome: Prepared::Skip,
                    });
                    return Ok(());
                }
                Err(e) => {
                    self.reasons
                        .insert(step, format!("`when` could not be evaluated: {e}"));
                    self.render_failed.insert(step);
                    self.feed(Input::Prepared {
                        step,
                        outcome: Prepared::Fail,
                    });
                    return Ok(());
                }
            }
        }
        let rendered = match &s.spec {
            StepSpec::Set(set) => {
                let mut out = serde_json::Map::with_capacity(set.values.len());
                let mut err = None;
                for (k, v) in &set.values {
                    match self.ctx.render_json(v) {
                        Ok(v) => {
                            out.insert(k.clone(), v);
                        }
                        Err(e) => {
                            err = Some(format!("value `{k}`: {e}"));
                            break;
                        }
                    }
                }
                match err {
                    Some(e) => Err(e),
                    None => Ok(Prepped::Values(Json::Object(out))),
                }
            }
            StepSpec::Approval(a) => (|| {
                let title = self.ctx.render(&a.title)?;
                let body = a.body.as_ref().map(|b| self.ctx.render(b)).transpose()?;
                let fields = a
                    .fields
                    .iter()
                    .map(|f| GateField {
                        name: f.name.clone(),
                        ty: f.ty.as_str().to_string(),
                        required: f.required,
                        default: f.default.clone(),
                        description: f.description.clone(),
                    })
                    .collect();
                Ok::<_, String>(Prepped::Gate(Gate {
                    title,
                    body,
                    fields,
                }))
            })(),
            StepSpec::Agent(a) => self
                .persona(step)
                .and_then(|p| a.models.iter().try_for_each(|m| p.check_model(m)))
                .and_then(|_| self.render_agent(a)),
            StepSpec::Wait(w) => match (&w.duration, &w.until) {
                (Some(d), _) => Ok(Prepped::Timer(
                    self.journal.now().saturating_add(d.as_millis() as Millis),
                )),
                (None, Some(u)) => self.ctx.render(u).and_then(|text| {
                    text.trim()
                        .parse::<jiff::Timestamp>()
                        .map(|t| Prepped::Timer(t.as_millisecond()))
                        .map_err(|e| {
                            format!("`until` rendered to `{text}`, not an RFC 3339 instant: {e}")
                        })
                }),
                (None, None) => Err("a wait step needs `duration` or `until`".into()),
            },
            StepSpec::Remember(r) => (|| {
                let text = self.ctx.render(&r.text)?;
                if text.trim().is_empty() {
                    return Err("`text` rendered to nothing; there is nothing to remember".into());
                }
                let tags = r
                    .tags
                    .iter()
                    .map(|t| self.ctx.render(t).map(|t| t.trim().to_string()))
                    .filter(|t| !matches!(t, Ok(t) if t.is_empty()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Note { text, tags }))
            })(),
            StepSpec::Fact(f) => (|| {
                let entity = self.ctx.render(&f.entity)?.trim().to_string();
                let key = self.ctx.render(&f.key)?.trim().to_string();
                if entity.is_empty() || key.is_empty() {
                    return Err(format!(
                        "the fact's {} rendered empty",
                        if entity.is_empty() { "entity" } else { "key" }
                    ));
                }
                let value = self
                    .ctx
                    .render_json(&f.value)
                    .map_err(|e| format!("value: {e}"))?;
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Fact { entity, key, value }))
            })(),
            StepSpec::Outcome(o) => (|| {
                let mut values = serde_json::Map::with_capacity(o.values.len());
                for (k, v) in &o.values {
                    values.insert(
                        k.clone(),
                        self.ctx
                            .render_json(v)
                            .map_err(|e| format!("value `{k}`: {e}"))?,
                    );
                }
                Ok::<_, String>(Prepped::Memory(MemoryWrite::Outcome {
                    values: Json::Object(values),
                }))
            })(),
            StepSpec::Memory(m) => (|| {
                let opt = |t: &Option<crate::workflow::Tmpl>| {
                    t.as_ref()
                        .map(|t| self.ctx.render(t).map(|s| s.trim().to_string()))
                        .transpose()
                        .map(|s| s.filter(|s| !s.is_empty()))
                };
                let q = crate::memory::list::ListQuery {
                    find: m.find,
                    tag: opt(&m.tag)?,
                    search: opt(&m.search)?,
                    workflow: opt(&m.workflow)?,
                    limit: m.limit,
                };
                crate::memory::list::list(self.journal, &q)
                    .map(Prepped::Values)
                    .map_err(|e| format!("reading memory: {e}"))
            })(),
            StepSpec::Action(a) => self.render_action(step, a, attempt).map(Prepped::Action),
        };
        match rendered {
            Ok(p) => {
                // An action that must be approved whatever the step says (a tool not
                // annotated read-only) is proposed.
                let outcome = match &p {
                    Prepped::Action(a) if a.must_ask() => Prepared::Ask,
                    _ => Prepared::Ready,
                };
                self.prepped[step] = Some(p);
                self.feed(Input::Prepared { step, outcome });
            }
            Err(e) => {
                self.reasons.insert(step, e);
                self.render_failed.insert(step);
                self.feed(Input::Prepared {
                    step,
                    outcome: Prepared::Fail,
                });
            }
        }
        Ok(())
    }

    /// Render a connector step's action for `attempt` (through [`crate::connectors::render`],
    /// which validates it).
    pub(in crate::engine) fn render_action(
        &self,
        step: usize,
        spec: &ActionSpec,
        attempt: u32,
    ) -> std::result::Result<Action, String> {
        let dir = std::path::PathBuf::from(&self.run.dir);
        // A dry run starts no server: it renders from the cached listing only.
        let lookup = if self.dry() {
            crate::mcp::Lookup::Cache
        } else {
            crate::mcp::Lookup::LiveThenCache
        };
        let tools = self.env.exec.mcp.catalog(lookup);
        let persona = self.persona(step)?;
        let r = RenderCx {
            persona: &persona,
            ctx: &self.ctx,
            dir: &dir,
            run_uid: &self.run.uid,
            step_id: &self.wf.steps[step].id,
            attempt,
            tools: &tools,
            config: &self.env.exec.config,
        };
        crate::connectors::render(spec, &r)
    }

    /// The name of the persona `step` runs under.
    pub(in crate::engine) fn persona_name(&self, step: usize) -> &str {
        self.wf.steps[step]
            .persona
            .as_deref()
            .or(self.wf.persona.as_deref())
            .unwrap_or(crate::trust::persona::DEFAULT)
    }

    /// The persona `step` runs under (its own, else the workflow's, else `default`).
    pub(in crate::engine) fn persona(
        &self,
        step: usize,
    ) -> std::result::Result<std::sync::Arc<crate::trust::Persona>, String> {
        self.env.trust.persona_of(&self.wf, &self.wf.steps[step])
    }
}
