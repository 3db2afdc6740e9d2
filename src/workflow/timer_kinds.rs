//! Time in steps: the `wait` kind (`duration` or `until`) and decision deadlines
//! (`timeout` on `approval` steps, `approval_timeout` on proposed actions, both with
//! `on_timeout`).

use std::time::Duration;

use super::diag::Diagnostic;
use super::kinds::Kind;
use super::model::{Approve, Deadline, OnTimeout, WaitSpec};
use super::read::{Cx, Span, Table, TemplateUse, get, key_span};
use crate::template::is_template;

pub(crate) fn wait(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    uses: &mut Vec<TemplateUse>,
) -> Option<WaitSpec> {
    let duration = get(t, "duration").and_then(|v| cx.duration("duration", v));
    let until = get(t, "until").and_then(|v| cx.tmpl("until", v, uses));
    match (get(t, "duration"), get(t, "until")) {
        (Some(_), Some(_)) => cx.push(
            Diagnostic::new("a wait step takes `duration` or `until`, not both")
                .at(key_span(t, "until").unwrap_or(span))
                .label("second end time")
                .hint("duration = \"2d\" waits from when the step starts; until = \"{{ ... }}\" names an RFC 3339 instant"),
        ),
        (None, None) => cx.push(
            Diagnostic::new("a wait step needs `duration` or `until`")
                .at(span)
                .label("no end time")
                .hint("add duration = \"2d\", or until = \"{{ inputs.launch_at }}\" (an RFC 3339 instant)"),
        ),
        _ => {}
    }
    if let (Some(u), Some(v)) = (&until, get(t, "until"))
        && !is_template(u)
        && u.parse::<jiff::Timestamp>().is_err()
    {
        cx.push(
            Diagnostic::new(format!("`until` is not an RFC 3339 instant: `{u}`"))
                .at(v.span())
                .label("not an instant")
                .hint("write it like 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00"),
        );
    }
    Some(WaitSpec { duration, until })
}

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
    let (key, after_v) = match kind {
        Kind::Approval => ("timeout", get(t, "timeout")),
        _ => ("approval_timeout", get(t, "approval_timeout")),
    };
    if kind == Kind::Approval && get(t, "approval_timeout").is_some() {
        cx.push(
            Diagnostic::new("approval steps take `timeout` as their decision deadline")
                .at(key_span(t, "approval_timeout").unwrap_or(span.clone()))
                .label("use `timeout` here")
                .hint("on an approval step, timeout = \"3d\" is how long the gate waits for a decision"),
        );
    }
    let proposed = kind == Kind::Approval || approve == Approve::Always;
    if !proposed {
        for k in ["approval_timeout", "on_timeout"] {
            if let Some(ks) = key_span(t, k) {
                let why = match kind {
                    Kind::Connector(_) => {
                        "this step has approve = \"never\": nothing waits for a decision"
                            .to_string()
                    }
                    _ => format!("{} steps never wait for a decision", kind.name()),
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
