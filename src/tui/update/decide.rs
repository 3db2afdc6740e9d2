//! Turning the operator's intent into a decision. Each key of the selected item is
//! one of its choices ([`crate::inbox::choices`]): decided at once, or after what it
//! asks for (a reason, an edit, a form of typed inputs). Also: what a decision
//! applies to, several marked items approved together, and stale items that need an
//! explicit yes.

use super::err;
use super::overlays::{editor, line_input};
use crate::inbox::choices::{self, Ask, Choice};
use crate::journal::Decision;
use crate::tui::message::Cmd;
use crate::tui::model::{Approval, Form, FormField, Model, Overlay};

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

/// The key `c` of the selected item's choices (or, with marks, of all of them).
/// `None` when `c` is no choice's key (the key may mean something else).
pub(super) fn choose(m: &mut Model, c: char) -> Option<Vec<Cmd>> {
    if !m.marks.is_empty() {
        return match c {
            'a' => Some(approve_marked(m)),
            'r' => Some(reject(m, targets(m), "reject")),
            c if choices::KEYS.contains(c) => {
                m.status = Some(err("decide this one item on its own (esc unmarks)"));
                Some(Vec::new())
            }
            _ => None,
        };
    }
    if !choices::KEYS.contains(c) {
        return None;
    }
    let id = m.selected()?.row.id;
    if m.selected_detail().is_none() {
        // The detail loads right after the selection moves: its choices are in it.
        m.status = Some(err(format!("#{id} is still loading; press {c} again")));
        return Some(Vec::new());
    }
    let all = m.choices();
    let Some(choice) = all.iter().find(|x| x.key == c).cloned() else {
        let keys: Vec<String> = all
            .iter()
            .map(|x| format!("{} {}", x.key, x.short))
            .collect();
        let kind = m.selected().map(|i| i.row.kind.clone()).unwrap_or_default();
        m.status = Some(err(format!(
            "#{id} ({kind}) has no {c}; its keys: {}",
            keys.join(" · ")
        )));
        return Some(Vec::new());
    };
    Some(make(m, id, choice))
}

/// Make `choice` for item `id`: at once, or after what it asks for.
pub(super) fn make(m: &mut Model, id: i64, choice: Choice) -> Vec<Cmd> {
    match &choice.ask {
        Ask::Nothing => decide(m, id, &choice, choice.fixed.clone()),
        Ask::Reason => reject(m, vec![id], choice.short),
        Ask::Edit => edit(m),
        Ask::Form(inputs) => {
            let fields = inputs
                .iter()
                .map(|input| {
                    let mut text = line_input("");
                    text.insert_str(input.initial());
                    FormField {
                        input: input.clone(),
                        text,
                        error: None,
                    }
                })
                .collect();
            m.overlay = Overlay::Form(Form {
                id,
                choice,
                fields,
                focus: 0,
            });
            Vec::new()
        }
    }
}

/// Decide `choice` for `id` with these fields (no reason, no edit).
fn decide(m: &mut Model, id: i64, choice: &Choice, fields: Vec<(String, String)>) -> Vec<Cmd> {
    match choice.decision {
        Decision::Approve => approve_checked(
            m,
            Approval {
                ids: vec![id],
                edit: None,
                fields,
            },
        ),
        decision => {
            m.overlay = Overlay::None;
            vec![Cmd::Decide {
                ids: vec![id],
                decision,
                reason: None,
                edit: None,
                fields,
                confirm_stale: false,
            }]
        }
    }
}

/// Ask why, then reject `ids` (`verb`: what it does, `reject` or `fail`).
fn reject(m: &mut Model, ids: Vec<i64>, verb: &'static str) -> Vec<Cmd> {
    if !ids.is_empty() {
        m.overlay = Overlay::Reject {
            ids,
            verb,
            input: line_input("why? (kept with the decision)"),
            error: None,
        };
    }
    Vec::new()
}

/// Approve the marked items together: only kinds whose approval asks for nothing.
fn approve_marked(m: &mut Model) -> Vec<Cmd> {
    let ids = targets(m);
    let asks = m
        .items
        .iter()
        .find(|i| ids.contains(&i.row.id) && !choices::batchable(&i.row.kind));
    if let Some(it) = asks {
        m.status = Some(err(format!(
            "#{} ({}) asks for more than a yes: unmark it and decide it on its own",
            it.row.id, it.row.kind
        )));
        return Vec::new();
    }
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for it in m.items.iter().filter(|i| ids.contains(&i.row.id)) {
        match kinds.iter_mut().find(|(k, _)| *k == it.row.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((it.row.kind.clone(), 1)),
        }
    }
    // Several items at once: say how many of which kinds, and wait for a yes.
    m.overlay = Overlay::ConfirmBulk {
        approval: Approval {
            ids,
            ..Approval::default()
        },
        kinds,
    };
    Vec::new()
}

/// Check a form's inputs as typed; decide when they all fit, else say where not.
pub(super) fn submit(m: &mut Model, mut form: Form) -> Vec<Cmd> {
    let mut fields = form.choice.fixed.clone();
    let mut first_bad = None;
    for (i, f) in form.fields.iter_mut().enumerate() {
        let raw = f.text.lines().join("");
        match f.input.check(&raw) {
            Ok(Some(text)) => {
                f.error = None;
                fields.push((f.input.name.clone(), text));
            }
            Ok(None) => f.error = None,
            Err(e) => {
                f.error = Some(e);
                first_bad.get_or_insert(i);
            }
        }
    }
    if let Some(i) = first_bad {
        form.focus = i;
        m.overlay = Overlay::Form(form);
        return Vec::new();
    }
    let (id, choice) = (form.id, form.choice);
    decide(m, id, &choice, fields)
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

fn edit(m: &mut Model) -> Vec<Cmd> {
    let Some(d) = m.selected_detail() else {
        return Vec::new();
    };
    let id = d.record.id;
    if d.record.final_action().is_null() {
        m.status = Some(err("this item has no stored action to edit"));
        return Vec::new();
    }
    let text = crate::inbox::view::edit_start(&d.record) + "\n";
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
