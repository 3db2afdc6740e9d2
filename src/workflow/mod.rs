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
pub mod library;
pub mod model;
mod parse;
mod persona;
pub(crate) mod read;
mod refs;
pub mod schema;
pub mod suggest;
pub mod trigger;
pub mod undo;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_agent;
#[cfg(test)]
mod tests_refs;
#[cfg(test)]
mod tests_timers;
#[cfg(test)]
mod tests_undo;

pub(crate) use context::read_context;
pub use diag::{Diagnostic, Diagnostics, render};
pub use duration::parse_duration;
pub use inputs::{check_json, convert, resolve_inputs, resolve_typed_inputs, split_secret_inputs};
pub use kinds::{
    AgentSpec, ApprovalSpec, Asks, FactSpec, FieldDecl, Idempotent, Kind, MemoryFind, MemorySpec,
    OutcomeSpec, Policy, RememberSpec, SetSpec, StepSpec, Timeout, WaitSpec,
};
pub use model::*;
pub(crate) use parse::type_article;
pub use persona::{TAG_HINT, valid_tag};
pub use trigger::{CatchUp, Overlap, Trigger, resolve_json_inputs};
pub use undo::OnFailure;

/// Parse and validate a workflow. `origin` names the file in messages (rendering
/// is [`render`]'s job; it is not used here).
pub fn load(source: &str, origin: &str) -> Result<Workflow, Diagnostics> {
    let _ = origin;
    if let Some(d) = too_large(source) {
        return Err(vec![d].into());
    }
    let (root, errors) = toml::de::DeTable::parse_recoverable(source);
    if !errors.is_empty() {
        let mut diags = Diagnostics::default();
        for e in &errors {
            diags.push(toml_error(e.message(), e.span()));
        }
        diags.sort();
        return Err(diags);
    }
    let mut cx = read::Cx {
        templates: read::precheck_templates(root.get_ref()),
        ..read::Cx::default()
    };
    let draft = parse::read_document(&mut cx, root.get_ref());
    let (needs, secrets) = refs::check(&mut cx, &draft, source);
    if cx.count() > 0 {
        cx.diags.sort();
        return Err(cx.diags);
    }
    let mut steps = Vec::with_capacity(draft.steps.len());
    for (s, needs) in draft.steps.into_iter().zip(needs) {
        let (Some(id), Some(spec)) = (s.id, s.spec) else {
            // Only reachable with a diagnostic, which returned above.
            return Err(vec![Diagnostic::new("internal error: incomplete step")].into());
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
            persona: s.persona,
            runs_on: s.runs_on,
            undo: s.undo.and_then(|u| u.spec),
            dry_output: s.dry_output,
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
        on_failure: draft.on_failure,
        secrets,
        persona: draft.persona,
        autonomy: draft.autonomy,
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

/// A workflow is a small file. Past this many TOML tokens (keys, values,
/// punctuation, runs of blanks, comments) a file is refused before it is parsed:
/// parsing costs about 100 bytes of memory per token, so `aios check` stays within
/// about 50 MB whatever the file. (`workflows/launch.toml` has about 1,200 tokens;
/// a workflow of 2,000 steps, about 70,000.)
pub const MAX_TOKENS: usize = 500_000;

/// The diagnostic of a file with more than [`MAX_TOKENS`] tokens, placed where the
/// limit is reached. One pass of the lexer, nothing kept.
fn too_large(source: &str) -> Option<Diagnostic> {
    let t = toml_parser::Source::new(source).lex().nth(MAX_TOKENS)?;
    let span = t.span();
    Some(
        Diagnostic::new(format!(
            "the file is too large for a workflow: it has more than {MAX_TOKENS} TOML tokens"
        ))
        .at(span.start()..span.end())
        .label("the limit is reached here")
        .hint("a workflow is a small file: keep large data in files its steps read"),
    )
}

/// The diagnostic of a file that is not UTF-8, at its first invalid byte (`at`,
/// a byte offset: the text before it is valid UTF-8).
pub fn not_utf8(bytes: &[u8], at: usize) -> Diagnostics {
    let byte = bytes.get(at).copied().unwrap_or(0);
    vec![
        Diagnostic::new(format!(
            "the file is not UTF-8 text: byte 0x{byte:02X} cannot be read as UTF-8"
        ))
        .at(at..at + 1)
        .label("not UTF-8")
        .hint("save the file as UTF-8 (a workflow is a UTF-8 TOML file)"),
    ]
    .into()
}

/// A TOML syntax error as a diagnostic, in words for people.
fn toml_error(message: &str, span: Option<std::ops::Range<usize>>) -> Diagnostic {
    let message = message.trim();
    let d = if message.contains("max recursion depth") {
        Diagnostic::new(
            "invalid TOML: arrays and tables are nested too deeply (the limit is 80 levels)",
        )
        .label("the limit is reached here")
        .hint("a workflow needs far fewer levels: flatten this value")
    } else {
        Diagnostic::new(format!("invalid TOML: {message}"))
            .label("here")
            .hint("see https://toml.io for the syntax")
    };
    // Every syntax error has its place; one without is placed at the start.
    d.at(span.unwrap_or(0..0))
}
