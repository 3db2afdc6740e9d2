//! Our own serde types for the three wire formats: OpenAI Chat Completions, Anthropic
//! Messages and Ollama's chat API. Only the fields aios sends or reads. How each
//! carries the schema is in [`super::structured`].

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::structured::{Form, NAME};
use super::{Chat, Role};

#[derive(Debug, Serialize)]
pub struct OpenAiRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OpenAiMessage<'a>>,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Asks a streaming server to end with the token usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Json>,
}

#[derive(Debug, Serialize)]
pub struct OpenAiMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

fn messages(chat: &Chat, system_inline: bool) -> Vec<OpenAiMessage<'_>> {
    let mut out = Vec::with_capacity(chat.messages.len() + 1);
    if system_inline && let Some(s) = &chat.system {
        out.push(OpenAiMessage {
            role: "system",
            content: s,
        });
    }
    for m in &chat.messages {
        out.push(OpenAiMessage {
            role: m.role.as_str(),
            content: &m.content,
        });
    }
    out
}

impl<'a> OpenAiRequest<'a> {
    pub fn new(model: &'a str, chat: &'a Chat, stream: bool) -> OpenAiRequest<'a> {
        let response_format = match (chat.form, &chat.schema) {
            (Form::Schema, Some(w)) => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": NAME, "schema": w.schema, "strict": w.strict},
            })),
            (Form::Schema | Form::Json, _) => Some(json!({"type": "json_object"})),
            (Form::Text, _) => None,
        };
        OpenAiRequest {
            model,
            messages: messages(chat, true),
            max_tokens: chat.max_tokens,
            response_format,
            temperature: chat.sampling.temperature,
            top_p: chat.sampling.top_p,
            seed: chat.sampling.seed,
            stop: &chat.sampling.stop,
            stream,
            stream_options: stream.then(|| json!({"include_usage": true})),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OpenAiResponse {
    pub choices: Vec<OpenAiChoice>,
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiChoice {
    #[serde(default)]
    pub message: Option<OpenAiReplyMessage>,
    /// A streamed chunk's piece.
    #[serde(default)]
    pub delta: Option<OpenAiReplyMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiReplyMessage {
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

#[derive(Debug, Serialize)]
pub struct AnthropicRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<&'a str>,
    pub messages: Vec<OpenAiMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
}

impl<'a> AnthropicRequest<'a> {
    /// Anthropic has no `seed`: it is not sent.
    pub fn new(model: &'a str, chat: &'a Chat, stream: bool) -> AnthropicRequest<'a> {
        let (tools, tool_choice) = match (chat.form, &chat.schema) {
            (Form::Schema, Some(w)) => (
                Some(json!([{
                    "name": NAME,
                    "description": "Give your reply: call this tool with the JSON object the instructions ask for.",
                    "input_schema": w.schema,
                }])),
                Some(json!({"type": "tool", "name": NAME})),
            ),
            _ => (None, None),
        };
        AnthropicRequest {
            model,
            max_tokens: chat.max_tokens,
            system: chat.system.as_deref(),
            messages: messages(chat, false),
            tools,
            tool_choice,
            temperature: chat.sampling.temperature,
            top_p: chat.sampling.top_p,
            stop_sequences: &chat.sampling.stop,
            stream,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AnthropicResponse {
    pub content: Vec<AnthropicBlock>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
    #[serde(default)]
    pub stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AnthropicBlock {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    /// A `tool_use` block's arguments: the JSON reply of a forced tool call.
    #[serde(default)]
    pub input: Option<Json>,
}

#[derive(Debug, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// Ollama's `/api/chat` request: `format` takes a JSON Schema (or `"json"`), and the
/// sampling settings go in `options`.
#[derive(Debug, Serialize)]
pub struct OllamaRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OpenAiMessage<'a>>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Json>,
    pub options: Json,
}

impl<'a> OllamaRequest<'a> {
    pub fn new(model: &'a str, chat: &'a Chat, stream: bool) -> OllamaRequest<'a> {
        let format = match (chat.form, &chat.schema) {
            (Form::Schema, Some(w)) => Some(w.schema.clone()),
            (Form::Schema | Form::Json, _) => Some(json!("json")),
            (Form::Text, _) => None,
        };
        let s = &chat.sampling;
        let mut options = json!({ "num_predict": chat.max_tokens });
        if let Some(t) = s.temperature {
            options["temperature"] = json!(t);
        }
        if let Some(p) = s.top_p {
            options["top_p"] = json!(p);
        }
        if let Some(x) = s.seed {
            options["seed"] = json!(x);
        }
        if !s.stop.is_empty() {
            options["stop"] = json!(s.stop);
        }
        OllamaRequest {
            model,
            messages: messages(chat, true),
            stream,
            format,
            options,
        }
    }
}

/// A reply of `/api/chat`, or one line of its stream.
#[derive(Debug, Deserialize)]
pub struct OllamaResponse {
    #[serde(default)]
    pub message: Option<OpenAiReplyMessage>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    #[serde(default)]
    pub prompt_eval_count: u64,
    #[serde(default)]
    pub eval_count: u64,
    /// An error reported inside a stream.
    #[serde(default)]
    pub error: Option<String>,
}

/// An error body: OpenAI `{"error": {"message": ..}}`, Anthropic
/// `{"type": "error", "error": {"message": ..}}`, Ollama `{"error": "..."}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    Object {
        #[serde(default)]
        message: Option<String>,
    },
    Text(String),
}

impl ErrorDetail {
    pub fn message(self) -> Option<String> {
        match self {
            ErrorDetail::Object { message } => message,
            ErrorDetail::Text(t) => Some(t),
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}
