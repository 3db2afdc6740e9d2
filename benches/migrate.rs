//! `aios migrate --to postgres://…`: the wall time of copying a 10,000-event SQLite
//! journal into PostgreSQL (`journal::pg::import`, as the command calls it), on a
//! throwaway server on loopback (the tests' `testdb`: `initdb` + `pg_ctl`).
//!
//! The journal is made through the library, as runs commit: 1,090 runs of a
//! three-step workflow, each created, its steps started and succeeded, an outcome
//! recorded and its status set (9 events a run), one run in ten with a fact its step
//! set and a note it wrote (2 more): 10,028 events, plus 50 notes added by hand
//! (not events).
//! Each copy goes into a fresh database; the figure is the median of the copies,
//! split into the replay of the events (appended and projected one by one: a
//! statement per append and at least one per projection, each a round trip) and the
//! rest (the other logs and records, moving the sequences, comparing every
//! projection, the commit).
//!
//! `cargo bench --bench migrate` (`-- --copies N`: N copies instead of 5). The
//! release profile is slow to build (fat LTO); `--profile dev` measures the same
//! round trips with an unoptimised client.

use std::time::{Duration, Instant};

use serde_json::json;

use aios::clock::Clock;
use aios::journal::pg::import::{ImportOptions, import};
use aios::journal::types::{Event, RunStatus, StepDecl};
use aios::journal::{NewNote, OpenOptions, SqliteJournal};

#[path = "../src/journal/pg/testdb.rs"]
#[allow(dead_code)]
mod testdb;

const RUNS: usize = 1_090;
const STEPS: [&str; 3] = ["fetch", "draft", "send"];

fn journal(dir: &std::path::Path) -> SqliteJournal {
    let mut j = SqliteJournal::open(&dir.join("aios.db"), Clock::System, OpenOptions::default())
        .expect("open the journal");
    j.add_notes(
        &(0..50)
            .map(|i| NewNote {
                text: format!("a note written by hand, number {i}"),
                tags: vec!["bench".into()],
                source: None,
            })
            .collect::<Vec<_>>(),
    )
    .expect("notes");
    for r in 0..RUNS {
        let run = j
            .create_run(
                "name = \"w\"",
                Event::RunCreated {
                    dry: None,
                    uid: format!("u{r}"),
                    workflow: "w".into(),
                    path: None,
                    dir: "/tmp".into(),
                    source_hash: "h".into(),
                    inputs: json!({"customer": format!("c{r}")}),
                    steps: STEPS
                        .iter()
                        .map(|s| StepDecl {
                            id: s.to_string(),
                            kind: "http".into(),
                        })
                        .collect(),
                },
            )
            .expect("run");
        let mut events = Vec::new();
        for s in STEPS {
            events.push(Event::StepStarted {
                step: s.into(),
                attempt: 1,
            });
            events.push(Event::StepSucceeded {
                step: s.into(),
                attempt: 1,
                output: json!({"status": 200, "body": format!("{s} of run {run}")}),
            });
        }
        if r % 10 == 0 {
            events.push(Event::FactSet {
                step: "send".into(),
                entity: format!("customer:c{r}"),
                key: "last_sent".into(),
                value: json!(run),
                version: 1,
            });
        }
        events.push(Event::OutcomeRecorded {
            step: Some("send".into()),
            values: json!({"sent": 1, "open_rate": 0.25}),
        });
        events.push(Event::RunStatus {
            status: RunStatus::Succeeded,
            error: None,
        });
        j.commit_allocated(run, |a| {
            if r % 10 == 0 {
                // The note's id is allocated in the commit's transaction.
                events.insert(
                    events.len() - 2,
                    Event::NoteAdded {
                        step: "send".into(),
                        note: a.next_note_id()?,
                        text: format!("sent the report of run {run}"),
                        tags: vec!["report".into()],
                    },
                );
            }
            Ok(events)
        })
        .expect("commit");
    }
    j
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let copies = args
        .iter()
        .position(|a| a == "--copies")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    let dir = tempfile::tempdir().expect("temp dir");
    let made = Instant::now();
    drop(journal(dir.path()));
    let src = SqliteJournal::open_read_only(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .expect("reopen");
    eprintln!("journal made in {:.1?}", made.elapsed());
    let events: i64 = rusqlite::Connection::open(dir.path().join("aios.db"))
        .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)))
        .expect("count the events");
    // The progress callback fires at the start and once the last event is replayed.
    let opts = ImportOptions {
        force: false,
        allow_active: false,
        progress_every: events as u64,
    };
    let (mut walls, mut replays) = (Vec::new(), Vec::new());
    for _ in 0..copies {
        let url = testdb::fresh_database();
        let start = Instant::now();
        let mut replayed = Duration::ZERO;
        let report = import(&src, &url, &opts, &mut |done, _| {
            if done > 0 {
                replayed = start.elapsed();
            }
        })
        .expect("copy");
        walls.push(start.elapsed());
        replays.push(replayed);
        assert!(report.committed, "{:?}", report.differences);
        assert_eq!(report.events, events);
    }
    let (wall, replay) = (median(walls), median(replays));
    println!(
        "aios migrate, {events} events: {:.2}s (median of {copies} copies), {:.0} events/s; \
         replaying the events {:.2}s ({:.0} events/s), the rest (other logs, records, \
         comparison, commit) {:.2}s",
        wall.as_secs_f64(),
        events as f64 / wall.as_secs_f64(),
        replay.as_secs_f64(),
        events as f64 / replay.as_secs_f64(),
        (wall - replay).as_secs_f64()
    );
}
