//! `aios serve`: an HTTP/1.1 server (hyper) that starts workflows on
//! `POST /hooks/NAME`. Its parts, one file each:
//!
//! - [`conn`]: accepting connections: the connection limit (the connection that has
//!   waited longest without a request in progress makes room for a new one), the
//!   request-head read timeout, graceful close;
//! - [`handler`]: one request: the route, the checks in their documented order, the
//!   body read under a size limit and a timeout, `{"error": …}` answers;
//! - [`recorder`]: the one thread that records accepted runs (in batches, each run
//!   leased to this server); a request is answered `202` only once its run is
//!   recorded, `503` with `Retry-After` when it cannot be;
//! - [`drivers`]: the threads that drive recorded runs until they finish or wait,
//!   trying again when the journal was busy.
//!
//! Every journal connection of the server shares one [`WriteGate`], so its threads
//! take turns to write instead of meeting `database is locked` among themselves.

mod conn;
mod drivers;
mod handler;
mod recorder;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::engine::RunEnv;
use crate::error::Result;
use crate::journal::{Journal, WriteGate};

use super::hooks::WorkflowCache;

/// Opens a journal connection (the server adds its write gate).
pub type OpenJournal = Arc<dyn Fn() -> Result<Journal> + Send + Sync>;

/// Told about each request's outcome and each driven run (the command prints it).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// What the server needs.
pub struct Settings {
    pub open: OpenJournal,
    /// Where hook secrets live (`hooks/NAME.secret`).
    pub data_dir: PathBuf,
    /// Larger bodies get 413.
    pub max_body: usize,
    /// How long a request's head may take to arrive, and then its body.
    pub read_timeout: Duration,
    /// Open connections at most; a new one past it closes the one that has waited
    /// longest without a request in progress.
    pub max_connections: usize,
    /// Threads driving accepted runs.
    pub workers: usize,
    /// How long recording may wait for another process's write lock before the
    /// request is answered 503.
    pub lock_timeout: Duration,
    /// The clock signatures' timestamps are checked against (Stripe).
    pub clock: Clock,
    pub env: RunEnv,
    pub log: Log,
}

/// Opens the server's journal connections, all behind one write gate.
#[derive(Clone)]
struct Opener {
    open: OpenJournal,
    gate: WriteGate,
}

impl Opener {
    fn open(&self) -> Result<Journal> {
        (self.open)().map(|j| j.with_gate(self.gate.clone()))
    }
}

/// What every part of a running server reaches.
struct Shared {
    s: Settings,
    opener: Opener,
    /// Idle read connections (hook lookups).
    readers: Mutex<Vec<Journal>>,
    cache: WorkflowCache,
    recorder: recorder::Recorder,
    drivers: Arc<drivers::Drivers>,
}

/// Read connections kept for reuse.
const READERS_KEPT: usize = 8;

impl Shared {
    /// Run `f` on a read connection from the pool (blocking: call it off the
    /// async threads).
    fn read<T>(&self, f: impl FnOnce(&Journal) -> T) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let journal = match pooled {
            Some(j) => j,
            None => self.opener.open()?,
        };
        let out = f(&journal);
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if readers.len() < READERS_KEPT {
            readers.push(journal);
        }
        Ok(out)
    }
}

/// Serve until `shutdown` completes; then stop accepting, let the requests in
/// flight answer, record what was accepted, and drive every accepted run until it
/// finishes or waits before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let opener = Opener {
        open: settings.open.clone(),
        gate: WriteGate::default(),
    };
    let drivers = drivers::Drivers::start(
        settings.workers.max(1),
        opener.clone(),
        settings.env.clone(),
        settings.log.clone(),
    );
    let recorder = recorder::Recorder::start(
        opener.clone(),
        settings.env.owner.clone(),
        settings.env.lease_ttl,
        settings.lock_timeout,
        drivers.clone(),
        settings.log.clone(),
    );
    let shared = Arc::new(Shared {
        s: settings,
        opener,
        readers: Mutex::new(Vec::new()),
        cache: WorkflowCache::default(),
        recorder,
        drivers,
    });
    conn::accept_until(listener, shared.clone(), shutdown).await;
    let sh = shared.clone();
    tokio::task::spawn_blocking(move || {
        sh.recorder.stop();
        sh.drivers.finish();
    })
    .await
    .map_err(std::io::Error::other)?;
    Ok(())
}
