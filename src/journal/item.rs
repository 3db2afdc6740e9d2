//! The typed contents of inbox items as the journal stores them: a proposal's
//! [`Evidence`] (what it was built from) and an approval item's [`Gate`]. The field
//! names and shapes here are the stored JSON format: items written by earlier builds
//! read the same, and a value this build cannot read is dropped alone (never the
//! whole item). Keys a newer build adds to evidence are kept and shown as they are.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value as Json};

use super::VersionRef;

/// What a proposal was built from, recorded with it when it is created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The outputs of the steps the proposing step needs, by step id (an output over
    /// 16 KiB is recorded as `{truncated, bytes}`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub upstream: Option<Map<String, Json>>,
    /// The least confident upstream agent's confidence (0..1): the item's own.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub confidence: Option<f64>,
    /// That agent's rationale.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub rationale: Option<String>,
    /// The agent steps it was built from (through its needs).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "each"
    )]
    pub agents: Vec<Drafter>,
    /// Versioned things it was built from (its workflow file, facts): the inbox
    /// compares them with the current ones (see [`super::StaleRef`]).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "each"
    )]
    pub versions: Vec<VersionRef>,
    /// Why the item exists (an interrupted step).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub reason: Option<String>,
    /// What the operator may do (interrupted steps, budget stops).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "each"
    )]
    pub choices: Vec<String>,
    /// What an autonomy policy said about the item: that it decides it, or why it
    /// did not (the trust layer).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub policy: Option<PolicyNote>,
    /// Keys this build does not know (written by a newer one).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// An autonomy policy's word on an item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyNote {
    /// The rule's name (decisions are journaled as `policy:NAME`).
    pub rule: String,
    /// `auto` (decided at once), `notify` (decided when its quiet period passes
    /// unless the operator decides first) or `asks` (it did not decide: `reason`).
    pub mode: String,
    /// The rule and the statistics that allowed it, or why it did not decide.
    pub reason: String,
}

/// An agent step a proposal was built from, with what it said about its draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Drafter {
    /// The agent step's id.
    #[serde(default, deserialize_with = "lenient")]
    pub step: String,
    /// The model alias and provider that answered.
    #[serde(default, deserialize_with = "lenient")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub provider: Option<String>,
    /// The offline heuristic drafted it, not an LLM.
    #[serde(default, deserialize_with = "lenient")]
    pub heuristic: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub rationale: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub confidence: Option<f64>,
    /// The memory its prompt used (`{notes, facts, decisions, …}`, as recorded on
    /// the agent step's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Json>,
}

impl Evidence {
    /// The evidence stored with an item (anything unreadable reads as empty).
    pub fn of(stored: &Json) -> Evidence {
        serde_json::from_value(stored.clone()).unwrap_or_default()
    }

    /// As stored in the journal.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Whether the offline heuristic (no LLM) drafted any of it.
    pub fn offline_draft(&self) -> bool {
        self.agents.iter().any(Drafter::is_heuristic)
    }

    /// Evidence beyond what front ends draw as their own sections (upstream, agents,
    /// rationale, confidence, versions, choices): the reason and unknown keys, as
    /// `(key, text)`.
    pub fn context(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(r) = &self.reason {
            out.push(("reason".to_string(), r.clone()));
        }
        for (k, v) in &self.other {
            let text = match v {
                Json::String(s) => s.clone(),
                v => v.to_string(),
            };
            out.push((k.clone(), text));
        }
        out
    }
}

impl Drafter {
    pub fn is_heuristic(&self) -> bool {
        self.heuristic == Some(true)
    }

    /// Who drafted it: `MODEL via PROVIDER`, or that no LLM did.
    pub fn who(&self) -> String {
        if self.is_heuristic() {
            "offline heuristic draft, NOT an LLM".to_string()
        } else {
            format!(
                "{} via {}",
                self.model.as_deref().unwrap_or("?"),
                self.provider.as_deref().unwrap_or("?")
            )
        }
    }
}

/// An approval item's action: the rendered gate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    #[serde(default, deserialize_with = "lenient")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient")]
    pub body: Option<String>,
    /// What the approver fills in.
    #[serde(default, deserialize_with = "each")]
    pub fields: Vec<GateField>,
}

/// A typed field of a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateField {
    pub name: String,
    /// `string`, `integer`, … (see [`crate::workflow::InputType`]).
    #[serde(rename = "type", default = "string_type")]
    pub ty: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Json>,
    #[serde(default, deserialize_with = "lenient")]
    pub description: Option<String>,
}

fn string_type() -> String {
    "string".into()
}

fn yes() -> bool {
    true
}

impl Gate {
    /// The gate stored with an approval item.
    pub fn of(stored: &Json) -> Gate {
        serde_json::from_value(stored.clone()).unwrap_or_default()
    }

    /// As stored in the journal.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Whether some field has to be answered (required, with no default).
    pub fn needs_answers(&self) -> bool {
        self.fields.iter().any(GateField::must_answer)
    }
}

impl GateField {
    /// Required and without a default.
    pub fn must_answer(&self) -> bool {
        self.required && self.default.is_none()
    }

    /// `name (type, required) default D: description`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} ({}{})",
            self.name,
            self.ty,
            if self.must_answer() { ", required" } else { "" }
        );
        if let Some(d) = &self.default {
            s.push_str(&format!(" default {d}"));
        }
        if let Some(d) = &self.description {
            s.push_str(&format!(": {d}"));
        }
        s
    }

    /// `name=default`: a line the approver edits.
    pub fn answer_line(&self) -> String {
        match &self.default {
            None => format!("{}=", self.name),
            Some(Json::String(s)) => format!("{}={s}", self.name),
            Some(v) => format!("{}={v}", self.name),
        }
    }
}

/// A budget stop's action, read for people (the stored action also carries the
/// engine's own state: the request and the job, which this ignores).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BudgetStop {
    /// Which cap it would pass (`run`, `day`, `month`, …).
    #[serde(default, deserialize_with = "lenient")]
    pub cap: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub limit_usd: f64,
    #[serde(default, deserialize_with = "lenient")]
    pub spent_usd: f64,
    /// What the call would cost, about.
    #[serde(default, deserialize_with = "lenient")]
    pub estimate_usd: f64,
    /// The model alias it would call, and its provider.
    #[serde(default, deserialize_with = "lenient")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub provider: Option<String>,
    /// The step's next model, which `--switch` uses.
    #[serde(default, deserialize_with = "lenient")]
    pub next_model: Option<String>,
}

impl BudgetStop {
    /// What a budget stop is, in one sentence.
    pub const HEADLINE: &'static str = "An LLM call was not made: it would pass a spending cap.";

    /// The budget stop stored with a budget item.
    pub fn of(stored: &Json) -> BudgetStop {
        serde_json::from_value(stored.clone()).unwrap_or_default()
    }

    /// `(label, value)` lines: the model, the cap, what was spent, the call's cost.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let usd = crate::agent::budget::usd;
        vec![
            (
                "model",
                format!(
                    "`{}` (provider {})",
                    self.model.as_deref().unwrap_or("?"),
                    self.provider.as_deref().unwrap_or("?")
                ),
            ),
            (
                "cap",
                format!(
                    "{} ({})",
                    self.cap.as_deref().unwrap_or("?"),
                    usd(self.limit_usd)
                ),
            ),
            ("spent", usd(self.spent_usd)),
            ("this call", format!("about {}", usd(self.estimate_usd))),
        ]
    }
}

/// A rescue item's action, read for people: what every model of an agent step
/// replied and why each reply failed, what the operator's reply must be, and the
/// offline draft (the stored action also carries the engine's request).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Rescue {
    /// Why the step stopped: every model's error.
    #[serde(default, deserialize_with = "lenient")]
    pub error: String,
    /// The replies of the failed attempt, in order.
    #[serde(default, deserialize_with = "each")]
    pub replies: Vec<RescueReply>,
    /// The step's offline draft, when one fits its output (a string for text steps).
    #[serde(default, deserialize_with = "lenient")]
    pub offline: Option<Json>,
    /// What the reply must be.
    #[serde(default, deserialize_with = "lenient")]
    pub request: RescueRequest,
}

/// One reply of a model to rescue from.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RescueReply {
    /// The LLM call's id (`aios llm log`).
    #[serde(default, deserialize_with = "lenient")]
    pub call: i64,
    #[serde(default, deserialize_with = "lenient")]
    pub model: String,
    #[serde(default, deserialize_with = "lenient")]
    pub provider: String,
    #[serde(default, deserialize_with = "lenient")]
    pub response: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub finish_reason: Option<String>,
}

/// The part of the step's request that says what its reply must be.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RescueRequest {
    /// A JSON reply (else text).
    #[serde(default, deserialize_with = "lenient")]
    pub json: bool,
    #[serde(default, deserialize_with = "lenient")]
    pub schema: Option<Json>,
}

impl Rescue {
    /// What a rescue is, in one sentence.
    pub const HEADLINE: &'static str =
        "Every model of this agent step failed; its run waits for your answer.";

    /// The rescue stored with a rescue item.
    pub fn of(stored: &Json) -> Rescue {
        serde_json::from_value(stored.clone()).unwrap_or_default()
    }

    /// What the operator's reply must be, in a few words.
    pub fn expects(&self) -> &'static str {
        match (self.request.json, &self.request.schema) {
            (true, Some(_)) => "your reply must match this schema",
            (true, None) => "your reply must be one JSON object",
            (false, _) => "your reply is the step's text",
        }
    }

    /// The offline draft as shown (indented JSON, or the text).
    pub fn offline_text(&self) -> Option<String> {
        match &self.offline {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(v) => Some(serde_json::to_string_pretty(v).unwrap_or_default()),
        }
    }

    /// The text a reply is best started from: the last reply (indented when it is a
    /// JSON object), else the offline draft, else `{}`.
    pub fn draft(&self) -> String {
        let last = self
            .replies
            .iter()
            .rev()
            .find_map(|r| r.response.as_deref());
        match last {
            Some(t) => match serde_json::from_str::<Json>(t.trim()) {
                Ok(v) if v.is_object() => {
                    serde_json::to_string_pretty(&v).unwrap_or_else(|_| t.to_string())
                }
                _ => t.to_string(),
            },
            None => self.offline_text().unwrap_or_else(|| "{}".into()),
        }
    }
}

impl RescueReply {
    /// `call N · `MODEL` via PROVIDER · FINISH`.
    pub fn headline(&self) -> String {
        format!(
            "call {} · `{}` via {}{}",
            self.call,
            self.model,
            self.provider,
            match &self.finish_reason {
                Some(f) => format!(" · {f}"),
                None => String::new(),
            }
        )
    }
}

/// A value of the wrong shape reads as the default (and drops only itself).
pub(super) fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> Result<T, D::Error> {
    let v = Json::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// A list whose unreadable entries are dropped one by one.
pub(super) fn each<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Evidence of an action item exactly as main (before this type) wrote it, built
    /// from two agents (one offline), with its workflow file and a fact version.
    const ACTION_EVIDENCE: &str = r#"{"upstream":{"brief":{"headline":"Office hours"},"big":{"truncated":true,"bytes":20000}},"confidence":0.3,"rationale":"offline draft from the brief","agents":[{"step":"angle","model":"fast","provider":"local","heuristic":false,"rationale":"founders want time back","confidence":0.8,"context":{"notes":[1],"facts":[{"entity":"customer:acme","key":"plan","version":2}],"decisions":[],"missing_entities":[],"search":"hybrid"}},{"step":"copy","model":"heuristic","provider":"heuristic","heuristic":true,"rationale":"offline draft from the brief","confidence":0.3}],"versions":[{"kind":"workflow_file","key":"/w/launch.toml","version":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},{"kind":"fact","key":"customer:acme/plan","version":2}]}"#;

    #[test]
    fn evidence_as_written_before_reads_and_writes_back_the_same() {
        let stored: Json = serde_json::from_str(ACTION_EVIDENCE).unwrap();
        let ev = Evidence::of(&stored);
        assert_eq!(ev.upstream.as_ref().unwrap().len(), 2);
        assert_eq!(ev.confidence, Some(0.3));
        assert_eq!(ev.agents.len(), 2);
        assert_eq!(ev.agents[0].who(), "fast via local");
        assert_eq!(ev.agents[1].who(), "offline heuristic draft, NOT an LLM");
        assert!(ev.offline_draft());
        assert_eq!(ev.versions.len(), 2);
        assert_eq!(ev.versions[1].version.to_string(), "2");
        assert!(ev.context().is_empty());
        // Written back: the same document, key for key and in the same order.
        assert_eq!(serde_json::to_string(&ev).unwrap(), ACTION_EVIDENCE);
    }

    #[test]
    fn attention_budget_and_notice_evidence_read() {
        let attention = json!({
            "reason": "the process running this step stopped before recording its result",
            "choices": ["approve: run it again", "reject: fail the step"],
        });
        let ev = Evidence::of(&attention);
        assert_eq!(ev.choices.len(), 2);
        assert_eq!(
            ev.context(),
            [(
                "reason".to_string(),
                attention["reason"].as_str().unwrap().to_string()
            )]
        );
        assert_eq!(ev.to_json(), attention);
        assert_eq!(Evidence::of(&json!({})), Evidence::default());
        assert_eq!(Evidence::of(&Json::Null), Evidence::default());
    }

    #[test]
    fn a_bad_value_drops_alone_and_unknown_keys_are_kept() {
        let ev = Evidence::of(&json!({
            "confidence": "high",
            "agents": [{"step": "a", "confidence": "x", "model": "m"}, 7],
            "versions": [{"kind": "fact"}, {"kind": "fact", "key": "e/k", "version": 1}],
            "source": "newer build",
        }));
        assert_eq!(ev.confidence, None);
        assert_eq!(ev.agents.len(), 1);
        assert_eq!(ev.agents[0].model.as_deref(), Some("m"));
        assert_eq!(ev.versions.len(), 1);
        assert_eq!(
            ev.context(),
            [("source".to_string(), "newer build".to_string())]
        );
    }

    #[test]
    fn a_gate_as_written_before_reads_and_writes_back_the_same() {
        let stored = r#"{"title":"Launch?","body":null,"fields":[{"name":"date","type":"string","required":true,"default":null,"description":"when"},{"name":"n","type":"integer","required":false,"default":3,"description":null}]}"#;
        let gate = Gate::of(&serde_json::from_str(stored).unwrap());
        assert!(gate.needs_answers());
        assert_eq!(gate.fields[0].describe(), "date (string, required): when");
        assert_eq!(gate.fields[1].describe(), "n (integer) default 3");
        assert_eq!(gate.fields[0].answer_line(), "date=");
        assert_eq!(gate.fields[1].answer_line(), "n=3");
        assert_eq!(serde_json::to_string(&gate).unwrap(), stored);
    }
}
