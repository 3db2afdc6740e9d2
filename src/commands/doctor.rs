//! `aios doctor [--json]`: is this machine ready? The configuration (every
//! section's reader; a problem at the file:line:column of the key it names), each
//! LLM provider (its model list, as `aios llm ping`), each MCP server (started,
//! tools listed), each SMTP and IMAP account (logged in: `doctor_more`), the tick
//! timer and the last tick, the database (integrity and size) and the secrets the
//! configuration names. Exit 1 with the list when something is wrong. A check
//! writes nothing: without a database, doctor says so and does not create one.

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::DoctorArgs;

/// One check: what, whether it is fine (`warn`: worth knowing, not wrong), detail,
/// and for a config problem where it is (file, line, column).
pub(super) struct Check {
    what: String,
    status: &'static str,
    detail: String,
    at: Option<(String, usize, usize)>,
}

pub(super) fn check(
    what: impl Into<String>,
    status: &'static str,
    detail: impl Into<String>,
) -> Check {
    Check {
        what: what.into(),
        status,
        detail: detail.into(),
        at: None,
    }
}

pub fn doctor(ctx: &Ctx, args: DoctorArgs) -> CmdResult {
    let mut checks = Vec::new();
    let mut clean = false;
    let cfg = match ctx.config() {
        Ok(cfg) => {
            let problems = super::config::section_problems(ctx, &cfg);
            clean = problems.is_empty();
            if clean {
                checks.push(check(
                    "config",
                    "ok",
                    match &cfg.path {
                        Some(p) => format!("{} reads", p.display()),
                        None => "no config.toml (the defaults; `aios init` writes one)".into(),
                    },
                ));
            }
            for e in problems {
                let hint = e.hint.map(|h| format!(" (hint: {h})")).unwrap_or_default();
                let origin = cfg.origin();
                let c = match cfg.locate(&e.message) {
                    Some((line, col)) => {
                        // `FILE: message` becomes `FILE:LINE:COLUMN: message`.
                        let rest = e
                            .message
                            .strip_prefix(&format!("{origin}: "))
                            .unwrap_or(&e.message);
                        let mut c = check(
                            "config",
                            "fail",
                            format!("{origin}:{line}:{col}: {rest}{hint}"),
                        );
                        c.at = Some((origin, line, col));
                        c
                    }
                    None => check("config", "fail", format!("{}{hint}", e.message)),
                };
                checks.push(c);
            }
            Some(cfg)
        }
        Err(e) => {
            checks.push(check("config", "fail", e.message));
            None
        }
    };
    // Providers and tool servers are asked only of a configuration that reads
    // (its problems are listed once, above).
    if clean {
        providers(ctx, &mut checks);
        mcp(ctx, &mut checks);
        if let (Some(cfg), Ok(store)) = (&cfg, ctx.secrets()) {
            super::doctor_more::smtp(cfg, &store, &mut checks);
            super::doctor_more::imap(ctx, cfg, &store, &mut checks);
        }
    }
    if let Some(cfg) = &cfg {
        secrets(ctx, cfg, &mut checks);
    }
    let systemd_timer = timer(ctx, &mut checks);
    super::doctor_more::last_tick(ctx, systemd_timer, &mut checks);
    database(ctx, &mut checks);

    let failed = checks.iter().filter(|c| c.status == "fail").count();
    if args.json {
        ui::print_json(&json!({
            "ok": failed == 0,
            "checks": checks.iter().map(|c| {
                let mut j = json!({"check": c.what, "status": c.status, "detail": c.detail});
                if let Some((file, line, column)) = &c.at {
                    j["file"] = json!(file);
                    j["line"] = json!(line);
                    j["column"] = json!(column);
                }
                j
            }).collect::<Vec<_>>(),
        }));
    } else {
        let s = ctx.ui.out();
        let mut out = String::new();
        for c in &checks {
            let mark = match c.status {
                "ok" => s.green("ok  "),
                "warn" => s.yellow("warn"),
                _ => s.red_bold("FAIL"),
            };
            out.push_str(&format!("{mark} {:<16} {}\n", c.what, c.detail));
        }
        out.push_str(&if failed == 0 {
            "\nall good\n".to_string()
        } else {
            format!("\n{} wrong\n", crate::text::count(failed, "thing"))
        });
        ui::print(&out);
    }
    Ok(if failed == 0 { Exit::Ok } else { Exit::Failed })
}

fn providers(ctx: &Ctx, checks: &mut Vec<Check>) {
    let (settings, secrets) = match ctx.agent_env() {
        Ok(x) => x,
        Err(e) => return checks.push(check("providers", "fail", e.message)),
    };
    match super::llm_try::listings(&settings, &secrets, None) {
        Err(e) => checks.push(check("providers", "fail", e.message)),
        Ok(lists) => {
            for (p, l, took) in lists {
                let what = format!("provider {}", p.name);
                checks.push(match l {
                    Ok(crate::agent::provider::Listing::Models(n)) => check(
                        what,
                        "ok",
                        format!(
                            "{} answers in {}ms: {}",
                            p.base_url,
                            took.as_millis(),
                            crate::text::count(n.len(), "model")
                        ),
                    ),
                    Ok(crate::agent::provider::Listing::NoList) => check(
                        what,
                        "ok",
                        format!("{} answers (no model list)", p.base_url),
                    ),
                    Err(f) => check(what, "fail", format!("{}: {}", p.base_url, f.full())),
                });
            }
        }
    }
}

fn mcp(ctx: &Ctx, checks: &mut Vec<Check>) {
    let pool = match ctx.mcp_pool() {
        Ok(p) => p,
        Err(e) => return checks.push(check("mcp", "fail", e.message)),
    };
    let names: Vec<String> = pool.settings().servers.keys().cloned().collect();
    for name in names {
        let r = pool.block_on({
            let (pool, name) = (pool.clone(), name.clone());
            async move { pool.list_live(&name).await }
        });
        let what = format!("mcp {name}");
        checks.push(match r {
            Ok(Ok(tools)) => check(
                what,
                "ok",
                format!("started; {}", crate::text::count(tools.len(), "tool")),
            ),
            Ok(Err(e)) => check(what, "fail", e.to_string()),
            Err(e) => check(what, "fail", e.to_string()),
        });
    }
}

/// Every `secret("NAME")` of the configuration, and every `api_key_env`.
fn secrets(ctx: &Ctx, cfg: &crate::config::ConfigFile, checks: &mut Vec<Check>) {
    let store = match ctx.secrets() {
        Ok(s) => s,
        Err(e) => return checks.push(check("secrets", "fail", e.message)),
    };
    let mut named: Vec<(String, String)> = Vec::new();
    fn walk(path: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k == "api_key_env"
                        && let Some(s) = v.as_str()
                    {
                        out.push((p.clone(), format!("env:{s}")));
                    }
                    walk(&p, v, out);
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|x| walk(path, x, out)),
            toml::Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find("secret(\"") {
                    let after = &rest[i + 8..];
                    let Some(j) = after.find("\")") else { break };
                    out.push((path.to_string(), after[..j].to_string()));
                    rest = &after[j..];
                }
            }
            _ => {}
        }
    }
    walk("", &toml::Value::Table(cfg.table.clone()), &mut named);
    let mut unset = Vec::new();
    for (at, name) in &named {
        let set = match name.strip_prefix("env:") {
            Some(var) => ctx.key(var, &store).is_some(),
            None => store.knows(name),
        };
        if !set {
            let n = name.strip_prefix("env:").unwrap_or(name);
            unset.push(format!("{n} ({at}; aios secret set {n})"));
        }
    }
    checks.push(if unset.is_empty() {
        check(
            "secrets",
            "ok",
            format!(
                "{} named, all set",
                crate::text::count(named.len(), "secret")
            ),
        )
    } else {
        check("secrets", "fail", format!("not set: {}", unset.join(", ")))
    });
}

/// The tick timer check; true when the systemd user timer is installed.
fn timer(ctx: &Ctx, checks: &mut Vec<Check>) -> bool {
    let unit = super::install::user_unit_dir()
        .ok()
        .map(|d| d.join(super::install::TIMER))
        .filter(|p| p.is_file());
    let cron = std::process::Command::new("crontab")
        .arg("-l")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .and_then(|t| {
            t.lines()
                .find(|l| {
                    !l.trim_start().starts_with('#') && l.contains("aios") && l.contains(" tick")
                })
                .map(str::to_string)
        });
    let schedules = existing_journal(ctx)
        .and_then(Result::ok)
        .and_then(|j| j.schedules().ok())
        .map_or(0, |s| s.len());
    let installed = unit.is_some();
    checks.push(match (unit, cron) {
        (Some(p), _) => check(
            "tick timer",
            "ok",
            format!("systemd user timer {}", p.display()),
        ),
        (None, Some(line)) => check("tick timer", "ok", format!("crontab: {line}")),
        (None, None) => check(
            "tick timer",
            if schedules > 0 { "fail" } else { "warn" },
            format!(
                "not installed ({} registered): aios schedule install --write",
                crate::text::count(schedules, "schedule")
            ),
        ),
    });
    installed
}

/// The journal when there is one. A check only reads: it never creates the SQLite
/// file (opening one that does not exist would). On PostgreSQL the database is the
/// journal (the `database` check reaches and migrates it), never the file.
pub(super) fn existing_journal(
    ctx: &Ctx,
) -> Option<Result<crate::journal::Journal, crate::error::Error>> {
    match ctx.pg_pool() {
        Ok(Some(_)) => Some(ctx.reader()),
        Err(e) => Some(Err(e)),
        Ok(None) => ctx.db_path().exists().then(|| ctx.reader()),
    }
}

fn database(ctx: &Ctx, checks: &mut Vec<Check>) {
    // On PostgreSQL: reached (and migrated) or not; its integrity is the server's.
    match ctx.pg_pool() {
        Ok(Some(pool)) => {
            return checks.push(match ctx.reader().and_then(|j| j.database_bytes()) {
                Ok(bytes) => check(
                    "database",
                    "ok",
                    format!(
                        "PostgreSQL at {} ({} KiB): reachable, schema current",
                        pool.redacted_url(),
                        bytes.div_ceil(1024)
                    ),
                ),
                Err(e) => check("database", "fail", e.message),
            });
        }
        Err(e) => return checks.push(check("database", "fail", e.message)),
        Ok(None) => {}
    }
    let path = ctx.db_path();
    let Some(journal) = existing_journal(ctx) else {
        return checks.push(check(
            "database",
            "warn",
            format!(
                "no journal yet (run `aios init` or any workflow): {} does not exist",
                path.display()
            ),
        ));
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    checks.push(match journal.and_then(|j| j.integrity_check()) {
        Ok(s) if s == "ok" => check(
            "database",
            "ok",
            format!(
                "{} ({} KiB): integrity ok",
                path.display(),
                size.div_ceil(1024)
            ),
        ),
        Ok(s) => check("database", "fail", format!("{}: {s}", path.display())),
        Err(e) => check(
            "database",
            "fail",
            format!("{}: {}", path.display(), e.message),
        ),
    });
}
