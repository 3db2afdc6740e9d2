//! What confining a shell step costs, and what a rate-limit turn costs.
//!
//! 1. The commit of a `shell` action running `/bin/true` (spawn, wait, capture),
//!    N times each: without a sandbox; with the default sandbox (`required`: the
//!    Landlock rule set built, the child restricted, a private TMPDIR made and
//!    removed); with the sandbox and every limit set. The difference is the
//!    sandbox's share of a step.
//! 2. `Journal::take_turn` under a limit that never makes anyone wait: the write
//!    transaction every limited commit or LLM call adds.
//!
//! Run it with `cargo bench --bench shell` (`-- --quick`: 3 runs instead of 7).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aios::connectors::confine::{Limits, Sandbox, SandboxMode};
use aios::connectors::shell::ShellAction;
use aios::connectors::{Action, ExecEnv, Resources};

const N: usize = 300;
const TURNS: usize = 2000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn action(sandbox: Sandbox, limits: Limits, cwd: &str) -> Action {
    Action::Shell(ShellAction {
        argv: vec!["/bin/true".into()],
        cwd: cwd.into(),
        env: BTreeMap::new(),
        json: false,
        sandbox,
        limits,
    })
}

fn commits(rt: &tokio::runtime::Runtime, res: &Resources, a: &Action) -> Vec<Duration> {
    (0..N)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(a.clone().commit(res, None, &aios::trust::Persona::open()))
                .expect("commit");
            t.elapsed()
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 7 };
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().display().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let res = Resources::new(ExecEnv {
        child_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        ..ExecEnv::default()
    });
    let sandboxed = Sandbox {
        mode: SandboxMode::Required,
        ..Sandbox::off()
    };
    let all_limits = Limits {
        cpu_secs: Some(10),
        memory_bytes: Some(1 << 30),
        open_files: Some(256),
        processes: Some(10_000),
        output_bytes: 1 << 16,
    };
    let cases = [
        (
            "no sandbox",
            action(Sandbox::off(), Limits::default(), &cwd),
        ),
        (
            "sandbox (required)",
            action(sandboxed.clone(), Limits::default(), &cwd),
        ),
        ("sandbox + every limit", action(sandboxed, all_limits, &cwd)),
    ];
    // Warm up.
    for (_, a) in &cases {
        commits(&rt, &res, a);
    }
    let mut results: Vec<(&str, Vec<Duration>, Vec<Duration>)> = cases
        .iter()
        .map(|(name, _)| (*name, Vec::new(), Vec::new()))
        .collect();
    for _ in 0..runs {
        for (i, (_, a)) in cases.iter().enumerate() {
            let v = commits(&rt, &res, a);
            results[i].1.push(median(v.clone()));
            results[i].2.push(p99(v));
        }
    }
    println!(
        "shell commit of /bin/true, {runs} runs of {N} (median of run medians / of run p99s):"
    );
    let base = median(results[0].1.clone());
    for (name, meds, p99s) in &results {
        let m = median(meds.clone());
        println!(
            "  {name:<24} median {:>7.0} µs  p99 {:>7.0} µs  (+{:.0} µs)",
            m.as_secs_f64() * 1e6,
            median(p99s.clone()).as_secs_f64() * 1e6,
            (m.as_secs_f64() - base.as_secs_f64()) * 1e6
        );
    }

    // A turn that never waits: one write transaction.
    let mut j = aios::journal::Journal::open(
        &dir.path().join("aios.db"),
        aios::clock::Clock::System,
        aios::journal::OpenOptions::default(),
    )
    .unwrap();
    let rate = aios::rate::Rate::parse("1000000/s").unwrap();
    let taker = aios::journal::Taker {
        run: 0,
        step: "s",
        attempt: 1,
    };
    let mut meds = Vec::new();
    for _ in 0..runs {
        let v: Vec<Duration> = (0..TURNS)
            .map(|_| {
                let t = Instant::now();
                j.take_turn(taker, "api.example.com", &rate).unwrap();
                t.elapsed()
            })
            .collect();
        meds.push(median(v));
    }
    println!(
        "rate-limit turn (Journal::take_turn, no wait), {runs} runs of {TURNS}: median {:.0} µs",
        median(meds).as_secs_f64() * 1e6
    );
}
