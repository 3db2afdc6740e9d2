//! `aios llm log`: LLM calls, newest first, one line each (model, tokens, cost,
//! latency, how each ended) or in full (prompt, reply, error), filtered by run, step
//! or errors. Also where the agent's settings are put together for runs: the config
//! file's sections, with keys resolved from the environment, the secret store or the
//! secrets file (and the secrets file itself). `prompt`, `models` and `ping` are in
//! [`super::llm_try`].

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::agent::config::{self, AgentSettings};
use crate::cli::{LlmArgs, LlmCommand, LlmLogArgs};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::{CallFilter, LlmCallRecord};
use crate::secrets::Secrets;
use std::path::PathBuf;

/// The default secrets file, next to `config.toml`.
pub const SECRETS_FILE: &str = "secrets.env";

/// A secrets file's path and its `NAME=value` pairs.
pub type SecretsFile = (PathBuf, Vec<(String, String)>);

/// The secrets file (`[secrets] file`, default `secrets.env` next to the config, when
/// it exists) and its `NAME=value` pairs; refused when others may read it.
pub fn secrets_file(ctx: &Ctx) -> Result<Option<SecretsFile>, Error> {
    let cfg = ctx.config()?;
    let path = match config::secrets_file(&cfg)? {
        Some(p) => Some(p),
        None => Some(ctx.config_dir.join(SECRETS_FILE)).filter(|p| p.exists()),
    };
    let Some(p) = path else {
        return Ok(None);
    };
    let shown = p.display().to_string();
    let meta = std::fs::metadata(&p).map_err(|e| {
        Error::invalid(format!("cannot read the secrets file {shown}: {e}"))
            .with_hint("create it (mode 0600) or remove `[secrets] file` from the config")
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::invalid(format!(
                "the secrets file {shown} is readable by others (mode {mode:04o})"
            ))
            .with_hint(format!("restrict it with: chmod 600 {shown}")));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(&p)
        .map_err(|e| Error::invalid(format!("cannot read the secrets file {shown}: {e}")))?;
    let pairs = config::parse_secrets(&text, &shown)?;
    Ok(Some((p, pairs)))
}

/// The agent's settings: `[providers]`, `[models]`, `[budget]`, keys resolved from
/// the environment first, then the secrets file (`[secrets] file`, default
/// `secrets.env` next to the config), then the secret store (`aios secret set`).
pub fn agent_settings(ctx: &Ctx, secrets: &Secrets) -> Result<AgentSettings, Error> {
    let cfg = ctx.config()?;
    config::from_config(&cfg, &|name: &str| ctx.key(name, secrets))
}

pub fn llm(ctx: &Ctx, args: LlmArgs) -> CmdResult {
    match args.command {
        LlmCommand::Log(a) => log(ctx, a),
        LlmCommand::Prompt(a) => super::llm_try::prompt(ctx, a),
        LlmCommand::Models(a) => super::llm_try::models(ctx, a),
        LlmCommand::Ping(a) => super::llm_try::ping(ctx, a),
    }
}

pub(super) fn call_json(c: &LlmCallRecord) -> serde_json::Value {
    json!({
        "id": c.id,
        "run_id": c.run_id,
        "workflow": c.workflow,
        "step_id": c.call.step,
        "attempt": c.call.attempt,
        "at": format_ms(c.at),
        "alias": c.call.alias,
        "provider": c.call.provider,
        "model": c.call.model,
        "heuristic": c.call.heuristic,
        "tokens_in": c.call.tokens_in,
        "tokens_out": c.call.tokens_out,
        "cost_usd": c.call.cost_usd,
        "latency_ms": c.call.latency_ms,
        "http_attempts": c.call.http_attempts,
        "finish_reason": c.call.finish_reason,
        "failure": c.call.failure,
        "request": c.call.request,
        "response": c.call.response,
        "error": c.call.error,
    })
}

fn indent(label: &str, text: &str) -> String {
    let mut out = format!("  {label}\n");
    for line in text.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Who answered a call, for humans.
pub(super) fn who(k: &crate::journal::LlmCall) -> String {
    if k.heuristic {
        "heuristic (offline draft, no LLM)".to_string()
    } else {
        format!("{}/{} (`{}`)", k.provider, k.model, k.alias)
    }
}

/// How a call ended, in a few words: the finish reason (named when the reply was
/// cut), or the error.
fn outcome(k: &crate::journal::LlmCall) -> String {
    match (&k.error, k.finish_reason.as_deref()) {
        (Some(e), _) if k.failure.is_some() => format!("failed: {e}"),
        (Some(e), Some(f)) if crate::agent::turns::is_truncated(Some(f)) => {
            format!("cut at max_tokens ({f}): {e}")
        }
        (Some(e), _) => format!("invalid: {e}"),
        (None, Some(f)) if crate::agent::turns::is_truncated(Some(f)) => {
            format!("cut at max_tokens ({f})")
        }
        (None, Some(f)) => f.to_string(),
        (None, None) => "ok".to_string(),
    }
}

fn log(ctx: &Ctx, args: LlmLogArgs) -> CmdResult {
    let journal = ctx.reader()?;
    if let Some(r) = args.run.filter(|r| *r != 0) {
        journal.run(r)?;
    }
    let filtered = args.run.is_some() || args.step.is_some() || args.errors;
    let mut calls = journal.llm_calls(&CallFilter {
        run: args.run,
        step: args.step.clone(),
        attempt: None,
        errors: args.errors,
        limit: args.limit,
    })?;
    if args.json || args.full {
        whole_conversations(&journal, &mut calls)?;
    }
    if args.json {
        ui::print_json(&serde_json::Value::Array(
            calls.iter().map(call_json).collect(),
        ));
        return Ok(Exit::Ok);
    }
    if calls.is_empty() {
        ui::println(&empty_message(&journal, filtered)?);
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    if !args.full {
        let rows: Vec<[String; 8]> = calls
            .iter()
            .map(|c| {
                let k = &c.call;
                [
                    c.id.to_string(),
                    format_ms(c.at),
                    if c.run_id == 0 {
                        "-".to_string()
                    } else {
                        format!("{}/{}", c.run_id, k.step)
                    },
                    if k.heuristic {
                        "heuristic (offline)".to_string()
                    } else {
                        format!("{}/{}", k.provider, k.model)
                    },
                    format!("{}/{}", k.tokens_in, k.tokens_out),
                    usd(k.cost_usd),
                    format!("{}ms", k.latency_ms),
                    outcome(k),
                ]
            })
            .collect();
        let heads = [
            "CALL", "AT", "RUN/STEP", "MODEL", "TOKENS", "COST", "TIME", "RESULT",
        ]
        .map(String::from);
        let mut w = [0usize; 7];
        for r in rows.iter().chain(std::iter::once(&heads)) {
            for (i, c) in r.iter().take(7).enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &[String; 8]| {
            let mut l = String::new();
            for (i, c) in r.iter().take(7).enumerate() {
                l.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
            l.push_str(&crate::connectors::truncate_line(&r[7], 100));
            l
        };
        out.push_str(&s.bold(&line(&heads)));
        out.push('\n');
        for r in &rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        ui::print(&out);
        return Ok(Exit::Ok);
    }
    for c in &calls {
        let k = &c.call;
        let whence = if c.run_id == 0 {
            "aios llm prompt".to_string()
        } else {
            format!(
                "run {} ({}) · step {} · attempt {}",
                c.run_id, c.workflow, k.step, k.attempt
            )
        };
        out.push_str(&s.bold(&format!("call {} · {whence}", c.id)));
        out.push('\n');
        out.push_str(&format!(
            "  {} · {} · {} in / {} out tokens · {} · {}ms{}{}{}\n",
            format_ms(c.at),
            who(k),
            k.tokens_in,
            k.tokens_out,
            usd(k.cost_usd),
            k.latency_ms,
            if k.http_attempts > 1 {
                format!(" · {} HTTP attempts", k.http_attempts)
            } else {
                String::new()
            },
            match k.request["structured"].as_str() {
                Some(f) => format!(" · JSON asked as {f}"),
                None => String::new(),
            },
            match &k.finish_reason {
                Some(f) if crate::agent::turns::is_truncated(Some(f)) => {
                    format!(" · {} (cut at max_tokens)", f)
                }
                Some(f) => format!(" · {f}"),
                None => String::new(),
            },
        ));
        let chat = &k.request["chat"];
        if let Some(sys) = chat["system"].as_str() {
            out.push_str(&indent("system", sys));
        }
        for m in chat["messages"].as_array().into_iter().flatten() {
            out.push_str(&indent(
                m["role"].as_str().unwrap_or("?"),
                m["content"].as_str().unwrap_or(""),
            ));
        }
        if let Some(r) = &k.response {
            out.push_str(&indent("response", r));
        }
        if let Some(e) = &k.error {
            out.push_str(&format!("  {} {e}\n", s.red_bold("error:")));
        }
        out.push('\n');
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

/// Each call's whole conversation back in its request: a tool loop's turn journals
/// only the messages new since the step's call before it (`chat.earlier` counts
/// those left out; see [`crate::agent::request_record`]). A conversation that cannot
/// be put back is shown as journaled.
fn whole_conversations(
    journal: &crate::journal::Journal,
    calls: &mut [LlmCallRecord],
) -> Result<(), Error> {
    let mut steps: std::collections::HashMap<
        (i64, String),
        std::collections::HashMap<i64, Vec<serde_json::Value>>,
    > = Default::default();
    for c in calls.iter_mut() {
        if c.call.request["chat"]["earlier"].as_u64().unwrap_or(0) == 0 {
            continue;
        }
        let key = (c.run_id, c.call.step.clone());
        if !steps.contains_key(&key) {
            let mut chain = journal.llm_calls(&CallFilter {
                run: Some(c.run_id),
                step: Some(c.call.step.clone()),
                ..CallFilter::default()
            })?;
            chain.reverse();
            let mut whole = std::collections::HashMap::new();
            let mut previous: Option<Vec<serde_json::Value>> = None;
            for k in &chain {
                previous =
                    crate::agent::whole_messages(previous.as_deref(), &k.call.request["chat"]);
                if let Some(m) = &previous {
                    whole.insert(k.id, m.clone());
                }
            }
            steps.insert(key.clone(), whole);
        }
        if let Some(m) = steps[&key].get(&c.id) {
            let chat = &mut c.call.request["chat"];
            chat["messages"] = serde_json::Value::Array(m.clone());
            if let Some(o) = chat.as_object_mut() {
                o.remove("earlier");
            }
        }
    }
    Ok(())
}

/// Why `llm log` shows nothing: no call matched, none was made yet, or calls wait
/// on a budget cap and were never made.
fn empty_message(journal: &crate::journal::Journal, filtered: bool) -> Result<String, Error> {
    if filtered {
        return Ok("no LLM call matches these filters".into());
    }
    let stopped: Vec<_> = journal
        .inbox(false)?
        .into_iter()
        .filter(|p| p.kind == crate::journal::ProposalKind::Budget)
        .collect();
    Ok(match stopped.as_slice() {
        [] => "no LLM calls yet: each call an agent step or `aios llm prompt` makes is listed here"
            .into(),
        [p] => format!(
            "no LLM calls yet: step `{}` of run {} stopped at a budget cap before its call was made; see it with: aios inbox show {}",
            p.step_id, p.run_id, p.id
        ),
        many => format!(
            "no LLM calls yet: {} calls stopped at a budget cap before they were made; see them with: aios inbox list",
            many.len()
        ),
    })
}
