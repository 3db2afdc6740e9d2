//! Our own serde types for the three wire formats: OpenAI Chat Completions
//! ([`openai`]), Anthropic Messages and Ollama's chat API. Only the fields aios sends
//! or reads. How each carries the schema is in [`super::structured`].

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value as Json, json};

use super::structured::{Form, NAME};
use super::{Chat, Role};

mod openai;
pub use openai::*;

/// The conversation for a format without tools (Ollama's): a tool loop's turns
/// as plain text.
fn plain_messages(chat: &Chat) -> Vec<Json> {
    let mut out = Vec::with_capacity(chat.messages.len() + 1);
    if let Some(s) = &chat.system {
        out.push(json!({"role": "system", "content": s}));
    }
    for m in &chat.messages {
        match m.role {
            Role::Tool => out.push(json!({
                "role": "user",
                "content": format!("(result of tool call {}) {}", m.tool_call_id.as_deref().unwrap_or("?"), m.content),
            })),
            _ if !m.tool_calls.is_empty() => {
                let calls: Vec<String> = m
                    .tool_calls
                    .iter()
                    .map(|c| format!("(called tool {} with {})", c.name, c.arguments))
                    .collect();
                out.push(json!({"role": "assistant", "content": format!("{}{}", m.content, calls.join(" "))}));
            }
            _ => out.push(json!({"role": m.role.as_str(), "content": m.content})),
        }
    }
    out
}

/// A tool offered to the model, in one wire format or the other: OpenAI's
/// `{"type": "function", "function": {name, description, parameters}}`, Anthropic's
/// `{name, description, input_schema}`. The same three fields either way.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    format: ToolFormat,
    name: &'a str,
    description: &'a str,
    schema: &'a Json,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ToolFormat {
    OpenAi,
    Anthropic,
}

impl Serialize for Offered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Function<'a> {
            name: &'a str,
            description: &'a str,
            parameters: &'a Json,
        }
        let mut m = s.serialize_map(Some(if self.format == ToolFormat::OpenAi {
            2
        } else {
            3
        }))?;
        match self.format {
            ToolFormat::OpenAi => {
                m.serialize_entry("type", "function")?;
                m.serialize_entry(
                    "function",
                    &Function {
                        name: self.name,
                        description: self.description,
                        parameters: self.schema,
                    },
                )?;
            }
            ToolFormat::Anthropic => {
                m.serialize_entry("name", self.name)?;
                m.serialize_entry("description", self.description)?;
                m.serialize_entry("input_schema", self.schema)?;
            }
        }
        m.end()
    }
}

/// The chat's tools as `format` offers them.
pub(crate) fn offered(chat: &Chat, format: ToolFormat) -> Vec<Offered<'_>> {
    chat.tools
        .iter()
        .map(|t| Offered {
            format,
            name: &t.name,
            description: &t.description,
            schema: &t.input_schema,
        })
        .collect()
}

/// Anthropic's conversation: assistant `tool_use` blocks, and each run of tool
/// results as one user message of `tool_result` blocks.
fn anthropic_messages(chat: &Chat) -> Vec<Json> {
    let mut out: Vec<Json> = Vec::with_capacity(chat.messages.len());
    let mut results: Vec<Json> = Vec::new();
    for m in &chat.messages {
        if m.role == Role::Tool {
            results.push(json!({
                "type": "tool_result",
                "tool_use_id": m.tool_call_id,
                "content": m.content,
            }));
            continue;
        }
        if !results.is_empty() {
            out.push(json!({"role": "user", "content": std::mem::take(&mut results)}));
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let mut blocks = Vec::new();
            if !m.content.trim().is_empty() {
                blocks.push(json!({"type": "text", "text": m.content}));
            }
            for c in &m.tool_calls {
                let input = if c.arguments.is_object() {
                    c.arguments.clone()
                } else {
                    json!({})
                };
                blocks
                    .push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
            }
            out.push(json!({"role": "assistant", "content": blocks}));
        } else {
            out.push(json!({"role": m.role.as_str(), "content": m.content}));
        }
    }
    if !results.is_empty() {
        out.push(json!({"role": "user", "content": results}));
    }
    out
}

#[derive(Debug, Serialize)]
pub struct AnthropicRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<&'a str>,
    pub messages: Vec<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Offered<'a>>>,
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
        let mut tools = offered(chat, ToolFormat::Anthropic);
        let offers = !tools.is_empty();
        let reply_tool = match (chat.form, &chat.schema) {
            (Form::Schema, Some(w)) => {
                tools.push(Offered {
                    format: ToolFormat::Anthropic,
                    name: NAME,
                    description: "Give your reply: call this tool with the JSON object the instructions ask for.",
                    schema: &w.schema,
                });
                true
            }
            _ => false,
        };
        // The reply tool is forced unless other tools may be called first (then the
        // model must call one tool or the other); at a loop's last turn no other.
        let tool_choice = match (reply_tool, offers, chat.final_turn) {
            (true, true, false) => Some(json!({"type": "any"})),
            (true, _, _) => Some(json!({"type": "tool", "name": NAME})),
            (false, true, true) => Some(json!({"type": "none"})),
            (false, _, _) => None,
        };
        AnthropicRequest {
            model,
            max_tokens: chat.max_tokens,
            system: chat.system.as_deref(),
            messages: anthropic_messages(chat),
            tools: (!tools.is_empty()).then_some(tools),
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
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
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
    pub messages: Vec<Json>,
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
            messages: plain_messages(chat),
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
            Role::Tool => "tool",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::structured::WireSchema;
    use crate::agent::{Message, ToolCall, WireTool};

    fn chat(final_turn: bool, form: Form) -> Chat {
        let call = ToolCall {
            id: "call_1".into(),
            name: "srv__echo".into(),
            arguments: json!({"message": "hi"}),
        };
        Chat {
            system: Some("sys".into()),
            messages: vec![
                Message::user("go"),
                Message {
                    tool_calls: vec![call],
                    ..Message::assistant("")
                },
                Message {
                    role: Role::Tool,
                    content: "Echo: hi".into(),
                    tool_calls: Vec::new(),
                    tool_call_id: Some("call_1".into()),
                },
            ],
            max_tokens: 50,
            json: form != Form::Text,
            sampling: Default::default(),
            form,
            schema: (form == Form::Schema).then(|| WireSchema {
                schema: json!({"type": "object"}),
                strict: false,
            }),
            tools: vec![WireTool {
                name: "srv__echo".into(),
                description: "Echoes.".into(),
                input_schema: json!({"type": "object"}),
            }],
            final_turn,
        }
    }

    #[test]
    fn openai_sends_tools_tool_calls_and_tool_results() {
        let c = chat(false, Form::Text);
        let v = serde_json::to_value(OpenAiRequest::new("m", &c, false)).unwrap();
        assert_eq!(
            v["tools"][0],
            json!({"type": "function", "function": {
                "name": "srv__echo", "description": "Echoes.", "parameters": {"type": "object"},
            }})
        );
        assert!(v.get("tool_choice").is_none());
        let m = &v["messages"];
        assert_eq!(m[0]["role"], "system");
        assert_eq!(m[1], json!({"role": "user", "content": "go"}));
        assert_eq!(
            m[2],
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "srv__echo", "arguments": r#"{"message":"hi"}"#},
            }]})
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "Echo: hi"})
        );
        let last = chat(true, Form::Schema);
        let v = serde_json::to_value(OpenAiRequest::new("m", &last, false)).unwrap();
        assert_eq!(v["tool_choice"], "none");
        assert_eq!(
            v["response_format"],
            json!({"type": "json_schema", "json_schema": {
                "name": NAME, "schema": {"type": "object"}, "strict": false,
            }})
        );
        let plain = chat(false, Form::Json);
        let v = serde_json::to_value(OpenAiRequest::new("m", &plain, false)).unwrap();
        assert_eq!(v["response_format"], json!({"type": "json_object"}));
    }

    #[test]
    fn anthropic_sends_tool_use_and_tool_result_blocks() {
        let c = chat(false, Form::Text);
        let v = serde_json::to_value(AnthropicRequest::new("m", &c, false)).unwrap();
        assert_eq!(
            v["tools"][0],
            json!({"name": "srv__echo", "description": "Echoes.", "input_schema": {"type": "object"}})
        );
        assert!(v.get("tool_choice").is_none());
        let m = &v["messages"];
        assert_eq!(m[1]["role"], "assistant");
        assert_eq!(m[1]["content"][0]["type"], "tool_use");
        assert_eq!(m[1]["content"][0]["input"], json!({"message": "hi"}));
        assert_eq!(m[2]["role"], "user");
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][0]["tool_use_id"], "call_1");
        // With the schema form the reply tool joins: any tool until the last turn,
        // then the reply tool only.
        let c = chat(false, Form::Schema);
        let v = serde_json::to_value(AnthropicRequest::new("m", &c, false)).unwrap();
        assert_eq!(v["tools"][1]["name"], NAME);
        assert_eq!(v["tool_choice"], json!({"type": "any"}));
        let c = chat(true, Form::Schema);
        let v = serde_json::to_value(AnthropicRequest::new("m", &c, false)).unwrap();
        assert_eq!(v["tool_choice"], json!({"type": "tool", "name": NAME}));
        let c = chat(true, Form::Text);
        let v = serde_json::to_value(AnthropicRequest::new("m", &c, false)).unwrap();
        assert_eq!(v["tool_choice"], json!({"type": "none"}));
    }

    #[test]
    fn ollama_gets_the_loop_as_plain_text() {
        let c = chat(false, Form::Text);
        let v = serde_json::to_value(OllamaRequest::new("m", &c, false)).unwrap();
        let m = &v["messages"];
        assert!(
            m[2]["content"]
                .as_str()
                .unwrap()
                .contains("called tool srv__echo")
        );
        assert_eq!(m[3]["role"], "user");
        assert!(m[3]["content"].as_str().unwrap().contains("Echo: hi"));
    }
}
