//! Accepting connections and keeping them in bounds.
//!
//! - A request's head must arrive within the read timeout (hyper's header timeout,
//!   which also closes a connection idle that long between requests) and fit in
//!   64 KiB; its body has the same time again (see the handler).
//! - At most `max_connections` are open. A connection is *waiting* from when it is
//!   accepted (or answers a request) until its next request's body has been read;
//!   it is *working* while that request is processed. When a new connection would
//!   pass the limit, the connection that has been waiting longest is closed to make
//!   room, so idle and trickling clients can hold slots only until newer ones need
//!   them; when every connection is working, the new one is closed instead.
//! - Shutdown: no new connections; idle ones close, requests in flight answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Notify, watch};

use super::{Shared, handler};

/// The largest request head (larger: `431`).
const MAX_HEAD: usize = 64 * 1024;

struct Slot {
    /// Since when it waits (`None`: working on a request).
    waiting_since: Option<Instant>,
    close: Arc<Notify>,
}

/// The open connections.
pub(super) struct Conns {
    slots: Mutex<(u64, HashMap<u64, Slot>)>,
    /// How many are open (for shutdown to wait on).
    open: watch::Sender<usize>,
}

impl Conns {
    fn new() -> Arc<Conns> {
        Arc::new(Conns {
            slots: Mutex::new((0, HashMap::new())),
            open: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<u64, Slot>)> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a new connection; `None` when it must be closed at once (the limit
    /// is reached and every open connection is working).
    fn admit(&self, max: usize) -> Option<(u64, Arc<Notify>)> {
        let mut g = self.lock();
        if g.1.len() >= max {
            let oldest =
                g.1.iter()
                    .filter_map(|(id, s)| s.waiting_since.map(|t| (t, *id)))
                    .min();
            let (_, victim) = oldest?;
            if let Some(s) = g.1.remove(&victim) {
                s.close.notify_one();
            }
        }
        g.0 += 1;
        let id = g.0;
        let close = Arc::new(Notify::new());
        g.1.insert(
            id,
            Slot {
                waiting_since: Some(Instant::now()),
                close: close.clone(),
            },
        );
        self.open.send_replace(g.1.len());
        Some((id, close))
    }

    fn remove(&self, id: u64) {
        let mut g = self.lock();
        g.1.remove(&id);
        self.open.send_replace(g.1.len());
    }

    /// Mark connection `id` waiting (since now) or working.
    pub(super) fn set_waiting(&self, id: u64, waiting: bool) {
        if let Some(s) = self.lock().1.get_mut(&id) {
            s.waiting_since = waiting.then(Instant::now);
        }
    }

    /// Close the connection that has waited longest (when out of file descriptors).
    fn shed_one(&self) {
        let mut g = self.lock();
        let oldest =
            g.1.iter()
                .filter_map(|(id, s)| s.waiting_since.map(|t| (t, *id)))
                .min();
        if let Some((_, victim)) = oldest
            && let Some(s) = g.1.remove(&victim)
        {
            s.close.notify_one();
            self.open.send_replace(g.1.len());
        }
    }
}

/// A request's view of its connection.
#[derive(Clone)]
pub(super) struct ConnRef {
    conns: Arc<Conns>,
    id: u64,
}

impl ConnRef {
    /// The request's body is read: the connection works until the answer.
    pub(super) fn working(&self) {
        self.conns.set_waiting(self.id, false);
    }

    /// A request has begun: the connection waits (from now) for its body.
    pub(super) fn begun(&self) {
        self.conns.set_waiting(self.id, true);
    }
}

/// Accept connections until `shutdown` completes, then close them gracefully and
/// return once all are closed.
pub(super) async fn accept_until(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let conns = Conns::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors: make room. Other errors concern one
                    // connection that failed while being accepted.
                    if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) {
                        conns.shed_one();
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    continue;
                }
            },
        };
        let Some((id, close)) = conns.admit(shared.s.max_connections) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = ConnRef {
            conns: conns.clone(),
            id,
        };
        tokio::spawn(serve_one(
            stream,
            conn,
            close,
            shared.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let mut open = conns.open.subscribe();
    let _ = open.wait_for(|n| *n == 0).await;
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    conn: ConnRef,
    close: Arc<Notify>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let svc = {
        let conn = conn.clone();
        let shared = shared.clone();
        service_fn(move |req| {
            let conn = conn.clone();
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handler::handle(shared, conn, req).await) }
        })
    };
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.s.read_timeout)
        .max_header_size(MAX_HEAD)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(served);
    let stopping = async move { stop.wait_for(|s| *s).await.is_ok() };
    let graceful = tokio::select! {
        _ = served.as_mut() => false,
        // Dropping the connection closes the socket.
        _ = close.notified() => false,
        s = stopping => s,
    };
    if graceful {
        served.as_mut().graceful_shutdown();
        tokio::select! {
            _ = served.as_mut() => {}
            _ = close.notified() => {}
        }
    }
    conn.conns.remove(conn.id);
}
