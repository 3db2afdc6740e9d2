//! `aios tick` with 100 registered schedules and nothing due: it runs every minute,
//! forever, so it must be cheap. Runs the release binary (process start included)
//! in a temp AIOS_HOME, with AIOS_NOW an hour after the schedules were added.
//! Prints a markdown table and PASS/FAIL against the 20 ms target.
//!
//! `cargo bench --bench tick` (`-- --quick`: 5 runs instead of 31).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

const SCHEDULES: usize = 100;
const TARGET: Duration = Duration::from_millis(20);
const ADDED_AT: &str = "2026-11-21T10:00:00Z";
const TICK_AT: &str = "2026-11-21T11:00:00Z";

fn aios(bin: &PathBuf, home: &std::path::Path, now: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .env("AIOS_HOME", home)
        .env("AIOS_NOW", now)
        .output()
        .expect("run aios");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "aios {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if args[0] == "tick" {
        assert!(
            out.stdout.is_empty(),
            "a tick with nothing due printed something"
        );
    }
    took
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 31 };
    let bin = common::aios_binary().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("aios-bench-tick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for i in 0..SCHEDULES {
        let file = dir.join(format!("w{i}.toml"));
        // Spread over the day; none is due between 10:00 and 11:00 UTC.
        let text = format!(
            "name = \"job{i}\"\n[trigger]\ncron = \"{} {} * * *\"\ntimezone = \"UTC\"\n\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ n = {i} }}\n",
            i % 60,
            (12 + i / 60) % 24
        );
        std::fs::write(&file, text).expect("write workflow");
        aios(
            &bin,
            &dir,
            ADDED_AT,
            &["schedule", "add", file.to_str().unwrap()],
        );
    }
    for _ in 0..3 {
        aios(&bin, &dir, TICK_AT, &["tick"]);
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| aios(&bin, &dir, TICK_AT, &["tick"]))
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    let min = times[0];
    let base: Vec<Duration> = {
        let mut v: Vec<Duration> = (0..runs)
            .map(|_| {
                let s = Instant::now();
                Command::new(&bin)
                    .arg("--version")
                    .output()
                    .expect("aios --version");
                s.elapsed()
            })
            .collect();
        v.sort();
        v
    };
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("| command | schedules | runs | min | median | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| `aios --version` | – | {runs} | {} | {} | {} |",
        ms(base[0]),
        ms(base[base.len() / 2]),
        ms(base[base.len() - 1])
    );
    println!(
        "| `aios tick` (nothing due) | {SCHEDULES} | {runs} | {} | {} | {} |",
        ms(min),
        ms(median),
        ms(max)
    );
    let ok = median < TARGET;
    println!(
        "\n{}: median {} (target < {})",
        if ok { "PASS" } else { "FAIL" },
        ms(median),
        ms(TARGET)
    );
    let _ = std::fs::remove_dir_all(&dir);
    if !ok {
        std::process::exit(1);
    }
}
