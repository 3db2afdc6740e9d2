//! What a run of a workflow would do, statically (`aios plan`): the order of its
//! steps and the groups that may run at once, which steps ask the operator (and
//! which may, or may not, given `approve`, kinds and tool annotations), the
//! secrets and tool servers it needs, and a bound on what its LLM calls may cost
//! from `max_tokens` and the configured prices.
//!
//! Nothing runs and nothing starts: `when` conditions are evaluated only when they
//! read nothing but inputs, tool servers are known from the listing cache, and
//! prompts are measured as written (what templates insert at run time is not).

use serde::Serialize;
use serde_json::Value as Json;

use crate::agent::{AgentRequest, AgentSettings, Target};
use crate::connectors::ActionSpec;
use crate::mcp::{CatalogError, ToolCatalog};
use crate::template::Context;
use crate::workflow::{Approve, OnReject, OutputFormat, Step, StepSpec, Workflow};

/// What the plan is made from besides the workflow.
pub struct PlanCx<'a> {
    /// Providers, models, prices and caps (the config's).
    pub agent: &'a AgentSettings,
    /// Tool servers' listings (the cache only: nothing is started).
    pub tools: &'a dyn ToolCatalog,
    /// Whether a secret is set (in the store or the secrets file).
    pub secret_known: &'a dyn Fn(&str) -> bool,
    /// The inputs as resolved (given, else defaults); secret inputs are placeholders.
    pub inputs: &'a Json,
    /// Required inputs that were not given.
    pub missing: &'a [String],
}

/// A run, as it would go.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub workflow: String,
    pub max_parallel: usize,
    pub inputs: Json,
    /// Required inputs not given: a run would refuse to start without them.
    pub missing_inputs: Vec<String>,
    /// Steps by group, in order: a group's steps need only steps of earlier groups,
    /// so they may run at once (at most `max_parallel`).
    pub groups: Vec<Vec<String>>,
    pub steps: Vec<PlannedStep>,
    pub secrets: Vec<SecretNeed>,
    pub secret_inputs: Vec<String>,
    pub servers: Vec<ServerUse>,
    pub llm: LlmBound,
}

/// Whether a step asks the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Asks {
    /// Its action is proposed, or it is a gate.
    Always,
    /// It may ask: a tool whose listing does not show it read-only, an LLM call a
    /// spending cap may stop.
    May,
    Never,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub kind: String,
    pub needs: Vec<String>,
    /// 1-based.
    pub group: usize,
    pub asks: Asks,
    /// Why, in words.
    pub why: String,
    /// `on_reject` of a step that asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_reject: Option<&'static str>,
    /// The decision deadline, in words (`decide within 2h, then reject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The condition's value with these inputs, when it reads only inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_now: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretNeed {
    pub name: String,
    pub set: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerUse {
    pub server: String,
    pub tools: Vec<String>,
    /// `cached` (a listing is cached), `not cached` or `not configured`.
    pub listing: String,
}

/// What the run's LLM calls may cost.
#[derive(Debug, Clone, Serialize)]
pub struct LlmBound {
    pub steps: Vec<LlmStep>,
    /// One call per agent step, to its first model that resolves.
    pub expected_usd: f64,
    /// Every attempt calling every model, each once more to correct a JSON reply.
    pub max_usd: f64,
    /// `[budget] max_usd` of the workflow.
    pub run_cap: Option<f64>,
    pub daily_cap: Option<f64>,
    pub monthly_cap: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LlmStep {
    pub id: String,
    pub models: Vec<PlannedModel>,
    pub max_tokens: u32,
    /// The prompt as written, in tokens (about four characters each).
    pub prompt_tokens: u64,
    pub attempts: u32,
    pub max_calls: u32,
    pub expected_usd: f64,
    pub max_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedModel {
    pub alias: String,
    /// `heuristic` for the offline provider.
    pub provider: String,
    pub model: String,
    pub usd_per_mtok_in: f64,
    pub usd_per_mtok_out: f64,
    /// Why the alias does not resolve with this config (the call would fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Plan a run of `wf`.
pub fn plan(wf: &Workflow, cx: &PlanCx<'_>) -> Plan {
    let group = groups_of(wf);
    let n_groups = group.iter().copied().max().map_or(0, |g| g + 1);
    let mut groups = vec![Vec::new(); n_groups];
    for (i, s) in wf.steps.iter().enumerate() {
        groups[group[i]].push(s.id.clone());
    }
    let ctx = Context::with_secret_inputs(cx.inputs, &wf.secret_inputs(), 0, "", &wf.name);
    let llm = llm_bound(wf, cx.agent);
    let paid: Vec<&str> = llm
        .steps
        .iter()
        .filter(|s| s.max_usd > 0.0)
        .map(|s| s.id.as_str())
        .collect();
    let capped = wf.budget.max_usd.is_some()
        || cx.agent.caps.daily_usd.is_some()
        || cx.agent.caps.monthly_usd.is_some();
    let steps = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (asks, why) = asks(s, cx.tools, capped && paid.contains(&s.id.as_str()));
            let when_now = s
                .when
                .as_ref()
                .and_then(|w| reads_only_given_inputs(w, cx.missing).then(|| ctx.condition(w)))
                .and_then(Result::ok);
            PlannedStep {
                id: s.id.clone(),
                kind: s.kind().name().to_string(),
                needs: s.needs.iter().map(|&n| wf.steps[n].id.clone()).collect(),
                group: group[i] + 1,
                asks,
                why,
                on_reject: (asks != Asks::Never && !matches!(s.spec, StepSpec::Agent(_)))
                    .then_some(match s.on_reject {
                        OnReject::Fail => "fail",
                        OnReject::Skip => "skip",
                    }),
                deadline: s.deadline.map(|d| {
                    format!(
                        "decide within {}, then {}",
                        crate::clock::format_duration(d.after),
                        d.on_timeout.as_str()
                    )
                }),
                when: s.when.clone(),
                when_now,
            }
        })
        .collect();
    let secrets = wf
        .secrets
        .iter()
        .map(|u| SecretNeed {
            name: u.name.clone(),
            set: (cx.secret_known)(&u.name),
        })
        .collect();
    let mut servers: Vec<ServerUse> = Vec::new();
    for s in &wf.steps {
        if let StepSpec::Action(ActionSpec::Tool(t)) = &s.spec {
            match servers.iter_mut().find(|u| u.server == t.server) {
                Some(u) if !u.tools.contains(&t.tool) => u.tools.push(t.tool.clone()),
                Some(_) => {}
                None => servers.push(ServerUse {
                    server: t.server.clone(),
                    tools: vec![t.tool.clone()],
                    listing: match cx.tools.tools(&t.server) {
                        Ok(_) => "cached".into(),
                        Err(CatalogError::NotConfigured(_)) => "not configured".into(),
                        Err(CatalogError::Unavailable(_)) => "not cached".into(),
                    },
                }),
            }
        }
    }
    Plan {
        workflow: wf.name.clone(),
        max_parallel: wf.max_parallel,
        inputs: cx.inputs.clone(),
        missing_inputs: cx.missing.to_vec(),
        groups,
        steps,
        secrets,
        secret_inputs: wf.secret_inputs().into_iter().map(str::to_string).collect(),
        servers,
        llm,
    }
}

/// Each step's group (0-based): one more than the latest group among its needs.
fn groups_of(wf: &Workflow) -> Vec<usize> {
    let n = wf.steps.len();
    let mut group: Vec<Option<usize>> = vec![None; n];
    // Needs form no cycle (validated): repeat until every step is placed.
    let mut left = n;
    while left > 0 {
        let before = left;
        for (i, s) in wf.steps.iter().enumerate() {
            if group[i].is_some() {
                continue;
            }
            let placed: Option<Vec<usize>> = s.needs.iter().map(|&d| group[d]).collect();
            if let Some(g) = placed {
                group[i] = Some(g.into_iter().map(|g| g + 1).max().unwrap_or(0));
                left -= 1;
            }
        }
        if left == before {
            break;
        }
    }
    group.into_iter().map(|g| g.unwrap_or(0)).collect()
}

/// Whether a step asks, and why.
fn asks(s: &Step, tools: &dyn ToolCatalog, may_stop: bool) -> (Asks, String) {
    match &s.spec {
        StepSpec::Approval(a) => {
            let fields: Vec<&str> = a.fields.iter().map(|f| f.name.as_str()).collect();
            let what = if fields.is_empty() {
                "a go/no-go gate".to_string()
            } else {
                format!("a gate with fields {}", fields.join(", "))
            };
            (Asks::Always, what)
        }
        StepSpec::Action(spec) if s.approve == Approve::Always => (
            Asks::Always,
            format!(
                "its {} action is proposed (approve = \"always\")",
                spec.kind().name()
            ),
        ),
        StepSpec::Action(ActionSpec::Tool(t)) => match tools.tools(&t.server) {
            Ok(l) => match l.tool(&t.tool) {
                Some(info) if info.annotations.is_read_only() => (
                    Asks::Never,
                    format!(
                        "approve = \"never\" and `{}` is annotated read-only",
                        t.tool
                    ),
                ),
                _ => (
                    Asks::Always,
                    format!(
                        "`{}` is not annotated read-only: proposed despite approve = \"never\"",
                        t.tool
                    ),
                ),
            },
            Err(_) => (
                Asks::May,
                format!(
                    "approve = \"never\", but no listing of `{}` is cached: proposed unless the server annotates `{}` read-only",
                    t.server, t.tool
                ),
            ),
        },
        StepSpec::Action(spec) => (
            Asks::Never,
            format!(
                "committed without asking (approve = \"never\"): a {} side effect",
                spec.kind().name()
            ),
        ),
        StepSpec::Agent(_) if may_stop => (
            Asks::May,
            "calls an LLM; a spending cap may stop it and ask (a budget item)".into(),
        ),
        StepSpec::Agent(_) => (Asks::Never, "calls an LLM (metered)".into()),
        StepSpec::Set(_) => (Asks::Never, "computes values".into()),
        StepSpec::Wait(_) => (Asks::Never, "waits until its time".into()),
        StepSpec::Remember(_) => (Asks::Never, "writes a note to memory".into()),
        StepSpec::Fact(_) => (Asks::Never, "sets a fact in memory".into()),
        StepSpec::Outcome(_) => (Asks::Never, "records an outcome of the run".into()),
        StepSpec::Memory(m) => (Asks::Never, crate::memory::list::describe(m)),
    }
}

/// Whether a condition reads inputs only, all of them given (or defaulted).
fn reads_only_given_inputs(expr: &str, missing: &[String]) -> bool {
    let Ok(e) = crate::template::env().compile_expression(expr) else {
        return false;
    };
    let vars = e.undeclared_variables(true);
    vars.iter().all(|v| {
        let mut parts = v.split('.');
        parts.next() == Some("inputs")
            && parts
                .next()
                .is_some_and(|name| !missing.iter().any(|m| m == name))
    })
}

fn llm_bound(wf: &Workflow, agent: &AgentSettings) -> LlmBound {
    let mut steps = Vec::new();
    for s in &wf.steps {
        let StepSpec::Agent(a) = &s.spec else {
            continue;
        };
        let json = a.output == OutputFormat::Json;
        let req = AgentRequest {
            models: a.models.clone(),
            system: a.system.clone(),
            prompt: a.prompt.clone(),
            json,
            schema: a.schema.clone(),
            offline: None,
            max_tokens: a.max_tokens,
            context: None,
            sampling: a.sampling.clone(),
            tools: Vec::new(),
            max_turns: a.max_turns,
        };
        let first = crate::agent::turns::Call {
            model_idx: 0,
            alias: String::new(),
            repair: None,
            max_tokens: a.max_tokens,
            plain: false,
            convo: Vec::new(),
            final_turn: false,
        };
        // A step with tools may call its model up to `max_turns` times per attempt
        // (each turn counted at the first prompt's size: tool results are not known
        // before the run).
        let turns = if a.tools.is_empty() {
            1
        } else {
            a.max_turns.max(1)
        };
        // The schema in the prompt (the plain JSON form) is the longest prompt.
        let form = if json {
            crate::agent::structured::Form::Json
        } else {
            crate::agent::structured::Form::Text
        };
        let chat = crate::agent::chat(&req, &first, form, &a.sampling);
        let tokens_in = crate::agent::budget::estimate_tokens_in(&chat);
        let out = u64::from(a.max_tokens);
        let targets: Vec<Result<Target, String>> =
            a.models.iter().map(|m| agent.resolve(m)).collect();
        let expected_usd = targets
            .iter()
            .find_map(|t| t.as_ref().ok())
            .map_or(0.0, |t| t.cost(tokens_in, out));
        let attempts = s.retry.attempts.max(1);
        let per_model = if json { 2 } else { 1 };
        let per_attempt: f64 = targets
            .iter()
            .filter_map(|t| t.as_ref().ok())
            .map(|t| {
                // The repair round: the bad reply and why sent back, and twice the
                // room when the reply was cut at max_tokens.
                let correction = if json {
                    t.cost(tokens_in + out + 64, 2 * out)
                } else {
                    0.0
                };
                t.cost(tokens_in, out) * f64::from(turns) + correction
            })
            .sum();
        let models = a
            .models
            .iter()
            .zip(&targets)
            .map(|(alias, t)| match t {
                Ok(t) => PlannedModel {
                    alias: alias.clone(),
                    provider: t.provider_name().to_string(),
                    model: t.model.clone(),
                    usd_per_mtok_in: t.usd_per_mtok_in,
                    usd_per_mtok_out: t.usd_per_mtok_out,
                    error: None,
                },
                Err(e) => PlannedModel {
                    alias: alias.clone(),
                    provider: String::new(),
                    model: String::new(),
                    usd_per_mtok_in: 0.0,
                    usd_per_mtok_out: 0.0,
                    error: Some(e.clone()),
                },
            })
            .collect();
        steps.push(LlmStep {
            id: s.id.clone(),
            models,
            max_tokens: a.max_tokens,
            prompt_tokens: tokens_in,
            attempts,
            max_calls: attempts * (per_model + turns - 1) * a.models.len() as u32,
            expected_usd,
            max_usd: per_attempt * f64::from(attempts),
        });
    }
    LlmBound {
        expected_usd: steps.iter().map(|s| s.expected_usd).sum(),
        max_usd: steps.iter().map(|s| s.max_usd).sum(),
        steps,
        run_cap: wf.budget.max_usd,
        daily_cap: agent.caps.daily_usd,
        monthly_cap: agent.caps.monthly_usd,
    }
}

#[cfg(test)]
mod tests;
