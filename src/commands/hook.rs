//! `aios hook add|list|remove` and `aios serve`: inbound webhooks.

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{HookAddArgs, HookArgs, HookCommand, ServeArgs};
use crate::clock::format_ms;
use crate::error::Error;
use crate::schedule::{hooks, serve as server};

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
    let (source, _wf) = super::run::load_workflow(ctx, &a.file)?;
    let abs = std::path::absolute(&a.file)
        .with_context(|| format!("cannot resolve {}", a.file.display()))?;
    let dir = abs.parent().unwrap_or(std::path::Path::new("/"));
    let secret_path = hooks::secret_path(&ctx.data_dir, &a.name);
    let mut journal = ctx.journal()?;
    let new_secret = if a.rotate || hooks::read_secret(&secret_path)?.is_none() {
        let s = hooks::new_secret()?;
        hooks::write_secret(&secret_path, &s)?;
        Some(s)
    } else {
        None
    };
    let existed = journal.put_hook(
        &a.name,
        &abs.display().to_string(),
        &dir.display().to_string(),
        &source,
    )?;
    let mut out = format!(
        "hook {} {}: POST /hooks/{} starts {}\n",
        a.name,
        if existed { "updated" } else { "added" },
        a.name,
        a.file.display()
    );
    match new_secret {
        Some(s) => out.push_str(&format!(
            "secret (shown once; kept in {}): {s}\n\
             sign each body: {}: sha256=<hex HMAC-SHA256 of the body with the secret>, or send Authorization: Bearer <secret>\n",
            secret_path.display(),
            "X-Aios-Signature"
        )),
        None => out.push_str("the secret is unchanged (--rotate makes a new one)\n"),
    }
    ui::print(&out);
    Ok(Exit::Ok)
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
    let mut out = s.bold(&format!("{:<w$}  WORKFLOW", "NAME"));
    out.push('\n');
    for h in &hooks {
        out.push_str(&format!("{:<w$}  {}\n", h.name, h.path));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

pub fn serve(ctx: &Ctx, args: ServeArgs) -> CmdResult {
    let addr: std::net::SocketAddr = args.addr.parse().map_err(|e| {
        Error::invalid(format!("--addr {}: {e}", args.addr))
            .with_hint("use HOST:PORT, like 127.0.0.1:8787")
    })?;
    if args.max_body == 0 {
        return Err(Error::invalid("--max-body must be at least 1 byte").into());
    }
    // The journal opens (and migrates) before the server listens.
    drop(ctx.journal()?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| {
            Error::conflict(format!("cannot listen on {addr}: {e}"))
                .with_hint("choose another port with --addr 127.0.0.1:PORT")
        })?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let (db, clock, lock_timeout) = (ctx.db_path(), ctx.clock, ctx.lock_timeout);
    let open: server::OpenJournal = Arc::new(move || {
        crate::journal::Journal::open(
            &db,
            clock,
            crate::journal::OpenOptions {
                lock_timeout,
                ..Default::default()
            },
        )
    });
    let settings = server::Settings {
        open,
        data_dir: ctx.data_dir.clone(),
        max_body: args.max_body,
        env: ctx.run_env()?,
        log: Arc::new(|line: &str| ui::eprint(&format!("{line}\n"))),
    };
    let signals = {
        let _guard = rt.enter();
        super::schedule::Signals::new().context("cannot install the signal handlers")?
    };
    ui::eprint(&format!(
        "aios serve: listening on http://{local} (POST /hooks/NAME); stop with Ctrl-C or SIGTERM\n"
    ));
    rt.block_on(server::serve(listener, settings, async move {
        let mut signals = signals;
        signals.recv().await;
    }))
    .context("the server stopped")?;
    ui::eprint("aios serve: stopped\n");
    Ok(Exit::Ok)
}
