//! One call's conversation, built from the step's request and where its turns are:
//! the system prompt (with the JSON and tool rules), the prompt after the retrieved
//! memory, the tool loop so far, a repair round; and what the journal keeps of it.

use serde_json::{Value as Json, json};

use super::{
    AgentRequest, Backend, Chat, Form, Message, Sampling, Target, ToolDef, context, provider,
    structured, turns,
};

/// The conversation of `call`: the step's system prompt (with the JSON rule), its
/// prompt (after the retrieved memory), and for a repair call the invalid reply and
/// why. `form` says how JSON is asked for; `sampling` is the alias's (the step's own
/// settings win).
pub fn chat(req: &AgentRequest, call: &turns::Call, form: Form, sampling: &Sampling) -> Chat {
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
    let mut messages = vec![Message::user(content)];
    messages.extend(call.convo.iter().cloned());
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
pub fn request_record(target: &Target, chat: &Chat, context: Option<&Json>) -> Json {
    let url = match &target.backend {
        Backend::Heuristic => Json::Null,
        Backend::Provider(p) => Json::String(provider::endpoint(p)),
    };
    let mut r = json!({
        "provider": target.provider_name(),
        "model": target.model,
        "url": url,
        "chat": chat,
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
