//! Autonomy rules (`[[autonomy]]` in the config file or a workflow) and the pure
//! verdict on a new proposal: ask the operator, decide it now (`auto`), or let it
//! commit after a quiet period unless vetoed (`notify`). The statistics come from
//! the journal ([`crate::journal::StepStats`]); the decision itself goes through
//! [`crate::inbox::decide`], journaled as decided by `policy:NAME`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::journal::StepStats;

/// How a qualifying proposal is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// Approved at once, reported after.
    Auto,
    /// Approved when `quiet` passes without a decision (`aios tick`).
    Notify {
        #[serde(serialize_with = "ser_duration")]
        quiet: Duration,
    },
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::format_duration(*d))
}

/// A cap on an amount in the action (`amount_field`, a dotted path into its JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmountCap {
    pub field: String,
    pub max: f64,
}

/// An outcome metric below which a promoted step goes back to asking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoteBelow {
    pub metric: String,
    pub value: f64,
}

/// One `[[autonomy]]` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Decisions are journaled as `policy:NAME`.
    pub name: String,
    /// Globs (`*`); `None` matches any.
    pub workflow: Option<String>,
    pub step: Option<String>,
    /// A connector kind (`http`, `file`, …).
    pub kind: Option<String>,
    pub persona: Option<String>,
    /// Consecutive unchanged approvals before it decides.
    pub after: u64,
    /// The drafting agents' (least) confidence must be at least this.
    pub min_confidence: Option<f64>,
    pub max_amount: Option<AmountCap>,
    pub max_recipients: Option<usize>,
    /// What the run's LLM calls may have cost so far.
    pub max_cost_usd: Option<f64>,
    #[serde(flatten)]
    pub mode: Mode,
    pub demote_below: Option<DemoteBelow>,
}

/// The keys of a rule.
pub const KEYS: &[&str] = &[
    "name",
    "workflow",
    "step",
    "kind",
    "persona",
    "after",
    "min_confidence",
    "max_amount",
    "amount_field",
    "max_recipients",
    "max_cost_usd",
    "mode",
    "quiet",
    "demote_below",
];

/// The name of the policy that decides for a step promoted by hand (`aios trust
/// promote`) when no rule matches it.
pub const PROMOTED: &str = "promoted";

/// Read one rule from its JSON form (the config's or a workflow's TOML table).
/// `workflow`: the workflow it is written in (its rules match only that workflow).
pub fn read_rule(v: &Json, workflow: Option<&str>) -> Result<Rule, String> {
    let t = v
        .as_object()
        .ok_or("an [[autonomy]] rule must be a table")?;
    for k in t.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(format!(
                "`{k}` is not a key of an [[autonomy]] rule (it takes: {})",
                KEYS.join(", ")
            ));
        }
    }
    let text = |k: &str| -> Result<Option<String>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(Json::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(format!("`{k}` must be a non-empty string")),
        }
    };
    let num = |k: &str| -> Result<Option<f64>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(Some)
                .ok_or(format!("`{k}` must be a number, 0 or more")),
        }
    };
    let name = text("name")?
        .ok_or("an [[autonomy]] rule needs a `name` (decisions are journaled as policy:NAME)")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{name}` is not a rule name: use letters, digits, `-` and `_`"
        ));
    }
    let after = match t.get("after") {
        None => {
            return Err(format!(
                "rule `{name}` needs `after = N` (consecutive unchanged approvals)"
            ));
        }
        Some(v) => v.as_u64().filter(|n| *n >= 1).ok_or(format!(
            "rule `{name}`: `after` must be a whole number, 1 or more"
        ))?,
    };
    let min_confidence = num("min_confidence")?;
    if min_confidence.is_some_and(|c| c > 1.0) {
        return Err(format!(
            "rule `{name}`: `min_confidence` is between 0 and 1"
        ));
    }
    let max_amount = match (num("max_amount")?, text("amount_field")?) {
        (Some(max), Some(field)) => Some(AmountCap { field, max }),
        (None, None) => None,
        _ => {
            return Err(format!(
                "rule `{name}`: `max_amount` and `amount_field` go together (amount_field names where the amount is in the action, like \"json.amount\")"
            ));
        }
    };
    let quiet = match text("quiet")? {
        None => None,
        Some(q) => Some(
            crate::workflow::parse_duration(&q)
                .map_err(|e| format!("rule `{name}`: `quiet`: {e}"))?,
        ),
    };
    let mode = match (text("mode")?.as_deref(), quiet) {
        (None | Some("auto"), None) => Mode::Auto,
        (Some("notify"), Some(quiet)) => Mode::Notify { quiet },
        (Some("notify"), None) => {
            return Err(format!(
                "rule `{name}`: mode = \"notify\" needs `quiet` (how long it waits for a veto, like \"2h\")"
            ));
        }
        (None | Some("auto"), Some(_)) => {
            return Err(format!(
                "rule `{name}`: `quiet` belongs to mode = \"notify\""
            ));
        }
        (Some(other), _) => {
            return Err(format!(
                "rule `{name}`: mode is \"auto\" or \"notify\", not \"{other}\""
            ));
        }
    };
    let demote_below = match t.get("demote_below") {
        None => None,
        Some(Json::Object(m)) => {
            let metric = m.get("metric").and_then(|v| v.as_str());
            let value = m.get("value").and_then(|v| v.as_f64());
            match (metric, value, m.len()) {
                (Some(metric), Some(value), 2) => Some(DemoteBelow {
                    metric: metric.to_string(),
                    value,
                }),
                _ => {
                    return Err(format!(
                        "rule `{name}`: write demote_below = {{ metric = \"open_rate\", value = 0.2 }}"
                    ));
                }
            }
        }
        Some(_) => {
            return Err(format!(
                "rule `{name}`: write demote_below = {{ metric = \"open_rate\", value = 0.2 }}"
            ));
        }
    };
    let max_recipients = match t.get("max_recipients") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(format!(
            "rule `{name}`: `max_recipients` must be a whole number"
        ))? as usize),
    };
    let wf = text("workflow")?;
    if let (Some(inside), Some(w)) = (workflow, &wf)
        && w != inside
    {
        return Err(format!(
            "rule `{name}` is written in workflow `{inside}` and names workflow `{w}`: a workflow's rules apply to itself (leave `workflow` out)"
        ));
    }
    Ok(Rule {
        workflow: wf.or(workflow.map(str::to_string)),
        step: text("step")?,
        kind: text("kind")?,
        persona: text("persona")?,
        after,
        min_confidence,
        max_amount,
        max_recipients,
        max_cost_usd: num("max_cost_usd")?,
        mode,
        demote_below,
        name,
    })
}

/// What a proposal is, for matching rules.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub workflow: &'a str,
    pub step: &'a str,
    /// The connector kind (`http`, …).
    pub kind: &'a str,
    pub persona: &'a str,
    /// The rendered action (JSON as journaled).
    pub action: &'a Json,
    /// The drafting agents' least confidence, when they gave one.
    pub confidence: Option<f64>,
    /// What the run's LLM calls cost so far.
    pub run_cost_usd: f64,
    /// How many recipients the action has (email), when it has any.
    pub recipients: Option<usize>,
}

/// What to do with a new proposal.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The operator decides; `why` says why a qualifying rule did not (a cap, a low
    /// confidence).
    Ask { why: Option<String> },
    /// The step was promoted but an outcome fell below the rule's threshold: demote
    /// it (journaled with the reason), then ask.
    Demote { rule: String, reason: String },
    /// Decide it as `policy:rule`, with the reason that allowed it.
    Decide {
        rule: String,
        mode: Mode,
        reason: String,
        /// The step was not marked promoted yet: journal the promotion first.
        promote: bool,
    },
}

fn matches(rule: &Rule, c: &Candidate<'_>) -> bool {
    let g =
        |pat: &Option<String>, s: &str| pat.as_deref().is_none_or(|p| super::persona::glob(p, s));
    g(&rule.workflow, c.workflow)
        && g(&rule.step, c.step)
        && rule.kind.as_deref().is_none_or(|k| k == c.kind)
        && rule.persona.as_deref().is_none_or(|p| p == c.persona)
}

/// The first rule matching `c` (workflow rules come before the config's in `rules`).
pub fn rule_for<'r>(rules: &'r [Rule], c: &Candidate<'_>) -> Option<&'r Rule> {
    rules.iter().find(|r| matches(r, c))
}

/// A dotted path into JSON (`json.amount`, `arguments.total`).
fn at_path<'j>(j: &'j Json, path: &str) -> Option<&'j Json> {
    path.split('.').try_fold(j, |j, k| match j {
        Json::Object(m) => m.get(k),
        Json::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// The verdict on a new proposal `c` of a step with statistics `s`.
pub fn evaluate(rules: &[Rule], c: &Candidate<'_>, s: &StepStats) -> Verdict {
    let promoted = s.promoted();
    let implicit;
    let rule = match rule_for(rules, c) {
        Some(r) => r,
        None if promoted => {
            implicit = Rule {
                name: PROMOTED.into(),
                workflow: None,
                step: None,
                kind: None,
                persona: None,
                after: 1,
                min_confidence: None,
                max_amount: None,
                max_recipients: None,
                max_cost_usd: None,
                mode: Mode::Auto,
                demote_below: None,
            };
            &implicit
        }
        None => return Verdict::Ask { why: None },
    };
    if !promoted && s.streak < rule.after {
        return Verdict::Ask { why: None };
    }
    if promoted
        && let Some(d) = &rule.demote_below
        && let Some(v) = s.outcomes.get(&d.metric).and_then(|v| v.as_f64())
        && v < d.value
    {
        return Verdict::Demote {
            rule: rule.name.clone(),
            reason: format!(
                "outcome {} = {v} is below {} (policy {}'s demote_below)",
                d.metric, d.value, rule.name
            ),
        };
    }
    let not = |why: String| Verdict::Ask {
        why: Some(format!("policy {} did not decide: {why}", rule.name)),
    };
    if let Some(min) = rule.min_confidence {
        match c.confidence {
            None => {
                return not(format!(
                    "no drafting agent gave a confidence (min_confidence = {min})"
                ));
            }
            Some(x) if x < min => {
                return not(format!("confidence {x} is below min_confidence = {min}"));
            }
            _ => {}
        }
    }
    if let Some(cap) = &rule.max_amount {
        match at_path(c.action, &cap.field).and_then(amount) {
            None => {
                return not(format!(
                    "the action has no amount at `{}` (max_amount = {})",
                    cap.field, cap.max
                ));
            }
            Some(x) if x > cap.max => {
                return not(format!(
                    "the amount {x} at `{}` is above max_amount = {}",
                    cap.field, cap.max
                ));
            }
            _ => {}
        }
    }
    if let (Some(max), Some(n)) = (rule.max_recipients, c.recipients)
        && n > max
    {
        return not(format!(
            "{n} recipients is more than max_recipients = {max}"
        ));
    }
    if let Some(max) = rule.max_cost_usd
        && c.run_cost_usd > max
    {
        return not(format!(
            "the run's LLM calls cost ${:.4}, more than max_cost_usd = {max}",
            c.run_cost_usd
        ));
    }
    let reason = if promoted && s.streak < rule.after {
        format!(
            "policy {}: the step was promoted ({})",
            rule.name,
            s.mark_reason().unwrap_or("by hand")
        )
    } else {
        format!(
            "policy {}: approved unchanged {} (after = {})",
            rule.name,
            s.streak_text(),
            rule.after
        )
    };
    Verdict::Decide {
        rule: rule.name.clone(),
        mode: rule.mode,
        reason,
        promote: !promoted,
    }
}

fn amount(v: &Json) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(extra: Json) -> Rule {
        let mut v =
            json!({"name": "weekly-report", "workflow": "report", "step": "save", "after": 5});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        read_rule(&v, None).unwrap()
    }

    fn stats(streak: u64) -> StepStats {
        StepStats {
            workflow: "report".into(),
            step: "save".into(),
            streak,
            decided: streak,
            approved_unchanged: streak,
            ..StepStats::default()
        }
    }

    fn cand(action: &Json) -> Candidate<'_> {
        Candidate {
            workflow: "report",
            step: "save",
            kind: "file",
            persona: "default",
            action,
            confidence: Some(0.9),
            run_cost_usd: 0.0,
            recipients: None,
        }
    }

    #[test]
    fn a_rule_decides_after_n_unchanged_approvals() {
        let a = json!({});
        let rules = vec![rule(json!({}))];
        assert_eq!(
            evaluate(&rules, &cand(&a), &stats(4)),
            Verdict::Ask { why: None }
        );
        match evaluate(&rules, &cand(&a), &stats(5)) {
            Verdict::Decide {
                rule,
                reason,
                promote,
                ..
            } => {
                assert_eq!(rule, "weekly-report");
                assert!(promote);
                assert!(reason.contains("5 of 5"), "{reason}");
            }
            v => panic!("{v:?}"),
        }
        let other = Candidate {
            step: "draft",
            ..cand(&a)
        };
        assert_eq!(
            evaluate(&rules, &other, &stats(9)),
            Verdict::Ask { why: None }
        );
    }

    #[test]
    fn caps_and_confidence_keep_asking() {
        let a = json!({"json": {"amount": 500}});
        let rules = vec![rule(
            json!({"max_amount": 100, "amount_field": "json.amount", "min_confidence": 0.8}),
        )];
        match evaluate(&rules, &cand(&a), &stats(5)) {
            Verdict::Ask { why: Some(w) } => assert!(w.contains("above max_amount"), "{w}"),
            v => panic!("{v:?}"),
        }
        let small = json!({"json": {"amount": 50}});
        let low = Candidate {
            confidence: Some(0.5),
            ..cand(&small)
        };
        match evaluate(&rules, &low, &stats(5)) {
            Verdict::Ask { why: Some(w) } => assert!(w.contains("min_confidence"), "{w}"),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            evaluate(&rules, &cand(&small), &stats(5)),
            Verdict::Decide { .. }
        ));
    }

    #[test]
    fn bad_rules_say_why() {
        assert!(
            read_rule(&json!({"name": "x"}), None)
                .unwrap_err()
                .contains("after")
        );
        assert!(
            read_rule(&json!({"name": "x", "after": 2, "mode": "notify"}), None)
                .unwrap_err()
                .contains("quiet")
        );
        assert!(
            read_rule(
                &json!({"name": "x", "after": 2, "step": "a", "bogus": 1}),
                None
            )
            .unwrap_err()
            .contains("`bogus`")
        );
        let r = read_rule(
            &json!({"name": "x", "after": 2, "mode": "notify", "quiet": "2h"}),
            Some("report"),
        )
        .unwrap();
        assert_eq!(r.workflow.as_deref(), Some("report"));
        assert_eq!(
            r.mode,
            Mode::Notify {
                quiet: Duration::from_secs(7200)
            }
        );
    }
}
