//! `update(model, msg) -> commands`: every change of the screen's state, and nothing
//! else. Pure: no IO, no clock, no terminal; the runtime performs the returned
//! [`Cmd`]s and feeds their results back as [`Msg`]s. Unit tested in `tests.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_textarea::TextArea;

use super::message::{Cmd, Msg};
use super::model::{Approval, Back, Detail, Item, Model, Overlay, Screen, Status};
use super::view::list_capacity;
use crate::journal::Decision;

/// Apply one message. Returns the work the runtime must do.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(k) if k.kind == KeyEventKind::Release => Vec::new(),
        Msg::Key(k) => key(m, k),
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
        Msg::Detail(d) => {
            if m.detail.as_ref().map(|x| x.record.id) != Some(d.record.id) {
                m.detail_scroll = 0;
            }
            m.detail = Some(*d);
            Vec::new()
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
                    "{count} item{} snoozed until {}",
                    plural(count),
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
            "{} items {}",
            done.len(),
            done.first().map(|d| d.1).unwrap_or("decided")
        )),
    }
}

/// Replace the items, keeping the selection on the same item when it is still there.
fn set_items(m: &mut Model, mut items: Vec<Item>) -> Vec<Cmd> {
    m.loaded = true;
    items.sort_by(|a, b| a.urgency().cmp(&b.urgency()).then(b.row.id.cmp(&a.row.id)));
    let ids: std::collections::HashSet<i64> = items.iter().map(|i| i.row.id).collect();
    m.marks.retain(|id| ids.contains(id));
    let selected = m.selected().map(|i| i.row.id);
    m.items = items;
    refilter_keeping(m, selected)
}

/// Recompute `visible` (snoozes, filter), keep the cursor on the same item if it is
/// still shown, and ask for its detail when the selection changed.
pub(super) fn refilter(m: &mut Model) -> Vec<Cmd> {
    let selected = m.selected().map(|i| i.row.id);
    refilter_keeping(m, selected)
}

fn refilter_keeping(m: &mut Model, selected: Option<i64>) -> Vec<Cmd> {
    let before = m.detail.as_ref().map(|d| d.record.id);
    let needle = m.filter.to_lowercase();
    let now = m.now;
    m.visible = m
        .items
        .iter()
        .enumerate()
        .filter(|(_, it)| it.row.snoozed_until.is_none_or(|u| u <= now))
        .filter(|(_, it)| needle.is_empty() || it.haystack.contains(&needle))
        .map(|(i, _)| i)
        .collect();
    if let Some(id) = selected
        && let Some(pos) = m.visible.iter().position(|&i| m.items[i].row.id == id)
    {
        m.cursor = pos;
    }
    m.cursor = m.cursor.min(m.visible.len().saturating_sub(1));
    keep_in_view(m);
    selection_changed(m, before)
}

fn selection_changed(m: &mut Model, shown: Option<i64>) -> Vec<Cmd> {
    match m.selected().map(|i| i.row.id) {
        Some(id) if shown != Some(id) => {
            m.detail_scroll = 0;
            vec![Cmd::LoadDetail(id)]
        }
        _ => Vec::new(),
    }
}

fn keep_in_view(m: &mut Model) {
    let cap = list_capacity(m.size).max(1);
    if m.cursor < m.offset {
        m.offset = m.cursor;
    } else if m.cursor >= m.offset + cap {
        m.offset = m.cursor + 1 - cap;
    }
    let max_offset = m.visible.len().saturating_sub(cap);
    m.offset = m.offset.min(max_offset);
}

fn move_cursor(m: &mut Model, to: isize) -> Vec<Cmd> {
    if m.visible.is_empty() {
        return Vec::new();
    }
    let before = m.selected().map(|i| i.row.id);
    let last = m.visible.len() as isize - 1;
    m.cursor = to.clamp(0, last) as usize;
    keep_in_view(m);
    selection_changed(m, before)
}

fn is_ctrl(k: &KeyEvent, c: char) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char(c)
}

fn key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if is_ctrl(&k, 'c') {
        m.quit = true;
        return vec![Cmd::Quit];
    }
    if !matches!(m.overlay, Overlay::None) {
        return overlay_key(m, k);
    }
    if let Some(input) = m.filter_input.as_mut() {
        match k.code {
            KeyCode::Enter => m.filter_input = None,
            KeyCode::Esc => {
                m.filter_input = None;
                m.filter.clear();
            }
            _ => {
                input.input(k);
                m.filter = input.lines().join("");
            }
        }
        m.cursor = 0;
        return refilter(m);
    }
    m.status = None;
    match m.screen {
        Screen::Inbox => inbox_key(m, k),
        Screen::Runs => runs_key(m, k),
        Screen::Timeline { back, .. } => timeline_key(m, k, back),
    }
}

/// Keys that work on every screen. `None` when the key is not one of them.
fn global_key(m: &mut Model, k: &KeyEvent) -> Option<Vec<Cmd>> {
    match k.code {
        KeyCode::Char('q') => {
            if m.driving.is_empty() {
                m.quit = true;
                Some(vec![Cmd::Quit])
            } else {
                m.overlay = Overlay::ConfirmQuit;
                Some(Vec::new())
            }
        }
        KeyCode::Char('?') => {
            m.overlay = Overlay::Help;
            Some(Vec::new())
        }
        _ => None,
    }
}

fn inbox_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    let page = list_capacity(m.size).max(1) as isize;
    let cur = m.cursor as isize;
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => move_cursor(m, cur + 1),
        KeyCode::Up | KeyCode::Char('k') => move_cursor(m, cur - 1),
        KeyCode::PageDown => move_cursor(m, cur + page),
        KeyCode::PageUp => move_cursor(m, cur - page),
        KeyCode::Char('d') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            move_cursor(m, cur + page / 2)
        }
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            move_cursor(m, cur - page / 2)
        }
        KeyCode::Home | KeyCode::Char('g') => move_cursor(m, 0),
        KeyCode::End | KeyCode::Char('G') => move_cursor(m, isize::MAX),
        KeyCode::Char('J') => {
            m.detail_scroll = m.detail_scroll.saturating_add(3);
            Vec::new()
        }
        KeyCode::Char('K') => {
            m.detail_scroll = m.detail_scroll.saturating_sub(3);
            Vec::new()
        }
        KeyCode::Tab => {
            m.screen = Screen::Runs;
            Vec::new()
        }
        KeyCode::Char('/') => {
            let mut input = TextArea::new(vec![m.filter.clone()]);
            input.move_cursor(ratatui_textarea::CursorMove::End);
            m.filter_input = Some(input);
            Vec::new()
        }
        KeyCode::Esc if !m.marks.is_empty() => {
            m.marks.clear();
            Vec::new()
        }
        KeyCode::Esc if !m.filter.is_empty() => {
            m.filter.clear();
            refilter(m)
        }
        KeyCode::Char(' ') => {
            if let Some(id) = m.selected().map(|i| i.row.id) {
                if !m.marks.remove(&id) {
                    m.marks.insert(id);
                }
                return move_cursor(m, cur + 1);
            }
            Vec::new()
        }
        KeyCode::Enter => match m.selected() {
            Some(it) => {
                let run = it.row.run_id;
                open_timeline(m, run, Back::Inbox)
            }
            None => Vec::new(),
        },
        KeyCode::Char('a') => approve(m),
        KeyCode::Char('r') => {
            let ids = targets(m);
            if !ids.is_empty() {
                m.overlay = Overlay::Reject {
                    ids,
                    input: line_input("why? (kept with the decision)"),
                    error: None,
                };
            }
            Vec::new()
        }
        KeyCode::Char('s') => {
            let ids = targets(m);
            if !ids.is_empty() {
                let mut input = line_input("a duration: 30m, 4h, 2d");
                input.insert_str("4h");
                m.overlay = Overlay::Snooze {
                    ids,
                    input,
                    error: None,
                };
            }
            Vec::new()
        }
        KeyCode::Char('e') => edit(m),
        _ => Vec::new(),
    }
}

/// What a decision applies to: the marked items, else the selected one.
fn targets(m: &Model) -> Vec<i64> {
    if m.marks.is_empty() {
        m.selected().map(|i| vec![i.row.id]).unwrap_or_default()
    } else {
        // In list order, so decisions happen in the order the operator sees.
        m.items
            .iter()
            .filter(|i| m.marks.contains(&i.row.id))
            .map(|i| i.row.id)
            .collect()
    }
}

fn line_input(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

fn editor(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(text.lines().map(str::to_string).collect());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

fn open_timeline(m: &mut Model, run: i64, back: Back) -> Vec<Cmd> {
    m.screen = Screen::Timeline { run, back };
    m.timeline_scroll = 0;
    if m.timeline.as_ref().map(|t| t.run.id) != Some(run) {
        m.timeline = None;
    }
    vec![Cmd::LoadTimeline(run)]
}

fn approve(m: &mut Model) -> Vec<Cmd> {
    let ids = targets(m);
    if ids.is_empty() {
        return Vec::new();
    }
    // A single approval gate with fields: ask for them first.
    if ids.len() == 1
        && let Some(d) = m.selected_detail()
        && d.record.id == ids[0]
        && d.kind == "approval"
        && let Some(fields) = d.record.action["fields"].as_array()
        && !fields.is_empty()
    {
        let lines = fields
            .iter()
            .map(|f| {
                let name = f["name"].as_str().unwrap_or("?");
                match &f["default"] {
                    serde_json::Value::Null => format!("{name}="),
                    serde_json::Value::String(s) => format!("{name}={s}"),
                    v => format!("{name}={v}"),
                }
            })
            .collect();
        let mut input = TextArea::new(lines);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        m.overlay = Overlay::Fields {
            id: ids[0],
            input,
            error: None,
        };
        return Vec::new();
    }
    approve_checked(
        m,
        Approval {
            ids,
            ..Approval::default()
        },
    )
}

/// Approve, unless some item is stale: then ask for an explicit confirmation.
fn approve_checked(m: &mut Model, approval: Approval) -> Vec<Cmd> {
    let stale: Vec<String> = approval
        .ids
        .iter()
        .filter_map(|id| {
            let detail = m.detail.as_ref().filter(|d| d.record.id == *id);
            match detail {
                Some(d) if !d.stale.is_empty() => Some(format!(
                    "#{id}: {}",
                    d.stale
                        .iter()
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                Some(_) => None,
                None => m
                    .items
                    .iter()
                    .find(|i| i.row.id == *id && i.stale)
                    .map(|_| format!("#{id}: built from something that changed since")),
            }
        })
        .collect();
    if !stale.is_empty() {
        m.overlay = Overlay::ConfirmStale { approval, stale };
        return Vec::new();
    }
    m.overlay = Overlay::None;
    vec![decide_approve(approval, false)]
}

fn decide_approve(a: Approval, confirm_stale: bool) -> Cmd {
    Cmd::Decide {
        ids: a.ids,
        decision: Decision::Approve,
        reason: None,
        edit: a.edit,
        fields: a.fields,
        confirm_stale,
    }
}

fn edit(m: &mut Model) -> Vec<Cmd> {
    if !m.marks.is_empty() {
        m.status = Some(err("edit one item at a time (unmark with Esc)"));
        return Vec::new();
    }
    let Some(d) = m.selected_detail() else {
        return Vec::new();
    };
    let id = d.record.id;
    if d.kind == "approval" {
        m.status = Some(err(
            "an approval gate has no action to edit; `a` asks for its fields",
        ));
        return Vec::new();
    }
    if d.record.final_action().is_null() {
        m.status = Some(err("this item has no stored action to edit"));
        return Vec::new();
    }
    let text = serde_json::to_string_pretty(d.record.final_action()).unwrap_or_default() + "\n";
    if m.settings.external_editor {
        vec![Cmd::ExternalEdit { id, text }]
    } else {
        m.overlay = Overlay::Editor {
            id,
            input: editor(&text),
            error: None,
        };
        Vec::new()
    }
}

fn runs_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    let last = m.runs.len().saturating_sub(1);
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => m.runs_cursor = (m.runs_cursor + 1).min(last),
        KeyCode::Up | KeyCode::Char('k') => m.runs_cursor = m.runs_cursor.saturating_sub(1),
        KeyCode::Home | KeyCode::Char('g') => m.runs_cursor = 0,
        KeyCode::End | KeyCode::Char('G') => m.runs_cursor = last,
        KeyCode::Tab | KeyCode::Esc => m.screen = Screen::Inbox,
        KeyCode::Enter => {
            if let Some(run) = m.runs.get(m.runs_cursor).map(|r| r.id) {
                return open_timeline(m, run, Back::Runs);
            }
        }
        _ => {}
    }
    Vec::new()
}

fn timeline_key(m: &mut Model, k: KeyEvent, back: Back) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => {
            m.timeline_scroll = m.timeline_scroll.saturating_add(1)
        }
        KeyCode::Up | KeyCode::Char('k') => m.timeline_scroll = m.timeline_scroll.saturating_sub(1),
        KeyCode::PageDown => m.timeline_scroll = m.timeline_scroll.saturating_add(10),
        KeyCode::PageUp => m.timeline_scroll = m.timeline_scroll.saturating_sub(10),
        KeyCode::Esc | KeyCode::Backspace | KeyCode::Enter => {
            m.screen = match back {
                Back::Inbox => Screen::Inbox,
                Back::Runs => Screen::Runs,
            }
        }
        KeyCode::Tab => m.screen = Screen::Runs,
        _ => {}
    }
    Vec::new()
}

fn overlay_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    let overlay = std::mem::take(&mut m.overlay);
    let (next, cmds) = overlay_next(m, overlay, k);
    m.overlay = next;
    cmds
}

fn overlay_next(m: &mut Model, overlay: Overlay, k: KeyEvent) -> (Overlay, Vec<Cmd>) {
    let yes = matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y'));
    let no = matches!(
        k.code,
        KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q')
    );
    match overlay {
        Overlay::None => (Overlay::None, Vec::new()),
        Overlay::Help => (Overlay::None, Vec::new()),
        Overlay::ConfirmQuit if yes => {
            m.quit = true;
            (Overlay::None, vec![Cmd::Quit])
        }
        Overlay::ConfirmQuit if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmQuit => (o, Vec::new()),
        Overlay::ConfirmStale { approval, .. } if yes => {
            (Overlay::None, vec![decide_approve(approval, true)])
        }
        Overlay::ConfirmStale { .. } if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmStale { .. } => (o, Vec::new()),
        Overlay::ConfirmEdit { id, text, .. } if yes => {
            let cmds = approve_checked(
                m,
                Approval {
                    ids: vec![id],
                    edit: Some(text),
                    fields: Vec::new(),
                },
            );
            (std::mem::take(&mut m.overlay), cmds)
        }
        Overlay::ConfirmEdit { id, text, .. } if k.code == KeyCode::Char('e') => (
            Overlay::Editor {
                id,
                input: editor(&text),
                error: None,
            },
            Vec::new(),
        ),
        Overlay::ConfirmEdit { .. } if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmEdit { .. } => (o, Vec::new()),
        Overlay::Reject {
            ids,
            mut input,
            error,
        } => match k.code {
            KeyCode::Esc => (Overlay::None, Vec::new()),
            KeyCode::Enter => {
                let reason = input.lines().join(" ").trim().to_string();
                if reason.is_empty() {
                    return (
                        Overlay::Reject {
                            ids,
                            input,
                            error: Some("a rejection needs a reason".into()),
                        },
                        Vec::new(),
                    );
                }
                (
                    Overlay::None,
                    vec![Cmd::Decide {
                        ids,
                        decision: Decision::Reject,
                        reason: Some(reason),
                        edit: None,
                        fields: Vec::new(),
                        confirm_stale: false,
                    }],
                )
            }
            _ => {
                input.input(k);
                (Overlay::Reject { ids, input, error }, Vec::new())
            }
        },
        Overlay::Snooze {
            ids,
            mut input,
            error,
        } => match k.code {
            KeyCode::Esc => (Overlay::None, Vec::new()),
            KeyCode::Enter => {
                let text = input.lines().join("").trim().to_string();
                match crate::workflow::parse_duration(&text) {
                    Ok(d) if !d.is_zero() => {
                        let until = m.now + d.as_millis() as i64;
                        (Overlay::None, vec![Cmd::Snooze { ids, until }])
                    }
                    Ok(_) => (
                        Overlay::Snooze {
                            ids,
                            input,
                            error: Some("snooze for more than 0s".into()),
                        },
                        Vec::new(),
                    ),
                    Err(e) => (
                        Overlay::Snooze {
                            ids,
                            input,
                            error: Some(format!("{e}; write it like 30m, 4h or 2d")),
                        },
                        Vec::new(),
                    ),
                }
            }
            _ => {
                input.input(k);
                (Overlay::Snooze { ids, input, error }, Vec::new())
            }
        },
        Overlay::Fields {
            id,
            mut input,
            error,
        } => {
            if k.code == KeyCode::Esc {
                return (Overlay::None, Vec::new());
            }
            if is_ctrl(&k, 's') {
                let lines: Vec<String> = input
                    .lines()
                    .iter()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
                let mut fields = Vec::new();
                for l in &lines {
                    match l.split_once('=') {
                        Some((k, v)) if !k.trim().is_empty() => {
                            // An empty value leaves the field to its default (or asks for it).
                            if !v.trim().is_empty() {
                                fields.push((k.trim().to_string(), v.trim().to_string()))
                            }
                        }
                        _ => {
                            return (
                                Overlay::Fields {
                                    id,
                                    input,
                                    error: Some(format!("`{l}` is not NAME=VALUE")),
                                },
                                Vec::new(),
                            );
                        }
                    }
                }
                let cmds = approve_checked(
                    m,
                    Approval {
                        ids: vec![id],
                        edit: None,
                        fields,
                    },
                );
                return (std::mem::take(&mut m.overlay), cmds);
            }
            input.input(k);
            (Overlay::Fields { id, input, error }, Vec::new())
        }
        Overlay::Editor {
            id,
            mut input,
            error,
        } => {
            if k.code == KeyCode::Esc {
                return (Overlay::None, Vec::new());
            }
            if is_ctrl(&k, 's') {
                let text = input.lines().join("\n");
                return (
                    Overlay::Editor { id, input, error },
                    vec![Cmd::CheckEdit { id, text }],
                );
            }
            input.input(k);
            (Overlay::Editor { id, input, error }, Vec::new())
        }
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
pub(super) mod tests;
