//! Step kinds against real effects: http (loopback server), shell, file, set, `when`.

use serde_json::json;

use crate::support::http::{Response, Server};
use crate::support::{Test, step};

/// Run `wf` (written as wf.toml) and return the test.
fn run(wf: &str, code: i32) -> (Test, crate::support::Output) {
    let t = Test::new().write("wf.toml", wf);
    let mut args = vec!["run", "wf.toml"];
    if wf.contains("[inputs.n]") {
        args.extend(["--input", "n=41"]);
    }
    let out = t.aios(&args).code(code);
    (t, out)
}

#[test]
fn http_post_sends_json_with_an_idempotency_key_and_parses_the_reply() {
    let server = Server::start();
    server.respond(
        "/orders",
        Response::json(201, json!({ "order": { "id": 7, "total": 49.5 } })),
    );
    let wf = format!(
        r#"
name = "post"

[inputs.n]
type = "integer"

[[steps]]
id = "create"
kind = "http"
approve = "never"
method = "POST"
url = "{url}"
headers = {{ X-Trace = "t-{{{{ inputs.n }}}}" }}
json = {{ item = "book", qty = "{{{{ inputs.n }}}}" }}

[[steps]]
id = "use"
kind = "set"
values = {{ order = "{{{{ steps.create.output.body.order.id }}}}", status = "{{{{ steps.create.output.status }}}}" }}
"#,
        url = server.url("/orders")
    );
    let (t, _) = run(&wf, 0);
    let reqs = server.requests_to("/orders");
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.json(), json!({ "item": "book", "qty": 41 }));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-trace"), Some("t-41"));
    let key = r
        .header("idempotency-key")
        .expect("an Idempotency-Key header");
    assert!(
        key.starts_with("aios-") && key.ends_with("-create-1"),
        "{key}"
    );

    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let create = step(&show, "create");
    assert_eq!(create["output"]["status"], 201);
    assert_eq!(create["output"]["body"]["order"]["total"], 49.5);
    assert_eq!(
        step(&show, "use")["output"],
        json!({ "order": 7, "status": 201 })
    );
}

#[test]
fn http_get_sends_no_idempotency_key_and_keeps_text_bodies() {
    let server = Server::start();
    server.respond("/ping", Response::text(200, "pong"));
    let wf = format!(
        r#"
name = "get"
[[steps]]
id = "ping"
kind = "http"
approve = "never"
method = "GET"
url = "{}"
query = {{ q = "a b" }}
"#,
        server.url("/ping")
    );
    let (t, _) = run(&wf, 0);
    let r = &server.requests_to("/ping")[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.query.as_deref(), Some("q=a+b"));
    assert_eq!(r.header("idempotency-key"), None);
    assert_eq!(step(&t.show(1), "ping")["output"]["body"], "pong");
}

fn one_http(server: &Server, extra: &str) -> String {
    format!(
        r#"
name = "one"
[[steps]]
id = "call"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
{extra}
"#,
        server.url("/x")
    )
}

#[test]
fn http_expect_status_accepts_listed_statuses_only() {
    let server = Server::start();
    server.respond("/x", Response::text(404, "no such thing"));
    let (t, _) = run(&one_http(&server, "expect_status = [404]"), 0);
    assert_eq!(step(&t.show(1), "call")["output"]["status"], 404);

    let server = Server::start();
    server.respond("/x", Response::text(200, "fine"));
    let (t, out) = run(&one_http(&server, "expect_status = [201]"), 1);
    let url = server.url("/x");
    assert!(
        out.stdout
            .contains(&format!("  call: POST {url} answered 200: fine")),
        "{}",
        out.stdout
    );
    assert_eq!(t.show(1)["status"], "failed");
}

#[test]
fn http_retries_server_errors_then_succeeds() {
    let server = Server::start();
    server.script(
        "/x",
        vec![
            Response::text(500, "boom"),
            Response::text(500, "boom"),
            Response::text(200, "ok"),
        ],
    );
    let (t, out) = run(
        &one_http(&server, r#"retry = { attempts = 3, backoff = "10ms" }"#),
        0,
    );
    assert!(
        out.stderr.contains("call attempt 1 failed, retrying at"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("▸ call started (attempt 3)"),
        "{}",
        out.stderr
    );
    assert_eq!(server.count("/x"), 3);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "call")["attempts"], 3);
    // Retries re-send the same rendered request, under the same key.
    let keys: Vec<String> = server
        .requests_to("/x")
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert!(keys[0].ends_with("-call-1"), "{keys:?}");
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

#[test]
fn http_500_storm_beyond_attempts_fails_the_run() {
    let server = Server::start();
    server.respond("/x", Response::text(500, "still broken"));
    let (t, out) = run(
        &one_http(&server, r#"retry = { attempts = 2, backoff = "10ms" }"#),
        1,
    );
    let url = server.url("/x");
    assert_eq!(
        out.stdout,
        format!(
            "run 1 (one) failed: step `call` failed\n  call: POST {url} answered 500: still broken\nfailure item 1 waits in the inbox: aios approve 1 · aios reject 1 --reason \"...\"\nhint: fix the cause, then continue with: aios resume 1\n"
        )
    );
    assert_eq!(server.count("/x"), 2);
    let show = t.show(1);
    assert_eq!(show["status"], "failed");
    assert_eq!(
        step(&show, "call")["error"],
        format!("POST {url} answered 500: still broken")
    );
}

#[test]
fn http_connection_refused_is_a_clear_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let wf = format!(
        r#"
name = "closed"
[[steps]]
id = "call"
kind = "http"
approve = "never"
method = "POST"
url = "http://127.0.0.1:{port}/x"
"#
    );
    let (t, out) = run(&wf, 1);
    let err = step(&t.show(1), "call")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with(&format!("POST http://127.0.0.1:{port}/x: cannot connect (")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
    assert!(out.stdout.contains(&err), "{}", out.stdout);
}

#[test]
fn shell_argv_runs_without_a_shell_and_parses_json() {
    let wf = r#"
name = "sh"
[[steps]]
id = "echo"
kind = "shell"
approve = "never"
argv = ["echo", "{ \"n\": {{ inputs.n }}, \"glob\": \"*\" }", "$HOME"]

[[steps]]
id = "js"
kind = "shell"
approve = "never"
argv = ["echo", "{\"list\": [1, 2]}"]
output = "json"

[inputs.n]
type = "integer"
"#;
    let (t, _) = run(wf, 0);
    let show = t.show(1);
    let echo = step(&show, "echo");
    // No shell: `*` and `$HOME` are passed through as they are.
    assert_eq!(
        echo["output"]["stdout"],
        "{ \"n\": 41, \"glob\": \"*\" } $HOME\n"
    );
    assert_eq!(echo["output"]["exit_code"], 0);
    assert_eq!(
        step(&show, "js")["output"]["json"],
        json!({ "list": [1, 2] })
    );
}

#[test]
fn shell_non_zero_exit_fails_with_stderr_in_the_error() {
    let wf = r#"
name = "sh"
[[steps]]
id = "bad"
kind = "shell"
approve = "never"
script = "echo working; echo 'disk on fire' >&2; exit 3"
"#;
    let (t, out) = run(wf, 1);
    assert_eq!(
        step(&t.show(1), "bad")["error"],
        "`sh` exited with status 3: disk on fire"
    );
    assert!(
        out.stdout
            .contains("  bad: `sh` exited with status 3: disk on fire")
    );
}

#[test]
fn shell_json_output_that_is_not_json_fails() {
    let wf = r#"
name = "sh"
[[steps]]
id = "js"
kind = "shell"
approve = "never"
argv = ["echo", "not json"]
output = "json"
"#;
    let (t, _) = run(wf, 1);
    let err = step(&t.show(1), "js")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.starts_with("stdout is not JSON ("), "{err}");
    assert!(err.ends_with("first line: not json"), "{err}");
}

#[test]
fn shell_children_do_not_inherit_secrets() {
    let wf = r#"
name = "env"
[[steps]]
id = "env"
kind = "shell"
approve = "never"
argv = ["env"]
env = { GREETING = "hi {{ inputs.n }}" }

[inputs.n]
type = "integer"
"#;
    let t = Test::new()
        .write("wf.toml", wf)
        .env("MY_SECRET_TOKEN", "s3cr3t");
    t.aios(&["run", "wf.toml", "--input", "n=41"]).success();
    let show = t.show(1);
    let out = step(&show, "env")["output"]["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!out.contains("MY_SECRET_TOKEN"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(!out.contains("AIOS_HOME"), "{out}");
    assert!(out.lines().any(|l| l == "GREETING=hi 41"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("PATH=")), "{out}");
    // Nor does the secret reach the journal.
    t.assert_journal_lacks("s3cr3t");
}

#[test]
fn file_path_escaping_the_root_is_refused_at_load() {
    let wf = r#"
name = "esc"
[[steps]]
id = "w"
kind = "file"
path = "../outside.txt"
content = "x"
"#;
    let (t, out) = run(wf, 2);
    assert!(out.stderr.contains("wf.toml:6:"), "{}", out.stderr);
    assert!(out.stderr.contains("escapes"), "{}", out.stderr);
    assert_eq!(t.aios(&["runs", "--json"]).success().json(), json!([]));
}

#[test]
fn file_symlink_escape_is_refused_at_run_time() {
    let wf = r#"
name = "link"
[[steps]]
id = "w"
kind = "file"
approve = "never"
root = "inside"
path = "link/victim.txt"
content = "x"
"#;
    let t = Test::new().write("wf.toml", wf);
    std::fs::create_dir_all(t.join("inside")).unwrap();
    std::fs::create_dir_all(t.join("outside")).unwrap();
    std::os::unix::fs::symlink(t.join("outside"), t.join("inside/link")).unwrap();
    let out = t.aios(&["run", "wf.toml"]).code(1);
    let err = step(&t.show(1), "w")["error"].as_str().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "path `link/victim.txt` escapes the root folder {} through a symlink",
            t.join("inside").display()
        )
    );
    assert!(out.stdout.contains(&err));
    assert!(!t.join("outside/victim.txt").exists());
}

#[test]
fn file_symlinked_target_file_outside_is_refused() {
    let wf = r#"
name = "link"
[[steps]]
id = "w"
kind = "file"
approve = "never"
root = "inside"
path = "victim.txt"
content = "x"
"#;
    let t = Test::new().write("wf.toml", wf).write("secret.txt", "keep");
    std::fs::create_dir_all(t.join("inside")).unwrap();
    std::os::unix::fs::symlink(t.join("secret.txt"), t.join("inside/victim.txt")).unwrap();
    t.aios(&["run", "wf.toml"]).code(1);
    assert_eq!(t.read("secret.txt"), "keep");
}

#[test]
fn when_false_skips_and_set_keeps_native_types() {
    let wf = r#"
name = "set"

[inputs.n]
type = "integer"

[[steps]]
id = "calc"
kind = "set"
values = { next = "{{ inputs.n + 1 }}", text = "n is {{ inputs.n }}", big = "{{ inputs.n > 40 }}", list = ["{{ inputs.n }}", "x"], half = "{{ inputs.n / 2 }}" }

[[steps]]
id = "never"
kind = "shell"
approve = "never"
when = "steps.calc.output.next < 10"
argv = ["false"]

[[steps]]
id = "after"
kind = "set"
values = { saw = "{{ steps.never.status }}" }
"#;
    let (t, out) = run(wf, 0);
    assert!(
        out.stderr.contains("- never skipped: condition was false"),
        "{}",
        out.stderr
    );
    let show = t.show(1);
    assert_eq!(
        step(&show, "calc")["output"],
        json!({ "next": 42, "text": "n is 41", "big": true, "list": [41, "x"], "half": 20.5 })
    );
    assert_eq!(step(&show, "never")["status"], "skipped");
    assert_eq!(step(&show, "after")["output"], json!({ "saw": "skipped" }));
}
