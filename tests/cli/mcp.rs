//! MCP tool servers: `aios mcp list|tools|call`, `aios check` against listings, the
//! server's environment, streamable HTTP. Against real servers (server-everything over
//! stdio and HTTP, mcp-server-time). `tool` steps are in `mcp_steps`.

use serde_json::{Value as Json, json};

use crate::support::Test;
use crate::support::mcp::*;

pub fn with_everything() -> Test {
    Test::new().write("config.toml", &everything_config())
}

pub fn steps_of(t: &Test, run: i64) -> Vec<Json> {
    t.show(run)["steps"].as_array().unwrap().clone()
}

#[test]
fn mcp_list_tools_and_call() {
    let t = Test::new().write(
        "config.toml",
        &format!(
            "{}\n[mcp.time]\ncommand = [{}, \"--local-timezone\", \"UTC\"]\n\n[mcp.broken]\ncommand = [\"sh\", \"-c\", \"echo 'no database' >&2; exit 2\"]\n",
            everything_config(),
            q(&time_server())
        ),
    );
    let list = t.aios(&["mcp", "list", "--json"]).success().json();
    let rows = list.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["broken", "everything", "time"]);
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["tools"], Json::Null);
    assert_eq!(
        rows[0]["error"],
        "MCP server `broken` could not be started: it exited (or closed its output) before the MCP handshake finished; its last stderr lines:\nno database"
    );
    assert_eq!(rows[1]["status"], "ok");
    assert_eq!(rows[1]["transport"], "stdio");
    assert!(rows[1]["tools"].as_u64().unwrap() >= 10, "{}", rows[1]);
    assert_eq!(rows[2]["status"], "ok");
    assert_eq!(rows[2]["tools"], 2);
    // The table says the same.
    let table = t.aios(&["mcp", "list"]).success();
    assert!(
        table
            .stdout
            .starts_with("NAME        TRANSPORT  STATUS  TOOLS  TARGET\n"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("\ntime        stdio      ok          2  ")
    );

    let tools = t
        .aios(&["mcp", "tools", "everything", "--json"])
        .success()
        .json();
    let echo = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap()
        .clone();
    assert_eq!(echo["description"], "Echoes back the input string");
    assert_eq!(
        echo["input_schema"]["properties"]["message"]["type"],
        "string"
    );
    assert_eq!(
        echo["annotations"],
        json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
    );
    // The listing is cached for `aios check`.
    assert!(t.join("mcp/everything.json").is_file());
    t.aios(&["mcp", "tools", "time"])
        .success()
        .stdout_contains("time: 2 tools\n")
        .stdout_contains(
            "\nconvert_time\n  Convert time between timezones\n  takes: source_timezone (string, required), time (string, required), target_timezone (string, required)\n  annotations: read-only, closed world\n",
        );

    t.aios(&[
        "mcp",
        "call",
        "everything",
        "echo",
        "--args",
        r#"{"message": "hi"}"#,
    ])
    .success()
    .stdout_is("Echo: hi\n");
    t.aios(&[
        "mcp",
        "call",
        "everything",
        "get-sum",
        "--args",
        r#"{"a": 2, "b": 3}"#,
        "--json",
    ])
    .success()
    .stdout_is("[\n  \"The sum of 2 and 3 is 5.\"\n]\n");
    // Structured content is the output (Tokyo is UTC+9 all year).
    let conv = t
        .aios(&[
            "mcp",
            "call",
            "time",
            "convert_time",
            "--args",
            r#"{"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}"#,
            "--json",
        ])
        .success()
        .json();
    assert_eq!(conv["target"]["timezone"], "Asia/Tokyo");
    assert!(
        conv["target"]["datetime"]
            .as_str()
            .unwrap()
            .contains("T21:00:00+09:00"),
        "{conv}"
    );
    assert_eq!(conv["time_difference"], "+9.0h");
}

#[test]
fn mcp_call_shows_progress_of_a_long_running_tool() {
    let t = with_everything();
    let out = t
        .aios(&[
            "mcp",
            "call",
            "everything",
            "trigger-long-running-operation",
            "--args",
            r#"{"duration": 0.6, "steps": 3}"#,
        ])
        .success()
        .stdout_is("Long running operation completed. Duration: 0.6 seconds, Steps: 3.\n");
    assert_eq!(
        out.stderr,
        "… trigger-long-running-operation: 1/3\n… trigger-long-running-operation: 2/3\n… trigger-long-running-operation: 3/3\n"
    );
    // -q keeps it quiet.
    t.aios(&[
        "mcp",
        "call",
        "everything",
        "trigger-long-running-operation",
        "--args",
        r#"{"duration": 0.2, "steps": 2}"#,
        "-q",
    ])
    .success()
    .stderr_is("");
}

#[test]
fn mcp_call_mistakes_and_tool_errors() {
    let t = Test::new().write(
        "config.toml",
        &format!(
            "{}\n[mcp.time]\ncommand = [{}]\n",
            everything_config(),
            q(&time_server())
        ),
    );
    t.aios(&["mcp", "call", "everything", "get-sum", "--args", r#"{"a": "two", "b": 3}"#])
        .code(2)
        .stderr_is(
            "error: the arguments do not fit `get-sum`: args.a: expected a number, got a string (\"two\")\nhint: `get-sum` takes: a (number, required), b (number, required)\n",
        );
    t.aios(&["mcp", "call", "everything", "get-summ"])
        .code(3)
        .stderr_is(
            "error: server `everything` has no tool `get-summ`\nhint: did you mean `get-sum`?\n",
        );
    t.aios(&["mcp", "call", "nowhere", "echo"])
        .code(3)
        .stderr_contains("error: no MCP server `nowhere` is configured (")
        .stderr_contains("config.toml has no [mcp.nowhere]; configured: everything, time)\nhint: `aios mcp list` shows the configured servers\n");
    t.aios(&["mcp", "call", "everything", "echo", "--args", "[1]"])
        .code(2)
        .stderr_contains("error: --args must be a JSON object");
    // The tool itself fails (`isError`): exit 1 with its message.
    t.aios(&[
        "mcp",
        "call",
        "time",
        "get_current_time",
        "--args",
        r#"{"timezone": "Nowhere/Atlantis"}"#,
    ])
    .code(1)
    .stderr_contains("error: tool `get_current_time` on `time` reported an error: ")
    .stderr_contains("Invalid timezone");
}

#[test]
fn check_validates_steps_against_the_listing() {
    let t = Test::new()
        .write(
            "config.toml",
            &format!(
                "{}\n[mcp.down]\ncommand = [\"sh\", \"-c\", \"exit 1\"]\n",
                everything_config()
            ),
        )
        .write(
            "bad.toml",
            r#"name = "bad"

[[steps]]
id = "a"
kind = "tool"
server = "everything"
tool = "get-summ"

[[steps]]
id = "b"
kind = "tool"
server = "everything"
tool = "get-sum"
args = { a = "two", b = "{{ inputs.n }}" }

[[steps]]
id = "c"
kind = "tool"
server = "nowhere"
tool = "x"

[[steps]]
id = "d"
kind = "tool"
server = "down"
tool = "anything"

[inputs.n]
type = "integer"
"#,
        );
    let out = t.aios(&["check", "bad.toml"]).code(2);
    assert!(
        out.stderr.starts_with(
            "note: bad.toml: tool steps on server `down` were not checked: MCP server `down` could not be started: it exited (or closed its output) before the MCP handshake finished\n"
        ),
        "{}",
        out.stderr
    );
    for want in [
        "error: server `everything` has no tool `get-summ`\n --> bad.toml:7:8\n  |\n7 | tool = \"get-summ\"\n  |        ^^^^^^^^^^ unknown tool\n  |\n  = hint: did you mean `get-sum`?\n",
        "error: the arguments do not fit `get-sum`: args.a: expected a number, got a string (\"two\")\n  --> bad.toml:14:10\n   |\n14 | args = { a = \"two\", b = \"{{ inputs.n }}\" }\n   |          ^ does not fit the tool's input schema\n   |\n   = hint: `get-sum` takes: a (number, required), b (number, required)\n",
        "error: no MCP server `nowhere` is configured (",
        "error: bad.toml does not fit its tool servers (3 problems)\n",
    ] {
        assert!(
            out.stderr.contains(want),
            "missing:\n{want}\n--- stderr:\n{}",
            out.stderr
        );
    }
    // The listing fetched by check is cached; a good file checks clean.
    assert!(t.join("mcp/everything.json").is_file());
    t.put(
        "good.toml",
        "name = \"good\"\n\n[[steps]]\nid = \"a\"\nkind = \"tool\"\nserver = \"everything\"\ntool = \"echo\"\nargs = { message = \"hi\" }\napprove = \"never\"\n",
    );
    t.aios(&["check", "good.toml"])
        .success()
        .stdout_is("ok good.toml (good, 1 step)\n");
}

#[test]
fn check_reads_the_cache_when_the_server_is_down() {
    let t = with_everything().write(
        "wf.toml",
        "name = \"w\"\n\n[[steps]]\nid = \"a\"\nkind = \"tool\"\nserver = \"everything\"\ntool = \"get-sum\"\nargs = { a = 1 }\n",
    );
    t.aios(&["mcp", "tools", "everything", "--json"]).success();
    // Without node on PATH the server cannot start now; the cached listing (made under
    // the same configuration) still checks the step.
    t.args(&["check", "wf.toml"])
        .env("PATH", "/nonexistent")
        .run()
        .code(2)
        .stderr_contains(
            "error: the arguments do not fit `get-sum`: args: missing required argument `b`",
        );
    // Without the cache, the server down: the step cannot be checked, and check says so.
    std::fs::remove_dir_all(t.join("mcp")).unwrap();
    t.args(&["check", "wf.toml"])
        .env("PATH", "/nonexistent")
        .run()
        .success()
        .stderr_is("note: wf.toml: tool steps on server `everything` were not checked: MCP server `everything` could not be started: program `node` not found on PATH\n")
        .stdout_is("ok wf.toml (w, 1 step)\n");
}

#[test]
fn mcp_call_of_a_tool_not_read_only_goes_through_the_inbox() {
    let t = with_everything();
    t.aios(&["mcp", "call", "everything", "toggle-simulated-logging", "-q"])
        .success()
        .stdout_contains("run 1 (mcp-call) is waiting for you:\n  inbox 1    action    call               call toggle-simulated-logging on everything\n");
    let show = t.aios(&["inbox", "show", "1"]).success();
    assert!(
        show.stdout
            .contains("  call toggle-simulated-logging\n    on everything\n"),
        "{}",
        show.stdout
    );
    t.aios(&["approve", "1", "-q"])
        .success()
        .stdout_contains("run 1 (mcp-call) succeeded");
    let out = &steps_of(&t, 1)[0]["output"];
    assert!(
        out[0].as_str().unwrap().starts_with("Started simulated"),
        "{out}"
    );
}

#[test]
fn a_server_sees_none_of_the_callers_environment_or_secrets() {
    let t = Test::new()
        .env("SUPER_API_KEY", "planted-env-value")
        .env("AWS_SECRET_ACCESS_KEY", "planted-aws-value")
        .write(
            "config.toml",
            &format!(
                "[mcp.everything]\ncommand = [\"node\", {}, \"stdio\"]\nenv = {{ GREETING = \"hello\", TOKEN = 'secret(\"MCP_TOKEN\")' }}\n",
                q(&everything())
            ),
        )
        .write(
            "secrets.env",
            "MCP_TOKEN=given-secret-value\nOTHER_KEY=planted-secret-value\n",
        )
        .write(
            "wf.toml",
            "name = \"env\"\n\n[[steps]]\nid = \"env\"\nkind = \"tool\"\nserver = \"everything\"\ntool = \"get-env\"\napprove = \"never\"\n",
        );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            t.join("secrets.env"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let out = t
        .aios(&["mcp", "call", "everything", "get-env", "--json"])
        .success();
    let text = out.json()[0].as_str().unwrap().to_string();
    let env: serde_json::Map<String, Json> = serde_json::from_str(&text).unwrap();
    let allowed = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
        "GREETING", "TOKEN",
    ];
    for k in env.keys() {
        assert!(allowed.contains(&k.as_str()), "the server saw {k}: {text}");
    }
    assert_eq!(env["GREETING"], "hello");
    // The secret the config gives it reaches it; its value is redacted from output.
    assert_eq!(env["TOKEN"], "[secret MCP_TOKEN]");
    for planted in [
        "planted-env-value",
        "planted-aws-value",
        "planted-secret-value",
        "given-secret-value",
        "SUPER_API_KEY",
        "AIOS_HOME",
        "AIOS_NOW",
    ] {
        assert!(
            !out.stdout.contains(planted),
            "{planted} reached the output"
        );
    }
    // As a step, the output is journaled redacted: the secret never enters the journal.
    t.aios(&["run", "wf.toml", "-q"]).success();
    let journaled = steps_of(&t, 1)[0]["output"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        journaled.contains("\"TOKEN\": \"[secret MCP_TOKEN]\""),
        "{journaled}"
    );
    t.assert_journal_lacks("given-secret-value");
    t.assert_journal_lacks("planted-env-value");
}

#[test]
fn a_streamable_http_server_serves_calls_and_steps() {
    let server = HttpServer::start();
    let t = Test::new()
        .write(
            "config.toml",
            &format!("[mcp.remote]\nurl = {}\nheaders = {{ X-Team = \"ops\" }}\n", q(&server.url())),
        )
        .write(
            "wf.toml",
            "name = \"remote\"\n\n[[steps]]\nid = \"sum\"\nkind = \"tool\"\nserver = \"remote\"\ntool = \"get-sum\"\nargs = { a = 40, b = 2 }\napprove = \"never\"\n",
        );
    let list = t.aios(&["mcp", "list", "--json"]).success().json();
    assert_eq!(list[0]["transport"], "http");
    assert_eq!(list[0]["status"], "ok");
    t.aios(&[
        "mcp",
        "call",
        "remote",
        "echo",
        "--args",
        r#"{"message": "over http"}"#,
    ])
    .success()
    .stdout_is("Echo: over http\n");
    t.aios(&["run", "wf.toml", "-q"]).success();
    assert_eq!(
        steps_of(&t, 1)[0]["output"],
        json!(["The sum of 40 and 2 is 42."])
    );
}
