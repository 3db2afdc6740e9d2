//! The detail pane says who or what decided an item (the operator, `policy:NAME`,
//! `aios (timeout)`), and which policy will decide a pending one.

use serde_json::json;

use super::tests::{draw, select, several, with};
use crate::journal::{Decision, ProposalKind, ProposalStatus};
use crate::tui::message::Msg;
use crate::tui::model::Detail;
use crate::tui::update::tests::record;
use crate::tui::update::update;

fn file_write() -> serde_json::Value {
    json!({"kind": "file", "root": "/w/out", "path": "report.txt", "content": "weekly\n", "mode": "write"})
}

#[test]
fn the_detail_says_which_policy_decided_an_item() {
    let mut m = with(several(), 100, 40);
    let mut rec = record(1, ProposalKind::Action, file_write());
    rec.status = ProposalStatus::Approved;
    rec.decision = Some(Decision::Approve);
    rec.decided_by = Some("policy:weekly-report".into());
    rec.decided_at = Some(rec.created_at);
    rec.reason = Some("policy weekly-report: approved unchanged 5 of 5 times (after = 5)".into());
    select(&mut m, 1);
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))),
    );
    let screen = format!("{}", draw(&m));
    assert!(
        screen.contains("decided approve by policy:weekly-report at"),
        "{screen}"
    );
    assert!(
        screen.contains("unchanged 5 of 5 times (after = 5)"),
        "{screen}"
    );
}

#[test]
fn the_detail_says_when_a_policy_will_approve_a_pending_item() {
    let mut m = with(several(), 120, 40);
    let mut rec = record(1, ProposalKind::Action, file_write());
    rec.deadline = Some(rec.created_at + 7_200_000);
    rec.on_timeout = Some("policy:quietly".into());
    rec.evidence = json!({"policy": {"rule": "quietly", "mode": "notify", "reason": "policy quietly: approved unchanged 3 of 3 times (after = 3)"}});
    select(&mut m, 1);
    update(
        &mut m,
        Msg::Detail(Box::new(Detail::new(rec, Vec::new(), None))),
    );
    let screen = format!("{}", draw(&m));
    assert!(screen.contains("policy:quietly approves it at"), "{screen}");
    assert!(screen.contains("unless you decide first"), "{screen}");
}
