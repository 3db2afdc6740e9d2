//! Acting on a run from the runs screen or its timeline: resume it (a failed run:
//! retry its failed steps), cancel it with a reason, or open the item it waits on;
//! a failed run's failure item is decided here too (retry, skip, undo, abandon).
//! The same paths as `aios resume`, `aios cancel`, `aios approve ID [--skip|
//! --compensate]`, `aios reject ID` and the inbox.

use super::list::refilter;
use super::overlays::line_input;
use super::{err, info};
use crate::journal::{ProposalKind, RunStatus, RunSummary};
use crate::tui::message::Cmd;
use crate::tui::model::{Model, Overlay, Screen};

/// The run key `c` on `run`: `Some` when it is one of the run actions.
pub(super) fn run_action(m: &mut Model, run: &RunSummary, c: char) -> Option<Vec<Cmd>> {
    if let Some(choice) = failure_key(c)
        && run.status == RunStatus::Failed
    {
        return Some(match failure_item(m, run.id) {
            Some(id) => decide_failure(m, run.id, id, c, choice),
            None if c == 'r' => resume(m, run),
            None => {
                m.status = Some(info(format!(
                    "run {} has no failure item waiting in the inbox",
                    run.id
                )));
                Vec::new()
            }
        });
    }
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

/// The failure item's choice (its key in the inbox) a run key makes: `r` retry,
/// `p` skip, `u` undo (compensate), `x` abandon.
pub fn failure_key(c: char) -> Option<char> {
    match c {
        'r' => Some('a'),
        'p' => Some('p'),
        'u' => Some('c'),
        'x' => Some('r'),
        _ => None,
    }
}

/// The pending failure item of `run`, if any.
pub fn failure_item(m: &Model, run: i64) -> Option<i64> {
    m.items
        .iter()
        .find(|i| i.row.run_id == run && i.row.kind == ProposalKind::Failure.as_str())
        .map(|i| i.row.id)
}

/// Decide `run`'s failure item `id` with the choice of run key `c` (inbox key
/// `choice`), as the inbox does: the item is selected in the list (the screen
/// stays), and once its detail is loaded the choice is made at once or after what
/// it asks for (abandon: a reason).
fn decide_failure(m: &mut Model, run: i64, id: i64, c: char, choice: char) -> Vec<Cmd> {
    if !m.marks.is_empty() {
        m.status = Some(err(
            "items are marked in the inbox: unmark them first (esc on the inbox)",
        ));
        return Vec::new();
    }
    let Some(item) = m.items.iter().find(|i| i.row.id == id) else {
        return Vec::new();
    };
    if item.row.snoozed_until.is_some_and(|u| u > m.now) {
        m.status = Some(info(format!(
            "failure item {id} of run {run} is snoozed; unsnooze it with: aios inbox unsnooze {id}"
        )));
        return Vec::new();
    }
    let mut cmds = Vec::new();
    if m.selected().map(|i| i.row.id) != Some(id) {
        if !m.visible.iter().any(|&i| m.items[i].row.id == id) {
            m.filter.clear();
        }
        cmds = refilter(m);
        if let Some(pos) = m.visible.iter().position(|&i| m.items[i].row.id == id) {
            m.cursor = pos;
            super::list::keep_in_view(m);
        }
    }
    if m.selected_detail().is_none_or(|d| d.record.id != id) {
        // Made when the detail arrives (`failure_loaded`).
        m.pending_failure = Some((run, id, c));
        m.status = Some(info(format!("loading failure item {id} of run {run}…")));
        return vec![Cmd::LoadDetail(id)];
    }
    let all = m.choices();
    let Some(made) = all.iter().find(|x| x.key == choice).cloned() else {
        let offered: Vec<String> = all
            .iter()
            .filter_map(|x| {
                let key = ['r', 'p', 'u', 'x']
                    .into_iter()
                    .find(|&k| failure_key(k) == Some(x.key))?;
                Some(format!("{key} {}", x.short))
            })
            .collect();
        m.status = Some(err(format!(
            "failure item {id} of run {run} offers no {c}: its step cannot be {}; its keys: {}",
            if c == 'p' { "skipped" } else { "undone" },
            offered.join(" · ")
        )));
        return cmds;
    };
    cmds.extend(super::decide::make(m, id, made));
    cmds
}

/// The detail of failure item `id` arrived after run key `c` was pressed on `run`:
/// make the choice now, if the item is still selected.
pub(super) fn failure_loaded(m: &mut Model, run: i64, id: i64, c: char) -> Vec<Cmd> {
    match failure_key(c) {
        Some(choice) if m.selected().is_some_and(|i| i.row.id == id) => {
            m.status = None;
            decide_failure(m, run, id, c, choice)
        }
        _ => Vec::new(),
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
