//! The trust layer, between render and commit: personas with capability scopes
//! ([`persona`]), checked when an action is rendered ([`crate::connectors::render`])
//! and again before it is committed ([`crate::connectors::Action::commit`]) and when
//! an edit is approved ([`crate::inbox::decide`]); the literal violations `aios check`
//! reports ([`literals`]); and autonomy rules that let a step's proposals be decided
//! by policy once the operator approved them unchanged often enough ([`autonomy`]),
//! through the one decision path, journaled as decided by `policy:NAME`.

pub mod autonomy;
pub mod literals;
pub mod persona;

use std::path::Path;
use std::sync::Arc;

pub use autonomy::{Candidate, Mode, Rule, Verdict};
pub use persona::{Persona, Personas, SandboxRule};

use crate::config::ConfigFile;
use crate::error::{Error, Result};

/// Who a policy decision is journaled as: `policy:NAME`.
pub const POLICY_PREFIX: &str = "policy:";

/// `policy:NAME`.
pub fn policy_decider(rule: &str) -> String {
    format!("{POLICY_PREFIX}{rule}")
}

/// The trust settings of the config file: personas and `[[autonomy]]` rules.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    pub personas: Personas,
    /// The config's rules (a workflow's own come first, see [`TrustSettings::rules_for`]).
    pub rules: Vec<Rule>,
}

impl Default for TrustSettings {
    fn default() -> Self {
        let mut personas = Personas::default();
        personas
            .by_name
            .insert(persona::DEFAULT.into(), Persona::open());
        TrustSettings {
            personas,
            rules: Vec::new(),
        }
    }
}

impl TrustSettings {
    /// The persona a step runs under: its own `persona`, else its workflow's, else
    /// `default`. `None` when that name is not configured.
    pub fn persona_of(
        &self,
        wf: &crate::workflow::Workflow,
        step: &crate::workflow::Step,
    ) -> std::result::Result<Arc<Persona>, String> {
        let name = step
            .persona
            .as_deref()
            .or(wf.persona.as_deref())
            .unwrap_or(persona::DEFAULT);
        self.personas
            .by_name
            .get(name)
            .map(|p| Arc::new(p.clone()))
            .ok_or_else(|| {
                format!(
                    "persona `{name}` is not configured (config.toml has: {})",
                    self.personas.known()
                )
            })
    }

    /// The rules that apply to `wf`'s proposals: its own `[[autonomy]]`, then the
    /// config's.
    pub fn rules_for(&self, wf: &crate::workflow::Workflow) -> Vec<Rule> {
        wf.autonomy.iter().chain(&self.rules).cloned().collect()
    }
}

/// Read `[personas.*]` and `[[autonomy]]` from the config file. `home` expands `~/`
/// in file roots.
pub fn from_config(cfg: &ConfigFile, home: Option<&Path>) -> Result<TrustSettings> {
    let origin = cfg.origin();
    let base = cfg
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut s = TrustSettings::default();
    if let Some(v) = cfg.section("personas") {
        let t = v.as_table().ok_or_else(|| {
            Error::invalid(format!("{origin}: `personas` must be a table of personas"))
                .with_hint("write each as [personas.NAME]")
        })?;
        for (name, v) in t {
            let p = persona::read(&origin, name, v, home, &base)?;
            s.personas.by_name.insert(name.clone(), p);
        }
    }
    if let Some(v) = cfg.section("autonomy") {
        let items = v.as_array().ok_or_else(|| {
            Error::invalid(format!("{origin}: `autonomy` must be a list of rules"))
                .with_hint("write each rule as [[autonomy]]")
        })?;
        for item in items {
            let json = serde_json::to_value(item).map_err(|e| Error::invalid(e.to_string()))?;
            let rule = autonomy::read_rule(&json, None).map_err(|e| {
                Error::invalid(format!("{origin}: {e}"))
                    .with_hint("see \"Autonomy\" in the README for the rule's keys")
            })?;
            if s.rules.iter().any(|r| r.name == rule.name) {
                return Err(Error::invalid(format!(
                    "{origin}: two [[autonomy]] rules are named `{}`",
                    rule.name
                ))
                .with_hint(
                    "give each rule its own name (decisions are journaled as policy:NAME)",
                ));
            }
            s.rules.push(rule);
        }
    }
    Ok(s)
}
