//! The servers of one aios process: each started on first use, kept and reused by
//! every step (and every run the process drives), started again when it died or stops
//! answering, and stopped when the process is done with them ([`McpPool::shutdown`],
//! also on drop).
//!
//! Connections live on the pool's own small runtime, so a session outlives the
//! driver that started it and can be used from any runtime (a driver's, a command's).
//! A stdio server gets only the base environment (PATH, HOME, locale: what shell steps
//! get) plus its `env` from the config, secrets resolved just before it starts.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::cache::Cache;
use super::config::{ConfigValue, McpSettings, ServerConfig, Transport};
use super::launch::{self, Launch};
use super::session::{Running, Session};
use super::types::{McpError, ToolInfo};
use super::{CatalogError, Listing, ToolCatalog};
use crate::clock::Millis;

/// Resolves a secret's name to its value (given by the command layer).
pub type SecretFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How long a server may take to stop after its input is closed, before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a session that abandoned a call has to answer before it is replaced.
const PROBE: Duration = Duration::from_secs(2);

type Slot = Arc<tokio::sync::Mutex<Option<(Running, Session)>>>;

/// Every configured server and the sessions started so far.
pub struct McpPool {
    settings: Arc<McpSettings>,
    base_env: Vec<(String, String)>,
    secrets: SecretFn,
    cache: Option<Cache>,
    rt: Mutex<Option<tokio::runtime::Runtime>>,
    slots: Mutex<HashMap<String, Slot>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for McpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpPool")
            .field("servers", &self.settings.servers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for McpPool {
    /// No servers: every lookup says so.
    fn default() -> McpPool {
        McpPool::new(McpSettings::default(), Vec::new(), Arc::new(|_| None), None)
    }
}

impl McpPool {
    /// A pool of the configured servers. `base_env` is what every stdio server starts
    /// with besides its `env`; `cache` is where listings are kept (none: not cached).
    pub fn new(
        settings: McpSettings,
        base_env: Vec<(String, String)>,
        secrets: SecretFn,
        cache: Option<Cache>,
    ) -> McpPool {
        McpPool {
            settings: Arc::new(settings),
            base_env,
            secrets,
            cache,
            rt: Mutex::new(None),
            slots: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    pub fn settings(&self) -> &McpSettings {
        &self.settings
    }

    fn config(&self, server: &str) -> Result<&ServerConfig, McpError> {
        self.settings
            .get(server)
            .ok_or_else(|| McpError::NotConfigured {
                server: server.to_string(),
                origin: self.settings.origin.clone(),
                known: self.settings.known(),
            })
    }

    /// The pool's runtime, built on first use.
    fn handle(&self) -> Result<tokio::runtime::Handle, McpError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(McpError::Start {
                server: "*".into(),
                message: "aios is stopping its tool servers".into(),
            });
        }
        let mut rt = self.rt.lock().unwrap_or_else(|e| e.into_inner());
        if rt.is_none() {
            let built = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("aios-mcp")
                .enable_all()
                .build()
                .map_err(|e| McpError::Start {
                    server: "*".into(),
                    message: format!("cannot start the runtime for tool servers: {e}"),
                })?;
            *rt = Some(built);
        }
        Ok(rt.as_ref().expect("just built").handle().clone())
    }

    /// Run `f` to completion from synchronous code (a command, the driver's thread).
    pub fn block_on<F>(&self, f: F) -> Result<F::Output, McpError>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let h = self.handle()?;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside a runtime: wait from a thread of our own.
            Ok(std::thread::scope(|s| {
                s.spawn(|| h.block_on(f))
                    .join()
                    .expect("a tool-server call panicked")
            }))
        } else {
            Ok(h.block_on(f))
        }
    }

    fn slot(&self, server: &str) -> Slot {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(server.to_string())
            .or_default()
            .clone()
    }

    fn launch(&self, cfg: &ServerConfig) -> Result<(Launch, Vec<(String, String)>), McpError> {
        let mut secrets = Vec::new();
        let mut resolve = |what: &str, k: &str, v: &ConfigValue| match v {
            ConfigValue::Literal(s) => Ok(s.clone()),
            ConfigValue::Secret(name) => match (self.secrets)(name) {
                Some(value) => {
                    secrets.push((name.clone(), value.clone()));
                    Ok(value)
                }
                None => Err(McpError::Start {
                    server: cfg.name.clone(),
                    message: format!("the secret `{name}` (its {what} `{k}`) is not set"),
                }),
            },
        };
        let launch = match &cfg.transport {
            Transport::Stdio { command, env, cwd } => {
                let mut all = self.base_env.clone();
                for (k, v) in env {
                    let value = resolve("env", k, v)?;
                    all.retain(|(b, _)| b != k);
                    all.push((k.clone(), value));
                }
                Launch::Stdio {
                    command: command.clone(),
                    env: all,
                    cwd: cwd.clone(),
                }
            }
            Transport::Http { url, headers } => {
                let mut hs = Vec::new();
                for (k, v) in headers {
                    hs.push((k.clone(), resolve("header", k, v)?));
                }
                Launch::Http {
                    url: url.clone(),
                    headers: hs,
                }
            }
        };
        Ok((launch, secrets))
    }

    /// A session with `server`: the running one, or a new one (started now, within
    /// its `startup_timeout`) when there is none, it died, or it stopped answering.
    pub async fn session(&self, server: &str) -> Result<Session, McpError> {
        let cfg = self.config(server)?;
        let slot = self.slot(server);
        let mut held = slot.lock().await;
        if let Some((_, s)) = held.as_ref()
            && !s.is_closed()
            && (!s.is_suspect() || s.probe(PROBE).await)
        {
            return Ok(s.clone());
        }
        let h = self.handle()?;
        if let Some(old) = held.take() {
            h.spawn(stop(old));
        }
        let (launch, secrets) = self.launch(cfg)?;
        let name = server.to_string();
        let limit = cfg.startup_timeout;
        let started = h
            .spawn(async move {
                tokio::time::timeout(limit, launch::start(&name, launch, secrets)).await
            })
            .await;
        match started {
            Ok(Ok(Ok((running, s)))) => {
                *held = Some((running, s.clone()));
                Ok(s)
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(McpError::Start {
                server: server.to_string(),
                message: format!(
                    "it did not finish starting within {} (startup_timeout)",
                    crate::clock::format_duration(limit)
                ),
            }),
            Err(e) => Err(McpError::Start {
                server: server.to_string(),
                message: format!("starting it stopped: {e}"),
            }),
        }
    }

    /// The server's tools, asked of the server (starting it if needed) once per
    /// session; the listing is cached for `aios check`.
    pub async fn list_live(&self, server: &str) -> Result<Arc<[ToolInfo]>, McpError> {
        let cfg = self.config(server)?;
        let s = self.session(server).await?;
        if let Some(t) = s.known_tools() {
            return Ok(t);
        }
        let tools = s.list_tools(cfg.startup_timeout).await?;
        if let Some(c) = &self.cache {
            let _ = c.store(cfg, &tools);
        }
        Ok(tools)
    }

    /// The cached listing of `server` and when it was made.
    pub fn cached(&self, server: &str) -> Option<(Millis, Arc<[ToolInfo]>)> {
        let cfg = self.settings.get(server)?;
        let (at, tools) = self.cache.as_ref()?.load(cfg)?;
        Some((at, tools.into()))
    }

    /// A [`ToolCatalog`] over this pool.
    pub fn catalog(&self, mode: Lookup) -> Catalog<'_> {
        Catalog {
            pool: self,
            mode,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Stop every server: close its input (an HTTP session is ended), wait up to 2 s,
    /// then kill its process group. Idempotent; the pool starts nothing afterwards.
    pub fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(rt) = self.rt.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        let work = move || {
            rt.block_on(async move {
                let mut stops = Vec::new();
                for slot in slots {
                    let taken = match tokio::time::timeout(STOP_GRACE, slot.lock()).await {
                        Ok(mut g) => g.take(),
                        Err(_) => None,
                    };
                    if let Some(r) = taken {
                        stops.push(tokio::spawn(stop(r)));
                    }
                }
                for s in stops {
                    let _ = s.await;
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(work).join();
        } else {
            work();
        }
    }
}

impl Drop for McpPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Stop one server: close the connection, and kill its process group when it has not
/// exited within [`STOP_GRACE`].
async fn stop((mut running, session): (Running, Session)) {
    let pid = session.pid();
    let done = running.close_with_timeout(STOP_GRACE).await;
    if let Some(pid) = pid
        && !matches!(done, Ok(Some(_)))
    {
        // SAFETY: plain syscall; the group is the server's own (ProcessGroup::leader).
        unsafe {
            libc::killpg(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// Where a [`Catalog`] looks for a server's tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The cache only: nothing is started (`aios run` checking a workflow).
    Cache,
    /// The cache, else the server (`aios check`).
    CacheThenLive,
    /// The server, else the cache (rendering a proposal).
    LiveThenCache,
}

/// Tool listings for checking and rendering steps, looked up once per server.
pub struct Catalog<'a> {
    pool: &'a McpPool,
    mode: Lookup,
    seen: Mutex<HashMap<String, Result<Listing, CatalogError>>>,
}

impl Catalog<'_> {
    /// Servers that could not be reached and had no cached listing: `(server, why)`.
    pub fn unavailable(&self) -> Vec<(String, String)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, String)> = seen
            .iter()
            .filter_map(|(k, v)| match v {
                Err(CatalogError::Unavailable(why)) => Some((k.clone(), why.clone())),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    fn look(&self, server: &str) -> Result<Listing, CatalogError> {
        let pool = self.pool;
        if let Err(e) = pool.config(server) {
            return Err(CatalogError::NotConfigured(e.to_string()));
        }
        let cached = || {
            pool.cached(server).map(|(at, tools)| Listing {
                tools,
                cached_at: Some(at),
            })
        };
        let live = || -> Result<Listing, String> {
            match pool.block_on(pool.list_live(server)) {
                Ok(Ok(tools)) => Ok(Listing {
                    tools,
                    cached_at: None,
                }),
                Ok(Err(e)) | Err(e) => Err(e.to_string()),
            }
        };
        let no_cache =
            "it is not running and no listing is cached (`aios mcp tools NAME` makes one)";
        match self.mode {
            Lookup::Cache => cached().ok_or_else(|| CatalogError::Unavailable(no_cache.into())),
            Lookup::CacheThenLive => match cached() {
                Some(l) => Ok(l),
                None => live().map_err(CatalogError::Unavailable),
            },
            Lookup::LiveThenCache => match live() {
                Ok(l) => Ok(l),
                Err(why) => cached().ok_or(CatalogError::Unavailable(why)),
            },
        }
    }
}

impl ToolCatalog for Catalog<'_> {
    fn tools(&self, server: &str) -> Result<Listing, CatalogError> {
        if let Some(r) = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(server)
        {
            return r.clone();
        }
        let r = self.look(server);
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(server.to_string(), r.clone());
        r
    }
}
