//! The turns of an agent step, without IO: each test feeds what the driver would
//! report and checks what it is told to do next.

use serde_json::json;

use super::*;
use crate::agent::{CallFailure, Sampling};

const GOOD: &str = r#"{"subject": "Hi", "body": "Hello"}"#;

fn req(models: &[&str]) -> AgentRequest {
    AgentRequest {
        models: models.iter().map(|m| m.to_string()).collect(),
        system: None,
        prompt: "Write.".into(),
        json: true,
        schema: Some(json!({
            "type": "object",
            "required": ["subject", "body"],
            "properties": {"subject": {"type": "string"}, "body": {"type": "string"}}
        })),
        offline: None,
        max_tokens: 100,
        context: None,
        sampling: Sampling::default(),
        tools: Vec::new(),
        max_turns: 8,
    }
}

const RETRY: Policy = Policy { retries_left: true };
const LAST: Policy = Policy {
    retries_left: false,
};

fn call(n: &Next) -> &Call {
    match n {
        Next::Call(c) => c,
        other => panic!("expected a call, got {other:?}"),
    }
}

fn replied(text: &str) -> Input<'_> {
    Input::Replied {
        text,
        finish: Some("stop"),
        offline: false,
        tool_calls: &[],
    }
}

#[test]
fn the_first_call_goes_to_the_first_model_and_a_good_reply_ends_the_step() {
    let r = req(&["default", "heuristic"]);
    let mut t = Turns::default();
    let first = t.next(&r, LAST);
    assert_eq!(
        call(&first),
        &Call {
            model_idx: 0,
            alias: "default".into(),
            repair: None,
            max_tokens: 100,
            plain: false,
            convo: Vec::new(),
            final_turn: false,
        }
    );
    let Next::Done(s) = t.handle(&r, LAST, replied(GOOD)) else {
        panic!()
    };
    assert_eq!(s.value, Some(json!({"subject": "Hi", "body": "Hello"})));
    assert!(s.fell_back.is_empty() && !s.truncated);
    assert_eq!(t.calls, 1);
}

#[test]
fn an_invalid_reply_is_repaired_once_then_the_next_model_answers() {
    let r = req(&["default", "heuristic"]);
    let mut t = Turns::default();
    let n = t.handle(&r, LAST, replied(r#"{"subject": 1}"#));
    let c = call(&n);
    assert_eq!((c.alias.as_str(), c.max_tokens), ("default", 100));
    let rep = c.repair.as_ref().unwrap();
    assert_eq!(rep.response, r#"{"subject": 1}"#);
    assert!(rep.error.contains("missing required property `body`"));
    // The repair fails too: on to the offline draft.
    let n = t.handle(&r, LAST, replied("Sure! Here it is."));
    let c = call(&n);
    assert_eq!(
        (c.model_idx, c.alias.as_str(), c.repair.as_ref()),
        (1, "heuristic", None)
    );
    assert_eq!(t.failed, vec!["default".to_string()]);
    let Next::Done(s) = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: GOOD,
            finish: None,
            offline: true,
            tool_calls: &[],
        },
    ) else {
        panic!()
    };
    assert_eq!(s.fell_back, vec!["default".to_string()]);
    assert_eq!(s.errors.len(), 2);
    assert!(
        s.errors[1].starts_with(
            "`default` after it was asked to correct its reply: the reply is not JSON"
        )
    );
}

#[test]
fn a_reply_cut_at_max_tokens_is_named_and_the_repair_gets_twice_the_room() {
    let r = req(&["default"]);
    let mut t = Turns::default();
    let n = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: r#"{"subject": "Hi", "bo"#,
            finish: Some("length"),
            offline: false,
            tool_calls: &[],
        },
    );
    let c = call(&n);
    assert_eq!(c.max_tokens, 200);
    assert!(c.repair.as_ref().unwrap().truncated);
    assert!(t.errors[0].starts_with("`default`: the reply stopped at max_tokens (100) before it was complete: the reply is not JSON"));
    // Cut again, with the doubled room: the step gives up with a hint to raise it.
    let n = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: r#"{"subject": "#,
            finish: Some("max_tokens"),
            offline: false,
            tool_calls: &[],
        },
    );
    let Next::GiveUp(g) = n else { panic!("{n:?}") };
    assert!(
        g.message.contains("stopped at max_tokens (200)"),
        "{}",
        g.message
    );
    assert!(
        g.message
            .ends_with("(hint: raise the step's `max_tokens`, now 100)"),
        "{}",
        g.message
    );
    assert!(!g.retry, "no retry left");
}

#[test]
fn a_cut_text_reply_is_kept_and_marked() {
    let mut r = req(&["default"]);
    r.json = false;
    r.schema = None;
    let mut t = Turns::default();
    let Next::Done(s) = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: "Once upon a",
            finish: Some("length"),
            offline: false,
            tool_calls: &[],
        },
    ) else {
        panic!()
    };
    assert!(s.truncated);
    assert_eq!(s.value, None);
}

#[test]
fn schema_failures_retry_the_step_when_its_retry_allows() {
    let r = req(&["default"]);
    let mut t = Turns::default();
    t.handle(&r, RETRY, replied("{}"));
    let Next::GiveUp(g) = t.handle(&r, RETRY, replied("{}")) else {
        panic!()
    };
    assert!(g.retry);
    let mut t = Turns::default();
    t.handle(&r, LAST, replied("{}"));
    let Next::GiveUp(g) = t.handle(&r, LAST, replied("{}")) else {
        panic!()
    };
    assert!(!g.retry);
}

#[test]
fn a_refused_schema_form_is_asked_again_in_plain_json_once() {
    let r = req(&["default", "second"]);
    let mut t = Turns::default();
    let refused = CallFailure {
        message: "refused the schema form".into(),
        hint: None,
        kind: FailureKind::SchemaRefused,
        http_attempts: 1,
    };
    let n = t.handle(&r, LAST, Input::Failed(&refused));
    let c = call(&n);
    assert_eq!((c.alias.as_str(), c.plain), ("default", true));
    assert!(t.errors.is_empty(), "a refusal is not an error");
    // Refused even in plain JSON: that model is done; the next one starts with the
    // schema form again.
    let n = t.handle(&r, LAST, Input::Failed(&refused));
    let c = call(&n);
    assert_eq!((c.alias.as_str(), c.plain), ("second", false));
    assert_eq!(t.errors.len(), 1);
}

#[test]
fn provider_errors_move_on_and_only_transient_ones_allow_a_retry() {
    let r = req(&["a", "b"]);
    let mut t = Turns::default();
    let fatal = CallFailure::fatal("provider `x` (model `a`) refused the API key", 1)
        .with_hint("check the key in KEY");
    let n = t.handle(&r, RETRY, Input::Failed(&fatal));
    assert_eq!(call(&n).alias, "b");
    let Next::GiveUp(g) = t.handle(&r, RETRY, Input::Unavailable("model `b` is not configured"))
    else {
        panic!()
    };
    assert!(!g.retry, "nothing a retry could fix");
    assert_eq!(
        g.message,
        "provider `x` (model `a`) refused the API key (hint: check the key in KEY); model `b` is not configured"
    );
    let mut t = Turns::default();
    let n = t.handle(
        &r,
        RETRY,
        Input::Failed(&CallFailure::retryable("HTTP 503", 3)),
    );
    assert_eq!(call(&n).alias, "b");
    let Next::GiveUp(g) = t.handle(&r, RETRY, Input::Failed(&fatal)) else {
        panic!()
    };
    assert!(g.retry, "the 503 may pass");
}

#[test]
fn the_deadline_ends_the_turns_at_once() {
    let r = req(&["a", "b"]);
    let mut t = Turns::default();
    let Next::GiveUp(g) = t.handle(
        &r,
        RETRY,
        Input::Deadline("the step's deadline (10m) passed"),
    ) else {
        panic!()
    };
    assert_eq!(g.message, "the step's deadline (10m) passed");
    assert!(g.retry);
    let mut t = Turns::default();
    let late = CallFailure {
        message: "no reply before the step's deadline".into(),
        hint: None,
        kind: FailureKind::Deadline,
        http_attempts: 1,
    };
    assert!(matches!(
        t.handle(&r, LAST, Input::Failed(&late)),
        Next::GiveUp(GiveUp { retry: false, .. })
    ));
    // The offline draft takes no time: past the deadline, the turns skip to it.
    let r = req(&["a", "b", "heuristic"]);
    let mut t = Turns::default();
    let n = t.handle(&r, LAST, Input::Failed(&late));
    assert_eq!(call(&n).alias, "heuristic");
    assert_eq!(t.failed, vec!["a".to_string()]);
}

#[test]
fn a_budget_switch_starts_the_next_model_fresh() {
    let r = req(&["a", "b"]);
    let mut t = Turns {
        repair: Some(Repair {
            response: "x".into(),
            error: "bad".into(),
            truncated: false,
        }),
        plain: true,
        ..Turns::default()
    };
    let n = t.handle(&r, LAST, Input::Switch);
    assert_eq!(
        call(&n),
        &Call {
            model_idx: 1,
            alias: "b".into(),
            repair: None,
            max_tokens: 100,
            plain: false,
            convo: Vec::new(),
            final_turn: false,
        }
    );
    assert!(
        t.failed.is_empty(),
        "a switch is the operator's choice, not a failure"
    );
    assert!(matches!(t.handle(&r, LAST, Input::Switch), Next::GiveUp(_)));
}

#[test]
fn an_offline_draft_that_does_not_fit_is_not_repaired() {
    let r = req(&["heuristic"]);
    let mut t = Turns::default();
    let n = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: "{}",
            finish: None,
            offline: true,
            tool_calls: &[],
        },
    );
    let Next::GiveUp(g) = n else { panic!() };
    assert!(g.message.starts_with("`heuristic`: the offline draft does not fit the step's output (the reply does not match the schema"), "{}", g.message);
}

#[test]
fn the_same_inputs_rebuild_the_same_state() {
    // Resume rebuilds a step's turns from its journaled calls: feeding them again
    // must land on the same next call.
    let r = req(&["a", "b"]);
    let inputs = [r#"{"subject": 1}"#, "nope"];
    let mut live = Turns::default();
    let mut last = None;
    for i in inputs {
        last = Some(live.handle(&r, LAST, replied(i)));
    }
    let mut rebuilt = Turns::default();
    let mut again = None;
    for i in inputs {
        again = Some(rebuilt.handle(&r, LAST, replied(i)));
    }
    assert_eq!(live, rebuilt);
    assert_eq!(last, again);
    assert_eq!(call(last.as_ref().unwrap()).alias, "b");
}

#[test]
fn a_stored_budget_item_of_an_older_version_still_reads() {
    let old = json!({"model_idx": 1, "repair": {"response": "{}", "error": "bad"}, "errors": ["e"], "calls": 2, "started": 3});
    let t: Turns = serde_json::from_value(old).unwrap();
    assert_eq!((t.model_idx, t.calls, t.started), (1, 2, 3));
    assert!(!t.repair.unwrap().truncated);
}
