//! Memory in prompts: an agent step's `context` table, what it retrieved, how that
//! goes into the conversation, and the fact versions its proposals record.
//!
//! The driver renders the table, asks `memory::retrieve` (with a query vector when
//! `[embeddings]` is configured) and stores the answer here as [`UsedContext`]: the
//! prompt section and an exact record of the notes, fact versions and decisions it
//! holds. That record goes into the journaled `llm_call` request and the step's
//! output (`output.context`), so resume and replay read it from the journal and
//! never retrieve again. Proposals built from the step carry its fact versions as
//! `evidence.versions` (see [`versions`]), which the inbox's staleness check compares.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::journal::VersionRef;
use crate::memory::Retrieved;
use crate::workflow::ContextSpec;

/// A step's rendered `context` table and, once retrieved, what it put into the prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptContext {
    /// What to retrieve (templates rendered).
    pub query: ContextSpec,
    /// What was retrieved; `None` until the driver has retrieved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<UsedContext>,
}

/// What a step's context retrieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsedContext {
    /// The prompt section (`memory::render_context`); empty when nothing was found.
    pub text: String,
    /// Exactly what was used: `{notes: [id], facts: [{entity, key, version}],
    /// decisions: [id], missing_entities: [entity], search: "full-text" | "hybrid"}`,
    /// plus `warning` when the query could not be embedded.
    pub record: Json,
}

impl UsedContext {
    /// The prompt section and record of a retrieval. `warning`: why vectors did not
    /// take part although embeddings are configured.
    pub fn new(r: &Retrieved, warning: Option<String>) -> UsedContext {
        let mut record = json!({
            "notes": r.notes.iter().map(|h| h.doc.id).collect::<Vec<_>>(),
            "facts": r.facts.iter().map(|f| json!({
                "entity": f.entity, "key": f.key, "version": f.version,
            })).collect::<Vec<_>>(),
            "decisions": r.decisions.iter().map(|d| d.id).collect::<Vec<_>>(),
            "missing_entities": r.missing_entities,
            "search": if r.hybrid { "hybrid" } else { "full-text" },
        });
        if let Some(w) = warning {
            record["warning"] = Json::String(w);
        }
        UsedContext {
            text: crate::memory::render_context(r),
            record,
        }
    }
}

/// Where the context goes in the conversation: before the step's prompt, fenced so
/// the model can tell memory from the task.
pub fn with_prompt(context: &str, prompt: &str) -> String {
    if context.trim().is_empty() {
        return prompt.to_string();
    }
    format!(
        "Context from memory (facts, notes and the operator's earlier decisions; use what helps):\n<memory>\n{}\n</memory>\n\n{prompt}",
        context.trim_end()
    )
}

/// The fact versions recorded by agent outputs' `context` (each `output.context`
/// of the steps a proposal was built from), as a proposal's `evidence.versions`:
/// `{kind: "fact", key: "entity/key", version}`, each key once, in the order met.
pub fn versions<'a>(records: impl IntoIterator<Item = &'a Json>) -> Vec<VersionRef> {
    let mut out: Vec<VersionRef> = Vec::new();
    for r in records {
        let Some(facts) = r["facts"].as_array() else {
            continue;
        };
        for f in facts {
            let (Some(entity), Some(key), Some(version)) = (
                f["entity"].as_str(),
                f["key"].as_str(),
                f["version"].as_i64(),
            ) else {
                continue;
            };
            let v = VersionRef {
                kind: "fact".into(),
                key: format!("{entity}/{key}"),
                version: version.into(),
            };
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{DocRecord, FactRecord};
    use crate::memory::Hit;

    fn fact(entity: &str, key: &str, version: i64) -> FactRecord {
        FactRecord {
            entity: entity.into(),
            key: key.into(),
            version,
            value: json!("v"),
            source: "manual".into(),
            run_id: None,
            step_id: None,
            proposal_id: None,
            note: None,
            set_by: None,
            at: 0,
            unset: false,
        }
    }

    fn doc(id: i64, kind: &str, text: &str) -> DocRecord {
        DocRecord {
            id,
            kind: kind.into(),
            text: text.into(),
            tags: Vec::new(),
            source: None,
            run_id: None,
            step_id: None,
            workflow: None,
            proposal_id: None,
            decision: None,
            created_at: 0,
        }
    }

    fn retrieved() -> Retrieved {
        Retrieved {
            notes: vec![Hit {
                doc: doc(7, "note", "Acme likes short emails"),
                score: 1.0,
                fts_rank: Some(1),
                vector_rank: None,
            }],
            facts: vec![
                fact("customer:acme", "plan", 3),
                fact("customer:acme", "seats", 1),
            ],
            decisions: vec![doc(9, "decision", "reject email: x\nreason: too long")],
            missing_entities: vec!["customer:nobody".into()],
            hybrid: false,
        }
    }

    #[test]
    fn the_record_names_every_note_fact_version_and_decision() {
        let r = retrieved();
        let used = UsedContext::new(&r, None);
        assert_eq!(
            used.record,
            json!({
                "notes": [7],
                "facts": [
                    {"entity": "customer:acme", "key": "plan", "version": 3},
                    {"entity": "customer:acme", "key": "seats", "version": 1},
                ],
                "decisions": [9],
                "missing_entities": ["customer:nobody"],
                "search": "full-text",
            })
        );
        assert_eq!(used.text, crate::memory::render_context(&r));
        let warned = UsedContext::new(&r, Some("endpoint down".into()));
        assert_eq!(warned.record["warning"], "endpoint down");
    }

    #[test]
    fn evidence_versions_have_the_shape_the_staleness_check_compares() {
        let r = retrieved();
        let a = UsedContext::new(&r, None).record;
        // The same fact from two agent steps is recorded once; records without
        // facts (or without context at all) add nothing.
        let b = json!({"facts": [
            {"entity": "customer:acme", "key": "plan", "version": 3},
            {"entity": "company", "key": "name", "version": 2},
        ]});
        let got = versions([&a, &b, &Json::Null, &json!({"facts": []})]);
        assert_eq!(
            serde_json::to_value(got).unwrap(),
            json!([
                json!({"kind": "fact", "key": "customer:acme/plan", "version": 3}),
                json!({"kind": "fact", "key": "customer:acme/seats", "version": 1}),
                json!({"kind": "fact", "key": "company/name", "version": 2}),
            ])
        );
        // Exactly what memory says a proposal built from this context records.
        assert_eq!(
            serde_json::to_value(versions([&a])).unwrap(),
            Json::Array(r.versions())
        );
    }

    #[test]
    fn the_context_is_fenced_before_the_prompt() {
        assert_eq!(with_prompt("", "Write."), "Write.");
        let p = with_prompt("Known facts:\n- a b = 1\n", "Write.");
        assert!(p.starts_with("Context from memory"), "{p}");
        assert!(
            p.ends_with("<memory>\nKnown facts:\n- a b = 1\n</memory>\n\nWrite."),
            "{p}"
        );
    }
}
