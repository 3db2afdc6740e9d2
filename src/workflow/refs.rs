//! Cross-checks between steps: unique ids, `needs` (resolved to indices, no cycles)
//! and what each template reads (declared inputs, steps the step depends on).

use std::collections::{HashMap, HashSet};

use super::diag::Diagnostic;
use super::kinds::Kind;
use super::model::SecretUse;
use super::parse::{Draft, DraftStep};
use super::read::{Cx, Span};
use super::suggest::{did_you_mean, suggest};
use crate::template;

/// Check ids, needs and template references (secrets included); returns each
/// step's needs as indices, and the secrets the steps read.
pub(crate) fn check(cx: &mut Cx, draft: &Draft, source: &str) -> (Vec<Vec<usize>>, Vec<SecretUse>) {
    let steps = &draft.steps;
    let ids = unique_ids(cx, steps, source);
    let (needs, needs_bad) = resolve_needs(cx, steps, &ids);
    let cyclic = report_cycles(cx, steps, &needs);
    let plain: Vec<Vec<usize>> = needs
        .iter()
        .map(|edges| edges.iter().map(|(j, _)| *j).collect())
        .collect();
    let mut graph = Ancestry::new(&plain);
    let inputs: Vec<&str> = draft.inputs.iter().map(|i| i.name.as_str()).collect();
    let mut secrets = Vec::new();
    let secret_inputs: Vec<&str> = draft
        .inputs
        .iter()
        .filter(|i| i.secret)
        .map(|i| i.name.as_str())
        .collect();
    for (i, step) in steps.iter().enumerate() {
        let check_needs = !cyclic && !needs_bad[i];
        check_uses(
            cx,
            i,
            step,
            &step.uses,
            false,
            &ids,
            &inputs,
            check_needs.then_some(&mut graph),
        );
        check_secrets(cx, i, step, &secret_inputs, &mut secrets);
        if let Some(undo) = &step.undo {
            check_uses(
                cx,
                i,
                step,
                &undo.uses,
                true,
                &ids,
                &inputs,
                check_needs.then_some(&mut graph),
            );
            check_undo_secrets(cx, i, step, &undo.uses, &secret_inputs, &mut secrets);
        }
    }
    (plain, secrets)
}

/// Secrets are read by steps that act (connectors), outside their `when`: put in at
/// commit, never in an LLM's prompt, a computed value or a condition.
fn check_secrets(
    cx: &mut Cx,
    i: usize,
    step: &DraftStep,
    secret_inputs: &[&str],
    out: &mut Vec<SecretUse>,
) {
    let Some(kind) = step.spec.as_ref().map(|s| s.kind()) else {
        return;
    };
    let me = step.describe(i);
    let acts = matches!(kind, Kind::Connector(_));
    for u in &step.uses {
        for name in &u.literal {
            if acts {
                cx.push(
                    Diagnostic::new(format!(
                        "`secret(\"{name}\")` here is plain text, not the secret"
                    ))
                    .at(u.span.clone())
                    .label("outside {{ }}")
                    .hint(format!(
                        "write {{{{ secret(\"{name}\") }}}} to put the secret in"
                    )),
                );
            }
        }
        let reads: Vec<String> = u
            .secrets
            .iter()
            .map(|n| format!("secret(\"{n}\")"))
            .chain(
                (u.condition && u.vars.iter().any(|v| v == "secret")).then(|| "secret".to_string()),
            )
            .chain(u.vars.iter().filter_map(|v| {
                let name = v.strip_prefix("inputs.")?.split('.').next()?;
                secret_inputs
                    .contains(&name)
                    .then(|| format!("inputs.{name}"))
            }))
            .collect();
        let Some(first) = reads.first() else {
            continue;
        };
        let d = if u.dry {
            Diagnostic::new(format!("the `dry_output` of {me} reads `{first}`"))
                .label("a dry run's output cannot read a secret")
                .hint("a dry run's output is kept in the journal: write a stand-in value")
        } else if u.condition {
            Diagnostic::new(format!("the `when` condition of {me} reads `{first}`"))
                .label("a condition cannot read a secret")
                .hint("a condition decides before anything is committed; test something else")
        } else if kind == Kind::Agent {
            Diagnostic::new(format!(
                "{me} is an agent step: `{first}` would go to an LLM, and a secret never goes to an LLM"
            ))
            .label("reads a secret")
            .hint("read secrets in the steps that act (shell, http, file): they are put in when the action is committed")
        } else if !acts {
            Diagnostic::new(format!(
                "{me} is a `{}` step: it cannot read `{first}`",
                kind.name()
            ))
            .label("reads a secret")
            .hint(format!(
                "secrets are read by the steps that act (shell, http, file), where they are put in at commit; a {} step would only pass the name on",
                kind.name()
            ))
        } else {
            for name in &u.secrets {
                if !out.iter().any(|s: &SecretUse| &s.name == name) {
                    out.push(SecretUse {
                        name: name.clone(),
                        span: u.span.clone(),
                    });
                }
            }
            continue;
        };
        cx.push(d.at(u.span.clone()));
    }
}

/// An undo acts, so it may read secrets (put in at commit); not a secret input: an
/// undo runs in a compensation run, after its run's secret inputs may be gone.
fn check_undo_secrets(
    cx: &mut Cx,
    i: usize,
    step: &DraftStep,
    uses: &[super::read::TemplateUse],
    secret_inputs: &[&str],
    out: &mut Vec<SecretUse>,
) {
    let me = format!("the undo of {}", step.describe(i));
    for u in uses {
        for name in &u.literal {
            cx.push(
                Diagnostic::new(format!(
                    "`secret(\"{name}\")` here is plain text, not the secret"
                ))
                .at(u.span.clone())
                .label("outside {{ }}")
                .hint(format!(
                    "write {{{{ secret(\"{name}\") }}}} to put the secret in"
                )),
            );
        }
        let secret_input = u.vars.iter().find_map(|v| {
            let name = v.strip_prefix("inputs.")?.split('.').next()?;
            secret_inputs.contains(&name).then_some(name)
        });
        if let Some(name) = secret_input {
            cx.push(
                Diagnostic::new(format!("{me} reads the secret input `inputs.{name}`"))
                    .at(u.span.clone())
                    .label("a secret input")
                    .hint("an undo runs in a compensation run, when the run's secret inputs may be gone: keep the value with `aios secret set NAME` and read it with {{ secret(\"NAME\") }}"),
            );
            continue;
        }
        for name in &u.secrets {
            if !out.iter().any(|s: &SecretUse| &s.name == name) {
                out.push(SecretUse {
                    name: name.clone(),
                    span: u.span.clone(),
                });
            }
        }
    }
}

fn line_of(source: &str, at: usize) -> usize {
    source
        .as_bytes()
        .iter()
        .take(at.min(source.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn unique_ids<'d>(cx: &mut Cx, steps: &'d [DraftStep], source: &str) -> HashMap<&'d str, usize> {
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let Some(id) = s.id.as_deref() else { continue };
        if let Some(&first) = ids.get(id) {
            let line = line_of(source, steps[first].id_span.start);
            cx.push(
                Diagnostic::new(format!("duplicate step id `{id}`"))
                    .at(s.id_span.clone())
                    .label("used again here")
                    .hint(format!(
                        "the first step `{id}` is on line {line}; give each step its own id"
                    )),
            );
        } else {
            ids.insert(id, i);
        }
    }
    ids
}

type Edges = Vec<Vec<(usize, Option<Span>)>>;

fn resolve_needs(
    cx: &mut Cx,
    steps: &[DraftStep],
    ids: &HashMap<&str, usize>,
) -> (Edges, Vec<bool>) {
    let mut edges: Edges = Vec::with_capacity(steps.len());
    let mut bad = vec![false; steps.len()];
    for (i, s) in steps.iter().enumerate() {
        let mut out: Vec<(usize, Option<Span>)> = Vec::new();
        match &s.needs {
            None if i > 0 => out.push((i - 1, None)),
            None => {}
            Some(list) => {
                for (name, span) in list {
                    match ids.get(name.as_str()) {
                        Some(&j) => {
                            if !out.iter().any(|(k, _)| *k == j) {
                                out.push((j, Some(span.clone())));
                            }
                        }
                        None => {
                            bad[i] = true;
                            let hint =
                                did_you_mean(name, ids.keys().copied()).unwrap_or_else(|| {
                                    "`needs` lists the ids of other steps".to_string()
                                });
                            cx.push(
                                Diagnostic::new(format!(
                                    "{} needs `{name}`, which is not a step",
                                    s.describe(i)
                                ))
                                .at(span.clone())
                                .label("no step has this id")
                                .hint(hint),
                            );
                        }
                    }
                }
            }
        }
        edges.push(out);
    }
    (edges, bad)
}

fn name(steps: &[DraftStep], i: usize) -> String {
    steps[i].id.clone().unwrap_or_else(|| format!("#{}", i + 1))
}

/// Find dependency cycles with an iterative DFS; one diagnostic per cycle found.
/// Returns whether there was any.
fn report_cycles(cx: &mut Cx, steps: &[DraftStep], edges: &Edges) -> bool {
    const WHITE: u8 = 0;
    const GRAY: u8 = 1;
    const BLACK: u8 = 2;
    let n = edges.len();
    let mut color = vec![WHITE; n];
    let mut in_reported = vec![false; n];
    let mut any = false;
    for root in 0..n {
        if color[root] != WHITE {
            continue;
        }
        // (node, next edge to explore)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = GRAY;
        while let Some(&mut (u, ref mut next)) = stack.last_mut() {
            if let Some((v, _)) = edges[u].get(*next) {
                let v = *v;
                *next += 1;
                match color[v] {
                    WHITE => {
                        color[v] = GRAY;
                        stack.push((v, 0));
                    }
                    GRAY => {
                        let from = stack.iter().position(|(x, _)| *x == v).unwrap_or(0);
                        let cycle: Vec<usize> = stack[from..].iter().map(|(x, _)| *x).collect();
                        any = true;
                        if cycle.iter().all(|x| !in_reported[*x]) {
                            for x in &cycle {
                                in_reported[*x] = true;
                            }
                            cx.push(cycle_diag(steps, edges, &cycle));
                        }
                    }
                    _ => {}
                }
            } else {
                color[u] = BLACK;
                stack.pop();
            }
        }
    }
    any
}

/// `dependency cycle: a -> b -> a`, following `needs`, starting at the first step in
/// the file whose edge in the cycle is written out (so the span points at it).
fn cycle_diag(steps: &[DraftStep], edges: &Edges, cycle: &[usize]) -> Diagnostic {
    let len = cycle.len();
    let edge_span = |k: usize| {
        let (u, v) = (cycle[k], cycle[(k + 1) % len]);
        edges[u]
            .iter()
            .find(|(x, _)| *x == v)
            .and_then(|(_, s)| s.clone())
    };
    let start = (0..len)
        .filter(|k| edge_span(*k).is_some())
        .min_by_key(|k| cycle[*k])
        .or_else(|| (0..len).min_by_key(|k| cycle[*k]))
        .unwrap_or(0);
    let mut names: Vec<String> = (0..len)
        .map(|k| name(steps, cycle[(start + k) % len]))
        .collect();
    names.push(name(steps, cycle[start]));
    let span = edge_span(start).unwrap_or_else(|| steps[cycle[start]].span.clone());
    Diagnostic::new(format!("dependency cycle: {}", names.join(" -> ")))
        .at(span)
        .label("this dependency closes the cycle")
        .hint("remove one of these dependencies so the steps can run in order (a step without `needs` waits for the step before it)")
}

/// Ancestor queries over `needs`: direct edges first, then a DFS that reuses one
/// stamped visited array (O(n) memory).
struct Ancestry<'a> {
    needs: &'a [Vec<usize>],
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<usize>,
}

impl<'a> Ancestry<'a> {
    fn new(needs: &'a [Vec<usize>]) -> Self {
        Ancestry {
            needs,
            seen: vec![0; needs.len()],
            stamp: 0,
            stack: Vec::new(),
        }
    }

    /// Whether step `i` (transitively) needs step `j`.
    fn depends_on(&mut self, i: usize, j: usize) -> bool {
        if self.needs[i].contains(&j) {
            return true;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        self.stack.clear();
        self.stack.extend_from_slice(&self.needs[i]);
        while let Some(u) = self.stack.pop() {
            if u == j {
                return true;
            }
            if self.seen[u] == self.stamp {
                continue;
            }
            self.seen[u] = self.stamp;
            self.stack.extend_from_slice(&self.needs[u]);
        }
        false
    }
}

/// Check what the templates `uses` of step `i` read: its own templates, or (when
/// `uses` is its undo's) those of its `undo`, which may also read `output`.
#[allow(clippy::too_many_arguments)]
fn check_uses(
    cx: &mut Cx,
    i: usize,
    step: &DraftStep,
    uses: &[super::read::TemplateUse],
    undo: bool,
    ids: &HashMap<&str, usize>,
    inputs: &[&str],
    mut graph: Option<&mut Ancestry<'_>>,
) {
    let me = if undo {
        format!("the undo of {}", step.describe(i))
    } else {
        step.describe(i)
    };
    for u in uses {
        let mut said: HashSet<String> = HashSet::new();
        for var in &u.vars {
            let parts: Vec<&str> = var.split('.').collect();
            let d = match parts.as_slice() {
                ["inputs", name, ..] if !inputs.contains(name) => Some(
                    Diagnostic::new(format!("unknown input `{name}`"))
                        .label("not a declared input")
                        .hint(
                            did_you_mean(name, inputs.iter().copied())
                                .unwrap_or_else(|| format!("declare it in an [inputs.{name}] table")),
                        ),
                ),
                ["inputs", ..] | ["run", ..] | ["facts", ..] | ["config", ..] => None,
                ["output", ..] if undo => None,
                ["steps", sid, rest @ ..] => match ids.get(sid) {
                    None => Some(
                        Diagnostic::new(format!("unknown step `{sid}`"))
                            .label("no step has this id")
                            .hint(
                                did_you_mean(sid, ids.keys().copied())
                                    .unwrap_or_else(|| "templates read `steps.<id>.output`".to_string()),
                            ),
                    ),
                    Some(&j) if j == i && undo => Some(
                        Diagnostic::new(format!("{me} reads `steps.{sid}`"))
                            .label(format!("`steps.{sid}` is the step it undoes"))
                            .hint(format!(
                                "an undo reads its step's output as `output`: write `{}`",
                                std::iter::once("output")
                                    .chain(rest.iter().skip(1).copied())
                                    .collect::<Vec<_>>()
                                    .join(".")
                            )),
                    ),
                    Some(&j) if j == i => Some(
                        Diagnostic::new(format!("{me} reads its own result"))
                            .label(format!("`steps.{sid}` is this step"))
                            .hint("a step can only read the steps it depends on"),
                    ),
                    Some(&j) if graph.as_mut().is_some_and(|g| !g.depends_on(i, j)) => Some(
                        Diagnostic::new(format!("{me} reads `steps.{sid}` but does not depend on it"))
                            .label("not among this step's needs")
                            .hint(format!("add \"{sid}\" to `needs` of {me}")),
                    ),
                    Some(_) => match rest.first() {
                        Some(field) if !matches!(*field, "output" | "status") => Some(
                            Diagnostic::new(format!("unknown step field `{field}` in `{var}`"))
                                .label("not a step field")
                                .hint(match suggest(field, ["output", "status"]) {
                                    Some(f) => format!("did you mean `steps.{sid}.{f}`?"),
                                    None => format!(
                                        "a step exposes `output` and `status`; did you mean `steps.{sid}.output.{}`?",
                                        rest.join(".")
                                    ),
                                }),
                        ),
                        _ => None,
                    },
                },
                ["steps"] => None,
                [head, ..] if template::env().globals().any(|(g, _)| g == *head) => None,
                [head, ..] => {
                    let base = "templates can read inputs, steps and run";
                    Some(
                        Diagnostic::new(format!("unknown variable `{head}`"))
                            .label("not defined")
                            .hint(match did_you_mean(head, template::GLOBALS.iter().copied()) {
                                Some(d) => format!("{d} {base}"),
                                None => base.to_string(),
                            }),
                    )
                }
                [] => None,
            };
            if let Some(d) = d
                && said.insert(d.message.clone())
            {
                cx.push(d.at(u.span.clone()));
            }
        }
    }
}
