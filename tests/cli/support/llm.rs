//! Loopback LLM servers for tests that behave like the real ones. [`LlmServer`] speaks
//! OpenAI Chat Completions (`POST /v1/chat/completions`), Anthropic Messages
//! (`POST /v1/messages`) and Ollama (`POST /api/chat`), lists models (`GET
//! /v1/models`, `GET /api/tags`) and records every request with its arrival time.
//! It answers from a script (status, headers, body; whole or streamed as SSE or JSON
//! lines, and held until the test releases it), or like a small local model that
//! meets a schema only when it receives it ([`LlmServer::small_model`]), or like an
//! older server that refuses the schema form ([`LlmServer::refuses_schema`]).
//! [`unreachable`] gives a port that never accepts a connection, [`Silent`] a server
//! that accepts and never answers. Everything listens on 127.0.0.1 only and stops
//! when dropped.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::{Acceptor, RawRequest, read_request};

use serde_json::{Value as Json, json};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Json,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of every message (and the system prompt), joined.
    pub fn text(&self) -> String {
        self.body.to_string()
    }

    /// How the request asked for JSON: `json_schema`, `json_object`, `format_schema`,
    /// `format_json`, `tool`, or `none`.
    pub fn form(&self) -> &'static str {
        let b = &self.body;
        if self.path.ends_with("/api/chat") {
            return match &b["format"] {
                Json::Object(_) => "format_schema",
                Json::String(_) => "format_json",
                _ => "none",
            };
        }
        if b["tool_choice"]["type"] == "tool" {
            return "tool";
        }
        match b["response_format"]["type"].as_str() {
            Some("json_schema") => "json_schema",
            Some("json_object") => "json_object",
            _ => "none",
        }
    }
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Sent as these pieces (SSE events or JSON lines) instead of a whole body.
    pub stream: Option<Vec<String>>,
    /// Hold the reply (after this many stream pieces, or before a whole body) until
    /// the test releases it.
    pub hold_after: Option<usize>,
}

fn openai_body(content: &str, finish: &str, tokens_in: u64, tokens_out: u64) -> Json {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
    })
}

impl Reply {
    /// An OpenAI Chat Completions reply with `content` and token usage.
    pub fn openai(content: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(200, openai_body(content, "stop", tokens_in, tokens_out))
    }

    /// An OpenAI reply that stopped for `finish` (`length`: cut at max_tokens).
    pub fn openai_finish(content: &str, finish: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(200, openai_body(content, finish, tokens_in, tokens_out))
    }

    /// An Anthropic Messages reply.
    pub fn anthropic(content: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(
            200,
            json!({
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": content}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}
            }),
        )
    }

    /// An Anthropic reply that is a forced tool call with `input`.
    pub fn anthropic_tool(input: Json, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(
            200,
            json!({
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "reply", "input": input}],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}
            }),
        )
    }

    /// An Ollama `/api/chat` reply.
    pub fn ollama(content: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(
            200,
            json!({
                "model": "m",
                "message": {"role": "assistant", "content": content},
                "done": true,
                "done_reason": "stop",
                "prompt_eval_count": tokens_in,
                "eval_count": tokens_out
            }),
        )
    }

    /// An OpenAI reply streamed as server-sent events, one per piece, then the
    /// finish reason, the usage and `[DONE]`.
    pub fn openai_stream(pieces: &[&str], finish: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        let mut events: Vec<String> = pieces
            .iter()
            .map(|p| {
                format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
                )
            })
            .collect();
        events.push(format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        ));
        events.push(format!(
            "data: {}\n\n",
            json!({"choices": [], "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out}})
        ));
        events.push("data: [DONE]\n\n".into());
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: String::new(),
            stream: Some(events),
            hold_after: None,
        }
    }

    pub fn json(status: u16, body: Json) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            stream: None,
            hold_after: None,
        }
    }

    /// An error in the providers' shape: `{"error": {"message": ...}}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"type": "error", "message": message}}),
        )
    }

    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            stream: None,
            hold_after: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Hold this reply (after `pieces` stream pieces) until [`LlmServer::release`].
    pub fn held(mut self, pieces: usize) -> Reply {
        self.hold_after = Some(pieces);
        self
    }
}

/// How the server answers chat requests.
#[derive(Debug, Clone)]
enum Mode {
    /// From the script (then 500 "unscripted").
    Script,
    /// Like a small model: `good` when the request carries the schema form, prose
    /// otherwise.
    SmallModel { good: Json },
    /// Like an older server: a 400 for the schema form, `good` for plain JSON.
    RefusesSchema { good: Json },
}

struct State {
    seen: Vec<Seen>,
    script: VecDeque<Reply>,
    mode: Mode,
    models: Vec<String>,
    /// Held replies wait here for a release.
    release: Option<Arc<Mutex<Receiver<()>>>>,
    arrived: Option<Sender<()>>,
}

pub struct LlmServer {
    state: Arc<Mutex<State>>,
    acceptor: Acceptor,
    release: Sender<()>,
    arrived: Mutex<Receiver<()>>,
}

impl LlmServer {
    pub fn start() -> LlmServer {
        let (release_tx, release_rx) = mpsc::channel();
        let (arrived_tx, arrived_rx) = mpsc::channel();
        let state = Arc::new(Mutex::new(State {
            seen: Vec::new(),
            script: VecDeque::new(),
            mode: Mode::Script,
            models: vec!["m1".into(), "m2".into()],
            release: Some(Arc::new(Mutex::new(release_rx))),
            arrived: Some(arrived_tx),
        }));
        LlmServer {
            acceptor: Acceptor::start(state.clone(), serve),
            state,
            release: release_tx,
            arrived: Mutex::new(arrived_rx),
        }
    }

    /// A server that answers like a small model: `good` only when the request
    /// carries the schema (any of the three forms), prose otherwise.
    pub fn small_model(good: Json) -> LlmServer {
        let s = LlmServer::start();
        s.state.lock().unwrap().mode = Mode::SmallModel { good };
        s
    }

    /// A server that refuses the schema form (HTTP 400 naming `response_format`)
    /// and answers plain JSON requests with `good`.
    pub fn refuses_schema(good: Json) -> LlmServer {
        let s = LlmServer::start();
        s.state.lock().unwrap().mode = Mode::RefusesSchema { good };
        s
    }

    /// The base URL for `[providers.X] base_url`: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.acceptor.port)
    }

    /// The server's root (Ollama's `base_url`): `http://127.0.0.1:PORT`.
    pub fn root_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.acceptor.port)
    }

    /// Answer the next requests with these, in order (then 500 "unscripted").
    pub fn script(&self, replies: Vec<Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// The model names the model lists report.
    pub fn models(&self, names: &[&str]) {
        self.state.lock().unwrap().models = names.iter().map(|s| s.to_string()).collect();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The chat requests (model lists left out).
    pub fn chats(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect()
    }

    /// Wait (at most 10 s) until a held reply is holding.
    pub fn wait_held(&self) {
        self.arrived
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10))
            .expect("no held reply within 10 s");
    }

    /// Let one held reply go on.
    pub fn release(&self) {
        let _ = self.release.send(());
    }
}

fn good_reply(path: &str, good: &Json) -> Reply {
    if path.ends_with("/api/chat") {
        Reply::ollama(&good.to_string(), 20, 10)
    } else if path.ends_with("/messages") {
        Reply::anthropic_tool(good.clone(), 20, 10)
    } else {
        Reply::openai(&good.to_string(), 20, 10)
    }
}

fn prose_reply(path: &str) -> Reply {
    let text = "Sure! Here is a subject line for your announcement: Tea club";
    if path.ends_with("/api/chat") {
        Reply::ollama(text, 20, 12)
    } else if path.ends_with("/messages") {
        Reply::anthropic(text, 20, 12)
    } else {
        Reply::openai(text, 20, 12)
    }
}

fn answer(st: &mut State, seen: &Seen) -> Reply {
    if seen.method == "GET" {
        let models = if seen.path.ends_with("/api/tags") {
            json!({"models": st.models.iter().map(|m| json!({"name": m})).collect::<Vec<_>>()})
        } else {
            json!({"object": "list", "data": st.models.iter().map(|m| json!({"id": m, "object": "model"})).collect::<Vec<_>>()})
        };
        return Reply::json(200, models);
    }
    match &st.mode {
        Mode::Script => st
            .script
            .pop_front()
            .unwrap_or_else(|| Reply::error(500, "unscripted request")),
        Mode::SmallModel { good } => match seen.form() {
            "json_schema" | "format_schema" | "tool" => good_reply(&seen.path, good),
            _ => prose_reply(&seen.path),
        },
        Mode::RefusesSchema { good } => match seen.form() {
            "json_schema" => Reply::error(
                400,
                "'response_format.type' must be 'json_object' or 'text'; json_schema is not supported",
            ),
            _ => good_reply(&seen.path, good),
        },
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    while let Some(RawRequest {
        method,
        target: path,
        headers,
        body,
    }) = read_request(&mut reader)?
    {
        let (reply, release, arrived) = {
            let mut st = state.lock().unwrap();
            let seen = Seen {
                method,
                path,
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Json::Null),
                at: Instant::now(),
            };
            st.seen.push(seen.clone());
            let reply = answer(&mut st, &seen);
            (reply, st.release.clone(), st.arrived.clone())
        };
        let hold = || {
            if let Some(tx) = &arrived {
                let _ = tx.send(());
            }
            if let Some(rx) = &release {
                let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(30));
            }
        };
        let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match &reply.stream {
            None => {
                if reply.hold_after.is_some() {
                    hold();
                }
                head.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
                out.write_all(head.as_bytes())?;
                out.write_all(reply.body.as_bytes())?;
                out.flush()?;
            }
            Some(pieces) => {
                // A body delimited by the end of the connection.
                head.push_str("connection: close\r\n\r\n");
                out.write_all(head.as_bytes())?;
                out.flush()?;
                for (i, p) in pieces.iter().enumerate() {
                    if reply.hold_after == Some(i) {
                        hold();
                    }
                    out.write_all(p.as_bytes())?;
                    out.flush()?;
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A loopback port that never accepts a connection: a listening socket whose
/// backlog (one connection) is already full, so the kernel drops every new SYN and
/// a client's connect waits until its own timeout. Keep it alive for the test.
pub struct Unreachable {
    pub port: u16,
    _listener: TcpListener,
    _filler: TcpStream,
}

pub fn unreachable() -> Unreachable {
    use std::os::fd::AsRawFd;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    // Listen again with a backlog of 0 (the kernel keeps one connection), then fill it.
    // SAFETY: a plain FFI call on a socket this function owns.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
    assert_eq!(rc, 0, "listen(0) failed");
    let port = listener.local_addr().unwrap().port();
    let filler = TcpStream::connect(("127.0.0.1", port)).expect("fill the backlog");
    Unreachable {
        port,
        _listener: listener,
        _filler: filler,
    }
}

/// A server that accepts connections, reads the request, and never answers.
pub struct Silent {
    acceptor: Acceptor,
}

impl Silent {
    pub fn start() -> Silent {
        fn serve(conn: TcpStream, _: &Mutex<()>) -> std::io::Result<()> {
            conn.set_read_timeout(Some(Duration::from_secs(30)))?;
            let mut reader = BufReader::new(conn.try_clone()?);
            while read_request(&mut reader)?.is_some() {}
            Ok(())
        }
        Silent {
            acceptor: Acceptor::start(Arc::new(Mutex::new(())), serve),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.acceptor.port)
    }
}
