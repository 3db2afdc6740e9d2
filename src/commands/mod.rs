//! The command layer: parse arguments, call the core, print. The only module (with
//! the TUI later) that talks to the user, reads the process environment or exits.

mod backup;
mod breakers;
mod budget;
mod cancel;
mod check;
mod config;
mod decide;
mod doctor;
mod doctor_more;
mod dry;
mod fact;
mod hook;
mod inbox;
mod init;
mod install;
mod llm;
mod llm_try;
pub(crate) mod log;
mod mcp;
mod memory;
mod migrate;
mod new;
mod notify;
mod outcome;
mod plan;
mod replay;
mod run;
mod runs;
mod schedule;
mod secret;
mod serve;
mod show;
mod stats;
mod status;
mod trust;
pub mod ui;
mod undo;
mod worker;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::clock::Clock;
use crate::connectors::ExecEnv;
use crate::engine::RunEnv;
use crate::error::{Error, ErrorKind};
use crate::journal::{Journal, OpenOptions, Owner};
use crate::secrets::{Secrets, Store};

/// Documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, or the run is waiting on the operator.
    Ok = 0,
    /// The run failed (or was cancelled).
    Failed = 1,
    /// Usage error or invalid workflow / input / edit.
    Usage = 2,
    /// No such run, inbox item or file.
    NotFound = 3,
    /// Conflicts with the current state (already decided, finished, held by another process).
    Conflict = 4,
    /// The database could not be used (locked, full disk, damaged, permissions).
    Storage = 5,
}

impl From<ErrorKind> for Exit {
    fn from(k: ErrorKind) -> Exit {
        match k {
            ErrorKind::Invalid => Exit::Usage,
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::Conflict => Exit::Conflict,
            ErrorKind::Storage => Exit::Storage,
            ErrorKind::Other => Exit::Failed,
        }
    }
}

pub type CmdResult = anyhow::Result<Exit>;

/// Everything a command needs from the outside world, read once at start.
pub struct Ctx {
    pub data_dir: PathBuf,
    /// Where `config.toml` lives (`AIOS_HOME`, else the platform config directory).
    pub config_dir: PathBuf,
    pub clock: Clock,
    pub owner: Owner,
    pub child_env: Vec<(String, String)>,
    /// `AIOS_LANDLOCK_ABI` (a testing aid): the highest Landlock ABI shell steps
    /// may use; 0 acts as if the kernel had no Landlock.
    pub landlock_abi: Option<i32>,
    /// `AIOS_LOCK_TIMEOUT`: how long to wait for another process's write lock.
    pub lock_timeout: std::time::Duration,
    pub ui: ui::Ui,
}

impl Ctx {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("aios.db")
    }

    /// The configuration file (empty when there is none).
    pub fn config(&self) -> Result<crate::config::ConfigFile, Error> {
        crate::config::ConfigFile::load(&self.config_dir.join("config.toml"))
    }

    /// `[backup]` of the config (no daily copies when absent).
    pub fn backup_settings(&self) -> Result<crate::health::backup::BackupSettings, Error> {
        crate::health::backup::BackupSettings::from_config(&self.config()?, &self.data_dir)
    }

    /// `[breakers]` of the config (defaults when absent).
    pub fn breaker_settings(&self) -> Result<crate::health::BreakerSettings, Error> {
        crate::health::BreakerSettings::from_config(&self.config()?)
    }

    pub(super) fn open_options(&self) -> OpenOptions {
        OpenOptions {
            lock_timeout: self.lock_timeout,
            ..OpenOptions::default()
        }
    }

    /// The PostgreSQL database the journal is on (`AIOS_DATABASE_URL`, else
    /// `[database] url`), as this process's one pool; `None` for the SQLite file in
    /// the data folder. A config file that does not load is reported by the commands
    /// that read it, not here (unless the environment names a database).
    pub fn pg_pool(&self) -> Result<Option<crate::journal::pg::PgPool>, Error> {
        let env = std::env::var("AIOS_DATABASE_URL").ok();
        let cfg = match self.config() {
            Ok(cfg) => cfg,
            Err(_) if env.as_deref().is_none_or(|u| u.trim().is_empty()) => return Ok(None),
            Err(_) => crate::config::ConfigFile::default(),
        };
        match crate::journal::pg::select::database_url(env.as_deref(), &cfg)? {
            Some(url) => crate::journal::pg::PgPool::shared(&url).map(Some),
            None => Ok(None),
        }
    }

    /// The journal, for reading and writing.
    pub fn journal(&self) -> Result<Journal, Error> {
        match self.pg_pool()? {
            Some(pool) => pool.journal(self.clock).map(Journal::from),
            None => Journal::open(&self.db_path(), self.clock, self.open_options()),
        }
    }

    /// The journal of a command that only reads (`runs`, `show`, `log`, …): opened
    /// read-only, so it works on a data folder this user may not write (on
    /// PostgreSQL, the server's grants decide).
    pub fn reader(&self) -> Result<Journal, Error> {
        match self.pg_pool()? {
            Some(pool) => pool.journal(self.clock).map(Journal::from),
            None => Journal::open_read_only(&self.db_path(), self.clock, self.open_options()),
        }
    }

    /// The journal of a command that reads and records something on the way when
    /// it may (`inbox list` raises notices of late schedules): writable when this
    /// user may write, read-only otherwise.
    pub fn reader_or_writer(&self) -> Result<Journal, Error> {
        match self.pg_pool()? {
            Some(pool) => pool.journal(self.clock).map(Journal::from),
            None => Journal::open_any(&self.db_path(), self.clock, self.open_options()),
        }
    }

    /// How a thread of this process opens its own journal (`aios serve`'s workers,
    /// the TUI's background drives): the same database as [`Ctx::journal`].
    pub fn journal_opener(
        &self,
    ) -> Result<std::sync::Arc<dyn Fn() -> Result<Journal, Error> + Send + Sync>, Error> {
        let clock = self.clock;
        Ok(match self.pg_pool()? {
            Some(pool) => std::sync::Arc::new(move || pool.journal(clock).map(Journal::from)),
            None => {
                let (db, opts) = (self.db_path(), self.open_options());
                std::sync::Arc::new(move || Journal::open(&db, clock, opts))
            }
        })
    }

    /// How runs are driven: the child environment, the agent's settings (from the
    /// config file, keys resolved from the environment, the store or the secrets
    /// file) and the secrets commits resolve (and outputs are redacted of).
    pub fn run_env(&self) -> Result<RunEnv, Error> {
        let mut env = RunEnv::new(
            self.owner.clone(),
            ExecEnv {
                child_env: self.child_env.clone(),
                mcp: self.mcp_pool()?,
                config: std::sync::Arc::new(self.config()?),
                clock: self.clock,
                landlock_abi: self.landlock_abi,
            },
        );
        let (agent, mut secrets) = self.agent_env()?;
        let embedder = memory::embedder(self, &secrets)?;
        if let Some((name, key)) = embedder.as_ref().and_then(|e| e.key_source()) {
            secrets = secrets.with_redacted(&name, &key);
        }
        env.mail = std::sync::Arc::new(crate::mail::config::from_config_or_invalid(
            &self.config()?,
            &self.config_dir,
            &self.data_dir,
        ));
        env.rates = std::sync::Arc::new(crate::rate::RateLimits::from_config(&self.config()?)?);
        env.agent = std::sync::Arc::new(agent);
        env.embedder = embedder.map(std::sync::Arc::new);
        env.secrets = secrets;
        env.trust = std::sync::Arc::new(self.trust()?);
        env.breakers = self.breaker_settings()?;
        Ok(env)
    }

    /// Personas and `[[autonomy]]` rules of the config file (`~/` in file roots is
    /// the user's home).
    pub fn trust(&self) -> Result<crate::trust::TrustSettings, Error> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        crate::trust::from_config(&self.config()?, home.as_deref())
    }

    /// The agent's settings, and the secrets what its calls keep or show is
    /// redacted of: the store, the secrets file, the providers' keys (also those read
    /// from the environment) and the hooks' secrets. Runs and `aios llm` use both.
    pub fn agent_env(&self) -> Result<(crate::agent::AgentSettings, Secrets), Error> {
        let mut secrets = self.secrets()?;
        let agent = llm::agent_settings(self, &secrets)?;
        for p in agent.providers.values() {
            if let (Some(name), Some(key)) = (&p.api_key_env, &p.api_key) {
                secrets = secrets.with_redacted(name, key.expose());
            }
        }
        for (name, value) in crate::schedule::hooks::all_secrets(&self.data_dir) {
            secrets = secrets.with_redacted(&format!("hook:{name}"), &value);
        }
        Ok((agent, secrets))
    }

    /// The tool servers of `[mcp]` (none started yet). A stdio server starts with the
    /// same base environment as shell steps, plus its `env`; `secret("NAME")` values
    /// resolve from the secret store, then the secrets file.
    pub fn mcp_pool(&self) -> Result<std::sync::Arc<crate::mcp::McpPool>, Error> {
        let cfg = self.config()?;
        let settings = crate::mcp::config::from_config(&cfg, &self.config_dir)?;
        let secrets = self.secrets()?;
        let lookup: crate::mcp::SecretFn = std::sync::Arc::new(move |name: &str| {
            let r = crate::secrets::SecretRef::new(name).ok()?;
            secrets.get(&r).ok().map(|s| s.expose().to_string())
        });
        Ok(std::sync::Arc::new(crate::mcp::McpPool::new(
            settings,
            self.child_env.clone(),
            lookup,
            Some(crate::mcp::Cache::new(&self.data_dir, self.clock)),
        )))
    }

    /// The IMAP accounts of `[imap]`; fetched messages are kept under the data
    /// directory.
    pub fn mail_settings(&self) -> Result<crate::mail::MailSettings, Error> {
        crate::mail::config::from_config(&self.config()?, &self.config_dir, &self.data_dir)
    }

    /// The secrets templates and commits read: the store (`aios secret`), then the
    /// secrets file.
    pub fn secrets(&self) -> Result<Secrets, Error> {
        let store = Store::new(&self.data_dir);
        Ok(match llm::secrets_file(self)? {
            Some((path, pairs)) => Secrets::new(store).with_file(path, pairs),
            None => Secrets::new(store),
        })
    }

    /// An API key named by `api_key_env`: the environment first, then the store,
    /// then the secrets file.
    pub fn key(&self, name: &str, secrets: &Secrets) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                let r = crate::secrets::SecretRef::new(name).ok()?;
                secrets.get(&r).ok().map(|s| s.expose().to_string())
            })
    }

    /// Who is deciding, for the journal: `user@host`.
    pub fn operator(&self) -> String {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "operator".into());
        format!("{user}@{}", self.owner.host)
    }
}

/// Variables a shell step's child process may inherit. Nothing else passes through,
/// so API keys in the operator's environment never reach a step.
const CHILD_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
];

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn context(cli: &Cli) -> Result<Ctx, Error> {
    // `--home` wins over AIOS_HOME (an empty value counts as unset).
    let home = cli
        .home
        .clone()
        .or_else(|| std::env::var_os("AIOS_HOME").map(PathBuf::from));
    let (data_dir, config_dir) = match &home {
        Some(h) if !h.as_os_str().is_empty() => (h.clone(), h.clone()),
        _ => directories::ProjectDirs::from("", "", "aios")
            .map(|d| (d.data_dir().to_path_buf(), d.config_dir().to_path_buf()))
            .ok_or_else(|| {
                Error::invalid("cannot find a home directory for aios data")
                    .with_hint("set AIOS_HOME (or --home) to a folder")
            })?,
    };
    let clock = match std::env::var("AIOS_NOW") {
        Ok(s) if !s.is_empty() => Clock::Fixed(s.parse().map_err(|e| {
            Error::invalid(format!("AIOS_NOW=`{s}` is not an RFC 3339 instant: {e}"))
                .with_hint("use a form like 2026-11-21T09:30:00Z, or unset AIOS_NOW")
        })?),
        _ => Clock::System,
    };
    let lock_timeout = match std::env::var("AIOS_LOCK_TIMEOUT") {
        Ok(s) if !s.is_empty() => crate::workflow::parse_duration(&s).map_err(|e| {
            Error::invalid(format!("AIOS_LOCK_TIMEOUT: {e}"))
                .with_hint(crate::workflow::duration::DURATION_HINT)
        })?,
        _ => OpenOptions::default().lock_timeout,
    };
    let landlock_abi = match std::env::var("AIOS_LANDLOCK_ABI") {
        Ok(s) if !s.is_empty() => Some(s.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Error::invalid(format!(
                "AIOS_LANDLOCK_ABI=`{s}` is not a Landlock ABI version"
            ))
            .with_hint("use a number like 0 (act as if the kernel had no Landlock) or 3, or unset AIOS_LANDLOCK_ABI")
        })?),
        _ => None,
    };
    let child_env = CHILD_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    Ok(Ctx {
        data_dir,
        config_dir,
        clock,
        owner: Owner::new(std::process::id(), hostname()),
        child_env,
        landlock_abi,
        lock_timeout,
        ui: ui::Ui::detect(),
    })
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Before anything else (and before any thread starts): steps this process runs
    // cannot read its environment or memory through /proc (see secrets::process).
    // SAFETY: no other thread exists yet.
    unsafe {
        crate::secrets::process::harden_process();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => Exit::Usage as u8,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let ui = ui::Ui::detect();
    let stats = std::env::var_os("AIOS_STATS");
    if stats.is_some() {
        // PostgreSQL has no commit hook: its commits are counted only when asked.
        crate::journal::count_postgres_writes();
    }
    let result = context(&cli)
        .map_err(anyhow::Error::from)
        .and_then(|ctx| dispatch(&ctx, cli.command));
    if let Some(path) = stats {
        write_stats(std::path::Path::new(&path));
    }
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            ui.print_error(&e);
            let code = e
                .downcast_ref::<Error>()
                .map(|e| Exit::from(e.kind))
                .unwrap_or(Exit::Failed);
            ExitCode::from(code as u8)
        }
    }
}

/// `AIOS_STATS=FILE`: append one JSON line of what this process cost (CPU time
/// of all its threads, user and system, in µs; journal write transactions) to FILE,
/// for benchmarks (see README "Development"). Best effort: a failure is ignored.
fn write_stats(path: &std::path::Path) {
    use std::io::Write;
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let micros = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    let line = serde_json::json!({
        "user_us": micros(usage.ru_utime),
        "sys_us": micros(usage.ru_stime),
        "write_transactions": crate::journal::write_transactions(),
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn dispatch(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Init(a) => init::init(ctx, a),
        Command::New(a) => new::new(ctx, a),
        Command::Doctor(a) => doctor::doctor(ctx, a),
        Command::Config(a) => config::config(ctx, a),
        Command::Run(a) => run::run(ctx, a),
        Command::Check(a) => check::check(ctx, a),
        Command::Plan(a) => plan::plan(ctx, a),
        Command::Inbox(a) => inbox::inbox(ctx, a),
        Command::Approve(a) => decide::approve(ctx, a),
        Command::Reject(a) => decide::reject(ctx, a),
        Command::Runs(a) => runs::runs(ctx, a),
        Command::Show(a) => show::show(ctx, a),
        Command::Log(a) => log::log(ctx, a),
        Command::Resume(a) => run::resume(ctx, a),
        Command::Cancel(a) => cancel::cancel(ctx, a),
        Command::Undo(a) => undo::undo(ctx, a),
        Command::Replay(a) => replay::replay(ctx, a),
        Command::Schedule(a) => schedule::schedule(ctx, a),
        Command::Tick(a) => schedule::tick(ctx, a),
        Command::Daemon(a) => schedule::daemon(ctx, a),
        Command::Worker(a) => worker::worker(ctx, a),
        Command::Workers(a) => workers::workers(ctx, a),
        Command::Hook(a) => hook::hook(ctx, a),
        Command::Serve(a) => serve::serve(ctx, a),
        Command::Secret(a) => secret::secret(ctx, a),
        Command::Llm(a) => llm::llm(ctx, a),
        Command::Budget(a) => budget::budget(ctx, a),
        Command::Stats(a) => stats::stats(ctx, a),
        Command::Fact(a) => fact::fact(ctx, a),
        Command::Memory(a) => memory::memory(ctx, a),
        Command::Outcome(a) => outcome::outcome(ctx, a),
        Command::Mcp(a) => mcp::mcp(ctx, a),
        Command::Persona(a) => trust::persona(ctx, a),
        Command::Trust(a) => trust::trust(ctx, a),
        Command::Notify(a) => notify::notify(ctx, a),
        Command::Breakers(a) => breakers::breakers(ctx, a),
        Command::Status(a) => status::status(ctx, a),
        Command::Backup(a) => backup::backup(ctx, a),
        Command::Restore(a) => backup::restore(ctx, a),
        Command::Migrate(a) => migrate::migrate(ctx, a),
        Command::Schema(a) => {
            ui::print_json(&match a.which {
                crate::cli::SchemaWhich::Workflow => crate::workflow::schema::workflow_schema(),
                crate::cli::SchemaWhich::Config => crate::config::schema::config_schema(),
            });
            Ok(Exit::Ok)
        }
        Command::Completions(a) => {
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "aios", &mut out);
            ui::print(&String::from_utf8_lossy(&out));
            Ok(Exit::Ok)
        }
    }
}

/// Split `NAME=VALUE` arguments.
pub fn split_pairs(raw: &[String], flag: &str) -> Result<Vec<(String, String)>, Error> {
    raw.iter()
        .map(|r| match r.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Error::invalid(format!("`{r}` is not NAME=VALUE"))
                .with_hint(format!("write it as {flag} name=value"))),
        })
        .collect()
}
