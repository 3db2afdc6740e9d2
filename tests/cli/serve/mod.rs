//! `aios hook` and `aios serve`: webhooks against the real binary on a loopback
//! port chosen by the test. Each refusal (404, 405, 401, 413, 400) starts nothing and
//! answers `{"error": …}`. Provider formats are in [`formats`], load and abuse in
//! [`load`].

mod formats;
mod load;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::{Value as Json, json};

use crate::support::{Background, Test, wait_until};

pub const GREET: &str = r#"
name = "greet"

[inputs.who]
type = "string"

[inputs.count]
type = "integer"
default = 1

[[steps]]
id = "hello"
kind = "set"
values = { text = "hello {{ inputs.who }} x{{ inputs.count }}" }
"#;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (every answer of the server is JSON).
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {:?}", self.body))
    }

    /// The `error` of a refusal.
    pub fn error(&self) -> String {
        let v = self.json();
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(1),
            "a refusal is {{\"error\": …}}, got {v}"
        );
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text in {v}"))
            .to_string()
    }
}

/// Parse one answer from `text` (a whole response, as read to the end).
pub fn parse_reply(text: &str) -> Reply {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A raw HTTP/1.1 request on a new connection (closed after the answer).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A hang guard, not a timing assertion.
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A refused body may be cut off by the server: ignore write errors past the head.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_reply(&String::from_utf8_lossy(&out))
}

pub fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    request(port, "POST", path, headers, body)
}

/// `sha256=<hex HMAC-SHA256 of body>`, computed here (not by aios).
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret, body)))
}

pub fn hmac(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The secret `hook add` printed.
pub fn printed_secret(stdout: &str) -> String {
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once; kept in "))
        .and_then(|l| l.split("): ").nth(1))
        .unwrap_or_else(|| panic!("no secret in: {stdout}"))
        .to_string();
    assert_eq!(secret.len(), 64);
    secret
}

/// Start `aios serve` on a free port; returns once it listens.
pub fn start(t: &Test, extra: &[&str]) -> (Background, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--addr", addr.as_str()];
    args.extend_from_slice(extra);
    let bg = t.args(&args).spawn();
    wait_until("the server listens", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (bg, port)
}

/// Register `greet`, start the server; returns (test, server, port, secret).
pub fn serving(extra: &[&str]) -> (Test, Background, u16, String) {
    let t = Test::new().write("greet.toml", GREET);
    let out = t.aios(&["hook", "add", "greet", "greet.toml"]).success();
    let secret = printed_secret(&out.stdout);
    let (bg, port) = start(&t, extra);
    (t, bg, port, secret)
}

pub fn run_count(t: &Test) -> usize {
    t.aios(&["runs", "--json", "--limit", "100000"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .len()
}

/// SIGTERM the server and wait for it to exit.
pub fn stop(bg: Background) -> crate::support::Output {
    // SAFETY: plain FFI call with the pid of our own, unreaped child.
    unsafe { libc::kill(bg.pid() as i32, libc::SIGTERM) };
    bg.wait()
}

/// Poll `cond` every 20 ms until it holds; fail after `limit` with `what`.
pub fn wait_within(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signed_request_starts_the_workflow_with_its_body_as_inputs() {
    let (t, bg, port, secret) = serving(&[]);
    let body = br#"{"who": "Ada", "count": 3}"#;
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, body))],
        body,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json(), json!({"run_id": 1, "status": "accepted"}));
    assert_eq!(r.header("content-type"), Some("application/json"));
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    let show = t.show(1);
    assert_eq!(show["inputs"], json!({"who": "Ada", "count": 3}));
    assert_eq!(show["steps"][0]["output"]["text"], "hello Ada x3");
    // A bearer token works too.
    let body = br#"{"who": "Grace"}"#;
    let auth = format!("Bearer {secret}");
    let r = post(port, "/hooks/greet", &[("Authorization", &auth)], body);
    assert_eq!(r.status, 202);
    wait_until("run 2 succeeds", || t.show(2)["status"] == "succeeded");
    let out = stop(bg).success();
    assert!(
        out.stderr
            .contains("aios serve: listening on http://127.0.0.1:")
    );
    assert!(out.stderr.contains("POST /hooks/greet: 202 run 1"));
    assert!(out.stderr.contains("run 1: succeeded"));
    assert!(
        out.stderr.ends_with("aios serve: stopped\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_requests_get_their_status_and_a_json_error_and_start_nothing() {
    let (t, bg, port, secret) = serving(&["--max-body", "256"]);
    let good = br#"{"who": "Ada"}"#;
    let signed = |body: &[u8]| sign(&secret, body);
    // Unknown hook; another path; another method.
    let r = post(
        port,
        "/hooks/nope",
        &[("X-Aios-Signature", &signed(good))],
        good,
    );
    assert_eq!((r.status, r.error()), (404, "no hook `nope`".into()));
    let r = post(port, "/elsewhere", &[], good);
    assert_eq!(r.status, 404);
    assert!(r.error().contains("POST /hooks/NAME"));
    let r = request(port, "GET", "/hooks/greet", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.error(), "use POST /hooks/greet (not GET)");
    assert_eq!(r.header("allow"), Some("POST"));
    // No credentials, a wrong signature, a signature of another body, a wrong token.
    let r = post(port, "/hooks/greet", &[], good);
    assert_eq!(r.status, 401);
    assert!(r.error().contains("X-Aios-Signature"));
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign("other", good))],
        good,
    );
    assert_eq!(r.status, 401);
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(br#"{"who": "Eve"}"#))],
        good,
    );
    assert_eq!(
        (r.status, r.error()),
        (401, "the signature does not match the body".into())
    );
    let r = post(
        port,
        "/hooks/greet",
        &[("Authorization", "Bearer nope")],
        good,
    );
    assert_eq!(r.status, 401);
    r.error();
    // Signed, but not JSON / not an object / inputs that do not fit.
    let bad = b"{who: Ada";
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(bad))],
        bad,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("the body is not JSON"));
    let list = b"[1, 2]";
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(list))],
        list,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("must be a JSON object"));
    let wrong = br#"{"who": "Ada", "count": "many"}"#;
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(wrong))],
        wrong,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("the inputs do not fit workflow `greet`"));
    let missing = br#"{"count": 2}"#;
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(missing))],
        missing,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("missing required input `who`"));
    // Too large (refused before anything is read into a run), as JSON too.
    let big = format!(r#"{{"who": "{}"}}"#, "x".repeat(400));
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &signed(big.as_bytes()))],
        big.as_bytes(),
    );
    assert_eq!(
        (r.status, r.error()),
        (413, "the body is larger than 256 bytes".into())
    );
    stop(bg).success();
    assert_eq!(run_count(&t), 0);
}

/// A request wrong in several ways gets the first refusal of the documented order:
/// unknown hook 404, then credentials 401, then size 413, then body 400.
#[test]
fn the_first_failed_check_decides_the_status() {
    let (t, bg, port, secret) = serving(&["--max-body", "64"]);
    let big_bad = format!("{{not json {}", "x".repeat(100));
    let big_bad = big_bad.as_bytes();
    let small_bad = b"{not json";
    let bearer = format!("Bearer {secret}");
    // Everything wrong: the hook is unknown.
    let r = post(port, "/hooks/nope", &[], big_bad);
    assert_eq!(r.status, 404);
    // Known hook, no credentials, too large, not JSON: 401.
    let r = post(port, "/hooks/greet", &[], big_bad);
    assert_eq!(r.status, 401);
    // A malformed signature header is settled before the size: 401.
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", "sha256=zz")],
        big_bad,
    );
    assert_eq!(r.status, 401);
    // Good credentials, too large, not JSON: 413.
    let r = post(port, "/hooks/greet", &[("Authorization", &bearer)], big_bad);
    assert_eq!(r.status, 413);
    // A well-formed signature over a too-large body: 413 (the body is not read, so
    // the signature cannot be checked; nothing is started either way).
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, big_bad))],
        big_bad,
    );
    assert_eq!(r.status, 413);
    // Within the size, a signature that does not match: 401 before the body's 400.
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign("wrong", small_bad))],
        small_bad,
    );
    assert_eq!(r.status, 401);
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, small_bad))],
        small_bad,
    );
    assert_eq!(r.status, 400);
    // A body sent in chunks without a length is measured as it arrives.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let chunk = "y".repeat(50);
    let req = format!(
        "POST /hooks/greet HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n{chunk}\r\n32\r\n{chunk}\r\n0\r\n\r\n"
    );
    let _ = s.write_all(req.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let r = parse_reply(&String::from_utf8_lossy(&out));
    assert_eq!(
        (r.status, r.error()),
        (413, "the body is larger than 64 bytes".into())
    );
    stop(bg).success();
    assert_eq!(run_count(&t), 0);
}

/// Webhook bodies are JSON: each value must have its input's JSON type; nothing is
/// converted through text (`"3"` is not an integer, an object is not a string).
#[test]
fn values_must_have_their_inputs_json_type() {
    let (t, bg, port, secret) = serving(&[]);
    let send = |body: &str| {
        post(
            port,
            "/hooks/greet",
            &[("X-Aios-Signature", &sign(&secret, body.as_bytes()))],
            body.as_bytes(),
        )
    };
    for (body, expected) in [
        (
            r#"{"who": {"name": "Ada"}}"#,
            "input `who` must be a string, got an object ({\"name\":\"Ada\"})",
        ),
        (
            r#"{"who": ["Ada"]}"#,
            "input `who` must be a string, got an array ([\"Ada\"])",
        ),
        (
            r#"{"who": 7}"#,
            "input `who` must be a string, got an integer (7)",
        ),
        (r#"{"who": null}"#, "input `who` must be a string, got null"),
        (
            r#"{"who": "Ada", "count": "3"}"#,
            "input `count` must be an integer, got a string (\"3\")",
        ),
        (
            r#"{"who": "Ada", "count": 2.5}"#,
            "input `count` must be an integer, got a fractional number (2.5)",
        ),
        (
            r#"{"who": "Ada", "count": true}"#,
            "input `count` must be an integer, got a boolean (true)",
        ),
    ] {
        let r = send(body);
        assert_eq!(r.status, 400, "{body}");
        let e = r.error();
        assert!(e.ends_with(expected), "{body}: {e}");
    }
    assert_eq!(run_count(&t), 0);
    let r = send(r#"{"who": "Ada", "count": 3}"#);
    assert_eq!(r.status, 202);
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    assert_eq!(t.show(1)["inputs"]["count"], 3);
    stop(bg).success();
}

#[test]
fn the_secret_is_kept_in_a_private_file_never_in_the_journal() {
    let (t, bg, port, secret) = serving(&[]);
    let auth = format!("Bearer {secret}");
    let r = post(
        port,
        "/hooks/greet",
        &[("Authorization", &auth)],
        br#"{"who": "Ada"}"#,
    );
    assert_eq!(r.status, 202);
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    stop(bg).success();
    let path = t.join("hooks/greet.secret");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    t.assert_journal_lacks(&secret);
    // Re-adding keeps the secret; --rotate replaces it; remove deletes it.
    t.aios(&["hook", "add", "greet", "greet.toml"])
        .success()
        .stdout_contains("hook greet updated")
        .stdout_contains("the secret is unchanged");
    let out = t
        .aios(&["hook", "add", "greet", "greet.toml", "--rotate"])
        .success();
    assert!(out.stdout.contains("secret (shown once"));
    assert_ne!(std::fs::read_to_string(&path).unwrap(), secret);
    let list = t.aios(&["hook", "list", "--json"]).success().json();
    assert_eq!(list[0]["name"], "greet");
    assert_eq!(list[0]["url_path"], "/hooks/greet");
    assert_eq!(list[0]["format"], "aios");
    assert_eq!(list[0]["payload"], Json::Null);
    t.aios(&["hook", "remove", "greet"]).success();
    assert!(!path.exists());
    t.aios(&["hook", "remove", "greet"])
        .code(3)
        .stderr_contains("no hook `greet`");
    t.aios(&["hook", "add", "../x", "greet.toml"])
        .code(2)
        .stderr_contains("invalid hook name `../x`");
}

/// A hook whose secret file is gone cannot check anything: 503 with Retry-After (the
/// operator can fix it; a provider tries again), not 500, and nothing starts.
#[test]
fn a_hook_without_its_secret_answers_503() {
    let (t, bg, port, secret) = serving(&[]);
    std::fs::remove_file(t.join("hooks/greet.secret")).unwrap();
    let body = br#"{"who": "Ada"}"#;
    let r = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, body))],
        body,
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        r.error(),
        "hook `greet` has no secret file; re-add it with: aios hook add greet FILE --rotate"
    );
    stop(bg).success();
    assert_eq!(run_count(&t), 0);
}
