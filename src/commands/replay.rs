//! `aios replay [RUN]`: rebuild runs' state (and, without RUN, the circuit
//! breakers' and the unset facts' tombstones) from their events and compare.

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::ReplayArgs;

pub fn replay(ctx: &Ctx, args: ReplayArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    let ids: Vec<i64> = match args.run {
        Some(id) => vec![id],
        // Every run, dry runs included (they are journaled like the others).
        None => {
            let mut ids: Vec<i64> = journal
                .runs(None, usize::MAX >> 1)?
                .iter()
                .chain(&journal.runs_of(None, usize::MAX >> 1, true)?)
                .map(|r| r.id)
                .collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        }
    };
    let s = ctx.ui.out();
    let mut bad = 0usize;
    let checked = ids.len();
    for id in ids {
        let report = journal.replay(id)?;
        if report.differences.is_empty() {
            ui::println(&format!(
                "{} run {id}: {} replay to the stored state",
                s.green("ok"),
                crate::text::count(report.events, "event")
            ));
        } else {
            bad += 1;
            ui::println(&format!(
                "{} run {id}: the stored state differs from its events:",
                s.red_bold("mismatch")
            ));
            for d in &report.differences {
                ui::println(&format!("  {d}"));
            }
        }
    }
    // With every run (no RUN given), the circuit breakers too, and say what was
    // checked, even when it was nothing.
    if args.run.is_none() {
        let (events, differences) = journal.replay_breakers()?;
        if !differences.is_empty() {
            bad += 1;
            ui::println(&format!(
                "{} circuit breakers: the stored state differs from their events:",
                s.red_bold("mismatch")
            ));
            for d in &differences {
                ui::println(&format!("  {d}"));
            }
        } else if events > 0 {
            ui::println(&format!(
                "{} circuit breakers: {} replay to the stored state",
                s.green("ok"),
                crate::text::count(events, "event")
            ));
        }
        let (events, differences) = journal.replay_recorded_facts()?;
        if !differences.is_empty() {
            bad += 1;
            ui::println(&format!(
                "{} facts set by hand: the stored versions differ from their events:",
                s.red_bold("mismatch")
            ));
            for d in &differences {
                ui::println(&format!("  {d}"));
            }
        } else if events > 0 {
            ui::println(&format!(
                "{} facts set by hand: {} replay to the stored versions",
                s.green("ok"),
                crate::text::count(events, "event")
            ));
        }
        let (events, differences) = journal.replay_fact_tombstones()?;
        if !differences.is_empty() {
            bad += 1;
            ui::println(&format!(
                "{} unset facts: the stored tombstones differ from their events:",
                s.red_bold("mismatch")
            ));
            for d in &differences {
                ui::println(&format!("  {d}"));
            }
        } else if events > 0 {
            ui::println(&format!(
                "{} unset facts: {} replay to the stored tombstones",
                s.green("ok"),
                crate::text::count(events, "event")
            ));
        }
        ui::println(&match (checked, bad) {
            (0, _) => "no runs to replay: the journal holds none yet".to_string(),
            (n, 0) => format!(
                "replayed {}: the stored state and the events agree",
                crate::text::count(n, "run")
            ),
            (n, b) => format!(
                "replayed {}: {} {} from {}",
                crate::text::count(n, "run"),
                b,
                crate::text::noun(b, "differs", "differ"),
                crate::text::noun(b, "its events", "their events")
            ),
        });
    }
    Ok(if bad == 0 { Exit::Ok } else { Exit::Failed })
}
