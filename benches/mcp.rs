//! What an MCP tool call costs aios on top of the server's own time, over stdio,
//! against `@modelcontextprotocol/server-everything`'s `echo` (a trivial tool):
//!
//! 1. a direct rmcp client loop: one client, `tools/call echo` N times, timed per
//!    call. This is the server's time plus the protocol on the pipe: the baseline;
//! 2. aios's session API (`McpPool::session` + `Session::call_tool`, what a step's
//!    commit and an agent's tool loop use), in process, timed per call;
//! 3. `aios run FILE -q` of the release binary on N sequential `tool` steps (echo,
//!    `approve = "never"`), per step: from the first step's start to the last step's
//!    success as journaled (so the process's and the server's start-up, which vary
//!    by tens of milliseconds from run to run, stay out of it), divided by N. The
//!    wall time of the whole run and of a one-step run are shown too.
//!
//! aios's share of a call in a workflow is (3) minus (1): rendering, the listing
//! check, two journal commits per step, the hop to the session's runtime. Run it with
//! `cargo bench --bench mcp` (`-- --quick`: 3 runs instead of 7). The servers come
//! from `.ci/setup` (`$AIOS_TEST_SERVERS`, default `<repo>/.test-servers`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{BenchResult, aios_binary, direct_echo_times, everything, median, ms, p99, run, us};

const N: usize = 1000;
const CALLS: usize = 2000;
const TARGET: Duration = Duration::from_millis(2);

fn main() {
    if let Err(e) = bench() {
        eprintln!("mcp bench FAILED: {e}");
        std::process::exit(1);
    }
}

fn args(msg: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("message".into(), serde_json::Value::String(msg.into()));
    m
}

/// (2) aios's session API: per-call latencies.
fn session_loop(script: &Path) -> BenchResult<Vec<Duration>> {
    use aios::mcp::config::{STARTUP_TIMEOUT, ServerConfig, Transport};
    let cfg = ServerConfig {
        name: "everything".into(),
        transport: Transport::Stdio {
            command: vec!["node".into(), script.display().to_string(), "stdio".into()],
            env: Default::default(),
            cwd: std::env::temp_dir(),
        },
        startup_timeout: STARTUP_TIMEOUT,
    };
    let settings = aios::mcp::McpSettings {
        origin: "bench".into(),
        servers: [("everything".to_string(), cfg)].into_iter().collect(),
    };
    let base = vec![(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_default(),
    )];
    let pool = Arc::new(aios::mcp::McpPool::new(
        settings,
        base,
        Arc::new(|_| None),
        None,
    ));
    // Called from another runtime, as a driver's commit is.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let p = pool.clone();
    let times = rt.block_on(async move {
        let mut times = Vec::with_capacity(CALLS);
        for i in 0..CALLS + 100 {
            let t = Instant::now();
            let s = p.session("everything").await.map_err(|e| e.to_string())?;
            let r = s
                .call_tool(
                    "echo",
                    args(&format!("m{i}")),
                    Some(Duration::from_secs(10)),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            let took = t.elapsed();
            if r.is_error {
                return Err("echo failed".to_string());
            }
            if i >= 100 {
                times.push(took);
            }
        }
        Ok::<_, String>(times)
    })?;
    drop(rt);
    pool.shutdown();
    Ok(times)
}

fn workflow(n: usize) -> String {
    let mut s = String::from("name = \"mcp-bench\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[steps]]\nid = \"e{i}\"\nkind = \"tool\"\nserver = \"everything\"\ntool = \"echo\"\nargs = {{ message = \"step {i}\" }}\napprove = \"never\"\n"
        ));
    }
    s
}

/// From the first step's start to the last step's success, as journaled (checked:
/// `n` steps succeeded, the last one echoed its message).
fn journaled_span(log: &str, n: usize) -> BenchResult<Duration> {
    let events: serde_json::Value = serde_json::from_str(log).map_err(|e| e.to_string())?;
    let events = events.as_array().ok_or("the log is not a list")?;
    let at = |e: &serde_json::Value| -> BenchResult<jiff::Timestamp> {
        e["at"]
            .as_str()
            .ok_or("an event without `at`")?
            .parse::<jiff::Timestamp>()
            .map_err(|e| e.to_string())
    };
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
    let last = done[n - 1];
    if last["data"]["output"][0] != format!("Echo: step {}", n - 1) {
        return Err(format!(
            "the last step's output is {}",
            last["data"]["output"]
        ));
    }
    let span = at(last)?.duration_since(at(first)?);
    Duration::try_from(span).map_err(|e| e.to_string())
}

fn bench() -> BenchResult<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let iters = if quick { 3 } else { 7 };
    let script = everything()?;
    let bin = aios_binary()?;

    let direct = direct_echo_times(&script, 100, CALLS)?;
    let session = session_loop(&script)?;
    let direct_m = median(direct.clone());
    let session_m = median(session.clone());

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = format!(
        "[mcp.everything]\ncommand = [\"node\", {:?}, \"stdio\"]\n",
        script.display().to_string()
    );
    let wf = work.path().join("tools.toml");
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
        if !out.contains("succeeded in") || !out.contains(&format!("{N} steps")) {
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
    let one_m = median(one_walls);
    let n_m = median(n_walls);
    let per_step = median(per_steps);
    let share = per_step.saturating_sub(direct_m);

    println!("| what | median | p99 |");
    println!("|---|---:|---:|");
    println!(
        "| (1) direct rmcp client, `tools/call echo` ({CALLS} calls) | {} | {} |",
        us(direct_m),
        us(p99(direct))
    );
    println!(
        "| (2) aios session API, same call ({CALLS} calls) | {} | {} |",
        us(session_m),
        us(p99(session))
    );
    println!(
        "| `aios run` of 1 `tool` step, wall (process, database and server start) | {} | |",
        ms(one_m)
    );
    println!("| `aios run` of {N} `tool` steps, wall | {} | |", ms(n_m));
    println!(
        "| (3) per `tool` step in that run, as journaled (render, listing check, two commits, the call) | {} | |",
        us(per_step)
    );
    println!(
        "| **aios's share per call: (3) − (1)** | **{}** | |",
        us(share)
    );
    println!(
        "| session API's share per call: (2) − (1) | {} | |",
        us(session_m.saturating_sub(direct_m))
    );
    println!();
    let ok = share < TARGET;
    println!(
        "{} MCP call overhead {} < {} ms ({iters} runs of N = {N}; {CALLS} calls per loop)",
        if ok { "PASS" } else { "FAIL" },
        us(share),
        TARGET.as_millis()
    );
    Ok(())
}
