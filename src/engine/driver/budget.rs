//! Spending caps for agent steps: the ledger of what was spent against each cap, the
//! budget item a call that would pass one opens instead of being made, and what the
//! operator's decision on that item does (raise, switch model, stop).

use serde_json::{Value as Json, json};

use super::{Driver, Prepped};
use crate::agent::budget::{self, Ledger, Stop};
use crate::agent::{AgentRequest, Target, Turns};
use crate::engine::machine::Input;
use crate::error::Result;
use crate::journal::{Decision, ProposalKind, ProposalRecord};

impl Driver<'_> {
    /// What was spent against each cap (calls in flight count at their estimate).
    pub(super) fn ledger(&self, step: usize) -> Result<Ledger> {
        let (day, month) = budget::period_starts(self.journal.now());
        let r = self.reserved_usd;
        // The step's persona may have caps of its own (on top of the global ones).
        let persona = self.persona(step).ok();
        let (persona_daily_cap, persona_monthly_cap) = persona
            .as_ref()
            .map(|p| (p.max_usd_day, p.max_usd_month))
            .unwrap_or_default();
        let name = self.persona_name(step);
        let by_persona = |since| -> Result<f64> {
            Ok(match (persona_daily_cap, persona_monthly_cap) {
                (None, None) => 0.0,
                _ => self.journal.llm_spent_by_persona_since(name, since)? + r,
            })
        };
        Ok(Ledger {
            persona_day_spent: by_persona(day)?,
            persona_month_spent: by_persona(month)?,
            persona_daily_cap,
            persona_monthly_cap,
            run_spent: self.journal.llm_spent_by_run(self.run.id)? + r,
            day_spent: self.journal.llm_spent_since(day)? + r,
            month_spent: self.journal.llm_spent_since(month)? + r,
            run_cap: self.wf.budget.max_usd,
            daily_cap: self.env.agent.caps.daily_usd,
            monthly_cap: self.env.agent.caps.monthly_usd,
            raised: self.journal.budget_raised(self.run.id)?,
        })
    }

    /// The call would pass a cap: it is not made; the step waits on a budget item.
    pub(super) fn budget_stop(
        &mut self,
        step: usize,
        req: AgentRequest,
        job: Turns,
        target: &Target,
        stop: Stop,
    ) -> Result<()> {
        let next = req.models.get(job.model_idx + 1).cloned();
        if self.dry() {
            // A dry run never waits for the operator.
            let message = format!(
                "a call to `{}` (about {}) would pass the {} cap ({} of {} spent); a dry run does not stop for a budget decision",
                target.alias,
                budget::usd(stop.estimate),
                stop.cap.as_str(),
                budget::usd(stop.spent),
                budget::usd(stop.limit),
            );
            return self.agent_give_up(
                step,
                crate::agent::turns::GiveUp {
                    message,
                    retry: false,
                },
            );
        }
        let summary = format!(
            "a call to `{}` (about {}) would pass the {} cap: {} of {} spent",
            target.alias,
            budget::usd(stop.estimate),
            stop.cap.as_str(),
            budget::usd(stop.spent),
            budget::usd(stop.limit),
        );
        let action = json!({
            "cap": stop.cap.as_str(),
            "limit_usd": stop.limit,
            "spent_usd": stop.spent,
            "estimate_usd": stop.estimate,
            "model": target.alias,
            "provider": target.provider_name(),
            "next_model": next,
            "request": req,
            "job": job,
        });
        let mut choices =
            vec!["approve --raise USD: let this run spend USD more than its caps".to_string()];
        if let Some(n) = &next {
            choices.push(format!("approve --switch: use the next model, `{n}`"));
        }
        choices.push("reject --reason R: stop here; the step fails (resume later)".into());
        let evidence = crate::journal::Evidence {
            choices,
            ..Default::default()
        }
        .to_json();
        self.feed(Input::Blocked { step });
        let attempt = self.machine.step(step).attempt;
        self.agents.turns.insert(step, job);
        self.open_item(
            step,
            attempt,
            ProposalKind::Budget,
            summary,
            action,
            evidence,
        )?;
        Ok(())
    }

    /// A budget item was decided: switch the model, or note why the step stops.
    pub(super) fn budget_decided(&mut self, step: usize, p: &ProposalRecord) {
        match p.decision {
            Some(Decision::Approve) => {
                let switch = p
                    .fields
                    .as_ref()
                    .and_then(|f| f.get("switch_to"))
                    .is_some_and(|s| s.is_string());
                if switch {
                    self.agents.turns.entry(step).or_default().skip_model();
                }
            }
            Some(Decision::Reject) => {
                self.agents.turns.remove(&step);
                self.reasons.insert(
                    step,
                    format!(
                        "stopped at a budget cap by the operator: {}",
                        p.reason.as_deref().unwrap_or("no reason given")
                    ),
                );
            }
            _ => {}
        }
    }

    /// Resume: a step waiting on a budget item gets its request and calls back.
    pub(in crate::engine) fn restore_budget_stop(&mut self, step: usize, action: &Json) {
        if let Ok(req) = serde_json::from_value::<AgentRequest>(action["request"].clone()) {
            self.prepped[step] = Some(Prepped::Agent(Box::new(req)));
        }
        let job = serde_json::from_value::<Turns>(action["job"].clone()).unwrap_or_default();
        self.agents.turns.insert(step, job);
    }
}
