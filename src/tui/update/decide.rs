//! Turning the operator's intent into a decision: what it applies to, approval gates
//! that ask for fields first, stale items that need an explicit yes, and edits
//! (external editor or inline).

use ratatui_textarea::TextArea;

use super::err;
use super::overlays::editor;
use crate::inbox::view::Subject;
use crate::journal::Decision;
use crate::tui::message::Cmd;
use crate::tui::model::{Approval, Model, Overlay};

/// What a decision applies to: the marked items, else the selected one.
pub(super) fn targets(m: &Model) -> Vec<i64> {
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

pub(super) fn approve(m: &mut Model) -> Vec<Cmd> {
    let ids = targets(m);
    if ids.is_empty() {
        return Vec::new();
    }
    // A single approval gate with fields: ask for them first.
    if ids.len() == 1
        && let Some(d) = m.selected_detail()
        && d.record.id == ids[0]
        && let Subject::Gate(gate) = &d.view.subject
        && !gate.fields.is_empty()
    {
        let lines = gate.fields.iter().map(|f| f.answer_line()).collect();
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
pub(super) fn approve_checked(m: &mut Model, approval: Approval) -> Vec<Cmd> {
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

pub(super) fn decide_approve(a: Approval, confirm_stale: bool) -> Cmd {
    Cmd::Decide {
        ids: a.ids,
        decision: Decision::Approve,
        reason: None,
        edit: a.edit,
        fields: a.fields,
        confirm_stale,
    }
}

pub(super) fn edit(m: &mut Model) -> Vec<Cmd> {
    if !m.marks.is_empty() {
        m.status = Some(err("edit one item at a time (unmark with Esc)"));
        return Vec::new();
    }
    let Some(d) = m.selected_detail() else {
        return Vec::new();
    };
    let id = d.record.id;
    if matches!(d.view.subject, Subject::Gate(_)) {
        m.status = Some(err(
            "an approval gate has no action to edit; `a` asks for its fields",
        ));
        return Vec::new();
    }
    if d.record.final_action().is_null() {
        m.status = Some(err("this item has no stored action to edit"));
        return Vec::new();
    }
    let text = serde_json::to_string_pretty(&crate::inbox::view::editable(&d.record))
        .unwrap_or_default()
        + "\n";
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
