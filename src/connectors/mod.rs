//! Connectors: how a step's side effect is rendered into an exact [`Action`], shown to
//! a person, validated (also after the operator edits it) and committed.
//!
//! Rendering happens once; what is approved is what is committed. Nothing here reads
//! the process environment: the driver passes an [`ExecEnv`].

pub mod file;
pub mod http;
pub mod shell;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::template::Context;
use crate::workflow::{FileMode, OutputFormat, Step, StepSpec};

/// A fully rendered side effect. This is what a proposal shows and what is committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Action {
    Shell(ShellAction),
    Http(HttpAction),
    File(FileAction),
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted statuses; empty means any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Sent as the `Idempotency-Key` header so servers can drop duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAction {
    /// Absolute directory the write must stay inside.
    pub root: String,
    /// Path relative to `root`.
    pub path: String,
    pub content: String,
    #[serde(default)]
    pub append: bool,
}

/// What a run knows that rendering needs.
#[derive(Debug, Clone)]
pub struct RenderEnv<'a> {
    /// The folder of the workflow file (relative paths start here).
    pub dir: &'a Path,
    /// A unique id of the run, for idempotency keys.
    pub run_uid: &'a str,
}

/// What committing needs from the outside world.
#[derive(Debug, Clone, Default)]
pub struct ExecEnv {
    /// The only environment a shell child starts with (PATH, HOME, locale...).
    pub child_env: Vec<(String, String)>,
}

/// A failed commit: the message, and whether another attempt might succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    pub message: String,
    pub retryable: bool,
}

impl ExecError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Shell(_) => "shell",
            Action::Http(_) => "http",
            Action::File(_) => "file",
        }
    }

    /// Render a side-effecting step into its exact action. `attempt` feeds the
    /// idempotency key.
    pub fn render(
        step: &Step,
        ctx: &Context,
        env: &RenderEnv<'_>,
        attempt: u32,
    ) -> Result<Action, String> {
        let action = match &step.spec {
            StepSpec::Shell(s) => {
                let argv = match &s.script {
                    Some(script) => vec!["sh".into(), "-c".into(), ctx.render(script)?],
                    None => s
                        .argv
                        .iter()
                        .map(|a| ctx.render(a))
                        .collect::<Result<Vec<_>, _>>()?,
                };
                let cwd = match &s.cwd {
                    Some(c) => absolutize(env.dir, &ctx.render(c)?),
                    None => env.dir.display().to_string(),
                };
                let mut vars = BTreeMap::new();
                for (k, v) in &s.env {
                    vars.insert(k.clone(), ctx.render(v)?);
                }
                Action::Shell(ShellAction {
                    argv,
                    cwd,
                    env: vars,
                    json: s.output == OutputFormat::Json,
                })
            }
            StepSpec::Http(h) => {
                let mut headers = BTreeMap::new();
                for (k, v) in &h.headers {
                    headers.insert(k.clone(), ctx.render(v)?);
                }
                let mut query = BTreeMap::new();
                for (k, v) in &h.query {
                    query.insert(k.clone(), ctx.render(v)?);
                }
                let json = h.json.as_ref().map(|j| ctx.render_json(j)).transpose()?;
                let body = h.body.as_ref().map(|b| ctx.render(b)).transpose()?;
                let read_only = matches!(h.method.as_str(), "GET" | "HEAD" | "OPTIONS");
                Action::Http(HttpAction {
                    method: h.method.clone(),
                    url: ctx.render(&h.url)?,
                    headers,
                    query,
                    json,
                    body,
                    expect_status: h.expect_status.clone(),
                    idempotency_key: (!read_only)
                        .then(|| format!("aios-{}-{}-{}", env.run_uid, step.id, attempt)),
                })
            }
            StepSpec::File(f) => {
                let root = match &f.root {
                    Some(r) => absolutize(env.dir, &ctx.render(r)?),
                    None => env.dir.display().to_string(),
                };
                Action::File(FileAction {
                    root,
                    path: ctx.render(&f.path)?,
                    content: ctx.render(&f.content)?,
                    append: f.mode == FileMode::Append,
                })
            }
            StepSpec::Set(_)
            | StepSpec::Approval(_)
            | StepSpec::Agent(_)
            | StepSpec::Remember(_)
            | StepSpec::Fact(_)
            | StepSpec::Outcome(_)
            | StepSpec::Wait(_) => {
                return Err(format!("`{}` steps have no action", step.kind()));
            }
        };
        action.validate()?;
        Ok(action)
    }

    /// Check that the action can be committed as it stands (also run on edits).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Action::Shell(s) => shell::validate(s),
            Action::Http(h) => http::validate(h),
            Action::File(f) => file::validate(f),
        }
    }

    /// One line for listings.
    pub fn summary(&self) -> String {
        let s = match self {
            Action::Shell(s) => format!("run {}", shell::quote_argv(&s.argv)),
            Action::Http(h) => format!("{} {}", h.method, h.url),
            Action::File(f) => format!(
                "{} {} ({})",
                if f.append { "append to" } else { "write" },
                f.path,
                crate::text::count(f.content.len(), "byte")
            ),
        };
        truncate_line(&s, 100)
    }

    /// A person-readable rendering of the whole action.
    pub fn describe(&self) -> String {
        match self {
            Action::Shell(s) => shell::describe(s),
            Action::Http(h) => http::describe(h),
            Action::File(f) => file::describe(f),
        }
    }

    /// Commit the action. Runs on the driver's async executor.
    pub async fn commit(
        self,
        env: &ExecEnv,
        client: Option<&reqwest::Client>,
        timeout: Option<Duration>,
    ) -> Result<Json, ExecError> {
        let fut = async {
            match self {
                Action::Shell(s) => shell::run(s, env).await,
                Action::Http(h) => match client {
                    Some(c) => http::send(h, c).await,
                    None => Err(ExecError::fatal(
                        "internal: no HTTP client for an HTTP action",
                    )),
                },
                Action::File(f) => file::write(f).await,
            }
        };
        match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(ExecError::retryable(format!(
                    "timed out after {}",
                    crate::clock::format_duration(t)
                ))),
            },
            None => fut.await,
        }
    }
}

fn absolutize(dir: &Path, p: &str) -> String {
    let path = Path::new(p);
    if path.is_absolute() {
        p.to_string()
    } else {
        dir.join(path).display().to_string()
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
