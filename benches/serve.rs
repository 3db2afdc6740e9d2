//! `aios serve` under load: the release binary in a temp AIOS_HOME, a hook whose
//! workflow is one `set` step, and
//!
//! 1. 20 concurrent clients × 500 signed requests each (kept-alive connections on
//!    loopback), after 100 warm-up requests: every answer must be 202, and every
//!    request must end up as exactly one run, driven to `succeeded` (checked in the
//!    journal). Reports p50/p99/max latency and requests per second;
//! 2. a flood of 2,000 connections held open (1,000 idle, 1,000 sending their
//!    request head one byte a second), then 50 valid requests one after another on
//!    new connections: their latency (goal: under 1 s).
//!
//! Prints a markdown table and PASS/FAIL against the targets.
//!
//! `cargo bench --bench serve` (`-- --quick`: 20 × 100 requests, a 500-connection flood).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};

mod common;

const CLIENTS: usize = 20;
const P99_TARGET: Duration = Duration::from_millis(100);
const FLOOD_TARGET: Duration = Duration::from_secs(1);

const WORKFLOW: &str = r#"
name = "greet"

[inputs.who]
type = "string"

[[steps]]
id = "hello"
kind = "set"
values = { text = "hello {{ inputs.who }}" }
"#;

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One signed request on a kept-alive connection; returns the status.
fn post(s: &mut BufReader<TcpStream>, secret: &str, who: &str) -> u16 {
    let body = format!(r#"{{"who": "{who}"}}"#);
    let req = format!(
        "POST /hooks/greet HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Aios-Signature: {}\r\n\r\n{body}",
        body.len(),
        sign(secret, body.as_bytes())
    );
    s.get_mut().write_all(req.as_bytes()).expect("send");
    let mut status = 0;
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).expect("read the answer") == 0 {
            return 0;
        }
        if status == 0 {
            status = line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
        } else if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).expect("read the body");
    status
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    BufReader::new(s)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Each run's status and `who`, from the journal.
fn runs(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the journal");
    c.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = c.prepare("SELECT status, inputs FROM runs").expect("query");
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("rows")
        .map(|r| {
            let (status, inputs) = r.expect("row");
            let v: serde_json::Value = serde_json::from_str(&inputs).expect("inputs");
            (status, v["who"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn raise_open_files(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < n {
            lim.rlim_cur = n.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

struct Server {
    child: Child,
    port: u16,
    log_lines: std::thread::JoinHandle<Vec<String>>,
}

fn start(bin: &Path, home: &Path) -> Server {
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("AIOS_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aios serve");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("the server's first line");
    let port = first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    // Drain the log (one line per request and per run) so the server never blocks on it;
    // keep what is not a 202 or a success.
    let log_lines = std::thread::spawn(move || {
        err.lines()
            .map_while(Result::ok)
            .filter(|l| !l.contains(": 202 run ") && !l.ends_with(": succeeded"))
            .collect()
    });
    Server {
        child,
        port,
        log_lines,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let each = if quick { 100 } else { 500 };
    let flood_n = if quick { 500 } else { 2000 };
    raise_open_files(flood_n as u64 + 1024);
    let bin = common::aios_binary().unwrap_or_else(|e| panic!("{e}"));
    let home = std::env::temp_dir().join(format!("aios-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("temp dir");
    std::fs::write(home.join("greet.toml"), WORKFLOW).expect("workflow");
    let out = Command::new(&bin)
        .args(["hook", "add", "greet", "greet.toml"])
        .current_dir(&home)
        .env_clear()
        .env("AIOS_HOME", &home)
        .output()
        .expect("hook add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once; kept in "))
        .and_then(|l| l.split("): ").nth(1))
        .expect("a secret")
        .to_string();
    let server = start(&bin, &home);
    let port = server.port;

    // Warm-up.
    {
        let mut s = connect(port);
        for i in 0..100 {
            assert_eq!(post(&mut s, &secret, &format!("warm-{i}")), 202);
        }
    }

    // 1. Load.
    let secret = Arc::new(secret);
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let secret = secret.clone();
            std::thread::spawn(move || {
                let mut s = connect(port);
                let mut lat = Vec::with_capacity(each);
                let mut errors = 0usize;
                for i in 0..each {
                    let t = Instant::now();
                    let status = post(&mut s, &secret, &format!("c{c}-{i}"));
                    lat.push(t.elapsed());
                    if status != 202 {
                        errors += 1;
                        s = connect(port);
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut errors = 0;
    for c in clients {
        let (l, e) = c.join().expect("client");
        lat.extend(l);
        errors += e;
    }
    let wall = started.elapsed();
    lat.sort();
    let total = CLIENTS * each;
    let rps = total as f64 / wall.as_secs_f64();
    // Every accepted run is driven to the end by the server itself.
    let db = home.join("aios.db");
    let expected_runs = total + 100;
    let driven_by = Instant::now() + Duration::from_secs(300);
    let all = loop {
        let all = runs(&db);
        if all.len() >= expected_runs && all.iter().all(|(s, _)| s == "succeeded") {
            break all;
        }
        assert!(
            Instant::now() < driven_by,
            "runs were not all driven within 300 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let drained = started.elapsed();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, who) in &all {
        *seen.entry(who.clone()).or_default() += 1;
    }
    let once = all.len() == expected_runs
        && (0..CLIENTS).all(|c| (0..each).all(|i| seen.get(&format!("c{c}-{i}")) == Some(&1)));

    // 2. A flood, then valid requests on new connections.
    let mut flood = Vec::with_capacity(flood_n);
    for i in 0..flood_n {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("flood connect");
        if i % 2 == 1 {
            let _ = s.write_all(b"POST /hooks/greet HTTP/1.1\r\nHost: x\r\n");
        }
        flood.push(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = stop.clone();
        let mut trickle: Vec<TcpStream> = flood
            .iter()
            .skip(1)
            .step_by(2)
            .filter_map(|s| s.try_clone().ok())
            .collect();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for s in &mut trickle {
                    let _ = s.write(b"X");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let mut flood_lat = Vec::new();
    let mut flood_errors = 0;
    for i in 0..50 {
        let t = Instant::now();
        let status = post(&mut connect(port), &secret, &format!("flood-{i}"));
        flood_lat.push(t.elapsed());
        if status != 202 {
            flood_errors += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    trickler.join().expect("trickler");
    drop(flood);
    flood_lat.sort();

    // SAFETY: plain FFI call with the pid of our own, unreaped child.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let mut child = server.child;
    let status = child.wait().expect("wait for the server");
    let other_lines = server.log_lines.join().expect("log");
    let _ = std::fs::remove_dir_all(&home);

    let p50 = pct(&lat, 0.50);
    let p99 = pct(&lat, 0.99);
    println!(
        "\n`aios serve`, release binary, loopback: {CLIENTS} clients × {each} signed requests (kept-alive connections)\n"
    );
    println!("| what | value | target | |");
    println!("|---|---:|---|---|");
    let row = |what: &str, value: String, target: &str, ok: bool| {
        println!(
            "| {what} | {value} | {target} | {} |",
            if ok { "PASS" } else { "FAIL" }
        )
    };
    row(
        "requests answered other than 202",
        errors.to_string(),
        "0",
        errors == 0,
    );
    row(
        "runs recorded (each request exactly once)",
        all.len().to_string(),
        &format!("{expected_runs}, each once"),
        once,
    );
    row("latency p50", ms(p50), "", true);
    row("**latency p99**", ms(p99), "under 100 ms", p99 < P99_TARGET);
    row("latency max", ms(*lat.last().expect("latencies")), "", true);
    row("requests per second", format!("{rps:.0}"), "", true);
    row(
        "all runs succeeded, since the first request",
        format!("{:.2} s", drained.as_secs_f64()),
        "",
        true,
    );
    row(
        &format!("valid request during a {flood_n}-connection flood, p50"),
        ms(pct(&flood_lat, 0.5)),
        "",
        true,
    );
    row(
        &format!("valid request during a {flood_n}-connection flood, max of 50"),
        ms(*flood_lat.last().expect("latencies")),
        "under 1 s, all 202",
        flood_errors == 0 && *flood_lat.last().expect("latencies") < FLOOD_TARGET,
    );
    row(
        "server exit after SIGTERM",
        format!("{:?}", status.code()),
        "Some(0)",
        status.success(),
    );
    if !other_lines.is_empty() {
        println!("\nserver lines other than 202s and successes:");
        for l in other_lines.iter().take(20) {
            println!("  {l}");
        }
    }
}
