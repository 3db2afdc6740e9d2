//! The session API and the pool against real servers started here:
//! `@modelcontextprotocol/server-everything` (node, over stdio and over streamable
//! HTTP) and `mcp-server-time` (Python), installed by `.ci/setup` under
//! `$AIOS_TEST_SERVERS` (default `<repo>/.test-servers`). A missing server fails the
//! test with a message naming `.ci/setup`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::config::{ConfigValue, McpSettings, STARTUP_TIMEOUT, ServerConfig, Transport};
use super::*;

pub(crate) fn servers_dir() -> PathBuf {
    std::env::var_os("AIOS_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers"))
}

fn installed(rel: &str) -> PathBuf {
    let p = servers_dir().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run .ci/setup to install the test servers (or set AIOS_TEST_SERVERS)",
        p.display()
    );
    p
}

pub(crate) fn everything() -> PathBuf {
    installed("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

fn time_server() -> PathBuf {
    installed("venv/bin/mcp-server-time")
}

fn base_env() -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), std::env::temp_dir().display().to_string()),
    ]
}

fn stdio(name: &str, command: Vec<String>, env: BTreeMap<String, ConfigValue>) -> ServerConfig {
    ServerConfig {
        name: name.into(),
        transport: Transport::Stdio {
            command,
            env,
            cwd: std::env::temp_dir(),
        },
        startup_timeout: STARTUP_TIMEOUT,
    }
}

fn everything_stdio() -> ServerConfig {
    stdio(
        "everything",
        vec![
            "node".into(),
            everything().display().to_string(),
            "stdio".into(),
        ],
        BTreeMap::new(),
    )
}

fn pool_of(servers: Vec<ServerConfig>, secrets: SecretFn) -> McpPool {
    let settings = McpSettings {
        origin: "config.toml".into(),
        servers: servers.into_iter().map(|s| (s.name.clone(), s)).collect(),
    };
    McpPool::new(settings, base_env(), secrets, None)
}

fn no_secrets() -> SecretFn {
    Arc::new(|_| None)
}

fn args(v: Json) -> Args {
    match v {
        Json::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

#[test]
fn stdio_lists_tools_and_calls_echo_and_get_sum() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let (tools, echo, sum) = pool
        .block_on(async {
            let s = pool.session("everything").await.unwrap();
            let tools = s.list_tools(Duration::from_secs(10)).await.unwrap();
            let echo = s
                .call_tool("echo", args(json!({"message": "hi"})), None, None)
                .await
                .unwrap();
            let sum = s
                .call_tool("get-sum", args(json!({"a": 2, "b": 3})), None, None)
                .await
                .unwrap();
            (tools, echo, sum)
        })
        .unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for want in [
        "echo",
        "get-sum",
        "get-env",
        "trigger-long-running-operation",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let echo_tool = tools.iter().find(|t| t.name == "echo").unwrap();
    assert!(echo_tool.annotations.is_read_only());
    assert_eq!(
        echo_tool.input_schema["properties"]["message"]["type"],
        "string"
    );
    assert_eq!(echo.output(), json!(["Echo: hi"]));
    assert!(!echo.is_error);
    assert_eq!(sum.text(), "The sum of 2 and 3 is 5.");
    // One server process, reused by every call of the pool.
    let pid1 = pool
        .block_on(pool.session("everything"))
        .unwrap()
        .unwrap()
        .pid();
    let pid2 = pool
        .block_on(pool.session("everything"))
        .unwrap()
        .unwrap()
        .pid();
    assert!(pid1.is_some() && pid1 == pid2);
    let pid = pid1.unwrap();
    assert!(alive(pid));
    pool.shutdown();
    assert!(!alive(pid), "the server outlived the pool's shutdown");
}

#[test]
fn structured_content_is_the_output() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let r = pool
        .block_on(async {
            let s = pool.session("everything").await.unwrap();
            s.call_tool(
                "get-structured-content",
                args(json!({"location": "Chicago"})),
                None,
                None,
            )
            .await
            .unwrap()
        })
        .unwrap();
    assert_eq!(
        r.output(),
        json!({"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82})
    );
}

#[test]
fn long_running_tool_reports_progress() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let cb: ProgressFn = Arc::new(move |p: Progress| s2.lock().unwrap().push(p.line()));
    let r = pool
        .block_on(async {
            let s = pool.session("everything").await.unwrap();
            s.call_tool(
                "trigger-long-running-operation",
                args(json!({"duration": 0.4, "steps": 4})),
                Some(Duration::from_secs(20)),
                Some(cb),
            )
            .await
            .unwrap()
        })
        .unwrap();
    assert!(
        r.text().contains("Long running operation completed"),
        "{}",
        r.text()
    );
    assert_eq!(*seen.lock().unwrap(), vec!["1/4", "2/4", "3/4", "4/4"]);
}

#[test]
fn errors_come_back_as_error_results() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let (bad_args, unknown) = pool
        .block_on(async {
            let s = pool.session("everything").await.unwrap();
            let bad = s
                .call_tool("get-sum", args(json!({"a": "two", "b": 3})), None, None)
                .await;
            let unknown = s.call_tool("no-such-tool", Args::new(), None, None).await;
            (bad, unknown)
        })
        .unwrap();
    // server-everything answers both with an error result (`isError`), its message
    // in the text content.
    let bad = bad_args.unwrap();
    assert!(bad.is_error);
    assert!(
        bad.text().contains("Invalid arguments for tool get-sum"),
        "{}",
        bad.text()
    );
    let unknown = unknown.unwrap();
    assert!(unknown.is_error);
    assert_eq!(
        unknown.text(),
        "MCP error -32602: Tool no-such-tool not found"
    );
}

#[test]
fn a_server_killed_mid_call_fails_the_call_and_is_started_again() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let (first_tx, first_rx) = std::sync::mpsc::channel::<()>();
    let first_tx = Mutex::new(Some(first_tx));
    let cb: ProgressFn = Arc::new(move |_| {
        if let Some(tx) = first_tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
    });
    let s = pool.block_on(pool.session("everything")).unwrap().unwrap();
    let pid = s.pid().unwrap();
    let started = Instant::now();
    let result = std::thread::scope(|scope| {
        let call = scope.spawn(|| {
            pool.block_on(s.call_tool(
                "trigger-long-running-operation",
                args(json!({"duration": 30, "steps": 60})),
                None,
                Some(cb),
            ))
            .unwrap()
        });
        // The call is under way once the first progress arrives.
        first_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
        call.join().unwrap()
    });
    let e = result.unwrap_err();
    assert!(matches!(e, McpError::Closed { .. }), "{e}");
    assert!(e.retryable());
    assert!(
        e.to_string()
            .starts_with("MCP server `everything` closed the connection during `tools/call trigger-long-running-operation`"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the failure took {:?}",
        started.elapsed()
    );
    // The next use starts the server again.
    let again = pool.block_on(pool.session("everything")).unwrap().unwrap();
    assert_ne!(again.pid(), Some(pid));
    let r = pool
        .block_on(again.call_tool("echo", args(json!({"message": "back"})), None, None))
        .unwrap()
        .unwrap();
    assert_eq!(r.text(), "Echo: back");
}

#[test]
fn a_call_past_its_timeout_is_cancelled_and_the_live_server_kept() {
    let pool = pool_of(vec![everything_stdio()], no_secrets());
    let s = pool.block_on(pool.session("everything")).unwrap().unwrap();
    let e = pool
        .block_on(s.call_tool(
            "trigger-long-running-operation",
            args(json!({"duration": 20, "steps": 2})),
            Some(Duration::from_millis(300)),
            None,
        ))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "MCP server `everything` did not answer `tools/call trigger-long-running-operation` within 300ms; the request was cancelled"
    );
    // The server still answers: the same process serves the next call.
    let next = pool.block_on(pool.session("everything")).unwrap().unwrap();
    assert_eq!(next.pid(), s.pid());
    let r = pool
        .block_on(next.call_tool("echo", args(json!({"message": "still here"})), None, None))
        .unwrap()
        .unwrap();
    assert_eq!(r.text(), "Echo: still here");
}

#[test]
fn a_server_sees_only_the_base_environment_and_its_own_env() {
    let mut env = BTreeMap::new();
    env.insert("GREETING".to_string(), ConfigValue::Literal("hello".into()));
    env.insert("TOKEN".to_string(), ConfigValue::Secret("MCP_TOKEN".into()));
    let cfg = stdio(
        "everything",
        vec![
            "node".into(),
            everything().display().to_string(),
            "stdio".into(),
        ],
        env,
    );
    let secrets: SecretFn = Arc::new(|name| match name {
        "MCP_TOKEN" => Some("given-token-123".into()),
        "OTHER_KEY" => Some("never-given-456".into()),
        _ => None,
    });
    let pool = pool_of(vec![cfg], secrets);
    let (text, redacted) = pool
        .block_on(async {
            let s = pool.session("everything").await.unwrap();
            let r = s
                .call_tool("get-env", Args::new(), None, None)
                .await
                .unwrap();
            (r.text(), s.redact(r.output()))
        })
        .unwrap();
    let seen: serde_json::Map<String, Json> = serde_json::from_str(&text).unwrap();
    assert_eq!(seen["GREETING"], "hello");
    assert_eq!(seen["TOKEN"], "given-token-123");
    assert!(seen.contains_key("PATH") && seen.contains_key("HOME"));
    assert!(!text.contains("never-given-456"));
    // Nothing of this test process's environment (CARGO_*, RUST_*…) passes through.
    for k in seen.keys() {
        assert!(
            ["GREETING", "TOKEN", "PATH", "HOME"].contains(&k.as_str()),
            "unexpected variable {k} in the server's environment"
        );
    }
    // The secret given to the server is redacted from what would be journaled.
    let out = redacted.to_string();
    assert!(
        !out.contains("given-token-123") && out.contains("[secret MCP_TOKEN]"),
        "{out}"
    );
}

#[test]
fn a_missing_secret_or_program_fails_the_start_clearly() {
    let mut env = BTreeMap::new();
    env.insert("TOKEN".to_string(), ConfigValue::Secret("NOT_SET".into()));
    let a = stdio("a", vec!["node".into()], env);
    let b = stdio("b", vec!["no-such-program-aios".into()], BTreeMap::new());
    let pool = pool_of(vec![a, b], no_secrets());
    let ea = pool.block_on(pool.session("a")).unwrap().unwrap_err();
    assert_eq!(
        ea.to_string(),
        "MCP server `a` could not be started: the secret `NOT_SET` (its env `TOKEN`) is not set"
    );
    let eb = pool.block_on(pool.session("b")).unwrap().unwrap_err();
    assert_eq!(
        eb.to_string(),
        "MCP server `b` could not be started: program `no-such-program-aios` not found on PATH"
    );
    let ec = pool.block_on(pool.session("c")).unwrap().unwrap_err();
    assert_eq!(
        ec.to_string(),
        "no MCP server `c` is configured (config.toml has no [mcp.c]; configured: a, b)"
    );
}

#[test]
fn a_server_that_exits_at_once_says_why() {
    let cfg = stdio(
        "broken",
        vec![
            "sh".into(),
            "-c".into(),
            "echo 'cannot open the database' >&2; exit 3".into(),
        ],
        BTreeMap::new(),
    );
    let pool = pool_of(vec![cfg], no_secrets());
    let e = pool.block_on(pool.session("broken")).unwrap().unwrap_err();
    let msg = e.to_string();
    assert_eq!(
        msg,
        "MCP server `broken` could not be started: it exited (or closed its output) before the MCP handshake finished; its last stderr lines:\ncannot open the database"
    );
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `node index.js streamableHttp` on a free port; killed on drop.
pub(crate) struct HttpServer {
    child: std::process::Child,
    pub port: u16,
}

impl HttpServer {
    pub(crate) fn start() -> HttpServer {
        let script = everything();
        for _ in 0..5 {
            let port = free_port();
            let mut child = std::process::Command::new("node")
                .arg(&script)
                .arg("streamableHttp")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("PORT", port.to_string())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start node");
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return HttpServer { child, port };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("server-everything did not listen over HTTP");
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn streamable_http_lists_and_calls() {
    let server = HttpServer::start();
    let cfg = ServerConfig {
        name: "remote".into(),
        transport: Transport::Http {
            url: server.url(),
            headers: [("X-Team".to_string(), ConfigValue::Literal("ops".into()))]
                .into_iter()
                .collect(),
        },
        startup_timeout: STARTUP_TIMEOUT,
    };
    let pool = pool_of(vec![cfg], no_secrets());
    let seen = Arc::new(Mutex::new(0));
    let s2 = seen.clone();
    let cb: ProgressFn = Arc::new(move |_| *s2.lock().unwrap() += 1);
    let (tools, sum, long) = pool
        .block_on(async {
            let s = pool.session("remote").await.unwrap();
            let tools = s.list_tools(Duration::from_secs(10)).await.unwrap();
            let sum = s
                .call_tool("get-sum", args(json!({"a": 40, "b": 2})), None, None)
                .await
                .unwrap();
            let long = s
                .call_tool(
                    "trigger-long-running-operation",
                    args(json!({"duration": 0.3, "steps": 3})),
                    Some(Duration::from_secs(20)),
                    Some(cb),
                )
                .await
                .unwrap();
            (tools, sum, long)
        })
        .unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    assert_eq!(sum.text(), "The sum of 40 and 2 is 42.");
    assert!(!long.is_error);
    assert_eq!(*seen.lock().unwrap(), 3);
    pool.shutdown();
}

#[test]
fn the_python_time_server_answers() {
    let cfg = stdio(
        "time",
        vec![
            time_server().display().to_string(),
            "--local-timezone".into(),
            "UTC".into(),
        ],
        BTreeMap::new(),
    );
    let pool = pool_of(vec![cfg], no_secrets());
    let (tools, r) = pool
        .block_on(async {
            let s = pool.session("time").await.unwrap();
            let tools = s.list_tools(Duration::from_secs(20)).await.unwrap();
            let r = s
                .call_tool(
                    "convert_time",
                    args(json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})),
                    None,
                    None,
                )
                .await
                .unwrap();
            (tools, r)
        })
        .unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"get_current_time") && names.contains(&"convert_time"),
        "{names:?}"
    );
    assert!(!r.is_error, "{r:?}");
    // Tokyo is UTC+9 all year: 12:00 UTC is 21:00 there, whatever the date.
    assert!(r.text().contains("21:00"), "{}", r.text());
}
