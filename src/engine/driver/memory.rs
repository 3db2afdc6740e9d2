//! Memory steps (`remember`, `fact`, `outcome`): what they write, rendered, and the
//! commit of that write together with the step's success in one transaction.

use serde_json::{Value as Json, json};

use super::Driver;
use crate::error::Result;
use crate::journal::Event;

/// What a memory step writes, rendered.
#[derive(Debug, Clone)]
pub(in crate::engine) enum MemoryWrite {
    Note {
        text: String,
        tags: Vec<String>,
    },
    Fact {
        entity: String,
        key: String,
        value: Json,
    },
    Outcome {
        values: Json,
    },
}

impl Driver<'_> {
    /// Commit a memory step: its memory event (with the fact version or note id
    /// allocated in the same transaction) and its success, atomically.
    pub(super) fn write_memory(&mut self, step: usize, attempt: u32, w: MemoryWrite) -> Result<()> {
        self.flush()?;
        let step_id = self.wf.steps[step].id.clone();
        let events = self.journal.commit_allocated(self.run.id, |a| {
            let (ev, output) = match w {
                MemoryWrite::Note { text, tags } => {
                    let note = a.next_note_id()?;
                    let output = json!({ "note": note, "text": text, "tags": tags });
                    (
                        Event::NoteAdded {
                            step: step_id.clone(),
                            note,
                            text,
                            tags,
                        },
                        output,
                    )
                }
                MemoryWrite::Fact { entity, key, value } => {
                    let version = a.next_fact_version(&entity, &key)?;
                    let output = json!({
                        "entity": entity, "key": key, "value": value, "version": version,
                    });
                    (
                        Event::FactSet {
                            step: step_id.clone(),
                            entity,
                            key,
                            value,
                            version,
                        },
                        output,
                    )
                }
                MemoryWrite::Outcome { values } => (
                    Event::OutcomeRecorded {
                        step: Some(step_id.clone()),
                        values: values.clone(),
                    },
                    json!({ "values": values }),
                ),
            };
            Ok(vec![
                ev,
                Event::StepSucceeded {
                    step: step_id.clone(),
                    attempt,
                    output,
                },
            ])
        })?;
        for ev in &events {
            if let Event::StepSucceeded { output, .. } = ev {
                self.set_view(step, "succeeded", output.clone());
            }
            self.observer.event(self.run.id, ev);
        }
        Ok(())
    }
}
