//! OpenAI Chat Completions on the wire: the request (the conversation written
//! straight from the chat, with no JSON tree built on the way: the whole
//! conversation goes out at every turn of a tool loop), how JSON is asked for, and
//! the reply (also the pieces of a streamed one; Ollama's reply message has the
//! same shape).

use std::borrow::Cow;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value as Json, json};

use super::{Offered, ToolFormat, offered};
use crate::agent::structured::{Form, NAME};
use crate::agent::{Chat, Role};

#[derive(Debug, Serialize)]
pub struct OpenAiRequest<'a> {
    pub model: &'a str,
    pub messages: OpenAiMessages<'a>,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Offered<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<OpenAiFormat<'a>>,
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

/// OpenAI's conversation: the system prompt first, assistant `tool_calls`
/// (arguments as a JSON string) and `role: "tool"` results. Written straight from
/// the chat, with no JSON tree built on the way (the whole conversation goes out
/// at every turn of a tool loop).
#[derive(Debug, Clone, Copy)]
pub struct OpenAiMessages<'a>(&'a Chat);

impl Serialize for OpenAiMessages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let chat = self.0;
        let mut seq = s.serialize_seq(Some(chat.messages.len() + 1))?;
        if let Some(system) = &chat.system {
            seq.serialize_element(&OpenAiText {
                role: "system",
                content: system,
            })?;
        }
        for m in &chat.messages {
            match m.role {
                Role::Tool => seq.serialize_element(&OpenAiToolResult {
                    role: "tool",
                    tool_call_id: m.tool_call_id.as_deref(),
                    content: &m.content,
                })?,
                Role::Assistant if !m.tool_calls.is_empty() => {
                    seq.serialize_element(&OpenAiCalls {
                        role: "assistant",
                        content: (!m.content.is_empty()).then_some(m.content.as_str()),
                        tool_calls: m
                            .tool_calls
                            .iter()
                            .map(|c| OpenAiCallOut {
                                id: &c.id,
                                kind: "function",
                                function: OpenAiFunctionOut {
                                    name: &c.name,
                                    arguments: arguments_text(&c.arguments),
                                },
                            })
                            .collect(),
                    })?
                }
                _ => seq.serialize_element(&OpenAiText {
                    role: m.role.as_str(),
                    content: &m.content,
                })?,
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct OpenAiText<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct OpenAiToolResult<'a> {
    role: &'static str,
    tool_call_id: Option<&'a str>,
    content: &'a str,
}

#[derive(Serialize)]
struct OpenAiCalls<'a> {
    role: &'static str,
    content: Option<&'a str>,
    tool_calls: Vec<OpenAiCallOut<'a>>,
}

#[derive(Serialize)]
struct OpenAiCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OpenAiFunctionOut<'a>,
}

#[derive(Serialize)]
struct OpenAiFunctionOut<'a> {
    name: &'a str,
    arguments: Cow<'a, str>,
}

/// How OpenAI is asked for JSON (`response_format`).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpenAiFormat<'a> {
    JsonSchema { json_schema: OpenAiSchema<'a> },
    JsonObject,
}

#[derive(Debug, Serialize)]
pub struct OpenAiSchema<'a> {
    name: &'a str,
    schema: &'a Json,
    strict: bool,
}

fn arguments_text(v: &Json) -> Cow<'_, str> {
    match v {
        Json::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

impl<'a> OpenAiRequest<'a> {
    pub fn new(model: &'a str, chat: &'a Chat, stream: bool) -> OpenAiRequest<'a> {
        let response_format = match (chat.form, &chat.schema) {
            (Form::Schema, Some(w)) => Some(OpenAiFormat::JsonSchema {
                json_schema: OpenAiSchema {
                    name: NAME,
                    schema: &w.schema,
                    strict: w.strict,
                },
            }),
            (Form::Schema | Form::Json, _) => Some(OpenAiFormat::JsonObject),
            (Form::Text, _) => None,
        };
        let tools = (!chat.tools.is_empty()).then(|| offered(chat, ToolFormat::OpenAi));
        let tool_choice = (tools.is_some() && chat.final_turn).then(|| json!("none"));
        OpenAiRequest {
            model,
            messages: OpenAiMessages(chat),
            max_tokens: chat.max_tokens,
            tools,
            tool_choice,
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
    #[serde(default)]
    pub tool_calls: Vec<OpenAiToolCall>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiToolCall {
    #[serde(default)]
    pub id: String,
    pub function: OpenAiFunction,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiFunction {
    pub name: String,
    /// A JSON text.
    #[serde(default)]
    pub arguments: String,
}

impl OpenAiToolCall {
    /// The call, its arguments parsed (kept as the text when they are not JSON).
    pub fn read(self) -> crate::agent::ToolCall {
        let arguments = if self.function.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&self.function.arguments)
                .unwrap_or(Json::String(self.function.arguments))
        };
        crate::agent::ToolCall {
            id: self.id,
            name: self.function.name,
            arguments,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}
