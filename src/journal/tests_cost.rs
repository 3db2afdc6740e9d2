//! Cost flat as history grows (issue 15 part 7), guarded without a clock: the reads
//! of `aios tick`, `inbox list`, `runs`, `budget`, `status`, `stats`, `show RUN`
//! and the TUI's opening are run on a journal, then again after as much history
//! again was added (finished runs with their decided items and LLM calls, older
//! than every window); the work SQLite did for each (virtual machine steps, rows
//! stepped in full scans, statements run) must not grow. The listing and spending
//! statements must also be answered from an index alone (EXPLAIN QUERY PLAN):
//! their rows (actions, evidence, requests and replies) are never read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rusqlite::StatementStatus;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use serde_json::json;

use super::*;
use crate::clock::Clock;

/// 2026-11-21T09:30:00Z.
const NOW: Millis = 1_795_253_400_000;
const DAY: Millis = 86_400_000;

/// What the statements of one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Work {
    statements: u64,
    vm_steps: u64,
    full_scan_steps: u64,
}

/// Per SQL text: the counters of the statement last seen, and the work of the
/// statements finished before it (a statement's counters grow over its runs).
type Seen = BTreeMap<String, ((u64, u64), (u64, u64), u64)>;

fn at(j: &mut SqliteJournal, ms: Millis) {
    j.clock = Clock::Fixed(jiff::Timestamp::from_millisecond(ms).unwrap());
}

/// The work of `f`, on a fresh connection to the same file (an empty statement
/// cache, so the counters start at zero), and the SQL it ran.
/// Also each statement with its work, for the messages.
fn work(path: &std::path::Path, f: impl FnOnce(&mut Journal)) -> (Work, Vec<String>, Vec<String>) {
    let mut j = SqliteJournal::open(path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let runs = Arc::new(Mutex::new(0u64));
    {
        let seen = seen.clone();
        let runs = runs.clone();
        j.conn
            .trace_v2(
                TraceEventCodes::SQLITE_TRACE_PROFILE,
                Some(move |e: TraceEvent<'_>| {
                    if let TraceEvent::Profile(stmt, _) = e {
                        let now = (
                            stmt.get_status(StatementStatus::VmStep) as u64,
                            stmt.get_status(StatementStatus::FullscanStep) as u64,
                        );
                        *runs.lock().unwrap() += 1;
                        let mut seen = seen.lock().unwrap();
                        let entry =
                            seen.entry(stmt.sql().to_string())
                                .or_insert(((0, 0), (0, 0), 0));
                        // Counters that went down belong to a new statement object.
                        if now.0 < entry.0.0 {
                            entry.1.0 += entry.0.0;
                            entry.1.1 += entry.0.1;
                        }
                        entry.0 = now;
                        entry.2 += 1;
                    }
                }),
            )
            .unwrap();
    }
    let mut facade = Journal::from(j);
    f(&mut facade);
    let mut j = facade.into_sqlite().unwrap();
    j.conn
        .trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .unwrap();
    let seen = seen.lock().unwrap();
    let mut w = Work {
        statements: *runs.lock().unwrap(),
        ..Work::default()
    };
    let mut each = Vec::new();
    for (sql, (last, before, n)) in seen.iter() {
        w.vm_steps += last.0 + before.0;
        w.full_scan_steps += last.1 + before.1;
        each.push(format!(
            "{n} run(s), {} steps, {} in full scans: {sql}",
            last.0 + before.0,
            last.1 + before.1
        ));
    }
    (w, seen.keys().cloned().collect(), each)
}

fn ts(ms: Millis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap()
}

/// A run of one step with one inbox item (drafted by the offline heuristic, with
/// kilobytes of evidence) and one LLM call, created at `t`; `end` finishes it
/// (the item decided, the run succeeded or failed), else it waits on the item.
fn run(j: &mut SqliteJournal, t: Millis, k: i64, end: Option<RunStatus>) -> i64 {
    at(j, t);
    let run = j
        .create_run(
            "name = \"w\"",
            Event::RunCreated {
                dry: None,
                uid: uuid::Uuid::now_v7().to_string(),
                workflow: format!("w{}", k % 3),
                path: None,
                dir: "/tmp".into(),
                source_hash: "h".into(),
                inputs: json!({}),
                steps: vec![StepDecl {
                    id: "a".into(),
                    kind: "file".into(),
                }],
            },
        )
        .unwrap();
    let big = "x".repeat(6_000);
    let id = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            format!("write a{k}"),
            json!({"kind": "file", "content": big}),
            json!({"upstream": {"brief": big}, "agents": [{"step": "copy", "heuristic": true}],
                   "confidence": 0.5, "versions": []}),
        )
        .unwrap()
        .unwrap();
    let call = LlmCall {
        step: "a".into(),
        attempt: 1,
        alias: "default".into(),
        provider: "p".into(),
        model: "m".into(),
        request: json!({"chat": big}),
        response: Some(big.clone()),
        error: None,
        tokens_in: 100,
        tokens_out: 50,
        cost_usd: 0.25,
        latency_ms: 10,
        http_attempts: 1,
        heuristic: false,
        finish_reason: None,
        failure: None,
        persona: None,
        tool_calls: Vec::new(),
    };
    j.commit(run, &[Event::LlmCall(Box::new(call))]).unwrap();
    let Some(status) = end else {
        j.commit(
            run,
            &[Event::RunStatus {
                status: RunStatus::Waiting,
                error: None,
            }],
        )
        .unwrap();
        return run;
    };
    {
        j.decide(
            id,
            DecisionInput {
                decision: Decision::Approve,
                reason: None,
                fields: None,
                edited: None,
                diff: None,
                by: "me".into(),
            },
        )
        .unwrap();
        let error = (status == RunStatus::Failed).then(|| "boom".to_string());
        j.commit(run, &[Event::RunStatus { status, error }])
            .unwrap();
    }
    run
}

/// `n` finished runs (one in five failed) between 400 and 200 days before now:
/// older than every window the commands look at.
fn history(path: &std::path::Path, n: i64) {
    let mut j = SqliteJournal::open(path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
    for k in 0..n {
        let t = NOW - 400 * DAY + k * (200 * DAY / n);
        let end = if k % 5 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        run(&mut j, t, k, Some(end));
    }
}

/// What one command reads.
type Read = Box<dyn Fn(&mut Journal)>;

/// The reads of each command, by name.
fn reads() -> Vec<(&'static str, Read)> {
    vec![
        (
            "tick",
            Box::new(|j: &mut Journal| {
                let env = crate::engine::RunEnv::new(
                    Owner::new(1, "test"),
                    crate::connectors::ExecEnv::default(),
                );
                let report = crate::schedule::tick(j, &env, &mut crate::engine::Quiet).unwrap();
                assert!(report.items.is_empty(), "{:?}", report.items);
            }),
        ),
        (
            "inbox list",
            Box::new(|j: &mut Journal| {
                crate::schedule::flag_late(j).unwrap();
                assert_eq!(j.inbox_rows().unwrap().len(), 3);
            }),
        ),
        (
            "runs",
            Box::new(|j: &mut Journal| {
                assert_eq!(j.runs_of(None, 51, false).unwrap().len(), 51);
            }),
        ),
        (
            "budget",
            Box::new(|j: &mut Journal| {
                let (day, month) = crate::agent::budget::period_starts(j.now());
                assert_eq!(j.llm_spent_since(day).unwrap(), 0.75);
                j.llm_spent_since(month).unwrap();
                assert_eq!(j.llm_spend_by_workflow(month).unwrap().len(), 3);
                j.llm_tokens_since(day).unwrap();
                j.llm_tokens_since(month).unwrap();
            }),
        ),
        (
            "status",
            Box::new(|j: &mut Journal| {
                let path = j.path().unwrap().to_path_buf();
                let s = crate::health::status::gather(j, &path, (None, None), false).unwrap();
                assert_eq!(s.waiting, 3);
            }),
        ),
        (
            "stats",
            Box::new(|j: &mut Journal| {
                let s = j.stats(None, None).unwrap();
                assert_eq!(s.failures.len(), 0);
            }),
        ),
        (
            "show RUN",
            Box::new(|j: &mut Journal| {
                let id = j.runs_of(Some(RunStatus::Waiting), 1, false).unwrap()[0].id;
                j.run(id).unwrap();
                j.steps(id).unwrap();
                j.run_proposals(id).unwrap();
                j.events(id).unwrap();
            }),
        ),
        (
            "tui open",
            Box::new(|j: &mut Journal| {
                j.changes_since(0).unwrap();
                let rows = j.inbox_rows().unwrap();
                let mut cache = VersionCache::default();
                for r in &rows {
                    j.stale_refs(&r.versions, &mut cache);
                }
                // (It also lists the newest 500 runs: bounded by that limit.)
                j.proposal(rows[0].id).unwrap();
            }),
        ),
    ]
}

#[test]
fn the_work_of_each_command_does_not_grow_with_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aios.db");
    history(&path, 60);
    {
        // What is due: three runs waiting on their items, made an hour ago.
        let mut j =
            SqliteJournal::open(&path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
        for k in 0..3 {
            run(&mut j, NOW - 3_600_000, k, None);
        }
    }
    let before: Vec<(&str, (Work, Vec<String>))> = reads()
        .into_iter()
        .map(|(name, f)| {
            let (w, _, each) = work(&path, |j| f(j));
            (name, (w, each))
        })
        .collect();
    history(&path, 120);
    let mut grew = Vec::new();
    for ((name, f), (_, (was, sql_was))) in reads().into_iter().zip(&before) {
        let (now, _, sql) = work(&path, |j| f(j));
        assert!(now.statements > 0, "{name} ran no statement");
        // A few steps of slack: a range that ended the index now ends before the
        // next run's entries (one more comparison per range). Reading the added
        // history would cost hundreds.
        if now.vm_steps > was.vm_steps + 16
            || now.full_scan_steps > was.full_scan_steps
            || now.statements > was.statements
        {
            grew.push(format!(
                "{name}: {was:?} -> {now:?}\nbefore:\n  {}\nafter:\n  {}",
                sql_was.join("\n  "),
                sql.join("\n  ")
            ));
        }
    }
    assert!(
        grew.is_empty(),
        "the work of these commands grew with the history:\n{}",
        grew.join("\n")
    );
    // Runs waiting at a gate are work for the operator (the inbox lists them, the
    // status counts them), not for a tick: with sixty more, a tick with nothing due
    // (and the listings of runs, spending and figures) does the same work.
    {
        let mut j =
            SqliteJournal::open(&path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
        for k in 0..60 {
            run(&mut j, NOW - 300 * DAY + k * DAY, k, None);
        }
    }
    let flat = ["tick", "runs", "budget", "stats", "show RUN"];
    for ((name, f), (_, (was, sql_was))) in reads().into_iter().zip(&before) {
        if !flat.contains(&name) {
            continue;
        }
        let (now, _, sql) = work(&path, |j| f(j));
        if now.vm_steps > was.vm_steps + 16
            || now.full_scan_steps > was.full_scan_steps
            || now.statements > was.statements
        {
            grew.push(format!(
                "{name}: {was:?} -> {now:?}\nbefore:\n  {}\nafter:\n  {}",
                sql_was.join("\n  "),
                sql.join("\n  ")
            ));
        }
    }
    assert!(
        grew.is_empty(),
        "the work of these commands grew with the runs waiting at a gate:\n{}",
        grew.join("\n")
    );
}

/// The plan of `sql`, one line per step.
fn plan(j: &SqliteJournal, sql: &str) -> Vec<String> {
    let mut stmt = j
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let n = stmt.parameter_count();
    for i in 1..=n {
        stmt.raw_bind_parameter(i, 0).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.get::<_, String>(3).unwrap());
    }
    out
}

#[test]
fn listing_and_spending_read_indexes_not_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aios.db");
    history(&path, 3);
    {
        let mut j =
            SqliteJournal::open(&path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
        run(&mut j, NOW - 3_600_000, 0, None);
    }
    let j = SqliteJournal::open(&path, Clock::Fixed(ts(NOW)), OpenOptions::default()).unwrap();
    // The statements of the list and of the sums.
    let (_, listing, _) = work(&path, |j| {
        j.inbox_rows().unwrap();
    });
    let (_, spending, _) = work(&path, |j| {
        let (day, month) = crate::agent::budget::period_starts(j.now());
        j.llm_spent_since(day).unwrap();
        j.llm_spend_by_workflow(month).unwrap();
        j.llm_tokens_since(month).unwrap();
        j.llm_spent_by_persona_since("p", month).unwrap();
    });
    // A listing of runs counts each run's steps from an index, not from the steps'
    // rows (whose outputs fill the pages).
    let (_, runs, _) = work(&path, |j| {
        j.runs_of(None, 51, false).unwrap();
    });
    for sql in &runs {
        for line in plan(&j, sql) {
            if line.starts_with("SEARCH s ") || line.starts_with("SCAN s ") {
                assert!(line.contains("COVERING INDEX"), "reads the rows: {line}");
            }
        }
    }
    for sql in listing.iter().chain(&spending) {
        for line in plan(&j, sql) {
            // `SEARCH p USING COVERING INDEX …`, `SCAN llm_calls`, …
            let mut words = line.split_whitespace();
            let (Some(op), Some(table)) = (words.next(), words.next()) else {
                continue;
            };
            if matches!(op, "SCAN" | "SEARCH")
                && matches!(table, "p" | "proposals" | "c" | "llm_calls")
            {
                assert!(
                    line.contains("COVERING INDEX"),
                    "reads the rows: {line}\nin: {sql}"
                );
            }
        }
    }
}
