//! `aios config path|show|edit`: where config.toml is, what it says (secrets
//! hidden), and editing it with a check afterwards.

use anyhow::Context as _;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{ConfigArgs, ConfigCommand};
use crate::config::redact;
use crate::error::Error;

pub fn config(ctx: &Ctx, args: ConfigArgs) -> CmdResult {
    let path = ctx.config_dir.join("config.toml");
    match args.command {
        ConfigCommand::Path => {
            ui::println(&path.display().to_string());
            Ok(Exit::Ok)
        }
        ConfigCommand::Show(a) => {
            let cfg = ctx.config()?;
            if cfg.path.is_none() {
                return Err(
                    Error::not_found(format!("{} does not exist", path.display()))
                        .with_hint("aios init")
                        .into(),
                );
            }
            let shown = redact::redact(&cfg.table);
            if a.json {
                ui::print_json(&serde_json::to_value(&shown).context("cannot show the config")?);
            } else {
                ui::print(&toml::to_string_pretty(&shown).context("cannot show the config")?);
            }
            Ok(Exit::Ok)
        }
        ConfigCommand::Edit => edit(ctx, &path),
    }
}

fn edit(ctx: &Ctx, path: &std::path::Path) -> CmdResult {
    if !path.exists() {
        return Err(
            Error::not_found(format!("{} does not exist", path.display()))
                .with_hint("aios init")
                .into(),
        );
    }
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .ok_or_else(|| {
            Error::invalid("neither VISUAL nor EDITOR is set").with_hint(format!(
                "EDITOR=nano aios config edit   # or edit {} yourself",
                path.display()
            ))
        })?;
    // Like git: the editor is a shell word list ("code --wait").
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        return Err(
            Error::other(format!("the editor `{editor}` failed ({status})"))
                .with_hint("aios config edit")
                .into(),
        );
    }
    let cfg = ctx.config()?;
    let mut problems = section_problems(ctx, &cfg);
    if let Some(last) = problems.pop() {
        let all = problems.len() + 1;
        for e in problems {
            ctx.ui.print_error(&anyhow::Error::from(e));
        }
        let hint = last
            .hint
            .clone()
            .unwrap_or_else(|| "aios config edit".into());
        return Err(Error::invalid(format!(
            "{} ({} in all)",
            last.message,
            crate::text::count(all, "problem")
        ))
        .with_hint(hint)
        .into());
    }
    ui::println(&format!(
        "{}: every section reads ({})",
        cfg.origin(),
        crate::text::count(cfg.table.len(), "section")
    ));
    Ok(Exit::Ok)
}

/// What each section's reader says of the configuration (each reader stops at its
/// first problem): providers, models, budget, secrets, embeddings, SMTP, IMAP,
/// notifications, tool servers and rate limits.
pub fn section_problems(ctx: &Ctx, cfg: &crate::config::ConfigFile) -> Vec<Error> {
    let results = [
        crate::agent::config::from_config(cfg, &|_| None).map(drop),
        crate::agent::config::secrets_file(cfg).map(drop),
        crate::memory::embed::EmbeddingsConfig::from_config(cfg).map(drop),
        crate::smtp::config::from_config(cfg).map(drop),
        crate::mail::config::from_config(cfg, &ctx.config_dir, &ctx.data_dir).map(drop),
        crate::notify::config::from_config(cfg).map(drop),
        crate::mcp::config::from_config(cfg, &ctx.config_dir).map(drop),
        crate::rate::RateLimits::from_config(cfg).map(drop),
    ];
    results.into_iter().filter_map(|r| r.err()).collect()
}
