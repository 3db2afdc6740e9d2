//! `shell` steps: a program run without a shell (or `sh -c` for a `script`), with
//! an explicit environment, captured stdout/stderr and exit code. This file owns the
//! kind: its step fields, rendering, description, validation and commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{Connector, Description, ExecError, RenderCx, Resources, cap_text};
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::{StepFields, opt_tmpl};
use crate::workflow::read::{get, key_span};
use crate::workflow::{OutputFormat, Tmpl};

/// A shell step as written in the workflow.
#[derive(Debug, Clone)]
pub struct ShellSpec {
    /// Exactly one of `argv` and `script` is set.
    pub argv: Vec<Tmpl>,
    pub script: Option<Tmpl>,
    pub cwd: Option<Tmpl>,
    pub env: Vec<(String, Tmpl)>,
    /// `output = "json"` parses stdout as JSON into `output.json`.
    pub output: OutputFormat,
}

/// A rendered shell command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellAction {
    /// Program and arguments, run without a shell (a `script` becomes `sh -c`).
    pub argv: Vec<String>,
    /// Absolute working directory.
    pub cwd: String,
    /// Extra environment variables (the child inherits none but PATH, HOME and locale).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Parse stdout as JSON.
    #[serde(default)]
    pub json: bool,
}

impl Connector for ShellAction {
    type Spec = ShellSpec;
    const FIELDS: &'static [&'static str] = &["argv", "script", "cwd", "env", "output"];
    const DEFAULT_TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));

    fn read(f: StepFields<'_, '_>) -> Option<ShellSpec> {
        let StepFields {
            cx, t, span, uses, ..
        } = f;
        let mut argv = Vec::new();
        let argv_v = get(t, "argv");
        if let Some(v) = argv_v
            && let Some(items) = cx.array("argv", v)
        {
            if items.is_empty() {
                cx.push(
                    Diagnostic::new("`argv` must not be empty")
                        .at(v.span())
                        .label("empty")
                        .hint("argv is the program and its arguments, like [\"ls\", \"-l\"]"),
                );
            }
            for item in items {
                if let Some(s) = cx.tmpl("argv", item, uses) {
                    argv.push(s);
                }
            }
        }
        let script = opt_tmpl(cx, t, "script", uses);
        match (argv_v, get(t, "script")) {
            (Some(_), Some(_)) => cx.push(
                Diagnostic::new("a shell step takes `argv` or `script`, not both")
                    .at(key_span(t, "script").unwrap_or(span))
                    .label("second command")
                    .hint("argv runs a program directly; script runs through `sh -c`"),
            ),
            (None, None) => cx.push(
                Diagnostic::new("a shell step needs `argv` or `script`")
                    .at(span)
                    .label("no command")
                    .hint(
                        "add argv = [\"program\", \"arg\"], or script = \"...\" to run it with `sh -c`",
                    ),
            ),
            _ => {}
        }
        let cwd = opt_tmpl(cx, t, "cwd", uses);
        let env = get(t, "env")
            .map(|v| cx.tmpl_map("env", v, uses))
            .unwrap_or_default();
        let output = match get(t, "output").and_then(|v| cx.choice("output", v, &["text", "json"]))
        {
            Some(1) => OutputFormat::Json,
            _ => OutputFormat::Text,
        };
        Some(ShellSpec {
            argv,
            script,
            cwd,
            env,
            output,
        })
    }

    /// A command may do anything: only the workflow can say it is safe to repeat.
    fn always_idempotent(_: &ShellSpec) -> bool {
        false
    }

    /// Nothing outside the file to check.
    fn check(_: &Self::Spec, _: &super::CheckCx<'_>) -> Vec<crate::workflow::diag::Diagnostic> {
        Vec::new()
    }

    fn render(s: &ShellSpec, r: &RenderCx<'_>) -> Result<ShellAction, String> {
        let argv = match &s.script {
            Some(script) => vec!["sh".into(), "-c".into(), r.text(script)?],
            None => s
                .argv
                .iter()
                .map(|a| r.text(a))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let cwd = match &s.cwd {
            Some(c) => r.path(&r.text(c)?),
            None => r.dir.display().to_string(),
        };
        let mut env = BTreeMap::new();
        for (k, v) in &s.env {
            env.insert(k.clone(), r.text(v)?);
        }
        Ok(ShellAction {
            argv,
            cwd,
            env,
            json: s.output == OutputFormat::Json,
        })
    }

    fn validate(&self) -> Result<(), String> {
        match self.argv.first() {
            None => return Err("`argv` is empty: name a program to run".into()),
            Some(p) if p.trim().is_empty() => return Err("the program name is empty".into()),
            _ => {}
        }
        if !Path::new(&self.cwd).is_absolute() {
            return Err(format!(
                "`cwd` must be an absolute path, got `{}`",
                self.cwd
            ));
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(format!("`{k}` is not a valid environment variable name"));
            }
        }
        Ok(())
    }

    /// The operator may change the command, its folder and environment freely.
    fn validate_edit(&self, _proposed: &ShellAction) -> Result<(), String> {
        self.validate()
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn target(&self) -> Option<super::Target> {
        None
    }

    fn summary(&self) -> String {
        format!("run {}", quote_argv(&self.argv))
    }

    fn describe(&self) -> Description {
        let mut d = Description::new("$", quote_argv(&self.argv)).word("in", &self.cwd);
        for (k, v) in &self.env {
            d = d.word("env", format!("{k}={v}"));
        }
        if self.json {
            d = d.note("stdout parsed as JSON");
        }
        d
    }

    async fn commit(self, res: &Resources) -> Result<Json, ExecError> {
        run(self, res).await
    }
}

/// Quote an argv for display the way a POSIX shell would read it back.
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Quote one word for a POSIX shell (`sh` reads it back as it is): plain words stay
/// as they are, anything else goes in single quotes. The one shell-quoting function
/// of the crate (inbox views, crontab lines).
pub fn quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Captured output beyond this many bytes is cut (the step still sees the rest's size).
const MAX_CAPTURE: usize = 1 << 20;

pub(super) async fn run(s: ShellAction, res: &Resources) -> Result<Json, ExecError> {
    let mut cmd = tokio::process::Command::new(&s.argv[0]);
    cmd.args(&s.argv[1..])
        .current_dir(&s.cwd)
        .env_clear()
        .envs(res.env().child_env.iter().map(|(k, v)| (k, v)))
        .envs(&s.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The child cannot read aios's memory (/proc/PID/mem), even as root.
    crate::secrets::process::isolate_child(&mut cmd);
    let out = cmd.output().await.map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            if Path::new(&s.cwd).is_dir() {
                format!("program `{}` not found on PATH", s.argv[0])
            } else {
                format!("working directory `{}` does not exist", s.cwd)
            }
        } else {
            format!("cannot start `{}`: {e}", s.argv[0])
        };
        ExecError::fatal(what)
    })?;
    let stdout = cap_text(
        String::from_utf8_lossy(&out.stdout).into_owned(),
        MAX_CAPTURE,
    );
    let stderr = cap_text(
        String::from_utf8_lossy(&out.stderr).into_owned(),
        MAX_CAPTURE,
    );
    let code = out.status.code();
    if !out.status.success() {
        let why = match code {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_string(),
        };
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let mut msg = format!("`{}` {why}", s.argv[0]);
        if !tail.is_empty() {
            msg.push_str(": ");
            msg.push_str(&tail.join("\n"));
        }
        return Err(ExecError::retryable(msg));
    }
    let mut output = json!({ "exit_code": code, "stdout": stdout, "stderr": stderr });
    if s.json {
        let parsed: Json = serde_json::from_str(stdout.trim()).map_err(|e| {
            ExecError::fatal(format!(
                "stdout is not JSON ({e}); first line: {}",
                super::truncate_line(&stdout, 80)
            ))
        })?;
        output["json"] = parsed;
    }
    Ok(output)
}
