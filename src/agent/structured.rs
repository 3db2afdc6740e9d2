//! How a JSON reply is asked for. The schema goes to the server when it can take it
//! (OpenAI-compatible `response_format: json_schema`, Ollama's `format`, Anthropic's
//! forced tool call), so a grammar or the provider holds the model to it; the prompt
//! states it too. When a server refuses the schema form, the step asks again with
//! the plain JSON form (`json_object`, `format: "json"`, or the prompt alone).
//!
//! The schema sent is the step's, with optional `rationale` and `confidence` added
//! (the prompt invites them; a confidence is one of 0, 0.1, … 1), `default` and `examples` removed (they feed the offline
//! draft), and, when every object lists its properties, made strict: closed objects,
//! every property required, the optional ones nullable. [`drop_nulls`] removes the
//! nulls a strict reply carries for optional properties before it is validated.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use super::config::ProviderKind;

/// How a call asks for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// A text reply.
    #[default]
    Text,
    /// The schema goes to the server.
    Schema,
    /// JSON without a schema (the schema is in the prompt only).
    Json,
}

impl Form {
    /// The word recorded with the call: what the request carried.
    pub fn word(self, kind: ProviderKind) -> &'static str {
        match (self, kind) {
            (Form::Text, _) => "text",
            (Form::Schema, ProviderKind::OpenAi) => "json_schema",
            (Form::Json, ProviderKind::OpenAi) => "json_object",
            (Form::Schema, ProviderKind::Ollama) => "format_schema",
            (Form::Json, ProviderKind::Ollama) => "format_json",
            (Form::Schema, ProviderKind::Anthropic) => "tool",
            (Form::Json, ProviderKind::Anthropic) => "prompt",
        }
    }
}

/// The schema form a request sends, when the step's schema can go to the server (its
/// root is an object).
#[derive(Debug, Clone, PartialEq)]
pub struct WireSchema {
    pub schema: Json,
    pub strict: bool,
}

/// How long a provider's refusal of the schema form is remembered (ms): after
/// that the schema form is tried again (a refused request costs nothing).
pub const REFUSAL_MEMORY_MS: i64 = 7 * 24 * 3600 * 1000;

/// The confidences a reply may give (the prompt asks for a number from 0 to 1).
const CONFIDENCE: [f64; 11] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The name the schema (or the forced tool) goes by.
pub const NAME: &str = "reply";

fn is_object_schema(s: &Json) -> bool {
    s.get("type").and_then(Json::as_str) == Some("object")
        || (s.get("type").is_none() && s.get("properties").is_some())
}

/// What goes to the server for `schema`; `None` when it cannot go (not an object).
pub fn wire(schema: &Json) -> Option<WireSchema> {
    if !is_object_schema(schema) {
        return None;
    }
    let mut s = strip_doc(schema);
    if let Some(Json::Object(props)) = s.get_mut("properties") {
        if !props.contains_key("rationale") {
            props.insert("rationale".into(), json!({"type": "string"}));
        }
        if !props.contains_key("confidence") {
            // A list, not a range: grammars (llama.cpp, Ollama) enforce an `enum`
            // but not `minimum`/`maximum` on numbers, and small models write 75.
            props.insert("confidence".into(), json!({"enum": CONFIDENCE}));
        }
    }
    let strict = strictable(&s);
    if strict {
        make_strict(&mut s);
    }
    Some(WireSchema { schema: s, strict })
}

/// Without `default` and `examples` (offline-draft templates, not for the model).
fn strip_doc(s: &Json) -> Json {
    let Json::Object(m) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "default" | "examples" => {}
            "properties" => {
                let props = v
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), strip_doc(v))).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Json::Object(props));
            }
            "items" => {
                out.insert(k.clone(), strip_doc(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Json::Object(out)
}

/// Whether strict mode can express `s`: every object lists its properties and every
/// array its items.
fn strictable(s: &Json) -> bool {
    let ty = |t: &str| match s.get("type") {
        Some(Json::String(x)) => x == t,
        Some(Json::Array(xs)) => xs.iter().any(|x| x == t),
        None => false,
        _ => false,
    };
    if ty("object") && !s.get("properties").is_some_and(Json::is_object) {
        return false;
    }
    if ty("array") && s.get("items").is_none() {
        return false;
    }
    let props_ok = s
        .get("properties")
        .and_then(Json::as_object)
        .is_none_or(|p| p.values().all(strictable));
    props_ok && s.get("items").is_none_or(strictable)
}

fn make_strict(s: &mut Json) {
    let Json::Object(m) = s else { return };
    let required: Vec<String> = m
        .get("required")
        .and_then(Json::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut all = None;
    if let Some(Json::Object(props)) = m.get_mut("properties") {
        for (k, p) in props.iter_mut() {
            make_strict(p);
            if !required.contains(k) {
                nullable(p);
            }
        }
        all = Some(props.keys().map(|k| Json::String(k.clone())).collect());
    }
    if let Some(all) = all {
        m.insert("required".into(), Json::Array(all));
        m.insert("additionalProperties".into(), Json::Bool(false));
    }
    if let Some(items) = m.get_mut("items") {
        make_strict(items);
    }
}

/// Let `s` also accept null.
fn nullable(s: &mut Json) {
    let Json::Object(m) = s else { return };
    match m.get_mut("type") {
        Some(Json::String(t)) if t != "null" => {
            let t = t.clone();
            m.insert("type".into(), json!([t, "null"]));
        }
        Some(Json::Array(ts)) if !ts.iter().any(|t| t == "null") => ts.push(json!("null")),
        _ => {}
    }
    if let Some(Json::Array(e)) = m.get_mut("enum")
        && !e.contains(&Json::Null)
    {
        e.push(Json::Null);
    }
}

fn allows_null(s: &Json) -> bool {
    match s.get("type") {
        Some(Json::String(t)) => t == "null",
        Some(Json::Array(ts)) => ts.iter().any(|t| t == "null"),
        _ => s
            .get("enum")
            .and_then(Json::as_array)
            .is_none_or(|e| e.contains(&Json::Null)),
    }
}

/// Remove the nulls a strict reply gives optional properties the step's schema does
/// not let be null (and a null `rationale` or `confidence`), so they read as absent.
pub fn drop_nulls(schema: &Json, v: &mut Json) {
    let Json::Object(obj) = v else {
        if let (Json::Array(items), Some(is)) = (v, schema.get("items")) {
            for x in items {
                drop_nulls(is, x);
            }
        }
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let props = schema.get("properties").and_then(Json::as_object);
    obj.retain(|k, x| {
        if !x.is_null() || required.contains(&k.as_str()) {
            return true;
        }
        match props.and_then(|p| p.get(k)) {
            Some(ps) => allows_null(ps),
            None => !matches!(k.as_str(), "rationale" | "confidence"),
        }
    });
    if let Some(props) = props {
        for (k, x) in obj.iter_mut() {
            if let Some(ps) = props.get(k) {
                drop_nulls(ps, x);
            }
        }
    }
}

/// Whether an HTTP error refuses the schema form (not the request as a whole): a 400,
/// 422, 500 (llama.cpp when it cannot turn a schema into a grammar) or 501 whose
/// message names the field that carried it.
pub fn refuses_schema(kind: ProviderKind, status: u16, message: &str) -> bool {
    if !matches!(status, 400 | 422 | 500 | 501) {
        return false;
    }
    let m = message.to_ascii_lowercase();
    let words: &[&str] = match kind {
        ProviderKind::OpenAi => &["response_format", "json_schema", "schema"],
        ProviderKind::Ollama => &["format", "schema"],
        ProviderKind::Anthropic => &["tool", "input_schema"],
    };
    words.iter().any(|w| m.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_schema() -> Json {
        json!({
            "type": "object",
            "required": ["subject"],
            "properties": {
                "subject": {"type": "string", "default": "{{ inputs.x }}"},
                "tone": {"enum": ["warm", "plain"]},
                "tags": {"type": "array", "items": {"type": "string"}, "examples": [["a"]]}
            }
        })
    }

    #[test]
    fn the_wire_schema_is_strict_with_optional_fields_nullable() {
        let w = wire(&step_schema()).unwrap();
        assert!(w.strict);
        assert_eq!(
            w.schema,
            json!({
                "type": "object",
                "required": ["subject", "tone", "tags", "rationale", "confidence"],
                "properties": {
                    "subject": {"type": "string"},
                    "tone": {"enum": ["warm", "plain", null]},
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                    "rationale": {"type": ["string", "null"]},
                    "confidence": {"enum": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, null]}
                },
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn open_objects_go_unstrict_and_non_objects_stay_in_the_prompt() {
        let w =
            wire(&json!({"type": "object", "properties": {"meta": {"type": "object"}}})).unwrap();
        assert!(!w.strict);
        assert!(w.schema.get("additionalProperties").is_none());
        assert_eq!(
            w.schema["properties"]["rationale"],
            json!({"type": "string"})
        );
        assert_eq!(
            wire(&json!({"type": "array", "items": {"type": "string"}})),
            None
        );
        assert_eq!(wire(&json!({"type": "string"})), None);
    }

    #[test]
    fn nulls_of_optional_fields_read_as_absent() {
        let mut v = json!({"subject": "Hi", "tone": null, "tags": null, "rationale": null, "confidence": null});
        drop_nulls(&step_schema(), &mut v);
        assert_eq!(v, json!({"subject": "Hi"}));
        // A required field's null stays (and fails validation).
        let mut v = json!({"subject": null});
        drop_nulls(&step_schema(), &mut v);
        assert_eq!(v, json!({"subject": null}));
        // Nested objects too.
        let s = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}}});
        let mut v = json!({"a": {"b": null}});
        drop_nulls(&s, &mut v);
        assert_eq!(v, json!({"a": {}}));
    }

    #[test]
    fn a_refusal_names_the_schema_field() {
        assert!(refuses_schema(
            ProviderKind::OpenAi,
            400,
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."
        ));
        assert!(refuses_schema(
            ProviderKind::Anthropic,
            400,
            "tools.0.input_schema: JSON schema is invalid"
        ));
        assert!(!refuses_schema(
            ProviderKind::OpenAi,
            400,
            "max_tokens is too large"
        ));
        assert!(!refuses_schema(
            ProviderKind::OpenAi,
            503,
            "response_format"
        ));
        assert!(refuses_schema(
            ProviderKind::OpenAi,
            500,
            "JSON schema conversion failed"
        ));
        assert_eq!(Form::Schema.word(ProviderKind::Ollama), "format_schema");
    }
}
