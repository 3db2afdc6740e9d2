//! What one turn of an agent's tool loop costs aios on top of the servers' own time.
//! `aios run FILE -q` (the release binary) of one agent step with `tools =
//! ["everything.echo"]` against a loopback OpenAI-compatible server that answers the
//! first T requests with a call of server-everything's `echo` (over stdio) and the
//! next with the JSON answer. A turn is one LLM call and one tool call, each
//! journaled before it is used.
//!
//! Per turn, all in: (span of a T-turn step − span of a 0-turn step) / T, each span
//! from the step's start to its success as journaled (process and server start-up
//! stay out). The servers' time per turn: the LLM server's time per request
//! (measured inside it, first byte to reply flushed) plus the median `echo` call of
//! a direct rmcp client (the MCP server's time plus the pipe). What remains is aios's
//! share: building the request (the conversation grows each turn), the budget check,
//! three journal commits (call, tool result, and the flush before the next call),
//! redaction, the HTTP client and the hop to the MCP session.
//!
//! Load-independent figures too, from `AIOS_STATS` (each `aios run` process reports
//! its own CPU time, user + sys, and the journal write transactions it committed):
//! per turn, the median over runs of (T-turn run − 0-turn run) / T. The servers'
//! CPU is not in it (they are other processes).
//!
//! Run it with `cargo bench --bench agent_tools` (`-- --quick`: 3 runs instead of 7).
//! The servers come from `.ci/setup` (`$AIOS_TEST_SERVERS`). With `BENCH_GAPS=1` it
//! also prints the mean gap between consecutive journaled events of each run (where
//! a turn's time goes: `llm_call -> agent_tool` is the tool call and the commit of
//! the LLM call, `agent_tool -> llm_call` the next LLM call and the tool result's
//! commit).
//!
//! With `BENCH_CALLGRIND=DIR` it runs each `aios` under `valgrind --tool=callgrind`
//! instead (once with no turn, once with T), keeps the profiles in DIR
//! (`none.out`, `loop.out`, for `callgrind_annotate`) and prints the instructions
//! aios executes per turn: (T-turn run − 0-turn run) / T, all its threads. A count,
//! not a time: it does not depend on the machine's load, so it compares builds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

mod common;
use common::{
    BenchResult, ServerClock, aios_binary, direct_echo_times, event_at, everything,
    journaled_between, log_events, median, start_llm_server, us,
};

const T: usize = 40;
const TARGET: Duration = Duration::from_millis(1);

fn main() {
    if let Err(e) = bench() {
        eprintln!("agent_tools bench FAILED: {e}");
        std::process::exit(1);
    }
}

/// The loopback provider's answer to a request body: a tool call while the
/// conversation holds fewer tool results than the turns its prompt asks for.
fn answer(body: &str) -> String {
    let results = body.matches("\"role\":\"tool\"").count();
    // The prompt says how many turns to take.
    let turns = if body.contains("Take no turn.") { 0 } else { T };
    reply(results, turns)
}

/// The reply to a request that carried `results` tool results already, in a loop of
/// `turns` tool turns.
fn reply(results: usize, turns: usize) -> String {
    let message = if results < turns {
        serde_json::json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": format!("call_{results}"),
            "type": "function",
            "function": {"name": "everything__echo", "arguments": format!("{{\"message\":\"turn {results}\"}}")},
        }]})
    } else {
        serde_json::json!({"role": "assistant", "content": format!("{{\"n\": {results}}}")})
    };
    serde_json::json!({
        "id": "c", "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
    })
    .to_string()
}

fn workflow(prompt: &str) -> String {
    format!(
        "name = \"tools-bench\"\n[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"{prompt}\"\noutput = \"json\"\nmax_tokens = 50\nschema = {{ type = \"object\", required = [\"n\"], properties = {{ n = {{ type = \"integer\" }} }} }}\ntools = [\"everything.echo\"]\nmax_turns = {}\n",
        T + 1
    )
}

fn config(port: u16, script: &Path) -> String {
    format!(
        "[providers.loop]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n[models.default]\nprovider = \"loop\"\nname = \"bench\"\n[mcp.everything]\ncommand = [\"node\", \"{}\", \"stdio\"]\n",
        script.display()
    )
}

/// What one `aios` process cost, as it wrote it (`AIOS_STATS`).
#[derive(Clone, Copy, Default)]
struct Cost {
    cpu_us: u64,
    write_transactions: u64,
}

fn run(bin: &Path, home: &Path, args: &[&str]) -> BenchResult<String> {
    run_costed(bin, home, args).map(|(out, _)| out)
}

fn run_costed(bin: &Path, home: &Path, args: &[&str]) -> BenchResult<(String, Cost)> {
    run_wrapped(bin, home, args, None)
}

/// Run `aios`, under callgrind writing its profile to `profile` when given.
fn run_wrapped(
    bin: &Path,
    home: &Path,
    args: &[&str],
    profile: Option<&Path>,
) -> BenchResult<(String, Cost)> {
    let stats = home.join("stats.jsonl");
    let _ = std::fs::remove_file(&stats);
    let mut cmd = match profile {
        Some(out) => {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out.display()))
                .arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let out = cmd
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIOS_HOME", home)
        .env("AIOS_STATS", &stats)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "`aios {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = std::fs::read_to_string(&stats).map_err(|e| format!("no AIOS_STATS: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(line.trim()).map_err(|e| e.to_string())?;
    let n = |k: &str| v[k].as_u64().ok_or(format!("AIOS_STATS without `{k}`"));
    let cost = Cost {
        cpu_us: n("user_us")? + n("sys_us")?,
        write_transactions: n("write_transactions")?,
    };
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), cost))
}

/// The step's span as journaled, checked: `turns` tool results, the answer `n`.
fn span(log: &str, turns: usize) -> BenchResult<Duration> {
    let events = log_events(log)?;
    let tools = events.iter().filter(|e| e["type"] == "agent_tool").count();
    if tools != turns {
        return Err(format!("{tools} tool calls journaled, not {turns}"));
    }
    let first = events
        .iter()
        .find(|e| e["type"] == "step_started")
        .ok_or("no step started")?;
    let done = events
        .iter()
        .find(|e| e["type"] == "step_succeeded")
        .ok_or("the step did not succeed")?;
    if done["data"]["output"]["json"]["n"] != turns {
        return Err(format!("the answer is {}", done["data"]["output"]));
    }
    if std::env::var_os("BENCH_GAPS").is_some() {
        let mut prev: Option<(&str, jiff::Timestamp)> = None;
        let mut gaps: std::collections::BTreeMap<String, (f64, u32)> = Default::default();
        for e in &events {
            let ty = e["type"].as_str().unwrap_or("");
            let t = event_at(e)?;
            if let Some((p, pt)) = prev {
                let g = gaps.entry(format!("{p} -> {ty}")).or_default();
                g.0 += t.duration_since(pt).as_secs_f64() * 1e3;
                g.1 += 1;
            }
            prev = Some((ty, t));
        }
        for (k, (ms, n)) in gaps {
            eprintln!("{k}: {n} x {:.2} ms", ms / n as f64);
        }
    }
    journaled_between(first, done)
}

/// The instructions a callgrind profile counted (its `summary:` or `totals:` line).
fn instructions(profile: &Path) -> BenchResult<u64> {
    let text = std::fs::read_to_string(profile).map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or(l.strip_prefix("totals:")))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .ok_or(format!("no instruction count in {}", profile.display()))
}

/// `BENCH_CALLGRIND=DIR`: one run of each workflow under callgrind.
fn callgrind(
    dir: &Path,
    bin: &Path,
    work: &Path,
    port: u16,
    script: &Path,
    wfs: [(&Path, usize); 2],
) -> BenchResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut counts = [0u64; 2];
    for (k, (wf, turns)) in wfs.into_iter().enumerate() {
        let home = work.join(format!("callgrind-{k}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::fs::write(home.join("config.toml"), config(port, script))
            .map_err(|e| e.to_string())?;
        let profile = dir.join(if turns == 0 { "none.out" } else { "loop.out" });
        run_wrapped(
            bin,
            &home,
            &["run", &wf.display().to_string(), "-q"],
            Some(&profile),
        )?;
        let log = run(bin, &home, &["log", "1", "--json"])?;
        span(&log, turns)?;
        counts[k] = instructions(&profile)?;
    }
    println!("| what | instructions |");
    println!("|---|---:|");
    println!("| `aios run`, 0 tool turns | {} |", counts[0]);
    println!("| `aios run`, {T} tool turns | {} |", counts[1]);
    println!(
        "| **per turn** | **{}** |",
        counts[1].saturating_sub(counts[0]) / T as u64
    );
    println!("\nprofiles in {}", dir.display());
    Ok(())
}

fn bench() -> BenchResult<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let iters = if quick { 3 } else { 7 };
    let script = everything()?;
    let bin = aios_binary()?;
    let clock = Arc::new(ServerClock::default());
    let port = start_llm_server(clock.clone(), answer)?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let loop_wf = work.path().join("loop.toml");
    std::fs::write(&loop_wf, workflow("Take turns.")).map_err(|e| e.to_string())?;
    let none_wf = work.path().join("none.toml");
    std::fs::write(&none_wf, workflow("Take no turn.")).map_err(|e| e.to_string())?;
    if let Some(dir) = std::env::var_os("BENCH_CALLGRIND") {
        let wfs = [(none_wf.as_path(), 0), (loop_wf.as_path(), T)];
        return callgrind(Path::new(&dir), &bin, work.path(), port, &script, wfs);
    }

    let mut loops = Vec::new();
    let mut nones = Vec::new();
    let mut server = Vec::new();
    let mut cpu = Vec::new();
    let mut txs = Vec::new();
    for i in 0..iters + 1 {
        let mut spans = [Duration::ZERO; 2];
        let mut costs = [Cost::default(); 2];
        for (k, (wf, turns)) in [(&none_wf, 0), (&loop_wf, T)].into_iter().enumerate() {
            let home = work.path().join(format!("home-{i}-{k}"));
            std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
            std::fs::write(home.join("config.toml"), config(port, &script))
                .map_err(|e| e.to_string())?;
            let before_ns = clock.nanos.load(Ordering::Relaxed);
            let before_n = clock.requests.load(Ordering::Relaxed);
            let (_, cost) = run_costed(&bin, &home, &["run", &wf.display().to_string(), "-q"])?;
            costs[k] = cost;
            let reqs = clock.requests.load(Ordering::Relaxed) - before_n;
            if reqs != turns + 1 {
                return Err(format!(
                    "expected {} requests, the server saw {reqs}",
                    turns + 1
                ));
            }
            if turns > 0 && i > 0 {
                let ns = clock.nanos.load(Ordering::Relaxed) - before_ns;
                server.push(Duration::from_nanos(ns / reqs as u64));
            }
            let log = run(&bin, &home, &["log", "1", "--json"])?;
            spans[k] = span(&log, turns)?;
        }
        if i == 0 {
            continue; // warm-up
        }
        nones.push(spans[0]);
        loops.push(spans[1]);
        cpu.push(costs[1].cpu_us.saturating_sub(costs[0].cpu_us));
        txs.push(costs[1].write_transactions as f64 - costs[0].write_transactions as f64);
    }
    let echo = median(direct_echo_times(&script, 100, 500)?);
    let none_m = median(nones);
    let loop_m = median(loops);
    let server_m = median(server);
    let per_turn = loop_m.saturating_sub(none_m) / T as u32;
    let net = per_turn.saturating_sub(server_m + echo);
    println!("| what | median |");
    println!("|---|---:|");
    println!(
        "| agent step, 0 tool turns (1 LLM call), journaled span | {} |",
        us(none_m)
    );
    println!(
        "| agent step, {T} tool turns ({} LLM calls, {T} `echo` calls), journaled span | {} |",
        T + 1,
        us(loop_m)
    );
    println!("| per turn, all in | {} |", us(per_turn));
    println!("| LLM server's own time per request | {} |", us(server_m));
    println!("| `echo` over stdio, direct rmcp client | {} |", us(echo));
    println!("| **aios's share per turn** | **{}** |", us(net));
    cpu.sort();
    let cpu_turn = cpu[cpu.len() / 2] as f64 / T as f64;
    println!("| aios's CPU time per turn (user + sys, getrusage) | {cpu_turn:.0} µs |");
    txs.sort_by(f64::total_cmp);
    let tx_turn = txs[txs.len() / 2] / T as f64;
    println!("| journal write transactions per turn | {tx_turn:.2} |");
    println!();
    let ok = net < TARGET;
    println!(
        "{} tool turn overhead {} < {} ms ({iters} runs, T = {T})",
        if ok { "PASS" } else { "FAIL" },
        us(net),
        TARGET.as_millis()
    );
    Ok(())
}
