//! One call's conversation, built from the step's request and where its turns are:
//! the system prompt (with the JSON and tool rules), the prompt after the retrieved
//! memory, the tool loop so far, a repair round; and what the journal keeps of it.

use serde_json::{Value as Json, json};

use super::{
    AgentRequest, Backend, Chat, Form, Message, Sampling, Target, ToolDef, WireTool, context,
    provider, structured, turns,
};

/// The conversation of `call`: the step's system prompt (with the JSON rule), its
/// prompt (after the retrieved memory), and for a repair call the invalid reply and
/// why. `form` says how JSON is asked for; `sampling` is the alias's (the step's own
/// settings win).
pub fn chat(req: &AgentRequest, call: &turns::Call, form: Form, sampling: &Sampling) -> Chat {
    chat_of(req, call.clone(), form, sampling)
}

/// [`chat`], taking the call's conversation over instead of copying it.
pub fn chat_of(req: &AgentRequest, call: turns::Call, form: Form, sampling: &Sampling) -> Chat {
    let mut system = req.system.clone();
    if req.json {
        let mut rule = String::from(
            "Reply with one JSON object and nothing else. You may add \"rationale\" (a short string: why) and \"confidence\" (a number from 0 to 1).",
        );
        if let Some(s) = &req.schema {
            rule.push_str(&format!(" The object must match this JSON Schema: {s}"));
        }
        system = Some(match system {
            Some(s) => format!("{s}\n\n{rule}"),
            None => rule,
        });
    }
    let content = match req.used_context() {
        Some(c) => context::with_prompt(&c.text, &req.prompt),
        None => req.prompt.clone(),
    };
    if !req.tools.is_empty() {
        let mut rule = String::from(
            "You may call the tools offered. A tool whose description says it has a side effect runs only once the operator approves it: before calling it, say in your reply why.",
        );
        if call.final_turn {
            rule = format!(
                "You have used your turns (max_turns = {}): call no more tools; answer now with what you have.",
                req.max_turns
            );
        }
        system = Some(match system {
            Some(s) => format!("{s}\n\n{rule}"),
            None => rule,
        });
    }
    let mut messages = call.convo;
    messages.insert(0, Message::user(content));
    match &call.repair {
        // Cut at max_tokens: asked again afresh, with more room. The cut reply stays
        // out of the conversation (a small model shown it writes it again).
        Some(r) if r.truncated => {
            messages[0].content.push_str(&format!(
                "\n\n(Your last reply was cut off at the length limit before it was complete. Keep this one short: {} at most.)",
                if req.json {
                    "one complete JSON object, a few sentences per field"
                } else {
                    "a few sentences"
                }
            ));
        }
        Some(r) => {
            messages.push(Message::assistant(r.response.clone()));
            messages.push(Message::user(format!(
                "Your reply was not valid: {}. Reply again with only the corrected JSON object.",
                r.error
            )));
        }
        None => {}
    }
    let (form, schema) = match (
        req.json,
        form,
        req.schema.as_ref().and_then(structured::wire),
    ) {
        (false, _, _) => (Form::Text, None),
        (true, Form::Schema, Some(w)) => (Form::Schema, Some(w)),
        (true, _, _) => (Form::Json, None),
    };
    Chat {
        system,
        messages,
        max_tokens: call.max_tokens,
        json: req.json,
        sampling: req.sampling.over(sampling),
        form,
        schema,
        tools: req.tools.iter().map(ToolDef::wire).collect(),
        final_turn: call.final_turn,
    }
}

/// What the journal keeps of a call's request: the conversation, the model, the
/// endpoint and, for a step with a `context`, the record of the memory it used
/// ([`UsedContext::record`]). Never headers, so never a key.
///
/// `earlier`: how many leading messages are left out because they are the whole
/// conversation of the step's previous journaled call, which this one continues (a
/// tool loop's turn journals only what is new since the last; `chat.earlier` says
/// how many, and [`whole_messages`] puts them back). 0: the whole conversation.
pub fn request_record(
    target: &Target,
    chat: &Chat,
    context: Option<&Json>,
    earlier: usize,
) -> Json {
    let url = match &target.backend {
        Backend::Heuristic => Json::Null,
        Backend::Provider(p) => Json::String(provider::endpoint(p)),
    };
    let record = ChatRecord {
        system: chat.system.as_deref(),
        earlier,
        messages: chat.messages.get(earlier..).unwrap_or_default(),
        max_tokens: chat.max_tokens,
        json: chat.json,
        sampling: &chat.sampling,
        tools: &chat.tools,
        final_turn: chat.final_turn,
    };
    let mut r = json!({
        "provider": target.provider_name(),
        "model": target.model,
        "url": url,
        "chat": record,
    });
    if let Backend::Provider(p) = &target.backend {
        if chat.json {
            r["structured"] = json!(chat.form.word(p.kind));
        }
        if p.stream {
            r["stream"] = json!(true);
        }
    }
    if let Some(c) = context {
        r["context"] = c.clone();
    }
    r
}

/// How many leading messages of `chat` a request record may leave out: all of
/// `previous` (the conversation of the step's previous journaled call) when `chat`
/// begins with it, else none.
pub fn continued(previous: Option<&[Message]>, chat: &Chat) -> usize {
    match previous {
        Some(p) if !p.is_empty() && chat.messages.starts_with(p) => p.len(),
        _ => 0,
    }
}

/// A call's whole conversation from its request record's `chat`: its own messages
/// after the `earlier` ones of `previous` (the whole conversation of the step's
/// call before it). `None` when they cannot be put back (`previous` unknown or of
/// another length).
pub fn whole_messages(previous: Option<&[Json]>, chat: &Json) -> Option<Vec<Json>> {
    let own = chat["messages"].as_array()?;
    match chat["earlier"].as_u64().unwrap_or(0) as usize {
        0 => Some(own.clone()),
        n => {
            let p = previous.filter(|p| p.len() == n)?;
            Some(p.iter().chain(own).cloned().collect())
        }
    }
}

/// [`Chat`] as the journal keeps it (the same fields, the messages maybe cut).
#[derive(serde::Serialize)]
struct ChatRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    earlier: usize,
    messages: &'a [Message],
    max_tokens: u32,
    json: bool,
    #[serde(skip_serializing_if = "no_sampling")]
    sampling: &'a Sampling,
    #[serde(skip_serializing_if = "no_tools")]
    tools: &'a [WireTool],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    final_turn: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn no_sampling(s: &&Sampling) -> bool {
    s.is_empty()
}

fn no_tools(t: &&[WireTool]) -> bool {
    t.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentSettings;

    fn chat_of(messages: Vec<Message>) -> Chat {
        Chat {
            system: Some("sys".into()),
            messages,
            max_tokens: 10,
            json: false,
            sampling: Sampling::default(),
            form: Form::Text,
            schema: None,
            tools: Vec::new(),
            final_turn: false,
        }
    }

    #[test]
    fn a_continued_conversation_is_journaled_from_its_new_messages_and_put_back() {
        let target = AgentSettings::default().resolve("default").unwrap();
        let first = chat_of(vec![Message::user("go")]);
        let second = chat_of(vec![
            Message::user("go"),
            Message::assistant("called"),
            Message::user("result"),
        ]);
        assert_eq!(continued(None, &first), 0);
        assert_eq!(continued(Some(&first.messages), &second), 1);
        // Not a continuation: another first message, or a shorter conversation.
        let other = chat_of(vec![Message::user("stop"), Message::assistant("x")]);
        assert_eq!(continued(Some(&first.messages), &other), 0);
        assert_eq!(continued(Some(&second.messages), &first), 0);
        assert_eq!(continued(Some(&[]), &first), 0);

        let r1 = request_record(&target, &first, None, 0);
        let r2 = request_record(&target, &second, None, 1);
        assert!(r1["chat"].get("earlier").is_none());
        // The rest of the record is the chat's own serialization.
        assert_eq!(r1["chat"], serde_json::to_value(&first).unwrap());
        assert_eq!(r2["chat"]["earlier"], 1);
        assert_eq!(r2["chat"]["system"], "sys");
        assert_eq!(r2["chat"]["messages"].as_array().unwrap().len(), 2);

        let m1 = whole_messages(None, &r1["chat"]).unwrap();
        let m2 = whole_messages(Some(&m1), &r2["chat"]).unwrap();
        assert_eq!(
            Json::Array(m2.clone()),
            serde_json::to_value(&second.messages).unwrap()
        );
        // Without the call before it (or with another), it cannot be put back.
        assert_eq!(whole_messages(None, &r2["chat"]), None);
        assert_eq!(whole_messages(Some(&m2), &r2["chat"]), None);
    }
}
