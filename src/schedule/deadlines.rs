//! Decision deadlines, applied by a tick: a pending inbox item whose deadline passed
//! gets its step's `on_timeout`, through the operator's decision path
//! ([`crate::inbox::decide_on_timeout`]), or, for `remind`, is surfaced again with
//! the next deadline one period later. Safe to run concurrently: a decision is a
//! compare-and-swap, and a reminder only moves the deadline it read.

use super::tick::TickItem;
use crate::clock::Millis;
use crate::error::{ErrorKind, Result};
use crate::journal::{Journal, ProposalRecord};
use crate::workflow::OnTimeout;

/// Apply every expired deadline at `now`.
pub fn apply(journal: &mut Journal, now: Millis, items: &mut Vec<TickItem>) -> Result<()> {
    for p in journal.expired_deadlines(now)? {
        if let Err(e) = apply_one(journal, &p, now, items) {
            match e.kind {
                // Decided (or its run cancelled) meanwhile, by someone else.
                ErrorKind::Conflict => {}
                _ => items.push(TickItem::Error {
                    run: Some(p.run_id),
                    schedule: None,
                    message: format!("inbox item {}: {}", p.id, e.message),
                    hint: e.hint,
                }),
            }
        }
    }
    Ok(())
}

fn apply_one(
    journal: &mut Journal,
    p: &ProposalRecord,
    now: Millis,
    items: &mut Vec<TickItem>,
) -> Result<()> {
    let on_timeout = p
        .on_timeout
        .as_deref()
        .and_then(OnTimeout::parse)
        .unwrap_or(OnTimeout::Reject);
    // Read again after the list was taken: another tick may have moved the deadline
    // (a reminder) meanwhile. Only a deadline that has passed applies.
    let Some(deadline) = p.deadline.filter(|d| *d <= now) else {
        return Ok(());
    };
    // An autonomy policy's quiet period (`notify`) passed without a decision.
    if let Some(rule) = p
        .on_timeout
        .as_deref()
        .and_then(|o| o.strip_prefix(crate::trust::POLICY_PREFIX))
    {
        crate::inbox::decide_after_quiet(journal, p, rule)?;
        items.push(TickItem::TimedOut {
            item: p.id,
            run: p.run_id,
            applied: crate::trust::policy_decider(rule),
        });
        return Ok(());
    }
    if on_timeout == OnTimeout::Remind {
        let period = period_of(journal, p)?;
        let next = next_after(deadline, period, now);
        if let Some(reminder) = journal.remind(p.id, deadline, next)? {
            items.push(TickItem::Reminded {
                item: p.id,
                run: p.run_id,
                reminder,
                next_due: next,
            });
        }
        return Ok(());
    }
    crate::inbox::decide_on_timeout(journal, p, on_timeout)?;
    items.push(TickItem::TimedOut {
        item: p.id,
        run: p.run_id,
        applied: on_timeout.as_str().to_string(),
    });
    Ok(())
}

/// The step's deadline period, from the run's workflow snapshot.
fn period_of(journal: &Journal, p: &ProposalRecord) -> Result<Millis> {
    let wf = crate::engine::snapshot(journal, p.run_id)?;
    let after = wf
        .steps
        .iter()
        .find(|s| s.id == p.step_id)
        .and_then(|s| s.deadline)
        .map(|d| d.after.as_millis() as Millis);
    // The first deadline was one period after the item was created.
    Ok(after
        .unwrap_or_else(|| p.deadline.unwrap_or(p.created_at) - p.created_at)
        .max(1000))
}

/// The first `deadline + k * period` (k >= 1) after `now`.
pub fn next_after(deadline: Millis, period: Millis, now: Millis) -> Millis {
    let period = period.max(1);
    let behind = (now - deadline).max(0);
    deadline + (behind / period + 1) * period
}

#[cfg(test)]
mod tests {
    use super::next_after;

    #[test]
    fn the_next_deadline_is_one_period_on_and_after_now() {
        assert_eq!(next_after(100, 50, 100), 150);
        assert_eq!(next_after(100, 50, 120), 150);
        assert_eq!(next_after(100, 50, 150), 200);
        // A tick long after: periods that passed unseen are not reminded one by one.
        assert_eq!(next_after(100, 50, 1000), 1050);
    }
}
