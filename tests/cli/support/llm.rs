//! A loopback LLM server for tests: speaks OpenAI Chat Completions
//! (`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`) with
//! scripted replies (status, headers such as `Retry-After`, body), and records every
//! request with its arrival time. Listens on 127.0.0.1 only; stops when dropped.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::{Acceptor, RawRequest, read_request};

use serde_json::{Value as Json, json};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
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
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// An OpenAI Chat Completions reply with `content` and token usage.
    pub fn openai(content: &str, tokens_in: u64, tokens_out: u64) -> Reply {
        Reply::json(
            200,
            json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
            }),
        )
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

    pub fn json(status: u16, body: Json) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
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
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    script: VecDeque<Reply>,
}

pub struct LlmServer {
    state: Arc<Mutex<State>>,
    acceptor: Acceptor,
}

impl LlmServer {
    pub fn start() -> LlmServer {
        let state = Arc::new(Mutex::new(State::default()));
        LlmServer {
            acceptor: Acceptor::start(state.clone(), serve),
            state,
        }
    }

    /// The base URL for `[providers.X] base_url`: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.acceptor.port)
    }

    /// Answer the next requests with these, in order (then 500 "unscripted").
    pub fn script(&self, replies: Vec<Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    while let Some(RawRequest {
        target: path,
        headers,
        body,
        ..
    }) = read_request(&mut reader)?
    {
        let reply = {
            let mut st = state.lock().unwrap();
            st.seen.push(Seen {
                path,
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Json::Null),
                at: Instant::now(),
            });
            st.script
                .pop_front()
                .unwrap_or_else(|| Reply::error(500, "unscripted request"))
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(reply.body.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
