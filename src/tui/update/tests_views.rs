//! The snoozed view (`z`, `u`), the mouse (click selects, the wheel scrolls).

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::tests::{NOW, ch, key, row, selected, three};
use super::*;
use crate::journal::{RunStatus, RunSummary};
use crate::tui::model::{Item, Screen};

fn with_snoozed() -> Model {
    let mut m = three();
    let mut items = m.items.clone();
    for (id, until) in [(4, NOW + 3_600_000), (5, NOW + 7_200_000)] {
        let mut r = row(id, "action", "mail", "send it");
        r.snoozed_until = Some(until);
        items.push(Item::new(r, false));
    }
    update(&mut m, Msg::Inbox(items));
    m
}

#[test]
fn z_lists_the_snoozed_items_and_u_shows_them_again() {
    let mut m = with_snoozed();
    assert_eq!(m.visible.len(), 3);
    // Snoozing is for the inbox; in the snoozed view `s` does nothing.
    assert_eq!(update(&mut m, ch('z')), vec![Cmd::LoadDetail(5)]);
    assert!(m.show_snoozed);
    let shown: Vec<i64> = m.visible.iter().map(|&i| m.items[i].row.id).collect();
    assert_eq!(shown, vec![5, 4]);
    assert!(update(&mut m, ch('s')).is_empty());
    assert!(matches!(m.overlay, Overlay::None));
    assert_eq!(update(&mut m, ch('u')), vec![Cmd::Unsnooze(vec![5])]);
    // Marked: all of them.
    update(&mut m, ch(' '));
    update(&mut m, ch(' '));
    assert_eq!(update(&mut m, ch('u')), vec![Cmd::Unsnooze(vec![5, 4])]);
    // z again: the inbox, without the snoozed ones; `u` means nothing there.
    update(&mut m, ch('z'));
    assert!(!m.show_snoozed);
    assert_eq!(m.visible.len(), 3);
    assert!(update(&mut m, ch('u')).is_empty());
}

#[test]
fn a_snooze_that_ends_leaves_the_snoozed_view() {
    let mut m = with_snoozed();
    update(&mut m, ch('z'));
    update(&mut m, Msg::Tick(NOW + 3_600_000));
    let shown: Vec<i64> = m.visible.iter().map(|&i| m.items[i].row.id).collect();
    assert_eq!(shown, vec![5]);
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn a_click_selects_the_row_under_it_and_the_wheel_moves() {
    let mut m = three();
    // Rows start at line 3 (header, border, column header); the list is 2, 3, 1: the
    // third row is item 1.
    assert_eq!(
        update(
            &mut m,
            mouse(MouseEventKind::Down(MouseButton::Left), 10, 5)
        ),
        vec![Cmd::LoadDetail(1)]
    );
    assert_eq!(selected(&m), 1);
    // Below the last row, on the header or a release: nothing.
    for (kind, r) in [
        (MouseEventKind::Down(MouseButton::Left), 6),
        (MouseEventKind::Down(MouseButton::Left), 1),
        (MouseEventKind::Up(MouseButton::Left), 3),
    ] {
        assert!(update(&mut m, mouse(kind, 10, r)).is_empty());
        assert_eq!(selected(&m), 1);
    }
    assert_eq!(
        update(&mut m, mouse(MouseEventKind::ScrollUp, 10, 10)),
        vec![Cmd::LoadDetail(3)]
    );
    update(&mut m, mouse(MouseEventKind::ScrollDown, 10, 10));
    update(&mut m, mouse(MouseEventKind::ScrollDown, 10, 10));
    assert_eq!(selected(&m), 1);
}

#[test]
fn the_mouse_on_the_runs_the_timeline_and_the_help() {
    let mut m = three();
    let run = |id| RunSummary {
        id,
        workflow: "w".into(),
        status: RunStatus::Waiting,
        created_at: NOW,
        updated_at: NOW,
        steps_total: 1,
        steps_done: 0,
    };
    update(&mut m, Msg::Runs(vec![run(3), run(2), run(1)]));
    update(&mut m, key(KeyCode::Tab));
    update(
        &mut m,
        mouse(MouseEventKind::Down(MouseButton::Left), 20, 5),
    );
    assert_eq!(m.runs_cursor, 2);
    update(&mut m, mouse(MouseEventKind::ScrollUp, 20, 5));
    assert_eq!(m.runs_cursor, 1);
    update(&mut m, key(KeyCode::Enter));
    assert!(matches!(m.screen, Screen::Timeline { run: 2, .. }));
    update(&mut m, mouse(MouseEventKind::ScrollDown, 20, 5));
    assert_eq!(m.timeline_scroll, 3);
    update(&mut m, ch('?'));
    update(&mut m, mouse(MouseEventKind::ScrollDown, 20, 5));
    update(&mut m, mouse(MouseEventKind::ScrollDown, 20, 5));
    assert!(matches!(m.overlay, Overlay::Help { scroll: 2 }));
    // The wheel under a popup does not move the screen behind it.
    assert_eq!(m.timeline_scroll, 3);
}
