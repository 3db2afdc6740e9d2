//! The mouse: the wheel scrolls what is under it (the list, the runs, a timeline, the
//! help), a left click selects the row it lands on (the inbox list, the runs table).
//! Rows are found with the same layout `view` draws: a header line, then a box whose
//! border and column header take two rows before the first row.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::list::move_cursor;
use crate::tui::message::Cmd;
use crate::tui::model::{Model, Overlay, Screen};
use crate::tui::view::{help_max_scroll, list_capacity};

/// The screen row of the first table row (header line, box border, column header).
const FIRST_ROW: u16 = 3;

pub(super) fn mouse(m: &mut Model, e: MouseEvent) -> Vec<Cmd> {
    let step: isize = match e.kind {
        MouseEventKind::ScrollDown => 1,
        MouseEventKind::ScrollUp => -1,
        MouseEventKind::Down(MouseButton::Left) => return click(m, e.column, e.row),
        _ => return Vec::new(),
    };
    if let Overlay::Help { scroll } = &mut m.overlay {
        let max = help_max_scroll(m.size) as isize;
        *scroll = (*scroll as isize + step).clamp(0, max) as u16;
        return Vec::new();
    }
    if !matches!(m.overlay, Overlay::None) {
        return Vec::new();
    }
    match m.screen {
        Screen::Inbox => {
            let cur = m.cursor as isize;
            move_cursor(m, cur + step)
        }
        Screen::Runs => {
            let last = m.runs.len().saturating_sub(1) as isize;
            m.runs_cursor = (m.runs_cursor as isize + step).clamp(0, last) as usize;
            Vec::new()
        }
        Screen::Timeline { .. } => {
            m.timeline_scroll = (m.timeline_scroll as isize + step * 3).max(0) as u16;
            Vec::new()
        }
        Screen::Overview => Vec::new(),
    }
}

fn click(m: &mut Model, col: u16, row: u16) -> Vec<Cmd> {
    if !matches!(m.overlay, Overlay::None) || row < FIRST_ROW {
        return Vec::new();
    }
    let at = (row - FIRST_ROW) as usize;
    match m.screen {
        Screen::Inbox => {
            // Side by side from 120 columns: the list is the left 55%.
            if m.size.0 >= crate::tui::view::WIDE && col >= m.size.0 * 55 / 100 {
                return Vec::new();
            }
            if at >= list_capacity(m.size) || m.offset + at >= m.visible.len() {
                return Vec::new();
            }
            move_cursor(m, (m.offset + at) as isize)
        }
        Screen::Runs => {
            let inner = m.size.1.saturating_sub(5) as usize;
            let offset = m.runs_cursor.saturating_sub(inner.saturating_sub(1));
            if at < inner && offset + at < m.runs.len() {
                m.runs_cursor = offset + at;
            }
            Vec::new()
        }
        Screen::Timeline { .. } | Screen::Overview => Vec::new(),
    }
}
