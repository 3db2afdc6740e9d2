//! `update` for rescue items (an agent step every model failed): `e` starts the
//! reply from the last one, `o` takes the offline draft.

use crossterm::event::KeyCode;
use serde_json::json;

use super::*;

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

#[test]
fn a_rescue_is_answered_with_a_reply_or_its_offline_draft() {
    let (mut m, _) = with_items(vec![
        Item::new(row(1, "rescue", "draft", "every model failed"), false),
        Item::new(row(2, "action", "save", "write out.txt"), false),
    ]);
    select_id(&mut m, 1);
    load_detail(
        &mut m,
        record(
            1,
            ProposalKind::Rescue,
            crate::tui::view::tests::rescue_action(),
        ),
        vec![],
    );
    // `e` starts from the last reply, not from the stored JSON.
    update(&mut m, ch('e'));
    let Overlay::Editor { input, .. } = &m.overlay else {
        panic!("{:?}", m.overlay)
    };
    assert_eq!(input.lines().join("\n").trim_end(), "Sure! Tea club.");
    m.overlay = Overlay::None;
    // `o` takes the offline draft.
    assert_eq!(
        update(&mut m, ch('o')),
        vec![Cmd::Decide {
            ids: vec![1],
            decision: Decision::Approve,
            reason: None,
            edit: None,
            fields: vec![("offline".into(), "true".into())],
            confirm_stale: false,
        }]
    );
    // On anything else, `o` says what it is for.
    select_id(&mut m, 2);
    load_detail(
        &mut m,
        record(2, ProposalKind::Action, json!({"kind": "file"})),
        vec![],
    );
    assert_eq!(update(&mut m, ch('o')), vec![]);
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .contains("offline draft of a rescue")
    );
}
