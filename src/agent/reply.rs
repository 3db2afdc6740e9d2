//! Reading what a provider answered: a whole (not streamed) reply of each wire
//! format into a [`Reply`] (text, tokens, finish reason, tool calls; Anthropic's
//! reply tool read as the answer), and the message of an error body. Pure: text in.

use super::Reply;
use super::config::ProviderKind;
use super::structured::NAME;
use super::wire::*;

/// The provider's error message, or the start of the body.
pub(super) fn error_detail(body: &str) -> String {
    if let Ok(b) = serde_json::from_str::<ErrorBody>(body)
        && let Some(m) = b.error.message()
    {
        return crate::connectors::truncate_line(&m, 200);
    }
    let t = body.trim();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        crate::connectors::truncate_line(t, 200)
    }
}

/// Read a successful (whole) reply.
pub fn parse_reply(kind: ProviderKind, body: &str) -> Result<Reply, String> {
    let short = |e: serde_json::Error| format!("not the expected JSON ({e})");
    match kind {
        ProviderKind::OpenAi => {
            let r: OpenAiResponse = serde_json::from_str(body).map_err(short)?;
            let choice = r
                .choices
                .into_iter()
                .next()
                .ok_or("the reply has no message")?;
            let m = choice.message.ok_or("the reply has no message")?;
            let tool_calls: Vec<_> = m.tool_calls.into_iter().map(|c| c.read()).collect();
            let text = match m.content {
                Some(t) => t,
                None if !tool_calls.is_empty() => String::new(),
                None => return Err("the reply has no message".into()),
            };
            let u = r.usage.unwrap_or(OpenAiUsage {
                prompt_tokens: 0,
                completion_tokens: 0,
            });
            Ok(Reply {
                text,
                tokens_in: u.prompt_tokens,
                tokens_out: u.completion_tokens,
                http_attempts: 1,
                finish: choice.finish_reason,
                tool_calls,
            })
        }
        ProviderKind::Anthropic => {
            let r: AnthropicResponse = serde_json::from_str(body).map_err(short)?;
            if r.content.is_empty() {
                return Err("the reply has no content".into());
            }
            // The reply tool's arguments are the reply; other tools' calls are calls.
            let is_reply = |b: &&AnthropicBlock| {
                b.kind == "tool_use" && b.name.as_deref().is_none_or(|n| n == NAME)
            };
            let tool_calls: Vec<_> = r
                .content
                .iter()
                .filter(|b| b.kind == "tool_use" && !is_reply(b))
                .map(|b| crate::agent::ToolCall {
                    id: b.id.clone().unwrap_or_default(),
                    name: b.name.clone().unwrap_or_default(),
                    arguments: b.input.clone().unwrap_or_default(),
                })
                .collect();
            let text = match r.content.iter().find(is_reply) {
                Some(b) => b.input.clone().unwrap_or_default().to_string(),
                None => r
                    .content
                    .iter()
                    .filter(|b| b.kind == "text")
                    .filter_map(|b| b.text.as_deref())
                    .collect(),
            };
            let u = r.usage.unwrap_or(AnthropicUsage {
                input_tokens: 0,
                output_tokens: 0,
            });
            Ok(Reply {
                text,
                tokens_in: u.input_tokens,
                tokens_out: u.output_tokens,
                http_attempts: 1,
                finish: r.stop_reason,
                tool_calls,
            })
        }
        ProviderKind::Ollama => {
            let r: OllamaResponse = serde_json::from_str(body).map_err(short)?;
            let text = r
                .message
                .and_then(|m| m.content)
                .ok_or("the reply has no message")?;
            Ok(Reply {
                text,
                tokens_in: r.prompt_eval_count,
                tokens_out: r.eval_count,
                http_attempts: 1,
                finish: r.done_reason,
                tool_calls: Vec::new(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tool_calls_of_openai_and_anthropic() {
        let r = parse_reply(
            ProviderKind::OpenAi,
            r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"srv__echo","arguments":"{\"message\":\"hi\"}"}},{"id":"call_2","type":"function","function":{"name":"x","arguments":"not json"}}]},"finish_reason":"tool_calls"}]}"#,
        )
        .unwrap();
        assert_eq!(r.text, "");
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].id, "call_1");
        assert_eq!(
            r.tool_calls[0].arguments,
            serde_json::json!({"message": "hi"})
        );
        assert_eq!(r.tool_calls[1].arguments, serde_json::json!("not json"));
        let r = parse_reply(
            ProviderKind::Anthropic,
            r#"{"content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1","name":"memory__search","input":{"query":"tea"}}],"stop_reason":"tool_use"}"#,
        )
        .unwrap();
        assert_eq!(r.text, "Let me look.");
        assert_eq!(r.tool_calls[0].name, "memory__search");
        assert_eq!(r.tool_calls[0].id, "toolu_1");
        // The reply tool is the answer, not a call.
        let r = parse_reply(
            ProviderKind::Anthropic,
            r#"{"content":[{"type":"tool_use","id":"toolu_2","name":"reply","input":{"a":1}}],"stop_reason":"tool_use"}"#,
        )
        .unwrap();
        assert!(r.tool_calls.is_empty());
        assert_eq!(r.text, r#"{"a":1}"#);
    }

    #[test]
    fn reads_the_three_wire_formats() {
        let r = parse_reply(
            ProviderKind::OpenAi,
            r#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.tokens_in, r.tokens_out), ("hi", 3, 1));
        assert_eq!(r.finish.as_deref(), Some("length"));
        let r = parse_reply(
            ProviderKind::Anthropic,
            r#"{"content":[{"type":"text","text":"yo"}],"usage":{"input_tokens":5,"output_tokens":2},"stop_reason":"end_turn"}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.tokens_in, r.tokens_out), ("yo", 5, 2));
        let r = parse_reply(
            ProviderKind::Anthropic,
            r#"{"content":[{"type":"tool_use","name":"reply","input":{"a":1}}],"stop_reason":"tool_use"}"#,
        )
        .unwrap();
        assert_eq!(r.text, r#"{"a":1}"#);
        let r = parse_reply(
            ProviderKind::Ollama,
            r#"{"message":{"role":"assistant","content":"ok"},"done":true,"done_reason":"stop","prompt_eval_count":9,"eval_count":2}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.tokens_in, r.tokens_out), ("ok", 9, 2));
        assert!(
            parse_reply(ProviderKind::OpenAi, "{not json")
                .unwrap_err()
                .starts_with("not the expected JSON")
        );
        assert_eq!(
            error_detail(r#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(
            error_detail(r#"{"error":"invalid format"}"#),
            "invalid format"
        );
    }
}
