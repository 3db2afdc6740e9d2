//! `aios llm log`: every LLM call with its model, tokens, cost, latency, prompt and
//! response. Also where the agent's settings are put together for runs: the config
//! file's sections, with keys resolved from the environment, then the secrets file.

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::agent::config::{self, AgentSettings};
use crate::cli::{LlmArgs, LlmCommand, LlmLogArgs};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::LlmCallRecord;
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
    }
}

fn call_json(c: &LlmCallRecord) -> serde_json::Value {
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

fn log(ctx: &Ctx, args: LlmLogArgs) -> CmdResult {
    let journal = ctx.reader()?;
    if let Some(r) = args.run {
        journal.run(r)?;
    }
    let calls = journal.llm_calls(args.run)?;
    if args.json {
        ui::print_json(&serde_json::Value::Array(
            calls.iter().map(call_json).collect(),
        ));
        return Ok(Exit::Ok);
    }
    if calls.is_empty() {
        ui::println("no LLM calls yet: agent steps record theirs here");
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    for c in &calls {
        let k = &c.call;
        let who = if k.heuristic {
            "heuristic (offline draft, no LLM)".to_string()
        } else {
            format!("{}/{} (`{}`)", k.provider, k.model, k.alias)
        };
        out.push_str(&s.bold(&format!(
            "call {} · run {} ({}) · step {} · attempt {}",
            c.id, c.run_id, c.workflow, k.step, k.attempt
        )));
        out.push('\n');
        out.push_str(&format!(
            "  {} · {who} · {} in / {} out tokens · {} · {}ms{}\n",
            format_ms(c.at),
            k.tokens_in,
            k.tokens_out,
            usd(k.cost_usd),
            k.latency_ms,
            if k.http_attempts > 1 {
                format!(" · {} HTTP attempts", k.http_attempts)
            } else {
                String::new()
            }
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
