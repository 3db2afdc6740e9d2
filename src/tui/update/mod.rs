//! `update(model, msg) -> commands`: every change of the screen's state, and nothing
//! else. Pure: no IO, no clock, no terminal; the runtime performs the returned
//! [`Cmd`]s and feeds their results back as [`Msg`]s. Unit tested in `tests.rs`.
//!
//! This file owns the entry point, which dispatches each message, and the status
//! lines it leaves. Keys are routed per screen in `keys`, the inbox list (filter,
//! snoozes, cursor, scroll) is kept in `list`, approving and editing become
//! decisions in `decide`, `runs` acts on a run (resume, retry, cancel, open its item)
//! `overlays` handles the keys of an open popup and `mouse` clicks and the wheel.

mod decide;
mod keys;
mod list;
mod mouse;
mod overlays;
mod runs;

use crossterm::event::KeyEventKind;

use super::message::{Cmd, Msg};
use super::model::{Detail, Model, Overlay, Status};
use keys::key;
pub(super) use list::refilter;
use list::{keep_in_view, set_items};
use overlays::editor;
pub use runs::{failure_item, failure_key, resume_word};

// `tests.rs` reaches these through `use super::*`, as it did when this was one file.
#[cfg(test)]
use super::model::Back;
#[cfg(test)]
use super::view::list_capacity;

/// Apply one message. Returns the work the runtime must do.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(k) if k.kind == KeyEventKind::Release => Vec::new(),
        Msg::Key(k) => key(m, k),
        Msg::Mouse(e) => mouse::mouse(m, e),
        Msg::Resize(w, h) => {
            m.size = (w, h);
            keep_in_view(m);
            Vec::new()
        }
        Msg::Tick(now) => {
            let expired = m
                .items
                .iter()
                .any(|i| i.row.snoozed_until.is_some_and(|u| u > m.now && u <= now));
            m.now = now;
            if expired {
                return refilter(m);
            }
            Vec::new()
        }
        Msg::Inbox(items) => set_items(m, items),
        Msg::Runs(runs) => {
            m.runs = runs;
            m.runs_cursor = m.runs_cursor.min(m.runs.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Stats(st) => {
            m.stats = Some(*st);
            Vec::new()
        }
        Msg::Breakers(list) => {
            // The selection stays on the same target when it is still tripped.
            let selected = m.selected_breaker().map(|b| b.target.clone());
            m.breakers = list;
            m.breakers_cursor = selected
                .and_then(|t| m.breakers.iter().position(|b| b.target == t))
                .unwrap_or(m.breakers_cursor)
                .min(m.breakers.len().saturating_sub(1));
            Vec::new()
        }
        Msg::Detail(d) => {
            if m.detail.as_ref().map(|x| x.record.id) != Some(d.record.id) {
                m.detail_scroll = 0;
            }
            let id = d.record.id;
            m.detail = Some(*d);
            match m.pending_failure.take() {
                Some((run, item, c)) if item == id => runs::failure_loaded(m, run, item, c),
                other => {
                    m.pending_failure = other;
                    Vec::new()
                }
            }
        }
        Msg::Timeline(t) => {
            m.timeline = Some(*t);
            Vec::new()
        }
        Msg::Decided { done, failed } => {
            for (id, _) in &done {
                m.marks.remove(id);
            }
            m.status = Some(decided_status(&done, &failed));
            Vec::new()
        }
        Msg::Snoozed {
            count,
            until,
            failed,
        } => {
            m.marks.clear();
            m.status = Some(match failed.first() {
                Some((id, e)) => err(format!("item {id} not snoozed: {e}")),
                None => info(format!(
                    "{} snoozed until {}",
                    crate::text::count(count, "item"),
                    crate::clock::format_ms(until)
                )),
            });
            Vec::new()
        }
        Msg::DriveStarted(run) => {
            m.driving.insert(run);
            Vec::new()
        }
        Msg::DriveEnded { run, outcome } => {
            m.driving.remove(&run);
            m.status = Some(match outcome {
                Ok(status) => info(format!("run {run} {status}")),
                Err(e) => err(format!("run {run} {e}")),
            });
            Vec::new()
        }
        Msg::EditorClosed { id, text } => match text {
            Some(text) => vec![Cmd::CheckEdit { id, text }],
            None => {
                m.status = Some(info(
                    "edit abandoned: the action is unchanged, nothing decided",
                ));
                Vec::new()
            }
        },
        Msg::EditChecked { id, text, result } => {
            match result {
                Ok(Some(diff)) => m.overlay = Overlay::ConfirmEdit { id, text, diff },
                Ok(None) => {
                    m.overlay = Overlay::None;
                    m.status = Some(info(
                        "the edit changes nothing; approve with `a` to commit the action as proposed",
                    ));
                }
                Err(e) => {
                    m.overlay = Overlay::Editor {
                        id,
                        input: editor(&text),
                        error: Some(e),
                    }
                }
            }
            Vec::new()
        }
        Msg::Status { text, error } => {
            m.status = Some(Status { text, error });
            Vec::new()
        }
    }
}

fn info(t: impl Into<String>) -> Status {
    Status {
        text: t.into(),
        error: false,
    }
}

fn err(t: impl Into<String>) -> Status {
    Status {
        text: t.into(),
        error: true,
    }
}

fn decided_status(done: &[(i64, &'static str)], failed: &[(i64, String)]) -> Status {
    if let Some((id, e)) = failed.first() {
        let more = if failed.len() > 1 {
            format!(" (and {} more)", failed.len() - 1)
        } else {
            String::new()
        };
        let ok = if done.is_empty() {
            String::new()
        } else {
            format!("{} decided; ", done.len())
        };
        return err(format!("{ok}item {id} not decided: {e}{more}"));
    }
    match done {
        [(id, verb)] => info(format!("inbox {id} {verb}")),
        _ => info(format!(
            "{} {}",
            crate::text::count(done.len(), "item"),
            done.first().map(|d| d.1).unwrap_or("decided")
        )),
    }
}

/// The detail of the selected item, for tests and the runtime.
pub fn wants_detail(m: &Model) -> Option<i64> {
    let id = m.selected()?.row.id;
    match &m.detail {
        Some(Detail { record, .. }) if record.id == id => None,
        _ => Some(id),
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub(crate) mod tests_control;
#[cfg(test)]
mod tests_decide;
#[cfg(test)]
mod tests_rescue;
#[cfg(test)]
mod tests_runs;
#[cfg(test)]
mod tests_views;
