//! A tiny loopback HTTP/1.1 server for tests: records requests, answers with scripted
//! responses, and can hold a path's requests until the test releases them. Listens on
//! 127.0.0.1 only; stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wire::{Acceptor, RawRequest, read_request};

/// How long a held request waits for its release before answering anyway.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: Option<String>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it was read (the wall clock, as aios's real clock reads it).
    pub at: std::time::SystemTime,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain",
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

struct HoldSlot {
    arrived: Sender<Request>,
    release: Arc<Mutex<Receiver<()>>>,
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    scripts: HashMap<String, VecDeque<Response>>,
    defaults: HashMap<String, Response>,
    holds: HashMap<String, HoldSlot>,
}

pub struct Server {
    state: Arc<Mutex<State>>,
    acceptor: Acceptor,
}

impl Server {
    pub fn start() -> Server {
        let state = Arc::new(Mutex::new(State::default()));
        Server {
            acceptor: Acceptor::start(state.clone(), serve),
            state,
        }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.acceptor.port)
    }

    /// Answer every request to `path` with `r` (after any scripted responses).
    pub fn respond(&self, path: &str, r: Response) {
        self.state.lock().unwrap().defaults.insert(path.into(), r);
    }

    /// Answer the next requests to `path` with these, in order.
    pub fn script(&self, path: &str, rs: Vec<Response>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(path.into())
            .or_default()
            .extend(rs);
    }

    /// Hold requests to `path`: each reports its arrival, then waits for a release.
    pub fn hold(&self, path: &str) -> Hold {
        let (arrived_tx, arrived_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        self.state.lock().unwrap().holds.insert(
            path.into(),
            HoldSlot {
                arrived: arrived_tx,
                release: Arc::new(Mutex::new(release_rx)),
            },
        );
        Hold {
            path: path.into(),
            arrived: arrived_rx,
            release: Some(release_tx),
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// How many requests reached `path`.
    pub fn count(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }
}

/// The test's side of a held path.
pub struct Hold {
    path: String,
    arrived: Receiver<Request>,
    release: Option<Sender<()>>,
}

impl Hold {
    /// Wait (at most `timeout`) for the next request to arrive; `None` if none did.
    pub fn arrival(&self, timeout: Duration) -> Option<Request> {
        match self.arrived.recv_timeout(timeout) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Wait (at most 10 s) for the next request, failing the test if none comes.
    pub fn arrived(&self) -> Request {
        self.arrival(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no request to {} arrived within 10 s", self.path))
    }

    /// Let one held request answer.
    pub fn release(&self) {
        if let Some(tx) = &self.release {
            let _ = tx.send(());
        }
    }

    /// Let every held request answer, now and later.
    pub fn release_all(&mut self) {
        self.release = None;
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    let Some(RawRequest {
        method,
        target,
        headers,
        body,
    }) = read_request(&mut reader)?
    else {
        return Ok(());
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.clone(), None),
    };
    let req = Request {
        method,
        path: path.clone(),
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: std::time::SystemTime::now(),
    };
    let hold = {
        let mut st = state.lock().unwrap();
        st.requests.push(req.clone());
        st.holds
            .get(&path)
            .map(|h| (h.arrived.clone(), h.release.clone()))
    };
    if let Some((arrived, release)) = hold {
        let _ = arrived.send(req);
        let rx = release.lock().unwrap();
        let _ = rx.recv_timeout(HOLD_LIMIT);
    }
    let resp = {
        let mut st = state.lock().unwrap();
        st.scripts
            .get_mut(&path)
            .and_then(|q| q.pop_front())
            .or_else(|| st.defaults.get(&path).cloned())
            .unwrap_or_else(|| Response::text(200, "ok"))
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(resp.body.as_bytes())?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
