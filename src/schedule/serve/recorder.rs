//! The server's one recording thread. Accepted requests arrive as jobs over a
//! bounded channel; the thread takes every job waiting and records them in one
//! transaction (each run leased to this server, so no `aios tick` starts it first),
//! hands the runs to the drivers, then answers each job. A request is answered `202`
//! only after this; when the journal stays locked by another process past the lock
//! timeout (tried again within it), or the queue is full, the answer is `503`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::drivers::Drivers;
use super::{Log, Opener};
use crate::journal::{Event, Journal, Owner};

/// A run to record, and where to send its id (or why it could not be recorded).
pub(super) struct Job {
    pub source: Arc<str>,
    pub created: Event,
    pub reply: oneshot::Sender<Result<i64, String>>,
}

enum Msg {
    Record(Box<Job>),
    Stop,
}

/// Requests waiting to be recorded, at most (then `503`).
const QUEUE: usize = 4096;
/// Runs recorded in one transaction, at most.
const MAX_BATCH: usize = 256;

pub(super) struct Recorder {
    tx: mpsc::Sender<Msg>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recorder {
    pub(super) fn start(
        opener: Opener,
        owner: Owner,
        lease_ttl: Duration,
        lock_timeout: Duration,
        drivers: Arc<Drivers>,
        log: Log,
    ) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        let worker = Worker {
            opener,
            journal: None,
            owner,
            lease_ms: lease_ttl.as_millis() as i64,
            lock_timeout,
            drivers,
            log,
        };
        let thread = std::thread::Builder::new()
            .name("aios-recorder".into())
            .spawn(move || worker.run(rx))
            .expect("spawn the recording thread");
        Recorder {
            tx,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Queue a job; false when the queue is full (or the thread stopped).
    pub(super) fn submit(&self, job: Job) -> bool {
        self.tx.try_send(Msg::Record(Box::new(job))).is_ok()
    }

    /// Record what is queued, then stop the thread (blocking).
    pub(super) fn stop(&self) {
        let _ = self.tx.blocking_send(Msg::Stop);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

struct Worker {
    opener: Opener,
    journal: Option<Journal>,
    owner: Owner,
    lease_ms: i64,
    lock_timeout: Duration,
    drivers: Arc<Drivers>,
    log: Log,
}

impl Worker {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(Msg::Record(first)) = rx.blocking_recv() {
            let mut batch = vec![*first];
            let mut stop = false;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Record(j)) => batch.push(*j),
                    Ok(Msg::Stop) => {
                        stop = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            // A request whose client went away before its run was recorded was
            // never accepted: record nothing for it.
            batch.retain(|j| !j.reply.is_closed());
            if !batch.is_empty() {
                self.record(batch);
            }
            if stop {
                break;
            }
        }
    }

    fn record(&mut self, batch: Vec<Job>) {
        let started = Instant::now();
        let runs: Vec<(&str, Event)> = batch
            .iter()
            .map(|j| (&*j.source, j.created.clone()))
            .collect();
        let result = loop {
            let attempt = match &mut self.journal {
                Some(j) => j.create_runs(&runs, &self.owner, self.lease_ms),
                None => self.opener.open().and_then(|j| {
                    self.journal
                        .insert(j)
                        .create_runs(&runs, &self.owner, self.lease_ms)
                }),
            };
            match attempt {
                // Locked by another process: each try already waited for the lock
                // (the busy timeout); try again while within the lock timeout.
                Err(e) if e.is_busy() && started.elapsed() < self.lock_timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    if !e.is_busy() {
                        // Open afresh next time (a removed or replaced file).
                        self.journal = None;
                    }
                    break Err(e);
                }
                Ok(ids) => break Ok(ids),
            }
        };
        match result {
            Ok(ids) => {
                self.drivers.push_all(&ids);
                for (job, id) in batch.into_iter().zip(ids) {
                    let _ = job.reply.send(Ok(id));
                }
            }
            Err(e) => {
                let why = if e.is_busy() {
                    "the journal is locked by another process; nothing was recorded".to_string()
                } else {
                    format!("the run could not be recorded: {}", e.message)
                };
                (self.log)(&format!(
                    "recording {} failed: {why}",
                    crate::text::count(batch.len(), "run")
                ));
                for job in batch {
                    let _ = job.reply.send(Err(why.clone()));
                }
            }
        }
    }
}
