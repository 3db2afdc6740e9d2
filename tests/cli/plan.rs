//! `aios plan FILE`: what a run would do, statically. Nothing runs, nothing is
//! recorded, no server starts.

use crate::support::{Test, keys, sorted};

const WF: &str = r#"
name = "ship"
max_parallel = 2

[inputs.version]
type = "string"

[inputs.notify_url]
required = false

[inputs.token]
secret = true

[budget]
max_usd = 0.25

[[steps]]
id = "notes"
kind = "agent"
model = ["smart", "heuristic"]
prompt = "Write release notes for {{ inputs.version }}."
max_tokens = 500

[[steps]]
id = "build"
kind = "shell"
needs = []
approve = "never"
argv = ["make", "dist"]

[[steps]]
id = "upload"
kind = "http"
needs = ["notes", "build"]
method = "POST"
url = "https://example.com/releases"
headers = { Authorization = "Bearer {{ secret('RELEASE_KEY') }}" }
json = { version = "{{ inputs.version }}", notes = "{{ steps.notes.output.text }}" }
approval_timeout = "1d"
on_timeout = "reject"

[[steps]]
id = "ping"
kind = "http"
needs = ["upload"]
when = "inputs.notify_url is defined"
method = "POST"
url = "{{ inputs.notify_url }}"
on_reject = "skip"
body = "shipped"

[[steps]]
id = "lookup"
kind = "tool"
needs = ["upload"]
approve = "never"
server = "tracker"
tool = "find"
args = { q = "{{ inputs.version }}" }
"#;

const CONFIG: &str = r#"
[providers.p]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
[models.smart]
provider = "p"
name = "big"
usd_per_mtok_in = 3
usd_per_mtok_out = 15
[budget]
daily_usd = 2

[mcp.tracker]
command = ["/nonexistent/tracker"]
"#;

fn ship() -> Test {
    Test::new()
        .write("ship.toml", WF)
        .write("config.toml", CONFIG)
}

#[test]
fn a_plan_shows_order_approvals_secrets_servers_and_the_cost_bound() {
    let t = ship();
    t.aios(&["plan", "ship.toml", "-i", "version=1.2"])
        .success()
        .stderr_is("")
        .stdout_is(
            "plan of `ship` (ship.toml): 5 steps in 3 groups
inputs: version=\"1.2\"
input `token` is required and not given: a run needs --input token=VALUE

order (the steps of a group may run at once, at most 2):
  1. notes   agent  may ask: calls an LLM; a spending cap may stop it and ask (a budget item)
     build   shell  runs: committed without asking (approve = \"never\"): a shell side effect
  2. upload  http   asks: its http action is proposed (approve = \"always\"); a rejection fails the run; decide within 1d, then reject
  3. ping    http   asks: its http action is proposed (approve = \"always\"); a rejection skips it
                    when `inputs.notify_url is defined`: false with these inputs, so it is skipped
     lookup  tool   may ask: approve = \"never\", but no listing of `tracker` is cached: proposed unless the server annotates `find` read-only; a rejection fails the run

asks for approval: upload, ping (2 of 5)
may ask: notes, lookup
never asks: build
secrets: RELEASE_KEY (not set: aios secret set RELEASE_KEY)
secret inputs: token
tool server `tracker`: find (listing not cached)
LLM calls: expected $0.0076, at most $0.0076 (prompts as written, about 4 characters a token; replies of max_tokens)
  notes: smart (p/big, $3.00 and $15.00 per million tokens in and out), then heuristic (offline, free); max_tokens 500, prompt about 28 tokens: expected $0.0076, at most $0.0076 (2 calls)
caps: run $0.25 (the workflow's [budget]), daily $2.00, monthly none
",
        );
    // Nothing was recorded, and the tool server was not started.
    if crate::support::on_postgres() {
        // Its database was not even migrated.
        let tables = t.sql_int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        );
        assert_eq!(tables, 0, "plan opened the journal");
    } else {
        assert!(!t.db().exists(), "plan opened the journal");
    }
}

#[test]
fn a_condition_on_inputs_follows_the_inputs_given() {
    let t = ship();
    let out = t
        .aios(&[
            "plan",
            "ship.toml",
            "-i",
            "version=1.2",
            "-i",
            "notify_url=https://example.com/hook",
            "-i",
            "token=s3cret-value",
        ])
        .success();
    assert!(
        out.stdout
            .contains("when `inputs.notify_url is defined`: true with these inputs\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "inputs: version=\"1.2\", notify_url=\"https://example.com/hook\", token=secret\n"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cret-value"));
    assert!(!out.stdout.contains("is required and not given"));
}

#[test]
fn the_json_plan_has_every_part() {
    let t = ship();
    let v = t
        .aios(&["plan", "ship.toml", "-i", "version=1.2", "--json"])
        .success()
        .json();
    assert_eq!(
        keys(&v),
        sorted(&[
            "file",
            "workflow",
            "max_parallel",
            "inputs",
            "missing_inputs",
            "groups",
            "steps",
            "secrets",
            "secret_inputs",
            "servers",
            "llm",
        ])
    );
    assert_eq!(v["groups"][0], serde_json::json!(["notes", "build"]));
    assert_eq!(v["steps"][2]["id"], "upload");
    assert_eq!(v["steps"][2]["asks"], "always");
    assert_eq!(
        v["steps"][2]["needs"],
        serde_json::json!(["notes", "build"])
    );
    assert_eq!(v["steps"][4]["asks"], "may");
    assert_eq!(v["missing_inputs"], serde_json::json!(["token"]));
    assert_eq!(
        v["secrets"],
        serde_json::json!([{ "name": "RELEASE_KEY", "set": false }])
    );
    assert_eq!(v["servers"][0]["listing"], "not cached");
    let notes = &v["llm"]["steps"][0];
    assert_eq!(notes["max_tokens"], 500);
    assert_eq!(notes["models"][0]["usd_per_mtok_out"], 15.0);
    assert_eq!(v["llm"]["run_cap"], 0.25);
}

#[test]
fn inputs_that_do_not_fit_and_bad_files_are_refused() {
    let t = ship();
    t.aios(&["plan", "ship.toml", "-i", "nope=1"])
        .code(2)
        .stderr_contains("error: unknown input `nope`");
    t.put(
        "bad.toml",
        "name = \"x\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\n",
    );
    t.aios(&["plan", "bad.toml"])
        .code(2)
        .stderr_contains("error: bad.toml is not a valid workflow (1 problem)\n");
    t.aios(&["plan", "missing.toml"])
        .code(3)
        .stderr_contains("error: cannot read missing.toml");
}
