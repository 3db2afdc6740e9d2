//! The tool loop of an agent step's turns, without IO: tool calls inline or
//! proposed, results joining the conversation, errors answered at once, the final
//! turn at `max_turns`, and fallback with the loop so far.

use serde_json::json;

use super::*;
use crate::agent::tools::{ToolSource, aios_def};
use crate::agent::{Sampling, ToolDef};

const LAST: Policy = Policy {
    retries_left: false,
};

fn side_effect() -> ToolDef {
    ToolDef {
        name: "srv__add".into(),
        description: "Adds a row.".into(),
        input_schema: json!({"type": "object", "properties": {"row": {"type": "string"}}}),
        read_only: false,
        source: ToolSource::Mcp {
            server: "srv".into(),
            tool: "add".into(),
            title: None,
            annotations: None,
        },
    }
}

fn req(models: &[&str], max_turns: u32) -> AgentRequest {
    AgentRequest {
        models: models.iter().map(|m| m.to_string()).collect(),
        system: None,
        prompt: "Find and write.".into(),
        json: true,
        schema: Some(
            json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}),
        ),
        offline: None,
        max_tokens: 100,
        context: None,
        sampling: Sampling::default(),
        tools: vec![aios_def("memory.search").unwrap(), side_effect()],
        max_turns,
    }
}

fn tc(id: &str, name: &str, args: serde_json::Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args,
    }
}

fn replied<'a>(text: &'a str, calls: &'a [ToolCall]) -> Input<'a> {
    Input::Replied {
        text,
        finish: Some("tool_calls"),
        offline: false,
        tool_calls: calls,
    }
}

#[test]
fn read_only_calls_run_inline_and_their_results_join_the_next_call() {
    let r = req(&["default"], 8);
    let mut t = Turns::default();
    let first = t.next(&r, LAST);
    let Next::Call(c) = &first else { panic!() };
    assert!(c.convo.is_empty());
    assert!(!c.final_turn);
    let calls = [tc("c1", "memory__search", json!({"query": "tea"}))];
    let Next::Tools(work) = t.handle(&r, LAST, replied("", &calls)) else {
        panic!("expected tool calls")
    };
    assert_eq!(work.len(), 1);
    assert_eq!(work[0].mode, Mode::Inline);
    assert_eq!(work[0].tool, 0);
    assert_eq!(t.tool_turns, 1);
    // A result for a call not awaited is ignored.
    assert!(t.tool_result(&r, LAST, "nope", &json!({})).is_none());
    let Some(Next::Call(c)) = t.tool_result(&r, LAST, "c1", &json!({"hits": []})) else {
        panic!("expected the next call")
    };
    assert_eq!(c.convo.len(), 2);
    assert_eq!(c.convo[0].role, Role::Assistant);
    assert_eq!(c.convo[0].tool_calls, calls);
    assert_eq!(c.convo[1].role, Role::Tool);
    assert_eq!(c.convo[1].tool_call_id.as_deref(), Some("c1"));
    assert_eq!(c.convo[1].content, r#"{"hits":[]}"#);
    // The same result twice is used once.
    assert!(t.tool_result(&r, LAST, "c1", &json!({})).is_none());
    let Next::Done(s) = t.handle(&r, LAST, replied(r#"{"answer": "x"}"#, &[])) else {
        panic!()
    };
    assert_eq!(s.tool_turns, 1);
    assert_eq!(t.calls, 2);
}

#[test]
fn side_effects_are_proposed_with_the_stated_reason_and_a_reason_argument_wins() {
    let r = req(&["default"], 8);
    let mut t = Turns::default();
    t.next(&r, LAST);
    let calls = [
        tc("a", "srv__add", json!({"row": "1"})),
        tc(
            "b",
            "srv__add",
            json!({"row": "2", "reason": "the customer asked"}),
        ),
        tc("c", "memory__search", json!({"query": "q"})),
    ];
    let Next::Tools(work) = t.handle(&r, LAST, replied("I add the rows.", &calls)) else {
        panic!()
    };
    assert_eq!(
        work[0].mode,
        Mode::Propose {
            reason: Some("I add the rows.".into())
        }
    );
    assert_eq!(
        work[1].mode,
        Mode::Propose {
            reason: Some("the customer asked".into())
        }
    );
    // The tool does not take `reason`: it is not sent.
    assert_eq!(work[1].call.arguments, json!({"row": "2"}));
    assert_eq!(work[2].mode, Mode::Inline);
    assert!(t.tool_result(&r, LAST, "c", &json!("found")).is_none());
    assert!(t.tool_result(&r, LAST, "a", &json!({"ok": true})).is_none());
    // What is left is the second proposal (the driver asks again after a pause).
    let left = t.work(&r);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].call.id, "b");
    let rejected = crate::agent::tools::rejected(Some("not now"));
    let Some(Next::Call(c)) = t.tool_result(&r, LAST, "b", &rejected) else {
        panic!()
    };
    // Results join in the order of the calls.
    let ids: Vec<_> = c.convo[1..]
        .iter()
        .map(|m| m.tool_call_id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(c.convo[2].content.contains("not now"));
}

#[test]
fn unknown_tools_and_bad_arguments_are_answered_at_once() {
    let r = req(&["default"], 8);
    let mut t = Turns::default();
    t.next(&r, LAST);
    let calls = [
        tc("x", "rm_rf", json!({})),
        tc("y", "memory__search", json!("tea")),
    ];
    let Next::Call(c) = t.handle(&r, LAST, replied("", &calls)) else {
        panic!("no tool to run: the next call at once")
    };
    assert!(c.convo[1].content.contains("there is no tool `rm_rf`"));
    assert!(c.convo[2].content.contains("must be a JSON object"));
}

#[test]
fn the_call_at_max_turns_is_final_and_more_tool_calls_move_on() {
    let r = req(&["default", "heuristic"], 2);
    let mut t = Turns::default();
    let Next::Call(c) = t.next(&r, LAST) else {
        panic!()
    };
    assert!(!c.final_turn);
    let calls = [tc("c1", "memory__search", json!({"query": "q"}))];
    t.handle(&r, LAST, replied("", &calls));
    let Some(Next::Call(c)) = t.tool_result(&r, LAST, "c1", &json!(1)) else {
        panic!()
    };
    assert!(c.final_turn, "the second call of max_turns = 2 is the last");
    let calls = [tc("c2", "memory__search", json!({"query": "q"}))];
    let Next::Call(c) = t.handle(&r, LAST, replied("", &calls)) else {
        panic!()
    };
    assert_eq!(c.alias, "heuristic");
    assert!(t.errors[0].contains("max_turns = 2"));
    // The next model starts from the loop so far, at its final turn.
    assert_eq!(c.convo.len(), 2);
    assert!(c.final_turn);
}

#[test]
fn a_step_without_tools_ignores_tool_calls_and_the_heuristic_answers_offline() {
    let mut r = req(&["heuristic"], 8);
    r.tools.clear();
    let mut t = Turns::default();
    let Next::Call(c) = t.next(&r, LAST) else {
        panic!()
    };
    assert!(!c.final_turn);
    let calls = [tc("c1", "memory__search", json!({}))];
    let n = t.handle(
        &r,
        LAST,
        Input::Replied {
            text: r#"{"answer": "offline"}"#,
            finish: None,
            offline: true,
            tool_calls: &calls,
        },
    );
    assert!(matches!(n, Next::Done(_)));
}

#[test]
fn the_loop_survives_a_budget_item_as_json() {
    let r = req(&["default"], 8);
    let mut t = Turns::default();
    t.next(&r, LAST);
    let calls = [
        tc("a", "srv__add", json!({"row": "1"})),
        tc("c", "memory__search", json!({"query": "q"})),
    ];
    t.handle(&r, LAST, replied("why", &calls));
    t.tool_result(&r, LAST, "c", &json!("found"));
    let back: Turns = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.work(&r)[0].call.id, "a");
    assert_eq!(
        back.work(&r)[0].mode,
        Mode::Propose {
            reason: Some("why".into())
        }
    );
}
