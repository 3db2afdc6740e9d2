//! Agent steps: LLM providers, prompts, structured replies, cost and budgets.
//!
//! Map: `config` types the config sections (providers, models, caps, secrets file),
//! `sampling` the sampling settings, `wire` the three wire formats, `structured` how
//! a JSON reply is asked for (the schema sent to the server), `provider` the HTTP
//! calls (retries, errors), `reply` reading a whole reply, `stream` streamed
//! replies, `schema` the JSON Schema subset, `heuristic` the offline provider, `budget` the cost estimate and cap
//! checks, and `turns` the pure state machine of a step's calls (repair, fallback,
//! give up). The driver (engine) performs what `turns` decides, journals every call
//! before its result is used, and pauses on a budget stop; nothing here touches the
//! journal.

pub mod budget;
mod chat;
pub mod config;
pub mod context;
pub mod heuristic;
pub mod provider;
mod reply;
pub mod sampling;
pub mod schema;
pub mod stream;
pub mod structured;
pub mod tools;
pub mod turns;
pub mod wire;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

pub use chat::{chat, chat_of, continued, request_record, whole_messages};
pub use config::{AgentSettings, Backend, Target};
pub use context::{PromptContext, UsedContext};
pub use sampling::Sampling;
pub use structured::{Form, WireSchema};
pub use tools::{ToolCall, ToolDef, WireTool};
pub use turns::{Repair, Turns};

/// A rendered agent step: what every call of it asks. Holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRequest {
    /// Model aliases, tried in order.
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub prompt: String,
    /// Parse the reply as JSON.
    pub json: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Json>,
    /// The offline draft, rendered (the heuristic provider's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<Json>,
    pub max_tokens: u32,
    /// The step's `context`: what memory to retrieve and, once retrieved, what went
    /// into the prompt (kept here so a budget stop resumes with the same context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<PromptContext>,
    /// The step's own sampling settings (they win over the alias's).
    #[serde(default, skip_serializing_if = "Sampling::is_empty")]
    pub sampling: Sampling,
    /// The tools the model may call (the step's `tools`, resolved when rendered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDef>,
    /// The most calls of the model in one attempt's tool loop (`max_turns`).
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
}

fn default_max_turns() -> u32 {
    tools::DEFAULT_MAX_TURNS
}

impl AgentRequest {
    /// The tool offered under a wire name.
    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// What the context retrieved, once it was.
    pub fn used_context(&self) -> Option<&UsedContext> {
        self.context.as_ref().and_then(|c| c.used.as_ref())
    }

    /// Whether the step has a context that was not retrieved yet.
    pub fn needs_retrieval(&self) -> bool {
        self.context.as_ref().is_some_and(|c| c.used.is_none())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// A tool's result (`tool_call_id` says which call's).
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// An assistant turn's tool calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A tool result's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: Role::Assistant,
            ..Message::user(content)
        }
    }
}

/// One call's conversation, independent of the wire format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub json: bool,
    #[serde(default, skip_serializing_if = "Sampling::is_empty")]
    pub sampling: Sampling,
    /// How the JSON reply is asked for (the record says it per provider).
    #[serde(skip)]
    pub form: Form,
    /// The schema sent to the server (with `Form::Schema`).
    #[serde(skip)]
    pub schema: Option<WireSchema>,
    /// The tools offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool>,
    /// The last turn of a tool loop: tools are listed (the conversation refers to
    /// them) but may not be called; the model answers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub final_turn: bool,
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// HTTP attempts it took (retries after 429/5xx included).
    pub http_attempts: u32,
    /// Why the model stopped, as the provider says it (`stop`, `length`,
    /// `end_turn`, `max_tokens`, `tool_use`).
    pub finish: Option<String>,
    /// The tools the model called.
    pub tool_calls: Vec<ToolCall>,
}

/// Why a call failed, as far as what to do next goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Trying again later might succeed (429/5xx storms, timeouts, broken replies).
    Transient,
    /// Trying again will not help (the key, the model, a refused request).
    Fatal,
    /// The server refused the schema form; plain JSON may work.
    SchemaRefused,
    /// The step's deadline passed while the call was in flight.
    Deadline,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Fatal => "fatal",
            FailureKind::SchemaRefused => "schema_refused",
            FailureKind::Deadline => "deadline",
        }
    }

    pub fn parse(s: &str) -> Option<FailureKind> {
        Some(match s {
            "transient" => FailureKind::Transient,
            "fatal" => FailureKind::Fatal,
            "schema_refused" => FailureKind::SchemaRefused,
            "deadline" => FailureKind::Deadline,
            _ => return None,
        })
    }
}

/// A failed call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    pub message: String,
    pub hint: Option<String>,
    pub kind: FailureKind,
    pub http_attempts: u32,
}

impl CallFailure {
    pub fn fatal(message: impl Into<String>, http_attempts: u32) -> Self {
        CallFailure {
            message: message.into(),
            hint: None,
            kind: FailureKind::Fatal,
            http_attempts,
        }
    }

    pub fn retryable(message: impl Into<String>, http_attempts: u32) -> Self {
        CallFailure {
            kind: FailureKind::Transient,
            ..CallFailure::fatal(message, http_attempts)
        }
    }

    /// Whether trying again later might succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Transient | FailureKind::Deadline)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The message with its hint, as a step error shows it.
    pub fn full(&self) -> String {
        match &self.hint {
            Some(h) => format!("{} (hint: {h})", self.message),
            None => self.message.clone(),
        }
    }
}

/// Strip a Markdown code fence around a JSON reply.
fn unfence(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// A reply with every known secret value replaced by its placeholder. A JSON reply
/// (fenced or not) stays JSON: its strings are redacted, not its text (the
/// placeholder's quotes would end a JSON string), and it is written back compact, or
/// indented when it was.
pub fn redact_reply(secrets: &crate::secrets::Secrets, text: &str) -> String {
    let plain = secrets.redact(text);
    if plain == text {
        return plain;
    }
    let inner = unfence(text);
    let Ok(mut v) = serde_json::from_str::<Json>(inner) else {
        return plain;
    };
    secrets.redact_json(&mut v);
    let json = if inner.contains('\n') {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    };
    let Ok(json) = json else { return plain };
    // `inner` is a slice of `text`: keep what is around it (a fence), redacted too.
    let start = inner.as_ptr() as usize - text.as_ptr() as usize;
    let end = start + inner.len();
    format!(
        "{}{json}{}",
        secrets.redact(&text[..start]),
        secrets.redact(&text[end..])
    )
}

/// Parse and validate a reply. `Ok(None)` for text output.
pub fn interpret(req: &AgentRequest, text: &str) -> Result<Option<Json>, String> {
    if !req.json {
        return Ok(None);
    }
    let mut v: Json =
        serde_json::from_str(unfence(text)).map_err(|e| format!("the reply is not JSON ({e})"))?;
    structured::drop_nulls(req.schema.as_ref().unwrap_or(&Json::Null), &mut v);
    let mut problems = Vec::new();
    if let Some(s) = &req.schema
        && let Err(errs) = schema::validate(s, &v)
    {
        problems.extend(errs);
    }
    if let Some(c) = v.get("confidence")
        && !c.as_f64().is_some_and(|c| (0.0..=1.0).contains(&c))
    {
        problems.push(format!("$.confidence: {c} is not a number from 0 to 1"));
    }
    if let Some(r) = v.get("rationale")
        && !r.is_string()
    {
        problems.push("$.rationale: expected string".to_string());
    }
    if problems.is_empty() {
        Ok(Some(v))
    } else {
        Err(format!(
            "the reply does not match the schema: {}",
            problems.join("; ")
        ))
    }
}

/// Usage of the call that produced an output.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

/// An agent step's output: `{text, json?, rationale, confidence, heuristic, model,
/// provider, usage}`. Downstream templates read `steps.ID.output.json.FIELD` (or
/// `.text`).
pub fn output(target: &Target, text: &str, value: Option<Json>, usage: Usage) -> Json {
    let heuristic = target.is_heuristic();
    let rationale = value
        .as_ref()
        .and_then(|v| v.get("rationale"))
        .cloned()
        .unwrap_or(if heuristic {
            json!("offline heuristic draft: filled from the workflow's templates, no LLM was used")
        } else {
            Json::Null
        });
    let confidence = value
        .as_ref()
        .and_then(|v| v.get("confidence"))
        .cloned()
        .unwrap_or(Json::Null);
    let mut out = json!({
        "text": text,
        "rationale": rationale,
        "confidence": confidence,
        "heuristic": heuristic,
        "model": target.alias,
        "provider": target.provider_name(),
        "usage": {
            "tokens_in": usage.tokens_in,
            "tokens_out": usage.tokens_out,
            "cost_usd": usage.cost_usd,
        },
    });
    if let Some(v) = value {
        out["json"] = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: bool) -> AgentRequest {
        AgentRequest {
            models: vec!["m".into()],
            system: Some("Be brief.".into()),
            prompt: "Write.".into(),
            json,
            schema: json.then(|| json!({"type": "object", "required": ["subject"]})),
            offline: None,
            max_tokens: 100,
            context: None,
            sampling: Sampling::default(),
            tools: Vec::new(),
            max_turns: 8,
        }
    }

    #[test]
    fn a_redacted_json_reply_is_still_json() {
        let key = "sk-live-0a1b2c3d4e";
        let secrets = crate::secrets::Secrets::default().with_redacted("LLM_KEY", key);
        let ph = "secret(\"LLM_KEY\")";
        let r = req(true);
        for text in [
            format!("{{\"subject\": \"{key}\"}}"),
            format!("```json\n{{\n  \"subject\": \"key {key}\"\n}}\n```"),
        ] {
            let out = redact_reply(&secrets, &text);
            assert!(!out.contains(key), "{out}");
            let v = interpret(&r, &out).unwrap().unwrap();
            assert!(v["subject"].as_str().unwrap().ends_with(ph), "{out}");
        }
        assert_eq!(
            redact_reply(
                &secrets,
                &format!("```json\n{{\"subject\": \"{key}\"}}\n```")
            ),
            format!(
                "```json\n{{\"subject\":\"{}\"}}\n```",
                ph.replace('"', "\\\"")
            )
        );
        // Prose is redacted as text; a reply without the key is kept as it came.
        assert_eq!(
            redact_reply(&secrets, &format!("Your key is {key}.")),
            format!("Your key is {ph}.")
        );
        let kept = "{ \"subject\" : \"Tea\" }";
        assert_eq!(redact_reply(&secrets, kept), kept);
    }

    /// The conversation of the step's first call (or of `t`'s next one).
    fn first(r: &AgentRequest, t: &Turns) -> Chat {
        let turns::Next::Call(call) = t.next(r, turns::Policy::default()) else {
            panic!("no call")
        };
        chat(r, &call, Form::Schema, &Sampling::default())
    }

    #[test]
    fn json_replies_are_parsed_unfenced_and_validated() {
        let r = req(true);
        assert_eq!(
            interpret(&r, "```json\n{\"subject\": \"s\"}\n```").unwrap(),
            Some(json!({"subject": "s"}))
        );
        assert_eq!(
            interpret(&r, "{\"subject\": 1, \"confidence\": 2}").unwrap_err(),
            "the reply does not match the schema: $.confidence: 2 is not a number from 0 to 1"
        );
        assert!(
            interpret(&r, "{}")
                .unwrap_err()
                .contains("missing required property `subject`")
        );
        assert!(
            interpret(&r, "Sure! Here")
                .unwrap_err()
                .starts_with("the reply is not JSON")
        );
        assert_eq!(interpret(&req(false), "anything").unwrap(), None);
    }

    #[test]
    fn retrieved_memory_goes_before_the_prompt_and_into_the_record() {
        let mut r = req(false);
        let used = UsedContext {
            text: "Relevant notes:\n- (memory 3) Acme likes short emails\n".into(),
            record: json!({"notes": [3], "facts": [], "decisions": []}),
        };
        r.context = Some(PromptContext {
            query: crate::workflow::ContextSpec::default(),
            used: None,
        });
        assert!(r.needs_retrieval());
        // Not retrieved yet: the prompt alone.
        assert_eq!(first(&r, &Turns::default()).messages[0].content, "Write.");
        r.context.as_mut().unwrap().used = Some(used.clone());
        assert!(!r.needs_retrieval());
        let c = first(&r, &Turns::default());
        assert_eq!(
            c.messages[0].content,
            context::with_prompt(&used.text, "Write.")
        );
        assert!(c.messages[0].content.contains("(memory 3) Acme"));
        let target = AgentSettings::default().resolve("default").unwrap();
        let rec = request_record(&target, &c, Some(&used.record), 0);
        assert_eq!(rec["context"], used.record);
        assert!(
            request_record(&target, &c, None, 0)
                .get("context")
                .is_none()
        );
        // The offline provider's prompt draft carries the same section the model reads.
        assert_eq!(
            heuristic::answer(&r).unwrap().0,
            format!("[offline draft] {}", c.messages[0].content)
        );
    }

    #[test]
    fn a_repair_call_carries_the_reply_and_the_error() {
        let r = req(true);
        let turns = Turns {
            repair: Some(Repair {
                response: "{}".into(),
                error: "missing `subject`".into(),
                truncated: false,
            }),
            ..Turns::default()
        };
        let c = first(&r, &turns);
        assert!(
            c.system
                .as_deref()
                .unwrap()
                .starts_with("Be brief.\n\nReply with one JSON object")
        );
        assert_eq!(c.messages.len(), 3);
        assert_eq!(c.messages[1].content, "{}");
        assert!(c.messages[2].content.contains("missing `subject`"));
        assert_eq!((c.form, c.max_tokens), (Form::Schema, 100));
        // A reply cut at max_tokens: the repair call has twice the room.
        let cut = Turns {
            repair: Some(Repair {
                response: "{\"subject\": \"a".into(),
                error: "the reply stopped at max_tokens".into(),
                truncated: true,
            }),
            ..Turns::default()
        };
        let c = first(&r, &cut);
        assert_eq!(c.max_tokens, 200);
        assert_eq!(c.messages.len(), 1, "the cut reply is not shown again");
        assert!(
            c.messages[0]
                .content
                .contains("Your last reply was cut off")
        );
        assert_eq!(
            first(&req(false), &Turns::default()).system.as_deref(),
            Some("Be brief.")
        );
    }
}
