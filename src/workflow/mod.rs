//! Workflow files: TOML source -> spanned tree -> validated [`Workflow`].
//!
//! Parse, then validate; nothing raw leaves this module. Every mistake becomes a
//! [`Diagnostic`] with a span, and all of a file's mistakes are reported together.
//!
//! Map: `parse` reads the document and each step's common keys, `kinds` the step
//! kinds (one file per built-in kind, with its fields and [`Policy`]; connector kinds
//! are in [`crate::connectors`]), `deadline` decision deadlines, `read` typed reads of
//! TOML values, `refs` the cross-step checks (ids, needs, cycles, template
//! references), `inputs` the `--input` values, `duration` and `suggest` small
//! helpers, `diag` diagnostics and their rendering.

mod context;
mod deadline;
pub mod diag;
pub mod duration;
mod inputs;
pub(crate) mod kinds;
pub mod model;
mod parse;
pub(crate) mod read;
mod refs;
pub mod suggest;
pub mod trigger;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_agent;
#[cfg(test)]
mod tests_refs;
#[cfg(test)]
mod tests_timers;

pub(crate) use context::read_context;
pub use diag::{Diagnostic, render};
pub use duration::parse_duration;
pub use inputs::{check_json, convert, resolve_inputs, resolve_typed_inputs, split_secret_inputs};
pub use kinds::{
    AgentSpec, ApprovalSpec, Asks, FactSpec, FieldDecl, Idempotent, Kind, OutcomeSpec, Policy,
    RememberSpec, SetSpec, StepSpec, Timeout, WaitSpec,
};
pub use model::*;
pub use trigger::{CatchUp, Overlap, Trigger, resolve_json_inputs};

/// Parse and validate a workflow. `origin` names the file in messages (rendering
/// is [`render`]'s job; it is not used here).
pub fn load(source: &str, origin: &str) -> Result<Workflow, Vec<Diagnostic>> {
    let _ = origin;
    let (root, errors) = toml::de::DeTable::parse_recoverable(source);
    if !errors.is_empty() {
        let mut diags: Vec<Diagnostic> = errors
            .iter()
            .map(|e| {
                let d = Diagnostic::new(format!("invalid TOML: {}", e.message().trim()))
                    .label("here")
                    .hint("see https://toml.io for the syntax");
                match e.span() {
                    Some(s) => d.at(s),
                    None => d,
                }
            })
            .collect();
        sort(&mut diags);
        return Err(diags);
    }
    let mut cx = read::Cx::default();
    let draft = parse::read_document(&mut cx, root.get_ref());
    let (needs, secrets) = refs::check(&mut cx, &draft, source);
    if !cx.diags.is_empty() {
        sort(&mut cx.diags);
        return Err(cx.diags);
    }
    let mut steps = Vec::with_capacity(draft.steps.len());
    for (s, needs) in draft.steps.into_iter().zip(needs) {
        let (Some(id), Some(spec)) = (s.id, s.spec) else {
            // Only reachable with a diagnostic, which returned above.
            return Err(vec![Diagnostic::new("internal error: incomplete step")]);
        };
        steps.push(Step {
            id,
            needs,
            when: s.when,
            timeout: s.timeout,
            retry: s.retry,
            approve: s.approve,
            on_reject: s.on_reject,
            idempotent: s.idempotent,
            deadline: s.deadline,
            spec,
        });
    }
    Ok(Workflow {
        name: draft.name.unwrap_or_default(),
        description: draft.description,
        inputs: draft.inputs,
        defaults: draft.defaults,
        max_parallel: draft.max_parallel,
        steps,
        trigger: draft.trigger,
        budget: draft.budget,
        secrets,
    })
}

/// The secrets `wf` reads that `known` does not have: one diagnostic each, at the
/// template that reads it, with the command that sets it.
pub fn unknown_secrets(wf: &Workflow, known: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
    wf.secrets
        .iter()
        .filter(|u| !known(&u.name))
        .map(|u| {
            Diagnostic::new(format!("unknown secret `{}`", u.name))
                .at(u.span.clone())
                .label("not in the secret store")
                .hint(format!("aios secret set {}", u.name))
        })
        .collect()
}

/// Order diagnostics by where they start in the file (those without a span first).
fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
}
