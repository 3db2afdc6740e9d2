//! Acting on runs from the runs screen and a timeline: resume, retry, cancel with a
//! reason, open the waiting item.

use crossterm::event::KeyCode;

use super::tests::{NOW, ch, key, row, selected, three, typed};
use super::*;
use crate::journal::{RunStatus, RunSummary};
use crate::tui::model::{Item, Screen, Timeline};

fn run(id: i64, status: RunStatus) -> RunSummary {
    RunSummary {
        id,
        workflow: "launch".into(),
        status,
        created_at: NOW,
        updated_at: NOW,
        steps_total: 3,
        steps_done: 1,
    }
}

fn on_runs(runs: Vec<RunSummary>) -> Model {
    let mut m = three();
    update(&mut m, Msg::Runs(runs));
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.screen, Screen::Runs);
    m
}

#[test]
fn r_retries_a_failed_run_and_resumes_a_waiting_one() {
    let mut m = on_runs(vec![
        run(7, RunStatus::Failed),
        run(6, RunStatus::Waiting),
        run(5, RunStatus::Succeeded),
    ]);
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::Resume(7)]);
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .contains("retrying its failed steps")
    );
    update(&mut m, key(KeyCode::Down));
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::Resume(6)]);
    assert!(m.status.as_ref().unwrap().text.contains("resuming"));
    // A finished run has nothing to resume: said, nothing done.
    update(&mut m, key(KeyCode::Down));
    assert!(update(&mut m, ch('r')).is_empty());
    let s = m.status.clone().unwrap();
    assert!(s.error);
    assert_eq!(s.text, "run 5 succeeded; there is nothing to resume");
}

#[test]
fn r_on_a_run_driven_here_does_not_drive_it_twice() {
    let mut m = on_runs(vec![run(7, RunStatus::Running)]);
    update(&mut m, Msg::DriveStarted(7));
    assert!(update(&mut m, ch('r')).is_empty());
    assert_eq!(m.status.unwrap().text, "run 7 is already driven here");
}

#[test]
fn c_asks_for_a_reason_then_cancels_with_it() {
    let mut m = on_runs(vec![run(7, RunStatus::Waiting)]);
    assert!(update(&mut m, ch('c')).is_empty());
    assert!(matches!(m.overlay, Overlay::Cancel { run: 7, .. }));
    typed(&mut m, "wrong audience");
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::Cancel {
            run: 7,
            reason: Some("wrong audience".into())
        }]
    );
    assert!(matches!(m.overlay, Overlay::None));
    // An empty reason is allowed (the CLI's --reason is optional too).
    update(&mut m, ch('c'));
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::Cancel {
            run: 7,
            reason: None
        }]
    );
    // Esc keeps the run.
    update(&mut m, ch('c'));
    typed(&mut m, "oops");
    assert!(update(&mut m, key(KeyCode::Esc)).is_empty());
    assert!(matches!(m.overlay, Overlay::None));
}

#[test]
fn a_finished_run_cannot_be_cancelled() {
    let mut m = on_runs(vec![run(7, RunStatus::Cancelled)]);
    assert!(update(&mut m, ch('c')).is_empty());
    assert!(matches!(m.overlay, Overlay::None));
    assert_eq!(
        m.status.unwrap().text,
        "run 7 is cancelled; there is nothing to cancel"
    );
}

#[test]
fn o_opens_the_item_the_run_waits_on() {
    // three(): items 1..3 belong to runs 11..13; item 3 is the gate of run 13.
    let mut m = on_runs(vec![
        run(13, RunStatus::Waiting),
        run(99, RunStatus::Failed),
    ]);
    assert_eq!(update(&mut m, ch('o')), vec![Cmd::LoadDetail(3)]);
    assert_eq!(m.screen, Screen::Inbox);
    assert_eq!(selected(&m), 3);
    // A run with no item says so and stays.
    update(&mut m, key(KeyCode::Tab));
    update(&mut m, key(KeyCode::Down));
    assert!(update(&mut m, ch('o')).is_empty());
    assert_eq!(m.screen, Screen::Runs);
    assert_eq!(
        m.status.unwrap().text,
        "run 99 has no item waiting in the inbox"
    );
}

#[test]
fn o_clears_a_filter_that_hides_the_item_and_names_a_snoozed_one() {
    let mut m = three();
    let mut snoozed = row(4, "action", "mail", "send the mail");
    snoozed.snoozed_until = Some(NOW + 3_600_000);
    let mut items: Vec<Item> = m.items.clone();
    items.push(Item::new(snoozed, false));
    update(&mut m, Msg::Inbox(items));
    update(&mut m, ch('/'));
    typed(&mut m, "landing");
    update(&mut m, key(KeyCode::Enter));
    assert_eq!(m.visible.len(), 1);
    update(
        &mut m,
        Msg::Runs(vec![
            run(13, RunStatus::Waiting),
            run(14, RunStatus::Waiting),
        ]),
    );
    update(&mut m, key(KeyCode::Tab));
    update(&mut m, ch('o'));
    assert_eq!(m.filter, "");
    assert_eq!(selected(&m), 3);
    update(&mut m, key(KeyCode::Tab));
    update(&mut m, key(KeyCode::Down));
    assert!(update(&mut m, ch('o')).is_empty());
    assert_eq!(
        m.status.unwrap().text,
        "inbox 4 of run 14 is snoozed; unsnooze it with: aios inbox unsnooze 4"
    );
}

#[test]
fn the_timeline_acts_on_its_run() {
    let mut m = on_runs(vec![run(7, RunStatus::Failed)]);
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::LoadTimeline(7)]
    );
    // Before the timeline loads, the keys do nothing.
    assert!(update(&mut m, ch('r')).is_empty());
    update(
        &mut m,
        Msg::Timeline(Box::new(Timeline {
            run: run(7, RunStatus::Failed),
            error: Some("step `post` failed".into()),
            steps: Vec::new(),
            inputs: Vec::new(),
            events: Vec::new(),
        })),
    );
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::Resume(7)]);
    // A failed run cannot be cancelled (it is finished; retry or leave it).
    assert!(update(&mut m, ch('c')).is_empty());
    assert!(m.status.unwrap().error);
}
