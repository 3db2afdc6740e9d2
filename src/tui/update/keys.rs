//! Keys on a screen with no popup open: the global ones (quit, help), the filter line,
//! then the inbox, runs and timeline screens each with their own (a run's actions are
//! in `runs`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::decide::{choose, targets};
use super::list::{move_cursor, refilter};
use super::overlays::{line_input, overlay_key};
use super::runs::run_action;
use crate::tui::message::Cmd;
use crate::tui::model::{Back, Model, Overlay, Screen};
use crate::tui::view::list_capacity;

pub(super) fn is_ctrl(k: &KeyEvent, c: char) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char(c)
}

pub(super) fn key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
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
        Screen::Overview => overview_key(m, k),
        Screen::Timeline { run, back } => timeline_key(m, k, run, back),
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
            m.overlay = Overlay::Help { scroll: 0 };
            Some(Vec::new())
        }
        _ => None,
    }
}

fn inbox_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    // The selected item's own keys: its choices (approve, retry, raise, reject, …).
    if let KeyCode::Char(c) = k.code
        && !k.modifiers.contains(KeyModifiers::CONTROL)
        && let Some(cmds) = choose(m, c)
    {
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
        KeyCode::Char('z') => {
            m.show_snoozed = !m.show_snoozed;
            m.marks.clear();
            m.cursor = 0;
            m.offset = 0;
            refilter(m)
        }
        KeyCode::Char('u') if m.show_snoozed => {
            let ids = targets(m);
            if ids.is_empty() {
                Vec::new()
            } else {
                vec![Cmd::Unsnooze(ids)]
            }
        }
        KeyCode::Char('s') if !m.show_snoozed => {
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
        _ => Vec::new(),
    }
}

fn runs_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    if let KeyCode::Char(c) = k.code
        && !k.modifiers.contains(KeyModifiers::CONTROL)
        && let Some(run) = m.runs.get(m.runs_cursor).cloned()
        && let Some(cmds) = run_action(m, &run, c)
    {
        return cmds;
    }
    let last = m.runs.len().saturating_sub(1);
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => m.runs_cursor = (m.runs_cursor + 1).min(last),
        KeyCode::Up | KeyCode::Char('k') => m.runs_cursor = m.runs_cursor.saturating_sub(1),
        KeyCode::Home | KeyCode::Char('g') => m.runs_cursor = 0,
        KeyCode::End | KeyCode::Char('G') => m.runs_cursor = last,
        KeyCode::Tab => {
            m.screen = Screen::Overview;
            return vec![Cmd::LoadStats];
        }
        KeyCode::Esc => m.screen = Screen::Inbox,
        KeyCode::Enter => {
            if let Some(run) = m.runs.get(m.runs_cursor).map(|r| r.id) {
                return open_timeline(m, run, Back::Runs);
            }
        }
        _ => {}
    }
    Vec::new()
}

fn overview_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    let last = m.breakers.len().saturating_sub(1);
    match k.code {
        KeyCode::Tab | KeyCode::Esc => m.screen = Screen::Inbox,
        KeyCode::Char('r') => return vec![Cmd::LoadStats],
        KeyCode::Down | KeyCode::Char('j') => m.breakers_cursor = (m.breakers_cursor + 1).min(last),
        KeyCode::Up | KeyCode::Char('k') => m.breakers_cursor = m.breakers_cursor.saturating_sub(1),
        KeyCode::Char('x') => return close_breaker(m),
        _ => {}
    }
    Vec::new()
}

/// `x` on the Overview tab: close the selected circuit breaker by hand (the
/// library call of `aios breakers close TARGET`).
fn close_breaker(m: &mut Model) -> Vec<Cmd> {
    match m.selected_breaker() {
        Some(b) => {
            let target = b.target.clone();
            m.status = Some(super::info(format!("closing circuit breaker {target}…")));
            vec![Cmd::CloseBreaker(target)]
        }
        None => {
            m.status = Some(super::info(
                "no circuit breaker is open: every target answers",
            ));
            Vec::new()
        }
    }
}

fn timeline_key(m: &mut Model, k: KeyEvent, run: i64, back: Back) -> Vec<Cmd> {
    if let Some(cmds) = global_key(m, &k) {
        return cmds;
    }
    if let KeyCode::Char(c) = k.code
        && !k.modifiers.contains(KeyModifiers::CONTROL)
        && let Some(tl) = m.timeline.as_ref().filter(|tl| tl.run.id == run)
    {
        let summary = tl.run.clone();
        if let Some(cmds) = run_action(m, &summary, c) {
            return cmds;
        }
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

fn open_timeline(m: &mut Model, run: i64, back: Back) -> Vec<Cmd> {
    m.screen = Screen::Timeline { run, back };
    m.timeline_scroll = 0;
    if m.timeline.as_ref().map(|t| t.run.id) != Some(run) {
        m.timeline = None;
    }
    vec![Cmd::LoadTimeline(run)]
}
