//! The offline `heuristic` provider: no network, no cost. It answers with the step's
//! `offline` draft (rendered by the driver), else a value built from the schema's
//! defaults and examples, else the prompt itself, and its output is marked
//! `"heuristic": true` so the inbox shows no LLM made it.

use serde_json::Value as Json;

use super::{AgentRequest, interpret, schema};

/// The draft when the step has no `offline` field: from the schema, or nothing.
/// String leaves may be templates; the driver renders them.
pub fn fallback_draft(json: bool, schema_doc: Option<&Json>) -> Option<Json> {
    match (json, schema_doc) {
        (true, Some(s)) => Some(schema::example(s, "draft")),
        _ => None,
    }
}

/// The offline reply's text: the `offline` value, `{}` for JSON, else the prompt,
/// after the memory its `context` retrieved (the same section a model reads), so an
/// offline draft of a step with context still carries what memory said.
pub fn draft_text(req: &AgentRequest) -> String {
    match &req.offline {
        Some(Json::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None if req.json => "{}".to_string(),
        None => {
            let memory = req.used_context().map(|c| c.text.as_str()).unwrap_or("");
            format!(
                "[offline draft] {}",
                super::context::with_prompt(memory, &req.prompt)
            )
        }
    }
}

/// Why an offline draft is refused: it cannot get better by asking again.
pub fn misfit(e: &str) -> String {
    format!(
        "the offline draft does not fit the step's output ({e}); fix the step's `offline` field or the schema's defaults"
    )
}

/// Answer a request offline: the reply text and, for JSON output, its value.
pub fn answer(req: &AgentRequest) -> Result<(String, Option<Json>), String> {
    let text = draft_text(req);
    let value = interpret(req, &text).map_err(|e| misfit(&e))?;
    Ok((text, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(json: bool, offline: Option<Json>) -> AgentRequest {
        AgentRequest {
            models: vec!["default".into()],
            system: None,
            prompt: "Write about tea.".into(),
            json,
            schema: json.then(|| json!({"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}})),
            offline,
            max_tokens: 10,
            context: None,
            sampling: Default::default(),
            tools: Vec::new(),
            max_turns: 8,
        }
    }

    #[test]
    fn answers_from_offline_or_the_prompt() {
        let (t, v) = answer(&req(true, Some(json!({"subject": "Tea"})))).unwrap();
        assert_eq!(v, Some(json!({"subject": "Tea"})));
        assert_eq!(t, r#"{"subject":"Tea"}"#);
        assert_eq!(
            answer(&req(false, None)).unwrap().0,
            "[offline draft] Write about tea."
        );
        assert_eq!(
            answer(&req(false, Some(json!("Hi")))).unwrap(),
            ("Hi".into(), None)
        );
        let e = answer(&req(true, Some(json!({"nope": 1})))).unwrap_err();
        assert!(e.contains("missing required property `subject`"), "{e}");
    }

    #[test]
    fn a_prompt_draft_carries_the_memory_its_context_retrieved() {
        let mut r = req(false, None);
        r.context = Some(crate::agent::PromptContext {
            query: Default::default(),
            used: Some(crate::agent::UsedContext {
                text: "- note 3: Acme prefers short emails".into(),
                record: json!({}),
            }),
        });
        let text = answer(&r).unwrap().0;
        assert!(
            text.starts_with("[offline draft] Context from memory"),
            "{text}"
        );
        assert!(
            text.contains(
                "<memory>\n- note 3: Acme prefers short emails\n</memory>\n\nWrite about tea."
            ),
            "{text}"
        );
        // Nothing retrieved: the prompt alone, as before.
        r.context.as_mut().unwrap().used.as_mut().unwrap().text = String::new();
        assert_eq!(answer(&r).unwrap().0, "[offline draft] Write about tea.");
    }

    #[test]
    fn schema_defaults_make_a_draft() {
        let r = req(true, None);
        let d = fallback_draft(true, r.schema.as_ref()).unwrap();
        assert_eq!(d, json!({"subject": "(subject: offline draft)"}));
        assert_eq!(fallback_draft(false, None), None);
    }
}
