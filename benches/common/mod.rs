//! What the benches that time the release binary share: finding it, running it in a
//! temp `AIOS_HOME` with an empty environment, the MCP test server's path and a
//! direct client's `echo` latencies, the events of `aios log --json`, a loopback
//! OpenAI-compatible server, reaping a child with its peak RSS and CPU time
//! (`wait4`), and the figures' arithmetic and units. Each bench uses
//! some of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub type BenchResult<T> = Result<T, String>;

/// The release `aios` binary: the one `BENCH_AIOS` names (to measure another build,
/// say the one before a change, with the same bench), else Cargo's `CARGO_BIN_EXE_aios`
/// (set for benches), else `aios` next to the bench executable's `deps/` folder.
pub fn aios_binary() -> BenchResult<PathBuf> {
    if let Some(p) = std::env::var_os("BENCH_AIOS").map(PathBuf::from) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("BENCH_AIOS: {} is not a file", p.display()))
        };
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_aios").map(PathBuf::from)
        && p.is_file()
    {
        return Ok(p);
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("aios"))
        .filter(|p| p.is_file());
    candidate.ok_or_else(|| {
        format!(
            "cannot find the aios binary (CARGO_BIN_EXE_aios unset, nothing next to {}); \
             run `cargo build --release` first",
            exe.display()
        )
    })
}

pub fn run(bin: &Path, home: &Path, args: &[&str]) -> BenchResult<(Duration, String)> {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIOS_HOME", home)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let wall = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "`aios {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((wall, String::from_utf8_lossy(&out.stdout).into_owned()))
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// server-everything as `.ci/setup` installs it (under `AIOS_TEST_SERVERS`).
pub fn everything() -> BenchResult<PathBuf> {
    let dir = std::env::var_os("AIOS_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers"));
    let p = dir.join("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} is missing: run .ci/setup", p.display()))
    }
}

/// A direct rmcp client of server-everything (`node SCRIPT stdio`): the latency of
/// each `echo` call after `warmup` untimed ones, `calls` of them (the MCP server's
/// time plus the pipe); an error result fails.
pub fn direct_echo_times(script: &Path, warmup: usize, calls: usize) -> BenchResult<Vec<Duration>> {
    use rmcp::ServiceExt;
    use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(script).arg("stdio");
        let transport = rmcp::transport::TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?
            .0;
        let client = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("bench", "0"),
        )
        .serve(transport)
        .await
        .map_err(|e| e.to_string())?;
        let mut times = Vec::with_capacity(calls);
        for i in 0..warmup + calls {
            let mut args = serde_json::Map::new();
            args.insert("message".into(), format!("m{i}").into());
            let t = Instant::now();
            let r = client
                .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
                .await
                .map_err(|e| e.to_string())?;
            let took = t.elapsed();
            if r.is_error == Some(true) {
                return Err("echo failed".to_string());
            }
            if i >= warmup {
                times.push(took);
            }
        }
        let _ = client.cancel().await;
        Ok(times)
    })
}

/// The events of an `aios log RUN --json` output.
pub fn log_events(log: &str) -> BenchResult<Vec<serde_json::Value>> {
    match serde_json::from_str(log).map_err(|e| e.to_string())? {
        serde_json::Value::Array(events) => Ok(events),
        _ => Err("the log is not a list".into()),
    }
}

/// When a logged event was journaled.
pub fn event_at(e: &serde_json::Value) -> BenchResult<jiff::Timestamp> {
    e["at"]
        .as_str()
        .ok_or("an event without `at`")?
        .parse::<jiff::Timestamp>()
        .map_err(|e| e.to_string())
}

/// The journaled time from logged event `a` to `b`.
pub fn journaled_between(a: &serde_json::Value, b: &serde_json::Value) -> BenchResult<Duration> {
    Duration::try_from(event_at(b)?.duration_since(event_at(a)?)).map_err(|e| e.to_string())
}

/// Time spent inside a loopback server, and requests served.
#[derive(Default)]
pub struct ServerClock {
    pub nanos: AtomicU64,
    pub requests: AtomicUsize,
}

/// A loopback OpenAI-compatible server on a free port: each request's body goes to
/// `reply`, whose text is the JSON answer; the time from a request's first line to
/// its answer is added to `clock`.
pub fn start_llm_server(clock: Arc<ServerClock>, reply: fn(&str) -> String) -> BenchResult<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let clock = clock.clone();
            std::thread::spawn(move || {
                let _ = serve(conn, &clock, reply);
            });
        }
    });
    Ok(port)
}

fn serve(conn: TcpStream, clock: &ServerClock, reply: fn(&str) -> String) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let start = Instant::now();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let r = reply(&String::from_utf8_lossy(&body));
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            r.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(r.as_bytes())?;
        out.flush()?;
        clock
            .nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        clock.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reap `pid` with `wait4`: its exit status, peak RSS (KiB) and CPU time (user +
/// system, all its threads).
pub fn wait4(pid: u32) -> BenchResult<(ExitStatus, u64, Duration)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero is a valid `rusage` (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the duration of the call.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r == pid as libc::pid_t {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4({pid}): {err}"));
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok((
        ExitStatus::from_raw(status),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
        tv(usage.ru_utime) + tv(usage.ru_stime),
    ))
}
