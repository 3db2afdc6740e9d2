//! Step kinds. Each kind is one file that owns its fields, how they are read and
//! checked, and its [`Policy`]: whether it asks the operator, what `timeout` means,
//! whether it is safe to run again, whether it sleeps. Connector kinds (shell, http,
//! file) live in [`crate::connectors`], one file each, and share one policy.
//!
//! The `step_kinds!` list below generates [`Kind`], [`StepSpec`] and their dispatch
//! from one line per built-in kind, so a kind cannot be missing from any of them; the
//! engine's `prepare` matches every [`StepSpec`] exhaustively.

mod agent;
mod approval;
mod fact;
mod memory;
mod outcome;
mod remember;
mod set;
mod wait;

use std::time::Duration;

use serde_json::Value as Json;

use super::diag::Diagnostic;
use super::read::{Cx, Span, Table, TemplateUse, get};
use super::suggest::did_you_mean;
use crate::connectors::{ActionSpec, ConnectorKind};

pub use agent::AgentSpec;
pub use approval::{ApprovalSpec, FieldDecl};
pub use fact::FactSpec;
pub use memory::{MemoryFind, MemorySpec};
pub use outcome::OutcomeSpec;
pub use remember::RememberSpec;
pub use set::SetSpec;
pub use wait::WaitSpec;

/// Keys every step may have.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "id",
    "kind",
    "description",
    "needs",
    "when",
    "timeout",
    "retry",
    "approve",
    "on_reject",
    "idempotent",
    "approval_timeout",
    "on_timeout",
    "persona",
    "runs_on",
    "undo",
    "dry_output",
];

/// What the validator and the engine know about a kind besides its fields. Every
/// kind states all of it; there are no defaults to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Whether a step of this kind asks the operator before it runs.
    pub asks: Asks,
    /// What `timeout` means on it.
    pub timeout: Timeout,
    /// Whether an interrupted step may simply run again on resume.
    pub idempotent: Idempotent,
    /// It sleeps until a time once prepared (resume finds it sleeping, not proposed).
    pub timer: bool,
}

impl Policy {
    /// No side effect beyond the journal (a computation, a memory write): never
    /// asks, bounded only by a `timeout` the workflow sets, always safe to repeat.
    pub const PURE: Policy = Policy {
        asks: Asks::Never,
        timeout: Timeout::Execution(None),
        idempotent: Idempotent::Always,
        timer: false,
    };
}

/// Whether a step asks the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asks {
    /// It acts on the world: its rendered action is proposed (`approve = "always"`,
    /// the default), or committed without asking (`approve = "never"`).
    Proposal,
    /// Always: a go/no-go gate (`approve = "never"` is a mistake).
    Always,
    /// Never: no side effect beyond the journal (`approve = "always"` is a mistake).
    Never,
}

/// What `timeout` means on a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// It bounds the execution: the step's, else `[defaults] timeout`, else this.
    Execution(Option<Duration>),
    /// It is the decision deadline (with `on_timeout`); `[defaults]` does not apply.
    Decision,
    /// The kind takes no `timeout` (the hint says why).
    Forbidden(&'static str),
}

/// Whether a step may run again after an interruption without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// Always: running it again is harmless.
    Always,
    /// As the workflow says (`idempotent`, default false), unless its connector knows
    /// the action is harmless to repeat (a read-only HTTP method).
    Declared,
}

/// What a built-in kind implements, on its spec type. Every item is required.
pub(crate) trait StepKind: Sized {
    /// The `kind` word.
    const NAME: &'static str;
    /// The keys it takes besides the common ones.
    const FIELDS: &'static [&'static str];
    const POLICY: Policy;
    /// Read and check its fields; every mistake is a diagnostic with a span.
    fn read(f: StepFields<'_, '_>) -> Option<Self>;
}

/// The built-in kinds: `Variant(spec type);` each. Generates [`Kind`] (with a
/// `Connector` variant for every connector), [`StepSpec`] and their dispatch.
macro_rules! step_kinds {
    ($($(#[$doc:meta])* $Variant:ident($Spec:ty);)+) => {
        /// A step's kind: a connector, or one of the built-in kinds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            /// Acts on the world through a connector (see [`crate::connectors`]).
            Connector(ConnectorKind),
            $($(#[$doc])* $Variant,)+
        }

        /// A step's own fields, validated (templates not rendered yet).
        #[derive(Debug, Clone)]
        pub enum StepSpec {
            /// Acts on the world through a connector.
            Action(ActionSpec),
            $($(#[$doc])* $Variant($Spec),)+
        }

        impl Kind {
            /// The built-in kinds, in the order messages list them.
            const BUILTIN: &'static [Kind] = &[$(Kind::$Variant),+];

            /// The `kind` word.
            pub fn name(self) -> &'static str {
                match self {
                    Kind::Connector(c) => c.name(),
                    $(Kind::$Variant => <$Spec as StepKind>::NAME,)+
                }
            }

            /// The keys a step of this kind takes besides the common ones.
            pub fn fields(self) -> &'static [&'static str] {
                match self {
                    Kind::Connector(c) => c.fields(),
                    $(Kind::$Variant => <$Spec as StepKind>::FIELDS,)+
                }
            }

            /// The kind's policy.
            pub fn policy(self) -> Policy {
                match self {
                    Kind::Connector(c) => connector_policy(c),
                    $(Kind::$Variant => <$Spec as StepKind>::POLICY,)+
                }
            }

            fn read(self, f: StepFields<'_, '_>) -> Option<StepSpec> {
                match self {
                    Kind::Connector(c) => c.read(f).map(StepSpec::Action),
                    $(Kind::$Variant => <$Spec as StepKind>::read(f).map(StepSpec::$Variant),)+
                }
            }
        }

        impl StepSpec {
            pub fn kind(&self) -> Kind {
                match self {
                    StepSpec::Action(a) => Kind::Connector(a.kind()),
                    $(StepSpec::$Variant(_) => Kind::$Variant,)+
                }
            }
        }
    };
}

step_kinds! {
    /// `set`: values computed from templates.
    Set(SetSpec);
    /// `approval`: a go/no-go gate with typed fields.
    Approval(ApprovalSpec);
    /// `agent`: an LLM call, metered and capped.
    Agent(AgentSpec);
    /// `remember`: a note written to memory.
    Remember(RememberSpec);
    /// `fact`: a fact set in memory (versioned).
    Fact(FactSpec);
    /// `outcome`: measured results attached to the run.
    Outcome(OutcomeSpec);
    /// `memory`: notes, outcomes or decisions read from memory (read-only).
    Memory(MemorySpec);
    /// `wait`: a pause until a time.
    Wait(WaitSpec);
}

/// Every connector kind acts on the world the same way; its file says how long it
/// may run by default and when it is harmless to repeat.
fn connector_policy(c: ConnectorKind) -> Policy {
    Policy {
        asks: Asks::Proposal,
        timeout: Timeout::Execution(c.default_timeout()),
        idempotent: Idempotent::Declared,
        timer: false,
    }
}

impl Kind {
    /// Every kind, in the order messages list them: connectors, then built-ins.
    pub fn all() -> impl Iterator<Item = Kind> {
        ConnectorKind::ALL
            .iter()
            .map(|c| Kind::Connector(*c))
            .chain(Self::BUILTIN.iter().copied())
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::all().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Report keys that are neither common nor fields of the step's kind. A key of another
/// kind says so; without a known kind, any kind's field is accepted.
pub(crate) fn check_step_keys(cx: &mut Cx, t: &Table<'_>, kind: Option<Kind>, ctx: &str) {
    let allowed: Vec<&str> = match kind {
        Some(kind) => COMMON_KEYS.iter().chain(kind.fields()).copied().collect(),
        None => COMMON_KEYS
            .iter()
            .copied()
            .chain(Kind::all().flat_map(|k| k.fields().iter().copied()))
            .collect(),
    };
    for (k, _) in t.iter() {
        let key: &str = k.get_ref();
        if allowed.contains(&key) {
            continue;
        }
        // Past the diagnostics kept, count without building (suggestions cost).
        if !cx.keeps() {
            cx.count_one();
            continue;
        }
        let dym = did_you_mean(key, allowed.iter().copied());
        let other = Kind::all().find(|o| o.fields().contains(&key));
        let d = match (kind, other) {
            (Some(kind), Some(_)) => {
                let list = format!("{} steps take: {}", kind.name(), kind.fields().join(", "));
                Diagnostic::new(format!("`{key}` is not a field of {} steps", kind.name()))
                    .label("not a field of this kind")
                    .hint(match dym {
                        Some(d) => format!("{d} {list}"),
                        None => list,
                    })
            }
            _ => {
                let hint = dym.unwrap_or_else(|| match kind {
                    Some(kind) => format!(
                        "{} steps take: {}, besides {}",
                        kind.name(),
                        kind.fields().join(", "),
                        COMMON_KEYS.join(", ")
                    ),
                    None => format!("steps take: {}", COMMON_KEYS.join(", ")),
                });
                Diagnostic::new(format!("unknown key `{key}` {ctx}"))
                    .label("unknown key")
                    .hint(hint)
            }
        };
        cx.push(d.at(k.span()));
    }
}

/// Read the kind-specific fields of a step.
pub(crate) fn read_spec(
    cx: &mut Cx,
    kind: Kind,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<StepSpec> {
    let before = cx.count();
    let spec = kind.read(StepFields {
        cx,
        t,
        span,
        ctx,
        uses,
    });
    if cx.count() > before { None } else { spec }
}

/// A step's table while its kind reads its own fields.
pub(crate) struct StepFields<'s, 't> {
    pub cx: &'s mut Cx,
    pub t: &'s Table<'t>,
    /// The step's `[[steps]]` header (or inline table).
    pub span: Span,
    /// Where the step is, for messages: "in step `x`".
    pub ctx: &'s str,
    /// The templates read, with the variables they use.
    pub uses: &'s mut Vec<TemplateUse>,
}

/// A required table of named values (`set`, `outcome`): each a JSON value whose string
/// leaves are templates. With the span of the table.
pub(crate) fn json_values(
    cx: &mut Cx,
    t: &Table<'_>,
    key: &str,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<(Vec<(String, Json)>, Span)> {
    let Some(v) = get(t, key) else {
        cx.missing(key, span, ctx);
        return None;
    };
    let table = cx.table(key, v)?;
    let mut values = Vec::with_capacity(table.len());
    for (k, item) in table.iter() {
        if let Some(j) = cx.json(k.get_ref(), item, Some(uses)) {
            values.push((k.get_ref().to_string(), j));
        }
    }
    Some((values, v.span()))
}

pub(crate) fn opt_tmpl(
    cx: &mut Cx,
    t: &Table<'_>,
    key: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<String> {
    get(t, key).and_then(|v| cx.tmpl(key, v, uses))
}

pub(crate) fn req_tmpl(
    cx: &mut Cx,
    t: &Table<'_>,
    key: &str,
    span: &Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<String> {
    match get(t, key) {
        Some(v) => cx.tmpl(key, v, uses),
        None => {
            cx.missing(key, span.clone(), ctx);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages list connectors first, then the built-in kinds (the whole list is
    /// pinned where messages show it: `unknown_kind_suggests_and_lists`).
    #[test]
    fn every_kind_has_a_name_that_reads_back() {
        let kinds: Vec<Kind> = Kind::all().collect();
        let connectors = ConnectorKind::ALL.len();
        assert!(
            kinds[..connectors]
                .iter()
                .all(|k| matches!(k, Kind::Connector(_)))
        );
        assert_eq!(kinds[connectors..], *Kind::BUILTIN);
        for k in Kind::all() {
            assert_eq!(Kind::parse(k.name()), Some(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(Kind::parse("email").map(|k| k.name()), Some("email"));
        assert_eq!(Kind::parse("mail"), None);
    }

    /// Each kind's policy, as the validator and the engine apply it.
    #[test]
    fn every_kind_states_its_policy() {
        let policy = |name: &str| Kind::parse(name).unwrap().policy();
        let act = |timeout| Policy {
            asks: Asks::Proposal,
            timeout: Timeout::Execution(timeout),
            idempotent: Idempotent::Declared,
            timer: false,
        };
        assert_eq!(policy("shell"), act(Some(Duration::from_secs(600))));
        assert_eq!(policy("http"), act(Some(Duration::from_secs(30))));
        assert_eq!(policy("file"), act(None));
        assert_eq!(policy("tool"), act(Some(Duration::from_secs(60))));
        // Each exchange with the SMTP server has its account's timeout instead.
        assert_eq!(policy("email"), act(None));
        let pure = Policy {
            asks: Asks::Never,
            timeout: Timeout::Execution(None),
            idempotent: Idempotent::Always,
            timer: false,
        };
        for name in ["set", "remember", "fact", "outcome", "memory"] {
            assert_eq!(policy(name), pure, "{name}");
        }
        // An agent step's `timeout` is the deadline of all an attempt's calls.
        assert_eq!(
            policy("agent"),
            Policy {
                timeout: Timeout::Execution(Some(Duration::from_secs(600))),
                ..pure
            }
        );
        assert_eq!(
            policy("approval"),
            Policy {
                asks: Asks::Always,
                timeout: Timeout::Decision,
                idempotent: Idempotent::Always,
                timer: false,
            }
        );
        let wait = policy("wait");
        assert!(wait.timer && wait.asks == Asks::Never);
        assert!(matches!(wait.timeout, Timeout::Forbidden(_)));
    }

    /// No two kinds share a field name with a different meaning by accident: each
    /// kind's fields are its own plus the common keys, never a common key again.
    #[test]
    fn kind_fields_never_repeat_a_common_key() {
        for k in Kind::all() {
            for f in k.fields() {
                assert!(!COMMON_KEYS.contains(f), "{k}: {f}");
            }
        }
    }
}
