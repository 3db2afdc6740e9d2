//! What comes back is redacted before it is kept: an HTTP response or error that
//! echoes a secret (plain, JSON-escaped, percent-encoded, base64 in a Basic header),
//! and a provider's error body that echoes its API key.

use serde_json::json;

use super::templates::TOKEN;
use crate::agent::{DRAFT, FREE_MODELS, config};
use crate::support::http::{Response, Server};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

const PH: &str = "secret(\"API_TOKEN\")";

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

pub(super) fn grep_home(t: &Test, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![t.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p)
                && b.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn a_response_that_echoes_a_secret_in_any_form_is_stored_redacted() {
    let value = format!("{TOKEN}/ü+ \"q\"");
    let server = Server::start();
    server.respond(
        "/echo",
        Response::json(
            200,
            json!({
                "plain": format!("key={value}"),
                "basic": format!("Basic {}", b64(&format!("user:{value}"))),
                "url": "https://x.test/?k=tok-live-5c1e8d2b9a%2F%C3%BC%2B+%22q%22",
            }),
        ),
    );
    server.script(
        "/fail",
        vec![Response::text(
            400,
            &format!("bad key {value} (raw) {}", b64(&value)),
        )],
    );
    let t = Test::new().write(
        "wf.toml",
        &format!(
            r#"name = "w"
[[steps]]
id = "call"
kind = "http"
approve = "never"
url = "{}"
headers = {{ Authorization = "Bearer {{{{ secret('API_TOKEN') }}}}" }}

[[steps]]
id = "fail"
kind = "http"
approve = "never"
url = "{}"
headers = {{ Authorization = "Bearer {{{{ secret('API_TOKEN') }}}}" }}
"#,
            server.url("/echo"),
            server.url("/fail")
        ),
    );
    t.args(&["secret", "set", "API_TOKEN"])
        .stdin(&value)
        .run()
        .success();
    let run = t.aios(&["run", "wf.toml"]).code(1);
    assert_eq!(
        server.requests_to("/echo")[0].header("authorization"),
        Some(format!("Bearer {value}").as_str())
    );
    let show = t.show(1);
    let out = &step(&show, "call")["output"];
    // The JSON body as the server wrote it (escaped quotes) came back parsed.
    assert_eq!(out["body"]["plain"], format!("key={PH}"));
    assert_eq!(out["body"]["basic"], format!("Basic {PH}"));
    assert_eq!(out["body"]["url"], format!("https://x.test/?k={PH}"));
    let err = step(&show, "fail")["error"].as_str().unwrap();
    assert!(
        err.contains(&format!("answered 400: bad key {PH} (raw) {PH}")),
        "{err}"
    );
    for text in [&run.stdout, &run.stderr, &show.to_string()] {
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert_eq!(
        grep_home(&t, TOKEN),
        vec![t.join("secrets/API_TOKEN").display().to_string()]
    );
    assert!(grep_home(&t, &b64(&format!("user:{value}"))).is_empty());
    assert!(grep_home(&t, "%C3%BC%2B+%22q%22").is_empty());
}

/// A provider answering 401 with the key it was given, then 500 with it: the calls,
/// the step's error and every listing hold the key's placeholder.
#[test]
fn a_provider_error_body_that_echoes_the_key_is_stored_redacted() {
    const KEY: &str = "sk-proj-echoed-1b2c3d4e5f";
    let server = LlmServer::start();
    server.script(vec![
        Reply::error(401, &format!("Incorrect API key provided: {KEY}.")),
        Reply::error(500, &format!("upstream failed for key {KEY}")),
        Reply::error(500, &format!("upstream failed for key {KEY}")),
        Reply::error(500, &format!("upstream failed for key {KEY}")),
    ]);
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("wf.toml", DRAFT)
        .env("LLM_KEY", KEY);
    // Both models failed: the step waits on a rescue item, which shows the replies'
    // errors redacted too.
    let run = t.aios(&["run", "wf.toml"]).success();
    assert_eq!(
        server.seen()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let item = t
        .aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("Incorrect API key provided: secret(\"LLM_KEY\").")
        .stdout_contains("upstream failed for key secret(\"LLM_KEY\")");
    let item_json = t.aios(&["inbox", "show", "1", "--json"]).success();
    // Giving up on it fails the step with the same (redacted) errors.
    t.aios(&["reject", "1", "--reason", "no key"]).code(1);
    let calls = t.aios(&["llm", "log", "--json"]).success();
    assert!(
        calls
            .stdout
            .contains("Incorrect API key provided: secret(\\\"LLM_KEY\\\")."),
        "{}",
        calls.stdout
    );
    assert!(
        calls
            .stdout
            .contains("upstream failed for key secret(\\\"LLM_KEY\\\")")
    );
    let show = t.show(1);
    let err = step(&show, "draft")["error"].as_str().unwrap();
    assert!(
        err.contains("the operator gave up on it at its rescue"),
        "{err}"
    );
    for out in [
        run.stdout,
        run.stderr,
        item.stdout,
        item_json.stdout,
        calls.stdout,
        show.to_string(),
        t.aios(&["llm", "log"]).success().stdout,
        t.aios(&["log", "1", "--json"]).success().stdout,
    ] {
        assert!(!out.contains(KEY), "{out}");
    }
    assert!(grep_home(&t, KEY).is_empty(), "{:?}", grep_home(&t, KEY));
}
