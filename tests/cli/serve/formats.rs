//! Hooks for real providers (`--format github|stripe`) and whole-body inputs
//! (`--payload`). Signatures are computed here with the documented algorithms:
//! GitHub's `X-Hub-Signature-256` is `sha256=` + hex HMAC-SHA256 of the raw body;
//! Stripe's `Stripe-Signature` is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.

use std::io::Write;
use std::process::Stdio;

use serde_json::json;

use super::{hmac, post, printed_secret, sign, start, stop};
use crate::support::{Output, Test, wait_until};

/// The harness's pinned clock (`AIOS_NOW`), in Unix seconds.
const NOW_S: i64 = 1_795_253_400; // 2026-11-21T09:30:00Z

/// A workflow that takes a GitHub-like event as one input.
const ON_PUSH: &str = r#"
name = "on-push"

[inputs.event]
type = "object"

[inputs.note]
type = "string"
default = "from a hook"

[[steps]]
id = "summary"
kind = "set"
values = { repo = "{{ inputs.event.repository.full_name }}", commits = "{{ inputs.event.commits | length }}" }
"#;

/// `aios ARGS` with `stdin` piped in.
fn with_stdin(t: &Test, args: &[&str], stdin: &str) -> Output {
    let mut child = t
        .args(args)
        .into_command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Output {
        args: args.join(" "),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

#[test]
fn a_github_hook_checks_x_hub_signature_256_and_can_take_the_whole_body() {
    let t = Test::new().write("push.toml", ON_PUSH);
    let out = t
        .aios(&[
            "hook",
            "add",
            "gh",
            "push.toml",
            "--format",
            "github",
            "--payload",
            "event",
        ])
        .success()
        .stdout_contains("(format github, body as input `event`)")
        .stdout_contains("paste it as the webhook's Secret in GitHub");
    let secret = printed_secret(&out.stdout);
    let (bg, port) = start(&t, &[]);
    // A push event as GitHub sends it: a large object, most of it unused.
    let body = json!({
        "ref": "refs/heads/main",
        "repository": {"full_name": "ada/engine", "private": false, "owner": {"login": "ada"}},
        "commits": [{"id": "a1"}, {"id": "b2"}],
        "pusher": {"name": "ada"},
        "sender": null
    })
    .to_string();
    let body = body.as_bytes();
    let github_sig = format!("sha256={}", hex::encode(hmac(&secret, body)));
    let r = post(
        port,
        "/hooks/gh",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &github_sig),
        ],
        body,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    let show = t.show(1);
    assert_eq!(
        show["inputs"]["event"]["repository"]["owner"]["login"],
        "ada"
    );
    assert_eq!(show["inputs"]["note"], "from a hook");
    assert_eq!(show["steps"][0]["output"]["repo"], "ada/engine");
    assert_eq!(show["steps"][0]["output"]["commits"], 2);
    // Another body under the same signature; aios's own header or a bearer token;
    // GitHub's older SHA-1 header: all refused.
    let other = br#"{"ref": "refs/heads/evil"}"#;
    let r = post(
        port,
        "/hooks/gh",
        &[("X-Hub-Signature-256", &github_sig)],
        other,
    );
    assert_eq!(
        (r.status, r.error()),
        (401, "the signature does not match the body".into())
    );
    let r = post(
        port,
        "/hooks/gh",
        &[("X-Aios-Signature", &github_sig)],
        body,
    );
    assert_eq!(r.status, 401);
    assert!(r.error().contains("X-Hub-Signature-256"));
    let bearer = format!("Bearer {secret}");
    assert_eq!(
        post(port, "/hooks/gh", &[("Authorization", &bearer)], body).status,
        401
    );
    let r = post(port, "/hooks/gh", &[("X-Hub-Signature", "sha1=00")], body);
    assert_eq!(r.status, 401);
    // The body must still have the payload input's type.
    let list = b"[1]";
    let r = post(
        port,
        "/hooks/gh",
        &[("X-Hub-Signature-256", &sign(&secret, list))],
        list,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error()
            .contains("input `event` must be an object, got an array")
    );
    stop(bg).success();
    let hooks = t.aios(&["hook", "list", "--json"]).success().json();
    assert_eq!(hooks[0]["format"], "github");
    assert_eq!(hooks[0]["payload"], "event");
    t.aios(&["hook", "list"])
        .success()
        .stdout_contains("gh    github  body -> event");
    // Re-adding keeps the format and payload unless told otherwise.
    t.aios(&["hook", "add", "gh", "push.toml"])
        .success()
        .stdout_contains("(format github, body as input `event`)");
}

#[test]
fn a_stripe_hook_checks_the_signed_timestamp_against_replays() {
    let t = Test::new().write("push.toml", ON_PUSH);
    // Stripe makes the secret: aios refuses to invent one.
    t.aios(&[
        "hook",
        "add",
        "st",
        "push.toml",
        "--format",
        "stripe",
        "--payload",
        "event",
    ])
    .code(2)
    .stderr_contains("a stripe hook checks Stripe's own signing secret")
    .stderr_contains("--format stripe --secret-stdin");
    let secret = "whsec_5c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f";
    with_stdin(
        &t,
        &[
            "hook",
            "add",
            "st",
            "push.toml",
            "--format",
            "stripe",
            "--payload",
            "event",
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    )
    .success()
    .stdout_contains("(format stripe, tolerance 300s, body as input `event`)")
    .stdout_contains("the secret read from stdin is kept in");
    assert_eq!(t.read("hooks/st.secret"), secret);
    let (bg, port) = start(&t, &[]);
    let body = br#"{"id": "evt_1", "type": "invoice.paid", "repository": {"full_name": "-"}, "commits": []}"#;
    let v1 = |t_s: i64, body: &[u8]| {
        let mut signed = format!("{t_s}.").into_bytes();
        signed.extend_from_slice(body);
        hex::encode(hmac(secret, &signed))
    };
    let header = |t_s: i64, sigs: &[String]| {
        let mut h = format!("t={t_s}");
        for s in sigs {
            h.push_str(&format!(",v1={s}"));
        }
        h
    };
    let send = |h: &str, body: &[u8]| post(port, "/hooks/st", &[("Stripe-Signature", h)], body);
    // Signed now: accepted; with an unrelated v1 first (a secret being rolled) too.
    let r = send(&header(NOW_S, &[v1(NOW_S, body)]), body);
    assert_eq!(r.status, 202, "{}", r.body);
    let r = send(&header(NOW_S, &["00".repeat(32), v1(NOW_S, body)]), body);
    assert_eq!(r.status, 202, "{}", r.body);
    // Signed 4 minutes ago: inside the 5-minute window.
    let r = send(&header(NOW_S - 240, &[v1(NOW_S - 240, body)]), body);
    assert_eq!(r.status, 202);
    // A capture replayed 301 s later: refused, though the signature is genuine.
    let old = NOW_S - 301;
    let r = send(&header(old, &[v1(old, body)]), body);
    assert_eq!(r.status, 401);
    assert!(
        r.error().contains("301s old (tolerance 300s)"),
        "{}",
        r.body
    );
    // Moving the timestamp breaks the signature.
    let r = send(&header(NOW_S, &[v1(old, body)]), body);
    assert_eq!(
        (r.status, r.error()),
        (401, "the signature does not match the body".into())
    );
    // No v1, no timestamp, another provider's header.
    assert_eq!(send(&format!("t={NOW_S}"), body).status, 401);
    assert_eq!(send(&format!("v1={}", v1(NOW_S, body)), body).status, 401);
    let r = post(
        port,
        "/hooks/st",
        &[("X-Hub-Signature-256", &sign(secret, body))],
        body,
    );
    assert_eq!(r.status, 401);
    assert!(r.error().contains("Stripe-Signature"));
    wait_until("three runs succeed", || {
        (1..=3).all(|r| t.show(r)["status"] == "succeeded")
    });
    assert_eq!(t.show(3)["inputs"]["event"]["type"], "invoice.paid");
    stop(bg).success();
    // A wider window (the secret and format stay).
    t.aios(&["hook", "add", "st", "push.toml", "--tolerance", "10m"])
        .success()
        .stdout_contains("(format stripe, tolerance 600s, body as input `event`)")
        .stdout_contains("the secret is unchanged");
    let (bg, port) = start(&t, &[]);
    let r = post(
        port,
        "/hooks/st",
        &[("Stripe-Signature", &header(old, &[v1(old, body)]))],
        body,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    stop(bg).success();
    assert_eq!(
        t.aios(&["hook", "list", "--json"]).success().json()[0]["tolerance_s"],
        600
    );
}

#[test]
fn hook_settings_that_cannot_work_are_refused() {
    let t = Test::new()
        .write("push.toml", ON_PUSH)
        .write("greet.toml", super::GREET);
    t.aios(&["hook", "add", "a", "push.toml", "--payload", "body"])
        .code(2)
        .stderr_contains("workflow `on-push` declares no input `body` to receive the body")
        .stderr_contains("hint: or pass each field of the body as an input");
    t.aios(&["hook", "add", "a", "greet.toml", "--payload", "count"])
        .code(2)
        .stderr_contains("also requires `who`");
    t.aios(&["hook", "add", "a", "greet.toml", "--tolerance", "0s"])
        .code(2)
        .stderr_contains("--tolerance must be at least 1s");
    t.aios(&["hook", "add", "a", "greet.toml", "--format", "gitlab"])
        .code(2)
        .stderr_contains("invalid value 'gitlab'");
    // Nothing was registered, and no secret was written.
    assert_eq!(
        t.aios(&["hook", "list", "--json"]).success().json(),
        json!([])
    );
    assert!(!t.join("hooks/a.secret").exists());
    // A given secret must be one line without blank ends.
    with_stdin(
        &t,
        &["hook", "add", "a", "greet.toml", "--secret-stdin"],
        "two\nlines\n",
    )
    .code(2)
    .stderr_contains("control character");
    with_stdin(
        &t,
        &["hook", "add", "a", "greet.toml", "--secret-stdin"],
        "",
    )
    .code(2)
    .stderr_contains("the secret is empty")
    .stderr_contains(
        "hint: pipe it in: printf '%s' \"$SECRET\" | aios hook add a greet.toml --secret-stdin\n",
    );
    // --fields goes back to one input per field.
    t.aios(&["hook", "add", "p", "push.toml", "--payload", "event"])
        .success();
    t.aios(&["hook", "add", "p", "push.toml", "--fields"])
        .success()
        .stdout_contains("(format aios, one input per field)");
}
