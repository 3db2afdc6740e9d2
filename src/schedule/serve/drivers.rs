//! The threads that drive the runs the server accepted, until each finishes or waits
//! (on the inbox, a timer). A run is handed over already leased to this server by
//! the recorder, so nothing else starts it meanwhile. When driving stops because the
//! journal was locked by another process past the lock timeout, the run is queued
//! again with a growing delay: an accepted run is never left `running` without a
//! driver while the server runs. At shutdown every queued run is still driven (a
//! busy journal then gives up, leaving the run to `aios tick`, which takes it over
//! as soon as this process is gone).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Log, Opener};
use crate::engine::{self, Mode, Quiet, RunEnv};
use crate::error::ErrorKind;
use crate::journal::Journal;

#[derive(Default)]
struct State {
    ready: VecDeque<(i64, u32)>,
    /// (when, run, tries so far): runs to try again.
    later: Vec<(Instant, i64, u32)>,
    stopping: bool,
}

pub(super) struct Drivers {
    state: Mutex<State>,
    wake: Condvar,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    opener: Opener,
    env: RunEnv,
    log: Log,
}

/// The longest wait before a busy run is tried again.
const MAX_DELAY: Duration = Duration::from_secs(5);

impl Drivers {
    pub(super) fn start(workers: usize, opener: Opener, env: RunEnv, log: Log) -> Arc<Drivers> {
        let d = Arc::new(Drivers {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            opener,
            env,
            log,
        });
        let threads = (0..workers)
            .map(|i| {
                let d = d.clone();
                std::thread::Builder::new()
                    .name(format!("aios-driver-{i}"))
                    .spawn(move || d.work())
                    .expect("spawn a driver thread")
            })
            .collect();
        *d.threads.lock().unwrap_or_else(|e| e.into_inner()) = threads;
        d
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drive these (just recorded) runs.
    pub(super) fn push_all(&self, runs: &[i64]) {
        let mut st = self.state();
        st.ready.extend(runs.iter().map(|r| (*r, 0)));
        drop(st);
        self.wake.notify_all();
    }

    /// Drive every queued run, then stop the threads (blocking).
    pub(super) fn finish(&self) {
        self.state().stopping = true;
        self.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    /// The next run to drive, or `None` when stopping with nothing left.
    fn next(&self) -> Option<(i64, u32)> {
        let mut st = self.state();
        loop {
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = st.later.drain(..).partition(|l| l.0 <= now);
            st.later = later;
            st.ready.extend(due.into_iter().map(|(_, r, n)| (r, n)));
            if let Some(next) = st.ready.pop_front() {
                return Some(next);
            }
            if st.stopping && st.later.is_empty() {
                return None;
            }
            st = match st.later.iter().map(|l| l.0).min() {
                Some(when) => {
                    self.wake
                        .wait_timeout(st, when.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    fn work(&self) {
        let mut journal: Option<Journal> = None;
        while let Some((run, tries)) = self.next() {
            let outcome = match &mut journal {
                Some(j) => engine::resume(j, run, &self.env, &mut Quiet, Mode::Continue),
                None => self.opener.open().and_then(|j| {
                    engine::resume(
                        journal.insert(j),
                        run,
                        &self.env,
                        &mut Quiet,
                        Mode::Continue,
                    )
                }),
            };
            match outcome {
                Ok(o) => (self.log)(&format!("run {run}: {}", o.status)),
                Err(e) if e.is_busy() => {
                    let mut st = self.state();
                    if st.stopping {
                        drop(st);
                        (self.log)(&format!(
                            "run {run}: the journal stayed locked; left for `aios tick` to continue"
                        ));
                        continue;
                    }
                    let delay = (Duration::from_millis(100) * 2u32.saturating_pow(tries.min(8)))
                        .min(MAX_DELAY);
                    st.later.push((Instant::now() + delay, run, tries + 1));
                    drop(st);
                    self.wake.notify_all();
                    (self.log)(&format!(
                        "run {run}: the journal was locked by another process; trying again in {}",
                        crate::clock::format_duration(delay)
                    ));
                }
                // Another process drives it, or it was cancelled meanwhile.
                Err(e) if e.kind == ErrorKind::Conflict => {
                    (self.log)(&format!("run {run}: {}", e.message))
                }
                Err(e) => {
                    journal = None;
                    (self.log)(&format!("run {run}: stopped: {}", e.message));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::clock::Clock;
    use crate::connectors::ExecEnv;
    use crate::engine::NewRun;
    use crate::journal::{OpenOptions, Owner, WriteGate};

    const WF: &str = "name = \"w\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n";

    /// Driving meets a write lock held by another process past the lock timeout: the
    /// run is queued again and driven once the lock is gone, not left `running`.
    #[test]
    fn a_run_that_meets_a_locked_journal_is_driven_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("aios.db");
        let open_db = {
            let db = db.clone();
            move || {
                Journal::open(
                    &db,
                    Clock::System,
                    OpenOptions {
                        lock_timeout: Duration::from_millis(50),
                        ..Default::default()
                    },
                )
            }
        };
        let mut j = open_db().unwrap();
        let wf = crate::workflow::load(WF, "w.toml").unwrap();
        let run = crate::engine::create(
            &mut j,
            NewRun {
                uid: None,
                dry: None,
                workflow: &wf,
                source: WF,
                path: None,
                dir: dir.path(),
                inputs: serde_json::json!({}),
            },
        )
        .unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let tx = Mutex::new(tx);
        let log: Log = Arc::new(move |l: &str| {
            let _ = tx.lock().unwrap().send(l.to_string());
        });
        let env = RunEnv::new(Owner::new(std::process::id(), "here"), ExecEnv::default());
        let opener = Opener {
            open: Arc::new(open_db),
            gate: WriteGate::default(),
        };
        // Another process holds the write lock.
        let locker = crate::journal::testing::WriteLockHolder::take(&db);
        let drivers = Drivers::start(1, opener, env, log);
        drivers.push_all(&[run]);
        let wait = Duration::from_secs(20);
        let line = lines.recv_timeout(wait).unwrap();
        assert!(
            line.starts_with(&format!(
                "run {run}: the journal was locked by another process; trying again in"
            )),
            "{line}"
        );
        locker.release();
        let line = loop {
            let l = lines.recv_timeout(wait).unwrap();
            if !l.contains("trying again") {
                break l;
            }
        };
        assert_eq!(line, format!("run {run}: succeeded"));
        drivers.finish();
        assert_eq!(
            j.run(run).unwrap().status,
            crate::journal::RunStatus::Succeeded
        );
    }
}
