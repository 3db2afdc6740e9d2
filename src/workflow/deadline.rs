//! Decision deadlines: `timeout` on kinds whose timeout is the decision deadline
//! (`approval`), `approval_timeout` on proposed actions, both with `on_timeout`.

use std::time::Duration;

use super::diag::Diagnostic;
use super::kinds::{Asks, Kind, Timeout};
use super::model::{Approve, Deadline, OnTimeout};
use super::read::{Cx, Span, Table, get, key_span};

/// Read a step's decision deadline. `timeout` is the deadline of an `approval`
/// step; proposed actions take `approval_timeout` (their `timeout` bounds the
/// execution). `on_timeout` says what the deadline does (default `reject`).
pub(crate) fn deadline(
    cx: &mut Cx,
    t: &Table<'_>,
    kind: Kind,
    approve: Approve,
    span: &Span,
    gate_needs_fields: bool,
) -> Option<Deadline> {
    let on_timeout_v = get(t, "on_timeout");
    let on_timeout = on_timeout_v.and_then(|v| {
        cx.choice("on_timeout", v, OnTimeout::WORDS)
            .map(|i| OnTimeout::parse(OnTimeout::WORDS[i]).expect("a listed word"))
    });
    let policy = kind.policy();
    // A kind whose `timeout` is the decision deadline (a gate) takes no other key.
    let gate = policy.timeout == Timeout::Decision;
    let (key, after_v) = if gate {
        ("timeout", get(t, "timeout"))
    } else {
        ("approval_timeout", get(t, "approval_timeout"))
    };
    if gate && get(t, "approval_timeout").is_some() {
        cx.push(
            Diagnostic::new("approval steps take `timeout` as their decision deadline")
                .at(key_span(t, "approval_timeout").unwrap_or(span.clone()))
                .label("use `timeout` here")
                .hint("on an approval step, timeout = \"3d\" is how long the gate waits for a decision"),
        );
    }
    let proposed = policy.asks == Asks::Always || approve == Approve::Always;
    if !proposed {
        for k in ["approval_timeout", "on_timeout"] {
            if let Some(ks) = key_span(t, k) {
                let why = match policy.asks {
                    Asks::Proposal => {
                        "this step has approve = \"never\": nothing waits for a decision"
                            .to_string()
                    }
                    Asks::Always | Asks::Never => {
                        format!("{} steps never wait for a decision", kind.name())
                    }
                };
                cx.push(
                    Diagnostic::new(format!("`{k}` only applies to steps that ask for approval"))
                        .at(ks)
                        .label("no inbox item to time out")
                        .hint(format!("remove `{k}`; {why}")),
                );
            }
        }
        return None;
    }
    let after = after_v.and_then(|v| cx.duration(key, v));
    if let Some(v) = after_v
        && after == Some(Duration::ZERO)
    {
        cx.push(
            Diagnostic::new(format!("`{key}` must be longer than 0"))
                .at(v.span())
                .label("zero")
                .hint("the deadline is how long the inbox item waits, like \"3d\""),
        );
        return None;
    }
    match (after, on_timeout_v) {
        (None, Some(v)) if after_v.is_none() => {
            cx.push(
                Diagnostic::new(format!("`on_timeout` needs `{key}`"))
                    .at(key_span(t, "on_timeout").unwrap_or(v.span()))
                    .label("no deadline to act on")
                    .hint(format!(
                        "add {key} = \"3d\": how long the item waits for a decision"
                    )),
            );
            None
        }
        (Some(after), _) => {
            let on_timeout = on_timeout.unwrap_or(OnTimeout::Reject);
            if on_timeout == OnTimeout::Approve && gate_needs_fields {
                cx.push(
                    Diagnostic::new("`on_timeout = \"approve\"` cannot fill in required fields")
                        .at(on_timeout_v.map(|v| v.span()).unwrap_or(span.clone()))
                        .label("a required field has no default")
                        .hint("give every required field a `default`, or choose on_timeout = \"reject\" | \"fail\" | \"remind\""),
                );
            }
            Some(Deadline { after, on_timeout })
        }
        _ => None,
    }
}
