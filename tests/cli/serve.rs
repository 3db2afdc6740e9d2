//! `aios hook` and `aios serve`: webhooks against the real binary on a loopback
//! port chosen by the test. Each refusal (404, 401, 400, 413) starts nothing.

use std::io::{Read, Write};
use std::net::TcpStream;

use hmac::{KeyInit, Mac};

use crate::support::{Background, Test, wait_until};

const GREET: &str = r#"
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw HTTP/1.1 POST; returns (status, body).
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
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
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Register `greet`, start the server; returns (test, server, port, secret).
fn serving(extra: &[&str]) -> (Test, Background, u16, String) {
    let t = Test::new().write("greet.toml", GREET);
    let out = t.aios(&["hook", "add", "greet", "greet.toml"]).success();
    let secret = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once; kept in "))
        .and_then(|l| l.split("): ").nth(1))
        .unwrap_or_else(|| panic!("no secret in: {}", out.stdout))
        .to_string();
    assert_eq!(secret.len(), 64);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--addr", addr.as_str()];
    args.extend_from_slice(extra);
    let bg = t.args(&args).spawn();
    wait_until("the server listens", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (t, bg, port, secret)
}

fn run_count(t: &Test) -> usize {
    t.aios(&["runs", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .len()
}

fn stop(bg: Background) -> crate::support::Output {
    // SAFETY: plain FFI call with the pid of our own, unreaped child.
    unsafe { libc::kill(bg.pid() as i32, libc::SIGTERM) };
    bg.wait()
}

#[test]
fn a_signed_request_starts_the_workflow_with_its_body_as_inputs() {
    let (t, bg, port, secret) = serving(&[]);
    let body = br#"{"who": "Ada", "count": 3}"#;
    let (status, resp) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, body))],
        body,
    );
    assert_eq!(status, 202, "{resp}");
    let resp: serde_json::Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(resp["run_id"], 1);
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    let show = t.show(1);
    assert_eq!(
        show["inputs"],
        serde_json::json!({"who": "Ada", "count": 3})
    );
    assert_eq!(show["steps"][0]["output"]["text"], "hello Ada x3");
    // A bearer token works too.
    let body = br#"{"who": "Grace"}"#;
    let auth = format!("Bearer {secret}");
    let (status, _) = post(port, "/hooks/greet", &[("Authorization", &auth)], body);
    assert_eq!(status, 202);
    wait_until("run 2 succeeds", || t.show(2)["status"] == "succeeded");
    let out = stop(bg).success();
    assert!(
        out.stderr
            .contains("aios serve: listening on http://127.0.0.1:")
    );
    assert!(out.stderr.contains("POST /hooks/greet: 202 run 1"));
    assert!(
        out.stderr.ends_with("aios serve: stopped\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_requests_get_their_status_and_start_nothing() {
    let (t, bg, port, secret) = serving(&["--max-body", "256"]);
    let good = br#"{"who": "Ada"}"#;
    // Unknown hook.
    let (status, body) = post(
        port,
        "/hooks/nope",
        &[("X-Aios-Signature", &sign(&secret, good))],
        good,
    );
    assert_eq!(status, 404);
    assert!(body.contains("no hook `nope`"), "{body}");
    // No credentials, a wrong signature, a signature of another body, a wrong token.
    let (status, body) = post(port, "/hooks/greet", &[], good);
    assert_eq!(status, 401);
    assert!(body.contains("X-Aios-Signature"), "{body}");
    let (status, _) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign("other", good))],
        good,
    );
    assert_eq!(status, 401);
    let (status, body) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, br#"{"who": "Eve"}"#))],
        good,
    );
    assert_eq!(status, 401);
    assert!(body.contains("does not match the body"), "{body}");
    let (status, _) = post(
        port,
        "/hooks/greet",
        &[("Authorization", "Bearer nope")],
        good,
    );
    assert_eq!(status, 401);
    // Signed, but not JSON / not an object / inputs that do not fit.
    let bad = b"{who: Ada";
    let (status, body) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, bad))],
        bad,
    );
    assert_eq!(status, 400);
    assert!(body.contains("the body is not JSON"), "{body}");
    let list = b"[1, 2]";
    let (status, body) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, list))],
        list,
    );
    assert_eq!(status, 400);
    assert!(body.contains("must be a JSON object"), "{body}");
    let wrong = br#"{"who": "Ada", "count": "many"}"#;
    let (status, body) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, wrong))],
        wrong,
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("the inputs do not fit workflow `greet`"),
        "{body}"
    );
    let missing = br#"{"count": 2}"#;
    let (status, _) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, missing))],
        missing,
    );
    assert_eq!(status, 400);
    // Too large (refused before anything is read into a run).
    let big = format!(r#"{{"who": "{}"}}"#, "x".repeat(400));
    let (status, _) = post(
        port,
        "/hooks/greet",
        &[("X-Aios-Signature", &sign(&secret, big.as_bytes()))],
        big.as_bytes(),
    );
    assert_eq!(status, 413);
    stop(bg).success();
    assert_eq!(run_count(&t), 0);
}

#[test]
fn the_secret_is_kept_in_a_private_file_never_in_the_journal() {
    let (t, bg, port, secret) = serving(&[]);
    let auth = format!("Bearer {secret}");
    let (status, _) = post(
        port,
        "/hooks/greet",
        &[("Authorization", &auth)],
        br#"{"who": "Ada"}"#,
    );
    assert_eq!(status, 202);
    wait_until("run 1 succeeds", || t.show(1)["status"] == "succeeded");
    stop(bg).success();
    let path = t.join("hooks/greet.secret");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    for f in ["aios.db", "aios.db-wal"] {
        if let Ok(bytes) = std::fs::read(t.join(f)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret), "the secret is in {f}");
        }
    }
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
    t.aios(&["hook", "remove", "greet"]).success();
    assert!(!path.exists());
    t.aios(&["hook", "remove", "greet"])
        .code(3)
        .stderr_contains("no hook `greet`");
    t.aios(&["hook", "add", "../x", "greet.toml"])
        .code(2)
        .stderr_contains("invalid hook name `../x`");
}
