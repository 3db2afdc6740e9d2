//! Executing prepared work: pure results (`set` values, gates, timers, memory
//! writes) succeed at once; side effects and LLM calls run on the executor (a tokio
//! runtime built on first use, with the connectors' [`Resources`], each built on
//! first use too) and come back to the drive loop as [`Completion`]s.

use serde_json::{Value as Json, json};

use super::rate::Then;
use super::{Driver, Prepped, agent, calls};
use crate::connectors::{ExecError, Resources};
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::Event;

/// A finished commit or LLM call, sent back from the executor.
pub(super) struct Completion {
    pub(super) step: usize,
    pub(super) attempt: u32,
    pub(super) done: Done,
}

pub(super) enum Done {
    Action(std::result::Result<Json, ExecError>),
    Agent(Box<calls::CallDone>),
    Embedded(Box<agent::EmbedDone>),
    Tools(Box<super::tools::ToolsDone>),
}

/// The async side, built on first use (so runs without side effects start none):
/// a tokio runtime and the resources commits and LLM calls share.
pub(super) struct Exec {
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) resources: std::sync::Arc<Resources>,
}

impl Driver<'_> {
    pub(super) fn execute(&mut self, step: usize, attempt: u32) -> Result<()> {
        match self.prepped[step].clone() {
            Some(Prepped::Values(v)) => {
                self.succeed(step, attempt, v)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Gate(_)) => {
                let out = self
                    .gate_answers
                    .remove(&step)
                    .unwrap_or_else(|| json!({ "decision": "approved" }));
                self.succeed(step, attempt, out)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Agent(req)) => self.agent_call(step, attempt, *req),
            Some(Prepped::Timer(due_at)) => {
                self.sleepers.remove(&step);
                let now = self.journal.now();
                self.succeed(
                    step,
                    attempt,
                    json!({
                        "until": crate::clock::format_ms(due_at),
                        "woke_at": crate::clock::format_ms(now.max(due_at)),
                    }),
                )?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Memory(_) | Prepped::Action(_)) if self.dry() => {
                self.rehearse_execution(step, attempt)
            }
            Some(Prepped::Memory(w)) => {
                self.write_memory(step, attempt, w)?;
                self.feed(Input::Finished {
                    step,
                    ok: true,
                    retryable: false,
                });
                Ok(())
            }
            Some(Prepped::Action(action)) => {
                // An open circuit breaker holds the step without spending a turn.
                if self.held_by_breaker(step, attempt, action.target())? {
                    return Ok(());
                }
                // Rate limit (`[rate]`): wait for the target's turn before it starts.
                if self.hold_for_turn(step, attempt, action.target(), Then::Execute)? {
                    return Ok(());
                }
                self.record(vec![Event::StepStarted {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                }])?;
                self.flush()?;
                let timeout = self.wf.steps[step].timeout;
                let persona = match self.persona(step) {
                    Ok(p) => p,
                    Err(e) => {
                        self.reasons.insert(step, e);
                        self.feed(Input::Finished {
                            step,
                            ok: false,
                            retryable: false,
                        });
                        return Ok(());
                    }
                };
                let tx = self.tx.clone();
                let exec = self.exec()?;
                let res = exec.resources.clone();
                let handle = exec.rt.spawn(async move {
                    let result = action.commit(&res, timeout, &persona).await;
                    let _ = tx.send(Completion {
                        step,
                        attempt,
                        done: Done::Action(result),
                    });
                });
                self.in_flight.insert(step, handle);
                Ok(())
            }
            None => {
                self.reasons.insert(
                    step,
                    "nothing to execute: the step was never rendered".into(),
                );
                self.feed(Input::Finished {
                    step,
                    ok: false,
                    retryable: false,
                });
                Ok(())
            }
        }
    }

    pub(super) fn exec(&mut self) -> Result<&Exec> {
        if self.exec.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| {
                    crate::error::Error::other(format!("cannot start the executor: {e}"))
                })?;
            let resources = std::sync::Arc::new(
                Resources::new(self.env.exec.clone()).with_secrets(self.secrets.clone()),
            );
            self.exec = Some(Exec { rt, resources });
        }
        Ok(self.exec.as_ref().expect("just set"))
    }

    /// The executor and the HTTP client (for LLM and embedding calls).
    pub(super) fn exec_http(&mut self) -> Result<(&Exec, reqwest::Client)> {
        let exec = self.exec()?;
        let client = exec
            .resources
            .http()
            .map_err(|e| crate::error::Error::other(e.message))?;
        Ok((exec, client))
    }

    pub(super) fn completed(&mut self, c: Completion) -> Result<()> {
        self.in_flight.remove(&c.step);
        let result = match c.done {
            Done::Agent(done) => return self.agent_done(c.step, c.attempt, *done),
            Done::Embedded(done) => return self.embedded(c.step, c.attempt, *done),
            Done::Tools(done) => return self.tools_done(c.step, c.attempt, *done),
            Done::Action(r) => r,
        };
        let target = match &self.prepped[c.step] {
            Some(Prepped::Action(a)) => a.target(),
            _ => None,
        };
        self.report_commit(target, &result)?;
        if self.machine.step(c.step).attempt != c.attempt {
            return Ok(());
        }
        match result {
            Ok(output) => {
                // A connector's remarks (`warnings` in its output) are journaled.
                let warnings: Vec<Event> = output
                    .get("warnings")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                    .map(|w| Event::StepWarned {
                        step: self.wf.steps[c.step].id.clone(),
                        attempt: c.attempt,
                        warning: w.to_string(),
                    })
                    .collect();
                self.record(warnings)?;
                self.succeed(c.step, c.attempt, output)?;
                self.feed(Input::Finished {
                    step: c.step,
                    ok: true,
                    retryable: false,
                });
            }
            Err(e) if e.outcome_unknown => {
                // It may have happened: never retried automatically, the operator
                // decides (like a step interrupted by a crash).
                self.reasons.insert(c.step, e.message);
                self.feed(Input::Interrupted { step: c.step });
            }
            Err(e) => {
                self.reasons.insert(c.step, e.message);
                self.feed(Input::Finished {
                    step: c.step,
                    ok: false,
                    retryable: e.retryable,
                });
            }
        }
        Ok(())
    }
}
