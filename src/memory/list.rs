//! What a `memory` step lists: notes (by tag), outcomes of past runs (by workflow)
//! or decisions, newest first, as the step's output `{find, count, items, text}` that
//! later templates and agents read. Read-only; the SQL is in `journal::memory_search`.

use serde_json::{Value as Json, json};

use crate::error::Result;
use crate::journal::Journal;
use crate::workflow::{MemoryFind, MemorySpec};

/// A `memory` step's query, its templates rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub find: MemoryFind,
    pub tag: Option<String>,
    pub search: Option<String>,
    pub workflow: Option<String>,
    pub limit: usize,
}

/// The step's output: `items` (newest first), their `count`, and `text`, one line
/// per item (`- …`), ready for a prompt or an offline draft.
///
/// Items: `{id, kind, text, tags, run_id, workflow, step_id, created_at}`, plus for
/// an outcome the run's `values` (every outcome key of the run) and its `inputs`,
/// and for a decision the `decision`. Outcomes are listed once per run.
pub fn list(journal: &Journal, q: &ListQuery) -> Result<Json> {
    let fts = match q.search.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => match super::fts_query(s) {
            Some(f) => Some(f),
            // Words were asked for, none is searchable: nothing matches.
            None => return Ok(output(q.find, Vec::new())),
        },
        _ => None,
    };
    let per_run = q.find == MemoryFind::Outcomes;
    // Several outcome documents of one run make one item: read more, keep the newest.
    let fetch = if per_run { q.limit * 4 } else { q.limit };
    let docs = journal.list_docs(
        q.find.doc_kind(),
        q.tag.as_deref(),
        q.workflow.as_deref(),
        fts.as_deref(),
        fetch,
    )?;
    let mut seen_runs = Vec::new();
    let mut items = Vec::with_capacity(docs.len().min(q.limit));
    for d in docs {
        if items.len() == q.limit {
            break;
        }
        let mut item = json!({
            "id": d.id,
            "kind": d.kind,
            "text": d.text,
            "tags": d.tags,
            "run_id": d.run_id,
            "workflow": d.workflow,
            "step_id": d.step_id,
            "created_at": crate::clock::format_ms(d.created_at),
        });
        match (q.find, d.run_id) {
            (MemoryFind::Outcomes, Some(run)) => {
                if seen_runs.contains(&run) {
                    continue;
                }
                seen_runs.push(run);
                let values: serde_json::Map<String, Json> = journal
                    .outcomes(run)?
                    .into_iter()
                    .map(|o| (o.key, o.value))
                    .collect();
                let values = Json::Object(values);
                let inputs = journal.run(run).map(|r| r.inputs).unwrap_or(Json::Null);
                item["text"] = Json::String(format!(
                    "{} run {run} ({}): {}",
                    d.workflow.as_deref().unwrap_or("a"),
                    inputs_text(&inputs),
                    super::outcome_pairs(&values)
                ));
                item["values"] = values;
                item["inputs"] = inputs;
            }
            (MemoryFind::Decisions, _) => {
                item["decision"] = json!(d.decision);
            }
            _ => {}
        }
        items.push(item);
    }
    Ok(output(q.find, items))
}

fn output(find: MemoryFind, items: Vec<Json>) -> Json {
    let text = items
        .iter()
        .map(|i| format!("- {}", i["text"].as_str().unwrap_or_default().trim()))
        .collect::<Vec<_>>()
        .join("\n");
    json!({ "find": find.name(), "count": items.len(), "items": items, "text": text })
}

/// `offer=Office hours, price=49`: a run's inputs, short.
fn inputs_text(inputs: &Json) -> String {
    match inputs {
        Json::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "no inputs".into(),
    }
}

/// What a `memory` step reads, for `aios plan` (templates shown as written).
pub fn describe(m: &MemorySpec) -> String {
    let mut s = format!("reads memory: up to {} {}", m.limit, m.find.name());
    if let Some(t) = &m.tag {
        s.push_str(&format!(" tagged `{t}`"));
    }
    if let Some(w) = &m.workflow {
        s.push_str(&format!(" of `{w}` runs"));
    }
    if let Some(q) = &m.search {
        s.push_str(&format!(" matching `{q}`"));
    }
    s.push_str(", newest first");
    s
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::journal::{Event, NewNote, OpenOptions, StepDecl};

    fn journal(dir: &tempfile::TempDir) -> Journal {
        Journal::open(
            &dir.path().join("aios.db"),
            Clock::System,
            OpenOptions::default(),
        )
        .unwrap()
    }

    fn q(find: MemoryFind) -> ListQuery {
        ListQuery {
            find,
            tag: None,
            search: None,
            workflow: None,
            limit: 10,
        }
    }

    fn texts(out: &Json) -> Vec<&str> {
        out["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["text"].as_str().unwrap())
            .collect()
    }

    fn run_with_outcomes(j: &mut Journal, workflow: &str, inputs: Json, values: &[Json]) -> i64 {
        let n = j.runs(None, 1000).unwrap().len();
        let r = j
            .create_run(
                &format!("name = \"{workflow}\""),
                Event::RunCreated {
                    dry: None,
                    uid: format!("u{n}"),
                    workflow: workflow.into(),
                    path: None,
                    dir: "/tmp".into(),
                    source_hash: "h".into(),
                    inputs,
                    steps: vec![StepDecl {
                        id: "s".into(),
                        kind: "set".into(),
                    }],
                },
            )
            .unwrap();
        for v in values {
            j.commit(
                r,
                &[Event::OutcomeRecorded {
                    step: None,
                    values: v.clone(),
                }],
            )
            .unwrap();
        }
        r
    }

    #[test]
    fn notes_by_tag_newest_first_limited_and_searched() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(&dir);
        let note = |text: &str, tags: &[&str]| NewNote {
            text: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            source: None,
        };
        j.add_notes(&[
            note("Pricing experiments", &["idea"]),
            note("Not an idea", &["ideas", "other"]),
            note("Acme's churn story", &["story", "idea"]),
            note("A third idea on pricing pages", &["idea"]),
        ])
        .unwrap();
        let out = list(
            &j,
            &ListQuery {
                tag: Some("idea".into()),
                ..q(MemoryFind::Notes)
            },
        )
        .unwrap();
        // The tag matches exactly (`ideas` is another tag), newest first.
        assert_eq!(
            texts(&out),
            [
                "A third idea on pricing pages",
                "Acme's churn story",
                "Pricing experiments"
            ]
        );
        assert_eq!(out["count"], 3);
        assert_eq!(out["find"], "notes");
        assert_eq!(
            out["text"],
            "- A third idea on pricing pages\n- Acme's churn story\n- Pricing experiments"
        );
        assert_eq!(out["items"][1]["tags"], json!(["story", "idea"]));
        let two = list(
            &j,
            &ListQuery {
                tag: Some("idea".into()),
                limit: 2,
                ..q(MemoryFind::Notes)
            },
        )
        .unwrap();
        assert_eq!(two["count"], 2);
        let priced = list(
            &j,
            &ListQuery {
                tag: Some("idea".into()),
                search: Some("pricing".into()),
                ..q(MemoryFind::Notes)
            },
        )
        .unwrap();
        assert_eq!(
            texts(&priced),
            ["A third idea on pricing pages", "Pricing experiments"]
        );
        // No searchable word: nothing matches (not everything).
        let none = list(
            &j,
            &ListQuery {
                search: Some("?!".into()),
                ..q(MemoryFind::Notes)
            },
        )
        .unwrap();
        assert_eq!(none["count"], 0);
        assert_eq!(none["text"], "");
        // Without a tag: every note.
        assert_eq!(list(&j, &q(MemoryFind::Notes)).unwrap()["count"], 4);
    }

    #[test]
    fn outcomes_once_per_run_of_the_workflow_with_values_and_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(&dir);
        let a = run_with_outcomes(
            &mut j,
            "launch",
            json!({"offer": "Office hours"}),
            &[json!({"open_rate": 0.41}), json!({"replies": 3})],
        );
        run_with_outcomes(&mut j, "report", json!({}), &[json!({"mrr": 10})]);
        let b = run_with_outcomes(
            &mut j,
            "launch",
            json!({"offer": "Audit"}),
            &[json!({"open_rate": 0.12})],
        );
        let out = list(
            &j,
            &ListQuery {
                workflow: Some("launch".into()),
                ..q(MemoryFind::Outcomes)
            },
        )
        .unwrap();
        assert_eq!(
            texts(&out),
            [
                format!("launch run {b} (offer=Audit): open_rate=0.12"),
                format!("launch run {a} (offer=Office hours): open_rate=0.41 replies=3"),
            ]
        );
        assert_eq!(
            out["items"][1]["values"],
            json!({"open_rate": 0.41, "replies": 3})
        );
        assert_eq!(out["items"][1]["inputs"], json!({"offer": "Office hours"}));
        assert_eq!(out["items"][1]["run_id"], a);
        // Every workflow's, and the limit counts runs.
        let all = list(
            &j,
            &ListQuery {
                limit: 2,
                ..q(MemoryFind::Outcomes)
            },
        )
        .unwrap();
        assert_eq!(all["count"], 2);
        assert_eq!(all["items"][1]["workflow"], "report");
    }

    #[test]
    fn describes_what_it_reads() {
        let spec = MemorySpec {
            find: MemoryFind::Outcomes,
            tag: None,
            search: Some("{{ inputs.q }}".into()),
            workflow: Some("launch".into()),
            limit: 5,
        };
        assert_eq!(
            describe(&spec),
            "reads memory: up to 5 outcomes of `launch` runs matching `{{ inputs.q }}`, newest first"
        );
    }
}
