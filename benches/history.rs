//! Cost as history grows: every command's cost must depend on the work due, not on
//! how much the journal remembers. Builds a journal of 1,000,000 events with 10,000
//! runs waiting at an approval gate (and ~65,000 finished runs, 20 schedules with
//! their fire history, LLM calls, decisions in memory), then times, on it and on an
//! empty journal:
//!
//! - `aios tick` with nothing due (the release binary, process start included);
//! - `aios inbox list` (10,000 pending items printed), `aios runs`, `aios status`,
//!   `aios schedule list`, `aios budget`, `aios stats`, `aios show RUN`;
//! - the TUI opening in-process (as `benches/tui.rs` does: open the journal, load
//!   the items, resolve staleness, load the first detail, draw the first frame).
//!
//! The journal is built fast and cached between bench runs in
//! `target/tmp/history-v*.home`: a few real runs made with the binary (of
//! `workflows/launch.toml`: one that succeeded, one that failed, one waiting at its
//! `go` gate; and a digest of six steps), then their rows copied with SQL in one transaction, each copy under new ids and
//! shifted in time so the history spans the 180 days before `NOW`. A newer binary
//! migrates the cached copy when it first opens it (a warm-up run absorbs that).
//!
//! Each figure is the median wall clock; the median CPU time (user + system, from
//! `getrusage`) on the big journal is printed beside it.
//!
//! `cargo bench --bench history` (`-- --quick`: 5 runs per command instead of 15;
//! `-- --rebuild`: build the journal again).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rusqlite::{Connection, params};

use aios::clock::Clock;
use aios::connectors::ExecEnv;
use aios::engine::RunEnv;
use aios::journal::{OpenOptions, Owner};
use aios::tui::{Model, Msg, Runtime, TuiSettings, update, view};

mod common;

/// Bump when the shape of the built journal changes (the cache is keyed by it).
const DATA_VERSION: u32 = 5;
const EVENTS: i64 = 1_000_000;
const WAITING: i64 = 10_000;
const SCHEDULES: usize = 20;
const DAYS: i64 = 180;
const NOW: &str = "2026-11-21T09:30:00Z";
/// When the template runs are made (their rows are then shifted into the past).
const T0: &str = "2026-11-21T08:30:00Z";

/// Goals (medians, process start included for the commands).
const GOALS: &[(&str, u64)] = &[
    ("tick", 10),
    ("inbox list", 50),
    ("runs", 10),
    ("tui open", 100),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// CPU time (user + system) used so far by this process (`libc::RUSAGE_SELF`) or
/// by its children that have ended (`libc::RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: a zeroed `rusage` is valid, and getrusage only writes to it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Run the binary in `home` at `now`; returns (wall time, CPU time, stdout).
fn aios(bin: &Path, home: &Path, now: &str, args: &[&str]) -> (Duration, Duration, Vec<u8>) {
    let cpu_before = cpu(libc::RUSAGE_CHILDREN);
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .env("AIOS_HOME", home)
        .env("AIOS_NOW", now)
        .env("USER", "bench")
        .output()
        .expect("run aios");
    let took = start.elapsed();
    let used = cpu(libc::RUSAGE_CHILDREN).saturating_sub(cpu_before);
    // A rejection that fails its run exits 1, as documented; so does `status`
    // when something needs the operator (nothing ticks the bench's schedules).
    let failed_run = matches!(args[0], "reject" | "status") && out.status.code() == Some(1);
    assert!(
        out.status.success() || failed_run,
        "aios {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, used, out.stdout)
}

/// A scheduled-style workflow: a few computed values, then a file written without
/// asking.
const DIGEST: &str = r#"name = "digest"
[[steps]]
id = "collect"
kind = "set"
values = { items = ["signups", "churn", "revenue"], day = "{{ run.started_at }}" }
[[steps]]
id = "signups"
kind = "set"
needs = ["collect"]
values = { n = 42, line = "signups: 42" }
[[steps]]
id = "churn"
kind = "set"
needs = ["collect"]
values = { n = 3, line = "churn: 3" }
[[steps]]
id = "revenue"
kind = "set"
needs = ["collect"]
values = { usd = 1250, line = "revenue: $1250" }
[[steps]]
id = "summary"
kind = "set"
needs = ["signups", "churn", "revenue"]
values = { text = "{{ steps.signups.output.line }}; {{ steps.churn.output.line }}; {{ steps.revenue.output.line }}" }
[[steps]]
id = "save"
kind = "file"
needs = ["summary"]
approve = "never"
root = "out"
path = "digest.md"
content = "{{ steps.summary.output.text }}\n"
"#;

/// The template runs: run 1 succeeded, run 2 failed (its landing copy rejected,
/// its failure item abandoned),
/// run 3 waits at the `go` gate, run 4 (a digest) succeeded; plus the schedules.
fn templates(bin: &Path, home: &Path) {
    let launch = repo().join("workflows/launch.toml");
    let launch = launch.to_str().unwrap();
    let out = home.join("out");
    let out_dir = format!("out_dir={}", out.display());
    let run = |args: &[&str]| {
        aios(bin, home, T0, args);
    };
    run(&["run", launch, "-q", "--input", &out_dir]);
    run(&["approve", "1", "-q", "--no-resume"]);
    run(&["approve", "2", "-q", "--no-resume"]);
    run(&["resume", "1", "-q"]);
    run(&["approve", "3", "--field", "launch_date=2026-12-01", "-q"]);
    run(&["approve", "4", "-q"]);
    run(&["run", launch, "-q", "--input", &out_dir]);
    run(&["reject", "5", "--reason", "not this week", "-q"]);
    // The failed run's failure item (7), abandoned: the run stays failed.
    run(&["reject", "7", "--reason", "not this week", "-q"]);
    run(&["run", launch, "-q", "--input", &out_dir]);
    run(&["approve", "8", "-q", "--no-resume"]);
    run(&["approve", "9", "-q", "--no-resume"]);
    run(&["resume", "3", "-q"]);
    // Run 4: a light scheduled-style run (most of a real history is runs like it).
    let digest = home.join("digest.toml");
    std::fs::write(&digest, DIGEST).unwrap();
    run(&["run", digest.to_str().unwrap(), "-q"]);
    let dir = home.join("schedules");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..SCHEDULES {
        let file = dir.join(format!("job{i}.toml"));
        // Daily, between 12:17 and 21:17 UTC: none is due between T0 and NOW.
        let text = format!(
            "name = \"job{i}\"\n[trigger]\ncron = \"17 {} * * *\"\ntimezone = \"UTC\"\n\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ n = {i} }}\n",
            12 + i % 10
        );
        std::fs::write(&file, text).unwrap();
        run(&["schedule", "add", file.to_str().unwrap()]);
    }
}

/// The template of the `k`th finished run: 1 in 20 a failed launch, 1 in 10 a
/// launch that succeeded, the rest digests.
fn finished_template(k: i64) -> i64 {
    match (k % 20, k % 10) {
        (7, _) => 2,
        (_, 1) => 1,
        _ => 4,
    }
}

/// `INSERT INTO table SELECT …` copying one run's rows, with `overrides` for some
/// columns; columns named `at` or `*_at` (and `deadline`) are shifted by `:shift`.
fn copy_sql(conn: &Connection, table: &str, overrides: &[(&str, &str)]) -> String {
    let cols: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match overrides.iter().find(|(k, _)| k == c) {
            Some((_, e)) => e.to_string(),
            None if c == "at" || c.ends_with("_at") || c == "deadline" => {
                format!("{c} + :shift")
            }
            None => c.clone(),
        })
        .collect();
    let key = if table == "runs" { "id" } else { "run_id" };
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {key} = :tpl",
        cols.join(", "),
        exprs.join(", ")
    )
}

/// Execute `stmt` with the named parameters it uses.
fn exec(stmt: &mut rusqlite::Statement<'_>, values: &[(&str, i64)]) {
    for (name, v) in values {
        if let Some(i) = stmt.parameter_index(name).unwrap() {
            stmt.raw_bind_parameter(i, v).unwrap();
        }
    }
    stmt.raw_execute().unwrap();
}

fn ms_of(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// Build the journal at `db` (a temp home is made beside it, then renamed).
fn build(bin: &Path, db: &Path) {
    let home = db.with_extension("building");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    templates(bin, &home);
    let path = home.join("aios.db");
    let mut conn = Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    let events_of = |run: i64| -> i64 {
        tx.query_row(
            "SELECT count(*) FROM events WHERE run_id = ?1",
            params![run],
            |r| r.get(0),
        )
        .unwrap()
    };
    let ev = [0, events_of(1), events_of(2), events_of(3), events_of(4)];
    let copies_w = WAITING - 1;
    let have = tx
        .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
        .unwrap();
    // Finished runs until the events reach the goal with the waiting ones added.
    let mut finished = 0;
    let mut sum = have + copies_w * ev[3];
    while sum < EVENTS {
        sum += ev[finished_template(finished) as usize];
        finished += 1;
    }
    let total = finished + copies_w;
    let proposal_span = |run: i64| -> (i64, i64) {
        tx.query_row(
            "SELECT coalesce(min(id), 0), count(*) FROM proposals WHERE run_id = ?1",
            params![run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let spans = [
        (0, 0),
        proposal_span(1),
        proposal_span(2),
        proposal_span(3),
        proposal_span(4),
    ];
    let mut next_pid: i64 = tx
        .query_row(
            "SELECT max((SELECT coalesce(max(id), 0) FROM proposals), (SELECT coalesce(max(id), 0) FROM notices)) + 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let copy = |table: &str, overrides: &[(&str, &str)]| {
        let sql = copy_sql(&tx, table, overrides);
        tx.prepare(&sql).unwrap()
    };
    let proposal_in_data = "CASE WHEN json_extract(data, '$.proposal') IS NOT NULL
        THEN json_set(data, '$.proposal', json_extract(data, '$.proposal') + :pshift) ELSE data END";
    let mut runs = copy(
        "runs",
        &[
            ("id", ":new"),
            ("uid", "printf('bench%027d', :new)"),
            ("lease_owner", "NULL"),
            ("lease_expires", "NULL"),
            // Counted again by the triggers as the run's items are copied.
            ("pending", "0"),
        ],
    );
    let mut steps = copy("steps", &[("run_id", ":new")]);
    let mut events = copy(
        "events",
        &[
            ("seq", "NULL"),
            ("run_id", ":new"),
            ("data", proposal_in_data),
        ],
    );
    let mut proposals = copy("proposals", &[("id", "id + :pshift"), ("run_id", ":new")]);
    let mut llm = copy(
        "llm_calls",
        &[("id", "NULL"), ("run_id", ":new"), ("cost_usd", "0.0021")],
    );
    let mut docs = copy(
        "memory_docs",
        &[
            ("id", "NULL"),
            ("run_id", ":new"),
            ("proposal_id", "proposal_id + :pshift"),
        ],
    );
    let start = ms_of(NOW) - DAYS * 86_400_000;
    let t0 = ms_of(T0);
    let step = (DAYS * 86_400_000 - 3_600_000) / total;
    let mut fires = tx
        .prepare(
            "INSERT INTO fires (schedule, due_at, status, reason, run_id, decided_at)
             VALUES (?1, ?2, 'started', NULL, ?3, ?2)",
        )
        .unwrap();
    let mut fired = tx
        .prepare(
            "INSERT INTO schedule_events (schedule, type, data, at)
             VALUES (?1, 'fired', json_object('type', 'fired', 'due_at', ?2, 'status', 'started', 'run_id', ?3), ?2)",
        )
        .unwrap();
    // Finished runs first (interleaved with the failed ones), the waiting ones last:
    // a gate waits for days, not months.
    for k in 0..total {
        let tpl = if k >= finished {
            3
        } else {
            finished_template(k)
        };
        let new = 5 + k;
        let at = start + k * step;
        let shift = at - t0;
        let (min_pid, n) = spans[tpl as usize];
        let pshift = next_pid - min_pid;
        next_pid += n;
        let values = [
            (":tpl", tpl),
            (":new", new),
            (":shift", shift),
            (":pshift", pshift),
        ];
        for stmt in [
            &mut runs,
            &mut steps,
            &mut events,
            &mut proposals,
            &mut llm,
            &mut docs,
        ] {
            exec(stmt, &values);
        }
        if tpl == 4 && k % 3 == 0 {
            let schedule = format!("job{}", k % SCHEDULES as i64);
            fires.execute(params![schedule, at, new]).unwrap();
            fired.execute(params![schedule, at, new]).unwrap();
        }
    }
    drop((runs, steps, events, proposals, llm, docs, fires, fired));
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    let _ = std::fs::remove_dir_all(db.with_extension("home"));
    std::fs::rename(&home, db.with_extension("home")).unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// (wall time, CPU time) of opening the TUI in-process.
fn tui_open(db: &Path) -> (Duration, Duration) {
    let settings = TuiSettings {
        db_path: db.to_path_buf(),
        pg: None,
        clock: Clock::Fixed(NOW.parse().unwrap()),
        open: OpenOptions::default(),
        run_env: RunEnv::new(Owner::new(std::process::id(), "bench"), ExecEnv::default()),
        operator: "bench@bench".into(),
        no_color: false,
        editor: None,
        poll: Duration::from_millis(500),
    };
    let cpu_before = cpu(libc::RUSAGE_SELF);
    let t = Instant::now();
    let mut rt = Runtime::new(settings).unwrap();
    let mut model = Model::new(rt.model_settings(), ms_of(NOW), (120, 40));
    let mut queue: std::collections::VecDeque<Msg> = rt.poll(&model, true).unwrap().into();
    while let Some(msg) = queue.pop_front() {
        for cmd in update(&mut model, msg) {
            queue.extend(rt.perform(cmd, &model, None).unwrap());
        }
    }
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| view(&model, f)).unwrap();
    let took = t.elapsed();
    let used = cpu(libc::RUSAGE_SELF).saturating_sub(cpu_before);
    assert!(
        model.selected_detail().is_some(),
        "the TUI opened on no item"
    );
    (took, used)
}

struct Home {
    label: &'static str,
    dir: PathBuf,
}

/// The migrations' file names, hashed: a cached journal made when they were
/// different (one renumbered at a merge, say) is rebuilt, not migrated again.
fn migrations_key() -> String {
    use std::hash::{Hash, Hasher};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/journal/migrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    names.hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// Other cached journals (about 1 GB each) go before a new one is built.
fn remove_stale_caches(cache: &Path, keep: &Path) {
    for entry in std::fs::read_dir(cache).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("history-v") && path != keep {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let rebuild = args.iter().any(|a| a == "--rebuild");
    let n = if quick { 5 } else { 15 };
    let bin = common::aios_binary().unwrap_or_else(|e| panic!("{e}"));
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&cache).unwrap();
    let big = cache.join(format!("history-v{DATA_VERSION}-{}", migrations_key()));
    let big_home = big.with_extension("home");
    if rebuild || !big_home.join("aios.db").is_file() {
        remove_stale_caches(&cache, &big_home);
        let t = Instant::now();
        build(&bin, &big);
        eprintln!("built the journal in {:.1} s", t.elapsed().as_secs_f64());
    }
    let small = tempfile::tempdir().unwrap();
    templates(&bin, small.path());
    let homes = [
        Home {
            label: "empty",
            dir: small.path().to_path_buf(),
        },
        Home {
            label: "history",
            dir: big_home.clone(),
        },
    ];
    for h in &homes {
        let c = Connection::open(h.dir.join("aios.db")).unwrap();
        let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        let size = std::fs::metadata(h.dir.join("aios.db")).unwrap().len();
        eprintln!(
            "{}: {} runs, {} events, {} waiting, {} pending items, {:.0} MB",
            h.label,
            count("SELECT count(*) FROM runs"),
            count("SELECT count(*) FROM events"),
            count("SELECT count(*) FROM runs WHERE status = 'waiting'"),
            count("SELECT count(*) FROM proposals WHERE status = 'pending'"),
            size as f64 / 1e6
        );
    }
    let last_run = {
        let c = Connection::open(big_home.join("aios.db")).unwrap();
        c.query_row(
            "SELECT max(id) FROM runs WHERE status = 'succeeded'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        .to_string()
    };
    // Commands this build has (`status` is newer than the first figures).
    let has = |cmd: &str| {
        Command::new(&bin)
            .args([cmd, "--help"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut commands: Vec<(&str, Vec<&str>)> = vec![
        ("tick", vec!["tick"]),
        ("inbox list", vec!["inbox", "list"]),
        ("runs", vec!["runs"]),
        ("status", vec!["status"]),
        ("schedule list", vec!["schedule", "list"]),
        ("budget", vec!["budget"]),
        ("stats", vec!["stats"]),
        ("show RUN", vec!["show", "1"]),
    ];
    commands.retain(|(_, c)| has(c[0]));
    // Wall-clock medians (what the goals are about), and the median CPU time (user +
    // system) on the big journal: on a shared machine the wall clock is mostly the
    // wait for a core.
    println!("| command | empty journal | 1M events, 10k waiting | CPU (1M events) | goal |");
    println!("|---|---:|---:|---:|---:|");
    let mut ok = true;
    let goal = |name: &str| GOALS.iter().find(|(n, _)| *n == name).map(|(_, g)| *g);
    for (name, cmd) in &commands {
        let mut cells = Vec::new();
        let mut cpus = Vec::new();
        for h in &homes {
            let cmd: Vec<&str> = cmd
                .iter()
                .map(|a| {
                    if *a == "1" && h.label == "history" {
                        last_run.as_str()
                    } else {
                        a
                    }
                })
                .collect();
            // Warm-ups (the first also migrates a cached journal built by an older aios).
            for _ in 0..2 {
                aios(&bin, &h.dir, NOW, &cmd);
            }
            let runs: Vec<(Duration, Duration)> = (0..n)
                .map(|_| {
                    let (t, c, out) = aios(&bin, &h.dir, NOW, &cmd);
                    if *name == "tick" {
                        assert!(
                            out.is_empty(),
                            "a tick with nothing due printed: {}",
                            String::from_utf8_lossy(&out)
                        );
                    }
                    (t, c)
                })
                .collect();
            cells.push(median(runs.iter().map(|r| r.0).collect()));
            cpus.push(median(runs.iter().map(|r| r.1).collect()));
        }
        let g = goal(name);
        if let Some(g) = g {
            ok &= cells[1] < Duration::from_millis(g);
        }
        println!(
            "| `aios {}` | {} | {} | {} | {} |",
            name,
            ms(cells[0]),
            ms(cells[1]),
            ms(cpus[1]),
            g.map(|g| format!("< {g} ms")).unwrap_or_else(|| "–".into())
        );
    }
    let mut cells = Vec::new();
    let mut cpus = Vec::new();
    for h in &homes {
        let db = h.dir.join("aios.db");
        tui_open(&db);
        let opens: Vec<(Duration, Duration)> = (0..n).map(|_| tui_open(&db)).collect();
        cells.push(median(opens.iter().map(|o| o.0).collect()));
        cpus.push(median(opens.iter().map(|o| o.1).collect()));
    }
    ok &= cells[1] < Duration::from_millis(goal("tui open").unwrap());
    println!(
        "| TUI open (in-process, 120x40) | {} | {} | {} | < {} ms |",
        ms(cells[0]),
        ms(cells[1]),
        ms(cpus[1]),
        goal("tui open").unwrap()
    );
    println!(
        "\n{}: medians of {n} runs after 2 warm-ups; goals on the 1M-event journal",
        if ok { "PASS" } else { "FAIL" }
    );
    if !ok {
        std::process::exit(1);
    }
}
