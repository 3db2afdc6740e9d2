//! Deciding in the inbox without IO: each kind's keys (its choices), forms with
//! typed inputs, reasons, edits, stale items, and several marked items at once.

use crossterm::event::KeyCode;
use serde_json::{Value as Json, json};

use super::tests::*;
use super::update;
use crate::journal::{Decision, ProposalKind, ProposalRecord, StaleRef};
use crate::tui::message::{Cmd, Msg};
use crate::tui::model::{Form, Item, Model, Overlay, Settings};
fn file_action() -> Json {
    json!({"kind": "file", "root": "/w", "path": "a.txt", "content": "hi"})
}

#[test]
fn approve_decides_the_selected_item_once_its_detail_is_there() {
    let mut m = three();
    assert_eq!(update(&mut m, ch('a')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "#2 is still loading; press a again"
    );
    load_detail(
        &mut m,
        record(2, ProposalKind::Attention, file_action()),
        vec![],
    );
    let cmds = update(&mut m, ch('a'));
    assert_eq!(
        cmds,
        vec![Cmd::Decide {
            ids: vec![2],
            decision: Decision::Approve,
            reason: None,
            edit: None,
            fields: vec![],
            confirm_stale: false,
        }]
    );
}

#[test]
fn marked_items_are_approved_together_in_list_order() {
    let mut m = three();
    update(&mut m, ch(' ')); // 2
    update(&mut m, ch('j')); // skip 3
    update(&mut m, ch(' ')); // 1
    assert_eq!(m.marks.len(), 2);
    // Several at once: a confirmation with the count and the kinds first.
    assert_eq!(update(&mut m, ch('a')), vec![]);
    match &m.overlay {
        Overlay::ConfirmBulk { approval, kinds } => {
            assert_eq!(approval.ids, vec![2, 1]);
            assert_eq!(
                kinds,
                &vec![("attention".to_string(), 1), ("action".to_string(), 1)]
            );
        }
        other => panic!("{other:?}"),
    }
    // n keeps them marked, undecided.
    assert_eq!(update(&mut m, ch('n')), vec![]);
    assert!(matches!(m.overlay, Overlay::None));
    assert_eq!(m.marks.len(), 2);
    update(&mut m, ch('a'));
    match update(&mut m, ch('y')).as_slice() {
        [Cmd::Decide { ids, decision, .. }] => {
            assert_eq!(ids, &vec![2, 1]);
            assert_eq!(*decision, Decision::Approve);
        }
        other => panic!("{other:?}"),
    }
    update(
        &mut m,
        Msg::Decided {
            done: vec![(2, "approved"), (1, "approved")],
            failed: vec![],
        },
    );
    assert!(m.marks.is_empty());
    assert_eq!(m.status.as_ref().unwrap().text, "2 items approved");
    // Esc unmarks.
    update(&mut m, ch(' '));
    update(&mut m, key(KeyCode::Esc));
    assert!(m.marks.is_empty());
}

fn stale_ref() -> StaleRef {
    StaleRef {
        kind: "workflow_file".into(),
        key: "/w/launch.toml".into(),
        recorded: "a".into(),
        current: Some("b".into()),
    }
}

#[test]
fn a_stale_item_needs_an_explicit_yes() {
    let (mut m, _) = with_items(vec![Item::new(row(1, "action", "s", "x"), true)]);
    // With the detail loaded, the reason is named.
    load_detail(
        &mut m,
        record(1, ProposalKind::Action, json!({"kind": "shell"})),
        vec![stale_ref()],
    );
    update(&mut m, ch('a'));
    match &m.overlay {
        Overlay::ConfirmStale { stale, .. } => {
            assert_eq!(
                stale,
                &vec!["#1: workflow_file /w/launch.toml changed since it was proposed".to_string()]
            )
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(update(&mut m, ch('n')), vec![]);
    assert!(matches!(m.overlay, Overlay::None));
    update(&mut m, ch('a'));
    let cmds = update(&mut m, ch('y'));
    assert!(matches!(
        cmds.as_slice(),
        [Cmd::Decide {
            confirm_stale: true,
            ..
        }]
    ));
    // Marked with others, the list's STALE flag is enough to ask.
    let (mut m, _) = with_items(vec![
        Item::new(row(1, "action", "s", "x"), true),
        Item::new(row(2, "action", "t", "y"), false),
    ]);
    update(&mut m, ch(' '));
    update(&mut m, ch(' '));
    assert_eq!(update(&mut m, ch('a')), vec![]);
    assert!(matches!(m.overlay, Overlay::ConfirmBulk { .. }));
    // After the count and kinds, the stale one asks again.
    assert_eq!(update(&mut m, ch('y')), vec![]);
    assert!(matches!(m.overlay, Overlay::ConfirmStale { .. }));
}

#[test]
fn reject_asks_for_a_reason() {
    let mut m = three();
    load_detail(
        &mut m,
        record(2, ProposalKind::Attention, file_action()),
        vec![],
    );
    update(&mut m, ch('r'));
    assert!(matches!(m.overlay, Overlay::Reject { verb: "fail", .. }));
    assert!(matches!(m.overlay, Overlay::Reject { .. }));
    assert_eq!(update(&mut m, key(KeyCode::Enter)), vec![]);
    match &m.overlay {
        Overlay::Reject { error, .. } => {
            assert_eq!(error.as_deref(), Some("a rejection needs a reason"))
        }
        o => panic!("{o:?}"),
    }
    typed(&mut m, "not now");
    let cmds = update(&mut m, key(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Cmd::Decide {
            ids: vec![2],
            decision: Decision::Reject,
            reason: Some("not now".into()),
            edit: None,
            fields: vec![],
            confirm_stale: false,
        }]
    );
    assert!(matches!(m.overlay, Overlay::None));
    // Esc cancels.
    update(&mut m, ch('r'));
    assert_eq!(update(&mut m, key(KeyCode::Esc)), vec![]);
    assert!(matches!(m.overlay, Overlay::None));
}

#[test]
fn inline_edit_is_checked_then_confirmed_with_its_diff() {
    let (mut m, _) = with_items(vec![Item::new(row(1, "action", "s", "x"), false)]);
    assert_eq!(update(&mut m, ch('e')), vec![], "no detail loaded yet");
    let action = json!({"kind": "shell", "argv": ["echo", "hi"], "cwd": "/"});
    load_detail(&mut m, record(1, ProposalKind::Action, action), vec![]);
    update(&mut m, ch('e'));
    assert!(matches!(m.overlay, Overlay::Editor { .. }));
    let cmds = update(&mut m, ctrl('s'));
    let text = match cmds.as_slice() {
        [Cmd::CheckEdit { id: 1, text }] => text.clone(),
        other => panic!("{other:?}"),
    };
    assert!(text.contains("\"echo\""), "{text}");
    // A bad edit reopens the editor with the reason.
    update(
        &mut m,
        Msg::EditChecked {
            id: 1,
            text: "{".into(),
            result: Err("not JSON".into()),
        },
    );
    assert!(matches!(&m.overlay, Overlay::Editor { error: Some(e), .. } if e == "not JSON"));
    update(
        &mut m,
        Msg::EditChecked {
            id: 1,
            text: "EDITED".into(),
            result: Ok(Some("-a\n+b\n".into())),
        },
    );
    assert!(matches!(m.overlay, Overlay::ConfirmEdit { .. }));
    let cmds = update(&mut m, ch('y'));
    assert_eq!(
        cmds,
        vec![Cmd::Decide {
            ids: vec![1],
            decision: Decision::Approve,
            reason: None,
            edit: Some("EDITED".into()),
            fields: vec![],
            confirm_stale: false,
        }]
    );
    assert!(matches!(m.overlay, Overlay::None));
}

#[test]
fn external_editor_is_used_when_set() {
    let mut m = Model::new(
        Settings {
            external_editor: true,
            ..Settings::default()
        },
        NOW,
        (80, 24),
    );
    update(
        &mut m,
        Msg::Inbox(vec![Item::new(row(1, "action", "s", "x"), false)]),
    );
    load_detail(
        &mut m,
        record(1, ProposalKind::Action, json!({"kind": "file"})),
        vec![],
    );
    assert!(matches!(
        update(&mut m, ch('e')).as_slice(),
        [Cmd::ExternalEdit { id: 1, .. }]
    ));
    assert_eq!(
        update(&mut m, Msg::EditorClosed { id: 1, text: None }),
        vec![]
    );
    assert!(m.status.as_ref().unwrap().text.contains("nothing decided"));
    assert_eq!(
        update(
            &mut m,
            Msg::EditorClosed {
                id: 1,
                text: Some("x".into())
            }
        ),
        vec![Cmd::CheckEdit {
            id: 1,
            text: "x".into()
        }]
    );
}

fn form(m: &Model) -> &Form {
    match &m.overlay {
        Overlay::Form(f) => f,
        o => panic!("no form: {o:?}"),
    }
}

#[test]
fn a_gate_with_fields_asks_for_them_in_a_form_with_types_checked() {
    let (mut m, _) = with_items(vec![Item::new(row(1, "approval", "go", "Go?"), false)]);
    let gate = json!({"title": "Go?", "fields": [
        {"name": "launch_date", "type": "string", "required": true},
        {"name": "seats", "type": "integer", "required": true},
        {"name": "channel", "type": "string", "default": "email"}
    ]});
    load_detail(&mut m, record(1, ProposalKind::Approval, gate), vec![]);
    update(&mut m, ch('a'));
    let f = form(&m);
    let texts: Vec<String> = f.fields.iter().map(|x| x.text.lines().join("")).collect();
    assert_eq!(texts, ["", "", "email"]);
    assert_eq!(f.fields[1].input.label, "seats (integer, required)");
    typed(&mut m, "2026-12-01");
    update(&mut m, key(KeyCode::Tab));
    typed(&mut m, "ten");
    assert_eq!(form(&m).focus, 1);
    // Enter moves on; on the last field it submits, and the types are checked.
    update(&mut m, key(KeyCode::Enter));
    assert_eq!(form(&m).focus, 2);
    assert_eq!(update(&mut m, key(KeyCode::Enter)), vec![]);
    let f = form(&m);
    assert_eq!(
        f.focus, 1,
        "the first field that does not fit gets the focus"
    );
    assert_eq!(
        f.fields[1].error.as_deref(),
        Some("not an integer: use a whole number, like 42")
    );
    assert_eq!(f.fields[0].error, None);
    for _ in 0..3 {
        update(&mut m, key(KeyCode::Backspace));
    }
    typed(&mut m, "12");
    assert_eq!(
        form(&m).fields[1].error,
        None,
        "typing clears the field's error"
    );
    update(&mut m, key(KeyCode::BackTab));
    assert_eq!(form(&m).focus, 0);
    let cmds = update(&mut m, ctrl('s'));
    assert_eq!(
        cmds,
        vec![Cmd::Decide {
            ids: vec![1],
            decision: Decision::Approve,
            reason: None,
            edit: None,
            fields: vec![
                ("launch_date".into(), "2026-12-01".into()),
                ("seats".into(), "12".into()),
                ("channel".into(), "email".into())
            ],
            confirm_stale: false,
        }]
    );
    assert!(matches!(m.overlay, Overlay::None));
    // An approval gate has no action to edit: its own keys are named.
    update(&mut m, ch('e'));
    let s = m.status.as_ref().unwrap();
    assert!(s.error);
    assert_eq!(
        s.text,
        "#1 (approval) has no e; its keys: a approve · r reject"
    );
}

#[test]
fn a_required_field_left_empty_is_named_and_esc_cancels_the_form() {
    let (mut m, _) = with_items(vec![Item::new(row(1, "approval", "go", "Go?"), false)]);
    let gate = json!({"title": "Go?", "fields": [{"name": "date", "type": "string"}]});
    load_detail(&mut m, record(1, ProposalKind::Approval, gate), vec![]);
    update(&mut m, ch('a'));
    assert_eq!(update(&mut m, key(KeyCode::Enter)), vec![]);
    assert_eq!(form(&m).fields[0].error.as_deref(), Some("required"));
    assert_eq!(update(&mut m, key(KeyCode::Esc)), vec![]);
    assert!(matches!(m.overlay, Overlay::None));
}

fn budget_stop(next_model: Option<&str>) -> ProposalRecord {
    record(
        5,
        ProposalKind::Budget,
        json!({"cap": "run", "limit_usd": 2.0, "spent_usd": 1.99, "estimate_usd": 0.02,
               "model": "fast", "provider": "local", "next_model": next_model}),
    )
}

#[test]
fn a_budget_stop_is_raised_in_a_form_or_switched_with_w() {
    let (mut m, _) = with_items(vec![Item::new(row(5, "budget", "draft", "stop"), false)]);
    load_detail(&mut m, budget_stop(Some("smart")), vec![]);
    update(&mut m, ch('a'));
    assert_eq!(form(&m).choice.short, "raise");
    typed(&mut m, "lots");
    assert_eq!(update(&mut m, key(KeyCode::Enter)), vec![]);
    assert_eq!(
        form(&m).fields[0].error.as_deref(),
        Some("an amount in USD above 0, like 2.50, not `lots`")
    );
    for _ in 0..4 {
        update(&mut m, key(KeyCode::Backspace));
    }
    typed(&mut m, "2.50");
    let raise = update(&mut m, key(KeyCode::Enter));
    assert_eq!(
        raise,
        vec![Cmd::Decide {
            ids: vec![5],
            decision: Decision::Approve,
            reason: None,
            edit: None,
            fields: vec![("raise_usd".into(), "2.50".into())],
            confirm_stale: false,
        }]
    );
    let switch = update(&mut m, ch('w'));
    assert_eq!(
        switch,
        vec![Cmd::Decide {
            ids: vec![5],
            decision: Decision::Approve,
            reason: None,
            edit: None,
            fields: vec![("switch".into(), "true".into())],
            confirm_stale: false,
        }]
    );
    // No next model: no switch.
    load_detail(&mut m, budget_stop(None), vec![]);
    assert_eq!(update(&mut m, ch('w')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "#5 (budget) has no w; its keys: a raise · r fail"
    );
}

#[test]
fn an_interrupted_step_is_retried_marked_done_or_failed() {
    let mut m = three();
    load_detail(
        &mut m,
        record(2, ProposalKind::Attention, file_action()),
        vec![],
    );
    assert_eq!(
        update(&mut m, ch('d')),
        vec![Cmd::Decide {
            ids: vec![2],
            decision: Decision::Done,
            reason: None,
            edit: None,
            fields: vec![],
            confirm_stale: false,
        }]
    );
    update(&mut m, ch('r'));
    typed(&mut m, "it broke");
    match update(&mut m, key(KeyCode::Enter)).as_slice() {
        [
            Cmd::Decide {
                decision: Decision::Reject,
                reason: Some(r),
                ..
            },
        ] => assert_eq!(r, "it broke"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn marked_items_are_approved_together_only_when_approving_asks_for_nothing() {
    let (mut m, _) = with_items(vec![
        Item::new(row(1, "action", "a", "x"), false),
        Item::new(row(5, "budget", "draft", "stop"), false),
    ]);
    update(&mut m, ch(' '));
    update(&mut m, ch(' '));
    assert_eq!(m.marks.len(), 2);
    assert_eq!(update(&mut m, ch('a')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "#5 (budget) asks for more than a yes: unmark it and decide it on its own"
    );
    assert!(matches!(m.overlay, Overlay::None));
}
