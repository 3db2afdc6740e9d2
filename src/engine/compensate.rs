//! Compensation (a saga's undo): the `undo` of a run's committed steps, proposed
//! in reverse commit order as a run of its own.
//!
//! [`plan`] lists a run's committed side-effecting steps, latest first, each with
//! its `undo` rendered against the run as it ended (its inputs, the outputs of its
//! steps, and `output`: the step's own), or why it cannot be undone. [`propose`]
//! writes the renderable ones as a workflow of literal actions, `undo of run N`
//! (one step `undo_<step>` per compensation, in that order, each `approve =
//! "always"` and `on_reject = "skip"`), and starts it: the compensations are
//! ordinary proposals, reviewed, edited and approved one at a time, committed at
//! most once (idempotency keys, attention after a crash), and a compensation that
//! fails is that run's failure item. A step whose compensation succeeded in an
//! earlier compensation run is not proposed again.

use std::path::Path;

use serde_json::Value as Json;

use super::{NewRun, Observer, RunEnv, RunOutcome};
use crate::clock::Millis;
use crate::connectors::{Action, RenderCx};
use crate::error::{Error, Result};
use crate::journal::{Journal, RunStatus, StepStatus};
use crate::secrets::placeholder::as_template;
use crate::template::{Context, StepView};
use crate::workflow::{self, StepSpec};

/// What undoing a run would do.
#[derive(Debug, Clone)]
pub struct UndoPlan {
    pub run: i64,
    pub workflow: String,
    /// Its committed side-effecting steps, the latest committed first.
    pub entries: Vec<Entry>,
    /// A compensation run of it still going (running or waiting): nothing more is
    /// proposed until it ends.
    pub in_progress: Option<i64>,
}

/// One committed step and its compensation.
#[derive(Debug, Clone)]
pub struct Entry {
    pub step: String,
    /// The step's kind (`http`, `file`, …).
    pub kind: String,
    pub committed_at: Option<Millis>,
    pub undo: Undo,
    /// The persona the step ran under (its own, else its workflow's; `None`:
    /// `default`): its compensation is rendered, proposed and committed under it.
    pub persona: Option<String>,
}

/// A committed step's compensation.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Its `undo`, rendered.
    Action(Box<Action>),
    /// It declares no `undo`: it cannot be undone.
    None,
    /// Its `undo` does not render against the run (the message says why).
    Broken(String),
    /// An earlier compensation run undid it.
    Done { by: i64 },
}

impl UndoPlan {
    /// The compensations that would be proposed.
    pub fn actions(&self) -> impl Iterator<Item = (&Entry, &Action)> {
        self.entries.iter().filter_map(|e| match &e.undo {
            Undo::Action(a) => Some((e, a.as_ref())),
            _ => None,
        })
    }
}

/// The name of the compensation runs of run `run`.
pub fn workflow_name(run: i64) -> String {
    format!("undo of run {run}")
}

/// What undoing run `run_id` would do; `only` limits it to those steps (every one
/// must be a committed step of the run).
pub fn plan(journal: &Journal, run_id: i64, only: &[String], env: &RunEnv) -> Result<UndoPlan> {
    let run = journal.run(run_id)?;
    if matches!(run.status, RunStatus::Running | RunStatus::Waiting) {
        return Err(Error::conflict(format!(
            "run {run_id} is still {}; only a run that ended can be undone",
            run.status
        ))
        .with_hint(format!("cancel it first: aios cancel {run_id}")));
    }
    let wf = super::snapshot(journal, run_id)?;
    let steps = journal.steps(run_id)?;
    for name in only {
        let Some(s) = wf.steps.iter().find(|s| &s.id == name) else {
            return Err(
                Error::not_found(format!("run {run_id} has no step `{name}`"))
                    .with_hint(format!("see its steps with: aios undo --plan {run_id}")),
            );
        };
        let committed = matches!(s.spec, StepSpec::Action(_))
            && steps
                .iter()
                .any(|r| &r.step_id == name && r.status == StepStatus::Succeeded);
        if !committed {
            return Err(Error::invalid(format!(
                "step `{name}` of run {run_id} committed nothing; there is nothing to undo"
            ))
            .with_hint(format!(
                "see what can be undone with: aios undo --plan {run_id}"
            )));
        }
    }
    // Steps an earlier compensation run undid, and one still going.
    let mut undone: Vec<(String, i64)> = Vec::new();
    let mut in_progress = None;
    for (id, status) in journal.runs_of_workflow(&workflow_name(run_id))? {
        if matches!(status, RunStatus::Running | RunStatus::Waiting) {
            in_progress = Some(id);
        }
        for r in journal.steps(id)? {
            if r.status == StepStatus::Succeeded
                && let Some(step) = r.step_id.strip_prefix("undo_")
            {
                undone.push((step.to_string(), id));
            }
        }
    }
    let ctx = Context::with_secret_inputs(
        &run.inputs,
        &wf.secret_inputs(),
        run.id,
        &crate::clock::format_ms(run.created_at),
        &wf.name,
    );
    ctx.attach_facts(std::sync::Arc::new(journal.fact_reader()));
    for r in &steps {
        match r.status {
            StepStatus::Succeeded => ctx.set_step(
                &r.step_id,
                &StepView {
                    status: "succeeded",
                    output: r.output.clone().unwrap_or(Json::Null),
                },
            ),
            StepStatus::Skipped => ctx.set_step(
                &r.step_id,
                &StepView {
                    status: "skipped",
                    output: Json::Null,
                },
            ),
            _ => {}
        }
    }
    let mut committed: Vec<_> = steps
        .iter()
        .filter(|r| r.status == StepStatus::Succeeded)
        .filter_map(|r| {
            let s = wf.steps.iter().find(|s| s.id == r.step_id)?;
            matches!(s.spec, StepSpec::Action(_)).then_some((r, s))
        })
        .filter(|(r, _)| only.is_empty() || only.contains(&r.step_id))
        .collect();
    committed.sort_by_key(|(r, _)| std::cmp::Reverse((r.finished_at, r.idx)));
    let dir = Path::new(&run.dir);
    let tools = env.exec.mcp.catalog(crate::mcp::Lookup::LiveThenCache);
    let mut entries = Vec::new();
    for (r, s) in committed {
        let undo = if let Some((_, by)) = undone.iter().find(|(x, _)| x == &r.step_id) {
            Undo::Done { by: *by }
        } else {
            match (&s.undo, env.trust.persona_of(&wf, s)) {
                (None, _) => Undo::None,
                (Some(_), Err(e)) => Undo::Broken(e),
                (Some(spec), Ok(persona)) => {
                    let out = r.output.clone().unwrap_or(Json::Null);
                    let step_id = format!("undo_{}", r.step_id);
                    let rcx = RenderCx {
                        config: &env.exec.config,
                        ctx: &ctx.with_output(&out),
                        dir,
                        run_uid: &run.uid,
                        step_id: &step_id,
                        attempt: 1,
                        tools: &tools,
                        persona: &persona,
                    };
                    match crate::connectors::render(spec, &rcx) {
                        Ok(a) => Undo::Action(Box::new(a)),
                        Err(e) => Undo::Broken(e),
                    }
                }
            }
        };
        entries.push(Entry {
            step: r.step_id.clone(),
            kind: s.kind().name().to_string(),
            committed_at: r.finished_at,
            undo,
            persona: s.persona.clone().or_else(|| wf.persona.clone()),
        });
    }
    Ok(UndoPlan {
        run: run_id,
        workflow: run.workflow,
        entries,
        in_progress,
    })
}

/// Start the compensation run of `plan` (its renderable compensations, in its
/// order) in the folder of the run it undoes, and drive it until its first
/// proposal waits. `None` when there is nothing to propose.
pub fn propose(
    journal: &mut Journal,
    plan: &UndoPlan,
    env: &RunEnv,
    observer: &mut dyn Observer,
) -> Result<Option<RunOutcome>> {
    if let Some(id) = plan.in_progress {
        return Err(
            Error::conflict(format!("run {id} is undoing run {} already", plan.run)).with_hint(
                format!("decide its items (aios inbox list), or cancel it: aios cancel {id}"),
            ),
        );
    }
    let source = source(plan)?;
    let Some(source) = source else {
        return Ok(None);
    };
    let wf = workflow::load(&source, &workflow_name(plan.run)).map_err(|d| {
        Error::invalid(format!(
            "the compensation of run {} does not load: {}",
            plan.run,
            d.first().map(|d| d.message.as_str()).unwrap_or("?")
        ))
    })?;
    let run = journal.run(plan.run)?;
    let outcome = super::start(
        journal,
        NewRun {
            workflow: &wf,
            source: &source,
            path: None,
            dir: Path::new(&run.dir),
            inputs: Json::Object(Default::default()),
            uid: None,
            dry: None,
        },
        env,
        observer,
    )?;
    Ok(Some(outcome))
}

/// The compensation workflow of `plan`, as TOML (`None`: nothing to propose).
pub fn source(plan: &UndoPlan) -> Result<Option<String>> {
    let mut out = format!(
        "# The compensation of run {} ({}), written by `aios undo`: each step undoes\n# one committed step, the latest first.\nname = {}\n",
        plan.run,
        plan.workflow,
        quote(&workflow_name(plan.run))
    );
    let mut any = false;
    for (e, a) in plan.actions() {
        any = true;
        out.push_str(&format!(
            "\n[[steps]]\nid = {}\nkind = {}\napprove = \"always\"\non_reject = \"skip\"\n",
            quote(&format!("undo_{}", e.step)),
            quote(a.connector().name()),
        ));
        if let Some(p) = &e.persona {
            out.push_str(&format!("persona = {}\n", quote(p)));
        }
        for (k, v) in fields(a)? {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
    Ok(any.then_some(out))
}

/// A rendered action as the fields of a step that renders to it again.
fn fields(a: &Action) -> Result<Vec<(&'static str, String)>> {
    let mut f = Vec::new();
    match a {
        Action::Http(h) => {
            f.push(("method", quote(&h.method)));
            f.push(("url", tmpl(&h.url)));
            if !h.headers.is_empty() {
                f.push(("headers", table(h.headers.iter())));
            }
            if !h.query.is_empty() {
                f.push(("query", table(h.query.iter())));
            }
            if let Some(j) = &h.json {
                f.push(("json", value(j)?));
            }
            if let Some(b) = &h.body {
                f.push(("body", tmpl(b)));
            }
            if !h.expect_status.is_empty() {
                f.push((
                    "expect_status",
                    format!(
                        "[{}]",
                        h.expect_status
                            .iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Action::File(file) => {
            f.push(("root", tmpl(&file.root)));
            f.push(("path", tmpl(&file.path)));
            f.push(("content", tmpl(&file.content)));
            f.push(("mode", quote(file.mode.as_str())));
        }
        Action::Shell(s) => {
            f.push((
                "argv",
                format!(
                    "[{}]",
                    s.argv
                        .iter()
                        .map(|a| tmpl(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            f.push(("cwd", tmpl(&s.cwd)));
            if !s.env.is_empty() {
                f.push(("env", table(s.env.iter())));
            }
            if s.json {
                f.push(("output", quote("json")));
            }
            // The sandbox and limits the undo was rendered with, written out so the
            // compensation runs exactly as confined as declared.
            let paths = |xs: &[String]| {
                format!(
                    "[{}]",
                    xs.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", ")
                )
            };
            f.push((
                "sandbox",
                format!(
                    "{{ mode = {}, read = {}, write = {}, network = {} }}",
                    quote(s.sandbox.mode.as_str()),
                    paths(&s.sandbox.read),
                    paths(&s.sandbox.write),
                    s.sandbox.network
                ),
            ));
            let l = &s.limits;
            let mut limits = vec![format!("output = {}", l.output_bytes)];
            if let Some(c) = l.cpu_secs {
                limits.push(format!("cpu = \"{c}s\""));
            }
            for (key, v) in [
                ("memory", l.memory_bytes),
                ("files", l.open_files),
                ("processes", l.processes),
            ] {
                if let Some(v) = v {
                    limits.push(format!("{key} = {v}"));
                }
            }
            f.push(("limits", format!("{{ {} }}", limits.join(", "))));
        }
        Action::Tool(t) => {
            f.push(("server", quote(&t.server)));
            f.push(("tool", quote(&t.tool)));
            f.push(("args", value(&Json::Object(t.arguments.clone()))?));
        }
        Action::Email(e) => {
            let e = &e.0;
            let list = |xs: &[String]| {
                format!(
                    "[{}]",
                    xs.iter().map(|x| tmpl(x)).collect::<Vec<_>>().join(", ")
                )
            };
            f.push(("account", quote(&e.account)));
            f.push(("from", tmpl(&e.from)));
            f.push(("to", list(&e.to)));
            for (key, xs) in [("cc", &e.cc), ("bcc", &e.bcc), ("reply_to", &e.reply_to)] {
                if !xs.is_empty() {
                    f.push((key, list(xs)));
                }
            }
            f.push(("subject", tmpl(&e.subject)));
            for (key, body) in [
                ("text", &e.text),
                ("html", &e.html),
                ("markdown", &e.markdown),
            ] {
                if let Some(b) = body {
                    f.push((key, tmpl(b)));
                }
            }
            if !e.headers.is_empty() {
                f.push(("headers", table(e.headers.iter())));
            }
            f.push(("root", tmpl(&e.root)));
            if !e.attachments.is_empty() {
                let items: Vec<String> = e
                    .attachments
                    .iter()
                    .map(|a| {
                        format!(
                            "{{ path = {}, name = {}, content_type = {} }}",
                            tmpl(&a.path),
                            tmpl(&a.name),
                            tmpl(&a.content_type)
                        )
                    })
                    .collect();
                f.push(("attachments", format!("[{}]", items.join(", "))));
            }
        }
    }
    Ok(f)
}

/// A TOML basic string (JSON's string escapes are TOML's).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A TOML string holding a template that renders to `sealed`.
fn tmpl(sealed: &str) -> String {
    quote(&as_template(sealed))
}

fn table<'a>(kv: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let parts: Vec<String> = kv
        .map(|(k, v)| format!("{} = {}", quote(k), tmpl(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// A JSON value as a TOML value whose string leaves are templates rendering to
/// themselves. TOML has no null: an action holding one cannot be written back.
fn value(v: &Json) -> Result<String> {
    Ok(match v {
        Json::Null => {
            return Err(Error::invalid(
                "a compensation whose JSON holds null cannot be proposed (TOML has no null)",
            ));
        }
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => tmpl(s),
        Json::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(value)
                .collect::<Result<Vec<_>>>()?
                .join(", ")
        ),
        Json::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| Ok(format!("{} = {}", quote(k), value(v)?)))
                .collect::<Result<Vec<_>>>()?
                .join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::ActionSpec;
    use crate::connectors::file::{FileAction, FileMode};
    use crate::connectors::http::HttpAction;
    use crate::connectors::shell::ShellAction;
    use serde_json::json;

    fn entry(step: &str, a: Action) -> Entry {
        Entry {
            step: step.into(),
            kind: a.connector().name().into(),
            committed_at: Some(1),
            undo: Undo::Action(Box::new(a)),
            persona: None,
        }
    }

    /// Render the compensation workflow's steps back: each gives its action again.
    fn round_trip(actions: Vec<(&str, Action)>) {
        let plan = UndoPlan {
            run: 7,
            workflow: "order".into(),
            in_progress: None,
            entries: actions
                .iter()
                .map(|(s, a)| entry(s, a.clone()))
                .chain(std::iter::once(Entry {
                    step: "note".into(),
                    kind: "file".into(),
                    committed_at: Some(0),
                    undo: Undo::None,
                    persona: None,
                }))
                .collect(),
        };
        let src = source(&plan).unwrap().unwrap();
        let wf = workflow::load(&src, "undo.toml")
            .unwrap_or_else(|d| panic!("{src}\n{}", d.render(&src, "undo.toml", false)));
        assert_eq!(wf.name, "undo of run 7");
        assert_eq!(wf.steps.len(), actions.len());
        let ctx = Context::new(&json!({}), 8, "2026-11-21T09:30:00Z");
        let config = crate::config::ConfigFile::default();
        for (s, (step, want)) in wf.steps.iter().zip(&actions) {
            assert_eq!(s.id, format!("undo_{step}"));
            assert_eq!(s.approve, crate::workflow::Approve::Always);
            let StepSpec::Action(spec) = &s.spec else {
                panic!("{:?}", s.spec)
            };
            let spec: &ActionSpec = spec;
            let got = crate::connectors::render(
                spec,
                &RenderCx {
                    config: &config,
                    ctx: &ctx,
                    dir: Path::new("/tmp"),
                    run_uid: "u",
                    step_id: &s.id,
                    attempt: 1,
                    tools: &crate::mcp::NoServers,
                    persona: &crate::trust::Persona::open(),
                },
            )
            .unwrap();
            let mut got = serde_json::to_value(&got).unwrap();
            let mut want = serde_json::to_value(want).unwrap();
            got.as_object_mut().unwrap().remove("idempotency_key");
            want.as_object_mut().unwrap().remove("idempotency_key");
            assert_eq!(got, want, "{src}");
        }
    }

    #[test]
    fn a_compensation_workflow_renders_to_the_same_actions() {
        let http = HttpAction {
            method: "DELETE".into(),
            url: "https://shop.example/orders/42?x={{ not a template }}".into(),
            headers: [(
                "Authorization".to_string(),
                "Bearer secret(\"SHOP_KEY\")".to_string(),
            )]
            .into(),
            query: [("why".to_string(), "a \"quoted\" {% reason %}\n".to_string())].into(),
            json: Some(json!({ "n": 42, "ok": true, "tags": ["a", "{{b}}"], "in": { "x": 1.5 } })),
            body: None,
            expect_status: vec![200, 204],
            idempotency_key: Some("k".into()),
        };
        let file = FileAction {
            root: "/srv/books".into(),
            path: "ledger.md".into(),
            content: "order 42 cancelled\n".into(),
            mode: FileMode::Append,
        };
        let shell = ShellAction {
            argv: vec!["rm".into(), "-f".into(), "out/42.txt".into()],
            cwd: "/srv/books".into(),
            env: [("MODE".to_string(), "undo".to_string())].into(),
            json: true,
            sandbox: crate::connectors::confine::Sandbox {
                mode: crate::connectors::confine::SandboxMode::BestEffort,
                read: vec!["/srv/books/in".into()],
                write: vec!["/srv/books/out".into()],
                network: true,
            },
            limits: crate::connectors::confine::Limits {
                cpu_secs: Some(30),
                memory_bytes: Some(1 << 28),
                open_files: Some(64),
                processes: None,
                output_bytes: 4096,
            },
        };
        round_trip(vec![
            ("ledger", Action::File(file)),
            ("create", Action::Http(http)),
            ("export", Action::Shell(shell)),
        ]);
    }

    #[test]
    fn nothing_to_propose_and_json_null_are_said() {
        let plan = UndoPlan {
            run: 1,
            workflow: "w".into(),
            in_progress: None,
            entries: vec![Entry {
                step: "s".into(),
                kind: "http".into(),
                committed_at: None,
                undo: Undo::None,
                persona: None,
            }],
        };
        assert!(source(&plan).unwrap().is_none());
        assert!(value(&json!({ "a": null })).is_err());
    }
}
