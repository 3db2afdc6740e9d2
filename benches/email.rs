//! What an `email` step costs aios on top of the SMTP server's own time, against
//! the test suite's server (`tests/smtp_server.py` on aiosmtpd, plain SMTP on
//! loopback, no login: the same for both sides, so TLS and the server's recording
//! of each message to disk are part of the baseline):
//!
//! 1. a direct lettre client: one pooled connection, N messages sent in a row,
//!    timed per message. The server's time plus the protocol: the baseline;
//! 2. `aios run FILE -q` of the release binary on N sequential `email` steps
//!    (`approve = "never"`), per step: from the first step's start to the last
//!    step's success as journaled (process and database start-up stay out of it),
//!    divided by N. The wall time of the whole run and of a one-step run are shown.
//!
//! aios's share of a message is (2) minus (1): rendering (addresses parsed, the
//! Message-ID fixed), building the MIME message, two journal commits per step, the
//! hop to the commit's runtime. Goal: under 5 ms. Run it with `cargo bench --bench
//! email` (`-- --quick`: 3 runs instead of 7). The server's Python comes from
//! `.ci/setup` (`$AIOS_TEST_SERVERS/venv`, default `<repo>/.test-servers`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

mod common;
use common::{BenchResult, aios_binary, journaled_between, log_events, median, ms, p99, run, us};

const N: usize = 200;
const TARGET: Duration = Duration::from_millis(5);

fn main() {
    if let Err(e) = bench() {
        eprintln!("email bench FAILED: {e}");
        std::process::exit(1);
    }
}

fn python() -> BenchResult<PathBuf> {
    let dir = std::env::var_os("AIOS_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers"));
    let p = dir.join("venv/bin/python");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} is missing: run .ci/setup", p.display()))
    }
}

/// The test server, plain SMTP on loopback; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> BenchResult<Server> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
    let py = python()?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut child = Command::new(&py)
            .arg(&script)
            .args(["--dir", &dir.display().to_string()])
            .args(["--port", &port.to_string(), "--tls", "none"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the SMTP server: {e}"))?;
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line);
        if line.trim() == format!("READY {port}") {
            return Ok(Server { child, port });
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Err("the SMTP server did not start".into())
}

fn direct_loop(port: u16) -> BenchResult<Vec<Duration>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
        let mut times = Vec::with_capacity(N);
        for i in 0..N + 20 {
            let m = Message::builder()
                .from(
                    "Ada <ada@example.com>"
                        .parse()
                        .map_err(|e| format!("{e}"))?,
                )
                .to("list@example.com".parse().map_err(|e| format!("{e}"))?)
                .subject(format!("Bench {i}"))
                .body(format!("hello {i}"))
                .map_err(|e| e.to_string())?;
            let t = Instant::now();
            mailer.send(m).await.map_err(|e| e.to_string())?;
            if i >= 20 {
                times.push(t.elapsed());
            }
        }
        Ok(times)
    })
}

fn workflow(n: usize) -> String {
    let mut s = String::from("name = \"email-bench\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[steps]]\nid = \"e{i}\"\nkind = \"email\"\napprove = \"never\"\nto = \"list@example.com\"\nsubject = \"Bench {i}\"\ntext = \"hello {i}\"\n"
        ));
    }
    s
}

fn journaled_span(log: &str, n: usize) -> BenchResult<Duration> {
    let events = log_events(log)?;
    let first = events
        .iter()
        .find(|e| e["type"] == "step_started")
        .ok_or("no step started")?;
    let done: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "step_succeeded")
        .collect();
    if done.len() != n {
        return Err(format!("{} steps succeeded, not {n}", done.len()));
    }
    journaled_between(first, done[n - 1])
}

fn bench() -> BenchResult<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let iters = if quick { 3 } else { 7 };
    let bin = aios_binary()?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = start_server(&work.path().join("smtp"))?;

    let direct = direct_loop(server.port)?;
    let direct_m = median(direct.clone());

    let config = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Ada <ada@example.com>\"\n",
        server.port
    );
    let wf = work.path().join("mail.toml");
    std::fs::write(&wf, workflow(N)).map_err(|e| e.to_string())?;
    let one = work.path().join("one.toml");
    std::fs::write(&one, workflow(1)).map_err(|e| e.to_string())?;
    let (wf_s, one_s) = (wf.display().to_string(), one.display().to_string());
    let mut one_walls = Vec::new();
    let mut n_walls = Vec::new();
    let mut per_steps = Vec::new();
    for i in 0..iters + 1 {
        let home = work.path().join(format!("home-1-{i}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::fs::write(home.join("config.toml"), &config).map_err(|e| e.to_string())?;
        let (w1, _) = run(&bin, &home, &["run", &one_s, "-q"])?;
        let home = work.path().join(format!("home-n-{i}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::fs::write(home.join("config.toml"), &config).map_err(|e| e.to_string())?;
        let (wn, out) = run(&bin, &home, &["run", &wf_s, "-q"])?;
        if !out.contains("succeeded in") {
            return Err(format!("the {N}-step run did not succeed: {out}"));
        }
        let (_, log) = run(&bin, &home, &["log", "1", "--json"])?;
        let span = journaled_span(&log, N)?;
        if i == 0 {
            continue; // warm-up
        }
        one_walls.push(w1);
        n_walls.push(wn);
        per_steps.push(span / N as u32);
    }
    let per_step = median(per_steps);
    let share = per_step.saturating_sub(direct_m);

    println!("| what | median | p99 |");
    println!("|---|---:|---:|");
    println!(
        "| (1) direct lettre client, pooled connection ({N} messages) | {} | {} |",
        us(direct_m),
        us(p99(direct))
    );
    println!(
        "| `aios run` of 1 `email` step, wall (process, database, connection) | {} | |",
        ms(median(one_walls))
    );
    println!(
        "| `aios run` of {N} `email` steps, wall | {} | |",
        ms(median(n_walls))
    );
    println!(
        "| (2) per `email` step in that run, as journaled (render, build, two commits, the send) | {} | |",
        us(per_step)
    );
    println!(
        "| **aios's share per message: (2) − (1)** | **{}** | |",
        us(share)
    );
    println!();
    println!(
        "{} email step overhead {} < {} ms ({iters} runs of N = {N})",
        if share < TARGET { "PASS" } else { "FAIL" },
        us(share),
        TARGET.as_millis()
    );
    Ok(())
}
