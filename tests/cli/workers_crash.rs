//! Invariants 7 and 8 under a storm of crashes: detached runs of a six-step workflow
//! are driven by four `aios worker` processes (`--lease 1s`) while a killer SIGKILLs a
//! random worker at a random moment, over and over, and starts a new one each time.
//! The side effects are counted outside aios, by a loopback server that records every
//! request (run, step, idempotency key) as it arrives, before it answers.
//!
//! Afterwards: no non-idempotent step reached the server twice; every step of every run
//! either succeeded (its request arrived exactly once) or is an attention item the
//! operator is told about (its request arrived at most once), or has not started because
//! an earlier step of its run waits on such an item; nothing is left running, queued or
//! claimed; `aios replay` is clean. Idempotent steps may have run more than once.
//! The same test runs on PostgreSQL and on SQLite.
//!
//! Every process the test starts is killed and reaped when it ends, also when it fails
//! (a guard); the workflow has no shell step, so a killed worker leaves no child behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::wire::{Acceptor, RawRequest, read_request};
use crate::support::{Output, Test};

/// Workers kept alive during the storm.
const WORKERS: usize = 4;
/// Runs detached before the storm starts.
const RUNS: usize = 40;
/// Kills before the storm ends.
const KILLS: usize = 100;
/// Runs added when the queue runs dry before the storm ends (so every kill lands on a
/// worker with work), and the most there may be.
const TOP_UP: usize = 10;
const MAX_RUNS: usize = 200;

/// The workflow's steps: (id, whether running it twice is harmless, whether the server
/// sees it).
const STEPS: [(&str, bool, bool); 6] = [
    ("charge", false, true),
    ("lookup", true, true),
    ("total", true, false),
    ("notify", false, true),
    ("sync", true, true),
    ("ship", false, true),
];

enum Backend {
    Postgres,
    Sqlite,
}

/// Rows left in the queue, and runs whose lease still names a process, read from the
/// database itself (either backend: the harness's `sql_int`).
fn queue_and_leases(t: &Test) -> (i64, i64) {
    (
        t.sql_int("SELECT count(*) FROM work", &[]),
        t.sql_int(
            "SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL",
            &[],
        ),
    )
}

#[test]
fn four_workers_killed_at_random_on_postgres_lose_and_duplicate_nothing() {
    storm(Backend::Postgres);
}

#[test]
fn four_workers_killed_at_random_on_sqlite_lose_and_duplicate_nothing() {
    storm(Backend::Sqlite);
}

/// The ledger's check itself, on runs nobody kills: every side effect counted once.
#[test]
fn without_crashes_the_storm_workflow_commits_each_side_effect_once() {
    let server = Counter::start(seed());
    let t = Test::new().write("storm.toml", &workflow(&server));
    for run in 1..=2 {
        run_ok(&t, &["run", "storm.toml"]).stdout_contains(&format!("run {run} (storm) succeeded"));
    }
    for run in 1..=2 {
        for (id, _, counted) in STEPS {
            assert_eq!(
                server.count(run, id),
                usize::from(counted),
                "run {run} {id}"
            );
        }
    }
    check_outcome(&t, &server, 2, "no kills");
}

// ---------------------------------------------------------------------------------
// The counting server.

/// One request as it arrived: which step of which run, and its idempotency key.
#[derive(Debug, Clone)]
struct Hit {
    step: String,
    run: i64,
    key: Option<String>,
}

struct Ledger {
    hits: Vec<Hit>,
    rng: Rng,
}

/// Records each request as it arrives, then answers after a random 0–30 ms (so kills
/// often land while a request is in flight).
struct Counter {
    ledger: Arc<Mutex<Ledger>>,
    acceptor: Acceptor,
}

impl Counter {
    fn start(seed: u64) -> Counter {
        let ledger = Arc::new(Mutex::new(Ledger {
            hits: Vec::new(),
            rng: Rng(seed ^ 0x9e37_79b9_7f4a_7c15),
        }));
        Counter {
            acceptor: Acceptor::start(ledger.clone(), count),
            ledger,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.acceptor.port)
    }

    /// How many requests of `step` of `run` arrived.
    fn count(&self, run: i64, step: &str) -> usize {
        let l = self.ledger.lock().unwrap();
        l.hits
            .iter()
            .filter(|h| h.run == run && h.step == step)
            .count()
    }

    fn hits(&self) -> Vec<Hit> {
        self.ledger.lock().unwrap().hits.clone()
    }
}

fn count(conn: TcpStream, ledger: &Mutex<Ledger>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    let Some(RawRequest {
        target, headers, ..
    }) = read_request(&mut reader)?
    else {
        return Ok(());
    };
    // `/STEP?run=N`
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let run = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("run="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let delay = {
        let mut l = ledger.lock().unwrap();
        l.hits.push(Hit {
            step: path.trim_start_matches('/').to_string(),
            run,
            key: headers
                .iter()
                .find(|(k, _)| k == "idempotency-key")
                .map(|(_, v)| v.clone()),
        });
        l.rng.below(31)
    };
    // Answering late is the server's behaviour, not synchronization.
    std::thread::sleep(Duration::from_millis(delay));
    let body = format!("{{\"run\":{run}}}");
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

/// xorshift64*: a seeded source of kill moments and victims (the seed is in every
/// failure message).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

fn workflow(server: &Counter) -> String {
    let post = |id: &str, extra: &str| {
        format!(
            r#"
[[steps]]
id = "{id}"
kind = "http"
approve = "never"
method = "POST"
url = "{url}"
query = {{ run = "{{{{ run.id }}}}" }}
json = {{ step = "{id}" }}
{extra}"#,
            url = server.url(&format!("/{id}"))
        )
    };
    format!(
        r#"
name = "storm"
{charge}
[[steps]]
id = "lookup"
kind = "http"
approve = "never"
method = "GET"
url = "{lookup}"
query = {{ run = "{{{{ run.id }}}}" }}

[[steps]]
id = "total"
kind = "set"
values = {{ run = "{{{{ steps.lookup.output.body.run }}}}" }}
{notify}{sync}{ship}"#,
        charge = post("charge", ""),
        lookup = server.url("/lookup"),
        notify = post("notify", ""),
        sync = post("sync", "idempotent = true\n"),
        ship = post("ship", ""),
    )
}

// ---------------------------------------------------------------------------------
// The workers and their guard.

/// The worker processes of a test: every one still running is killed and reaped when
/// this is dropped, whatever happened.
struct Workers<'t> {
    t: &'t Test,
    log: PathBuf,
    live: Vec<Child>,
    kills: usize,
    started: usize,
    /// Workers that exited on their own during the storm: (pid, exit code).
    exited: Vec<(u32, Option<i32>)>,
}

impl<'t> Workers<'t> {
    fn new(t: &'t Test) -> Workers<'t> {
        Workers {
            t,
            log: t.join("workers.log"),
            live: Vec::new(),
            kills: 0,
            started: 0,
            exited: Vec::new(),
        }
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .t
            .args(&["worker", "--lease", "1s", "--poll", "50ms"])
            .real_clock()
            .into_command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aios worker");
        self.live.push(child);
        self.started += 1;
    }

    /// SIGKILL worker `i` and reap it.
    fn kill9(&mut self, i: usize) {
        let mut child = self.live.swap_remove(i);
        // SAFETY: plain FFI call with the pid of our own child, not yet reaped.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill -9 failed");
        let status = child.wait().unwrap();
        if status.code().is_some() {
            // It had exited by itself just before: not a kill.
            self.exited.push((child.id(), status.code()));
        } else {
            self.kills += 1;
        }
    }

    /// Reap workers that exited by themselves.
    fn reap(&mut self) {
        let mut i = 0;
        while i < self.live.len() {
            if let Some(status) = self.live[i].try_wait().unwrap() {
                // Reaped by `try_wait` already.
                let pid = self.live.swap_remove(i).id();
                self.exited.push((pid, status.code()));
            } else {
                i += 1;
            }
        }
    }

    /// SIGTERM every live worker and wait (at most 30 s) for each to exit; their exit
    /// codes. Each is first given time (at most 30 s) to have said it is listening
    /// for signals: one just started would die of the signal before it catches it.
    fn stop(&mut self) -> Vec<Option<i32>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let ready = self
                .live
                .iter()
                .all(|c| log.contains(&format!("aios worker {}@", c.id())));
            if ready || Instant::now() > deadline {
                break;
            }
            // Polling a condition with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
        for c in &self.live {
            // SAFETY: plain FFI call with the pid of our own child, not yet reaped.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut codes = Vec::new();
        while let Some(mut c) = self.live.pop() {
            loop {
                if let Some(status) = c.try_wait().unwrap() {
                    codes.push(status.code());
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    codes.push(None);
                    break;
                }
                // Polling for process exit: a condition loop with a deadline.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        codes
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Workers<'_> {
    fn drop(&mut self) {
        for c in &mut self.live {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------
// The storm.

fn run_ok(t: &Test, args: &[&str]) -> Output {
    t.args(args).real_clock().run().success()
}

fn detach(t: &Test, n: usize) {
    for _ in 0..n {
        run_ok(t, &["run", "storm.toml", "--detach"]).stdout_contains("queued for a worker");
    }
}

/// Runs not ended and not waiting on the operator: (queued or running, total runs).
fn active_runs(t: &Test) -> (usize, usize) {
    let runs = run_ok(t, &["runs", "--all", "--json"]).json();
    let runs = runs.as_array().unwrap();
    let active = runs
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("running" | "queued" | "pending")))
        .count();
    (active, runs.len())
}

/// What `aios workers --json` says is queued and claimed.
fn queue_and_claims(t: &Test) -> (usize, usize) {
    let w = run_ok(t, &["workers", "--json"]).json();
    let queued = w["queue"].as_array().map(Vec::len).unwrap_or(0);
    let claimed = w["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w["runs"].as_array().map(Vec::len).unwrap_or(0))
        .sum();
    (queued, claimed)
}

fn storm(backend: Backend) {
    let seed = seed();
    let mut rng = Rng(seed);
    let server = Counter::start(seed);
    let t = Test::new().write("storm.toml", &workflow(&server));
    let (url, name) = match backend {
        Backend::Postgres => (
            Some(crate::support::postgres::fresh_database()),
            "PostgreSQL",
        ),
        Backend::Sqlite => (None, "SQLite"),
    };
    let t = match &url {
        Some(url) => t.env("AIOS_DATABASE_URL", url),
        None => t,
    };
    let began = Instant::now();
    detach(&t, RUNS);
    let mut runs = RUNS;

    let mut workers = Workers::new(&t);
    for _ in 0..WORKERS {
        workers.spawn();
    }
    let mut since_check = 0;
    while workers.kills < KILLS {
        // A random moment: 10–100 ms from the last kill (not synchronization: any
        // moment will do, and most land inside a step).
        std::thread::sleep(Duration::from_millis(10 + rng.below(91)));
        workers.reap();
        if !workers.live.is_empty() {
            let victim = rng.below(workers.live.len() as u64) as usize;
            workers.kill9(victim);
        }
        while workers.live.len() < WORKERS {
            workers.spawn();
        }
        since_check += 1;
        if since_check == 10 {
            since_check = 0;
            let (active, _) = active_runs(&t);
            if active < WORKERS * 2 && runs < MAX_RUNS {
                detach(&t, TOP_UP);
                runs += TOP_UP;
            }
        }
    }
    let storm_took = began.elapsed();

    // The survivors finish the work: nothing running or queued, nothing claimed or
    // leased.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        workers.reap();
        while workers.live.len() < WORKERS {
            workers.spawn();
        }
        // The database's own queue: `aios workers` does not list a claim of a dead
        // worker until it expires.
        let (active, _) = active_runs(&t);
        let (queued, leased) = queue_and_leases(&t);
        if active == 0 && (queued, leased) == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: 60 s after the storm ({} kills, {runs} runs), {active} runs still \
             active, {queued} queued, {leased} leased; workers' log:\n{}",
            workers.kills,
            workers.log_tail(40)
        );
        // Polling a condition with a deadline.
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopped = workers.stop();
    let kills = workers.kills;
    let exited = std::mem::take(&mut workers.exited);
    let log = workers.log_tail(40);
    let started = workers.started;
    drop(workers);

    let ctx = format!(
        "{name}, seed {seed}: {kills} kills, {started} workers started, {runs} runs, \
         storm {storm_took:.1?}"
    );
    assert!(
        exited.is_empty(),
        "{ctx}: workers exited by themselves during the storm: {exited:?}\n{log}"
    );
    assert!(
        stopped.iter().all(|c| *c == Some(0)),
        "{ctx}: SIGTERM'd workers exited with {stopped:?}\n{log}"
    );
    assert_eq!(
        queue_and_claims(&t),
        (0, 0),
        "{ctx}: `aios workers --json` lists queued or claimed runs"
    );
    check_outcome(&t, &server, runs, &ctx);
}

/// Every run ended or waits on attention items; side effects at most once; every step
/// accounted for; replay clean.
fn check_outcome(t: &Test, server: &Counter, runs: usize, ctx: &str) {
    let listed = run_ok(t, &["runs", "--all", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), runs, "{ctx}");
    let items = run_ok(t, &["inbox", "list", "--json"]).json();
    let mut attention: BTreeMap<(i64, String), usize> = BTreeMap::new();
    for i in items.as_array().unwrap() {
        assert_eq!(
            i["kind"], "attention",
            "{ctx}: an item other than attention: {i}"
        );
        *attention
            .entry((
                i["run_id"].as_i64().unwrap(),
                i["step_id"].as_str().unwrap().to_string(),
            ))
            .or_default() += 1;
    }

    let mut succeeded = 0;
    let mut waiting = 0;
    let mut rescued: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reran: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for run in 1..=runs as i64 {
        let show = run_ok(t, &["show", &run.to_string(), "--json"]).json();
        let status = show["status"].as_str().unwrap_or("?").to_string();
        let mut blocked = false;
        let mut needs_attention = 0;
        for (id, idempotent, counted) in STEPS {
            let step = crate::support::step(&show, id);
            let st = step["status"].as_str().unwrap_or("?");
            let n = if counted { server.count(run, id) } else { 0 };
            if !idempotent && n > 1 {
                problems.push(format!("run {run}: {id} reached the server {n} times"));
            }
            if idempotent && n > 1 {
                *reran.entry(id).or_default() += 1;
            }
            let items = attention.remove(&(run, id.to_string())).unwrap_or(0);
            match st {
                "succeeded" if !blocked => {
                    if counted && (n == 0 || (!idempotent && n != 1)) {
                        problems.push(format!(
                            "run {run}: {id} succeeded, its request arrived {n} times"
                        ));
                    }
                    if items != 0 {
                        problems.push(format!("run {run}: {id} succeeded with {items} items"));
                    }
                }
                "needs_attention" if !blocked => {
                    blocked = true;
                    needs_attention += 1;
                    *rescued.entry(id).or_default() += 1;
                    if idempotent {
                        problems.push(format!(
                            "run {run}: idempotent {id} needs attention instead of running again"
                        ));
                    }
                    if items != 1 {
                        problems.push(format!(
                            "run {run}: {id} needs attention with {items} attention items"
                        ));
                    }
                }
                "pending" if blocked => {
                    if items != 0 || (!idempotent && n != 0) {
                        problems.push(format!(
                            "run {run}: {id} pending behind an attention item, \
                             {items} items, {n} requests"
                        ));
                    }
                }
                other => problems.push(format!(
                    "run {run}: {id} is {other} (after an attention item: {blocked})"
                )),
            }
        }
        match (status.as_str(), needs_attention) {
            ("succeeded", 0) => succeeded += 1,
            ("waiting", 1) => waiting += 1,
            (s, n) => problems.push(format!("run {run} is {s} with {n} steps needing attention")),
        }
        // The journal says each step succeeded at most once.
        let log = run_ok(t, &["log", &run.to_string(), "--json"]).json();
        let mut done: BTreeMap<String, usize> = BTreeMap::new();
        for e in log.as_array().unwrap() {
            if e["type"] == "step_succeeded" {
                *done
                    .entry(e["step"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        for (id, n) in done {
            if n > 1 {
                problems.push(format!("run {run}: {id} journaled as succeeded {n} times"));
            }
        }
    }
    if !attention.is_empty() {
        problems.push(format!("attention items of no stuck step: {attention:?}"));
    }
    let unknown: Vec<Hit> = server.hits().into_iter().filter(|h| h.run < 1).collect();
    if !unknown.is_empty() {
        problems.push(format!("requests of no run: {unknown:?}"));
    }
    let keys_reused: Vec<String> = {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for h in server.hits() {
            if let Some(k) = h.key {
                *seen.entry(k).or_default() += 1;
            }
        }
        seen.into_iter()
            .filter(|(k, n)| *n > 1 && !k.contains("-sync-"))
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect()
    };
    if !keys_reused.is_empty() {
        problems.push(format!(
            "idempotency keys sent more than once: {keys_reused:?}"
        ));
    }
    let summary = format!(
        "{ctx}; {succeeded} runs succeeded, {waiting} wait on an attention item \
         (by step: {rescued:?}); idempotent steps run again: {reran:?}"
    );
    assert!(
        problems.is_empty(),
        "{summary}\n{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(succeeded + waiting, runs, "{summary}");
    run_ok(t, &["replay"]).stdout_contains(" events replay to the stored state");
    eprintln!("{summary}");
}
