//! The validated workflow: what the engine runs.
//!
//! Nothing here is raw TOML. A `Workflow` is only built by [`crate::workflow::load`],
//! which parses, then validates, and reports every mistake with a span.

use std::time::Duration;

use serde_json::Value as Json;

use super::kinds::{Asks, Kind, Policy, StepSpec};

/// A workflow that passed validation.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    /// Declared inputs in file order.
    pub inputs: Vec<InputDecl>,
    pub defaults: Defaults,
    /// How many steps may run at once (top-level `max_parallel`, default 4).
    pub max_parallel: usize,
    /// Steps in file order. `needs` are indices into this vector and always point
    /// to earlier-or-later steps without forming a cycle.
    pub steps: Vec<Step>,
    /// `[trigger]`: when the workflow runs on a schedule.
    pub trigger: Option<super::trigger::Trigger>,
    /// The top-level `[budget]` table: what agent calls of one run may cost.
    pub budget: RunBudget,
    /// The secrets its steps read with `secret("NAME")`, each with where it is
    /// first read (checked against the store by the command layer).
    pub secrets: Vec<SecretUse>,
    /// `persona = "NAME"`: the persona its steps run under (`None`: `default`).
    pub persona: Option<String>,
    /// Its own `[[autonomy]]` rules (they come before the config's).
    pub autonomy: Vec<crate::trust::Rule>,
    /// What a failed run does: ask (a failure item) or compensate (a saga).
    pub on_failure: super::undo::OnFailure,
}

/// A secret a workflow reads: its name and the span of the template reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUse {
    pub name: String,
    pub span: std::ops::Range<usize>,
}

/// Per-run spending limits (`[budget] max_usd`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunBudget {
    /// At most this many USD of LLM calls per run; `None`: no per-run cap.
    pub max_usd: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: String,
    pub ty: InputType,
    pub default: Option<Json>,
    pub required: bool,
    pub description: Option<String>,
    /// `secret = true`: its value is kept out of the journal (the run stores a
    /// placeholder; the value waits in the secret store until the run ends).
    pub secret: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    String,
    Number,
    Integer,
    Boolean,
    List,
    Object,
}

impl Workflow {
    /// The names of its secret inputs.
    pub fn secret_inputs(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .filter(|i| i.secret)
            .map(|i| i.name.as_str())
            .collect()
    }
}

impl InputType {
    pub fn parse(s: &str) -> Option<InputType> {
        Some(match s {
            "string" => InputType::String,
            "number" => InputType::Number,
            "integer" => InputType::Integer,
            "boolean" => InputType::Boolean,
            "list" => InputType::List,
            "object" => InputType::Object,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::List => "list",
            InputType::Object => "object",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
}

/// Retry policy: `attempts` counts the first try (1 = no retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approve {
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReject {
    Fail,
    Skip,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    /// Indices of the steps this one waits for.
    pub needs: Vec<usize>,
    /// A minijinja expression; the step is skipped when it is falsy.
    pub when: Option<String>,
    /// Effective timeout (step, else `[defaults]`, else the kind's default).
    pub timeout: Option<Duration>,
    /// Effective retry policy (step, else `[defaults]`, else no retry).
    pub retry: Retry,
    /// Effective approval policy. Always `Never` for `set`; always `Always` for `approval`.
    pub approve: Approve,
    pub on_reject: OnReject,
    /// True when re-running after a crash is harmless: `set`, read-only `http`
    /// methods, or `idempotent = true` in the file.
    pub idempotent: bool,
    /// A deadline for the operator's decision on this step's inbox item (`approval`
    /// steps: `timeout` + `on_timeout`; proposed actions: `approval_timeout` +
    /// `on_timeout`). `None`: the item waits for as long as it takes.
    pub deadline: Option<Deadline>,
    /// `persona = "NAME"`: the persona it runs under, instead of the workflow's.
    pub persona: Option<String>,
    /// `runs_on`: the tags (sorted) a driver needs to start this step (with its
    /// persona's `runs_on`); only a worker (`aios worker --tags`) has tags.
    pub runs_on: Vec<String>,
    /// `undo`: the action that undoes what the step did (its templates read
    /// `output`, the step's own output). Only steps that act have one.
    pub undo: Option<crate::connectors::ActionSpec>,
    /// What a dry run (`aios run --dry-run`) takes as the output of this step, which
    /// it does not carry out (a JSON value whose string leaves are templates; `None`:
    /// null).
    pub dry_output: Option<Json>,
    pub spec: StepSpec,
}

impl Step {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// Its kind's policy.
    pub fn policy(&self) -> Policy {
        self.kind().policy()
    }

    /// Whether the step acts on the world (and so is proposed before it runs).
    pub fn has_side_effects(&self) -> bool {
        self.policy().asks == Asks::Proposal
    }
}

/// A template: a string that may contain minijinja syntax. Strings without `{{` or
/// `{%` are plain text and never go through the template engine.
pub type Tmpl = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// A step's `context` table: what memory to put into its prompt.
/// `context = { memory = "query", k = 5, facts = ["entity"], decisions = 3 }`.
/// Read by [`crate::workflow::read_context`]; answered by [`crate::memory::retrieve`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContextSpec {
    /// A search query (template) for notes and outcomes.
    pub memory: Option<Tmpl>,
    /// How many notes to retrieve (default 5).
    pub k: usize,
    /// Entities (templates) whose current facts are included.
    pub facts: Vec<Tmpl>,
    /// How many of the operator's last decisions on this step to include (default 0).
    pub decisions: usize,
}

impl Default for ContextSpec {
    fn default() -> Self {
        ContextSpec {
            memory: None,
            k: 5,
            facts: Vec::new(),
            decisions: 0,
        }
    }
}

impl ContextSpec {
    /// The same spec with its templates rendered in `ctx`.
    pub fn render(&self, ctx: &crate::template::Context) -> Result<ContextSpec, String> {
        Ok(ContextSpec {
            memory: self
                .memory
                .as_ref()
                .map(|m| ctx.render(m).map_err(|e| format!("context.memory: {e}")))
                .transpose()?,
            k: self.k,
            facts: self
                .facts
                .iter()
                .map(|f| ctx.render(f).map_err(|e| format!("context.facts: {e}")))
                .collect::<Result<_, _>>()?,
            decisions: self.decisions,
        })
    }
}

/// What happens when nobody decides an inbox item before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// Reject it (the step fails or is skipped per `on_reject`).
    Reject,
    /// Approve it (the action is committed; a gate passes with its field defaults).
    Approve,
    /// Fail the step, whatever `on_reject` says.
    Fail,
    /// Keep it pending, mark it reminded, and set the next deadline one period later.
    Remind,
}

impl OnTimeout {
    pub const WORDS: &'static [&'static str] = &["reject", "approve", "fail", "remind"];

    pub fn as_str(self) -> &'static str {
        Self::WORDS[self as usize]
    }

    pub fn parse(s: &str) -> Option<OnTimeout> {
        Some(match s {
            "reject" => OnTimeout::Reject,
            "approve" => OnTimeout::Approve,
            "fail" => OnTimeout::Fail,
            "remind" => OnTimeout::Remind,
            _ => return None,
        })
    }
}

/// A decision deadline: `after` the item is created (and again after each reminder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub after: std::time::Duration,
    pub on_timeout: OnTimeout,
}
