//! Rate limits in the driver: before a commit or an LLM call starts, the step takes
//! its target's next turn from the journal ([`crate::journal::Journal::take_turn`]).
//! When the turn is later, the wait is journaled (`step_throttled`, in the same
//! transaction as the turn), the step is held while the others go on, and when its
//! turn comes the same work runs as it was prepared. The run stays `running`; a
//! cancelled run drops its held steps (their turns go unused), and a run where
//! another step failed fails them without starting them.

use std::time::{Duration, Instant};

use super::Driver;
use crate::agent::turns::Next;
use crate::agent::{AgentRequest, Turns};
use crate::connectors::Target;
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::Taker;

/// What a held step does when its turn comes.
pub(in crate::engine) enum Then {
    /// Commit its prepared action.
    Execute,
    /// Make its agent call: the turn the agent step had decided on.
    Turn(Box<HeldTurn>),
}

/// An agent step's call held for its provider's turn, as it was decided.
pub(in crate::engine) struct HeldTurn {
    pub(super) req: AgentRequest,
    pub(super) turns: Turns,
    pub(super) next: Next,
}

/// A step waiting for its turn.
pub(in crate::engine) struct Held {
    due: Instant,
    step: usize,
    attempt: u32,
    then: Then,
}

impl Driver<'_> {
    /// Whether `step` must wait for its turn at `target` before it goes: its wait
    /// is journaled and `then` runs when the turn comes. A step whose turn has
    /// come (it was held and is back) goes without asking again.
    pub(super) fn hold_for_turn(
        &mut self,
        step: usize,
        attempt: u32,
        target: Option<Target>,
        then: Then,
    ) -> Result<bool> {
        match self.wait_for_turn(step, attempt, target)? {
            Some(due) => {
                self.hold(step, attempt, due, then);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Take `step`'s turn at `target`: when it is later, the wait is journaled and
    /// the instant it comes is returned (the caller holds the step until then). A
    /// step whose turn has come (it was held and is back) goes without asking again.
    pub(super) fn wait_for_turn(
        &mut self,
        step: usize,
        attempt: u32,
        target: Option<Target>,
    ) -> Result<Option<Instant>> {
        if self.turn_came.remove(&step) == Some(attempt) {
            return Ok(None);
        }
        let Some(target) = target else {
            return Ok(None);
        };
        let Some((key, rate)) = self.env.rates.limit(&target) else {
            return Ok(None);
        };
        let (key, rate) = (key.to_string(), rate.clone());
        // What happened before is journaled before the turn is taken.
        self.flush()?;
        let step_id = self.wf.steps[step].id.clone();
        let now = self.journal.now();
        let (turn, waited) = self.journal.take_turn(
            Taker {
                run: self.run.id,
                step: &step_id,
                attempt,
            },
            &key,
            &rate,
        )?;
        let Some(ev) = waited else {
            return Ok(None);
        };
        self.observer.event(self.run.id, &ev);
        let wait = Duration::from_millis(u64::try_from(turn - now).unwrap_or(0));
        Ok(Some(Instant::now() + wait))
    }

    /// Hold `step` until `due`; then `then` runs.
    pub(super) fn hold(&mut self, step: usize, attempt: u32, due: Instant, then: Then) {
        self.held.push(Held {
            due,
            step,
            attempt,
            then,
        });
    }

    /// When the next held step's turn comes.
    pub(super) fn next_turn(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.due).min()
    }

    /// Let the held steps whose turn has come go, as they were prepared. Once
    /// another step failed for good, a held step does not start: it fails, as a
    /// retry due then would.
    pub(super) fn turns_due(&mut self) -> Result<()> {
        if self.machine.is_halted() && !self.held.is_empty() {
            for h in std::mem::take(&mut self.held) {
                if self.machine.step(h.step).attempt != h.attempt {
                    continue;
                }
                self.reasons.insert(
                    h.step,
                    "not started: another step failed while it waited for its turn under a rate limit"
                        .into(),
                );
                self.feed(Input::Finished {
                    step: h.step,
                    ok: false,
                    retryable: false,
                });
            }
            return Ok(());
        }
        let now = Instant::now();
        let (due, later): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.due <= now);
        self.held = later;
        for h in due {
            if self.machine.step(h.step).attempt != h.attempt {
                continue;
            }
            self.turn_came.insert(h.step, h.attempt);
            match h.then {
                Then::Execute => self.execute(h.step, h.attempt)?,
                Then::Turn(t) => {
                    let HeldTurn { req, turns, next } = *t;
                    self.perform_turn(h.step, h.attempt, req, turns, next)?
                }
            }
        }
        Ok(())
    }
}
