//! Inputs declared `secret = true`: given with `--input` or by a webhook, kept out of
//! the journal (a placeholder there, `secret` in `aios show`), usable in the steps
//! that act, kept in the store under the run until it ends, refused where they
//! would leak.

use serde_json::json;

use crate::serve::{post, printed_secret, sign, start, stop, wait_within};
use crate::support::http::{Response, Server};
use crate::support::{Test, step};

const PW: &str = "pw-input-0d9c8b7a6f";

pub(crate) fn login(server: &Server, approve: &str) -> String {
    format!(
        r#"name = "login"
[inputs.user]
[inputs.pw]
secret = true
description = "the account's password"

[[steps]]
id = "login"
kind = "http"
approve = "{approve}"
method = "POST"
url = "{}"
headers = {{ X-Password = "{{{{ inputs.pw }}}}" }}
json = {{ user = "{{{{ inputs.user }}}}", password = "{{{{ inputs.pw }}}}" }}
"#,
        server.url("/login")
    )
}

fn no_value_in(t: &Test, value: &str) {
    t.assert_journal_lacks(value);
}

#[test]
fn a_secret_input_is_a_placeholder_kept_in_the_store_until_the_run_ends() {
    let server = Server::start();
    server.respond("/login", Response::json(200, json!({"ok": true})));
    let t = Test::new().write("login.toml", &login(&server, "always"));
    let run = t
        .aios(&[
            "run",
            "login.toml",
            "--input",
            "user=ada",
            "--input",
            &format!("pw={PW}"),
        ])
        .success();
    assert!(!run.stdout.contains(PW) && !run.stderr.contains(PW));
    let shown = t.aios(&["show", "1"]).success().stdout;
    assert!(
        shown.contains("inputs    user=\"ada\" pw=secret\n"),
        "{shown}"
    );
    assert_eq!(
        t.show(1)["inputs"],
        json!({"user": "ada", "pw": "secret(\"inputs.pw\")"})
    );
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(action["headers"]["X-Password"], "secret(\"inputs.pw\")");
    assert_eq!(action["json"]["password"], "secret(\"inputs.pw\")");
    // Between processes the value waits in the store, under the run.
    let kept = t.aios(&["secret", "list", "--json"]).success().json();
    assert_eq!(kept[0]["name"], "inputs.pw");
    assert_eq!(kept[0]["source"], "run-input");
    assert_eq!(kept[0]["run_id"], 1);
    no_value_in(&t, PW);

    // An edit may not carry the input's value.
    let mut pasted = action.clone();
    pasted["headers"]["X-Password"] = json!(PW);
    t.put("edit.json", &pasted.to_string());
    let refused = t.aios(&["approve", "1", "--edit", "edit.json"]).code(2);
    assert!(
        refused
            .stderr
            .contains("edit.json holds the value of the secret `inputs.pw`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(PW));
    // Another process commits it: the value is put in from the store.
    t.aios(&["approve", "1"]).success();
    let r = &server.requests_to("/login")[0];
    assert_eq!(r.header("x-password"), Some(PW));
    assert_eq!(r.json(), json!({"user": "ada", "password": PW}));
    assert_eq!(t.show(1)["status"], "succeeded");
    // The run ended: the value is gone from the store too.
    t.aios(&["secret", "list"])
        .success()
        .stdout_is("no secrets; set one with: aios secret set NAME\n");
    assert!(!t.join("secrets/runs").read_dir().unwrap().any(|_| true));
    no_value_in(&t, PW);
}

/// A run that failed keeps its secret inputs (it may be resumed); one that is
/// cancelled forgets them.
#[test]
fn a_failed_run_keeps_its_secret_inputs_and_a_cancelled_one_forgets_them() {
    let server = Server::start();
    server.script("/login", vec![Response::text(500, "down")]);
    server.respond("/login", Response::json(200, json!({"ok": true})));
    let t = Test::new().write("login.toml", &login(&server, "never"));
    t.aios(&[
        "run",
        "login.toml",
        "--input",
        "user=ada",
        "--input",
        &format!("pw={PW}"),
    ])
    .code(1);
    assert_eq!(
        t.aios(&["secret", "list", "--json"]).success().json()[0]["name"],
        "inputs.pw"
    );
    t.aios(&["resume", "1"]).success();
    assert_eq!(
        server.requests_to("/login")[1].header("x-password"),
        Some(PW)
    );
    assert_eq!(
        t.aios(&["secret", "list", "--json"]).success().json(),
        json!([])
    );

    let t2 = Test::new().write("login.toml", &login(&server, "always"));
    t2.aios(&[
        "run",
        "login.toml",
        "--input",
        "user=b",
        "--input",
        "pw=other-pw-1234",
    ])
    .success();
    t2.aios(&["cancel", "1"]).success();
    assert_eq!(
        t2.aios(&["secret", "list", "--json"]).success().json(),
        json!([])
    );
}

#[test]
fn secret_inputs_are_refused_where_they_would_leak() {
    let t = Test::new().write(
        "wf.toml",
        r#"name = "w"
[inputs.a]
secret = true
default = "written-down"
[inputs.b]
secret = true
type = "integer"
[inputs.pw]
secret = true

[trigger]
cron = "@daily"
inputs = { pw = "in-the-file" }

[[steps]]
id = "draft"
kind = "agent"
prompt = "Log in with {{ inputs.pw }}"

[[steps]]
id = "keep"
kind = "set"
values = { p = "{{ inputs.pw }}" }
"#,
    );
    let err = t.aios(&["check", "wf.toml"]).code(2).stderr;
    for expected in [
        "error: secret input `a` cannot have a default\n --> wf.toml:4:11",
        "error: secret input `b` must be a string, not an integer\n --> wf.toml:7:8",
        "error: secret input `pw` cannot be given in [trigger] inputs\n  --> wf.toml:13:12",
        "error: step `draft` is an agent step: `inputs.pw` would go to an LLM, and a secret never goes to an LLM\n  --> wf.toml:18:10",
        "error: step `keep` is a `set` step: it cannot read `inputs.pw`\n  --> wf.toml:23:16",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

/// A webhook's body gives a secret input: the run holds its placeholder, the step
/// gets the value, a body of the wrong type is refused without repeating it.
#[test]
fn a_webhook_secret_input_stays_out_of_the_journal() {
    let server = Server::start();
    server.respond("/login", Response::json(200, json!({"ok": true})));
    let t = Test::new().write("login.toml", &login(&server, "never"));
    let secret = printed_secret(
        &t.aios(&["hook", "add", "login", "login.toml"])
            .success()
            .stdout,
    );
    let (bg, port) = start(&t, &[]);
    let body = format!(r#"{{"user": "ada", "pw": "{PW}"}}"#);
    let r = post(
        port,
        "/hooks/login",
        &[("X-Aios-Signature", &sign(&secret, body.as_bytes()))],
        body.as_bytes(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    wait_within(
        std::time::Duration::from_secs(10),
        "the run succeeds",
        || t.show(1)["status"] == "succeeded",
    );
    assert_eq!(
        server.requests_to("/login")[0].header("x-password"),
        Some(PW)
    );
    assert_eq!(t.show(1)["inputs"]["pw"], "secret(\"inputs.pw\")");
    let wrong = br#"{"user": "ada", "pw": 123456789}"#;
    let r = post(
        port,
        "/hooks/login",
        &[("X-Aios-Signature", &sign(&secret, wrong))],
        wrong,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("input `pw` must be a string, got an integer"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("123456789"));
    let out = stop(bg);
    assert!(!out.stdout.contains(PW) && !out.stderr.contains("123456789"));
    assert_eq!(step(&t.show(1), "login")["status"], "succeeded");
    no_value_in(&t, PW);
    assert_eq!(
        t.aios(&["secret", "list", "--json"]).success().json()[0]["source"],
        "hook"
    );
}

/// A process killed while a step ran: `aios resume` in a new process runs the step
/// again (it is idempotent) with the secret input put in from the store. (The first
/// attempt's child, orphaned by the kill, waits for `resumed`, then leaves without
/// writing the secret; the test waits for it to go.)
#[test]
fn a_secret_input_survives_a_crash() {
    let t = Test::new();
    let out = t.join("out");
    std::fs::create_dir_all(&out).unwrap();
    t.put(
        "slow.toml",
        &format!(
            r#"name = "slow"
[inputs.pw]
secret = true
[[steps]]
id = "use"
kind = "shell"
approve = "never"
idempotent = true
cwd = "{}"
env = {{ PW = "{{{{ inputs.pw }}}}" }}
script = "if [ -e resumed ]; then printf '%s' \"$PW\" > got; else touch started; i=0; while [ ! -e resumed ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; touch left; fi"
"#,
            out.display()
        ),
    );
    let bg = t
        .args(&["run", "slow.toml", "--input", &format!("pw={PW}")])
        .spawn();
    crate::support::wait_until("the step starts", || out.join("started").exists());
    bg.kill9();
    assert_eq!(t.show(1)["status"], "running");
    std::fs::write(out.join("resumed"), "").unwrap();
    t.aios(&["resume", "1"]).success();
    assert_eq!(std::fs::read_to_string(out.join("got")).unwrap(), PW);
    assert_eq!(t.show(1)["status"], "succeeded");
    no_value_in(&t, PW);
    // The killed attempt's orphaned child sees `resumed` and leaves before the test's
    // folder goes (it would otherwise poll a deleted folder: a leaked process, which
    // also keeps CI's faketime pass waiting for it).
    crate::support::wait_until("the orphaned first attempt leaves", || {
        out.join("left").exists()
    });
}
