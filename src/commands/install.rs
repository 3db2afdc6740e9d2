//! `aios schedule install [--write]`: how to run `aios tick` every minute, for this
//! binary and this data directory: a crontab line (printed, never installed: the
//! user's crontab is theirs to edit) and a systemd user service + timer (printed, or
//! written to `$XDG_CONFIG_HOME/systemd/user/` with `--write`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::connectors::shell;
use crate::error::Error;

const SERVICE: &str = "aios-tick.service";
pub(super) const TIMER: &str = "aios-tick.timer";

/// The crontab line, the service and the timer.
pub struct Units {
    pub cron: String,
    pub service: String,
    pub timer: String,
}

/// Build the three texts. `home` is set when the data directory was chosen with
/// `AIOS_HOME`/`--home` (it is then pinned in both).
pub fn units(bin: &Path, home: Option<&Path>) -> Units {
    let bin_s = bin.display().to_string();
    let cron_env = home
        .map(|h| format!("AIOS_HOME={} ", shell::quote(&h.display().to_string())))
        .unwrap_or_default();
    // cron turns an unescaped `%` into a newline.
    let cron = format!("* * * * * {cron_env}{} tick -q", shell::quote(&bin_s)).replace('%', "\\%");
    let env_line = home
        .map(|h| {
            format!(
                "Environment={}\n",
                systemd_quote(&format!("AIOS_HOME={}", h.display()))
            )
        })
        .unwrap_or_default();
    let service = format!(
        "[Unit]\nDescription=aios tick: fire due schedules, continue runs that can go on\n\n\
         [Service]\nType=oneshot\n{env_line}ExecStart={} tick -q\n",
        systemd_quote(&bin_s)
    );
    let timer = "[Unit]\nDescription=aios tick every minute\n\n\
         [Timer]\nOnCalendar=*-*-* *:*:00\nPersistent=true\nAccuracySec=1s\n\n\
         [Install]\nWantedBy=timers.target\n"
        .to_string();
    Units {
        cron,
        service,
        timer,
    }
}

/// Quote for a systemd unit line: `%` is a specifier, spaces split words.
fn systemd_quote(s: &str) -> String {
    let s = s.replace('%', "%%");
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// `$XDG_CONFIG_HOME/systemd/user`, else `$HOME/.config/systemd/user`.
pub(super) fn user_unit_dir() -> Result<PathBuf, Error> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if !x.is_empty() && Path::new(&x).is_absolute() => PathBuf::from(x),
        _ => match std::env::var_os("HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h).join(".config"),
            _ => {
                return Err(Error::invalid("neither XDG_CONFIG_HOME nor HOME is set")
                    .with_hint("set HOME, or write the units printed without --write yourself"));
            }
        },
    };
    Ok(base.join("systemd").join("user"))
}

/// Write the systemd user units (also `aios init`'s timer): each with what was
/// done to it, `written`, `updated` or `unchanged`.
pub fn write_units(ctx: &Ctx) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    let bin = std::env::current_exe().context("cannot find this program's path")?;
    let home = (ctx.data_dir == ctx.config_dir).then_some(ctx.data_dir.as_path());
    let u = units(&bin, home);
    let dir = user_unit_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut done = Vec::new();
    for (name, text) in [(SERVICE, &u.service), (TIMER, &u.timer)] {
        let path = dir.join(name);
        let before = std::fs::read_to_string(&path).ok();
        let word = match before.as_deref() {
            Some(b) if b == text.as_str() => "unchanged",
            Some(_) => "updated",
            None => "written",
        };
        if word != "unchanged" {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        done.push((word, path));
    }
    Ok(done)
}

pub fn install(ctx: &Ctx, write: bool) -> CmdResult {
    let bin = std::env::current_exe().context("cannot find this program's path")?;
    // `--home`/`AIOS_HOME` put config and data in one folder; otherwise the default
    // locations apply and nothing needs pinning.
    let home = (ctx.data_dir == ctx.config_dir).then_some(ctx.data_dir.as_path());
    let u = units(&bin, home);
    let s = ctx.ui.out();
    let mut out = String::new();
    out.push_str(
        &s.bold("# crontab: add this line with `crontab -e` (aios never edits your crontab)"),
    );
    out.push('\n');
    out.push_str(&u.cron);
    out.push_str("\n\n");
    if !write {
        out.push_str(&s.bold(&format!("# systemd user units (`aios schedule install --write` writes them): ~/.config/systemd/user/{SERVICE}")));
        out.push('\n');
        out.push_str(&u.service);
        out.push('\n');
        out.push_str(&s.bold(&format!("# ~/.config/systemd/user/{TIMER}")));
        out.push('\n');
        out.push_str(&u.timer);
        out.push_str("\nthen: systemctl --user daemon-reload && systemctl --user enable --now aios-tick.timer\n");
        ui::print(&out);
        return Ok(Exit::Ok);
    }
    for (word, path) in write_units(ctx)? {
        out.push_str(&format!("{word}: {}\n", path.display()));
    }
    out.push_str(
        "next: systemctl --user daemon-reload && systemctl --user enable --now aios-tick.timer\n",
    );
    ui::print(&out);
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_sh_and_systemd() {
        let u = units(
            Path::new("/opt/my tools/aios"),
            Some(Path::new("/data/a%b")),
        );
        assert_eq!(
            u.cron,
            // `%` is plain to sh; cron reads `\%` as a literal `%`.
            "* * * * * AIOS_HOME=/data/a\\%b '/opt/my tools/aios' tick -q"
        );
        assert!(u.service.contains("Environment=AIOS_HOME=/data/a%%b\n"));
        assert!(
            u.service
                .contains("ExecStart=\"/opt/my tools/aios\" tick -q\n")
        );
        let plain = units(Path::new("/usr/bin/aios"), None);
        assert_eq!(plain.cron, "* * * * * /usr/bin/aios tick -q");
        assert!(!plain.service.contains("Environment"));
    }
}
