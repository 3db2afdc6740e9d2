//! Circuit breakers per connector target: a host that keeps failing opens its
//! breaker, steps aimed at it wait (the run waits, `aios tick` continues it), a
//! half-open probe closes it, a breaker that stays open raises an inbox notice, and
//! the operator can close one by hand. Time is driven by AIOS_NOW only.

use serde_json::Value as Json;

use crate::support::http::{Response, Server};
use crate::support::{Test, step};

const T0: &str = "2026-11-21T09:30:00Z";

fn wf(name: &str, server: &Server) -> String {
    format!(
        r#"
name = "{name}"

[[steps]]
id = "call"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
retry = {{ attempts = 5, backoff = "10ms" }}
"#,
        server.url("/x")
    )
}

fn at(t: &Test, now: &str, args: &[&str]) -> crate::support::Output {
    t.args(args).env("AIOS_NOW", now).run()
}

fn breakers(t: &Test, now: &str) -> Vec<Json> {
    at(t, now, &["breakers", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn target(server: &Server) -> String {
    let url = server.url("/");
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    format!("http:{host}")
}

#[test]
fn a_failing_host_opens_its_breaker_steps_wait_and_a_probe_closes_it() {
    let server = Server::start();
    server.respond("/x", Response::text(503, "down for maintenance"));
    let t = Test::new()
        .write(
            "config.toml",
            "[breakers]\nfailures = 2\ncooldown = \"1m\"\nnotify_after = \"5m\"\n",
        )
        .write("a.toml", &wf("a", &server))
        .write("b.toml", &wf("b", &server));
    let name = target(&server);

    // Two failures open the breaker; the third attempt waits instead of going.
    let out = at(&t, T0, &["run", "a.toml"]).success();
    assert!(
        out.stderr
            .contains(&format!("call waits: circuit breaker {name} is open until")),
        "{}",
        out.stderr
    );
    assert_eq!(server.count("/x"), 2);
    let show = t.show(1);
    assert_eq!(show["status"], "waiting");
    let call = step(&show, "call");
    assert_eq!(call["status"], "waiting");
    assert_eq!(call["attempts"], 3, "the waiting attempt is the third");
    assert!(
        call["error"]
            .as_str()
            .unwrap()
            .contains("2 consecutive failures"),
        "{call}"
    );
    let b = breakers(&t, T0);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["target"], name.as_str());
    assert_eq!(b[0]["state"], "open");
    assert_eq!(b[0]["failures"], 2);
    assert_eq!(b[0]["until"], "2026-11-21T09:31:00Z");
    assert!(b[0]["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(b[0]["held"][0]["run"], 1);

    // Another workflow aimed at the same host waits without a request.
    at(&t, T0, &["run", "b.toml"]).success();
    assert_eq!(server.count("/x"), 2);
    assert_eq!(step(&t.show(2), "call")["status"], "waiting");
    let table = at(&t, T0, &["breakers"]).success().stdout;
    assert!(
        table.contains(&name) && table.contains("open until"),
        "{table}"
    );
    assert!(table.contains("aios breakers close TARGET"), "{table}");

    // Before the cooldown ends, a tick leaves them asleep.
    at(&t, "2026-11-21T09:30:30Z", &["tick"]).success();
    assert_eq!(server.count("/x"), 2);

    // After it, one call probes; it fails: open again, for twice as long. Open for
    // longer than `notify_after`: a notice in the inbox.
    let out = at(&t, "2026-11-21T09:36:00Z", &["tick", "--json"]).success();
    assert_eq!(server.count("/x"), 3, "one probe, the other step waits");
    let b = breakers(&t, "2026-11-21T09:36:00Z");
    assert_eq!(b[0]["state"], "open");
    assert_eq!(b[0]["trips"], 2);
    assert_eq!(b[0]["until"], "2026-11-21T09:38:00Z");
    assert_eq!(b[0]["held"].as_array().unwrap().len(), 2);
    let notice = out.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "notice")
        .cloned()
        .expect("a notice");
    assert!(
        notice["summary"].as_str().unwrap().contains(&format!(
            "circuit breaker {name} has been open since 2026-11-21T09:30:00Z"
        )),
        "{notice}"
    );
    let inbox = t.inbox();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    // Once per episode: the next tick raises no other.
    at(&t, "2026-11-21T09:37:00Z", &["tick"]).success();
    assert_eq!(t.inbox().len(), 1);

    // The host is back: the probe closes the breaker and both runs finish, the
    // first on its fourth attempt of five (waiting spent none).
    server.respond("/x", Response::json(200, serde_json::json!({ "ok": true })));
    at(&t, "2026-11-21T09:39:00Z", &["tick"]).success();
    assert_eq!(server.count("/x"), 5);
    let a = t.show(1);
    assert_eq!(a["status"], "succeeded");
    assert_eq!(step(&a, "call")["attempts"], 4);
    assert_eq!(t.show(2)["status"], "succeeded");
    let b = breakers(&t, "2026-11-21T09:39:00Z");
    assert_eq!(b[0]["state"], "closed");
    assert_eq!(b[0]["failures"], 0);
    assert!(b[0]["held"].as_array().unwrap().is_empty());

    // The breaker's state replays from its events, and the log says what waited.
    at(&t, "2026-11-21T09:39:00Z", &["replay"])
        .success()
        .stdout_contains("circuit breakers: 6 events replay to the stored state");
    at(&t, "2026-11-21T09:39:00Z", &["log", "1"])
        .success()
        .stdout_contains("call: held: circuit breaker");
}

#[test]
fn the_operator_closes_a_breaker_by_hand_and_the_step_goes_at_the_next_tick() {
    let server = Server::start();
    server.respond("/x", Response::text(502, "bad gateway"));
    let t = Test::new()
        .write(
            "config.toml",
            "[breakers]\nfailures = 1\ncooldown = \"1h\"\n",
        )
        .write("a.toml", &wf("a", &server));
    let name = target(&server);
    at(&t, T0, &["run", "a.toml"]).success();
    assert_eq!(server.count("/x"), 1);
    server.respond("/x", Response::json(200, serde_json::json!({})));
    at(&t, T0, &["breakers", "close", &name])
        .success()
        .stdout_contains(&format!("circuit breaker {name} closed"))
        .stdout_contains("1 step waiting for it will go at the next tick");
    at(&t, T0, &["tick"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert_eq!(server.count("/x"), 2);
    // Closing one that is closed, or naming no target: errors with hints.
    at(&t, T0, &["breakers", "close", &name])
        .code(4)
        .stderr_contains("is not open")
        .stderr_contains("hint: see every breaker with: aios breakers");
    at(&t, T0, &["breakers", "close", "example.com"])
        .code(2)
        .stderr_contains("write KIND:NAME");
}

#[test]
fn a_target_with_its_breaker_off_burns_its_retries_and_refusals_do_not_count() {
    let server = Server::start();
    server.respond("/x", Response::text(503, "down"));
    let t = Test::new().write("a.toml", &wf("a", &server));
    let name = target(&server);
    t.put(
        "config.toml",
        &format!("[breakers]\nfailures = 2\n\n[breakers.\"{name}\"]\nenabled = false\n"),
    );
    at(&t, T0, &["run", "a.toml"]).code(1);
    assert_eq!(server.count("/x"), 5, "every attempt went out");
    assert!(breakers(&t, T0).is_empty());
    at(&t, T0, &["breakers"])
        .success()
        .stdout_contains("no circuit breaker has seen a failure");

    // With the breaker on, a 4xx is an answer: it resets the count.
    t.put("config.toml", "[breakers]\nfailures = 2\n");
    server.script(
        "/x",
        vec![
            Response::text(503, "down"),
            Response::text(404, "no such thing"),
        ],
    );
    at(&t, T0, &["run", "a.toml"]).code(1);
    let b = breakers(&t, T0);
    assert_eq!(b[0]["state"], "closed");
    assert_eq!(b[0]["failures"], 0);

    // A mistake in [breakers] is a usage error naming the key.
    t.put("config.toml", "[breakers]\nfailure = 2\n");
    at(&t, T0, &["run", "a.toml"])
        .code(2)
        .stderr_contains("`breakers.failure` is not a known key")
        .stderr_contains("hint: did you mean");
}

#[test]
fn an_open_provider_breaker_sends_agent_steps_to_their_next_model_without_a_call() {
    use crate::support::llm::LlmServer;
    let server = LlmServer::start();
    let config = format!(
        "[breakers]\nfailures = 2\ncooldown = \"10m\"\n\n[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\nmax_retries = 0\n\n[models.default]\nprovider = \"local\"\nname = \"m1\"\n",
        server.base_url()
    );
    let wf = r#"
name = "draft"
[[steps]]
id = "draft"
kind = "agent"
model = ["default", "heuristic"]
prompt = "Say hello."
output = "text"
offline = "Hello (offline)"
"#;
    let t = Test::new()
        .write("config.toml", &config)
        .write("wf.toml", wf);
    // Two runs whose calls fail (500): the second opens the provider's breaker.
    for _ in 0..2 {
        at(&t, T0, &["run", "wf.toml", "-q"]).success();
    }
    let calls = server.chats().len();
    assert!(calls >= 2, "{calls}");
    let b = breakers(&t, T0);
    assert_eq!(b[0]["target"], "llm:local");
    assert_eq!(b[0]["state"], "open");
    // The third run does not call it: the step falls back at once.
    at(&t, T0, &["run", "wf.toml", "-q"]).success();
    assert_eq!(server.chats().len(), calls, "no call to an open provider");
    let show = t.show(3);
    assert_eq!(show["status"], "succeeded");
    let out = &step(&show, "draft")["output"];
    assert_eq!(out["heuristic"], true);
    assert!(
        out["fallback"]["errors"]
            .to_string()
            .contains("circuit breaker llm:local is open until"),
        "{out}"
    );
}
