//! Terminal output: colour (honouring NO_COLOR and non-terminals), quiet exit on a
//! broken pipe, error printing with causes and hints, and run progress.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::clock::format_duration;
use crate::engine::Observer;
use crate::error::Error;
use crate::journal::{Event, ProposalKind, RunStatus, StepStatus};

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub color_out: bool,
    pub color_err: bool,
}

impl Ui {
    pub fn detect() -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            color_out: !no_color && std::io::stdout().is_terminal(),
            color_err: !no_color && std::io::stderr().is_terminal(),
        }
    }

    pub fn plain() -> Ui {
        Ui {
            color_out: false,
            color_err: false,
        }
    }

    /// Style for stdout text.
    pub fn out(&self) -> Style {
        Style(self.color_out)
    }

    /// Style for stderr text.
    pub fn err(&self) -> Style {
        Style(self.color_err)
    }

    pub fn print_error(&self, e: &anyhow::Error) {
        let s = self.err();
        let mut text = format!("{} {e}\n", s.red_bold("error:"));
        let mut hint = None;
        for (i, cause) in e.chain().enumerate() {
            if let Some(core) = cause.downcast_ref::<Error>()
                && hint.is_none()
            {
                hint = core.hint.clone();
            }
            if i > 0 {
                let c = cause.to_string();
                if !text.contains(&c) {
                    text.push_str(&format!("  caused by: {c}\n"));
                }
            }
        }
        if let Some(h) = hint {
            text.push_str(&format!("{} {h}\n", s.cyan_bold("hint:")));
        }
        eprint(&text);
    }
}

/// ANSI styling that turns itself off.
#[derive(Debug, Clone, Copy)]
pub struct Style(pub bool);

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }

    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }

    pub fn red_bold(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }

    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }

    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }

    pub fn cyan_bold(&self, s: &str) -> String {
        self.wrap("1;36", s)
    }

    pub fn run_status(&self, st: RunStatus) -> String {
        match st {
            RunStatus::Succeeded => self.green(st.as_str()),
            RunStatus::Failed => self.red_bold(st.as_str()),
            RunStatus::Waiting => self.yellow(st.as_str()),
            RunStatus::Running => self.bold(st.as_str()),
            RunStatus::Cancelled => self.dim(st.as_str()),
        }
    }

    /// The symbol of a step's status in `aios show` (see [`STEP_SYMBOLS`]).
    pub fn step_glyph(&self, st: StepStatus) -> String {
        match st {
            StepStatus::Succeeded => self.green(SUCCEEDED),
            StepStatus::Failed => self.red_bold(FAILED),
            StepStatus::Waiting => self.yellow(WAITING),
            StepStatus::NeedsAttention => self.red_bold(ATTENTION),
            StepStatus::Running => self.bold(STARTED),
            StepStatus::Skipped => self.dim(SKIPPED),
            StepStatus::Pending => self.dim(PENDING),
        }
    }
}

/// Write to stdout; on a closed pipe (`aios runs | head`) exit quietly.
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

pub fn println(s: &str) {
    print(&format!("{s}\n"));
}

pub fn eprint(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Print one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    println(&text);
}

/// The symbols progress lines start with, and what each means. The README's legend
/// lists every one (a test checks it).
pub const PROGRESS_SYMBOLS: &[(&str, &str)] = &[
    (STARTED, "a step started"),
    (SUCCEEDED, "a step succeeded (with how long it took)"),
    (FAILED, "a step failed"),
    (
        RETRYING,
        "a step failed and will be retried at the time shown",
    ),
    (
        SKIPPED,
        "a step was skipped (its `when` was false, or it was rejected with `on_reject = \"skip\"`), or the run was cancelled",
    ),
    (
        WAITING,
        "a step waits for you: an inbox item was created (or put back, when a failed run is resumed)",
    ),
    (
        SLEEPING,
        "a `wait` step sleeps, or a step waits for its turn under a rate limit or for its target's circuit breaker, until the time shown",
    ),
    (LLM_CALL, "an agent step called an LLM (tokens, cost)"),
    (AGAIN, "a step interrupted by a crash will run again"),
    (
        POLICY,
        "an autonomy policy approved an item in your place (`approved by policy:NAME`), or a step was promoted or demoted",
    ),
    (
        WARNING,
        "a remark about a step: its sandbox could not be applied in full (`best_effort`)",
    ),
    (
        CHANGED,
        "the run continues on a corrected definition (`aios resume RUN --workflow FILE`), with what changed",
    ),
    (
        DRY,
        "a dry run reached a step it does not carry out: what a real run would do (propose, ask, commit, write)",
    ),
];

/// The symbols of step statuses in `aios show`; the README lists every one.
pub const STEP_SYMBOLS: &[(&str, &str)] = &[
    (SUCCEEDED, "succeeded"),
    (FAILED, "failed"),
    (WAITING, "waiting for you (or for its time, a `wait` step)"),
    (
        ATTENTION,
        "needs attention: interrupted, decide it in the inbox",
    ),
    (STARTED, "running"),
    (SKIPPED, "skipped"),
    (PENDING, "pending: not started yet"),
];

const ATTENTION: &str = "!";
const PENDING: &str = "·";
const STARTED: &str = "▸";
const SUCCEEDED: &str = "✓";
const FAILED: &str = "✗";
const RETRYING: &str = "↻";
const SKIPPED: &str = "-";
const WAITING: &str = "?";
const SLEEPING: &str = "…";
const LLM_CALL: &str = "·";
const AGAIN: &str = "↺";
const POLICY: &str = "»";
const WARNING: &str = "!";
const CHANGED: &str = "✎";
const DRY: &str = "○";

/// Prints one line per step transition on stderr, and on a terminal a live line
/// while an LLM call is in flight (redrawn in place, cleared before other lines).
pub struct Progress {
    style: Style,
    quiet: bool,
    /// stderr is a terminal: the live line may be drawn.
    tty: bool,
    /// The live line is on screen now.
    live_shown: bool,
    frame: usize,
    step_started: std::collections::HashMap<String, Instant>,
}

impl Progress {
    pub fn new(ui: Ui, quiet: bool) -> Progress {
        Progress {
            style: ui.err(),
            quiet,
            tty: std::io::stderr().is_terminal(),
            live_shown: false,
            frame: 0,
            step_started: Default::default(),
        }
    }

    fn clear_live(&mut self) {
        if self.live_shown {
            eprint("\r\x1b[2K");
            self.live_shown = false;
        }
    }
}

/// The live line: `⠹ draft: local/m1 · 3.2s · 45 tokens` per call in flight.
pub fn live_line(calls: &[crate::engine::LiveCall], frame: usize) -> String {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let parts: Vec<String> = calls
        .iter()
        .map(|c| {
            let mut p = format!("{}: {} · {:.1}s", c.step, c.model, c.elapsed.as_secs_f64());
            if let Some(t) = c.tokens {
                p.push_str(&format!(" · {}", crate::text::count(t, "token")));
            }
            p
        })
        .collect();
    format!("{} {}", FRAMES[frame % FRAMES.len()], parts.join("  |  "))
}

impl Observer for Progress {
    fn wants_live(&self) -> bool {
        self.tty && !self.quiet
    }

    fn live(&mut self, calls: &[crate::engine::LiveCall]) {
        if !self.wants_live() {
            return;
        }
        if calls.is_empty() {
            self.clear_live();
            return;
        }
        self.frame += 1;
        let line = live_line(calls, self.frame);
        // One screen line: cut to the terminal's usual width.
        let line: String = line.chars().take(100).collect();
        eprint(&format!("\r\x1b[2K{}", self.style.dim(&line)));
        self.live_shown = true;
    }

    fn event(&mut self, run: i64, ev: &Event) {
        if self.quiet {
            return;
        }
        self.clear_live();
        let s = self.style;
        let line = match ev {
            Event::RunStatus { .. }
            | Event::RunCreated { .. }
            | Event::FactSet { .. }
            | Event::FactUnset { .. }
            | Event::FactRecorded { .. }
            | Event::NoteAdded { .. }
            | Event::NoteForgotten { .. }
            | Event::OutcomeRecorded { .. }
            | Event::ProposalSnoozed { .. }
            | Event::ProposalUnsnoozed { .. }
            | Event::DeadlineSet { .. }
            | Event::ProposalReminded { .. }
            | Event::ProposalWithdrawn { .. }
            | Event::NoticeRaised { .. }
            | Event::NoticeAcknowledged { .. } => {
                return;
            }
            Event::TimerSet { step, due_at, .. } => format!(
                "{} {step} waits until {}",
                s.yellow(SLEEPING),
                crate::clock::format_ms(*due_at)
            ),
            Event::StepThrottled {
                step,
                target,
                rate,
                until,
                ..
            } => format!(
                "{} {step} waits for its turn under the rate limit {} ({rate}) until {}",
                s.yellow(SLEEPING),
                crate::connectors::Target::display_name(target),
                crate::clock::format_ms(*until)
            ),
            Event::StepWarned { step, warning, .. } => {
                format!("{} {step}: {warning}", s.yellow(WARNING))
            }
            Event::StepHeld { step, reason, .. } => {
                format!("{} {step} waits: {reason}", s.yellow(SLEEPING))
            }
            Event::RunCancelled { .. } => format!("{} run {run} cancelled", s.dim(SKIPPED)),
            Event::StepStarted { step, attempt } => {
                self.step_started.insert(step.clone(), Instant::now());
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                format!("{} {step} started{again}", s.bold(STARTED))
            }
            Event::StepSucceeded { step, output, .. } => {
                let took = self
                    .step_started
                    .remove(step)
                    .map(|t| format!(" {}", s.dim(&format_duration(t.elapsed()))))
                    .unwrap_or_default();
                format!("{} {step}{took}{}", s.green(SUCCEEDED), agent_note(output))
            }
            Event::StepFailed {
                step,
                error,
                retry_at,
                attempt,
                ..
            } => match retry_at {
                Some(at) => format!(
                    "{} {step} attempt {attempt} failed, retrying at {}: {}",
                    s.yellow(RETRYING),
                    crate::clock::format_ms(*at),
                    first_line(error)
                ),
                None => format!(
                    "{} {step} failed: {}",
                    s.red_bold(FAILED),
                    first_line(error)
                ),
            },
            Event::StepSkipped { step, reason } => {
                format!("{} {step} skipped: {reason}", s.dim(SKIPPED))
            }
            Event::LlmCall(c) => {
                if c.heuristic {
                    return;
                }
                let cut = crate::agent::turns::is_truncated(c.finish_reason.as_deref());
                let tokens = crate::text::count(c.tokens_in + c.tokens_out, "token");
                let what = match (&c.error, &c.failure) {
                    (Some(e), Some(_)) => format!("failed: {}", first_line(e)),
                    (Some(e), None) => format!(
                        "{tokens}, {}, invalid reply: {}",
                        crate::agent::budget::usd(c.cost_usd),
                        first_line(e)
                    ),
                    (None, _) => format!(
                        "{tokens}, {}{}",
                        crate::agent::budget::usd(c.cost_usd),
                        if cut { ", cut at max_tokens" } else { "" }
                    ),
                };
                format!(
                    "{} {} called {}/{} ({}ms): {what}",
                    s.dim(LLM_CALL),
                    c.step,
                    c.provider,
                    c.model,
                    c.latency_ms
                )
            }
            Event::StepReset { step, reason } => {
                format!("{} {step} will run again: {reason}", s.dim(AGAIN))
            }
            Event::AgentTool {
                step, tool, error, ..
            } => format!(
                "{} {step} called {tool}{}",
                s.dim(LLM_CALL),
                if *error { " (error)" } else { "" }
            ),
            Event::ProposalCreated {
                proposal,
                step,
                kind,
                summary,
                ..
            } => {
                let what = match kind {
                    ProposalKind::Action => "proposed",
                    ProposalKind::Approval => "awaits approval",
                    ProposalKind::Attention => "needs attention",
                    ProposalKind::Budget => "stopped at a budget cap",
                    ProposalKind::Rescue => "needs rescue",
                    ProposalKind::Notice => "raised a notice",
                    ProposalKind::Failure => "failed; the run waits in the inbox",
                };
                format!(
                    "{} {step} {what} (inbox {proposal}): {summary}",
                    s.yellow(WAITING)
                )
            }
            Event::ProposalDecided {
                proposal,
                step,
                by,
                reason,
                ..
            } => {
                // A policy's decision is reported as it is taken; the operator's are
                // theirs to know.
                if !by.starts_with(crate::trust::POLICY_PREFIX) {
                    return;
                }
                format!(
                    "{} {step} approved by {by} (inbox {proposal}){}",
                    s.green(POLICY),
                    reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            }
            Event::TrustChanged {
                workflow,
                step,
                level,
                by,
                reason,
            } => format!(
                "{} {workflow}.{step} {level} by {by}{}",
                s.yellow(POLICY),
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            Event::WorkflowChanged { path, changes, .. } => {
                let mut text = format!(
                    "{} run {run} continues on {}:",
                    s.bold(CHANGED),
                    path.as_deref().unwrap_or("a new definition")
                );
                for c in changes {
                    text.push_str(&format!("\n    {c}"));
                }
                text
            }
            Event::StepRehearsed {
                step,
                would,
                summary,
                ..
            } => format!("{} {step} would {would}: {summary}", s.dim(DRY)),
            Event::ProposalReopened { proposal, step } => format!(
                "{} {step} waits for you again (inbox {proposal}, back in the inbox)",
                s.yellow(WAITING)
            ),
        };
        eprint(&format!("{line}\n"));
    }
}

/// How an agent step's output came about, when it is worth a word: an offline
/// draft or another model after the first failed, or a text cut at `max_tokens`.
pub fn agent_note(output: &serde_json::Value) -> String {
    let mut notes = Vec::new();
    if let Some(from) = output["fallback"]["from"].as_array() {
        let from: Vec<String> = from
            .iter()
            .filter_map(|a| a.as_str())
            .map(|a| format!("`{a}`"))
            .collect();
        let by = if output["heuristic"] == true {
            "offline draft, no LLM".to_string()
        } else {
            format!("answered by `{}`", output["model"].as_str().unwrap_or("?"))
        };
        notes.push(format!("{by}: {} failed", from.join(", ")));
    }
    if output["truncated"] == true {
        notes.push("cut at max_tokens".into());
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::{PROGRESS_SYMBOLS, STEP_SYMBOLS};

    #[test]
    fn the_readme_explains_every_progress_and_step_symbol() {
        let readme = include_str!("../../README.md");
        for (symbol, meaning) in PROGRESS_SYMBOLS.iter().chain(STEP_SYMBOLS) {
            let row = format!("| `{symbol}` | {meaning} |");
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}
