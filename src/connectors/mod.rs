//! Connectors: how a step acts on the world. A connector is one file that owns its
//! kind: the step's fields (read and checked when the workflow loads), rendering them
//! into an exact [`Action`], describing it for a person ([`Description`]), validating
//! it (also after the operator edits it), committing it, and its idempotency.
//!
//! Rendering happens once; what is approved is what is committed. Nothing here reads
//! the process environment: commits draw on the [`Resources`] the driver gives them.
//!
//! Registering a connector is its file (implementing [`Connector`] on its action
//! type), `mod` + one line in the `connectors!` list below, and a member of
//! [`Resources`] when it needs a new shared client (README: "Adding a connector
//! kind"). Every dispatch is generated from that list, so no `match` can miss it.
//!
//! [`sandbox`] is not a connector: it is the file sandbox (a [`sandbox::Root`] that
//! resolves paths beneath itself) that `file` steps commit through and attachments
//! read through. Nor is [`confine`]: it confines the programs `shell` steps start
//! (Landlock, rlimits, the output kept).
//!
//! Where later layers plug in: the trust layer checks a persona's scopes in
//! [`render`] (after rendering) and again in [`Action::commit`] (before committing).
//!
//! Secrets: a rendered action is sealed text ([`crate::secrets::placeholder`]): its
//! strings hold `secret("NAME")` placeholders, never values ([`RenderCx::text`] and
//! [`RenderCx::json`] seal what they render). [`Action::commit`] resolves them in
//! memory just before the connector runs, and redacts every known secret value from
//! what comes back (output and error) before anything else sees it. A connector
//! therefore only ever sees real values in `commit`, and never needs to know.

pub mod confine;
mod describe;
pub mod email;
pub mod file;
pub mod http;
mod resources;
pub mod sandbox;
pub mod shell;
pub mod target;
pub mod tool;
mod touch;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::config::ConfigFile;
use crate::mcp::{CatalogError, ToolCatalog};
use crate::secrets::Secrets;
use crate::template::Context;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::StepFields;
use crate::workflow::{Approve, StepSpec, Workflow, suggest};

pub use describe::{Attachment, Body, Description, Field, FieldStyle};
pub use resources::{ExecEnv, Resources};
pub use target::{Target, TargetKind};
pub use touch::Touch;

/// What a connector implements, on its action type (the variant of [`Action`] it is
/// journaled as). Every item is required: each connector states its whole policy.
pub(crate) trait Connector:
    Sized + Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned + Send
{
    /// The step's own fields as written in the workflow (templates not rendered).
    type Spec: std::fmt::Debug + Clone;
    /// The keys a step of this kind takes besides the common ones.
    const FIELDS: &'static [&'static str];
    /// The execution timeout when neither the step nor `[defaults]` sets one.
    const DEFAULT_TIMEOUT: Option<Duration>;
    /// What a commit cut off by that timeout leaves behind.
    const AFTER_TIMEOUT: AfterTimeout;

    /// Read and check the step's fields; every mistake is a diagnostic with a span.
    fn read(f: StepFields<'_, '_>) -> Option<Self::Spec>;
    /// Checks that need more than the file (a tool server's listing), once it has
    /// loaded: by `aios check` and before `aios run` records a run.
    fn check(spec: &Self::Spec, cx: &CheckCx<'_>) -> Vec<Diagnostic>;
    /// Whether committing the step twice is harmless whatever the workflow says (a
    /// read-only HTTP method). Otherwise the step's `idempotent` (default false)
    /// decides whether an interrupted commit may run again without asking.
    fn always_idempotent(spec: &Self::Spec) -> bool;
    /// Render the step into its exact action: templates evaluated, paths absolute,
    /// idempotency keys fixed (from [`RenderCx::idempotency_key`]).
    fn render(spec: &Self::Spec, r: &RenderCx<'_>) -> Result<Self, String>;
    /// Check that the action can be committed as it stands.
    fn validate(&self) -> Result<(), String>;
    /// Check the operator's edit (`self`) of the `proposed` action (same kind).
    fn validate_edit(&self, proposed: &Self) -> Result<(), String>;
    /// Whether this action waits for the operator even when its step says
    /// `approve = "never"` (a tool not annotated read-only).
    fn must_ask(&self) -> bool;
    /// Where the action reaches (hosts, programs, folders, tools, recipients): what
    /// a persona's scopes are checked against, after rendering and before commit.
    fn touches(&self) -> Vec<Touch>;
    /// The outside service the action reaches (the HTTP host, the tool server, the
    /// SMTP account): its circuit breaker and its rate limit (`[rate]`) both count
    /// this commit; `None` for local work (a file, a shell command). The driver
    /// waits for the target's turn before the commit starts.
    fn target(&self) -> Option<Target>;
    /// One line for listings (stored with the inbox item; cut to 100 characters).
    fn summary(&self) -> String;
    /// The action for a person, as every front end draws it.
    fn describe(&self) -> Description;
    /// Perform the action once. Runs on the driver's async executor.
    fn commit(self, res: &Resources) -> impl Future<Output = Result<Json, ExecError>> + Send;
}

/// The connector list: each line is `Variant("kind") => action type, spec type`.
/// Generates [`ConnectorKind`], [`ActionSpec`], the journaled [`Action`] and their
/// dispatch.
macro_rules! connectors {
    ($($Variant:ident($name:literal) => $Action:ty, $Spec:ty;)+) => {
        /// Which connector a step acts through.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ConnectorKind {
            $($Variant),+
        }

        impl ConnectorKind {
            /// Every connector, in the order messages list them.
            pub const ALL: &'static [ConnectorKind] = &[$(ConnectorKind::$Variant),+];

            /// The `kind` word of its steps (and of its journaled actions).
            pub fn name(self) -> &'static str {
                match self {
                    $(ConnectorKind::$Variant => $name),+
                }
            }

            /// The keys its steps take besides the common ones.
            pub fn fields(self) -> &'static [&'static str] {
                match self {
                    $(ConnectorKind::$Variant => <$Action as Connector>::FIELDS),+
                }
            }

            /// The execution timeout when neither the step nor `[defaults]` sets one.
            pub fn default_timeout(self) -> Option<Duration> {
                match self {
                    $(ConnectorKind::$Variant => <$Action as Connector>::DEFAULT_TIMEOUT),+
                }
            }

            pub(crate) fn read(self, f: StepFields<'_, '_>) -> Option<ActionSpec> {
                match self {
                    $(ConnectorKind::$Variant => {
                        <$Action as Connector>::read(f).map(ActionSpec::$Variant)
                    }),+
                }
            }
        }

        /// A connector step's own fields, as written in the workflow.
        #[derive(Debug, Clone)]
        pub enum ActionSpec {
            $($Variant($Spec)),+
        }

        impl ActionSpec {
            pub fn kind(&self) -> ConnectorKind {
                match self {
                    $(ActionSpec::$Variant(_) => ConnectorKind::$Variant),+
                }
            }

            /// See [`Connector::always_idempotent`].
            pub fn always_idempotent(&self) -> bool {
                match self {
                    $(ActionSpec::$Variant(s) => <$Action as Connector>::always_idempotent(s)),+
                }
            }

            /// See [`Connector::check`].
            pub fn check(&self, cx: &CheckCx<'_>) -> Vec<Diagnostic> {
                match self {
                    $(ActionSpec::$Variant(s) => <$Action as Connector>::check(s, cx)),+
                }
            }

            fn render_unchecked(&self, r: &RenderCx<'_>) -> Result<Action, String> {
                match self {
                    $(ActionSpec::$Variant(s) => {
                        <$Action as Connector>::render(s, r).map(Action::$Variant)
                    }),+
                }
            }
        }

        /// A fully rendered side effect: what a proposal shows and what is committed.
        /// Journaled as JSON tagged by `kind` (the stored format of inbox items).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum Action {
            $(#[serde(rename = $name)] $Variant($Action)),+
        }

        impl Action {
            pub fn connector(&self) -> ConnectorKind {
                match self {
                    $(Action::$Variant(_) => ConnectorKind::$Variant),+
                }
            }

            /// Check that the action can be committed as it stands.
            pub fn validate(&self) -> Result<(), String> {
                match self {
                    $(Action::$Variant(a) => a.validate()),+
                }
            }

            /// See [`Connector::must_ask`].
            pub fn must_ask(&self) -> bool {
                match self {
                    $(Action::$Variant(a) => a.must_ask()),+
                }
            }

            /// See [`Connector::AFTER_TIMEOUT`].
            pub fn after_timeout(&self) -> AfterTimeout {
                match self {
                    $(Action::$Variant(_) => <$Action as Connector>::AFTER_TIMEOUT),+
                }
            }

            /// `None` when the two are of different kinds.
            fn validate_edit_of(&self, proposed: &Action) -> Option<Result<(), String>> {
                match (self, proposed) {
                    $((Action::$Variant(a), Action::$Variant(p)) => Some(a.validate_edit(p)),)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// See [`Connector::touches`].
            pub fn touches(&self) -> Vec<Touch> {
                match self {
                    $(Action::$Variant(a) => a.touches()),+
                }
            }

            /// See [`Connector::target`].
            pub fn target(&self) -> Option<Target> {
                match self {
                    $(Action::$Variant(a) => a.target()),+
                }
            }

            fn summary_line(&self) -> String {
                match self {
                    $(Action::$Variant(a) => a.summary()),+
                }
            }

            /// The action for a person, as every front end draws it.
            pub fn describe(&self) -> Description {
                match self {
                    $(Action::$Variant(a) => a.describe()),+
                }
            }

            async fn commit_now(self, res: &Resources) -> Result<Json, ExecError> {
                match self {
                    $(Action::$Variant(a) => a.commit(res).await),+
                }
            }
        }
    };
}

connectors! {
    Shell("shell") => shell::ShellAction, shell::ShellSpec;
    Http("http") => http::HttpAction, http::HttpSpec;
    File("file") => file::FileAction, file::FileSpec;
    Tool("tool") => tool::ToolAction, tool::ToolSpec;
    Email("email") => email::Email, email::EmailSpec;
}

/// What [`Connector::check`] needs beyond the step's own fields.
pub struct CheckCx<'a> {
    /// The step's `approve`.
    pub approve: Approve,
    /// Whether the step has a `when` condition (it may be meant to run only where
    /// the config has what it needs: `when = "'default' in config.smtp"`).
    pub guarded: bool,
    /// The tool servers' listings.
    pub tools: &'a dyn ToolCatalog,
    /// The operator's configuration (a connector reads its own section).
    pub config: &'a ConfigFile,
}

/// Check a loaded workflow's connector steps against what is known outside the file
/// (the configuration, tool servers' listings). Every problem is a diagnostic with a
/// span.
pub fn check_workflow(
    wf: &Workflow,
    tools: &dyn ToolCatalog,
    config: &ConfigFile,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in &wf.steps {
        if let StepSpec::Action(a) = &s.spec {
            out.extend(a.check(&CheckCx {
                approve: s.approve,
                guarded: s.when.is_some(),
                tools,
                config,
            }));
        }
        // A compensation is always proposed.
        if let Some(undo) = &s.undo {
            out.extend(undo.check(&CheckCx {
                approve: Approve::Always,
                guarded: s.when.is_some(),
                tools,
                config,
            }));
        }
        if let StepSpec::Agent(a) = &s.spec {
            out.extend(check_agent_tools(&a.tools, tools));
        }
    }
    out.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    out
}

/// An agent step's `tools` against the servers' listings: an unknown server, a tool
/// not listed and a glob that matches nothing are errors (the model would silently
/// have fewer tools than the workflow says). A server that cannot be reached and has
/// no cached listing is not checked (`aios check` notes it).
fn check_agent_tools(
    entries: &[(String, crate::workflow::read::Span)],
    tools: &dyn ToolCatalog,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (entry, span) in entries {
        let Some((server, glob)) = crate::agent::tools::split(entry) else {
            continue;
        };
        match tools.tools(server) {
            Ok(listing) => {
                if crate::agent::tools::matching(glob, &listing.tools).is_empty() {
                    let names: Vec<&str> = listing.tools.iter().map(|t| t.name.as_str()).collect();
                    let hint = match suggest::did_you_mean(glob, names.iter().copied()) {
                        Some(d) => d,
                        None => format!(
                            "its tools: {}",
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    };
                    out.push(
                        Diagnostic::new(if glob.contains('*') {
                            format!("`{glob}` matches no tool of server `{server}`")
                        } else {
                            format!("server `{server}` has no tool `{glob}`")
                        })
                        .at(span.clone())
                        .label("unknown tool")
                        .hint(hint),
                    );
                }
            }
            Err(CatalogError::NotConfigured(msg)) => out.push(
                Diagnostic::new(msg)
                    .at(span.clone())
                    .label("not in the config")
                    .hint(format!(
                        "add [mcp.{server}] to config.toml, or use one of aios's own tools: {}",
                        crate::agent::tools::AIOS_TOOLS.join(", ")
                    )),
            ),
            Err(CatalogError::Unavailable(_)) => {}
        }
    }
    out
}

/// What rendering an action needs from its run.
#[derive(Clone, Copy)]
pub struct RenderCx<'a> {
    /// The run's template context (inputs, step outputs).
    pub ctx: &'a Context,
    /// The folder of the workflow file (relative paths start here).
    pub dir: &'a Path,
    /// A unique id of the run.
    pub run_uid: &'a str,
    pub step_id: &'a str,
    /// The attempt rendered: each attempt has its own idempotency key.
    pub attempt: u32,
    /// The tool servers' listings (a tool call's annotations and input schema).
    pub tools: &'a dyn ToolCatalog,
    /// The persona the step runs under: the rendered action must fit its scopes.
    pub persona: &'a crate::trust::Persona,
    /// The operator's configuration (an email's account and its sender).
    pub config: &'a ConfigFile,
}

impl RenderCx<'_> {
    /// Render a template into sealed text (secrets as placeholders).
    pub fn text(&self, t: &str) -> Result<String, String> {
        self.ctx.render_sealed(t)
    }

    /// Render the string leaves of a JSON value into sealed text.
    pub fn json(&self, j: &Json) -> Result<Json, String> {
        self.ctx.render_json_sealed(j)
    }

    /// An absolute path (sealed text, from a rendered one): relative ones start at
    /// the workflow's folder.
    pub fn path(&self, p: &str) -> String {
        if Path::new(p).is_absolute() {
            p.to_string()
        } else {
            let dir = self.dir.display().to_string();
            format!(
                "{}{}{p}",
                crate::secrets::placeholder::escape(&dir),
                if dir.ends_with('/') { "" } else { "/" }
            )
        }
    }

    /// The idempotency key of this step's attempt in this run: the same on every
    /// retry of the rendered action, different for each run and attempt.
    pub fn idempotency_key(&self) -> String {
        format!("aios-{}-{}-{}", self.run_uid, self.step_id, self.attempt)
    }
}

/// Render a connector step into its exact action and validate it.
///
/// The trust layer's first check is here: the persona's scopes against the rendered
/// action, before it is proposed or committed (a refusal names the persona and the
/// rule, and the step fails).
pub fn render(spec: &ActionSpec, r: &RenderCx<'_>) -> Result<Action, String> {
    let action = spec.render_unchecked(r)?;
    action.validate()?;
    r.persona.check(&action)?;
    Ok(action)
}

/// A failed commit: the message, whether another attempt might succeed, whether
/// the action may have taken effect all the same, and what it says about the
/// action's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    pub message: String,
    pub retryable: bool,
    /// The action may have happened (an email the server may have accepted before
    /// the connection broke): the step is not retried but goes to the inbox as
    /// needing attention, like a step interrupted by a crash.
    pub outcome_unknown: bool,
    pub blame: Blame,
}

/// What a failed commit says about its target ([`Connector::target`]), for the
/// target's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The target was not reached, or the failure is not its doing: it counts
    /// neither way.
    None,
    /// A transient failure of the target: a 5xx, a 429, a timeout, no connection.
    Target,
    /// The target answered, with a refusal (a 4xx, a tool's own error): it is up.
    Answered,
}

impl ExecError {
    /// A failure another attempt might not have (not the target's: see
    /// [`ExecError::transient`]).
    pub fn retryable(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
            retryable: true,
            outcome_unknown: false,
            blame: Blame::None,
        }
    }

    /// A failure another attempt will have too.
    pub fn fatal(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
            retryable: false,
            outcome_unknown: false,
            blame: Blame::None,
        }
    }

    /// A transient failure of the target (retryable; counted by its breaker).
    pub fn transient(message: impl Into<String>) -> Self {
        ExecError {
            blame: Blame::Target,
            ..ExecError::retryable(message)
        }
    }

    /// The target answered with a refusal (not retried; its breaker counts it as
    /// an answer).
    pub fn refused(message: impl Into<String>) -> Self {
        ExecError {
            blame: Blame::Answered,
            ..ExecError::fatal(message)
        }
    }

    /// The action may or may not have happened: the operator decides (retry, mark
    /// done, fail), never an automatic retry.
    pub fn unknown(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
            retryable: false,
            outcome_unknown: true,
            blame: Blame::None,
        }
    }
}

/// What a commit cut off by its step's `timeout` leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterTimeout {
    /// Nothing another attempt could double: the action was stopped, or repeating it
    /// is harmless (the same idempotency key, an atomic write). The attempt fails
    /// as retryable.
    Retry,
    /// It may have taken effect and a repeat could do it twice (an email the server
    /// may have accepted): the step goes to the inbox as needing attention.
    Ask,
}

impl Action {
    /// The `kind` word it is journaled with.
    pub fn kind(&self) -> &'static str {
        self.connector().name()
    }

    /// Check an operator's edit (`self`) of the `proposed` action: the same kind, the
    /// proposed action's secrets only (kept, moved or dropped, never another one),
    /// and whatever its connector requires of an edit.
    pub fn validate_edit(&self, proposed: &Action) -> Result<(), String> {
        let was = self::secret_refs(proposed);
        if let Some(new) = self::secret_refs(self).difference(&was).next() {
            return Err(format!(
                "the edit names {new}, which the proposed action does not use: an edit may keep, move or remove the proposed action's secrets ({}), not add another",
                if was.is_empty() {
                    "it has none".to_string()
                } else {
                    was.iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
        match self.validate_edit_of(proposed) {
            Some(r) => r,
            None => Err(format!(
                "the edit turns a {} action into a {} action; an edit may change the action, not its kind",
                proposed.kind(),
                self.kind()
            )),
        }
    }

    /// The action with its secret placeholders resolved (in memory) and validated
    /// again (a value may not fit, like a header value with a line break).
    fn resolved(self, secrets: &Secrets) -> Result<Action, String> {
        let json = serde_json::to_value(&self).map_err(|e| e.to_string())?;
        if !json.to_string().contains("secret") {
            return Ok(self);
        }
        let resolved = secrets.resolve_json(&json).map_err(|e| match e.hint {
            Some(h) => format!("{}; {h}", e.message),
            None => e.message,
        })?;
        let action: Action = serde_json::from_value(resolved).map_err(|e| e.to_string())?;
        action
            .validate()
            .map_err(|e| format!("with its secrets put in, the action is not valid: {e}"))?;
        Ok(action)
    }

    /// One line for listings.
    pub fn summary(&self) -> String {
        truncate_line(&self.summary_line(), 100)
    }

    /// Commit the action, within `timeout`, as `persona`.
    ///
    /// The trust layer checks the persona's scopes here again before anything
    /// happens (an approved edit, or a persona narrowed since the proposal, cannot
    /// take the action out of scope). Secret placeholders are resolved here, in
    /// memory, right before the connector runs (nothing resolved is journaled).
    pub async fn commit(
        self,
        res: &Resources,
        timeout: Option<Duration>,
        persona: &crate::trust::Persona,
    ) -> Result<Json, ExecError> {
        persona.check(&self).map_err(ExecError::fatal)?;
        // The summary is of the sealed action: placeholders, never values.
        let summary = self.summary();
        let secrets = res.secrets();
        let action = self
            .resolved(secrets)
            .map_err(|e| ExecError::fatal(secrets.redact(&e)))?;
        let after_timeout = action.after_timeout();
        let fut = action.commit_now(res);
        let result = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(match after_timeout {
                    AfterTimeout::Retry => ExecError::transient(format!(
                        "timed out after {} ({}; it was stopped)",
                        crate::clock::format_duration(t),
                        summary
                    )),
                    AfterTimeout::Ask => ExecError {
                        blame: Blame::Target,
                        ..ExecError::unknown(format!(
                            "timed out after {} ({}; it was stopped, and may have taken effect before)",
                            crate::clock::format_duration(t),
                            summary
                        ))
                    },
                }),
            },
            None => fut.await,
        };
        // What comes back is redacted before anything keeps or shows it.
        match result {
            Ok(mut out) => {
                let _ = secrets.redact_json(&mut out);
                Ok(out)
            }
            Err(mut e) => {
                e.message = secrets.redact(&e.message);
                Err(e)
            }
        }
    }
}

/// The secrets an action names (its placeholders).
pub fn secret_refs(action: &Action) -> std::collections::BTreeSet<crate::secrets::SecretRef> {
    let mut out = std::collections::BTreeSet::new();
    if let Ok(j) = serde_json::to_value(action) {
        collect_refs(&j, &mut out);
    }
    out
}

fn collect_refs(j: &Json, out: &mut std::collections::BTreeSet<crate::secrets::SecretRef>) {
    match j {
        Json::String(s) => out.extend(crate::secrets::placeholder::refs(s)),
        Json::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Json::Object(map) => {
            for (k, v) in map {
                out.extend(crate::secrets::placeholder::refs(k));
                collect_refs(v, out);
            }
        }
        _ => {}
    }
}

/// First line of `s`, cut to `max` chars with an ellipsis.
pub fn truncate_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    let multi = s.lines().nth(1).is_some();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else if multi {
        format!("{line} …")
    } else {
        line.to_string()
    }
}

/// Cut a captured text to `max` bytes (at a char boundary), noting how much was cut.
pub fn cap_text(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[… {} cut]",
        &s[..end],
        crate::text::count(s.len() - end, "more byte")
    )
}

#[cfg(test)]
mod tests;
