//! `aios init`: set up a machine. Creates the data directory (and its database),
//! writes a commented `config.toml` (never over an existing one), offers to install
//! the tick timer, and prints the next three commands. Safe to run again: it says
//! what already exists and changes nothing of it.

use std::io::{IsTerminal, Write};

use anyhow::Context as _;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::InitArgs;

/// The commented configuration `aios init` writes: lines starting with `##`
/// explain, lines starting with `# ` are settings to uncomment.
pub const CONFIG_TEMPLATE: &str = include_str!("init/config.toml");

/// The commands `aios init` suggests next.
const NEXT: [(&str, &str); 3] = [
    ("aios new hello", "write a first workflow, hello.toml"),
    (
        "aios run hello.toml",
        "run it; what it proposes waits for you",
    ),
    ("aios inbox", "review and approve"),
];

pub fn init(ctx: &Ctx, args: InitArgs) -> CmdResult {
    let s = ctx.ui.out();
    let mut out = String::new();
    let mut line = |word: &str, what: String| {
        out.push_str(&format!("{word:<9} {what}\n"));
    };

    let db = ctx.db_path();
    let existed = db.exists();
    std::fs::create_dir_all(&ctx.data_dir)
        .with_context(|| format!("cannot create {}", ctx.data_dir.display()))?;
    // Opening the journal creates the database and applies the migrations.
    drop(ctx.journal()?);
    match ctx.pg_pool()? {
        Some(pool) => line("migrated", format!("{} (data)", pool.redacted_url())),
        None => line(
            if existed { "exists" } else { "created" },
            format!("{} (data)", db.display()),
        ),
    }

    std::fs::create_dir_all(&ctx.config_dir)
        .with_context(|| format!("cannot create {}", ctx.config_dir.display()))?;
    let cfg = ctx.config_dir.join("config.toml");
    // create_new: an existing file (even one made a moment ago) is never replaced.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&cfg)
    {
        Ok(mut f) => {
            f.write_all(CONFIG_TEMPLATE.as_bytes())
                .with_context(|| format!("cannot write {}", cfg.display()))?;
            line(
                "created",
                format!("{} (every section commented out)", cfg.display()),
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            line("exists", format!("{} (left as it is)", cfg.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", cfg.display())),
    }

    let install = if args.yes {
        true
    } else if args.no_timer || !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal())
    {
        false
    } else {
        ui::print(&out);
        out.clear();
        ask(
            "Install the tick timer (a systemd user timer running `aios tick` every minute)? [y/N] ",
        )
    };
    let mut line = |word: &str, what: String| {
        out.push_str(&format!("{word:<9} {what}\n"));
    };
    if install {
        for (word, path) in super::install::write_units(ctx)? {
            line(word, path.display().to_string());
        }
        line(
            "then",
            "systemctl --user daemon-reload && systemctl --user enable --now aios-tick.timer"
                .into(),
        );
    } else {
        line(
            "timer",
            "not installed: `aios schedule install` prints a crontab line and systemd units".into(),
        );
    }

    out.push_str(&format!("\n{}\n", s.bold("Next:")));
    for (cmd, why) in NEXT {
        out.push_str(&format!("  {cmd:<22} # {why}\n"));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

/// Ask a yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> bool {
    ui::print(question);
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
/// The template with every setting uncommented (`# ` removed; `##` lines stay).
fn uncommented(template: &str) -> String {
    template
        .lines()
        .map(|l| {
            if l.starts_with("##") {
                l
            } else {
                l.strip_prefix("# ").unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFile;

    /// The generated file, every section uncommented, is read without error by
    /// each section's reader on main (and they see what was written).
    #[test]
    fn every_section_uncommented_parses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, uncommented(CONFIG_TEMPLATE)).unwrap();
        let cfg = ConfigFile::load(&p).unwrap();
        for section in [
            "providers",
            "models",
            "budget",
            "secrets",
            "embeddings",
            "smtp",
            "imap",
            "notify",
            "mcp",
            "rate",
            "backup",
            "personas",
            "autonomy",
        ] {
            assert!(
                cfg.section(section).is_some(),
                "no [{section}] in the template"
            );
        }
        let agent = crate::agent::config::from_config(&cfg, &|_| None).unwrap();
        assert_eq!(
            agent.providers.keys().collect::<Vec<_>>(),
            ["anthropic", "llamacpp", "ollama", "openai"]
        );
        assert_eq!(agent.models.len(), 2);
        assert_eq!(agent.caps.daily_usd, Some(2.0));
        assert!(crate::agent::config::secrets_file(&cfg).unwrap().is_some());
        assert!(
            crate::memory::embed::EmbeddingsConfig::from_config(&cfg)
                .unwrap()
                .is_some()
        );
        let smtp = crate::smtp::config::from_config(&cfg).unwrap();
        assert_eq!(smtp.known(), "default");
        let mail = crate::mail::config::from_config(&cfg, dir.path(), dir.path()).unwrap();
        assert_eq!(mail.accounts.len(), 1);
        let notify = crate::notify::config::from_config(&cfg).unwrap();
        assert_eq!(notify.channels.len(), 1);
        let mcp = crate::mcp::config::from_config(&cfg, dir.path()).unwrap();
        assert_eq!(mcp.servers.len(), 2);
        crate::rate::RateLimits::from_config(&cfg).unwrap();
        let backup = crate::health::backup::BackupSettings::from_config(&cfg, dir.path()).unwrap();
        assert_eq!(
            (backup.dir, backup.keep),
            (dir.path().join("backups"), Some(7))
        );
        let home = dir.path().join("home");
        let trust = crate::trust::from_config(&cfg, Some(&home)).unwrap();
        let accounting = trust.personas.get(Some("accounting")).unwrap();
        assert_eq!(accounting.http_methods, ["GET", "POST", "DELETE"]);
        assert_eq!(
            accounting.file_roots,
            [home.join("accounting").display().to_string()]
        );
        assert_eq!(accounting.max_usd_day, Some(0.5));
        assert_eq!(trust.rules.len(), 1);
        assert_eq!(trust.rules[0].name, "reminders");
        // Every top-level table is one a reader on main takes.
        assert_eq!(cfg.table.len(), 13);
    }

    /// As written, nothing is configured: the file is valid TOML with no table.
    #[test]
    fn as_written_nothing_is_set() {
        let t: toml::Table = toml::from_str(CONFIG_TEMPLATE).unwrap();
        assert!(t.is_empty());
    }

    /// Each section has a one-line explanation right above it.
    #[test]
    fn each_section_is_explained() {
        let lines: Vec<&str> = CONFIG_TEMPLATE.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with("# [") && !l.starts_with("# [mcp.remote]") {
                assert!(
                    lines[i - 1].starts_with("## "),
                    "{l} has no explanation above it"
                );
            }
        }
    }
}
