//! `update` for rescue items (an agent step every model failed): their keys are
//! their choices ([`crate::inbox::choices`]): `e` starts the reply from the last
//! one, `o` takes the offline draft, `a` runs the step again, `r` fails it.

use crossterm::event::KeyCode;
use serde_json::json;

use super::tests::*;
use super::update;
use crate::journal::{Decision, ProposalKind};
use crate::tui::message::Cmd;
use crate::tui::model::{Item, Model, Overlay};

fn select_id(m: &mut Model, id: i64) {
    update(m, key(KeyCode::Home));
    for _ in 0..m.items.len() {
        if selected(m) == id {
            return;
        }
        update(m, key(KeyCode::Down));
    }
    assert_eq!(selected(m), id, "item {id} is not in the list");
}

fn rescue_model(action: serde_json::Value) -> Model {
    let (mut m, _) = with_items(vec![
        Item::new(row(1, "rescue", "draft", "every model failed"), false),
        Item::new(row(2, "action", "save", "write out.txt"), false),
    ]);
    select_id(&mut m, 1);
    load_detail(&mut m, record(1, ProposalKind::Rescue, action), vec![]);
    m
}

fn decide(fields: Vec<(String, String)>) -> Vec<Cmd> {
    vec![Cmd::Decide {
        ids: vec![1],
        decision: Decision::Approve,
        reason: None,
        edit: None,
        fields,
        confirm_stale: false,
    }]
}

#[test]
fn a_rescue_is_answered_with_a_reply_its_offline_draft_or_another_attempt() {
    let mut m = rescue_model(crate::tui::view::tests::rescue_action());
    let keys: Vec<(char, &str)> = m.choices().iter().map(|c| (c.key, c.short)).collect();
    assert_eq!(
        keys,
        [
            ('a', "retry"),
            ('e', "reply"),
            ('o', "offline"),
            ('r', "fail")
        ]
    );
    // `e` starts from the last reply, not from the stored JSON.
    update(&mut m, ch('e'));
    let Overlay::Editor { input, .. } = &m.overlay else {
        panic!("{:?}", m.overlay)
    };
    assert_eq!(input.lines().join("\n").trim_end(), "Sure! Tea club.");
    m.overlay = Overlay::None;
    // `o` takes the offline draft, `a` runs the step again.
    assert_eq!(
        update(&mut m, ch('o')),
        decide(vec![("offline".into(), "true".into())])
    );
    assert_eq!(update(&mut m, ch('a')), decide(vec![]));
    // `r` asks why, then fails the step.
    update(&mut m, ch('r'));
    assert!(
        matches!(&m.overlay, Overlay::Reject { ids, verb: "fail", .. } if ids == &vec![1]),
        "{:?}",
        m.overlay
    );
}

#[test]
fn o_is_a_key_only_where_there_is_an_offline_draft() {
    let mut bare = crate::tui::view::tests::rescue_action();
    bare["offline"] = serde_json::Value::Null;
    let mut m = rescue_model(bare);
    assert_eq!(update(&mut m, ch('o')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "#1 (rescue) has no o; its keys: a retry · e reply · r fail"
    );
    // On another kind, `o` says which keys it has instead.
    select_id(&mut m, 2);
    load_detail(
        &mut m,
        record(2, ProposalKind::Action, json!({"kind": "file"})),
        vec![],
    );
    assert_eq!(update(&mut m, ch('o')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "#2 (action) has no o; its keys: a approve · e edit · r reject"
    );
}

#[test]
fn with_marks_o_asks_to_decide_the_rescue_on_its_own() {
    let mut m = rescue_model(crate::tui::view::tests::rescue_action());
    update(&mut m, ch(' '));
    assert_eq!(update(&mut m, ch('o')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "decide this one item on its own (esc unmarks)"
    );
}
