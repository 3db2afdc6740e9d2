//! What the benches that time the release binary share: finding it, running it in a
//! temp `AIOS_HOME` with an empty environment, the MCP test server's path, and the
//! figures' arithmetic and units. Each bench uses some of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub type BenchResult<T> = Result<T, String>;

/// The release binary cargo built, or the one `BENCH_AIOS` names (to measure
/// another build, say the one before a change, with the same bench).
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
    Err("cannot find the aios binary; run `cargo build --release` first".into())
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
            "`aios {}` failed: {}",
            args.join(" "),
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
