//! The control room's keys without IO: a failed run's failure item decided from the
//! runs screen (retry, skip, undo, abandon: the choices `aios approve ID [--skip|
//! --compensate]` and `aios reject ID` make), and circuit breakers listed on the
//! Overview tab and closed with `x`.

use crossterm::event::KeyCode;
use serde_json::json;

use super::tests::{NOW, ch, key, record, row, three, typed};
use super::*;
use crate::connectors::Target;
use crate::health::{Breaker, BreakerState};
use crate::inbox::choices::{COMPENSATE, SKIP};
use crate::journal::{Decision, ProposalKind, RunStatus, RunSummary};
use crate::tui::model::{Detail, Item, Overlay, Screen};

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

/// The inbox of [`three`] plus failure item 4 of run 14, on the runs screen with
/// run 14 (failed) selected.
fn failed_on_runs() -> Model {
    let mut m = three();
    let mut items: Vec<Item> = m.items.clone();
    items.push(Item::new(row(4, "failure", "call", "call failed"), false));
    update(&mut m, Msg::Inbox(items));
    update(
        &mut m,
        Msg::Runs(vec![
            run(14, RunStatus::Failed),
            run(13, RunStatus::Waiting),
        ]),
    );
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.screen, Screen::Runs);
    m
}

/// Failure item 4's detail arrives; what `update` asks for then.
fn failure_detail(m: &mut Model, skippable: bool, compensable: bool) -> Vec<Cmd> {
    let rec = record(
        4,
        ProposalKind::Failure,
        json!({"step": "call", "kind": "http", "error": "boom", "attempts": 2,
               "skippable": skippable, "compensable": compensable}),
    );
    update(m, Msg::Detail(Box::new(Detail::new(rec, vec![], None))))
}

fn approve(fields: Vec<(String, String)>) -> Vec<Cmd> {
    vec![Cmd::Decide {
        ids: vec![4],
        decision: Decision::Approve,
        reason: None,
        edit: None,
        fields,
        confirm_stale: false,
    }]
}

#[test]
fn r_on_a_failed_run_loads_its_failure_item_then_retries_it() {
    let mut m = failed_on_runs();
    // The item is selected in the inbox (the screen stays) and its detail asked for.
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::LoadDetail(4)]);
    assert_eq!(m.screen, Screen::Runs);
    assert_eq!(m.selected().unwrap().row.id, 4);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "loading failure item 4 of run 14…"
    );
    // When it arrives, the retry is made: the same decision as `aios approve 4`.
    assert_eq!(failure_detail(&mut m, false, false), approve(vec![]));
    assert!(m.pending_failure.is_none());
    assert_eq!(m.screen, Screen::Runs);
    // Once loaded, the key decides at once.
    assert_eq!(update(&mut m, ch('r')), approve(vec![]));
}

#[test]
fn p_skips_and_u_undoes_only_when_the_item_offers_them() {
    let mut m = failed_on_runs();
    assert_eq!(update(&mut m, ch('p')), vec![Cmd::LoadDetail(4)]);
    assert_eq!(
        failure_detail(&mut m, true, true),
        approve(vec![(SKIP.into(), "true".into())])
    );
    assert_eq!(
        update(&mut m, ch('u')),
        approve(vec![(COMPENSATE.into(), "true".into())])
    );
    // An item whose step cannot be skipped or undone says so and does nothing.
    assert_eq!(failure_detail(&mut m, false, false), vec![]);
    assert_eq!(update(&mut m, ch('p')), vec![]);
    let s = m.status.clone().unwrap();
    assert!(s.error);
    assert_eq!(
        s.text,
        "failure item 4 of run 14 offers no p: its step cannot be skipped; its keys: r retry · x abandon"
    );
    assert_eq!(update(&mut m, ch('u')), vec![]);
    assert!(m.status.as_ref().unwrap().text.contains("cannot be undone"));
}

#[test]
fn x_abandons_the_run_with_a_reason() {
    let mut m = failed_on_runs();
    update(&mut m, ch('x'));
    assert_eq!(failure_detail(&mut m, true, false), vec![]);
    assert!(matches!(
        m.overlay,
        Overlay::Reject {
            verb: "abandon",
            ..
        }
    ));
    typed(&mut m, "vendor is gone");
    assert_eq!(
        update(&mut m, key(KeyCode::Enter)),
        vec![Cmd::Decide {
            ids: vec![4],
            decision: Decision::Reject,
            reason: Some("vendor is gone".into()),
            edit: None,
            fields: vec![],
            confirm_stale: false,
        }]
    );
}

#[test]
fn a_failed_run_without_a_failure_item_resumes_and_says_what_it_lacks() {
    let mut m = three();
    update(&mut m, Msg::Runs(vec![run(9, RunStatus::Failed)]));
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(update(&mut m, ch('r')), vec![Cmd::Resume(9)]);
    assert_eq!(update(&mut m, ch('x')), vec![]);
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "run 9 has no failure item waiting in the inbox"
    );
    // Marked items in the inbox are not decided by a run key.
    let mut m = failed_on_runs();
    m.marks.insert(1);
    assert_eq!(update(&mut m, ch('r')), vec![]);
    assert!(m.status.as_ref().unwrap().error);
}

pub(in crate::tui) fn breaker(target: &str, state: BreakerState) -> Breaker {
    Breaker {
        target: Target::parse(target).unwrap(),
        state,
        failures: 5,
        trips: 1,
        opened_at: Some(NOW - 60_000),
        until: Some(NOW + 60_000),
        probe: (state == BreakerState::HalfOpen).then(|| "run 12, step fetch".into()),
        last_error: Some("HTTP 503".into()),
        updated_at: NOW - 60_000,
    }
}

#[test]
fn x_on_the_overview_closes_the_selected_breaker() {
    let mut m = three();
    update(&mut m, key(KeyCode::Tab));
    update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.screen, Screen::Overview);
    // None open: said, nothing done.
    assert_eq!(update(&mut m, ch('x')), vec![]);
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .contains("no circuit breaker")
    );
    update(
        &mut m,
        Msg::Breakers(vec![
            breaker("http:api.example.com", BreakerState::Open),
            breaker("mcp:github", BreakerState::HalfOpen),
        ]),
    );
    update(&mut m, ch('j'));
    assert_eq!(
        update(&mut m, ch('x')),
        vec![Cmd::CloseBreaker(Target::parse("mcp:github").unwrap())]
    );
    // When the list changes, the selection stays on its target, or the nearest.
    update(
        &mut m,
        Msg::Breakers(vec![
            breaker("http:a.example.com", BreakerState::Open),
            breaker("http:api.example.com", BreakerState::Open),
            breaker("mcp:github", BreakerState::HalfOpen),
        ]),
    );
    assert_eq!(
        m.selected_breaker().unwrap().target.to_string(),
        "mcp:github"
    );
    update(
        &mut m,
        Msg::Breakers(vec![breaker("http:a.example.com", BreakerState::Open)]),
    );
    assert_eq!(m.breakers_cursor, 0);
    update(&mut m, ch('k'));
    assert_eq!(
        update(&mut m, ch('x')),
        vec![Cmd::CloseBreaker(
            Target::parse("http:a.example.com").unwrap()
        )]
    );
}
