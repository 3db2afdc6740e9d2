//! Reading a streamed reply: server-sent events (OpenAI-compatible servers and
//! Anthropic) and Ollama's JSON lines, assembled into the same [`Reply`] a whole
//! reply gives. Pure: bytes in, pieces counted, a reply out.

use serde_json::Value as Json;

use super::Reply;
use super::config::ProviderKind;
use super::wire::{OllamaResponse, OpenAiResponse};

/// A stream being read.
#[derive(Debug, Default)]
pub struct Assembler {
    kind: Option<ProviderKind>,
    buf: String,
    text: String,
    /// A forced tool call's arguments, as they come (Anthropic).
    tool_json: String,
    tool: bool,
    finish: Option<String>,
    tokens_in: u64,
    tokens_out: u64,
    /// Content pieces received (about one token each).
    pub pieces: u64,
    done: bool,
}

impl Assembler {
    pub fn new(kind: ProviderKind) -> Assembler {
        Assembler {
            kind: Some(kind),
            ..Assembler::default()
        }
    }

    /// Feed the next bytes (already UTF-8). Returns the number of new content pieces.
    pub fn feed(&mut self, chunk: &str) -> Result<u64, String> {
        let before = self.pieces;
        self.buf.push_str(chunk);
        let ollama = self.kind == Some(ProviderKind::Ollama);
        loop {
            let (item, rest) = if ollama {
                match self.buf.find('\n') {
                    Some(i) => (self.buf[..i].to_string(), i + 1),
                    None => break,
                }
            } else {
                let norm = self.buf.find("\n\n").map(|i| (i, 2));
                let crlf = self.buf.find("\r\n\r\n").map(|i| (i, 4));
                match (norm, crlf) {
                    (Some(a), Some(b)) => {
                        let (i, n) = if a.0 < b.0 { a } else { b };
                        (self.buf[..i].to_string(), i + n)
                    }
                    (Some((i, n)), None) | (None, Some((i, n))) => {
                        (self.buf[..i].to_string(), i + n)
                    }
                    (None, None) => break,
                }
            };
            self.buf.drain(..rest);
            if ollama {
                self.ollama_line(&item)?;
            } else {
                self.event(&item)?;
            }
        }
        Ok(self.pieces - before)
    }

    fn event(&mut self, raw: &str) -> Result<(), String> {
        let mut data = String::new();
        for line in raw.lines() {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let v: Json = serde_json::from_str(&data)
            .map_err(|e| format!("a streamed event is not JSON ({e})"))?;
        match self.kind {
            Some(ProviderKind::Anthropic) => self.anthropic(&v),
            _ => self.openai(v),
        }
    }

    fn openai(&mut self, v: Json) -> Result<(), String> {
        if let Some(m) = v.get("error") {
            let msg = m
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| m.to_string());
            return Err(format!("the stream ended with an error: {msg}"));
        }
        let r: OpenAiResponse =
            serde_json::from_value(v).map_err(|e| format!("not a chat completion chunk ({e})"))?;
        for c in r.choices {
            if let Some(t) = c.delta.and_then(|d| d.content).filter(|t| !t.is_empty()) {
                self.text.push_str(&t);
                self.pieces += 1;
            }
            if c.finish_reason.is_some() {
                self.finish = c.finish_reason;
            }
        }
        if let Some(u) = r.usage {
            self.tokens_in = u.prompt_tokens;
            self.tokens_out = u.completion_tokens;
        }
        Ok(())
    }

    fn anthropic(&mut self, v: &Json) -> Result<(), String> {
        match v["type"].as_str().unwrap_or("") {
            "message_start" => {
                let u = &v["message"]["usage"];
                self.tokens_in = u["input_tokens"].as_u64().unwrap_or(0);
                self.tokens_out = u["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" if v["content_block"]["type"] == "tool_use" => {
                self.tool = true;
            }
            "content_block_delta" => {
                let d = &v["delta"];
                if let Some(t) = d["text"].as_str() {
                    self.text.push_str(t);
                    self.pieces += 1;
                } else if let Some(j) = d["partial_json"].as_str() {
                    self.tool_json.push_str(j);
                    self.pieces += 1;
                }
            }
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.finish = Some(r.to_string());
                }
                if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                    self.tokens_out = n;
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                return Err(format!(
                    "the stream ended with an error: {}",
                    v["error"]["message"].as_str().unwrap_or("unknown")
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn ollama_line(&mut self, line: &str) -> Result<(), String> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let r: OllamaResponse =
            serde_json::from_str(line).map_err(|e| format!("a streamed line is not JSON ({e})"))?;
        if let Some(e) = r.error {
            return Err(format!("the stream ended with an error: {e}"));
        }
        if let Some(t) = r.message.and_then(|m| m.content).filter(|t| !t.is_empty()) {
            self.text.push_str(&t);
            self.pieces += 1;
        }
        if r.done {
            self.done = true;
            self.finish = r.done_reason;
            self.tokens_in = r.prompt_eval_count;
            self.tokens_out = r.eval_count;
        }
        Ok(())
    }

    /// The assembled reply. A stream that never said it was done was cut off.
    pub fn finish(mut self) -> Result<Reply, String> {
        if !self.buf.trim().is_empty() {
            let rest = std::mem::take(&mut self.buf);
            if self.kind == Some(ProviderKind::Ollama) {
                self.ollama_line(&rest)?;
            } else {
                self.event(&rest)?;
            }
        }
        if !self.done && self.finish.is_none() {
            return Err("the stream broke off before the reply was complete".into());
        }
        let text = if self.tool {
            if self.tool_json.trim().is_empty() {
                "{}".to_string()
            } else {
                self.tool_json
            }
        } else {
            self.text
        };
        Ok(Reply {
            text,
            tokens_in: self.tokens_in,
            // A server that sends no usage: the pieces are about one token each.
            tokens_out: if self.tokens_out == 0 {
                self.pieces
            } else {
                self.tokens_out
            },
            http_attempts: 1,
            finish: self.finish,
            tool_calls: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_events_assemble_across_chunk_boundaries() {
        let mut a = Assembler::new(ProviderKind::OpenAi);
        let body = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"length\"}]}\r\n\r\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n\
data: [DONE]\n\n";
        let mut pieces = 0;
        for part in body.as_bytes().chunks(7) {
            pieces += a.feed(std::str::from_utf8(part).unwrap()).unwrap();
        }
        assert_eq!(pieces, 2);
        let r = a.finish().unwrap();
        assert_eq!(
            (
                r.text.as_str(),
                r.tokens_in,
                r.tokens_out,
                r.finish.as_deref()
            ),
            ("Hello", 7, 2, Some("length"))
        );
    }

    #[test]
    fn anthropic_tool_calls_stream_their_arguments() {
        let mut a = Assembler::new(ProviderKind::Anthropic);
        a.feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n").unwrap();
        a.feed("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"name\":\"reply\",\"input\":{}}}\n\n").unwrap();
        a.feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": \"}}\n\n").unwrap();
        a.feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n").unwrap();
        a.feed("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n").unwrap();
        let r = a.finish().unwrap();
        assert_eq!(r.text, "{\"a\": 1}");
        assert_eq!((r.tokens_in, r.tokens_out), (12, 9));
        assert_eq!(r.finish.as_deref(), Some("tool_use"));
    }

    #[test]
    fn ollama_lines_and_broken_streams() {
        let mut a = Assembler::new(ProviderKind::Ollama);
        a.feed("{\"message\":{\"content\":\"{\\\"x\\\"\"},\"done\":false}\n{\"message\":{\"content\":\": 1}\"},\"done\":false}\n").unwrap();
        a.feed("{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":4,\"eval_count\":6}").unwrap();
        let r = a.finish().unwrap();
        assert_eq!((r.text.as_str(), r.tokens_out), ("{\"x\": 1}", 6));
        let mut b = Assembler::new(ProviderKind::OpenAi);
        b.feed("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n")
            .unwrap();
        assert_eq!(
            b.finish().unwrap_err(),
            "the stream broke off before the reply was complete"
        );
        let mut c = Assembler::new(ProviderKind::OpenAi);
        assert!(
            c.feed("data: {\"error\":{\"message\":\"model crashed\"}}\n\n")
                .unwrap_err()
                .contains("model crashed")
        );
    }
}
