//! Executing prepared work: pure results (`set` values, gates, timers, memory
//! writes) succeed at once; side effects and LLM calls run on the executor (a tokio
//! runtime and an HTTP client, both built on first use) and come back to the drive
//! loop as [`Completion`]s.

use serde_json::{Value as Json, json};

use super::{Driver, Prepped, calls};
use crate::connectors::{Action, ExecError};
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
    Embedded(Box<super::agent::EmbedDone>),
}

/// The async side: a tokio runtime, built on first use, and an HTTP client, built
/// on the first HTTP action (so runs without side effects start neither).
pub(super) struct Exec {
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) client: Option<reqwest::Client>,
    /// One client per LLM provider (each has its own `connect_timeout`).
    llm_clients: std::collections::HashMap<String, reqwest::Client>,
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
                self.record(vec![Event::StepStarted {
                    step: self.wf.steps[step].id.clone(),
                    attempt,
                }])?;
                self.flush()?;
                let timeout = self.wf.steps[step].timeout;
                let exec_env = self.env.exec.clone();
                let tx = self.tx.clone();
                let needs_client = matches!(action, Action::Http(_));
                let exec = self.exec(needs_client)?;
                let client = exec.client.clone();
                let handle = exec.rt.spawn(async move {
                    let result = action.commit(&exec_env, client.as_ref(), timeout).await;
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

    pub(super) fn exec(&mut self, with_client: bool) -> Result<&Exec> {
        use crate::error::Error;
        if self.exec.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::other(format!("cannot start the executor: {e}")))?;
            self.exec = Some(Exec {
                rt,
                client: None,
                llm_clients: Default::default(),
            });
        }
        let exec = self.exec.as_mut().expect("just set");
        if with_client && exec.client.is_none() {
            let client = reqwest::Client::builder()
                .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::other(format!("cannot build the HTTP client: {e}")))?;
            exec.client = Some(client);
        }
        Ok(exec)
    }

    /// The HTTP client for an LLM provider (its `connect_timeout` applied).
    pub(super) fn llm_client(
        &mut self,
        p: &crate::agent::config::ProviderConfig,
    ) -> Result<reqwest::Client> {
        use crate::error::Error;
        let exec = self.exec(false)?;
        if let Some(c) = exec.llm_clients.get(&p.name) {
            return Ok(c.clone());
        }
        let c = crate::agent::provider::client(p)
            .map_err(|e| Error::other(format!("cannot build the HTTP client: {e}")))?;
        let exec = self.exec.as_mut().expect("built above");
        exec.llm_clients.insert(p.name.clone(), c.clone());
        Ok(c)
    }

    pub(super) fn completed(&mut self, c: Completion) -> Result<()> {
        self.in_flight.remove(&c.step);
        let result = match c.done {
            Done::Agent(done) => return self.agent_done(c.step, c.attempt, *done),
            Done::Embedded(done) => return self.embedded(c.step, c.attempt, *done),
            Done::Action(r) => r,
        };
        if self.machine.step(c.step).attempt != c.attempt {
            return Ok(());
        }
        match result {
            Ok(output) => {
                self.succeed(c.step, c.attempt, output)?;
                self.feed(Input::Finished {
                    step: c.step,
                    ok: true,
                    retryable: false,
                });
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
