//! `aios hook add|list|remove`: registering inbound webhooks (`aios serve` answers
//! them).

use std::io::{IsTerminal, Read};

use anyhow::Context as _;
use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{HookAddArgs, HookArgs, HookCommand, HookFormatArg};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::{HookFormat, HookSettings};
use crate::schedule::hooks;

pub fn hook(ctx: &Ctx, args: HookArgs) -> CmdResult {
    match args.command {
        HookCommand::Add(a) => add(ctx, a),
        HookCommand::List(a) => list(ctx, a.json),
        HookCommand::Remove(a) => {
            let mut journal = ctx.journal()?;
            if !journal.remove_hook(&a.name)? {
                return Err(Error::not_found(format!("no hook `{}`", a.name))
                    .with_hint("list hooks with: aios hook list")
                    .into());
            }
            let path = hooks::secret_path(&ctx.data_dir, &a.name);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot remove the secret {}", path.display())));
            }
            ui::println(&format!("hook {} removed (its secret too)", a.name));
            Ok(Exit::Ok)
        }
    }
}

fn add(ctx: &Ctx, a: HookAddArgs) -> CmdResult {
    if !hooks::valid_name(&a.name) {
        return Err(Error::invalid(format!("invalid hook name `{}`", a.name))
            .with_hint(
                "a hook name is up to 64 letters, digits, `-` and `_` (it is part of the URL)",
            )
            .into());
    }
    let (source, wf) = super::run::load_workflow(ctx, &a.file)?;
    super::check::tool_steps(ctx, &a.file, &source, &wf, None, crate::mcp::Lookup::Cache)?;
    let abs = std::path::absolute(&a.file)
        .with_context(|| format!("cannot resolve {}", a.file.display()))?;
    let dir = abs.parent().unwrap_or(std::path::Path::new("/"));
    let mut journal = ctx.journal()?;
    let before = journal.hook(&a.name)?.map(|(h, _)| h.settings);
    let settings = settings(&a, before.clone())?;
    hooks::check_settings(&wf, &settings).map_err(|m| {
        Error::invalid(m).with_hint(format!(
            "or pass each field of the body as an input: aios hook add {} {} --fields",
            a.name,
            a.file.display()
        ))
    })?;
    let secret_path = hooks::secret_path(&ctx.data_dir, &a.name);
    let has_secret = hooks::read_secret(&secret_path)?.is_some();
    let became_stripe = settings.format == HookFormat::Stripe
        && before.as_ref().map(|b| b.format) != Some(HookFormat::Stripe);
    let secret = if a.secret_stdin {
        Secret::Given(read_secret_stdin(&a)?)
    } else if settings.format == HookFormat::Stripe && (a.rotate || !has_secret || became_stripe) {
        return Err(Error::invalid(format!(
            "a stripe hook checks Stripe's own signing secret (whsec_...), which aios cannot make{}",
            if a.rotate { "; --rotate is for aios and github hooks" } else { "" }
        ))
        .with_hint(format!(
            "copy the endpoint's signing secret from Stripe, then: printf '%s' \"$STRIPE_WEBHOOK_SECRET\" | aios hook add {} {} --format stripe --secret-stdin",
            a.name,
            a.file.display()
        ))
        .into());
    } else if a.rotate || !has_secret {
        Secret::Made(hooks::new_secret()?)
    } else {
        Secret::Kept
    };
    if let Secret::Given(s) | Secret::Made(s) = &secret {
        hooks::write_secret(&secret_path, s)?;
    }
    let existed = journal.put_hook(
        &a.name,
        &abs.display().to_string(),
        &dir.display().to_string(),
        &source,
        &settings,
    )?;
    let mut out = format!(
        "hook {} {}: POST /hooks/{} starts {} ({})\n",
        a.name,
        if existed { "updated" } else { "added" },
        a.name,
        a.file.display(),
        describe(&settings),
    );
    match secret {
        Secret::Made(s) => {
            out.push_str(&format!(
                "secret (shown once; kept in {}): {s}\n",
                secret_path.display()
            ));
            out.push_str(match settings.format {
                HookFormat::Github => "paste it as the webhook's Secret in GitHub (content type application/json); GitHub signs each delivery with X-Hub-Signature-256\n",
                _ => "sign each body: X-Aios-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>, or send Authorization: Bearer <secret>\n",
            });
        }
        Secret::Given(_) => out.push_str(&format!(
            "the secret read from stdin is kept in {}\n",
            secret_path.display()
        )),
        Secret::Kept => out.push_str("the secret is unchanged (--rotate makes a new one)\n"),
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

enum Secret {
    Made(String),
    Given(String),
    Kept,
}

/// The hook's settings: what the flags say, else what it had, else the defaults.
fn settings(a: &HookAddArgs, before: Option<HookSettings>) -> Result<HookSettings, Error> {
    let mut s = before.unwrap_or_default();
    if let Some(f) = a.format {
        s.format = match f {
            HookFormatArg::Aios => HookFormat::Aios,
            HookFormatArg::Github => HookFormat::Github,
            HookFormatArg::Stripe => HookFormat::Stripe,
        };
    }
    if let Some(p) = &a.payload {
        s.payload = Some(p.clone());
    } else if a.fields {
        s.payload = None;
    }
    if let Some(t) = &a.tolerance {
        let d = crate::workflow::parse_duration(t).map_err(|e| {
            Error::invalid(format!("--tolerance: {e}"))
                .with_hint(crate::workflow::duration::DURATION_HINT)
        })?;
        if d.as_secs() == 0 {
            return Err(Error::invalid("--tolerance must be at least 1s")
                .with_hint("Stripe's own libraries use 5m"));
        }
        s.tolerance_s = d.as_secs() as i64;
    }
    Ok(s)
}

/// "format github, body as input `event`".
fn describe(s: &HookSettings) -> String {
    let mut d = format!("format {}", s.format.as_str());
    if s.format == HookFormat::Stripe {
        d.push_str(&format!(", tolerance {}s", s.tolerance_s));
    }
    match &s.payload {
        Some(p) => d.push_str(&format!(", body as input `{p}`")),
        None => d.push_str(", one input per field"),
    }
    d
}

/// A secret piped on stdin: one trailing newline dropped; nothing else changed.
fn read_secret_stdin(a: &HookAddArgs) -> Result<String, Error> {
    let hint = format!(
        "pipe it in: printf '%s' \"$SECRET\" | aios hook add {} {} --secret-stdin",
        crate::connectors::shell::quote(&a.name),
        crate::connectors::shell::quote(&a.file.display().to_string())
    );
    if std::io::stdin().is_terminal() {
        return Err(
            Error::invalid("--secret-stdin reads a piped secret, and stdin is a terminal")
                .with_hint(hint),
        );
    }
    let mut raw = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut raw)
        .map_err(|e| {
            Error::invalid(format!("cannot read the secret from stdin: {e}"))
                .with_hint(hint.clone())
        })?;
    let s = raw
        .strip_suffix("\r\n")
        .or_else(|| raw.strip_suffix('\n'))
        .unwrap_or(&raw);
    hooks::check_secret(s).map_err(|m| Error::invalid(m).with_hint(hint))?;
    Ok(s.to_string())
}

fn list(ctx: &Ctx, as_json: bool) -> CmdResult {
    let journal = ctx.reader()?;
    let hooks = journal.hooks()?;
    if as_json {
        ui::print_json(&serde_json::Value::Array(
            hooks
                .iter()
                .map(|h| {
                    json!({
                        "name": h.name,
                        "url_path": format!("/hooks/{}", h.name),
                        "path": h.path,
                        "format": h.settings.format.as_str(),
                        "payload": h.settings.payload,
                        "tolerance_s": h.settings.tolerance_s,
                        "created_at": format_ms(h.created_at),
                        "updated_at": format_ms(h.updated_at),
                    })
                })
                .collect(),
        ));
        return Ok(Exit::Ok);
    }
    if hooks.is_empty() {
        ui::println("no hooks; add one with: aios hook add NAME FILE");
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let w = hooks.iter().map(|h| h.name.len()).max().unwrap_or(4).max(4);
    let mut out = s.bold(&format!(
        "{:<w$}  {:<6}  {:<14}  WORKFLOW",
        "NAME", "FORMAT", "INPUTS"
    ));
    out.push('\n');
    for h in &hooks {
        let inputs = match &h.settings.payload {
            Some(p) => format!("body -> {p}"),
            None => "per field".to_string(),
        };
        out.push_str(&format!(
            "{:<w$}  {:<6}  {:<14}  {}\n",
            h.name,
            h.settings.format.as_str(),
            inputs,
            h.path
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
