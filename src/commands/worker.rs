//! `aios worker`: a process that claims queued runs (`aios run --detach`, runs
//! handed on at a step whose `runs_on` tags their driver lacked) and drives them.
//!
//! It registers itself (`workers`), then `--concurrency` threads each loop: claim the
//! oldest run its tags cover (the claim takes the run's lease too), continue it with
//! `engine::resume` as `aios resume` would (the crash rules included: a run a killed
//! worker held is continued after its claim expired), finish the claim. They sleep
//! `--poll` only when nothing was claimable. A heartbeat thread reports the worker
//! and renews its claims every third of `--lease`. SIGINT/SIGTERM stop the claiming;
//! runs in flight are driven on until they stop, then the worker is marked stopped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use super::schedule::Signals;
use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::WorkerArgs;
use crate::engine::{self, Mode, Quiet, RunEnv, RunOutcome};
use crate::error::{Error, Result};
use crate::journal::{Journal, Owner, RunStatus, WriteGate};

/// What the worker's threads share.
struct Shared {
    owner: Owner,
    tags: Vec<String>,
    lease: Duration,
    poll: Duration,
    exit_when_idle: bool,
    json: bool,
    /// Set by a signal, or when idle with `--exit-when-idle`: claim nothing more.
    stop: AtomicBool,
    /// Threads claiming or driving a run now.
    busy: AtomicUsize,
    /// The runs this worker holds (their claims are renewed by the heartbeat).
    held: Mutex<HashSet<i64>>,
    /// Runs driven, for the last line.
    driven: AtomicUsize,
    open: Arc<dyn Fn() -> Result<Journal> + Send + Sync>,
}

/// `--tags a,b`: each a tag, the set sorted.
fn parse_tags(s: &str) -> Result<Vec<String>> {
    let tags: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(t) = tags.iter().find(|t| !crate::workflow::valid_tag(t)) {
        return Err(
            Error::invalid(format!("--tags: `{t}` is not a worker tag")).with_hint(
                "tags hold lower-case letters, digits, `_` and `-`: aios worker --tags gpu,eu",
            ),
        );
    }
    Ok(crate::journal::tag_set(&tags))
}

/// `--lease` and `--poll`.
fn duration(flag: &str, s: &str, min: Duration, example: &str) -> Result<Duration> {
    match crate::workflow::parse_duration(s) {
        Ok(d) if d >= min => Ok(d),
        Ok(_) => Err(Error::invalid(format!(
            "{flag} {s} is too short (at least {})",
            crate::clock::format_duration(min)
        ))
        .with_hint(format!("for example: aios worker {flag} {example}"))),
        Err(e) => Err(Error::invalid(format!("{flag}: {e}")).with_hint(format!(
            "{}: aios worker {flag} {example}",
            crate::workflow::duration::DURATION_HINT
        ))),
    }
}

pub fn worker(ctx: &Ctx, args: WorkerArgs) -> CmdResult {
    if args.concurrency == 0 {
        return Err(Error::invalid("--concurrency 0 would drive nothing")
            .with_hint("drive at least one run at a time: aios worker --concurrency 1")
            .into());
    }
    let tags = parse_tags(&args.tags)?;
    let lease = duration("--lease", &args.lease, Duration::from_secs(1), "30s")?;
    let poll = duration("--poll", &args.poll, Duration::from_millis(10), "200ms")?;
    let mut env = ctx.run_env()?;
    env.tags = tags.clone();
    env.lease_ttl = lease;
    // One write gate for this process's connections (SQLite: they take turns).
    let gate = WriteGate::default();
    let opener = ctx.journal_opener()?;
    let open: Arc<dyn Fn() -> Result<Journal> + Send + Sync> =
        Arc::new(move || opener().map(|j| j.with_gate(gate.clone())));
    let mut journal = open()?;
    let owner = ctx.owner.clone();

    // Signals are caught from here on, before the worker registers (a stop during
    // its start still ends it as stopped): a stop claims nothing more, and the runs in
    // flight are driven on until they stop.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the worker's signal handling")?;
    let mut signals = {
        let _guard = rt.enter();
        Signals::new().context("cannot install the signal handlers")?
    };
    journal.register_worker(&owner, &tags, args.concurrency, lease.as_millis() as i64)?;
    let shared = Arc::new(Shared {
        owner: owner.clone(),
        tags: tags.clone(),
        lease,
        poll,
        exit_when_idle: args.exit_when_idle,
        json: args.json,
        stop: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
        held: Mutex::new(HashSet::new()),
        driven: AtomicUsize::new(0),
        open,
    });
    ui::eprint(&format!(
        "aios worker {}: {}, {} at a time, lease {}; stop with Ctrl-C or SIGTERM\n",
        owner.as_string(),
        if tags.is_empty() {
            "no tags".to_string()
        } else {
            format!("tags {}", tags.join(", "))
        },
        args.concurrency,
        crate::clock::format_duration(lease),
    ));
    {
        let shared = shared.clone();
        std::thread::spawn(move || {
            rt.block_on(signals.recv());
            shared.stop.store(true, Ordering::SeqCst);
        });
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let beat = {
        let shared = shared.clone();
        std::thread::spawn(move || heartbeat(&shared, done_rx))
    };
    let mut threads = Vec::new();
    for _ in 0..args.concurrency {
        let shared = shared.clone();
        let env = env.clone();
        threads.push(std::thread::spawn(move || drive_loop(&shared, &env)));
    }
    let mut code = Exit::Ok;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                ctx.ui.print_error(&anyhow::Error::from(e));
                code = Exit::Failed;
            }
            Err(_) => code = Exit::Failed,
        }
    }
    drop(done_tx);
    let _ = beat.join();
    journal.stop_worker(&owner)?;
    ui::eprint(&format!(
        "aios worker {}: stopped ({} driven)\n",
        owner.as_string(),
        crate::text::count(shared.driven.load(Ordering::SeqCst), "run")
    ));
    Ok(code)
}

/// One thread: claim, drive, finish, until stopped (or idle with `--exit-when-idle`).
fn drive_loop(shared: &Shared, env: &RunEnv) -> Result<()> {
    let mut journal = (shared.open)()?;
    let ttl = shared.lease.as_millis() as i64;
    while !shared.stop.load(Ordering::SeqCst) {
        shared.busy.fetch_add(1, Ordering::SeqCst);
        let claimed = match journal.claim_work(&shared.owner, &shared.tags, ttl) {
            Ok(c) => c,
            Err(e) => {
                shared.busy.fetch_sub(1, Ordering::SeqCst);
                report_error(shared, None, &e);
                std::thread::sleep(shared.poll);
                continue;
            }
        };
        let Some(item) = claimed else {
            // Nothing claimable: idle when no other thread claims or drives either.
            let others = shared.busy.fetch_sub(1, Ordering::SeqCst) - 1;
            if shared.exit_when_idle && others == 0 {
                shared.stop.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(shared.poll);
            continue;
        };
        let run = item.run_id;
        lock(&shared.held).insert(run);
        // Cancelled (or finished) while queued: nothing to drive, the row goes.
        let outcome = match journal.run_status(run) {
            Ok(status @ (RunStatus::Cancelled | RunStatus::Succeeded)) => Ok(RunOutcome {
                run_id: run,
                status,
                error: None,
                handoff: None,
            }),
            _ => engine::resume(&mut journal, run, env, &mut Quiet, Mode::Continue),
        };
        lock(&shared.held).remove(&run);
        // Finished (ended, waiting, failed, or refused): the row goes with the lease.
        // Handed on: the driver queued it again, and this claim is gone already.
        let finished = journal.finish_work(run, &shared.owner);
        shared.driven.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Ok(o) => report(shared, &journal, &o),
            Err(e) => report_error(shared, Some(run), &e),
        }
        if let Err(e) = finished {
            report_error(shared, Some(run), &e);
        }
        shared.busy.fetch_sub(1, Ordering::SeqCst);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every third of the lease: the worker's heartbeat, and its claims renewed.
fn heartbeat(shared: &Shared, done: std::sync::mpsc::Receiver<()>) {
    let Ok(mut journal) = (shared.open)() else {
        return;
    };
    let ttl = shared.lease.as_millis() as i64;
    loop {
        match done.recv_timeout(shared.lease / 3) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let _ = journal.worker_beat(&shared.owner);
        let held: Vec<i64> = lock(&shared.held).iter().copied().collect();
        for run in held {
            let _ = journal.renew_work(run, &shared.owner, ttl);
        }
    }
}

/// One line per run driven: on stderr, or a JSON object on stdout with `--json`.
fn report(shared: &Shared, journal: &Journal, o: &RunOutcome) {
    let me = shared.owner.as_string();
    let run = o.run_id;
    let steps = journal.steps(run).map(|s| s.len()).unwrap_or(0);
    let workflow = journal.run(run).map(|r| r.workflow).unwrap_or_default();
    if shared.json {
        let status = if o.handoff.is_some() {
            "handed_off"
        } else {
            o.status.as_str()
        };
        ui::println(
            &json!({
                "worker": me,
                "run": run,
                "workflow": workflow,
                "status": status,
                "steps": steps,
                "error": o.error,
                "handoff": o.handoff.as_ref().map(|h| json!({"step": h.step, "tags": h.tags})),
            })
            .to_string(),
        );
        return;
    }
    let what = match (&o.handoff, o.status) {
        (Some(h), _) => format!(
            "handed to workers tagged {} (step {} needs them)",
            h.tags.join(", "),
            h.step
        ),
        (None, RunStatus::Succeeded) => {
            format!("succeeded ({})", crate::text::count(steps, "step"))
        }
        (None, RunStatus::Waiting) => "is waiting (see `aios inbox`)".to_string(),
        (None, RunStatus::Failed) => format!(
            "failed: {} (see `aios show {run}`)",
            o.error.as_deref().unwrap_or("a step failed")
        ),
        (None, RunStatus::Cancelled) => "was cancelled".to_string(),
        (None, RunStatus::Running) => "is running".to_string(),
    };
    ui::eprint(&format!("worker {me}: run {run} ({workflow}) {what}\n"));
}

fn report_error(shared: &Shared, run: Option<i64>, e: &Error) {
    let me = shared.owner.as_string();
    if shared.json {
        ui::println(
            &json!({
                "worker": me,
                "run": run,
                "status": "error",
                "error": e.message,
            })
            .to_string(),
        );
        return;
    }
    let what = run.map(|r| format!("run {r}: ")).unwrap_or_default();
    ui::eprint(&format!("worker {me}: {what}error: {}\n", e.message));
}
