//! Circuit breakers in the driver: before a commit goes out, the step asks its
//! target's breaker ([`crate::journal::Journal::breaker_admit`]); an open breaker
//! holds the step (`step_held`, journaled before anything else) and it sleeps until
//! the cooldown ends, without spending a retry: the run waits and `aios tick`
//! continues it. After the commit, how it ended is reported to the breaker. An
//! agent step's LLM provider has a breaker too: while it is open the provider's
//! models count as unavailable, so the step falls back to its next model.

use serde_json::Value as Json;

use super::Driver;
use crate::connectors::{Blame, ExecError, Target};
use crate::engine::machine::Input;
use crate::error::Result;
use crate::health::Admit;
use crate::journal::{Event, Verdict};

impl Driver<'_> {
    /// Who calls, as a probe names it (`run 3, step fetch`).
    fn caller(&self, step: usize) -> String {
        format!("run {}, step {}", self.run.id, self.wf.steps[step].id)
    }

    /// Whether `step`'s call to `target` must wait for its breaker. When it must,
    /// the wait is journaled and the step sleeps until the breaker lets a call
    /// through again (then the same attempt executes).
    pub(super) fn held_by_breaker(
        &mut self,
        step: usize,
        attempt: u32,
        target: Option<Target>,
    ) -> Result<bool> {
        let Some(target) = target else {
            return Ok(false);
        };
        let Some(policy) = self.env.breakers.policy(&target) else {
            return Ok(false);
        };
        let by = self.caller(step);
        let Admit::Wait { until, reason } = self.journal.breaker_admit(&target, &policy, &by)?
        else {
            return Ok(false);
        };
        self.record(vec![Event::StepHeld {
            step: self.wf.steps[step].id.clone(),
            attempt,
            target: target.to_string(),
            until,
            reason,
        }])?;
        self.flush()?;
        self.feed(Input::Held { step });
        self.sleepers.insert(step, until);
        Ok(true)
    }

    /// Tell `target`'s breaker how a commit ended.
    pub(super) fn report_commit(
        &mut self,
        target: Option<Target>,
        result: &std::result::Result<Json, ExecError>,
    ) -> Result<()> {
        let verdict = match result {
            Ok(_) => Verdict::Answered,
            Err(e) => match e.blame {
                Blame::Target => Verdict::Failed(e.message.clone()),
                Blame::Answered => Verdict::Answered,
                Blame::None => return Ok(()),
            },
        };
        self.report(target, verdict)
    }

    /// Tell `target`'s breaker how a call ended.
    pub(super) fn report(&mut self, target: Option<Target>, verdict: Verdict) -> Result<()> {
        let Some(target) = target else {
            return Ok(());
        };
        let Some(policy) = self.env.breakers.policy(&target) else {
            return Ok(());
        };
        self.journal.breaker_report(&target, &policy, &verdict)?;
        Ok(())
    }

    /// Why an LLM provider's models are unavailable now (its breaker is open), or
    /// `None` when a call may go (also as the probe of its breaker).
    pub(super) fn provider_blocked(
        &mut self,
        step: usize,
        provider: &str,
    ) -> Result<Option<String>> {
        let target = Target::new(crate::connectors::TargetKind::Llm, provider);
        let Some(policy) = self.env.breakers.policy(&target) else {
            return Ok(None);
        };
        let by = self.caller(step);
        Ok(match self.journal.breaker_admit(&target, &policy, &by)? {
            Admit::Wait { reason, .. } => Some(reason),
            _ => None,
        })
    }
}
