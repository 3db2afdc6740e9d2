//! `aios worker`: 10,000 independent 10-step runs drained by 1, 2, 4 and 8 local
//! worker processes on PostgreSQL (and by one process of 8 threads), and by 1 and 2
//! workers on SQLite: wall time until every run succeeded, runs/s and steps/s, the
//! scaling against one worker, and the CPU time of the workers and of PostgreSQL, per
//! step.
//!
//! The workflow is ten `set` steps, each reading the one before, so the figures are
//! aios's and the database's own cost (no connector, no server). The runs are made by
//! `aios run FILE --detach` (setup, not measured): once into a template database,
//! several processes at a time, then each configuration drains its own copy
//! (`CREATE DATABASE … TEMPLATE`, or a copy of the SQLite file), so every configuration
//! starts from the same queue of exactly what `--detach` makes.
//!
//! Each configuration starts W processes `aios worker --exit-when-idle --concurrency C`
//! at once and stops the clock when the last has exited; then every run is checked
//! (`aios runs --all --json`: all succeeded). Worker CPU is each worker's user + system
//! time (`wait4`); PostgreSQL's is the server's: the postmaster's own and reaped
//! children's times plus those of its live children (`/proc/PID/stat`), before and
//! after, once the workers' backends are gone.
//!
//! The PostgreSQL server is the tests' throwaway one (`src/journal/pg/testdb.rs`:
//! `initdb` + `pg_ctl` on loopback, `fsync=off`, `synchronous_commit=off`): it measures
//! the work, not a disk's flushes. SQLite is the default journal (WAL,
//! `synchronous = NORMAL`).
//!
//! `cargo bench --bench workers` (`-- --quick`: 1,000 runs; `-- --runs N`). No target
//! is set for these figures: the bench prints them, and fails only when a run does not
//! succeed or a worker exits non-zero.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

#[path = "../src/journal/pg/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use common::BenchResult;

const STEPS: usize = 10;
/// Processes making runs at once during setup.
const ENQUEUERS: usize = 4;

/// One configuration: the backend, worker processes, threads per process.
#[derive(Clone, Copy)]
struct Config {
    postgres: bool,
    processes: usize,
    concurrency: usize,
}

/// What one configuration measured.
struct Figures {
    config: Config,
    wall: Duration,
    worker_cpu: Duration,
    /// `None` on SQLite.
    server_cpu: Option<Duration>,
    /// The 1-minute load average when it ended (other work on the machine).
    load: String,
}

fn main() {
    if let Err(e) = bench() {
        eprintln!("workers bench FAILED: {e}");
        std::process::exit(1);
    }
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn bench() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let runs: usize = match arg_value(&args, "--runs") {
        Some(n) => n.parse().map_err(|_| format!("--runs {n}: not a number"))?,
        None if quick => 1_000,
        None => 10_000,
    };
    let bin = common::aios_binary()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::Builder::new()
        .prefix("aios-bench-workers-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let work = dir.path();
    std::fs::write(work.join("w.toml"), workflow()).map_err(|e| e.to_string())?;
    eprintln!(
        "{runs} runs of {STEPS} set steps per configuration; {cores} cores; binary {}",
        bin.display()
    );

    // PostgreSQL: the template database, made once.
    let server = testdb::server();
    let template = testdb::fresh_database();
    let template_name = template.rsplit('/').next().unwrap_or_default().to_string();
    let pg_home = work.join("pg-home");
    std::fs::create_dir_all(&pg_home).map_err(|e| e.to_string())?;
    let made = Instant::now();
    enqueue(&bin, work, &pg_home, Some(&template), runs)?;
    eprintln!(
        "PostgreSQL: {runs} runs detached in {:.1?} ({ENQUEUERS} processes at a time)",
        made.elapsed()
    );
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls)
        .map_err(|e| format!("connect to the bench PostgreSQL: {e}"))?;
    let postmaster = postmaster_pid(&mut admin)?;

    // SQLite: the template file.
    let sqlite_template = work.join("sqlite-template");
    std::fs::create_dir_all(&sqlite_template).map_err(|e| e.to_string())?;
    let made = Instant::now();
    enqueue(&bin, work, &sqlite_template, None, runs)?;
    eprintln!(
        "SQLite: {runs} runs detached in {:.1?} ({ENQUEUERS} processes at a time)",
        made.elapsed()
    );

    let mut configs: Vec<Config> = [1, 2, 4, 8]
        .into_iter()
        .map(|w| Config {
            postgres: true,
            processes: w,
            concurrency: 1,
        })
        .collect();
    configs.push(Config {
        postgres: true,
        processes: 1,
        concurrency: 8,
    });
    for w in [1, 2] {
        configs.push(Config {
            postgres: false,
            processes: w,
            concurrency: 1,
        });
    }

    let mut figures = Vec::new();
    for (n, config) in configs.into_iter().enumerate() {
        let home = work.join(format!("home-{n}"));
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        let url = if config.postgres {
            let name = format!("{template_name}_w{n}");
            admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template_name}"))
                .map_err(|e| format!("copy the template database: {e}"))?;
            Some(server.url(&name))
        } else {
            for f in ["aios.db", "aios.db-wal"] {
                let from = sqlite_template.join(f);
                if from.exists() {
                    std::fs::copy(&from, home.join(f)).map_err(|e| e.to_string())?;
                }
            }
            None
        };
        let before = match config.postgres {
            true => Some(server_cpu(postmaster, None)?),
            false => None,
        };
        let (wall, worker_cpu) = drain(&bin, work, &home, url.as_deref(), config)?;
        let server_cpu = match before {
            Some(before) => Some(server_cpu(postmaster, Some(before.1))?.0 - before.0),
            None => None,
        };
        check_all_succeeded(&bin, work, &home, url.as_deref(), runs)?;
        let f = Figures {
            config,
            wall,
            worker_cpu,
            server_cpu,
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "?".into()),
        };
        eprintln!("{}", row(&f, runs, None));
        figures.push(f);
    }

    println!(
        "\n`aios worker`: {runs} runs × {STEPS} `set` steps each configuration; \
         this machine has {cores} cores\n"
    );
    println!(
        "| backend | workers × threads | wall | runs/s | steps/s | scaling vs 1 | \
         wall µs/step | worker CPU µs/step | server CPU µs/step | load |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = |pg: bool| {
        figures
            .iter()
            .find(|f| f.config.postgres == pg && f.config.processes * f.config.concurrency == 1)
            .map(|f| f.wall)
    };
    for f in &figures {
        println!("{}", row(f, runs, base(f.config.postgres)));
    }
    println!(
        "\n{cores} cores: more workers than cores measure contention (the workers and \
         PostgreSQL share the cores), not the scaling of more machines. `load`: the \
         1-minute load average as each configuration ended (this bench's processes \
         included)."
    );
    Ok(())
}

fn row(f: &Figures, runs: usize, base: Option<Duration>) -> String {
    let steps = (runs * STEPS) as f64;
    let secs = f.wall.as_secs_f64();
    let per_step = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e6 / steps);
    format!(
        "| {} | {} × {} | {:.1} s | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
        if f.config.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        f.config.processes,
        f.config.concurrency,
        secs,
        runs as f64 / secs,
        steps / secs,
        base.map_or("–".to_string(), |b| format!(
            "{:.2}×",
            b.as_secs_f64() / secs
        )),
        per_step(f.wall),
        per_step(f.worker_cpu),
        f.server_cpu.map_or("–".to_string(), per_step),
        f.load,
    )
}

/// Ten `set` steps, each reading the one before.
fn workflow() -> String {
    let mut w = String::from("name = \"ten\"\n");
    for i in 0..STEPS {
        let n = if i == 0 {
            "0".to_string()
        } else {
            format!("\"{{{{ steps.s{}.output.n + 1 }}}}\"", i - 1)
        };
        w.push_str(&format!(
            "\n[[steps]]\nid = \"s{i}\"\nkind = \"set\"\nvalues = {{ n = {n} }}\n"
        ));
    }
    w
}

/// An aios command in `home` (and `url`'s database), from the workspace `work`.
fn aios(bin: &Path, work: &Path, home: &Path, url: Option<&str>) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIOS_HOME", home)
        .stdin(Stdio::null());
    if let Some(url) = url {
        c.env("AIOS_DATABASE_URL", url);
    }
    c
}

fn output(mut c: Command, what: &str) -> BenchResult<String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `aios run w.toml --detach`, `runs` times, `ENQUEUERS` processes at a time.
fn enqueue(
    bin: &Path,
    work: &Path,
    home: &Path,
    url: Option<&str>,
    runs: usize,
) -> BenchResult<()> {
    // The first one alone: it creates (or migrates) the database.
    let mut c = aios(bin, work, home, url);
    c.args(["run", "w.toml", "--detach"]);
    output(c, "aios run w.toml --detach")?;
    let next = AtomicUsize::new(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..ENQUEUERS)
            .map(|_| {
                s.spawn(|| -> BenchResult<()> {
                    while next.fetch_add(1, Ordering::SeqCst) < runs {
                        let mut c = aios(bin, work, home, url);
                        c.args(["run", "w.toml", "--detach"]);
                        let out = output(c, "aios run w.toml --detach")?;
                        if !out.contains("queued for a worker") {
                            return Err(format!("`aios run --detach` printed {out:?}"));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "an enqueuer panicked".to_string())?)
    })
}

/// Start the workers of `config` at once; the wall time until the last exited and
/// their CPU time.
// The children are reaped by `wait4` (for their CPU time), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn drain(
    bin: &Path,
    work: &Path,
    home: &Path,
    url: Option<&str>,
    config: Config,
) -> BenchResult<(Duration, Duration)> {
    let log = home.join("workers.log");
    let concurrency = config.concurrency.to_string();
    let start = Instant::now();
    let mut pids = Vec::new();
    for _ in 0..config.processes {
        let sink = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| e.to_string())?;
        let mut c = aios(bin, work, home, url);
        c.args(["worker", "--exit-when-idle", "--concurrency", &concurrency])
            .stdout(Stdio::null())
            .stderr(sink);
        pids.push(
            c.spawn()
                .map_err(|e| format!("start aios worker: {e}"))?
                .id(),
        );
    }
    let mut cpu = Duration::ZERO;
    let mut failed = Vec::new();
    for pid in pids {
        let (status, _, used) = common::wait4(pid)?;
        cpu += used;
        if !status.success() {
            failed.push(status);
        }
    }
    let wall = start.elapsed();
    if !failed.is_empty() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(format!(
            "workers exited with {failed:?}; the end of their log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok((wall, cpu))
}

/// Every run succeeded.
fn check_all_succeeded(
    bin: &Path,
    work: &Path,
    home: &Path,
    url: Option<&str>,
    runs: usize,
) -> BenchResult<()> {
    let mut c = aios(bin, work, home, url);
    c.args(["runs", "--all", "--json"]);
    let listed: serde_json::Value =
        serde_json::from_str(&output(c, "aios runs --all --json")?).map_err(|e| e.to_string())?;
    let listed = listed.as_array().ok_or("`runs --json` is not a list")?;
    let succeeded = listed.iter().filter(|r| r["status"] == "succeeded").count();
    if listed.len() != runs || succeeded != runs {
        return Err(format!(
            "{succeeded} of {} runs succeeded ({runs} made)",
            listed.len()
        ));
    }
    Ok(())
}

/// The postmaster: the parent of this connection's backend.
fn postmaster_pid(admin: &mut postgres::Client) -> BenchResult<u32> {
    let backend: i32 = admin
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(|e| e.to_string())?
        .get(0);
    let stat = proc_stat(backend as u32).ok_or("cannot read the backend's /proc stat")?;
    Ok(stat.ppid)
}

struct Stat {
    ppid: u32,
    /// utime + stime, and cutime + cstime, in clock ticks.
    own: u64,
    reaped: u64,
}

fn proc_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: n(4)? as u32,
        own: n(14)? + n(15)?,
        reaped: n(16)? + n(17)?,
    })
}

/// The CPU time of the whole server: the postmaster's own and reaped children's plus
/// every live child's. With `children` given, first waits (at most 10 s) until the
/// postmaster has that many children again (the workers' backends gone and reaped).
/// Returns the time and the number of children.
fn server_cpu(postmaster: u32, children: Option<usize>) -> BenchResult<(Duration, usize)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kids = children_of(postmaster);
        if children.is_none_or(|n| kids.len() <= n) || Instant::now() > deadline {
            let pm = proc_stat(postmaster).ok_or("the PostgreSQL server is gone")?;
            let mut ticks = pm.own + pm.reaped;
            for k in &kids {
                if let Some(s) = proc_stat(*k) {
                    ticks += s.own + s.reaped;
                }
            }
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            return Ok((Duration::from_micros(ticks * 1_000_000 / hz), kids.len()));
        }
        // Polling for the backends to be reaped: a condition loop with a deadline.
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if proc_stat(pid).is_some_and(|s| s.ppid == parent) {
            kids.push(pid);
        }
    }
    kids
}
