//! `shell` steps: a program run without a shell (or `sh -c` for a `script`), with
//! an explicit environment, captured stdout/stderr and exit code, confined by its
//! sandbox (Landlock) and resource limits ([`super::confine`]). This file owns the
//! kind: its step fields, rendering, description, validation (an edit may tighten
//! the sandbox and limits, never widen them) and commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::confine::{self, Limits, Plan, Sandbox, SandboxMode, SandboxSpec};
use super::{AfterTimeout, Connector, Description, ExecError, RenderCx, Resources, Touch};
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
    /// What the program may touch (`required`, nothing declared, by default).
    pub sandbox: SandboxSpec,
    /// What it may use.
    pub limits: Limits,
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
    /// What the program may touch. An action journaled before sandboxes existed
    /// has none.
    #[serde(default = "Sandbox::off")]
    pub sandbox: Sandbox,
    /// What the program may use.
    #[serde(default)]
    pub limits: Limits,
}

impl Connector for ShellAction {
    type Spec = ShellSpec;
    const FIELDS: &'static [&'static str] = &[
        "argv", "script", "cwd", "env", "output", "sandbox", "limits",
    ];
    const DEFAULT_TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));
    /// The child is killed (as before: a timed-out command is retried per `retry`).
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Retry;

    fn read(f: StepFields<'_, '_>) -> Option<ShellSpec> {
        let StepFields {
            cx,
            t,
            span,
            uses,
            ctx,
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
        let sandbox = match get(t, "sandbox") {
            Some(v) => SandboxSpec::read(cx, v, ctx)?,
            None => SandboxSpec::default(),
        };
        let limits = match get(t, "limits") {
            Some(v) => confine::spec::read_limits(cx, v, ctx)?,
            None => Limits::default(),
        };
        Some(ShellSpec {
            argv,
            script,
            cwd,
            env,
            output,
            sandbox,
            limits,
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
            sandbox: s.sandbox.render(r.dir),
            limits: s.limits,
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
        self.sandbox.validate()?;
        self.limits.validate()
    }

    /// The operator may change the command and its environment freely, and tighten
    /// the sandbox and the limits; widening either (or moving the working
    /// directory of a sandboxed step, which is writable) is refused.
    fn validate_edit(&self, proposed: &ShellAction) -> Result<(), String> {
        self.validate()?;
        self.sandbox
            .within(&proposed.sandbox, (&self.cwd, &proposed.cwd))?;
        self.limits.within(&proposed.limits)
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn touches(&self) -> Vec<Touch> {
        // A `script` is `sh -c SCRIPT`: the program is `sh`, whatever the script runs.
        vec![Touch::Program {
            program: self.argv.first().cloned().unwrap_or_default(),
            sandbox: self.sandbox.mode,
        }]
    }

    /// A program is limited by its sandbox and limits, not by a rate.
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
        d = d.word("sandbox", self.sandbox.headline());
        if self.sandbox.mode != SandboxMode::Off {
            if !self.sandbox.read.is_empty() {
                d = d.word("reads", self.sandbox.read.join(", "));
            }
            let writes: Vec<&str> = std::iter::once("the working directory")
                .chain(self.sandbox.write.iter().map(String::as_str))
                .collect();
            d = d.word("writes", writes.join(", "));
        }
        if self.limits != Limits::default() {
            d = d.word("limits", self.limits.describe());
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

pub(super) async fn run(s: ShellAction, res: &Resources) -> Result<Json, ExecError> {
    let (abi, why) = confine::landlock_abi(res.env().landlock_abi);
    let plan = confine::plan(&s.sandbox, abi, &why).map_err(ExecError::fatal)?;
    if !Path::new(&s.cwd).is_dir() {
        return Err(ExecError::fatal(format!(
            "working directory `{}` does not exist",
            s.cwd
        )));
    }
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
    let rlimits = s.limits.rlimits();
    // SAFETY: `apply` only calls getrlimit and setrlimit.
    unsafe {
        cmd.pre_exec(move || rlimits.apply());
    }
    let mut warnings = Vec::new();
    // Kept until the child has started (the rules) or has ended (its folder).
    let mut _tmp = None;
    let mut _rules = None;
    let sandboxed = match plan {
        Plan::Off => "off".to_string(),
        Plan::Unsandboxed { warning } => {
            warnings.push(warning);
            format!("none: {why}")
        }
        #[cfg(target_os = "linux")]
        Plan::Apply {
            abi,
            deny_network,
            warning,
        } => {
            let base = res
                .env()
                .child_env
                .iter()
                .find(|(k, _)| k == "TMPDIR")
                .map(|(_, v)| v.as_str())
                .unwrap_or("/tmp");
            let tmp = confine::StepTmp::create(Path::new(base)).map_err(|e| {
                ExecError::fatal(format!(
                    "cannot create the step's temporary folder in {base}: {e}"
                ))
            })?;
            let rules = confine::landlock::build(
                &s.sandbox,
                Path::new(&s.cwd),
                &[tmp.path()],
                abi,
                deny_network,
            )
            .map_err(|e| ExecError::fatal(e.to_string()))?;
            rules.install(&mut cmd);
            cmd.env("TMPDIR", tmp.path());
            let mut what = format!("landlock ABI {abi}");
            if let Some(w) = warning {
                what.push_str("; network not restricted");
                warnings.push(w);
            }
            _rules = Some(rules);
            _tmp = Some(tmp);
            what
        }
        #[cfg(not(target_os = "linux"))]
        Plan::Apply { .. } => unreachable!("Landlock is only planned on Linux"),
    };
    let confined = _rules.is_some();
    let mut child = cmd.spawn().map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            format!("program `{}` not found on PATH", s.argv[0])
        } else {
            format!("cannot start `{}`: {e}", s.argv[0])
        };
        let what = if confined && e.kind() == std::io::ErrorKind::PermissionDenied {
            format!("{what}; {SANDBOX_HINT}")
        } else {
            what
        };
        ExecError::fatal(what)
    })?;
    // The child holds the rules now (or has failed to start): close our copy.
    drop(_rules);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let max = s.limits.output_bytes;
    let (out, err, status) = tokio::join!(
        confine::capture::capture(stdout, max),
        confine::capture::capture(stderr, max),
        child.wait()
    );
    let io = |e: std::io::Error| ExecError::retryable(format!("reading `{}`: {e}", s.argv[0]));
    let (out, err, status) = (out.map_err(io)?, err.map_err(io)?, status.map_err(io)?);
    let stdout = out.text("limits.output");
    let stderr = err.text("limits.output");
    let code = status.code();
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let cpu_out = status.signal() == Some(libc::SIGXCPU);
        let why = match (code, s.limits.cpu_secs) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(secs)) if cpu_out => format!(
                "was stopped when it had used its {} of CPU time (limits.cpu)",
                crate::clock::format_duration(Duration::from_secs(secs))
            ),
            (None, _) => match status.signal() {
                Some(sig) => format!("was killed by signal {sig}{}", signal_name(sig)),
                None => "was killed by a signal".to_string(),
            },
        };
        let tail = err.last_lines(5);
        let mut msg = format!("`{}` {why}", s.argv[0]);
        if !tail.is_empty() {
            msg.push_str(": ");
            msg.push_str(&tail.join("\n"));
        }
        if confined
            && tail
                .iter()
                .any(|l| l.contains("ermission denied") || l.contains("not permitted"))
        {
            msg.push_str(&format!(" ({SANDBOX_HINT})"));
        }
        for w in &warnings {
            msg.push_str(&format!(" ({w})"));
        }
        // A program stopped at its CPU limit will be stopped there again.
        return Err(if cpu_out && code.is_none() {
            ExecError::fatal(msg)
        } else {
            ExecError::retryable(msg)
        });
    }
    let mut output = json!({
        "exit_code": code,
        "stdout": stdout,
        "stderr": stderr,
        "sandbox": sandboxed,
    });
    if !warnings.is_empty() {
        output["warnings"] = json!(warnings);
    }
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

/// ` (SIGKILL)` for the signals programs commonly die of.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGXFSZ => " (SIGXFSZ)",
        libc::SIGPIPE => " (SIGPIPE)",
        _ => "",
    }
}

/// What a sandboxed program that was refused something is told.
const SANDBOX_HINT: &str = "the sandbox lets a step touch only its working directory, the paths in its `sandbox.read` and `sandbox.write`, and the system's programs and libraries";
