//! `shell` steps: a program run without a shell (or `sh -c` for a `script`), with
//! an explicit environment, captured stdout/stderr and exit code.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value as Json, json};

use super::{ExecEnv, ExecError, ShellAction, cap_text};

/// Captured output beyond this many bytes is cut (the step still sees the rest's size).
const MAX_CAPTURE: usize = 1 << 20;

pub(super) fn validate(s: &ShellAction) -> Result<(), String> {
    match s.argv.first() {
        None => return Err("`argv` is empty: name a program to run".into()),
        Some(p) if p.trim().is_empty() => return Err("the program name is empty".into()),
        _ => {}
    }
    if !Path::new(&s.cwd).is_absolute() {
        return Err(format!("`cwd` must be an absolute path, got `{}`", s.cwd));
    }
    for k in s.env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(format!("`{k}` is not a valid environment variable name"));
        }
    }
    Ok(())
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

pub(super) fn describe(s: &ShellAction) -> String {
    let mut out = format!("$ {}\n  in {}", quote_argv(&s.argv), s.cwd);
    for (k, v) in &s.env {
        out.push_str(&format!("\n  env {k}={v}"));
    }
    if s.json {
        out.push_str("\n  stdout parsed as JSON");
    }
    out
}

pub(super) async fn run(s: ShellAction, env: &ExecEnv) -> Result<Json, ExecError> {
    let mut cmd = tokio::process::Command::new(&s.argv[0]);
    cmd.args(&s.argv[1..])
        .current_dir(&s.cwd)
        .env_clear()
        .envs(env.child_env.iter().map(|(k, v)| (k, v)))
        .envs(&s.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
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
