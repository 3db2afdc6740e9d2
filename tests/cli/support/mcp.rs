//! Real MCP servers for the tests, installed by `.ci/setup` under `$AIOS_TEST_SERVERS`
//! (default `<repo>/.test-servers`): `@modelcontextprotocol/server-everything` (run
//! with node, over stdio or streamable HTTP) and `mcp-server-time`. A missing server
//! fails the test with a message naming `.ci/setup`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn servers_dir() -> PathBuf {
    std::env::var_os("AIOS_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers"))
}

fn installed(rel: &str) -> String {
    let p = servers_dir().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run .ci/setup to install the test servers (or set AIOS_TEST_SERVERS)",
        p.display()
    );
    p.display().to_string()
}

/// The server-everything script (`node SCRIPT stdio`).
pub fn everything() -> String {
    installed("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

/// The `mcp-server-time` program.
pub fn time_server() -> String {
    installed("venv/bin/mcp-server-time")
}

/// A TOML string literal.
pub fn q(s: &str) -> String {
    format!("{:?}", s)
}

/// `[mcp.everything]` over stdio.
pub fn everything_config() -> String {
    format!(
        "[mcp.everything]\ncommand = [\"node\", {}, \"stdio\"]\n",
        q(&everything())
    )
}

/// `[mcp.NAME]` running server-everything through `sh`, which first appends its pid
/// to `pidfile` (so a test can see how many servers were started, and stop one).
pub fn everything_recording_pids(name: &str, pidfile: &Path) -> String {
    let script = format!(
        "echo $$ >> '{}'; exec node '{}' stdio",
        pidfile.display(),
        everything()
    );
    format!("[mcp.{name}]\ncommand = [\"sh\", \"-c\", {}]\n", q(&script))
}

/// The pids recorded in `pidfile`.
pub fn pids(pidfile: &Path) -> Vec<u32> {
    std::fs::read_to_string(pidfile)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Poll `f` until it holds, or fail after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        // Polling a condition with a deadline.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// server-everything over streamable HTTP on a free loopback port; killed on drop.
pub struct HttpServer {
    child: Child,
    pub port: u16,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        let script = everything();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("node")
                .arg(&script)
                .arg("streamableHttp")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("PORT", port.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
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
                // Polling for the server to listen, with a deadline.
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("server-everything did not listen over HTTP");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A side-effecting MCP tool the test controls, on the Python SDK of `.ci/setup`'s
/// venv (over stdio): `ledger.charge(amount)` (annotated `readOnlyHint: false`)
/// appends `amount` to `calls` as it arrives, then answers `charged AMOUNT` only
/// once the file `gate` exists. The script is written into `dir`; returns the
/// `[mcp.ledger]` section.
pub fn ledger_config(dir: &Path, calls: &Path, gate: &Path) -> String {
    let python = installed("venv/bin/python");
    let script = dir.join("ledger.py");
    std::fs::write(
        &script,
        r#"import asyncio, os, sys
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

CALLS, GATE = sys.argv[1], sys.argv[2]
server = MCPServer("ledger")

@server.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=False))
async def charge(amount: int) -> str:
    """Charge the customer."""
    with open(CALLS, "a") as f:
        f.write(f"{amount}\n")
    while not os.path.exists(GATE):
        await asyncio.sleep(0.02)
    return f"charged {amount}"

server.run()
"#,
    )
    .unwrap();
    format!(
        "[mcp.ledger]\ncommand = [{}, {}, {}, {}]\n",
        q(&python),
        q(&script.display().to_string()),
        q(&calls.display().to_string()),
        q(&gate.display().to_string()),
    )
}

/// The calls `ledger.charge` received (one amount a line).
pub fn ledger_calls(calls: &Path) -> Vec<String> {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
