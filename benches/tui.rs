//! Benchmark of the inbox TUI with 10,000 pending items: how long it takes to open
//! (open the journal, load the items, resolve staleness, load the first detail, draw
//! the first frame) and how long a frame takes (a key press through `update`, then
//! `view` into a buffer), plus the cost of one journal poll.
//!
//! Run it with `cargo bench --bench tui` (`-- --quick`: fewer iterations).
//!
//! The journal is seeded through the `Journal` API: 100 runs of 100 file-write steps,
//! each step a pending proposal with a realistic action (~300 bytes) and evidence
//! (upstream output + a `workflow_file` version reference to a file that exists, so
//! staleness is resolved for every item). Frames are drawn on ratatui's `TestBackend`
//! (the terminal write itself is a diff of changed cells, not measured here).
//! Targets: open < 300 ms, frame well under 16 ms (we check < 4 ms at the median).

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use aios::clock::Clock;
use aios::connectors::ExecEnv;
use aios::engine::RunEnv;
use aios::journal::{Event, Journal, OpenOptions, Owner, ProposalKind, StepDecl, source_hash};
use aios::tui::{Model, Msg, Runtime, TuiSettings, update, view};

const ITEMS: usize = 10_000;
const RUNS: usize = 100;
const TARGET_OPEN: Duration = Duration::from_millis(300);
const TARGET_FRAME: Duration = Duration::from_millis(4);

fn seed(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("aios.db");
    let wf = dir.join("launch.toml");
    let source = "name = \"launch\"\n";
    std::fs::write(&wf, source).unwrap();
    let mut j = Journal::open(&db, Clock::System, OpenOptions::default()).unwrap();
    let per_run = ITEMS / RUNS;
    for r in 0..RUNS {
        let steps: Vec<StepDecl> = (0..per_run)
            .map(|s| StepDecl {
                id: format!("write_{s}"),
                kind: "file".into(),
            })
            .collect();
        let run = j
            .create_run(
                source,
                Event::RunCreated {
                    dry: None,
                    uid: format!("bench-{r}"),
                    workflow: "launch".into(),
                    path: Some("launch.toml".into()),
                    dir: dir.display().to_string(),
                    source_hash: source_hash(source),
                    inputs: json!({"offer": "Office hours"}),
                    steps,
                },
            )
            .unwrap();
        for s in 0..per_run {
            let content =
                format!("# Office hours {r}-{s}\n\nBook a slot with the founder this week.\n");
            j.create_proposal(
                run,
                &format!("write_{s}"),
                1,
                ProposalKind::Action,
                format!("write out/page-{r}-{s}.md ({} bytes)", content.len()),
                json!({"kind": "file", "root": dir.join("out").display().to_string(),
                       "path": format!("page-{r}-{s}.md"), "content": content, "append": false}),
                json!({
                    "upstream": {"brief": {"headline": "Office hours for founders", "audience": "solo founders"}},
                    "versions": [{"kind": "workflow_file", "key": wf.display().to_string(), "version": source_hash(source)}]
                }),
            )
            .unwrap();
        }
    }
    db
}

fn settings(db: &Path) -> TuiSettings {
    TuiSettings {
        db_path: db.to_path_buf(),
        pg: None,
        clock: Clock::System,
        open: OpenOptions::default(),
        run_env: RunEnv::new(Owner::new(std::process::id(), "bench"), ExecEnv::default()),
        operator: "bench@bench".into(),
        no_color: false,
        editor: None,
        poll: Duration::from_millis(500),
    }
}

/// Everything `aios inbox` does before the first frame is on screen.
fn open(db: &Path, size: (u16, u16)) -> (Runtime, Model, Terminal<TestBackend>) {
    let mut rt = Runtime::new(settings(db)).unwrap();
    let mut model = Model::new(rt.model_settings(), Clock::System.now_ms(), size);
    let mut queue: std::collections::VecDeque<Msg> = rt.poll(&model, true).unwrap().into();
    while let Some(msg) = queue.pop_front() {
        for cmd in update(&mut model, msg) {
            queue.extend(rt.perform(cmd, &model, None).unwrap());
        }
    }
    let mut term = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    term.draw(|f| view(&model, f)).unwrap();
    (rt, model, term)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let db = seed(dir.path());
    eprintln!("seeded {ITEMS} pending items in {}", ms(t.elapsed()));

    let opens = if quick { 3 } else { 15 };
    let frames = if quick { 200 } else { 2000 };
    println!("| what ({ITEMS} pending items) | terminal | median | p99 / max |");
    println!("|---|---|---:|---:|");
    let mut ok = true;
    for size in [(80u16, 24u16), (200, 60)] {
        // Open: a fresh runtime each time, as `aios inbox` starts.
        let _ = open(&db, size);
        let samples: Vec<Duration> = (0..opens)
            .map(|_| {
                let t = Instant::now();
                let (_rt, model, _term) = open(&db, size);
                let d = t.elapsed();
                assert_eq!(model.items.len(), ITEMS);
                assert!(model.selected_detail().is_some());
                d
            })
            .collect();
        let open_med = median(samples.clone());
        let open_max = *samples.iter().max().unwrap();
        println!(
            "| open (load, stale check, detail, first frame) | {}x{} | {} | {} |",
            size.0,
            size.1,
            ms(open_med),
            ms(open_max)
        );
        ok &= open_max < TARGET_OPEN;

        // Frames: a key (down, with a page jump now and then) through update + view.
        let (mut rt, mut model, mut term) = open(&db, size);
        let mut samples = Vec::with_capacity(frames);
        for i in 0..frames {
            let code = if i % 50 == 49 {
                KeyCode::PageDown
            } else {
                KeyCode::Down
            };
            let t = Instant::now();
            for cmd in update(
                &mut model,
                Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            ) {
                for msg in rt.perform(cmd, &model, None).unwrap() {
                    update(&mut model, msg);
                }
            }
            term.draw(|f| view(&model, f)).unwrap();
            samples.push(t.elapsed());
        }
        let frame_med = median(samples.clone());
        let frame_p99 = pct(samples, 0.99);
        println!(
            "| frame (key, update, detail load, view) | {}x{} | {} | {} |",
            size.0,
            size.1,
            ms(frame_med),
            ms(frame_p99)
        );
        ok &= frame_med < TARGET_FRAME && frame_p99 < Duration::from_millis(16);

        // A poll of the journal when nothing changed (every 500 ms while open).
        let polls: Vec<Duration> = (0..if quick { 20 } else { 200 })
            .map(|_| {
                let t = Instant::now();
                let msgs = rt.poll(&model, false).unwrap();
                let d = t.elapsed();
                for m in msgs {
                    update(&mut model, m);
                }
                d
            })
            .collect();
        println!(
            "| idle journal poll (change marker, stale re-check) | {}x{} | {} | {} |",
            size.0,
            size.1,
            ms(median(polls.clone())),
            ms(pct(polls, 0.99))
        );
    }
    println!();
    println!(
        "{} open under {} ms (max of {opens}); {} frame median under {} ms and p99 under 16 ms",
        if ok { "PASS" } else { "FAIL" },
        TARGET_OPEN.as_millis(),
        if ok { "PASS" } else { "FAIL" },
        TARGET_FRAME.as_millis()
    );
}
