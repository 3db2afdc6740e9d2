//! Snapshots of the runs screen's actions (the keys a run offers, the cancel prompt),
//! the RUN and ID columns of the list, the help scrolled, and an edit confirmed as a
//! line diff of its text, the bulk approve confirmation, the snoozed view and the
//! Overview tab,
//! at 80x24 and 40 columns.

use crossterm::event::KeyCode;

use super::tests::{draw, press, runs, several, with};
use crate::journal::RunStatus;
use crate::tui::message::Msg;
use crate::tui::model::Model;
use crate::tui::update::update;

fn failed_first(w: u16, h: u16) -> Model {
    let mut m = with(several(), w, h);
    let mut rs = runs();
    rs[0].status = RunStatus::Failed;
    update(&mut m, Msg::Runs(rs));
    press(&mut m, KeyCode::Tab);
    m
}

#[test]
fn a_failed_run_offers_retry_at_80x24() {
    insta::assert_snapshot!(draw(&failed_first(80, 24)));
}

#[test]
fn a_waiting_run_offers_resume_and_cancel_at_40_columns() {
    let mut m = failed_first(40, 24);
    press(&mut m, KeyCode::Down);
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn cancel_reason_prompt_at_80x24() {
    let mut m = failed_first(80, 24);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Char('c'));
    for c in "wrong week".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn cancel_reason_prompt_at_40_columns() {
    let mut m = failed_first(40, 24);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Char('c'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn the_list_shows_each_item_s_run_at_80x24() {
    insta::assert_snapshot!(draw(&with(several(), 80, 24)));
}

#[test]
fn the_list_keeps_its_id_column_at_40_columns() {
    insta::assert_snapshot!(draw(&with(several(), 40, 24)));
}

#[test]
fn the_help_scrolls_to_its_end_at_80x24() {
    let mut m = with(several(), 80, 24);
    press(&mut m, KeyCode::Char('?'));
    for _ in 0..40 {
        press(&mut m, KeyCode::Char('j'));
    }
    insta::assert_snapshot!(draw(&m));
}

fn body_edit(w: u16, h: u16) -> Model {
    let mut m = with(several(), w, h);
    let before = serde_json::json!({"kind": "email", "to": ["ada@example.com"],
        "subject": "Launch", "body": "Hello Ada,\n\nthe launch is on Monday.\nSee you there.\n"});
    let mut after = before.clone();
    after["body"] = "Hello Ada,\n\nthe launch is on Tuesday.\nSee you there.\n".into();
    update(
        &mut m,
        Msg::EditChecked {
            id: 1,
            text: after.to_string(),
            result: Ok(Some(crate::inbox::diff::action_diff(&before, &after))),
        },
    );
    m
}

#[test]
fn an_edited_email_body_is_confirmed_as_a_line_diff_at_80x24() {
    insta::assert_snapshot!(draw(&body_edit(80, 24)));
}

#[test]
fn an_edited_email_body_is_confirmed_as_a_line_diff_at_40_columns() {
    insta::assert_snapshot!(draw(&body_edit(40, 24)));
}

fn marked_three(w: u16, h: u16) -> Model {
    // The list is 2 (attention), 5 (budget), 4 (action), 3 (gate), 1 (action).
    let mut m = with(several(), w, h);
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::Char('j'));
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::Char('j'));
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::Char('a'));
    m
}

#[test]
fn bulk_approve_confirmation_at_80x24() {
    insta::assert_snapshot!(draw(&marked_three(80, 24)));
}

#[test]
fn bulk_approve_confirmation_at_40_columns() {
    insta::assert_snapshot!(draw(&marked_three(40, 24)));
}

fn snoozed_view(w: u16, h: u16) -> Model {
    let mut items = several();
    for it in items.iter_mut().take(2) {
        it.row.snoozed_until = Some(crate::tui::update::tests::NOW + 4 * 3_600_000);
    }
    let mut m = with(items, w, h);
    press(&mut m, KeyCode::Char('z'));
    m
}

#[test]
fn the_snoozed_view_at_80x24() {
    insta::assert_snapshot!(draw(&snoozed_view(80, 24)));
}

#[test]
fn the_snoozed_view_at_40_columns() {
    insta::assert_snapshot!(draw(&snoozed_view(40, 24)));
}

#[test]
fn at_80x24_the_footer_keeps_a_rescue_s_choices_and_q_quit() {
    use super::tests::{rescue_action, select};
    use crate::journal::ProposalKind;
    use crate::tui::update::tests::{NOW, record, row};
    let mut items = several();
    items[4] = crate::tui::model::Item::new(row(5, "rescue", "draft", "rescue"), false);
    // A snoozed item adds `z snoozed` to the footer.
    items[0].row.snoozed_until = Some(NOW + 3_600_000);
    let mut m = with(items, 80, 24);
    select(&mut m, 5);
    let rec = record(5, ProposalKind::Rescue, rescue_action());
    update(
        &mut m,
        Msg::Detail(Box::new(crate::tui::model::Detail::new(
            rec,
            Vec::new(),
            None,
        ))),
    );
    let screen = draw(&m);
    let footer: String = (0..80)
        .map(|x| screen.buffer()[(x, 23)].symbol().to_string())
        .collect();
    for want in ["a retry", "o offline", "r fail", "? help", "q quit"] {
        assert!(footer.contains(want), "{want:?} missing from {footer:?}");
    }
}

pub(super) fn sample_stats() -> crate::journal::stats::Stats {
    use crate::journal::stats::{Day, Failures, Point, Series, Stats};
    let days: Vec<Day> = (0..30)
        .map(|i| Day {
            date: format!("2026-11-{:02}", i % 28 + 1),
            spent_usd: [0.0, 0.12, 0.4, 0.05, 1.9][i % 5],
            decided: [0, 1, 3, 2, 5, 0][i % 6],
        })
        .collect();
    Stats {
        days,
        daily_cap_usd: Some(2.0),
        monthly_cap_usd: Some(20.0),
        spent_month_usd: 9.4,
        decided: 55,
        median_decide_ms: Some(3_600_000),
        failures: vec![
            Failures {
                workflow: "weekly-report".into(),
                failed: 3,
            },
            Failures {
                workflow: "launch".into(),
                failed: 1,
            },
        ],
        outcomes: vec![Series {
            workflow: "launch".into(),
            key: "open_rate".into(),
            points: [0.31, 0.38, 0.41, 0.36]
                .iter()
                .enumerate()
                .map(|(i, v)| Point {
                    run: i as i64 + 1,
                    date: "2026-11-20".into(),
                    value: *v,
                })
                .collect(),
        }],
    }
}

pub(super) fn overview(w: u16, h: u16) -> Model {
    let mut m = with(several(), w, h);
    press(&mut m, KeyCode::Tab);
    press(&mut m, KeyCode::Tab);
    update(&mut m, Msg::Stats(Box::new(sample_stats())));
    m
}

#[test]
fn the_overview_at_80x24() {
    insta::assert_snapshot!(draw(&overview(80, 24)));
}

#[test]
fn the_overview_at_40_columns() {
    insta::assert_snapshot!(draw(&overview(40, 24)));
}

#[test]
fn the_help_at_40_columns() {
    let mut m = with(several(), 40, 24);
    press(&mut m, KeyCode::Char('?'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn a_timeline_with_inputs_at_40_columns() {
    let mut m = with(several(), 40, 24);
    update(&mut m, Msg::Runs(runs()));
    press(&mut m, KeyCode::Tab);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    update(
        &mut m,
        Msg::Timeline(Box::new(crate::tui::model::Timeline {
            run: runs()[1].clone(),
            error: None,
            inputs: vec![
                ("week".into(), "47".into()),
                ("api_key".into(), "secret".into()),
            ],
            steps: Vec::new(),
            events: Vec::new(),
        })),
    );
    insta::assert_snapshot!(draw(&m));
}
