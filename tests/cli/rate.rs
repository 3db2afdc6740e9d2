//! Rate limits (`[rate]`, `rate = …` on provider and tool-server tables): turns are
//! shared by every process using the journal; a step over the limit waits, its run
//! stays running, and `aios show` says why and until when.

use serde_json::Value as Json;

use crate::support::http::Server;
use crate::support::llm::{LlmServer, Reply};
use crate::support::mcp::everything_config;
use crate::support::{NOW, Test, wait_until};

/// The server's `HOST:PORT`, and a home whose `[rate]` limits it to `rate` (the key
/// written as a bare host, which names the `http:` target).
fn limited(server: &Server, rate: &str) -> (String, Test) {
    let host = server.url("").trim_start_matches("http://").to_string();
    let t = Test::new().write("config.toml", &format!("[rate]\n\"{host}\" = \"{rate}\"\n"));
    (host, t)
}

/// A workflow `name` of one GET of `url`, step `ping`.
fn one_get(name: &str, url: &str) -> String {
    format!(
        "name = \"{name}\"\n[[steps]]\nid = \"ping\"\nkind = \"http\"\nurl = \"{url}\"\napprove = \"never\"\n"
    )
}

/// A home with the agent test's `local` provider (on `server`) limited to `rate`
/// (`llm:local`) and its `draft` workflow as `wf.toml`.
fn agent_limited(server: &LlmServer, rate: &str) -> Test {
    let config = format!(
        "{}[rate]\n\"llm:local\" = \"{rate}\"\n",
        crate::agent::config(server, "openai", crate::agent::FREE_MODELS)
    );
    Test::new()
        .write("config.toml", &config)
        .write("wf.toml", crate::agent::DRAFT)
        .env("LLM_KEY", "sk-test")
}

/// A workflow `name` of two GETs in a row to `server` at `/NAME-1` and `/NAME-2`.
fn two_gets(name: &str, server: &Server) -> String {
    format!(
        r#"name = "{name}"
[[steps]]
id = "one"
kind = "http"
url = "{}"
approve = "never"
[[steps]]
id = "two"
kind = "http"
url = "{}"
approve = "never"
"#,
        server.url(&format!("/{name}-1")),
        server.url(&format!("/{name}-2"))
    )
}

/// `step_throttled` events of a run: (step, until).
fn throttles(t: &Test, run: i64) -> Vec<(String, String)> {
    let log = t
        .aios(&["log", &run.to_string(), "--json"])
        .success()
        .json();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "step_throttled")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_string(),
                e["data"]["until"].as_i64().unwrap().to_string(),
            )
        })
        .collect()
}

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// Two processes, each with two requests in a row, under `1/500ms` for the host:
/// the four turns are the pinned clock's now, +500 ms, +1 s and +1.5 s, whichever
/// process asked first; the three later ones are journaled as waits.
#[test]
fn two_processes_over_a_limit_are_spaced_by_it() {
    let server = Server::start();
    let (_, t) = limited(&server, "1/500ms");
    let t = t
        .write("a.toml", &two_gets("a", &server))
        .write("b.toml", &two_gets("b", &server));
    let a = t.args(&["run", "a.toml"]).spawn();
    let b = t.args(&["run", "b.toml"]).spawn();
    a.wait().success();
    b.wait().success();
    let now = ms(NOW);
    let mut waits: Vec<i64> = [1, 2]
        .into_iter()
        .flat_map(|run| throttles(&t, run))
        .map(|(_, until)| until.parse::<i64>().unwrap() - now)
        .collect();
    waits.sort_unstable();
    assert_eq!(waits, [500, 1000, 1500]);
    assert_eq!(server.requests().len(), 4);
    // A waiting step said so while it waited.
    let show = t.aios(&["show", "2"]).success();
    assert!(
        show.stdout
            .contains("waits for its turn under the rate limit"),
        "{}",
        show.stdout
    );
}

/// With the real clock: the second of two requests in a row under `1/s` waits
/// for its turn, and does not reach the server before it.
#[test]
fn no_request_goes_before_its_turn() {
    let server = Server::start();
    let (_, t) = limited(&server, "1/s");
    let t = t.write("a.toml", &two_gets("a", &server));
    t.args(&["run", "a.toml"]).real_clock().run().success();
    let waits = throttles(&t, 1);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].0, "two");
    let turn: i64 = waits[0].1.parse().unwrap();
    let at = |path: &str| {
        let r = server.requests_to(path);
        r[0].at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    assert!(at("/a-2") >= turn, "the request went before its turn");
    // Its turn is a second after the first one's, which was taken before the
    // first request went.
    assert!(
        turn - 1000 <= at("/a-1"),
        "the turn is not a second after the first"
    );
}

/// Wait until run `run`'s step `step` is held for its turn; its `show --json` step.
fn held(t: &Test, run: i64, step: &str) -> Json {
    let mut found = Json::Null;
    wait_until("the step to wait for its turn", || {
        let out = t.args(&["show", &run.to_string(), "--json"]).run();
        if out.code != Some(0) {
            return false;
        }
        let show = out.json();
        let s = show["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == step)
            .cloned()
            .unwrap();
        if s["throttled"].is_null() {
            return false;
        }
        assert_eq!(show["status"], "running");
        found = s;
        true
    });
    found
}

/// `1/h` and a second run: it is held an hour, `aios show` says so, and a cancel
/// stops it without its request ever being sent.
#[test]
fn a_held_step_shows_why_and_until_when_and_can_be_cancelled() {
    let server = Server::start();
    let (host, t) = limited(&server, "1/h");
    let t = t.write("wf.toml", &one_get("ping", &server.url("/ping")));
    t.aios(&["run", "wf.toml"]).success();
    let bg = t.args(&["run", "wf.toml"]).spawn();
    let s = held(&t, 2, "ping");
    assert_eq!(s["status"], "pending");
    assert_eq!(s["throttled"]["until"], "2026-11-21T10:30:00Z");
    assert_eq!(s["throttled"]["limit"], format!("http:{host} 1/h"));
    t.aios(&["show", "2"]).success().stdout_contains(&format!(
        "waits for its turn under the rate limit http:{host} 1/h, until 2026-11-21T10:30:00Z"
    ));
    t.aios(&["cancel", "2"]).success();
    let out = bg.wait();
    assert!(
        out.stderr.contains(&format!(
            "ping waits for its turn under the rate limit http:{host} (1/h) until 2026-11-21T10:30:00Z"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(t.show(2)["status"], "cancelled");
    assert_eq!(server.count("/ping"), 1);
}

/// `[rate]` keys written as bare hosts (before rate limits and breakers shared
/// `KIND:NAME`) still load and name the `http:` target; a journal holding turns under
/// both spellings replays, and shows both under the one name.
#[test]
fn old_bare_host_keys_load_and_old_journaled_names_show_as_targets() {
    let server = Server::start();
    // The old spelling (a bare host and port) of the key.
    let (host, t) = limited(&server, "1/h");
    let t = t.write("wf.toml", &one_get("ping", &server.url("/ping")));
    t.aios(&["run", "wf.toml"]).success();
    let bg = t.args(&["run", "wf.toml"]).spawn();
    let s = held(&t, 2, "ping");
    assert_eq!(s["throttled"]["limit"], format!("http:{host} 1/h"));
    t.aios(&["cancel", "2"]).success();
    bg.wait();
    // A turn journaled by an older aios, under the bare key, after the new one.
    let inserted = t.sql_rows(
        "INSERT INTO events (run_id, step_id, type, data, at)
         SELECT run_id, step_id, type, replace(data, $1, $2), at FROM events
         WHERE run_id = 2 AND type = 'step_throttled' RETURNING seq",
        &[&format!("\"http:{host}\""), &format!("\"{host}\"")],
    );
    assert_eq!(inserted.len(), 1);
    t.sql_rows(
        "UPDATE steps SET throttled_until = (SELECT throttled_until FROM steps WHERE run_id = 2),
                          throttled_by = $1 WHERE run_id = 2",
        &[&format!("{host} 1/h")],
    );
    let old = t.sql_rows(
        "SELECT data FROM events WHERE type = 'step_throttled' ORDER BY seq DESC LIMIT 1",
        &[],
    )[0][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(old.contains(&format!("\"target\":\"{host}\"")), "{old}");
    t.aios(&["replay", "2"]).success();
    assert_eq!(
        t.show(2)["steps"][0]["throttled"]["limit"],
        format!("http:{host} 1/h")
    );
    let log = t.aios(&["show", "2"]).success().stdout;
    let line = format!("ping: waits for its turn under the rate limit http:{host} (1/h) until");
    assert_eq!(log.matches(&line).count(), 2, "{log}");
    assert!(!log.contains(&format!("limit {host}")), "{log}");
}

/// A tool server's `rate` limits its calls.
#[test]
fn tool_calls_wait_for_their_servers_turn() {
    let t = Test::new()
        .write(
            "config.toml",
            &format!("{}rate = \"1/h\"\n", everything_config()),
        )
        .write(
            "wf.toml",
            r#"name = "echo"
[[steps]]
id = "echo"
kind = "tool"
server = "everything"
tool = "echo"
args = { message = "hi" }
approve = "never"
"#,
        );
    t.aios(&["run", "wf.toml"]).success();
    let bg = t.args(&["run", "wf.toml"]).spawn();
    let s = held(&t, 2, "echo");
    assert_eq!(s["throttled"]["limit"], "mcp:everything 1/h");
    t.aios(&["cancel", "2"]).success();
    bg.wait();
}

/// An LLM provider's limit (`llm:NAME` in `[rate]`) holds agent calls.
#[test]
fn agent_calls_wait_for_their_providers_turn() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(crate::agent::GOOD, 10, 10)]);
    let t = agent_limited(&server, "1/h");
    t.aios(&["run", "wf.toml"]).success();
    let bg = t.args(&["run", "wf.toml"]).spawn();
    let s = held(&t, 2, "draft");
    assert_eq!(s["throttled"]["limit"], "llm:local 1/h");
    t.aios(&["cancel", "2"]).success();
    bg.wait();
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_bad_limit_is_refused_before_anything_runs() {
    let t = Test::new()
        .write("config.toml", "[rate]\n\"*.example.com\" = \"10/m\"\n")
        .write(
            "wf.toml",
            "name = \"w\"\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = { a = 1 }\n",
        );
    let cfg = t.join("config.toml").display().to_string();
    t.aios(&["run", "wf.toml"]).code(2).stderr_is(&format!(
        "error: {cfg}: [rate] \"*.example.com\": `*.example.com` has a wildcard, which rate limits do not take\n\
         hint: name each host: a key is a target: http:HOST (every port), http:HOST:PORT, mcp:NAME, llm:NAME or smtp:NAME\n"
    ));
    t.put(
        "config.toml",
        "[rate]\n\"api.example.com\" = \"10 a minute\"\n",
    );
    t.aios(&["run", "wf.toml"])
        .code(2)
        .stderr_contains("is not a rate")
        .stderr_contains("hint: write a number of calls per s, m, h or d");
}

/// A step held for its turn does not start once another step of its run failed:
/// it fails at once with the reason, and its request is never sent.
#[test]
fn a_held_step_does_not_start_after_another_step_failed() {
    let server = Server::start();
    let (_, t) = limited(&server, "1/h");
    let t = t
        .write("first.toml", &one_get("first", &server.url("/first")))
        .write(
            "wf.toml",
            &format!(
                r#"name = "both"
[[steps]]
id = "ping"
kind = "http"
url = "{}"
approve = "never"
needs = []
[[steps]]
id = "boom"
kind = "shell"
script = "exit 3"
approve = "never"
needs = []
"#,
                server.url("/ping")
            ),
        );
    t.aios(&["run", "first.toml"]).success();
    t.aios(&["run", "wf.toml"]).code(1);
    let show = t.show(2);
    assert_eq!(show["status"], "failed");
    let ping = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ping")
        .cloned()
        .unwrap();
    assert_eq!(ping["status"], "failed", "{ping}");
    t.aios(&["show", "2"]).success().stdout_contains(
        "not started: another step failed while it waited for its turn under a rate limit",
    );
    assert_eq!(server.count("/ping"), 0);
}

/// An agent call held for its provider's turn is made when the turn comes, as the
/// step had decided it: the second run waits two seconds, then succeeds.
#[test]
fn a_held_agent_call_is_made_when_its_turn_comes() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(crate::agent::GOOD, 10, 10),
        Reply::openai(crate::agent::GOOD, 10, 10),
    ]);
    let t = agent_limited(&server, "1/2s");
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(throttles(&t, 1), []);
    let waits = throttles(&t, 2);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].1.parse::<i64>().unwrap() - ms(NOW), 2000);
    let show = t.show(2);
    let draft = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "draft")
        .cloned()
        .unwrap();
    assert_eq!(draft["status"], "succeeded", "{show}");
    assert_eq!(server.seen().len(), 2);
}

/// An SMTP account's limit (`smtp:NAME` in `[rate]`) spaces email steps: the second
/// of two emails in a row under `1/500ms` waits for its turn, half a second after the
/// first's, then is sent.
#[test]
fn emails_wait_for_their_accounts_turn() {
    use crate::support::smtp::{Opts, SmtpServer};
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = crate::email::with_server(&server)
        .write(
            "config.toml",
            &format!(
                "{}[rate]\n\"smtp:default\" = \"1/500ms\"\n",
                server.config(None)
            ),
        )
        .write(
            "mail.toml",
            r#"name = "mail"
[[steps]]
id = "one"
kind = "email"
approve = "never"
to = "bob@example.com"
subject = "First"
text = "One."
[[steps]]
id = "two"
kind = "email"
approve = "never"
to = "bob@example.com"
subject = "Second"
text = "Two."
"#,
        );
    t.aios(&["run", "mail.toml"])
        .success()
        .stderr_contains("two waits for its turn under the rate limit smtp:default (1/500ms)");
    let waits = throttles(&t, 1);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].0, "two");
    assert_eq!(waits[0].1.parse::<i64>().unwrap() - ms(NOW), 500);
    let got = server.messages();
    assert_eq!(got.len(), 2);
    assert!(got[0].text().contains("\r\nSubject: First\r\n"));
    assert!(got[1].text().contains("\r\nSubject: Second\r\n"));
    assert_eq!(t.show(1)["status"], "succeeded");
}
