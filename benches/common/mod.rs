//! What the benches that time the release binary share: finding it, running it in a
//! temp `AIOS_HOME` with an empty environment, the MCP test server's path, and the
//! figures' arithmetic and units. Each bench uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub type BenchResult<T> = Result<T, String>;

pub fn aios_binary() -> BenchResult<PathBuf> {
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
