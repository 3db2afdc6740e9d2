//! `update` without IO: keys and loaded data in, model changes and commands out.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::{Value as Json, json};

use super::*;
use crate::journal::{
    InboxRow, ProposalKind, ProposalRecord, ProposalStatus, RunStatus, RunSummary, StaleRef,
};
use crate::tui::model::{Detail, Item, Model, Overlay, Screen, Settings};

pub const NOW: i64 = 1_800_000_000_000;

pub fn row(id: i64, kind: &str, step: &str, summary: &str) -> InboxRow {
    InboxRow {
        id,
        kind: kind.into(),
        run_id: 10 + id,
        workflow: "launch".into(),
        step_id: step.into(),
        summary: summary.into(),
        created_at: NOW - id * 60_000,
        confidence: None,
        versions: Vec::new(),
        snoozed_until: None,
        deadline: None,
        on_timeout: None,
        reminders: 0,
        offline: false,
    }
}

pub fn record(id: i64, kind: ProposalKind, action: Json) -> ProposalRecord {
    ProposalRecord {
        id,
        run_id: 10 + id,
        workflow: "launch".into(),
        run_status: RunStatus::Waiting,
        step_id: "step".into(),
        attempt: 1,
        kind,
        status: ProposalStatus::Pending,
        summary: "summary".into(),
        action,
        evidence: json!({}),
        decision: None,
        reason: None,
        fields: None,
        edited: None,
        diff: None,
        decided_by: None,
        decided_at: None,
        created_at: NOW - 60_000,
        deadline: None,
        on_timeout: None,
        reminders: 0,
    }
}

pub(super) fn model() -> Model {
    Model::new(Settings::default(), NOW, (80, 24))
}

pub(super) fn with_items(items: Vec<Item>) -> (Model, Vec<Cmd>) {
    let mut m = model();
    let cmds = update(&mut m, Msg::Inbox(items));
    (m, cmds)
}

pub(super) fn three() -> Model {
    with_items(vec![
        Item::new(row(1, "action", "landing", "write landing.md"), false),
        Item::new(row(2, "attention", "post", "interrupted: POST"), false),
        Item::new(row(3, "approval", "go", "Go/no-go?"), false),
    ])
    .0
}

pub(super) fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(super) fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

pub(super) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        update(m, ch(c));
    }
}

pub(super) fn ids(m: &Model) -> Vec<i64> {
    m.visible.iter().map(|&i| m.items[i].row.id).collect()
}

pub(super) fn selected(m: &Model) -> i64 {
    m.selected().unwrap().row.id
}

pub(super) fn load_detail(m: &mut Model, rec: ProposalRecord, stale: Vec<StaleRef>) {
    update(m, Msg::Detail(Box::new(Detail::new(rec, stale, None))));
}

#[test]
fn attention_comes_first_then_the_longest_waiting_and_the_first_detail_is_requested() {
    let (m, cmds) = with_items(vec![
        Item::new(row(1, "action", "a", "one"), false),
        Item::new(row(2, "attention", "b", "two"), false),
        Item::new(row(3, "action", "c", "three"), false),
    ]);
    assert_eq!(ids(&m), vec![2, 3, 1]);
    assert_eq!(cmds, vec![Cmd::LoadDetail(2)]);
    assert!(m.loaded);
}

#[test]
fn moving_asks_for_the_new_detail_and_stops_at_the_ends() {
    let mut m = three();
    assert_eq!(update(&mut m, ch('j')), vec![Cmd::LoadDetail(3)]);
    assert_eq!(update(&mut m, key(KeyCode::Down)), vec![Cmd::LoadDetail(1)]);
    assert_eq!(update(&mut m, ch('j')), vec![]);
    assert_eq!(selected(&m), 1);
    assert_eq!(update(&mut m, ch('g')), vec![Cmd::LoadDetail(2)]);
    assert_eq!(update(&mut m, ch('k')), vec![]);
}

#[test]
fn the_cursor_stays_in_view_on_a_long_list() {
    let items = (1..=100)
        .map(|i| Item::new(row(i, "action", "s", "x"), false))
        .collect();
    let (mut m, _) = with_items(items);
    let cap = list_capacity((80, 24));
    assert_eq!(cap, 6);
    for _ in 0..10 {
        update(&mut m, ch('j'));
    }
    assert_eq!((m.cursor, m.offset), (10, 5));
    update(&mut m, key(KeyCode::End));
    assert_eq!((m.cursor, m.offset), (99, 94));
    update(&mut m, key(KeyCode::PageUp));
    assert_eq!((m.cursor, m.offset), (93, 93));
}

#[test]
fn items_decided_elsewhere_disappear_and_the_selection_follows_its_item() {
    let mut m = three();
    update(&mut m, ch('j')); // on 3
    update(&mut m, ch(' ')); // mark 3, move to 1
    assert_eq!(selected(&m), 1);
    load_detail(&mut m, record(1, ProposalKind::Action, json!({})), vec![]);
    // 3 was decided in another terminal; 4 is new.
    let cmds = update(
        &mut m,
        Msg::Inbox(vec![
            Item::new(row(1, "action", "landing", "write landing.md"), false),
            Item::new(row(2, "attention", "post", "interrupted: POST"), false),
            Item::new(row(4, "action", "email", "write email.txt"), false),
        ]),
    );
    assert_eq!(ids(&m), vec![2, 4, 1]);
    assert_eq!(selected(&m), 1);
    assert!(m.marks.is_empty(), "marks of gone items are dropped");
    assert_eq!(cmds, vec![], "the detail of item 1 is already there");
    // The selected item goes: the cursor stays in place.
    update(
        &mut m,
        Msg::Inbox(vec![
            Item::new(row(2, "attention", "post", "p"), false),
            Item::new(row(4, "action", "email", "e"), false),
        ]),
    );
    assert_eq!(selected(&m), 4);
}

#[test]
fn snooze_takes_a_duration_and_hides_the_item_until_then() {
    let mut m = three();
    update(&mut m, ch('s'));
    let cmds = update(&mut m, key(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Cmd::Snooze {
            ids: vec![2],
            until: NOW + 4 * 3_600_000
        }]
    );
    update(&mut m, ch('s'));
    for _ in 0..2 {
        update(&mut m, key(KeyCode::Backspace));
    }
    typed(&mut m, "soon");
    assert_eq!(update(&mut m, key(KeyCode::Enter)), vec![]);
    match &m.overlay {
        Overlay::Snooze { error, .. } => {
            assert!(
                error.as_ref().unwrap().contains("30m, 4h or 2d"),
                "{error:?}"
            )
        }
        o => panic!("{o:?}"),
    }
    update(&mut m, key(KeyCode::Esc));

    let mut snoozed = row(2, "attention", "post", "p");
    snoozed.snoozed_until = Some(NOW + 1000);
    update(
        &mut m,
        Msg::Inbox(vec![
            Item::new(row(1, "action", "landing", "l"), false),
            Item::new(snoozed, false),
        ]),
    );
    assert_eq!(ids(&m), vec![1]);
    assert_eq!(m.snoozed(), 1);
    assert_eq!(update(&mut m, Msg::Tick(NOW + 999)), vec![]);
    update(&mut m, Msg::Tick(NOW + 1000));
    assert_eq!(ids(&m), vec![2, 1]);
}

#[test]
fn the_filter_narrows_the_list_as_you_type() {
    let mut m = three();
    update(&mut m, ch('/'));
    typed(&mut m, "LAND");
    assert_eq!(ids(&m), vec![1]);
    assert_eq!(m.filter, "LAND");
    update(&mut m, key(KeyCode::Enter));
    assert!(m.filter_input.is_none());
    assert_eq!(ids(&m), vec![1]);
    // Keys act on the list again; Esc clears the filter.
    update(&mut m, key(KeyCode::Esc));
    assert_eq!(ids(&m), vec![2, 3, 1]);
    update(&mut m, ch('/'));
    typed(&mut m, "#3");
    assert_eq!(ids(&m), vec![3]);
    update(&mut m, key(KeyCode::Esc));
    assert_eq!(m.filter, "");
}

#[test]
fn tab_switches_to_runs_and_enter_opens_a_timeline() {
    let mut m = three();
    update(
        &mut m,
        Msg::Runs(vec![RunSummary {
            id: 7,
            workflow: "launch".into(),
            status: RunStatus::Running,
            created_at: NOW,
            updated_at: NOW,
            steps_total: 4,
            steps_done: 1,
        }]),
    );
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.screen, Screen::Runs);
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::LoadTimeline(7)]
    );
    assert_eq!(
        m.screen,
        Screen::Timeline {
            run: 7,
            back: Back::Runs
        }
    );
    update(&mut m, key(KeyCode::Esc));
    assert_eq!(m.screen, Screen::Runs);
    // Tab: the Overview (its figures load), then the inbox again.
    assert_eq!(update(&mut m, key(KeyCode::Tab)), vec![Cmd::LoadStats]);
    assert_eq!(m.screen, Screen::Overview);
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::LoadStats]);
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.screen, Screen::Inbox);
    // From the inbox, enter opens the selected item's run.
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::LoadTimeline(12)]
    );
}

#[test]
fn quitting_while_driving_asks_first_and_ctrl_c_always_quits() {
    let mut m = three();
    update(&mut m, Msg::DriveStarted(12));
    assert_eq!(update(&mut m, ch('q')), vec![]);
    assert!(matches!(m.overlay, Overlay::ConfirmQuit));
    update(&mut m, ch('n'));
    assert!(!m.quit);
    update(&mut m, ch('q'));
    assert_eq!(update(&mut m, ch('y')), vec![Cmd::Quit]);
    assert!(m.quit);

    let mut m = three();
    update(&mut m, ch('r')); // even inside a prompt
    assert_eq!(update(&mut m, ctrl('c')), vec![Cmd::Quit]);
    assert!(m.quit);
    let mut m = three();
    assert_eq!(update(&mut m, ch('q')), vec![Cmd::Quit]);
}

#[test]
fn key_releases_are_ignored_and_help_closes_on_any_key() {
    let mut m = three();
    let mut release = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    update(&mut m, Msg::Key(release));
    assert_eq!(selected(&m), 2);
    update(&mut m, ch('?'));
    assert!(matches!(m.overlay, Overlay::Help { scroll: 0 }));
    // j/k scroll the help (it is taller than 24 rows), never past its end.
    update(&mut m, ch('j'));
    update(&mut m, ch('j'));
    update(&mut m, ch('k'));
    assert!(matches!(m.overlay, Overlay::Help { scroll: 1 }));
    update(&mut m, key(KeyCode::PageDown));
    update(&mut m, key(KeyCode::PageDown));
    update(&mut m, key(KeyCode::PageDown));
    assert!(
        matches!(m.overlay, Overlay::Help { scroll } if scroll == crate::tui::view::help_max_scroll(m.size) && scroll > 0)
    );
    update(&mut m, ch('x'));
    assert!(matches!(m.overlay, Overlay::None));
    assert_eq!(
        selected(&m),
        2,
        "the key that closes help does nothing else"
    );
}

#[test]
fn drive_results_are_reported() {
    let mut m = three();
    update(&mut m, Msg::DriveStarted(3));
    assert!(m.driving.contains(&3));
    update(
        &mut m,
        Msg::DriveEnded {
            run: 3,
            outcome: Ok("succeeded".into()),
        },
    );
    assert!(m.driving.is_empty());
    assert_eq!(m.status.as_ref().unwrap().text, "run 3 succeeded");
    update(
        &mut m,
        Msg::Decided {
            done: vec![],
            failed: vec![(1, "already decided".into())],
        },
    );
    let s = m.status.clone().unwrap();
    assert!(s.error);
    assert_eq!(s.text, "item 1 not decided: already decided");
}

#[test]
fn the_list_has_the_order_of_inbox_list() {
    let mut m = model();
    let mut gate = row(4, "approval", "go", "Go?");
    gate.deadline = Some(NOW + 3_600_000);
    let rows = vec![
        row(1, "action", "a", "newest"),
        row(3, "action", "b", "oldest"),
        gate,
        row(2, "notice", "", "missed fires"),
        row(5, "attention", "c", "interrupted"),
    ];
    let mut expected = rows.clone();
    expected.sort_by(|a, b| {
        crate::inbox::order::cmp(
            crate::inbox::order::Key::of_row(a),
            crate::inbox::order::Key::of_row(b),
        )
    });
    update(
        &mut m,
        Msg::Inbox(rows.into_iter().map(|r| Item::new(r, false)).collect()),
    );
    let ids: Vec<i64> = m.items.iter().map(|i| i.row.id).collect();
    assert_eq!(ids, [5, 4, 3, 1, 2]);
    assert_eq!(ids, expected.iter().map(|r| r.id).collect::<Vec<_>>());
}
