//! What an inbox item shows, for every front end: `aios inbox show` prints an
//! [`ItemView`] and the TUI's detail pane draws the same one. It is built from the
//! stored record through typed readers (the action's [`Description`] from its
//! connector, the [`Gate`], the [`BudgetStop`], the [`Rescue`], the [`Failure`], the [`Evidence`]), so neither front
//! end reads an item's JSON by key.

use serde_json::Value as Json;

use crate::connectors::{Action, Description};
use crate::journal::{BudgetStop, Evidence, Failure, Gate, ProposalKind, ProposalRecord, Rescue};

/// An item, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    pub subject: Subject,
    pub evidence: Evidence,
}

/// What the item asks about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A go/no-go gate with its fields.
    Gate(Gate),
    /// A proposed action, or one whose run was interrupted while committing it
    /// (`interrupted`: it may or may not have happened). Shows the final action (the
    /// operator's edit when there is one).
    Action { interrupted: bool, action: Shown },
    /// An LLM call stopped before it passed a spending cap.
    Budget(BudgetStop),
    /// An agent step every model failed: their replies and errors, what a reply
    /// must be, the offline draft.
    Rescue(Rescue),
    /// A notice about a schedule (its details are the stored action).
    Notice,
    /// A failed run: its failed step, error and attempts, and what may be done.
    Failure(Failure),
}

/// What an autonomy policy said about a pending item, in a line: that it will
/// approve it when its quiet period ends, or why it did not decide.
pub fn policy_line(
    note: &crate::journal::PolicyNote,
    p: &crate::journal::ProposalRecord,
) -> String {
    match note.mode.as_str() {
        "notify" => format!(
            "policy:{} approves it at {} unless you decide first ({})",
            note.rule,
            p.deadline
                .map(crate::clock::format_ms)
                .unwrap_or_else(|| "the end of its quiet period".into()),
            note.reason
        ),
        "auto" => format!("policy:{}: {}", note.rule, note.reason),
        _ => format!("asks you: {}", note.reason),
    }
}

/// An action as it can be shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// Described by its connector.
    Described(Description),
    /// Its JSON: this build has no connector of its kind (a newer build wrote it).
    Unreadable(Json),
}

/// What an interrupted step's item says first.
pub const INTERRUPTED: &str = "The process running this step stopped before recording its result; it may or may not have happened.";

/// The reason the driver gives an attention item for a step interrupted by a crash
/// (a commit that failed with its outcome unknown gives its own).
pub const CRASHED: &str = "the process running this step stopped before recording its result";

impl ItemView {
    pub fn of(p: &ProposalRecord) -> ItemView {
        let subject = match p.kind {
            ProposalKind::Approval => Subject::Gate(Gate::of(&p.action)),
            ProposalKind::Budget => Subject::Budget(BudgetStop::of(&p.action)),
            ProposalKind::Rescue => Subject::Rescue(Rescue::of(&p.action)),
            ProposalKind::Notice => Subject::Notice,
            ProposalKind::Failure => Subject::Failure(Failure::of(&p.action)),
            ProposalKind::Action | ProposalKind::Attention => Subject::Action {
                interrupted: p.kind == ProposalKind::Attention,
                action: Shown::of(p.final_action()),
            },
        };
        ItemView {
            subject,
            evidence: Evidence::of(&p.evidence),
        }
    }
}

impl ItemView {
    /// What an attention item says first: why its step's outcome is unknown (the
    /// process stopped, or the commit said so: an email whose server did not answer
    /// after the message).
    pub fn attention_line(&self) -> String {
        match self.evidence.reason.as_deref() {
            Some(r) if r != CRASHED => format!("Its outcome is unknown: {r}."),
            _ => INTERRUPTED.to_string(),
        }
    }
}

/// The action an operator starts an edit from (`aios inbox show ID --action`, the
/// TUI's editor): the final action as this build writes it, so it speaks today's
/// vocabulary even when an older build journaled it (a file action's `append: bool`
/// reads as `mode`). An action this build cannot read is given as stored.
pub fn editable(p: &ProposalRecord) -> Json {
    let stored = p.final_action();
    serde_json::from_value::<Action>(stored.clone())
        .ok()
        .and_then(|a| serde_json::to_value(a).ok())
        .unwrap_or_else(|| stored.clone())
}

/// The text an operator's edit starts from (`aios inbox show ID --action`, the TUI's
/// editor), without a final newline: a rescue's reply, started from the last one
/// the models gave ([`Rescue::draft`]); any other item's [`editable`] action as
/// indented JSON.
pub fn edit_start(p: &ProposalRecord) -> String {
    match p.kind {
        ProposalKind::Rescue => Rescue::of(&p.action).draft(),
        _ => serde_json::to_string_pretty(&editable(p)).unwrap_or_else(|_| "null".into()),
    }
}

impl Shown {
    pub fn of(stored: &Json) -> Shown {
        match serde_json::from_value::<Action>(stored.clone()) {
            Ok(a) => Shown::Described(a.describe()),
            Err(_) => Shown::Unreadable(stored.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(kind: ProposalKind, action: Json, evidence: Json) -> ProposalRecord {
        let mut p = crate::tui::update::tests::record(1, kind, action);
        p.evidence = evidence;
        p
    }

    #[test]
    fn an_action_shows_its_final_form_described_by_its_connector() {
        let mut p = record(
            ProposalKind::Attention,
            json!({"kind": "file", "root": "/r", "path": "a.txt", "content": "hi"}),
            json!({"reason": "stopped", "choices": ["approve: run it again"]}),
        );
        p.edited = Some(json!({"kind": "file", "root": "/r", "path": "b.txt", "content": "hi"}));
        let v = ItemView::of(&p);
        let Subject::Action {
            interrupted: true,
            action: Shown::Described(d),
        } = &v.subject
        else {
            panic!("{:?}", v.subject)
        };
        assert_eq!(d.headline(), "write b.txt");
        assert_eq!(v.evidence.reason.as_deref(), Some("stopped"));
    }

    #[test]
    fn an_unknown_action_kind_shows_as_json() {
        let action = json!({"kind": "email", "to": ["a@example.com"]});
        let v = ItemView::of(&record(ProposalKind::Action, action.clone(), json!({})));
        assert_eq!(
            v.subject,
            Subject::Action {
                interrupted: false,
                action: Shown::Unreadable(action)
            }
        );
    }

    #[test]
    fn gates_and_budget_stops_are_typed() {
        let v = ItemView::of(&record(
            ProposalKind::Approval,
            json!({"title": "Go?", "body": null, "fields": []}),
            json!({"upstream": {}}),
        ));
        assert!(matches!(&v.subject, Subject::Gate(g) if g.title == "Go?"));
        let v = ItemView::of(&record(
            ProposalKind::Budget,
            json!({"cap": "run", "limit_usd": 2.0, "spent_usd": 1.99, "estimate_usd": 0.02,
                   "model": "fast", "provider": "local", "next_model": null, "request": {}, "job": {}}),
            json!({"choices": ["approve --raise USD"]}),
        ));
        let Subject::Budget(b) = &v.subject else {
            panic!()
        };
        assert_eq!(
            b.lines(),
            [
                ("model", "`fast` (provider local)".to_string()),
                ("cap", "run ($2.00)".to_string()),
                ("spent", "$1.99".to_string()),
                ("this call", "about $0.02".to_string()),
            ]
        );
    }

    #[test]
    fn a_rescue_is_typed_and_starts_from_the_last_reply() {
        let v = ItemView::of(&record(
            ProposalKind::Rescue,
            crate::tui::view::tests::rescue_action(),
            json!({"choices": ["approve --offline: use the step's offline draft"]}),
        ));
        let Subject::Rescue(r) = &v.subject else {
            panic!("{:?}", v.subject)
        };
        assert_eq!(r.replies.len(), 1);
        assert_eq!(
            r.replies[0].headline(),
            "call 7 · `default` via local · stop"
        );
        assert_eq!(r.expects(), "your reply must match this schema");
        assert_eq!(r.draft(), "Sure! Tea club.");
        assert_eq!(
            r.offline_text().unwrap(),
            "{\n  \"subject\": \"New: Tea club\"\n}"
        );
        // No reply to start from: the offline draft; a broken action reads empty.
        let mut a = crate::tui::view::tests::rescue_action();
        a["replies"] = json!([]);
        assert_eq!(
            Rescue::of(&a).draft(),
            "{\n  \"subject\": \"New: Tea club\"\n}"
        );
        assert_eq!(Rescue::of(&json!("garbage")), Rescue::default());
    }
}
