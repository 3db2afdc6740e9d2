//! `aios secret set|list|rm`: the secret store. A value is read from the terminal
//! without echo, or from stdin when piped, never from the command line; listings
//! show names, where each secret is kept and when it was set, never a value.

use std::io::{IsTerminal, Read};

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{SecretArgs, SecretCommand, SecretListArgs, SecretNameArgs, SecretSetArgs};
use crate::error::Error;
use crate::journal::{Journal, RunStatus};
use crate::secrets::{MIN_LEN, NAME_HINT, Store, valid_name};

pub fn secret(ctx: &Ctx, args: SecretArgs) -> CmdResult {
    match args.command {
        SecretCommand::Set(a) => set(ctx, a),
        SecretCommand::List(a) => list(ctx, a),
        SecretCommand::Rm(a) => rm(ctx, a),
    }
}

/// The most a piped value may be.
const MAX_VALUE: u64 = 64 * 1024;

fn check_name(name: &str) -> Result<(), Error> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(format!("`{name}` is not a secret name")).with_hint(NAME_HINT))
    }
}

fn set(ctx: &Ctx, a: SecretSetArgs) -> CmdResult {
    if !a.value.is_empty() {
        // Never echo what was given: it is probably the secret.
        return Err(Error::invalid(
            "aios secret set takes the value from the terminal or stdin, never from the command line (it would stay in your shell history and in the process list)",
        )
        .with_hint(format!(
            "run `aios secret set {}` and type the value, or pipe it: printf '%s' \"$VALUE\" | aios secret set {}",
            a.name, a.name
        ))
        .into());
    }
    check_name(&a.name)?;
    let value = if std::io::stdin().is_terminal() {
        hidden::read_line(&format!("value of {} (typing is not shown): ", a.name))
            .map_err(|e| Error::invalid(format!("cannot read the value from the terminal: {e}")))?
    } else {
        let mut raw = Vec::new();
        std::io::stdin()
            .take(MAX_VALUE + 1)
            .read_to_end(&mut raw)
            .map_err(|e| Error::invalid(format!("cannot read the value from stdin: {e}")))?;
        if raw.len() as u64 > MAX_VALUE {
            return Err(Error::invalid("the value on stdin is longer than 64 KiB").into());
        }
        let mut s = String::from_utf8(raw)
            .map_err(|_| Error::invalid("the value on stdin is not UTF-8 text"))?;
        if s.ends_with("\r\n") {
            s.truncate(s.len() - 2);
        } else if s.ends_with('\n') {
            s.pop();
        }
        s
    };
    let hint = format!("printf '%s' \"$VALUE\" | aios secret set {}", a.name);
    if value.is_empty() {
        return Err(Error::invalid("the value is empty; nothing was set")
            .with_hint(hint)
            .into());
    }
    if value.len() < MIN_LEN {
        return Err(Error::invalid(format!(
            "the value is shorter than {MIN_LEN} bytes: aios could not tell it apart from ordinary text to keep it out of what it stores"
        ))
        .with_hint(hint)
        .into());
    }
    if value.contains('\0') {
        return Err(Error::invalid("the value holds a NUL byte")
            .with_hint(hint)
            .into());
    }
    let store = Store::new(&ctx.data_dir);
    let at = crate::clock::format_ms(ctx.clock.now_ms());
    let replaced = store.set(&a.name, &value, &at)?;
    let mut out = format!(
        "secret {} {} (kept in {})\n",
        a.name,
        if replaced { "replaced" } else { "set" },
        store.dir().join(&a.name).display()
    );
    if let Ok(s) = ctx.secrets()
        && s.file_names().any(|n| n == a.name)
        && let Some(p) = s.file_path()
    {
        out.push_str(&format!(
            "note: {} also has {}; the store's value is the one used\n",
            p.display(),
            a.name
        ));
    }
    out.push_str(&format!(
        "use it in a step: {{{{ secret(\"{}\") }}}}\n",
        a.name
    ));
    ui::print(&out);
    Ok(Exit::Ok)
}

fn rm(ctx: &Ctx, a: SecretNameArgs) -> CmdResult {
    check_name(&a.name)?;
    let store = Store::new(&ctx.data_dir);
    if store.remove(&a.name)? {
        ui::println(&format!("secret {} removed", a.name));
        return Ok(Exit::Ok);
    }
    let secrets = ctx.secrets()?;
    if secrets.file_names().any(|n| n == a.name)
        && let Some(p) = secrets.file_path()
    {
        return Err(Error::not_found(format!(
            "the store has no secret {}; it is in the secrets file {}",
            a.name,
            p.display()
        ))
        .with_hint(format!("remove its line from {}", p.display()))
        .into());
    }
    Err(Error::not_found(format!("no secret {}", a.name))
        .with_hint("aios secret list")
        .into())
}

/// One listed secret.
struct Row {
    name: String,
    source: &'static str,
    place: Option<String>,
    set_at: Option<String>,
    run: Option<i64>,
}

fn rows(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let store = Store::new(&ctx.data_dir);
    let mut rows = Vec::new();
    for e in store.list()? {
        rows.push(Row {
            place: Some(store.dir().join(&e.name).display().to_string()),
            name: e.name,
            source: "store",
            set_at: Some(e.set_at),
            run: None,
        });
    }
    let secrets = ctx.secrets()?;
    if let Some(p) = secrets.file_path() {
        for n in secrets.file_names() {
            rows.push(Row {
                name: n.to_string(),
                source: "secrets-file",
                place: Some(p.display().to_string()),
                set_at: None,
                run: None,
            });
        }
    }
    let runs = store.runs()?;
    if !runs.is_empty() {
        let journal = ctx.reader()?;
        for (uid, inputs) in runs {
            let run = journal.run_by_uid(&uid)?.map(|(id, _)| id);
            for e in inputs {
                rows.push(Row {
                    place: Some(
                        store
                            .dir()
                            .join("runs")
                            .join(&uid)
                            .join(&e.name)
                            .display()
                            .to_string(),
                    ),
                    name: format!("inputs.{}", e.name),
                    source: "run-input",
                    set_at: Some(e.set_at),
                    run,
                });
            }
        }
    }
    for (hook, _) in crate::schedule::hooks::all_secrets(&ctx.data_dir) {
        rows.push(Row {
            place: Some(
                crate::schedule::hooks::secret_path(&ctx.data_dir, &hook)
                    .display()
                    .to_string(),
            ),
            name: format!("hook:{hook}"),
            source: "hook",
            set_at: None,
            run: None,
        });
    }
    // Providers' keys read from the environment (the store and the file are above).
    if let Ok(cfg) = ctx.config()
        && let Ok(agent) = crate::agent::config::from_config(&cfg, &|n| ctx.key(n, &secrets))
    {
        for p in agent.providers.values() {
            if let Some(name) = &p.api_key_env
                && std::env::var(name).is_ok_and(|v| !v.is_empty())
            {
                rows.push(Row {
                    name: name.clone(),
                    source: "environment",
                    place: None,
                    set_at: None,
                    run: None,
                });
            }
        }
    }
    Ok(rows)
}

/// How long secret inputs kept for a run that was never recorded (a request whose
/// recording failed, a process stopped in between) stay before they are forgotten.
const ORPHAN_AFTER_MS: i64 = 3_600_000;

/// Forget the secret inputs of runs that ended for good (succeeded or cancelled:
/// nothing can resume them) and of runs never recorded. `aios tick` (and the daemon)
/// and `aios secret list` do it; a run's driver does it as the run ends. Returns
/// how many runs' inputs were forgotten.
pub(crate) fn sweep(ctx: &Ctx, journal: &Journal) -> Result<usize, Error> {
    let store = Store::new(&ctx.data_dir);
    let now = ctx.clock.now_ms();
    let mut n = 0;
    for (uid, inputs) in store.runs()? {
        let gone = match journal.run_by_uid(&uid)? {
            Some((_, status)) => matches!(status, RunStatus::Succeeded | RunStatus::Cancelled),
            None => inputs.iter().all(|e| {
                e.set_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| now - t.as_millisecond() > ORPHAN_AFTER_MS)
            }),
        };
        if gone {
            store.remove_run(&uid)?;
            n += 1;
        }
    }
    Ok(n)
}

fn list(ctx: &Ctx, a: SecretListArgs) -> CmdResult {
    if !Store::new(&ctx.data_dir).runs()?.is_empty() {
        sweep(ctx, &ctx.reader()?)?;
    }
    let rows = rows(ctx)?;
    if a.json {
        ui::print_json(&Json::Array(
            rows.iter()
                .map(|r| {
                    json!({
                        "name": r.name,
                        "source": r.source,
                        "where": r.place,
                        "set_at": r.set_at,
                        "run_id": r.run,
                    })
                })
                .collect(),
        ));
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        ui::println("no secrets; set one with: aios secret set NAME");
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let source = |r: &Row| match (r.source, r.run) {
        ("run-input", Some(id)) => format!("run {id} input"),
        ("run-input", None) => "run input (no run)".to_string(),
        ("secrets-file", _) => "secrets file".to_string(),
        (other, _) => other.to_string(),
    };
    let sw = rows
        .iter()
        .map(|r| source(r).len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = s.bold(&format!(
        "{:<w$}  {:<sw$}  {:<20}  WHERE",
        "NAME", "SOURCE", "SET"
    ));
    out.push('\n');
    for r in &rows {
        out.push_str(&format!(
            "{:<w$}  {:<sw$}  {:<20}  {}\n",
            r.name,
            source(r),
            r.set_at.as_deref().unwrap_or("-"),
            r.place.as_deref().unwrap_or("(this command's environment)")
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

/// Reading a line from the terminal without echoing it.
mod hidden {
    use std::io::BufRead;
    use std::sync::OnceLock;

    /// The terminal's settings before echo was turned off (for the SIGINT handler).
    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    extern "C" fn on_signal(sig: libc::c_int) {
        // SAFETY: tcsetattr and _exit are async-signal-safe.
        unsafe {
            if let Some(t) = SAVED.get() {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
            libc::_exit(128 + sig);
        }
    }

    /// Turns echo back on when dropped.
    struct Restore(libc::termios);

    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: fd 0 is the terminal whose settings were read into self.0.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &self.0);
            }
        }
    }

    /// Print `prompt` on stderr and read one line from the terminal on stdin with
    /// echo off (restored afterwards, also on Ctrl-C).
    pub fn read_line(prompt: &str) -> std::io::Result<String> {
        // SAFETY: zeroed termios is a valid out-parameter for tcgetattr.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let _ = SAVED.set(t);
        let restore = Restore(t);
        let mut quiet = t;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
        // SAFETY: installing a handler that only restores the terminal and exits.
        unsafe {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGHUP, handler);
        }
        // Echo goes off before the prompt shows: nothing typed after it is echoed.
        // SAFETY: fd 0 and a valid termios.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        super::ui::eprint(prompt);
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        drop(restore);
        super::ui::eprint("\n");
        read?;
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        Ok(line)
    }
}
