//! Snapshots of the control room: open circuit breakers on the Overview tab (with
//! the marker in the hint bar on every screen), and a failed run whose failure item
//! offers its choices on the runs screen, at 80x24 and 40 columns.

use crossterm::event::KeyCode;
use serde_json::json;

use super::tests::{draw, press, runs, several, with};
use super::tests_runs::overview;
use crate::health::BreakerState;
use crate::journal::{ProposalKind, RunStatus};
use crate::tui::message::Msg;
use crate::tui::model::{Detail, Item, Model};
use crate::tui::update::tests::{record, row};
use crate::tui::update::tests_control::breaker;
use crate::tui::update::update;

fn with_breakers(mut m: Model) -> Model {
    update(
        &mut m,
        Msg::Breakers(vec![
            breaker("http:api.example.com", BreakerState::Open),
            breaker("mcp:github", BreakerState::HalfOpen),
        ]),
    );
    m
}

#[test]
fn open_breakers_on_the_overview_at_80x24() {
    insta::assert_snapshot!(draw(&with_breakers(overview(80, 24))));
}

#[test]
fn open_breakers_on_the_overview_at_40_columns() {
    let mut m = with_breakers(overview(40, 24));
    press(&mut m, KeyCode::Char('j'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn an_open_breaker_is_marked_in_the_inbox_hint_bar_at_40_columns() {
    let mut m = with(several(), 40, 24);
    update(
        &mut m,
        Msg::Breakers(vec![breaker("smtp:default", BreakerState::Open)]),
    );
    let backend = draw(&m);
    let buf = backend.buffer();
    let last: String = (0..buf.area.width)
        .map(|x| buf[(x, buf.area.height - 1)].symbol().to_string())
        .collect();
    assert!(last.starts_with("✗ 1 breaker  "), "{last}");
    assert!(last.contains("? help  q quit"), "{last}");
}

/// Run 16 failed; its failure item (6) is loaded and offers skip and undo.
fn failed_run_with_its_item(w: u16, h: u16) -> Model {
    let mut items = several();
    items.push(Item::new(
        row(6, "failure", "call", "call failed: HTTP 503"),
        false,
    ));
    let mut m = with(items, w, h);
    let mut rs = runs();
    rs[0].id = 16;
    rs[0].status = RunStatus::Failed;
    update(&mut m, Msg::Runs(rs));
    press(&mut m, KeyCode::Tab);
    // The item is selected (its detail loads as it would after a key).
    press(&mut m, KeyCode::Char('o'));
    press(&mut m, KeyCode::Tab);
    let rec = record(
        6,
        ProposalKind::Failure,
        json!({"step": "call", "kind": "http", "error": "HTTP 503", "attempts": 3,
               "skippable": true, "compensable": true}),
    );
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, vec![], None))),
    );
    m.status = None;
    m
}

#[test]
fn a_failed_run_offers_its_failure_choices_at_80x24() {
    insta::assert_snapshot!(draw(&failed_run_with_its_item(80, 24)));
}

#[test]
fn a_failed_run_offers_its_failure_choices_at_40_columns() {
    insta::assert_snapshot!(draw(&failed_run_with_its_item(40, 24)));
}
