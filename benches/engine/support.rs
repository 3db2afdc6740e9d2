//! Helpers of the engine bench: the workflow it runs, reaping a child with its peak
//! RSS, sizing the journal, formatting figures and describing the machine (finding
//! the `aios` binary is `common`'s).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::BenchResult;

/// A workflow of `n` sequential `set` steps, each reading the previous one.
pub(super) fn chain_workflow(n: usize) -> String {
    let mut s = String::with_capacity(n * 120);
    s.push_str("name = \"bench\"\n");
    for i in 0..n {
        let _ = write!(s, "\n[[steps]]\nid = \"s{i:04}\"\nkind = \"set\"\n");
        if i == 0 {
            s.push_str("values = { n = 0, label = \"step 0\" }\n");
        } else {
            let _ = writeln!(
                s,
                "values = {{ n = \"{{{{ steps.s{:04}.output.n + 1 }}}}\", label = \"step {i}\" }}",
                i - 1
            );
        }
    }
    s
}

/// Fold the WAL into the DB and return the DB's size.
pub(super) fn checkpoint(db: &Path) -> BenchResult<u64> {
    let conn = rusqlite::Connection::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(|e| format!("checkpoint {}: {e}", db.display()))?;
    drop(conn);
    Ok(file_len(db))
}

pub(super) fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(super) fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub(super) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(super) fn kb(bytes: u64) -> String {
    format!("{:.1} kB", bytes as f64 / 1000.0)
}

pub(super) fn uname_m() -> String {
    Command::new("uname")
        .arg("-m")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

pub(super) fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub(super) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// The file system holding `p` (fsync costs differ a lot between them).
pub(super) fn fs_type(p: &Path) -> String {
    Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(p)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "ext2/ext3" {
                "ext2/3/4".into()
            } else {
                s
            }
        })
        .unwrap_or_else(|| "unknown fs".into())
}
