//! Tests of `wait` steps and decision deadlines (`timeout` on approval steps,
//! `approval_timeout` on proposed actions, `on_timeout`).

use std::time::Duration;

use super::tests::{errs, hint, one, wf};
use super::*;

fn wait_of(w: &Workflow, i: usize) -> &WaitSpec {
    match &w.steps[i].spec {
        StepSpec::Wait(x) => x,
        other => panic!("not a wait step: {other:?}"),
    }
}

#[test]
fn wait_steps_load_with_duration_or_until() {
    let w = load(
        &wf(r#"
[inputs.at]
[[steps]]
id = "cool_off"
kind = "wait"
duration = "2d"
[[steps]]
id = "launch_day"
kind = "wait"
until = "{{ inputs.at }}"
[[steps]]
id = "fixed"
kind = "wait"
until = "2026-12-01T09:00:00+01:00"
"#),
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        wait_of(&w, 0).duration,
        Some(Duration::from_secs(2 * 86_400))
    );
    assert_eq!(wait_of(&w, 1).until.as_deref(), Some("{{ inputs.at }}"));
    let s = &w.steps[0];
    assert_eq!(s.kind(), Kind::Wait);
    assert!(!s.has_side_effects() && s.idempotent && s.approve == Approve::Never);
    assert_eq!(s.timeout, None);
    assert!(s.deadline.is_none());
}

#[test]
fn wait_steps_need_exactly_one_end_and_a_valid_instant() {
    let (d, at) = one(&wf("[[steps]]\nid = \"w\"\nkind = \"wait\"\n"));
    assert_eq!(d.message, "a wait step needs `duration` or `until`");
    assert_eq!(at, "[[steps]]");
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"1h\"\nuntil = \"2026-01-01T00:00:00Z\"\n",
    ));
    assert_eq!(
        d.message,
        "a wait step takes `duration` or `until`, not both"
    );
    assert_eq!(at, "until");
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nuntil = \"next tuesday\"\n",
    ));
    assert_eq!(
        d.message,
        "`until` is not an RFC 3339 instant: `next tuesday`"
    );
    assert_eq!(at, "\"next tuesday\"");
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"2 days\"\n",
    ));
    assert!(d.message.contains("invalid duration"), "{}", d.message);
    // Templates in `until` are checked like any other.
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nuntil = \"{{ inputs.nope }}\"\n",
    ));
    assert!(d.message.contains("nope"), "{}", d.message);
}

#[test]
fn wait_steps_refuse_timeout_approve_and_deadlines() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"1h\"\ntimeout = \"5m\"\n",
    ));
    assert_eq!(d.message, "a wait step has no `timeout`");
    assert_eq!(at, "timeout");
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"1h\"\napprove = \"always\"\n",
    ));
    assert_eq!(d.message, "wait steps have no side effects");
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"1h\"\non_timeout = \"fail\"\n",
    ));
    assert_eq!(
        d.message,
        "`on_timeout` only applies to steps that ask for approval"
    );
    assert_eq!(at, "on_timeout");
    assert!(hint(&d).contains("wait steps never wait for a decision"));
    // `[defaults] timeout` does not reach wait steps.
    let w = load(
        &wf("[defaults]\ntimeout = \"1m\"\n[[steps]]\nid = \"w\"\nkind = \"wait\"\nduration = \"1h\"\n"),
        "t",
    )
    .unwrap();
    assert_eq!(w.steps[0].timeout, None);
}

#[test]
fn approval_timeout_is_a_decision_deadline() {
    let w = load(
        &wf(r#"
[defaults]
timeout = "1m"
[[steps]]
id = "go"
kind = "approval"
title = "Go?"
timeout = "3d"
on_timeout = "approve"
fields = { date = { type = "string", default = "soon" } }
[[steps]]
id = "plain"
kind = "approval"
title = "Go?"
[[steps]]
id = "by_default"
kind = "approval"
title = "Go?"
timeout = "1h"
[[steps]]
id = "post"
kind = "http"
method = "POST"
url = "https://example.com"
timeout = "10s"
approval_timeout = "2d"
on_timeout = "remind"
"#),
        "t.toml",
    )
    .unwrap();
    let go = &w.steps[0];
    assert_eq!(
        go.deadline,
        Some(Deadline {
            after: Duration::from_secs(3 * 86_400),
            on_timeout: OnTimeout::Approve
        })
    );
    // Neither its own `timeout` nor `[defaults] timeout` is an execution timeout.
    assert_eq!(go.timeout, None);
    assert_eq!(w.steps[1].deadline, None);
    assert_eq!(w.steps[1].timeout, None);
    assert_eq!(
        w.steps[2].deadline.map(|d| d.on_timeout),
        Some(OnTimeout::Reject)
    );
    let post = &w.steps[3];
    assert_eq!(post.timeout, Some(Duration::from_secs(10)));
    assert_eq!(
        post.deadline,
        Some(Deadline {
            after: Duration::from_secs(2 * 86_400),
            on_timeout: OnTimeout::Remind
        })
    );
}

#[test]
fn bad_deadline_combinations_are_diagnosed() {
    let gate = "[[steps]]\nid = \"go\"\nkind = \"approval\"\ntitle = \"Go?\"\n";
    let (d, at) = one(&wf(&format!("{gate}on_timeout = \"reject\"\n")));
    assert_eq!(d.message, "`on_timeout` needs `timeout`");
    assert_eq!(at, "on_timeout");
    let (d, at) = one(&wf(&format!("{gate}approval_timeout = \"1d\"\n")));
    assert_eq!(
        d.message,
        "approval steps take `timeout` as their decision deadline"
    );
    assert_eq!(at, "approval_timeout");
    let (d, at) = one(&wf(&format!(
        "{gate}timeout = \"1d\"\non_timeout = \"later\"\n"
    )));
    assert!(d.message.contains("on_timeout"), "{}", d.message);
    assert_eq!(at, "\"later\"");
    let (d, _) = one(&wf(&format!("{gate}timeout = \"0s\"\n")));
    assert_eq!(d.message, "`timeout` must be longer than 0");
    let (d, _) = one(&wf(&format!("{gate}timeout = \"soon\"\n")));
    assert!(d.message.contains("invalid duration"), "{}", d.message);
    // Approving by timeout cannot invent a required field's value.
    let (d, at) = one(&wf(&format!(
        "{gate}timeout = \"1d\"\non_timeout = \"approve\"\nfields = {{ date = {{ type = \"string\" }} }}\n"
    )));
    assert_eq!(
        d.message,
        "`on_timeout = \"approve\"` cannot fill in required fields"
    );
    assert_eq!(at, "\"approve\"");
    // An action that is never proposed has no decision to time out.
    let d = errs(&wf(
        "[[steps]]\nid = \"f\"\nkind = \"file\"\npath = \"a\"\ncontent = \"b\"\napprove = \"never\"\napproval_timeout = \"1d\"\non_timeout = \"reject\"\n",
    ));
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(hint(&d[0]).contains("approve = \"never\""));
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = {}\napproval_timeout = \"1d\"\n",
    ));
    assert_eq!(
        d.message,
        "`approval_timeout` only applies to steps that ask for approval"
    );
    // An action with on_timeout but no approval_timeout.
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"f\"\nkind = \"file\"\npath = \"a\"\ncontent = \"b\"\non_timeout = \"fail\"\n",
    ));
    assert_eq!(d.message, "`on_timeout` needs `approval_timeout`");
}
