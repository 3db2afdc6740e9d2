//! Our own serde types for the two wire formats: OpenAI Chat Completions and
//! Anthropic Messages. Only the fields aios sends or reads.

use serde::{Deserialize, Serialize};

use super::{Chat, Role};

#[derive(Debug, Serialize)]
pub struct OpenAiRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OpenAiMessage<'a>>,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

#[derive(Debug, Serialize)]
pub struct OpenAiMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> OpenAiRequest<'a> {
    pub fn new(model: &'a str, chat: &'a Chat) -> OpenAiRequest<'a> {
        let mut messages = Vec::with_capacity(chat.messages.len() + 1);
        if let Some(s) = &chat.system {
            messages.push(OpenAiMessage {
                role: "system",
                content: s,
            });
        }
        for m in &chat.messages {
            messages.push(OpenAiMessage {
                role: m.role.as_str(),
                content: &m.content,
            });
        }
        OpenAiRequest {
            model,
            messages,
            max_tokens: chat.max_tokens,
            response_format: chat.json.then_some(ResponseFormat {
                kind: "json_object",
            }),
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
    pub message: OpenAiReplyMessage,
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
}

impl<'a> AnthropicRequest<'a> {
    pub fn new(model: &'a str, chat: &'a Chat) -> AnthropicRequest<'a> {
        AnthropicRequest {
            model,
            max_tokens: chat.max_tokens,
            system: chat.system.as_deref(),
            messages: chat
                .messages
                .iter()
                .map(|m| OpenAiMessage {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AnthropicResponse {
    pub content: Vec<AnthropicBlock>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
pub struct AnthropicBlock {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// An error body: OpenAI `{"error": {"message": ..}}`, Anthropic
/// `{"type": "error", "error": {"message": ..}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}
