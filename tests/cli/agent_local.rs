//! Agent steps against servers that behave like the small and local models founders
//! run: the schema sent in each provider's form (and a small model that meets it
//! only then), a server that refuses the schema form, replies cut at `max_tokens`,
//! a server that never accepts connections, one that never answers, one that
//! streams (the live line on a terminal), sampling settings, and the step's
//! `retry` applied to schema failures.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

use crate::agent::{DRAFT, GOOD, rescue};
use crate::support::llm::{LlmServer, Reply, Silent, unreachable};
use crate::support::{Test, step, wait_until};

/// A config with one provider `local` of `kind` at `base_url`, extra provider keys,
/// and models `default` (m1) and `second` (m2).
fn config(kind: &str, base_url: &str, provider_extra: &str, models_extra: &str) -> String {
    format!(
        r#"
[providers.local]
kind = "{kind}"
base_url = "{base_url}"
max_retries = 0
retry_backoff = "10ms"
{provider_extra}
[models.default]
provider = "local"
name = "m1"
{models_extra}
[models.second]
provider = "local"
name = "m2"
"#
    )
}

fn one_model(wf: &str) -> String {
    wf.replace("model = [\"default\", \"second\"]", "model = \"default\"")
}

fn good() -> Json {
    json!({"subject": "Tea club is open", "body": "Come in."})
}

#[test]
fn a_small_model_meets_the_schema_when_each_provider_kind_sends_it() {
    for (kind, base, path, form) in [
        ("openai", "v1", "/v1/chat/completions", "json_schema"),
        ("ollama", "root", "/api/chat", "format_schema"),
        ("anthropic", "root", "/v1/messages", "tool"),
    ] {
        let server = LlmServer::small_model(good());
        let base_url = if base == "v1" {
            server.base_url()
        } else {
            server.root_url()
        };
        let t = Test::new()
            .write("config.toml", &config(kind, &base_url, "", ""))
            .write("wf.toml", &one_model(DRAFT));
        t.aios(&["run", "wf.toml"]).success();
        let chats = server.chats();
        assert_eq!(chats.len(), 1, "{kind}: one call");
        assert_eq!(chats[0].path, path);
        assert_eq!(chats[0].form(), form, "{kind}");
        assert_eq!(
            step(&t.show(1), "draft")["output"]["json"]["subject"],
            "Tea club is open",
            "{kind}"
        );
        let calls = t.aios(&["llm", "log", "--json"]).success().json();
        assert_eq!(calls[0]["request"]["structured"], form, "{kind}");
        // The schema is in the prompt too.
        assert!(chats[0].text().contains("must match this JSON Schema"));
    }
}

#[test]
fn the_schema_in_each_wire_format() {
    let server = LlmServer::small_model(good());
    let t = Test::new()
        .write(
            "config.toml",
            &config("anthropic", &server.root_url(), "", ""),
        )
        .write("wf.toml", &one_model(DRAFT));
    t.aios(&["run", "wf.toml"]).success();
    let b = &server.chats()[0].body;
    assert_eq!(b["tool_choice"], json!({"type": "tool", "name": "reply"}));
    assert_eq!(b["tools"][0]["name"], "reply");
    assert_eq!(
        b["tools"][0]["input_schema"]["required"],
        json!(["subject", "body", "rationale", "confidence"])
    );
    let server = LlmServer::small_model(good());
    let t = Test::new()
        .write("config.toml", &config("ollama", &server.root_url(), "", ""))
        .write("wf.toml", &one_model(DRAFT));
    t.aios(&["run", "wf.toml"]).success();
    let b = &server.chats()[0].body;
    assert_eq!(
        b["format"]["properties"]["subject"],
        json!({"type": "string"})
    );
    assert_eq!(b["stream"], false);
    assert_eq!(b["options"]["num_predict"], 1024);
}

#[test]
fn without_the_schema_form_the_small_model_fails_and_the_offline_draft_steps_in() {
    // A JSON step without a schema is asked for plain JSON; the small model answers
    // prose twice, and `heuristic` (the last model) gives the offline draft.
    let server = LlmServer::small_model(good());
    let wf = DRAFT
        .replace(
            "model = [\"default\", \"second\"]",
            "model = [\"default\", \"heuristic\"]",
        )
        .replace(
            "schema = { type = \"object\", required = [\"subject\", \"body\"], properties = { subject = { type = \"string\" }, body = { type = \"string\" } } }\n",
            "",
        );
    let t = Test::new()
        .write("config.toml", &config("openai", &server.base_url(), "", ""))
        .write("wf.toml", &wf);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("  draft: offline draft, no LLM: `default` failed\n");
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    assert!(chats.iter().all(|c| c.form() == "json_object"));
}

#[test]
fn a_refused_schema_form_falls_back_to_plain_json_and_is_remembered() {
    let server = LlmServer::refuses_schema(good());
    let t = Test::new()
        .write("config.toml", &config("openai", &server.base_url(), "", ""))
        .write("wf.toml", &one_model(DRAFT));
    t.aios(&["run", "wf.toml"]).success();
    let forms: Vec<&str> = server.chats().iter().map(|c| c.form()).collect();
    assert_eq!(forms, ["json_schema", "json_object"]);
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[1]["failure"], "schema_refused");
    assert_eq!(calls[0]["request"]["structured"], "json_object");
    assert_eq!(calls[0]["error"], Json::Null);
    // The next run asks for plain JSON at once.
    t.aios(&["run", "wf.toml"]).success();
    let forms: Vec<&str> = server.chats().iter().map(|c| c.form()).collect();
    assert_eq!(forms, ["json_schema", "json_object", "json_object"]);
    t.aios(&["llm", "models"]).success().stdout_contains(
        "schema form refused 2026-11-21T09:30:00Z (call 1): plain JSON for 7 days",
    );
    // A week later the schema form is tried again.
    t.args(&["run", "wf.toml"])
        .env("AIOS_NOW", "2026-11-29T09:30:00Z")
        .run()
        .success();
    assert_eq!(server.chats()[3].form(), "json_schema");
    t.aios(&["replay"]).success();
}

#[test]
fn a_reply_cut_at_max_tokens_is_named_and_the_repair_gets_more_room() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai_finish(r#"{"subject": "Tea club is open", "bo"#, "length", 10, 50),
        Reply::openai(GOOD, 10, 20),
    ]);
    let wf = one_model(DRAFT).replace("output = \"json\"", "output = \"json\"\nmax_tokens = 50");
    let t = Test::new()
        .write("config.toml", &config("openai", &server.base_url(), "", ""))
        .write("wf.toml", &wf);
    let out = t.aios(&["run", "wf.toml"]).success();
    assert!(
        out.stderr.contains(
            "invalid reply: `default`: the reply stopped at max_tokens (50) before it was complete"
        ),
        "{}",
        out.stderr
    );
    let chats = server.chats();
    assert_eq!(chats[0].body["max_tokens"], 50);
    assert_eq!(chats[1].body["max_tokens"], 100);
    // Asked afresh (the cut reply is not shown again), to keep it short.
    let msgs = chats[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert!(
        msgs[1]["content"]
            .as_str()
            .unwrap()
            .ends_with("(Your last reply was cut off at the length limit before it was complete. Keep this one short: one complete JSON object, a few sentences per field at most.)")
    );
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[1]["finish_reason"], "length");
    t.aios(&["llm", "log"]).success().stdout_contains(
        "cut at max_tokens (length): `default`: the reply stopped at max_tokens (50)",
    );

    // Cut twice: the step stops and says to raise max_tokens.
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai_finish(r#"{"subject": "#, "length", 10, 50),
        Reply::openai_finish(r#"{"subject": "Tea"#, "length", 10, 100),
    ]);
    t.put("config.toml", &config("openai", &server.base_url(), "", ""));
    t.aios(&["run", "wf.toml"]).success();
    assert!(
        rescue(&t, "draft")
            .1
            .ends_with("(hint: raise the step's `max_tokens`, now 50)")
    );
}

#[test]
fn a_text_answer_cut_at_max_tokens_is_kept_marked_and_printed_at_the_end() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai_finish(
        "Tea club opens on\nMonday at",
        "length",
        5,
        8,
    )]);
    let wf = "name = \"ask\"\n[[steps]]\nid = \"ask\"\nkind = \"agent\"\nprompt = \"When?\"\nmax_tokens = 8\n";
    let t = Test::new()
        .write("config.toml", &config("openai", &server.base_url(), "", ""))
        .write("wf.toml", wf);
    t.aios(&["run", "wf.toml"]).success().stdout_contains(
        "fallbacks:\n  ask: cut at max_tokens\nanswer of `ask` (`default` via local):\n  Tea club opens on\n  Monday at\n",
    );
    assert_eq!(step(&t.show(1), "ask")["output"]["truncated"], true);
}

#[test]
fn a_server_that_never_accepts_stops_at_connect_timeout() {
    let port = unreachable();
    let base = format!("http://127.0.0.1:{}/v1", port.port);
    let t = Test::new()
        .write(
            "config.toml",
            &config(
                "openai",
                &base,
                "timeout = \"60s\"\nconnect_timeout = \"300ms\"",
                "",
            ),
        )
        .write("wf.toml", &one_model(DRAFT));
    t.aios(&["run", "wf.toml"]).success();
    assert!(rescue(&t, "draft").1.starts_with(&format!(
        "provider `local` (model `m1`): no connection to {base} within 300ms (connect_timeout) (1 attempt)"
    )));
    t.aios(&["llm", "ping"])
        .code(1)
        .stdout_contains(&format!("FAIL local ({base})"))
        .stdout_contains("no connection within 300ms (connect_timeout)");
}

#[test]
fn a_server_that_never_answers_meets_the_step_deadline_and_its_retry() {
    let silent = Silent::start();
    let wf = one_model(DRAFT).replace(
        "output = \"json\"",
        "output = \"json\"\ntimeout = \"1s\"\nretry = { attempts = 2, backoff = \"10ms\" }",
    );
    let t = Test::new()
        .write(
            "config.toml",
            &config("openai", &silent.base_url(), "timeout = \"60s\"", ""),
        )
        .write("wf.toml", &wf);
    let out = t.aios(&["run", "wf.toml"]).success();
    assert_eq!(
        rescue(&t, "draft").1,
        "provider `local` (model `m1`): no reply before the step's deadline (1s) passed (hint: raise the step's `timeout`, or use a faster model)"
    );
    // The deadline is retryable: the step's retry made a second attempt, then the
    // step waits for the operator.
    assert!(
        out.stderr.contains("draft attempt 1 failed, retrying"),
        "{}",
        out.stderr
    );
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    assert_eq!(calls[0]["failure"], "deadline");
}

#[test]
fn a_provider_timeout_moves_on_to_the_offline_draft() {
    let silent = Silent::start();
    let wf = DRAFT.replace(
        "model = [\"default\", \"second\"]",
        "model = [\"default\", \"heuristic\"]",
    );
    let t = Test::new()
        .write(
            "config.toml",
            &config("openai", &silent.base_url(), "timeout = \"300ms\"", ""),
        )
        .write("wf.toml", &wf);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("  draft: offline draft, no LLM: `default` failed\n");
    let show = t.show(1);
    let o = &step(&show, "draft")["output"];
    assert!(
        o["fallback"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("no reply within 300ms (1 attempt)"),
        "{o}"
    );
}

#[test]
fn schema_failures_are_retried_per_the_step() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai("{}", 5, 5),
        Reply::openai("nope", 5, 5),
        Reply::openai(GOOD, 5, 5),
    ]);
    let wf = one_model(DRAFT).replace(
        "output = \"json\"",
        "output = \"json\"\nretry = { attempts = 2, backoff = \"10ms\" }",
    );
    let t = Test::new()
        .write("config.toml", &config("openai", &server.base_url(), "", ""))
        .write("wf.toml", &wf);
    t.aios(&["run", "wf.toml"]).success();
    let d = step(&t.show(1), "draft").clone();
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["output"]["json"]["subject"], "Tea club is open");
    // The new attempt starts fresh: the prompt alone.
    assert_eq!(
        server.chats()[2].body["messages"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn sampling_settings_come_from_the_alias_and_the_step() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(GOOD, 5, 5),
        Reply::anthropic(GOOD, 5, 5),
    ]);
    let wf = one_model(DRAFT).replace(
        "output = \"json\"",
        "output = \"json\"\ntemperature = 0.2\nstop = [\"END\"]",
    );
    let alias = "temperature = 0.9\ntop_p = 0.5\nseed = 7";
    let t = Test::new()
        .write(
            "config.toml",
            &config("openai", &server.base_url(), "", alias),
        )
        .write("wf.toml", &wf);
    t.aios(&["run", "wf.toml"]).success();
    let b = &server.chats()[0].body;
    assert_eq!(
        (&b["temperature"], &b["top_p"], &b["seed"], &b["stop"]),
        (&json!(0.2), &json!(0.5), &json!(7), &json!(["END"]))
    );
    // Anthropic takes no seed; its stop sequences have their own name.
    t.put(
        "config.toml",
        &config("anthropic", &server.root_url(), "", alias),
    );
    t.aios(&["run", "wf.toml"]).success();
    let b = &server.chats()[1].body;
    assert_eq!(b["temperature"], json!(0.2));
    assert_eq!(b["stop_sequences"], json!(["END"]));
    assert!(b.get("seed").is_none());
    // Recorded with the call.
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["request"]["chat"]["sampling"]["seed"], 7);
    // Mistakes are caught when the workflow loads.
    t.put(
        "bad.toml",
        &wf.replace("temperature = 0.2", "temperature = 3"),
    );
    t.aios(&["check", "bad.toml"])
        .code(2)
        .stderr_contains("`temperature` must be from 0 to 2, found 3");
    t.put(
        "config.toml",
        &config("openai", &server.base_url(), "", "top_p = 0"),
    );
    t.aios(&["run", "wf.toml"])
        .code(2)
        .stderr_contains("`models.default.top_p`: `top_p` must be above 0 and at most 1, found 0");
}

/// Start `aios ARGS` with its stderr on a pseudo-terminal (stdout piped); returns
/// the child and what the terminal received so far.
fn on_a_terminal(t: &Test, args: &[&str]) -> (std::process::Child, Arc<Mutex<Vec<u8>>>) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors; no pointers are kept.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two fresh descriptors we now own.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = t.args(args).into_command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave));
    let child = cmd.spawn().expect("spawn aios");
    drop(cmd);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut master = master;
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (child, seen)
}

#[test]
fn a_streaming_call_shows_a_live_line_on_a_terminal_only() {
    let server = LlmServer::start();
    let pieces = [
        "{\"subject\": ",
        "\"Tea club is open\", ",
        "\"body\": \"Come in.\"}",
    ];
    server.script(vec![Reply::openai_stream(&pieces, "stop", 30, 3).held(3)]);
    let t = Test::new()
        .write(
            "config.toml",
            &config("openai", &server.base_url(), "stream = true", ""),
        )
        .write("wf.toml", &one_model(DRAFT));
    let (child, term) = on_a_terminal(&t, &["run", "wf.toml"]);
    server.wait_held();
    // The reply is held after three pieces: the live line says so.
    wait_until("the live line with the streamed tokens", || {
        String::from_utf8_lossy(&term.lock().unwrap()).contains("draft: local/m1 · ")
            && String::from_utf8_lossy(&term.lock().unwrap()).contains(" · 3 tokens")
    });
    server.release();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let chat = &server.chats()[0].body;
    assert_eq!(chat["stream"], true);
    assert_eq!(chat["stream_options"], json!({"include_usage": true}));
    let raw = String::from_utf8_lossy(&term.lock().unwrap()).into_owned();
    // The line is cleared before the next progress line.
    assert!(raw.contains("\r\x1b[2K"), "{raw:?}");
    assert!(raw.contains("✓ draft"), "{raw:?}");
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["response"], pieces.concat());
    assert_eq!(
        (
            calls[0]["tokens_in"].as_u64(),
            calls[0]["tokens_out"].as_u64()
        ),
        (Some(30), Some(3))
    );
    assert_eq!(calls[0]["request"]["stream"], true);

    // Not on a terminal: the same run prints no live line, only stable lines.
    server.script(vec![Reply::openai_stream(&pieces, "stop", 30, 3)]);
    let out = t.aios(&["run", "wf.toml"]).success();
    assert!(
        !out.stderr.contains('\r') && !out.stderr.contains("\x1b"),
        "{:?}",
        out.stderr
    );
    assert_eq!(
        out.stderr
            .lines()
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        ["▸ draft", "· draft", "✓ draft", "? save"]
    );
}

#[test]
fn past_the_deadline_the_offline_draft_still_answers() {
    let silent = Silent::start();
    let wf = DRAFT
        .replace(
            "model = [\"default\", \"second\"]",
            "model = [\"default\", \"second\", \"heuristic\"]",
        )
        .replace("output = \"json\"", "output = \"json\"\ntimeout = \"1s\"");
    let t = Test::new()
        .write(
            "config.toml",
            &config("openai", &silent.base_url(), "timeout = \"60s\"", ""),
        )
        .write("wf.toml", &wf);
    // `second` is never called: the deadline passed during `default`'s call.
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("  draft: offline draft, no LLM: `default` failed\n");
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    let aliases: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, ["heuristic", "default"]);
}
