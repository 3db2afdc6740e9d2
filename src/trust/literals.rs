//! What `aios check` (and every command that loads a workflow) can tell about
//! personas before anything runs: a persona that is not configured, and literal
//! values a step's persona does not allow (a URL's host or the method, a program,
//! a file root, a tool, a model alias, a secret), each with its place in the file.
//! Templated values are checked when they are rendered.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::TrustSettings;
use super::persona::{self, Persona};
use crate::connectors::{ActionSpec, Touch};
use crate::workflow::read::{get, key_span};
use crate::workflow::{Diagnostic, StepSpec, Workflow};

fn literal(s: &str) -> bool {
    !s.contains("{{") && !s.contains("{%")
}

fn span_of(t: Option<&DeTable<'_>>, key: &str) -> Option<Range<usize>> {
    get(t?, key).map(|v| v.span())
}

fn refuse(e: String, at: Range<usize>) -> Diagnostic {
    Diagnostic::new(e)
        .at(at)
        .label("not allowed by the persona")
        .hint("change the value, run the step under another persona (`persona = \"NAME\"`), or widen the persona in config.toml (`aios persona show NAME`)")
}

/// The persona problems of a loaded workflow `wf` (from `source`, in `dir`).
///
/// Every command that loads a workflow asks this, and most workflows have no
/// problem: the file is parsed again (for the problems' places) only when there is
/// one, or when secrets must be placed in their steps. Places do not change which
/// problems there are.
pub fn check(wf: &Workflow, source: &str, dir: &Path, trust: &TrustSettings) -> Vec<Diagnostic> {
    let secrets = wf.secrets.iter().any(|u| !u.name.starts_with("inputs."));
    if !secrets && problems(wf, None, dir, trust).is_empty() {
        return Vec::new();
    }
    let Ok(root) = DeTable::parse(source) else {
        return Vec::new();
    };
    problems(wf, Some(root.get_ref()), dir, trust)
}

/// [`check`] with the parsed file `root` to place each problem; without it, every
/// problem is placed at the file's start and secrets are not checked.
fn problems(
    wf: &Workflow,
    root: Option<&DeTable<'_>>,
    dir: &Path,
    trust: &TrustSettings,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let unknown = |name: &str, at: Range<usize>| {
        Diagnostic::new(format!("persona `{name}` is not configured"))
            .at(at)
            .label("no such persona")
            .hint(format!(
                "add [personas.{name}] to config.toml, or name one of: {} (aios persona list)",
                trust.personas.known()
            ))
    };
    let wf_span = span_of(root, "persona").unwrap_or(0..0);
    if let Some(name) = &wf.persona
        && trust.personas.get(Some(name)).is_none()
    {
        out.push(unknown(name, wf_span.clone()));
    }
    let tables: Vec<(Range<usize>, Option<&DeTable<'_>>)> = match root {
        None => wf.steps.iter().map(|_| (0..0, None)).collect(),
        Some(root) => match get(root, "steps").map(|v| (v.span(), v.get_ref())) {
            Some((_, DeValue::Array(items))) => items
                .iter()
                .filter_map(|i| match i.get_ref() {
                    DeValue::Table(t) => Some((i.span(), Some(t))),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
    };
    let mut personas: Vec<Option<&Persona>> = Vec::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let Some((span, t)) = tables.get(i) else {
            personas.push(None);
            continue;
        };
        let t = *t;
        let name = step
            .persona
            .as_deref()
            .or(wf.persona.as_deref())
            .unwrap_or(persona::DEFAULT);
        let Some(p) = trust.personas.get(Some(name)) else {
            if step.persona.is_some() {
                out.push(unknown(name, span_of(t, "persona").unwrap_or(span.clone())));
            }
            personas.push(None);
            continue;
        };
        personas.push(Some(p));
        let at = |key: &str| span_of(t, key).unwrap_or(span.clone());
        let mut touch = |touch: Touch, at: Range<usize>| {
            if let Err(e) = p.check_touch(&touch) {
                out.push(refuse(e, at));
            }
        };
        match &step.spec {
            StepSpec::Action(ActionSpec::Http(h)) => {
                if let Err(e) = p.check_method(&h.method) {
                    out.push(refuse(e, at("method")));
                }
                if literal(&h.url)
                    && let Err(e) = p.check_url(&h.url)
                {
                    out.push(refuse(e, at("url")));
                }
            }
            StepSpec::Action(ActionSpec::Shell(s)) => {
                let (program, at) = match &s.script {
                    Some(_) => (Some("sh".to_string()), at("script")),
                    None => {
                        let at0 = match t.and_then(|t| get(t, "argv")).map(|v| v.get_ref()) {
                            Some(DeValue::Array(a)) if !a.is_empty() => a[0].span(),
                            _ => at("argv"),
                        };
                        (s.argv.first().filter(|a| literal(a)).cloned(), at0)
                    }
                };
                if let Some(program) = program {
                    touch(
                        Touch::Program {
                            program,
                            sandbox: s.sandbox.mode,
                        },
                        at,
                    );
                }
            }
            StepSpec::Action(ActionSpec::File(f)) => {
                let root = f.root.clone().unwrap_or_default();
                if literal(&root) {
                    let abs = if Path::new(&root).is_absolute() {
                        root.into()
                    } else {
                        dir.join(&root)
                    };
                    touch(
                        Touch::FileRoot {
                            root: abs.display().to_string(),
                        },
                        at("root"),
                    );
                }
            }
            StepSpec::Action(ActionSpec::Tool(x)) => touch(
                Touch::Tool {
                    server: x.server.clone(),
                    tool: x.tool.clone(),
                },
                t.and_then(|t| key_span(t, "tool"))
                    .map(|_| at("tool"))
                    .unwrap_or(span.clone()),
            ),
            StepSpec::Action(ActionSpec::Email(e)) => {
                if let Some(from) = e.from.as_deref().filter(|f| literal(f))
                    && let Err(why) = p.check_sender(from)
                {
                    out.push(refuse(why, at("from")));
                }
                for key in ["to", "cc", "bcc"] {
                    let value = match key {
                        "to" => &e.to,
                        "cc" => &e.cc,
                        _ => &e.bcc,
                    };
                    let addrs: Vec<&str> = match value {
                        Some(serde_json::Value::String(s)) => vec![s.as_str()],
                        Some(serde_json::Value::Array(a)) => {
                            a.iter().filter_map(|v| v.as_str()).collect()
                        }
                        _ => Vec::new(),
                    };
                    for addr in addrs.into_iter().filter(|a| literal(a)) {
                        if let Err(why) = p.check_recipient(addr) {
                            out.push(refuse(why, at(key)));
                        }
                    }
                }
            }
            StepSpec::Agent(a) => {
                for m in &a.models {
                    if let Err(e) = p.check_model(m) {
                        out.push(refuse(e, at("model")));
                    }
                }
            }
            _ => {}
        }
    }
    // Secrets read by a step's templates: the step's persona must allow them (their
    // steps are found by place).
    let placed = root.is_some();
    for u in wf
        .secrets
        .iter()
        .filter(|u| placed && !u.name.starts_with("inputs."))
    {
        let step = tables
            .iter()
            .position(|(s, _)| s.start <= u.span.start && u.span.end <= s.end);
        let p = match step {
            Some(i) => personas.get(i).copied().flatten(),
            None => trust.personas.get(wf.persona.as_deref()),
        };
        if let Some(p) = p
            && let Err(e) = p.check_secret(&u.name)
        {
            out.push(refuse(e, u.span.clone()));
        }
    }
    out.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    out
}
