//! Dry runs (`aios run --dry-run`): the run goes through the same machine, renders
//! every step as a real run would, and carries out only what has no effect outside
//! the run (`set` values, agent drafts, conditions). Where a real run would propose
//! an action, ask at a gate, commit an action or write to memory, the driver
//! journals a [`Event::StepRehearsed`] with the exact rendered action instead, and
//! the step's output is its `dry_output` (rendered) or null. Gates pass with their
//! fields' defaults, `wait` steps do not wait, and a spending cap fails the step
//! rather than asking. Nothing is started, sent, written or remembered: a `tool`
//! step is rendered from its server's cached listing (see `prepare`), never a live
//! one.

use serde_json::{Value as Json, json};

use super::{Driver, MemoryWrite, Prepped};
use crate::engine::machine::{Decided, Input};
use crate::error::Result;
use crate::journal::Event;

impl Driver<'_> {
    /// A dry run: the run record says so (a resume cannot make it real).
    pub(in crate::engine) fn dry(&self) -> bool {
        self.run.dry.is_some()
    }

    /// Instead of proposing: journal what would be proposed (or asked), then go on
    /// as if it were approved.
    pub(super) fn rehearse_proposal(&mut self, step: usize, attempt: u32) -> Result<()> {
        let (would, summary, action) = match &self.prepped[step] {
            Some(Prepped::Gate(g)) => (
                "ask",
                crate::connectors::truncate_line(&g.title, 100),
                g.to_json(),
            ),
            Some(Prepped::Action(a)) => ("propose", a.summary(), serde_json::to_value(a)?),
            _ => {
                return Err(crate::error::Error::other(format!(
                    "internal: step `{}` was proposed before it was rendered",
                    self.wf.steps[step].id
                )));
            }
        };
        if let Some(Prepped::Gate(g)) = &self.prepped[step] {
            let fields: serde_json::Map<String, Json> = g
                .fields
                .iter()
                .filter_map(|f| f.default.clone().map(|d| (f.name.clone(), d)))
                .collect();
            let answer = json!({
                "decision": "approved",
                "fields": fields,
                "reason": null,
                "by": "dry run",
            });
            match self.dry_output(step) {
                Ok(Some(out)) => self.gate_answers.insert(step, out),
                Ok(None) => self.gate_answers.insert(step, answer),
                Err(e) => return self.dry_fail(step, e),
            };
        }
        self.record(vec![Event::StepRehearsed {
            step: self.wf.steps[step].id.clone(),
            attempt,
            would: would.into(),
            summary,
            action,
        }])?;
        self.rehearsed.insert(step);
        self.feed(Input::Proposed { step });
        self.feed(Input::Decided {
            step,
            decision: Decided::Approve,
        });
        Ok(())
    }

    /// Instead of committing an action or writing to memory: journal it, and take
    /// the step's `dry_output` as its output.
    pub(super) fn rehearse_execution(&mut self, step: usize, attempt: u32) -> Result<()> {
        let rehearsed = match &self.prepped[step] {
            Some(Prepped::Action(a)) => Some(("commit", a.summary(), serde_json::to_value(a)?)),
            Some(Prepped::Memory(w)) => Some(("write", memory_summary(w), memory_json(w))),
            _ => None,
        };
        // An action proposed (and so rehearsed) already is not rehearsed twice.
        if !self.rehearsed.remove(&step)
            && let Some((would, summary, action)) = rehearsed
        {
            self.record(vec![Event::StepRehearsed {
                step: self.wf.steps[step].id.clone(),
                attempt,
                would: would.into(),
                summary,
                action,
            }])?;
        }
        match self.dry_output(step) {
            Ok(out) => {
                self.succeed(step, attempt, out.unwrap_or(Json::Null))?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Err(e) => self.dry_fail(step, e),
        }
    }

    /// The step's `dry_output`, rendered (`None` when it has none).
    fn dry_output(&self, step: usize) -> std::result::Result<Option<Json>, String> {
        self.wf.steps[step]
            .dry_output
            .as_ref()
            .map(|v| self.ctx.render_json(v))
            .transpose()
            .map_err(|e| format!("`dry_output`: {e}"))
    }

    fn dry_fail(&mut self, step: usize, error: String) -> Result<()> {
        self.reasons.insert(step, error);
        self.render_failed.insert(step);
        let input = if self.machine.step(step).phase == crate::engine::machine::Phase::Running {
            Input::Finished {
                step,
                ok: false,
                retryable: false,
            }
        } else {
            Input::Prepared {
                step,
                outcome: crate::engine::machine::Prepared::Fail,
            }
        };
        self.feed(input);
        Ok(())
    }
}

fn memory_summary(w: &MemoryWrite) -> String {
    let text = match w {
        MemoryWrite::Note { text, .. } => format!("remember \"{text}\""),
        MemoryWrite::Fact { entity, key, value } => format!("set fact {entity} {key} = {value}"),
        MemoryWrite::Outcome { values } => {
            format!("record outcome {}", crate::memory::outcome_pairs(values))
        }
    };
    crate::connectors::truncate_line(&text, 100)
}

fn memory_json(w: &MemoryWrite) -> Json {
    match w {
        MemoryWrite::Note { text, tags } => {
            json!({ "kind": "remember", "text": text, "tags": tags })
        }
        MemoryWrite::Fact { entity, key, value } => {
            json!({ "kind": "fact", "entity": entity, "key": key, "value": value })
        }
        MemoryWrite::Outcome { values } => json!({ "kind": "outcome", "values": values }),
    }
}
