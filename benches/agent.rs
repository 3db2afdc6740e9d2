//! What an agent step costs on top of the LLM server's own time: `aios run FILE -q`
//! of N chained agent steps (JSON output, a schema, each prompt reading the step
//! before) against a loopback OpenAI-compatible server that answers at once, minus
//! a one-step run of the same binary (process start, database creation), minus the
//! time the server spent on the requests (measured inside the server, from the
//! request's first byte to the reply flushed). What remains per step is aios's own
//! work: template rendering, budget check, journal writes (the call and the step's
//! success, committed before the next call), the HTTP client, JSON parsing and
//! schema validation, and the loopback round trip.
//!
//! Run it with `cargo bench --bench agent` (`-- --quick`: 3 runs instead of 7).
//! The result of every run is checked (N calls in the ledger, the last step
//! succeeded); the target is printed as PASS/FAIL.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

mod common;
use common::{BenchResult, ServerClock, aios_binary, median, run, start_llm_server};

const N: usize = 200;
const TARGET_PER_STEP: Duration = Duration::from_millis(2);

fn main() {
    if let Err(e) = bench() {
        eprintln!("agent bench FAILED: {e}");
        std::process::exit(1);
    }
}

const REPLY: &str = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\"n\": 1, \"text\": \"ok\", \"rationale\": \"bench\", \"confidence\": 0.5}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}"#;

fn agent_workflow(n: usize) -> String {
    let mut s = String::from("name = \"agent-bench\"\n");
    for i in 0..n {
        let prompt = if i == 0 {
            "Start.".to_string()
        } else {
            format!("Continue from {{{{ steps.a{}.output.json.n }}}}.", i - 1)
        };
        s.push_str(&format!(
            "[[steps]]\nid = \"a{i}\"\nkind = \"agent\"\nprompt = \"{prompt}\"\noutput = \"json\"\nmax_tokens = 50\nschema = {{ type = \"object\", required = [\"n\", \"text\"], properties = {{ n = {{ type = \"integer\" }}, text = {{ type = \"string\" }} }} }}\n"
        ));
    }
    s
}

const BASE: &str = "name = \"base\"\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = { n = 1 }\n";

fn config(port: u16) -> String {
    format!(
        "[providers.loop]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n[models.default]\nprovider = \"loop\"\nname = \"bench\"\n"
    )
}

fn bench() -> BenchResult<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let iters = if quick { 3 } else { 7 };
    let bin = aios_binary()?;
    let clock = Arc::new(ServerClock::default());
    let port = start_llm_server(clock.clone(), |_| REPLY.to_string())?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wf = work.path().join("agents.toml");
    std::fs::write(&wf, agent_workflow(N)).map_err(|e| e.to_string())?;
    let base = work.path().join("base.toml");
    std::fs::write(&base, BASE).map_err(|e| e.to_string())?;
    let wf_s = wf.display().to_string();
    let base_s = base.display().to_string();

    let mut base_walls = Vec::new();
    let mut agent_walls = Vec::new();
    let mut server_per_req = Vec::new();
    for i in 0..iters + 1 {
        let home = work.path().join(format!("home-b{i}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        let (w, _) = run(&bin, &home, &["run", &base_s, "-q"])?;
        let home = work.path().join(format!("home-a{i}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::fs::write(home.join("config.toml"), config(port)).map_err(|e| e.to_string())?;
        let before_ns = clock.nanos.load(Ordering::Relaxed);
        let before_n = clock.requests.load(Ordering::Relaxed);
        let (wa, _) = run(&bin, &home, &["run", &wf_s, "-q"])?;
        let ns = clock.nanos.load(Ordering::Relaxed) - before_ns;
        let reqs = clock.requests.load(Ordering::Relaxed) - before_n;
        if reqs != N {
            return Err(format!("expected {N} requests, the server saw {reqs}"));
        }
        let (_, log) = run(&bin, &home, &["llm", "log", "--json"])?;
        let calls = log.matches("\"step_id\"").count();
        if calls != N {
            return Err(format!("expected {N} journaled calls, found {calls}"));
        }
        let (_, show) = run(&bin, &home, &["show", "1", "--json"])?;
        if !show.contains("\"status\": \"succeeded\"") {
            return Err("the agent run did not succeed".into());
        }
        if i == 0 {
            continue; // warm-up
        }
        base_walls.push(w);
        agent_walls.push(wa);
        server_per_req.push(Duration::from_nanos(ns / N as u64));
    }
    let base_m = median(base_walls);
    let agent_m = median(agent_walls);
    let server_m = median(server_per_req);
    let per_step = agent_m.saturating_sub(base_m) / N as u32;
    let net = per_step.saturating_sub(server_m);
    println!("| what | median |");
    println!("|---|---:|");
    println!(
        "| 1 `set` step (start-up, fresh home) | {:.1} ms |",
        base_m.as_secs_f64() * 1e3
    );
    println!(
        "| {N} agent steps (fresh home) | {:.1} ms |",
        agent_m.as_secs_f64() * 1e3
    );
    println!(
        "| per agent step, all in | {:.0} µs |",
        per_step.as_secs_f64() * 1e6
    );
    println!(
        "| server's own time per request | {:.0} µs |",
        server_m.as_secs_f64() * 1e6
    );
    println!(
        "| **per agent step, net of the server** | **{:.0} µs** |",
        net.as_secs_f64() * 1e6
    );
    println!();
    let ok = net < TARGET_PER_STEP;
    println!(
        "{} agent step overhead {:.0} µs < {} ms ({iters} runs, N = {N})",
        if ok { "PASS" } else { "FAIL" },
        net.as_secs_f64() * 1e6,
        TARGET_PER_STEP.as_millis()
    );
    Ok(())
}
