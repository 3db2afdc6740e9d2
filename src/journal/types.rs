//! The journal's vocabulary: statuses, events and the records read back.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::clock::Millis;

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $word),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($word => Some($name::$var),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use word_enum;

word_enum!(
    /// A run's status (scripting interface: these words are stable).
    RunStatus {
        Running = "running",
        Waiting = "waiting",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

word_enum!(
    /// A step's status (scripting interface: these words are stable).
    StepStatus {
        Pending = "pending",
        Running = "running",
        Waiting = "waiting",
        Succeeded = "succeeded",
        Failed = "failed",
        Skipped = "skipped",
        NeedsAttention = "needs_attention",
    }
);

word_enum!(
    /// What an inbox item asks of the operator.
    ProposalKind {
        /// A rendered side effect awaiting approval.
        Action = "action",
        /// A go/no-go gate (`kind = "approval"`).
        Approval = "approval",
        /// A step whose outcome is unknown after a crash: retry, mark done or fail.
        Attention = "attention",
        /// An agent call that would pass a spending cap: raise, switch model or stop.
        Budget = "budget",
        /// An agent step every model failed: paste or edit the reply, accept the
        /// offline draft, retry, or fail it.
        Rescue = "rescue",
        /// About a schedule, not a run (missed fires, a failing schedule): approving
        /// (or rejecting) acknowledges it.
        Notice = "notice",
        /// A run that failed: retry the step, skip it, compensate, or abandon
        /// the run (see [`super::failure`]).
        Failure = "failure",
    }
);

word_enum!(
    ProposalStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        /// Its run was cancelled (as journals before `withdrawn` recorded it).
        Cancelled = "cancelled",
        /// Its run failed or was cancelled while it waited: it cannot be decided.
        /// A resume of the failed run puts it back (`pending`).
        Withdrawn = "withdrawn",
    }
);

word_enum!(
    /// The operator's answer to an inbox item.
    Decision {
        /// Commit the action / pass the gate / retry the step.
        Approve = "approve",
        /// Reject the action or gate; on an attention item, fail the step.
        Reject = "reject",
        /// Attention items only: the side effect happened; mark the step succeeded.
        Done = "done",
    }
);

word_enum!(
    /// How a dry run (`aios run --dry-run`) was made. A real run has none.
    DryMode {
        /// Agent steps answered by the offline heuristic provider: free.
        Offline = "offline",
        /// `--with-llm`: agent steps called the configured models, and paid.
        Llm = "llm",
    }
);

/// A step as declared when the run was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDecl {
    pub id: String,
    pub kind: String,
}

/// A state transition. Appended to `events` and applied to the projections in one
/// transaction. Field names are part of the on-disk format: add, never rename.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunCreated {
        uid: String,
        workflow: String,
        path: Option<String>,
        dir: String,
        /// The workflow snapshot, stored once in `sources` under this hash.
        source_hash: String,
        inputs: Json,
        steps: Vec<StepDecl>,
        /// A dry run: nothing is committed, and it is kept apart from real runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dry: Option<DryMode>,
    },
    RunStatus {
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RunCancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    StepStarted {
        step: String,
        attempt: u32,
    },
    StepSucceeded {
        step: String,
        attempt: u32,
        output: Json,
    },
    StepFailed {
        step: String,
        attempt: u32,
        error: String,
        /// Set when another attempt is scheduled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Millis>,
        /// The step failed before it ran: its definition could not be rendered (a
        /// template, a `when` condition, a path). The way on is a corrected workflow
        /// file (`aios resume RUN --workflow FILE`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        at_render: bool,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    /// A failed or interrupted step goes back to pending (resume).
    StepReset {
        step: String,
        reason: String,
    },
    ProposalCreated {
        proposal: i64,
        step: String,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: Json,
        evidence: Json,
    },
    ProposalDecided {
        proposal: i64,
        step: String,
        decision: Decision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Json>,
        /// The operator's edited action, when it differs from the proposal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edited: Option<Json>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        diff: Option<String>,
        by: String,
    },
    /// One LLM call of an agent step, journaled before its result is used.
    LlmCall(Box<LlmCall>),
    /// A tool call of an agent step's loop and its result (redacted), journaled
    /// before the model reads it.
    AgentTool {
        step: String,
        attempt: u32,
        /// The provider's id of the call.
        call_id: String,
        /// `SERVER.TOOL`, or one of aios's own (`memory.search`, ...).
        tool: String,
        arguments: Json,
        result: Json,
        /// The result is an error (the tool's, or why the call could not be made).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        error: bool,
        /// The inbox item the call waited on (a side effect).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<i64>,
    },
    /// A `fact` step set (entity, key) to `value`; `version` was assigned when the
    /// event was committed (one more than the version current then).
    FactSet {
        step: String,
        entity: String,
        key: String,
        value: Json,
        version: i64,
    },
    /// The operator set a fact outside any run (`aios fact set`; `source` "manual",
    /// or "decision" with the inbox item's `proposal`, `run` and `step` when it names
    /// one): `version` is one more than the version current then. Journaled under
    /// run 0 (it belongs to no run's steps).
    FactRecorded {
        entity: String,
        key: String,
        value: Json,
        version: i64,
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The operator unset a fact (`aios fact unset`): a tombstone `version` of
    /// (entity, key), one more than the version current then. Journaled under run 0
    /// (it belongs to no run).
    FactUnset {
        entity: String,
        key: String,
        version: i64,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A `remember` step wrote a note; `note` is its memory id.
    NoteAdded {
        step: String,
        note: i64,
        text: String,
        tags: Vec<String>,
    },
    /// A note written by this run was forgotten (removed from every index).
    NoteForgotten {
        note: i64,
    },
    /// Measured results attached to the run (`aios outcome`, or an `outcome` step).
    OutcomeRecorded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        values: Json,
    },
    /// A notice about a schedule entered the inbox (journaled under run 0: it
    /// belongs to no run).
    NoticeRaised {
        notice: i64,
        schedule: String,
        kind: String,
        /// Raised once per key (e.g. one per missed-fire decision or failing streak).
        key: String,
        summary: String,
        data: Json,
    },
    /// The operator acknowledged a notice.
    NoticeAcknowledged {
        notice: i64,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The operator hid a pending inbox item until `until` (the inbox TUI's snooze).
    ProposalSnoozed {
        proposal: i64,
        step: String,
        until: Millis,
        by: String,
    },
    /// The operator showed a snoozed item again before its time (`aios inbox unsnooze`,
    /// the TUI's snoozed view).
    ProposalUnsnoozed {
        proposal: i64,
        step: String,
        by: String,
    },
    /// A pending item was taken out of the inbox because its run ended (failed or
    /// was cancelled): it can no longer be decided. Journaled in the transaction that
    /// ends the run.
    ProposalWithdrawn {
        proposal: i64,
        step: String,
        reason: String,
    },
    /// The run continues on a corrected definition (`aios resume RUN --workflow
    /// FILE`). The new source is stored in `sources` under `source_hash`; `steps` is
    /// the new list of steps in file order (steps of the run not in it never ran or
    /// failed, and leave the run; new ones are pending); `inputs_added` are inputs
    /// the new definition declares with a default that the run was not given.
    WorkflowChanged {
        source_hash: String,
        previous_hash: String,
        path: Option<String>,
        dir: String,
        steps: Vec<StepDecl>,
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        inputs_added: serde_json::Map<String, Json>,
        /// One line per change, for people (`aios log`).
        changes: Vec<String>,
        /// A unified diff of the two sources.
        diff: String,
        by: String,
    },
    /// A dry run reached a step it does not carry out: what a real run would do
    /// (`would`: `propose` an action, `ask` at a gate, `commit` an action without
    /// asking, `write` to memory), rendered exactly. Nothing was done.
    StepRehearsed {
        step: String,
        attempt: u32,
        would: String,
        summary: String,
        action: Json,
    },
    /// A withdrawn item is pending again: its failed run was resumed and its step
    /// still waits on it.
    ProposalReopened {
        proposal: i64,
        step: String,
    },
    /// A step (of `workflow`, any run) was promoted to be decided by policy, or
    /// demoted back to asking, with who did it and why (the trust layer).
    TrustChanged {
        workflow: String,
        step: String,
        /// `promoted` or `demoted`.
        level: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A `wait` step waits until `due_at`; the run continues then (`aios tick`).
    TimerSet {
        step: String,
        attempt: u32,
        due_at: Millis,
    },
    /// A step's call waits for its target's circuit breaker (open, or a probe is
    /// out) until `until`; the attempt did not run, and runs then (`aios tick`
    /// continues the run).
    StepHeld {
        step: String,
        attempt: u32,
        /// `KIND:NAME`, as [`crate::connectors::Target`] prints it.
        target: String,
        until: Millis,
        reason: String,
    },
    /// An inbox item gets a decision deadline (committed with its creation).
    DeadlineSet {
        proposal: i64,
        step: String,
        due_at: Millis,
        /// `reject | approve | fail | remind`.
        on_timeout: String,
    },
    /// Nobody decided an item before its deadline (`on_timeout = "remind"`): it is
    /// surfaced again with a new deadline.
    ProposalReminded {
        proposal: i64,
        step: String,
        /// 1 for the first reminder.
        reminder: u32,
        next_due: Millis,
    },
    /// A step's commit or LLM call waits for its turn under a rate limit: it goes
    /// at `until`. `target` is the limit's key in the config (`api.example.com`,
    /// `mcp:github`, `llm:openai`, `smtp:work`), `rate` the limit (`10/m`).
    StepThrottled {
        step: String,
        attempt: u32,
        target: String,
        rate: String,
        until: Millis,
    },
    /// A remark about a step's commit the operator should see (a sandbox that
    /// could not be applied): shown in the run's output and timeline.
    StepWarned {
        step: String,
        attempt: u32,
        warning: String,
    },
}

/// What the journal keeps of one LLM call. Never a key or a header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    pub step: String,
    pub attempt: u32,
    /// The workflow's model alias, the provider's name and its model name.
    pub alias: String,
    pub provider: String,
    pub model: String,
    /// `{provider, model, url, chat}`.
    pub request: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    pub http_attempts: u32,
    pub heuristic: bool,
    /// Why the reply stopped, as the provider said it (`stop`, `length`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Why the call failed: `transient | fatal | schema_refused | deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The persona its step ran under (what its `max_usd_day` / `max_usd_month`
    /// count); `None`: a call of no step, or journaled before personas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    /// The tools the reply called (kept in the event; resume reads them there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<crate::agent::ToolCall>,
}

/// An LLM call as stored, with its run and time.
#[derive(Debug, Clone)]
pub struct LlmCallRecord {
    pub id: i64,
    /// 0 for a call that belongs to no run (`aios llm prompt`).
    pub run_id: i64,
    /// The run's workflow, or `(prompt)`.
    pub workflow: String,
    pub at: Millis,
    pub call: LlmCall,
}

/// Spending of one workflow over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub workflow: String,
    pub calls: i64,
    pub usd: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

impl Event {
    /// The `type` word stored in the `events.type` column.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RunCreated { .. } => "run_created",
            Event::RunStatus { .. } => "run_status",
            Event::RunCancelled { .. } => "run_cancelled",
            Event::StepStarted { .. } => "step_started",
            Event::StepSucceeded { .. } => "step_succeeded",
            Event::StepFailed { .. } => "step_failed",
            Event::StepSkipped { .. } => "step_skipped",
            Event::StepReset { .. } => "step_reset",
            Event::ProposalCreated { .. } => "proposal_created",
            Event::ProposalDecided { .. } => "proposal_decided",
            Event::LlmCall(_) => "llm_call",
            Event::AgentTool { .. } => "agent_tool",
            Event::FactSet { .. } => "fact_set",
            Event::FactUnset { .. } => "fact_unset",
            Event::FactRecorded { .. } => "fact_recorded",
            Event::NoteAdded { .. } => "note_added",
            Event::NoteForgotten { .. } => "note_forgotten",
            Event::OutcomeRecorded { .. } => "outcome_recorded",
            Event::ProposalSnoozed { .. } => "proposal_snoozed",
            Event::ProposalUnsnoozed { .. } => "proposal_unsnoozed",
            Event::NoticeRaised { .. } => "notice_raised",
            Event::NoticeAcknowledged { .. } => "notice_acknowledged",
            Event::TimerSet { .. } => "timer_set",
            Event::StepHeld { .. } => "step_held",
            Event::DeadlineSet { .. } => "deadline_set",
            Event::ProposalReminded { .. } => "proposal_reminded",
            Event::ProposalWithdrawn { .. } => "proposal_withdrawn",
            Event::ProposalReopened { .. } => "proposal_reopened",
            Event::TrustChanged { .. } => "trust_changed",
            Event::WorkflowChanged { .. } => "workflow_changed",
            Event::StepRehearsed { .. } => "step_rehearsed",
            Event::StepThrottled { .. } => "step_throttled",
            Event::StepWarned { .. } => "step_warned",
        }
    }

    /// The step this event concerns, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepSucceeded { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepReset { step, .. }
            | Event::ProposalCreated { step, .. }
            | Event::ProposalDecided { step, .. }
            | Event::FactSet { step, .. }
            | Event::NoteAdded { step, .. }
            | Event::ProposalSnoozed { step, .. }
            | Event::ProposalUnsnoozed { step, .. }
            | Event::TimerSet { step, .. }
            | Event::StepHeld { step, .. }
            | Event::DeadlineSet { step, .. }
            | Event::ProposalReminded { step, .. }
            | Event::ProposalWithdrawn { step, .. }
            | Event::ProposalReopened { step, .. }
            | Event::StepRehearsed { step, .. }
            | Event::StepThrottled { step, .. }
            | Event::StepWarned { step, .. }
            | Event::AgentTool { step, .. } => Some(step),
            Event::LlmCall(c) => Some(&c.step),
            Event::OutcomeRecorded { step, .. } => step.as_deref(),
            _ => None,
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub seq: i64,
    pub run_id: i64,
    pub at: Millis,
    pub event: Event,
}

/// A run row (without its source text unless loaded with `run`).
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: i64,
    pub uid: String,
    pub workflow: String,
    pub path: Option<String>,
    pub dir: String,
    pub source: String,
    pub source_hash: String,
    pub inputs: Json,
    pub status: RunStatus,
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<Millis>,
    /// A dry run (`aios run --dry-run`), and how it was made.
    pub dry: Option<DryMode>,
}

/// How long a run took (see [`super::SqliteJournal::run_times`]), in journal-clock ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTimes {
    /// From its creation to its end (or to now, while it is not finished).
    pub total: Millis,
    /// The part of that it was `running`: not waiting for a decision or a timer.
    pub active: Millis,
    /// It waited at least once.
    pub waited: bool,
}

impl RunTimes {
    /// From the instant a run was created (it starts `running`) and its status
    /// changes in order, up to `end`.
    pub fn of(created_at: Millis, statuses: &[(Millis, RunStatus)], end: Millis) -> RunTimes {
        let mut active = 0;
        let mut running_since = Some(created_at);
        let mut waited = false;
        for &(at, status) in statuses {
            waited |= status == RunStatus::Waiting;
            match (status == RunStatus::Running, running_since) {
                (true, None) => running_since = Some(at),
                (false, Some(since)) => {
                    active += (at - since).max(0);
                    running_since = None;
                }
                _ => {}
            }
        }
        if let Some(since) = running_since {
            active += (end - since).max(0);
        }
        RunTimes {
            total: (end - created_at).max(0),
            active,
            waited,
        }
    }
}

/// A line of `aios runs`.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub id: i64,
    pub workflow: String,
    pub status: RunStatus,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub steps_total: i64,
    pub steps_done: i64,
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub step_id: String,
    pub idx: i64,
    pub kind: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub output: Option<Json>,
    pub error: Option<String>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// While it waits for its turn under a rate limit: until when, and the limit
    /// (`api.example.com 10/m`).
    pub throttled: Option<(Millis, String)>,
    /// A waiting step held by its target's circuit breaker: the target, and when
    /// it may go (its reason is in `error`).
    pub held: Option<(String, Millis)>,
}

#[derive(Debug, Clone)]
pub struct ProposalRecord {
    pub id: i64,
    pub run_id: i64,
    pub workflow: String,
    pub run_status: RunStatus,
    pub step_id: String,
    pub attempt: u32,
    pub kind: ProposalKind,
    pub status: ProposalStatus,
    pub summary: String,
    pub action: Json,
    pub evidence: Json,
    pub decision: Option<Decision>,
    pub reason: Option<String>,
    pub fields: Option<Json>,
    pub edited: Option<Json>,
    pub diff: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    pub created_at: Millis,
    /// When nobody has decided by then, `on_timeout` applies (`aios tick`).
    pub deadline: Option<Millis>,
    pub on_timeout: Option<String>,
    /// How many times the item was surfaced again after its deadline passed.
    pub reminders: u32,
}

impl ProposalRecord {
    /// The action to commit: the operator's edit when there is one.
    pub fn final_action(&self) -> &Json {
        self.edited.as_ref().unwrap_or(&self.action)
    }
}
