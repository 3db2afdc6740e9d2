//! The inbox list's state: the items (sorted, marks pruned), what is visible (snoozes,
//! filter), the cursor and scroll offset, and a detail request when the selection
//! changes.

use crate::inbox::order::{self, Key};
use crate::tui::message::Cmd;
use crate::tui::model::{Item, Model};
use crate::tui::view::list_capacity;

/// Replace the items, keeping the selection on the same item when it is still there.
pub(super) fn set_items(m: &mut Model, mut items: Vec<Item>) -> Vec<Cmd> {
    m.loaded = true;
    items.sort_by(|a, b| order::cmp(Key::of_row(&a.row), Key::of_row(&b.row)));
    let ids: std::collections::HashSet<i64> = items.iter().map(|i| i.row.id).collect();
    m.marks.retain(|id| ids.contains(id));
    let selected = m.selected().map(|i| i.row.id);
    m.items = items;
    refilter_keeping(m, selected)
}

/// Recompute `visible` (snoozes, filter), keep the cursor on the same item if it is
/// still shown, and ask for its detail when the selection changed.
pub(in crate::tui) fn refilter(m: &mut Model) -> Vec<Cmd> {
    let selected = m.selected().map(|i| i.row.id);
    refilter_keeping(m, selected)
}

fn refilter_keeping(m: &mut Model, selected: Option<i64>) -> Vec<Cmd> {
    let before = m.detail.as_ref().map(|d| d.record.id);
    let needle = m.filter.to_lowercase();
    let now = m.now;
    let snoozed_view = m.show_snoozed;
    m.visible = m
        .items
        .iter()
        .enumerate()
        .filter(|(_, it)| it.row.snoozed_until.is_some_and(|u| u > now) == snoozed_view)
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

pub(super) fn keep_in_view(m: &mut Model) {
    let cap = list_capacity(m.size).max(1);
    if m.cursor < m.offset {
        m.offset = m.cursor;
    } else if m.cursor >= m.offset + cap {
        m.offset = m.cursor + 1 - cap;
    }
    let max_offset = m.visible.len().saturating_sub(cap);
    m.offset = m.offset.min(max_offset);
}

pub(super) fn move_cursor(m: &mut Model, to: isize) -> Vec<Cmd> {
    if m.visible.is_empty() {
        return Vec::new();
    }
    let before = m.selected().map(|i| i.row.id);
    let last = m.visible.len() as isize - 1;
    m.cursor = to.clamp(0, last) as usize;
    keep_in_view(m);
    selection_changed(m, before)
}
