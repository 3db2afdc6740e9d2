//! `aios llm prompt` (one journaled call through a model alias), `aios llm models`
//! (the aliases, and what each provider says it serves) and `aios llm ping` (does
//! each provider answer, take its key and serve its aliases' models).

use std::time::{Duration, Instant};

use serde_json::json;

use super::llm::{call_json, who};
use super::ui::{self, Progress};
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::agent::config::{AgentSettings, ProviderConfig};
use crate::agent::provider::{self, Listing};
use crate::agent::{CallFailure, structured};
use crate::cli::{LlmModelsArgs, LlmPingArgs, LlmPromptArgs};
use crate::engine::prompt::{PromptRequest, prompt as make_call};
use crate::error::Error;
use crate::secrets::Secrets;

pub fn prompt(ctx: &Ctx, args: LlmPromptArgs) -> CmdResult {
    let (settings, secrets) = ctx.agent_env()?;
    let mut journal = ctx.journal()?;
    let mut progress = Progress::new(ctx.ui, args.json);
    let out = make_call(
        &mut journal,
        &settings,
        &secrets,
        PromptRequest {
            alias: args.model.clone(),
            system: args.system,
            prompt: args.prompt,
            max_tokens: args.max_tokens,
        },
        &mut progress,
    )?;
    let k = &out.record.call;
    if args.json {
        ui::print_json(&call_json(&out.record));
        return Ok(if out.failure.is_some() {
            Exit::Failed
        } else {
            Exit::Ok
        });
    }
    if let Some(f) = out.failure {
        return Err(
            Error::other(format!("{} (call {})", f.message, out.record.id))
                .with_hint(f.hint.unwrap_or_else(|| {
                    format!("check the provider with: aios llm ping -m {}", args.model)
                }))
                .into(),
        );
    }
    let text = k.response.clone().unwrap_or_default();
    ui::print(&text);
    if !text.ends_with('\n') {
        ui::print("\n");
    }
    let cut = crate::agent::turns::is_truncated(k.finish_reason.as_deref());
    ui::eprint(&format!(
        "{}\n",
        ctx.ui.err().dim(&format!(
            "{} · {} in / {} out tokens · {} · {}ms{} · call {}",
            who(k),
            k.tokens_in,
            k.tokens_out,
            usd(k.cost_usd),
            k.latency_ms,
            match k.finish_reason.as_deref() {
                Some(f) if cut => format!(
                    " · {f}: cut at --max-tokens {} (raise it for a longer reply)",
                    args.max_tokens
                ),
                Some(f) => format!(" · {f}"),
                None => String::new(),
            },
            out.record.id
        ))
    ));
    Ok(Exit::Ok)
}

/// A small runtime for the model lists.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::other(format!("cannot start the executor: {e}")))
}

/// How long a model list may take.
fn list_timeout(p: &ProviderConfig) -> Duration {
    p.timeout.min(Duration::from_secs(10))
}

/// A provider, its model list (or why not), and the time the list took.
pub(super) type Listed = (ProviderConfig, Result<Listing, CallFailure>, Duration);

/// Each provider's model list (an error body that echoes a key is redacted).
pub(super) fn listings(
    settings: &AgentSettings,
    secrets: &Secrets,
    only: Option<&str>,
) -> Result<Vec<Listed>, Error> {
    let rt = runtime()?;
    let mut out = Vec::new();
    for p in settings.providers.values() {
        if only.is_some_and(|o| o != p.name) {
            continue;
        }
        let started = Instant::now();
        let r = match provider::client(p) {
            Ok(c) => rt.block_on(provider::list_models(&c, p, list_timeout(p))),
            Err(e) => Err(CallFailure::fatal(
                format!("cannot build the HTTP client: {e}"),
                0,
            )),
        };
        let r = r.map_err(|mut f| {
            f.message = secrets.redact(&f.message);
            f.hint = f.hint.map(|h| secrets.redact(&h));
            f
        });
        out.push((p.clone(), r, started.elapsed()));
    }
    Ok(out)
}

/// Whether the provider lists `model`: `Some(false)` only when it lists others. A
/// server that lists exactly one model (llama.cpp's `llama-server` answers with it
/// under any name) counts as serving every name.
fn served(l: &Result<Listing, CallFailure>, model: &str) -> Option<bool> {
    match l {
        Ok(Listing::Models(names)) => Some(
            names.len() == 1
                || names
                    .iter()
                    .any(|n| n == model || n.strip_suffix(":latest") == Some(model)),
        ),
        _ => None,
    }
}

pub fn models(ctx: &Ctx, args: LlmModelsArgs) -> CmdResult {
    let (settings, secrets) = ctx.agent_env()?;
    let journal = ctx.journal()?;
    let lists = listings(&settings, &secrets, None)?;
    let since = journal.now().saturating_sub(structured::REFUSAL_MEMORY_MS);
    let mut aliases = Vec::new();
    for m in settings.models.values() {
        let list = lists.iter().find(|(p, _, _)| p.name == m.provider);
        let refusal = match list {
            Some((p, _, _)) => {
                journal.schema_refusal(&p.name, &m.name, &provider::endpoint(p), since)?
            }
            None => None,
        };
        aliases.push((m, list.and_then(|(_, l, _)| served(l, &m.name)), refusal));
    }
    if args.json {
        ui::print_json(&json!({
            "aliases": aliases.iter().map(|(m, served, refusal)| json!({
                "alias": m.alias,
                "provider": m.provider,
                "model": m.name,
                "usd_per_mtok_in": m.usd_per_mtok_in,
                "usd_per_mtok_out": m.usd_per_mtok_out,
                "sampling": m.sampling,
                "served": served,
                "schema_refused_at": refusal.map(|(_, at)| crate::clock::format_ms(at)),
            })).collect::<Vec<_>>(),
            "providers": lists.iter().map(|(p, l, _)| json!({
                "name": p.name,
                "kind": p.kind.as_str(),
                "base_url": p.base_url,
                "models": match l { Ok(Listing::Models(n)) => json!(n), _ => json!(null) },
                "error": l.as_ref().err().map(CallFailure::full),
            })).collect::<Vec<_>>(),
        }));
        return Ok(Exit::Ok);
    }
    if settings.providers.is_empty() && settings.models.is_empty() {
        ui::println(
            "no [providers] or [models] configured: every alias is the offline heuristic provider (free, no network); see README \"Agent steps\" to add a local or hosted model",
        );
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    let rows: Vec<[String; 5]> = aliases
        .iter()
        .map(|(m, served, refusal)| {
            [
                m.alias.clone(),
                format!("{}/{}", m.provider, m.name),
                if m.usd_per_mtok_in == 0.0 && m.usd_per_mtok_out == 0.0 {
                    "free".to_string()
                } else {
                    format!("${} / ${}", m.usd_per_mtok_in, m.usd_per_mtok_out)
                },
                match served {
                    Some(true) => "yes".into(),
                    Some(false) => "NOT LISTED".into(),
                    None => "?".into(),
                },
                match refusal {
                    Some((id, at)) => format!(
                        "schema form refused {} (call {id}): plain JSON for 7 days",
                        crate::clock::format_ms(*at)
                    ),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let heads = ["ALIAS", "PROVIDER/MODEL", "USD/MTOK IN/OUT", "SERVED", ""].map(String::from);
    let mut w = [0usize; 4];
    for r in rows.iter().chain(std::iter::once(&heads)) {
        for i in 0..4 {
            w[i] = w[i].max(r[i].chars().count());
        }
    }
    let line = |r: &[String; 5]| {
        let mut l = String::new();
        for i in 0..4 {
            l.push_str(&format!("{:<width$}  ", r[i], width = w[i]));
        }
        l.push_str(&r[4]);
        l.trim_end().to_string()
    };
    out.push_str(&s.bold(&line(&heads)));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push_str("heuristic  (built in: the offline draft, free, always served)\n");
    for (p, l, _) in &lists {
        out.push_str(&format!(
            "\nprovider {} ({}, {}){}\n",
            p.name,
            p.kind.as_str(),
            p.base_url,
            if p.stream { ", streams" } else { "" }
        ));
        match l {
            Ok(Listing::Models(names)) if names.is_empty() => out.push_str("  reports no models\n"),
            Ok(Listing::Models(names)) => {
                for n in names {
                    out.push_str(&format!("  {n}\n"));
                }
            }
            Ok(Listing::NoList) => out.push_str("  answers, but has no model list\n"),
            Err(f) => out.push_str(&format!("  {} {}\n", s.red_bold("error:"), f.full())),
        }
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

pub fn ping(ctx: &Ctx, args: LlmPingArgs) -> CmdResult {
    let (settings, secrets) = ctx.agent_env()?;
    let only = match &args.model {
        Some(alias) => {
            let m = settings.models.get(alias).ok_or_else(|| {
                Error::invalid(format!("model `{alias}` is not configured"))
                    .with_hint("aios llm models lists the configured aliases")
            })?;
            Some(m.provider.clone())
        }
        None => None,
    };
    let lists = listings(&settings, &secrets, only.as_deref())?;
    let mut ok_all = true;
    let mut report = Vec::new();
    for (p, l, took) in &lists {
        let missing: Vec<String> = settings
            .models
            .values()
            .filter(|m| m.provider == p.name)
            .filter(|m| args.model.as_ref().is_none_or(|a| *a == m.alias))
            .filter(|m| served(l, &m.name) == Some(false))
            .map(|m| format!("{} (`{}`)", m.name, m.alias))
            .collect();
        let ok = l.is_ok() && missing.is_empty();
        ok_all &= ok;
        report.push((p, l, took, missing, ok));
    }
    if args.json {
        ui::print_json(&json!(
            report
                .iter()
                .map(|(p, l, took, missing, ok)| json!({
                    "provider": p.name,
                    "base_url": p.base_url,
                    "ok": ok,
                    "latency_ms": took.as_millis() as u64,
                    "error": l.as_ref().err().map(CallFailure::full),
                    "not_listed": missing,
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(if ok_all { Exit::Ok } else { Exit::Failed });
    }
    if lists.is_empty() {
        ui::println(
            "no providers configured: agent steps use the offline heuristic provider (nothing to ping)",
        );
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    for (p, l, took, missing, ok) in &report {
        let mark = if *ok {
            s.green("ok")
        } else {
            s.red_bold("FAIL")
        };
        let detail = match l {
            Ok(Listing::Models(n)) => format!("{} listed", crate::text::count(n.len(), "model")),
            Ok(Listing::NoList) => "answers (no model list)".to_string(),
            Err(f) => f.full(),
        };
        out.push_str(&format!(
            "{mark} {} ({}) {}ms: {detail}\n",
            p.name,
            p.base_url,
            took.as_millis()
        ));
        if !missing.is_empty() {
            out.push_str(&format!(
                "  not listed by the provider: {} (check [models] `name`)\n",
                missing.join(", ")
            ));
        }
    }
    ui::print(&out);
    Ok(if ok_all { Exit::Ok } else { Exit::Failed })
}
