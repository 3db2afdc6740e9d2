//! `aios run --dry-run`: a run rehearsed. Pure steps and offline drafts run, every
//! action is rendered exactly as it would be proposed, and nothing happens: the
//! loopback server receives nothing, no file or marker appears, memory and the
//! secret store are untouched. Dry runs are kept apart and removable.

use crate::agent::{FREE_MODELS, config};
use crate::support::http::Server;
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

const TOKEN: &str = "tok-9f8e7d6c5b4a-dry-run";

fn workflow(server: &Server) -> String {
    format!(
        r#"
name = "rehearse"

[inputs.who]
default = "Ada"

[inputs.token]
secret = true

[[steps]]
id = "fetch"
kind = "http"
approve = "never"
url = "{items}"
dry_output = {{ status = 200, body = {{ items = ["a", "b"] }} }}

[[steps]]
id = "draft"
kind = "agent"
prompt = "Write to {{{{ inputs.who }}}}"
offline = "Hello {{{{ inputs.who }}}}, {{{{ steps.fetch.output.body['items'] | length }}}} items"

[[steps]]
id = "post"
kind = "http"
method = "POST"
url = "{post}"
headers = {{ Authorization = "Bearer {{{{ inputs.token }}}}" }}
json = {{ text = "{{{{ steps.draft.output.text }}}}" }}

[[steps]]
id = "save"
kind = "file"
approve = "never"
path = "out/saved.txt"
content = "{{{{ steps.draft.output.text }}}}"

[[steps]]
id = "mark"
kind = "shell"
script = "touch marker.txt"

[[steps]]
id = "go"
kind = "approval"
title = "Go?"
fields = {{ day = {{ type = "string", default = "monday" }} }}

[[steps]]
id = "note"
kind = "remember"
text = "rehearsed on {{{{ steps.go.output.fields.day }}}}"

[[steps]]
id = "pause"
kind = "wait"
duration = "2d"

[[steps]]
id = "done"
kind = "set"
values = {{ day = "{{{{ steps.go.output.fields.day }}}}", post = "{{{{ steps.post.output }}}}" }}
"#,
        items = server.url("/items"),
        post = server.url("/post"),
    )
}

#[test]
fn a_dry_run_renders_every_action_and_nothing_happens() {
    let server = Server::start();
    let t = Test::new().write("wf.toml", &workflow(&server));
    let out = t
        .aios(&[
            "run",
            "--dry-run",
            "wf.toml",
            "-i",
            &format!("token={TOKEN}"),
        ])
        .success();
    let root = t.path().display().to_string();
    assert_eq!(
        out.stdout,
        format!(
            "dry run 1 (rehearse) succeeded: nothing was committed, sent, written or remembered

fetch would commit (without asking: approve = \"never\"):
  GET {items}

post would propose:
  POST {post}
    Authorization: Bearer secret(\"inputs.token\")
    Idempotency-Key: {post_key}
    json:
    │ {{
    │   \"text\": \"Hello Ada, 2 items\"
    │ }}

save would commit (without asking: approve = \"never\"):
  write out/saved.txt
    in {root}
    18 bytes:
    │ Hello Ada, 2 items

mark would propose:
  $ sh -c 'touch marker.txt'
    in {root}
    sandbox required (Landlock), no network
    writes the working directory

go would ask:
  Go?
  field day (string) default \"monday\"

note would write to memory:
  remember \"rehearsed on monday\"

rehearsed: 2 proposals, 1 gate, 2 commits without asking, 1 memory write
see it again: aios show 1 · dry runs: aios runs --dry · remove them: aios runs --dry --prune
",
            items = server.url("/items"),
            post = server.url("/post"),
            post_key = key(&t, "post"),
        )
    );
    // Nothing happened: no request, no file, no marker, no note, no secret kept.
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(!t.join("out").exists());
    assert!(!t.join("marker.txt").exists());
    assert!(!t.join("secrets").exists());
    t.aios(&["memory", "search", "rehearsed"])
        .success()
        .stdout_is("no memory matches\n");
    // The steps that do not run have their dry_output, or null.
    let show = t.show(1);
    assert_eq!(show["dry"], "offline");
    assert_eq!(step(&show, "fetch")["output"]["body"]["items"][1], "b");
    assert_eq!(step(&show, "post")["output"], serde_json::Value::Null);
    assert_eq!(step(&show, "done")["output"]["day"], "monday");
    assert_eq!(
        step(&show, "done")["output"]["post"],
        serde_json::Value::Null
    );
    assert_eq!(step(&show, "pause")["status"], "succeeded");
    // The secret input's value is nowhere in the database.
    t.assert_journal_lacks(TOKEN);
}

/// The idempotency key a step's rendered action carries (from the journal).
fn key(t: &Test, step: &str) -> String {
    let log = t.aios(&["log", "1", "--json"]).success().json();
    let ev = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "step_rehearsed" && e["step"] == step)
        .unwrap_or_else(|| panic!("no rehearsal of {step}"));
    ev["data"]["action"]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn dry_runs_are_kept_apart_and_removable() {
    let server = Server::start();
    let t = Test::new().write("wf.toml", &workflow(&server));
    t.aios(&["run", "--dry-run", "wf.toml", "-q", "-i", "token=x1234"])
        .success();
    t.aios(&["run", "--dry-run", "wf.toml", "-q", "-i", "token=x1234"])
        .success();
    // Not among the runs, nor in the inbox; `--dry` lists them.
    t.aios(&["runs"])
        .success()
        .stdout_is("no runs yet; start one with: aios run FILE\n");
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    assert!(t.inbox().is_empty());
    let dry = t.aios(&["runs", "--dry", "--json"]).success().json();
    assert_eq!(dry.as_array().unwrap().len(), 2);
    assert_eq!(dry[0]["id"], 2);
    // Not resumed by anyone, not continued by tick, replayable.
    t.aios(&["resume", "1"])
        .code(4)
        .stderr_contains("error: run 1 is a dry run; it cannot be resumed\nhint: dry-run the workflow again: aios run --dry-run wf.toml\n");
    t.aios(&["tick", "--json"]).success();
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok run 2:")
        .stdout_contains("ok run 1:");
    t.aios(&["outcome", "1", "opened=3"])
        .code(4)
        .stderr_contains(
            "error: run 1 is a dry run: nothing it did happened, so it has no outcomes\n",
        );
    // Removed, events and all.
    let out = t.aios(&["runs", "--dry", "--prune"]).success();
    assert!(
        out.stdout.starts_with("removed 2 dry runs ("),
        "{}",
        out.stdout
    );
    t.aios(&["show", "1"]).code(3);
    t.aios(&["runs", "--dry"])
        .success()
        .stdout_is("no dry runs; rehearse a workflow with: aios run --dry-run FILE\n");
    assert_eq!(t.sql_int("SELECT count(*) FROM events", &[]), 0);
    // The events of real runs stay append-only.
    t.put(
        "real.toml",
        "name = \"real\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
    );
    t.aios(&["run", "real.toml", "-q"]).success();
    // A new run never takes the id of a removed one.
    assert_eq!(t.aios(&["runs", "--json"]).success().json()[0]["id"], 3);
    t.aios(&["runs", "--dry", "--prune"])
        .success()
        .stdout_is("no dry runs to remove\n");
    let err = t.try_sql_rows("DELETE FROM events", &[]).unwrap_err();
    assert!(err.contains("events are append-only"), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_dry_run_prints_json_with_what_it_rehearsed() {
    let server = Server::start();
    let t = Test::new().write("wf.toml", &workflow(&server));
    let v = t
        .aios(&["run", "--dry-run", "wf.toml", "--json", "-i", "token=x1234"])
        .success()
        .json();
    assert_eq!(v["dry"], "offline");
    assert_eq!(v["status"], "succeeded");
    let would: Vec<(&str, &str)> = v["rehearsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["step"].as_str().unwrap(), r["would"].as_str().unwrap()))
        .collect();
    assert_eq!(
        would,
        [
            ("fetch", "commit"),
            ("post", "propose"),
            ("save", "commit"),
            ("mark", "propose"),
            ("go", "ask"),
            ("note", "write"),
        ]
    );
    assert_eq!(v["rehearsed"][1]["action"]["method"], "POST");
}

#[test]
fn a_dry_run_that_fails_says_how_to_try_again() {
    let t = Test::new().write(
        "wf.toml",
        "name = \"broken\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = \"{{ run.id.nope.deeper }}\" }\n",
    );
    t.aios(&["run", "--dry-run", "wf.toml"])
        .code(1)
        .stdout_is("dry run 1 (broken) failed: step `a` failed\n  a: value `x`: undefined value: `run.id.nope` is undefined\n\nhint: fix the workflow file, then dry-run it again: aios run --dry-run wf.toml\n");
}

#[test]
fn dry_output_is_for_steps_a_dry_run_does_not_carry_out() {
    let t = Test::new().write(
        "wf.toml",
        "name = \"x\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\ndry_output = { x = 2 }\n\n[[steps]]\nid = \"b\"\nkind = \"shell\"\nargv = [\"true\"]\ndry_output = { t = \"{{ secret('K') }}\" }\n",
    );
    let out = t.aios(&["check", "wf.toml"]).code(2);
    assert!(
        out.stderr.contains("error: a set step has no `dry_output`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("error: the `dry_output` of step `b` reads `secret(\"K\")`"),
        "{}",
        out.stderr
    );
}

const AGENT: &str = r#"
name = "drafts"
[[steps]]
id = "draft"
kind = "agent"
prompt = "Say hi."
offline = "offline hi"
[[steps]]
id = "save"
kind = "file"
path = "hi.txt"
content = "{{ steps.draft.output.text }}"
"#;

#[test]
fn agent_steps_draft_offline_unless_with_llm_which_really_pays() {
    let llm = LlmServer::start();
    let priced = FREE_MODELS.replace(
        "name = \"m1\"",
        "name = \"m1\"\nusd_per_mtok_in = 1000\nusd_per_mtok_out = 1000",
    );
    let t = Test::new()
        .write("wf.toml", AGENT)
        .write("config.toml", &config(&llm, "openai", &priced))
        .env("LLM_KEY", "sk-test-key-dry");
    // Offline: the configured model is not called; nothing is in the ledger.
    t.aios(&["run", "--dry-run", "wf.toml", "-q"]).success();
    assert!(llm.seen().is_empty());
    assert_eq!(step(&t.show(1), "draft")["output"]["text"], "offline hi");
    t.aios(&["llm", "log"])
        .success()
        .stdout_contains("no LLM calls");
    // --with-llm calls it, says so, and the call is in the ledger and the budget.
    llm.script(vec![Reply::openai("real hi", 10, 5)]);
    let out = t
        .aios(&["run", "--dry-run", "--with-llm", "wf.toml", "-q"])
        .success();
    assert_eq!(
        out.stderr,
        "note: --with-llm calls the configured models for real: what they cost is spent, and counts against your budgets\n"
    );
    assert_eq!(llm.seen().len(), 1);
    let show = t.show(2);
    assert_eq!(show["dry"], "llm");
    assert_eq!(step(&show, "draft")["output"]["text"], "real hi");
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 1);
    assert_eq!(calls[0]["run_id"], 2);
    assert!(!t.join("hi.txt").exists());
    // A call that would pass a cap fails the step: a dry run never waits.
    t.put(
        "config.toml",
        &format!(
            "{}\n[budget]\ndaily_usd = 0.000001\n",
            config(&llm, "openai", &priced)
        ),
    );
    let out = t
        .aios(&["run", "--dry-run", "--with-llm", "wf.toml", "-q"])
        .code(1);
    assert!(
        out.stdout
            .contains("a dry run does not stop for a budget decision"),
        "{}",
        out.stdout
    );
    assert!(t.inbox().is_empty());
    assert_eq!(llm.seen().len(), 1);
    // A model that fails does not leave a rescue item: the dry run's step fails.
    t.put("config.toml", &config(&llm, "openai", &priced));
    llm.script(vec![Reply::error(400, "bad request")]);
    let out = t
        .aios(&["run", "--dry-run", "--with-llm", "wf.toml", "-q"])
        .code(1);
    assert!(out.stdout.contains("bad request"), "{}", out.stdout);
    assert!(t.inbox().is_empty());
    assert_eq!(step(&t.show(4), "draft")["status"], "failed");
}

/// A tool step is rendered from the cached listing: no server is started.
#[test]
fn a_tool_step_is_rendered_from_the_cached_listing_and_no_server_starts() {
    let t = Test::new();
    let pidfile = t.join("pids");
    t.put(
        "config.toml",
        &crate::support::mcp::everything_recording_pids("everything", &pidfile),
    );
    t.put(
        "wf.toml",
        r#"
name = "tools"

[[steps]]
id = "echo"
kind = "tool"
server = "everything"
tool = "echo"
args = { message = "Hi" }
"#,
    );
    // No listing cached: the call is rendered, its annotations unknown.
    let out = t.aios(&["run", "--dry-run", "wf.toml"]).success();
    assert!(
        out.stdout
            .contains("echo would propose:\n  call echo\n    on everything\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("no listing is cached"),
        "{}",
        out.stdout
    );
    assert!(crate::support::mcp::pids(&pidfile).is_empty());
    // Once cached (by `aios mcp tools`, which starts it once), the dry run reads
    // the listing and still starts nothing.
    t.aios(&["mcp", "tools", "everything"]).success();
    assert_eq!(crate::support::mcp::pids(&pidfile).len(), 1);
    let v = t
        .aios(&["run", "--dry-run", "wf.toml", "--json"])
        .success()
        .json();
    assert_eq!(v["rehearsed"][0]["action"]["title"], "Echo Tool");
    assert_eq!(crate::support::mcp::pids(&pidfile).len(), 1);
}
