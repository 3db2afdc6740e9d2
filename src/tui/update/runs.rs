//! Acting on a run from the runs screen or its timeline: resume it (a failed run:
//! retry its failed steps), cancel it with a reason, or open the item it waits on.
//! The same paths as `aios resume`, `aios cancel` and the inbox.

use super::list::refilter;
use super::overlays::line_input;
use super::{err, info};
use crate::journal::{RunStatus, RunSummary};
use crate::tui::message::Cmd;
use crate::tui::model::{Model, Overlay, Screen};

/// The run key `c` on `run`: `Some` when it is one of the run actions.
pub(super) fn run_action(m: &mut Model, run: &RunSummary, c: char) -> Option<Vec<Cmd>> {
    match c {
        'r' => Some(resume(m, run)),
        'c' => {
            if run.status.is_terminal() {
                m.status = Some(err(format!(
                    "run {} is {}; there is nothing to cancel",
                    run.id,
                    run.status.as_str()
                )));
            } else {
                m.overlay = Overlay::Cancel {
                    run: run.id,
                    input: line_input("why (kept in the journal; may be empty)"),
                };
            }
            Some(Vec::new())
        }
        'o' => Some(open_item(m, run.id)),
        _ => None,
    }
}

/// What `r` does to a run in `status` (the footer's word), `None` when nothing.
pub fn resume_word(status: RunStatus) -> Option<&'static str> {
    match status {
        RunStatus::Failed => Some("retry"),
        RunStatus::Waiting | RunStatus::Running => Some("resume"),
        RunStatus::Succeeded | RunStatus::Cancelled => None,
    }
}

fn resume(m: &mut Model, run: &RunSummary) -> Vec<Cmd> {
    if m.driving.contains(&run.id) {
        m.status = Some(info(format!("run {} is already driven here", run.id)));
        return Vec::new();
    }
    match resume_word(run.status) {
        Some(word) => {
            m.status = Some(info(format!(
                "run {}: {word}",
                run.id,
                word = if word == "retry" {
                    "retrying its failed steps"
                } else {
                    "resuming"
                }
            )));
            vec![Cmd::Resume(run.id)]
        }
        None => {
            m.status = Some(err(format!(
                "run {} {}; there is nothing to resume",
                run.id,
                run.status.as_str()
            )));
            Vec::new()
        }
    }
}

/// Show the inbox with the first item of `run` selected (clearing a filter that hides
/// it); a snoozed item or none at all is said.
fn open_item(m: &mut Model, run: i64) -> Vec<Cmd> {
    let Some(item) = m.items.iter().find(|i| i.row.run_id == run) else {
        m.status = Some(info(format!("run {run} has no item waiting in the inbox")));
        return Vec::new();
    };
    let id = item.row.id;
    if item.row.snoozed_until.is_some_and(|u| u > m.now) {
        m.status = Some(info(format!(
            "inbox {id} of run {run} is snoozed; unsnooze it with: aios inbox unsnooze {id}"
        )));
        return Vec::new();
    }
    m.screen = Screen::Inbox;
    if !m.visible.iter().any(|&i| m.items[i].row.id == id) {
        m.filter.clear();
    }
    let mut cmds = refilter(m);
    if let Some(pos) = m.visible.iter().position(|&i| m.items[i].row.id == id) {
        m.cursor = pos;
        super::list::keep_in_view(m);
        cmds = vec![Cmd::LoadDetail(id)];
    }
    cmds
}

/// Enter on the cancel prompt: the reason (empty: none).
pub(super) fn cancel_reason(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}
