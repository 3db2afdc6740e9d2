//! `aios serve`: answer signed `POST /hooks/NAME` requests by starting workflows.

use std::sync::Arc;

use anyhow::Context as _;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::ServeArgs;
use crate::error::Error;
use crate::schedule::serve as server;

/// File descriptors kept for the journal, logs and the listener beyond connections.
const SPARE_FDS: u64 = 128;

pub fn serve(ctx: &Ctx, args: ServeArgs) -> CmdResult {
    let addr: std::net::SocketAddr = args.addr.parse().map_err(|e| {
        Error::invalid(format!("--addr {}: {e}", args.addr))
            .with_hint("use HOST:PORT, like 127.0.0.1:8787")
    })?;
    if args.max_body == 0 {
        return Err(Error::invalid("--max-body must be at least 1 byte").into());
    }
    let read_timeout = crate::workflow::parse_duration(&args.read_timeout).map_err(|e| {
        Error::invalid(format!("--read-timeout: {e}"))
            .with_hint(crate::workflow::duration::DURATION_HINT)
    })?;
    if read_timeout.is_zero() {
        return Err(Error::invalid("--read-timeout must be longer than 0s")
            .with_hint("the default is 10s")
            .into());
    }
    if args.max_connections == 0 || args.workers == 0 {
        return Err(Error::invalid("--max-connections and --workers must be at least 1").into());
    }
    let max_connections = fit_open_files(args.max_connections);
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
    let (clock, lock_timeout) = (ctx.clock, ctx.lock_timeout);
    let open: server::OpenJournal = ctx.journal_opener()?;
    let settings = server::Settings {
        open,
        data_dir: ctx.data_dir.clone(),
        max_body: args.max_body,
        read_timeout,
        max_connections,
        workers: args.workers,
        lock_timeout,
        clock,
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

/// Raise this process's open-file limit so `max` connections fit (up to the hard
/// limit); when they cannot, serve fewer and say so.
fn fit_open_files(max: usize) -> usize {
    let want = max as u64 + SPARE_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read only the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return max;
    }
    if lim.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: want.min(lim.rlim_max),
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = raised.rlim_cur;
        }
    }
    if lim.rlim_cur >= want {
        return max;
    }
    let fits = lim.rlim_cur.saturating_sub(SPARE_FDS).max(1) as usize;
    ui::eprint(&format!(
        "aios serve: the open-file limit ({}) allows {fits} connections; serving at most {fits} (raise it with `ulimit -n`)\n",
        lim.rlim_cur
    ));
    fits
}
