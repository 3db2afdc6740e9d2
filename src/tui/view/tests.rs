//! Views rendered into ratatui's `TestBackend` and compared with insta snapshots
//! (`src/tui/view/snapshots/`).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use serde_json::json;

use super::*;
use crate::journal::{ProposalKind, RunStatus, RunSummary, StaleRef, StepRecord};
use crate::tui::message::Msg;
use crate::tui::model::{Detail, Item, Model, Settings};
use crate::tui::update::tests::{NOW, record, row};
use crate::tui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn draw(m: &Model) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(m.size.0, m.size.1)).unwrap();
    term.draw(|f| view(m, f)).unwrap();
    term.backend().clone()
}

fn model(w: u16, h: u16) -> Model {
    let mut m = Model::new(Settings::default(), NOW, (w, h));
    update(&mut m, Msg::Inbox(Vec::new()));
    m
}

fn press(m: &mut Model, c: KeyCode) {
    update(m, Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn several() -> Vec<Item> {
    let mut gate = row(
        3,
        "approval",
        "go_no_go",
        "Launch Office hours on the planned date?",
    );
    gate.workflow = "launch".into();
    let mut conf = row(
        1,
        "action",
        "landing",
        "write founder/landing.md (229 bytes)",
    );
    conf.confidence = Some(0.87);
    vec![
        Item::new(conf, false),
        Item::new(
            row(
                2,
                "attention",
                "announce",
                "interrupted, outcome unknown: POST https://hooks.example.com/x",
            ),
            false,
        ),
        Item::new(gate, false),
        Item::new(
            row(
                4,
                "action",
                "email",
                "write founder/announcement.txt (158 bytes)",
            ),
            true,
        ),
        Item::new(
            row(5, "budget", "draft", "agent budget reached: $2.00 of $2.00"),
            false,
        ),
    ]
}

fn with(items: Vec<Item>, w: u16, h: u16) -> Model {
    let mut m = model(w, h);
    update(&mut m, Msg::Inbox(items));
    m
}

fn show(m: &mut Model, id: i64, kind: ProposalKind, action: serde_json::Value) {
    let mut rec = record(id, kind, action);
    rec.evidence = json!({
        "upstream": {"brief": {"headline": "Office hours for founders"}},
        "versions": [{"kind": "workflow_file", "key": "/w/launch.toml", "version": "abc"}]
    });
    select(m, id);
    update(m, Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))));
}

fn select(m: &mut Model, id: i64) {
    while m.selected().map(|i| i.row.id) != Some(id) {
        press(m, KeyCode::Down);
    }
}

#[test]
fn empty_inbox() {
    insta::assert_snapshot!(draw(&model(80, 24)));
}

#[test]
fn a_list_with_several_kinds_at_80x24() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        2,
        ProposalKind::Attention,
        json!({"kind": "http", "method": "POST", "url": "https://hooks.example.com/x", "json": {"text": "We launch"}}),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn a_wide_terminal_shows_list_and_detail_side_by_side() {
    let mut m = with(several(), 140, 30);
    show(
        &mut m,
        1,
        ProposalKind::Action,
        json!({"kind": "file", "root": "/w/out", "path": "founder/landing.md", "content": "# Office hours\n\nBook a slot.\n", "mode": "write"}),
    );
    press(&mut m, KeyCode::Char(' '));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn detail_of_a_file_write() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        1,
        ProposalKind::Action,
        json!({"kind": "file", "root": "/w/out", "path": "founder/landing.md", "content": "# Office hours\n\nBook a slot.\n", "mode": "write"}),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn detail_of_an_http_call() {
    let mut m = with(several(), 80, 30);
    show(
        &mut m,
        4,
        ProposalKind::Action,
        json!({"kind": "http", "method": "POST", "url": "https://hooks.example.com/T0",
               "headers": {"Content-Type": "application/json"}, "query": {"week": "47"},
               "json": {"text": "Launch!", "tags": ["a", "b"]},
               "idempotency_key": "aios-u1-post-1", "expect_status": [201]}),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn detail_of_a_shell_call() {
    let mut m = with(several(), 80, 27);
    show(
        &mut m,
        4,
        ProposalKind::Action,
        json!({"kind": "shell", "argv": ["git", "commit", "-m", "launch it's done"], "cwd": "/w", "env": {"GIT_AUTHOR_NAME": "Ada"},
               "sandbox": {"mode": "required", "read": ["/home/ada/.gitconfig"]}}),
    );
    insta::assert_snapshot!(draw(&m));
}

/// An action this build cannot read (an `email` without the fields its connector
/// needs, as another build might have written it) shows as its JSON.
#[test]
fn detail_of_an_action_this_build_cannot_read() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        4,
        ProposalKind::Action,
        json!({"kind": "email", "from": "ada@example.com", "to": ["bob@example.com", "eve@example.com"],
               "subject": "Office hours are open", "body": "Hi,\n\nBook a slot this week.\n\nAda"}),
    );
    insta::assert_snapshot!(draw(&m));
}

/// An email shows as it will be sent, from the connector's description (the same
/// one `aios inbox show` prints): headers, the body, attachment names and sizes.
#[test]
fn detail_of_an_email_shows_the_message() {
    let mut m = with(several(), 80, 40);
    show(
        &mut m,
        4,
        ProposalKind::Action,
        json!({"kind": "email", "account": "default", "from": "Ada <ada@example.com>",
               "to": ["bob@example.com"], "cc": ["eve@example.com"], "subject": "Office hours are open",
               "text": "Hi,\n\nBook a slot this week.\n\nAda", "headers": {"X-Launch": "office-hours"},
               "root": "/w", "attachments": [{"path": "deck.pdf", "name": "deck.pdf",
               "content_type": "application/pdf", "size": 2048, "sha256": "00"}],
               "message_id": "<aios.r1.announce.1@example.com>"}),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn detail_of_an_approval_gate() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        3,
        ProposalKind::Approval,
        json!({"title": "Launch Office hours?", "body": "Landing and email are ready.",
               "fields": [{"name": "launch_date", "type": "string", "required": true, "description": "when"}]}),
    );
    insta::assert_snapshot!(draw(&m));
}

/// A budget stop reads as `aios inbox show` prints it (not the stored request).
#[test]
fn detail_of_a_budget_stop() {
    let mut m = with(several(), 80, 24);
    let mut rec = record(
        5,
        ProposalKind::Budget,
        json!({"cap": "run", "limit_usd": 2.0, "spent_usd": 1.99, "estimate_usd": 0.02,
               "model": "fast", "provider": "local", "next_model": "tiny",
               "request": {"messages": ["…"]}, "job": {}}),
    );
    rec.summary = "a call to `fast` (about $0.02) would pass the run cap".into();
    rec.evidence = json!({"choices": [
        "approve --raise USD: let this run spend USD more than its caps",
        "approve --switch: use the next model, `tiny`",
    ]});
    select(&mut m, 5);
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))),
    );
    insta::assert_snapshot!(draw(&m));
}

/// A rescue item as the driver stores it (request, replies, error, offline draft).
pub(crate) fn rescue_action() -> serde_json::Value {
    json!({
        "request": {"models": ["default"], "prompt": "Announce it.", "json": true, "max_tokens": 200,
                    "schema": {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}},
        "error": "`default`: the reply is not JSON; `default` after it was asked to correct its reply: the reply is not JSON",
        "replies": [
            {"call": 7, "model": "default", "provider": "local", "response": "Sure! Tea club.",
             "error": "`default`: the reply is not JSON", "finish_reason": "stop"},
        ],
        "offline": {"subject": "New: Tea club"},
        "failed_attempt": 1,
    })
}

#[test]
fn detail_of_a_rescue() {
    let mut items = several();
    items[4] = Item::new(
        row(
            5,
            "rescue",
            "draft",
            "every model failed: `default`: the reply is not JSON",
        ),
        false,
    );
    let mut m = with(items, 80, 40);
    let mut rec = record(5, ProposalKind::Rescue, rescue_action());
    rec.evidence = json!({"choices": ["approve --offline: use the step's offline draft"]});
    select(&mut m, 5);
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn a_stale_item_says_why() {
    let mut m = with(several(), 80, 24);
    select(&mut m, 4);
    let mut rec = record(
        4,
        ProposalKind::Action,
        json!({"kind": "file", "root": "/w/out", "path": "a.txt", "content": "hi\n"}),
    );
    rec.evidence = json!({"confidence": 0.5, "rationale": "The brief asked for a short note."});
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(
            rec,
            vec![StaleRef {
                kind: "workflow_file".into(),
                key: "/w/launch.toml".into(),
                recorded: "a".into(),
                current: Some("b".into()),
            }],
            None,
        ))),
    );
    press(&mut m, KeyCode::Char('a'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn help_overlay() {
    let mut m = with(several(), 80, 24);
    press(&mut m, KeyCode::Char('?'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn reject_reason_prompt() {
    let mut m = with(several(), 80, 24);
    // An interrupted step's rejection fails it: the prompt says so.
    show(
        &mut m,
        2,
        ProposalKind::Attention,
        json!({"kind": "http", "method": "POST", "url": "https://hooks.example.com/x"}),
    );
    press(&mut m, KeyCode::Char('r'));
    for c in "not this week".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn snooze_prompt() {
    let mut m = with(several(), 80, 24);
    press(&mut m, KeyCode::Char('s'));
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn edit_diff_confirmation() {
    let mut m = with(several(), 80, 24);
    update(
        &mut m,
        Msg::EditChecked {
            id: 1,
            text: "{}".into(),
            result: Ok(Some(
                "--- proposed\n+++ edited\n@@ -1,3 +1,3 @@\n {\n-  \"content\": \"Book a slot.\"\n+  \"content\": \"Book a slot today.\"\n }\n"
                    .into(),
            )),
        },
    );
    insta::assert_snapshot!(draw(&m));
}

fn runs() -> Vec<RunSummary> {
    vec![
        RunSummary {
            id: 3,
            workflow: "launch".into(),
            status: RunStatus::Running,
            created_at: NOW - 120_000,
            updated_at: NOW - 1000,
            steps_total: 8,
            steps_done: 5,
        },
        RunSummary {
            id: 2,
            workflow: "weekly-report".into(),
            status: RunStatus::Waiting,
            created_at: NOW - 3_600_000,
            updated_at: NOW - 600_000,
            steps_total: 3,
            steps_done: 1,
        },
        RunSummary {
            id: 1,
            workflow: "hello".into(),
            status: RunStatus::Succeeded,
            created_at: NOW - 86_400_000,
            updated_at: NOW - 86_000_000,
            steps_total: 2,
            steps_done: 2,
        },
    ]
}

#[test]
fn runs_view() {
    let mut m = with(several(), 80, 24);
    update(&mut m, Msg::Runs(runs()));
    update(&mut m, Msg::DriveStarted(3));
    press(&mut m, KeyCode::Tab);
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn run_timeline() {
    let mut m = with(several(), 80, 24);
    update(&mut m, Msg::Runs(runs()));
    press(&mut m, KeyCode::Tab);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    let step = |id: &str, kind: &str, status, error: Option<&str>| StepRecord {
        step_id: id.into(),
        idx: 0,
        kind: kind.into(),
        status,
        attempts: 1,
        output: None,
        error: error.map(str::to_string),
        started_at: None,
        finished_at: None,
        throttled: None,
        held: None,
    };
    update(
        &mut m,
        Msg::Timeline(Box::new(Timeline {
            run: runs()[1].clone(),
            error: None,
            steps: vec![
                step("numbers", "http", StepStatus::Succeeded, None),
                step("report", "file", StepStatus::Waiting, None),
                step("post", "http", StepStatus::Pending, None),
            ],
            events: vec![
                (
                    NOW - 3_600_000,
                    "run created from `weekly-report` (3 steps)".into(),
                ),
                (NOW - 3_599_000, "numbers: started (attempt 1)".into()),
                (NOW - 3_598_000, "numbers: succeeded".into()),
                (
                    NOW - 3_597_000,
                    "report: inbox item 2 (action): write week-47.md".into(),
                ),
            ],
        })),
    );
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn the_filter_line() {
    let mut m = with(several(), 80, 24);
    press(&mut m, KeyCode::Char('/'));
    for c in "land".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn no_color_draws_no_colour() {
    let colours = |m: &Model| {
        let b = draw(m);
        b.buffer()
            .content
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    let mut coloured = with(several(), 80, 24);
    update(&mut coloured, Msg::Runs(runs()));
    assert!(colours(&coloured) > 0);
    let mut plain = Model::new(
        Settings {
            no_color: true,
            ..Settings::default()
        },
        NOW,
        (80, 24),
    );
    update(&mut plain, Msg::Inbox(several()));
    update(&mut plain, Msg::Runs(runs()));
    assert_eq!(colours(&plain), 0);
    press(&mut plain, KeyCode::Tab);
    assert_eq!(colours(&plain), 0);
    press(&mut plain, KeyCode::Char('?'));
    assert_eq!(colours(&plain), 0);
}

#[test]
fn a_frame_builds_only_the_rows_on_screen() {
    let items: Vec<Item> = (1..=10_000)
        .map(|i| Item::new(row(i, "action", "s", "x"), false))
        .collect();
    let mut m = with(items, 80, 24);
    press(&mut m, KeyCode::End);
    let b = draw(&m);
    let text = b.to_string();
    assert!(text.contains("10000/10000"), "{text}");
    assert!(text.contains("      1 launch"), "{text}");
}

#[test]
fn detail_says_who_drafted_it_and_flags_offline_drafts() {
    let mut m = with(several(), 100, 40);
    let mut rec = record(
        1,
        ProposalKind::Action,
        json!({"kind": "file", "root": "/w/out", "path": "founder/landing.md", "content": "# Office hours\n", "mode": "write"}),
    );
    rec.evidence = json!({
        "confidence": 0.3,
        "rationale": "offline draft from the brief",
        "agents": [
            {"step": "angle", "heuristic": false, "model": "llama3.2", "provider": "local", "confidence": 0.8, "rationale": "founders want time back"},
            {"step": "copy", "heuristic": true, "confidence": 0.3, "rationale": "offline draft from the brief"}
        ]
    });
    select(&mut m, 1);
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))),
    );
    let screen = format!("{}", draw(&m));
    assert!(screen.contains("DRAFTED BY"), "{screen}");
    assert!(
        screen.contains("copy: offline heuristic draft, NOT an LLM · confidence 30%"),
        "{screen}"
    );
    assert!(
        screen.contains("angle: llama3.2 via local · confidence 80%"),
        "{screen}"
    );
    insta::assert_snapshot!(draw(&m));
}

/// `a` on a gate with fields opens a form at 80x24: each field with its type, the
/// focused one marked, and why a value does not fit, under it.
#[test]
fn a_gate_form_at_80x24() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        3,
        ProposalKind::Approval,
        json!({"title": "Launch Office hours?", "fields": [
            {"name": "launch_date", "type": "string", "required": true, "description": "when"},
            {"name": "seats", "type": "integer", "required": true},
            {"name": "channel", "type": "string", "required": false, "default": "email"}
        ]}),
    );
    press(&mut m, KeyCode::Char('a'));
    for c in "2026-12-01".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    press(&mut m, KeyCode::Tab);
    for c in "ten".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    press(&mut m, KeyCode::Tab);
    press(&mut m, KeyCode::Enter);
    insta::assert_snapshot!(draw(&m));
}

/// `a` on a budget stop asks how much more the run may spend.
#[test]
fn a_budget_raise_form_at_80x24() {
    let mut m = with(several(), 80, 24);
    show(
        &mut m,
        5,
        ProposalKind::Budget,
        json!({"cap": "run", "limit_usd": 2.0, "spent_usd": 1.99, "estimate_usd": 0.02,
               "model": "fast", "provider": "local", "next_model": "tiny"}),
    );
    press(&mut m, KeyCode::Char('a'));
    for c in "0".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    press(&mut m, KeyCode::Enter);
    insta::assert_snapshot!(draw(&m));
}

/// A status longer than the screen is wide takes more rows: it is never cut.
#[test]
fn a_long_status_wraps_instead_of_being_cut() {
    let mut m = with(several(), 80, 24);
    update(
        &mut m,
        Msg::Decided {
            done: vec![],
            failed: vec![(
                3,
                "inbox item 3 was withdrawn (run 13 failed: step `landing` failed); it can no longer be decided".into(),
            )],
        },
    );
    let screen = draw(&m).to_string();
    assert!(
        screen.contains(
            "item 3 not decided: inbox item 3 was withdrawn (run 13 failed: step `landing`"
        ) && screen.contains("failed); it can no longer be decided"),
        "{screen}"
    );
    insta::assert_snapshot!(draw(&m));
}
