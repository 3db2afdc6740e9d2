//! One screen of health, as typed data (`aios status` prints it, the TUI may draw
//! it): is something ticking, what is pending and since when, which schedules fail
//! or are late, which circuit breakers are open, LLM spend against the caps, the
//! database's size and the last backup. Reads only; every figure comes from an
//! indexed query or a projection, so its cost does not grow with history.

use std::path::{Path, PathBuf};

use crate::clock::Millis;
use crate::error::Result;
use crate::health::Breaker;
use crate::journal::{Heartbeat, HeldStep, Journal, PendingKind};

/// A tick older than this (with schedules or timed waits to serve) is late.
pub const TICK_LATE: Millis = 5 * 60_000;

/// Whether something ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticking {
    pub last: Option<Heartbeat>,
    /// The pid of an `aios daemon` running on this data folder.
    pub daemon: Option<u32>,
    /// Whether the systemd user timer (`aios schedule install --write`) is installed.
    pub timer: bool,
    /// Whether something needs ticks: schedules, or runs waiting on time.
    pub needed: bool,
}

impl Ticking {
    /// `ok`, `late` (the last tick is older than [`TICK_LATE`] and something needs
    /// ticks), `never` (no tick recorded, something needs ticks) or `idle`
    /// (nothing needs ticks).
    pub fn verdict(&self, now: Millis) -> &'static str {
        match &self.last {
            Some(h) if now - h.at <= TICK_LATE => "ok",
            _ if self.daemon.is_some() => "ok",
            _ if !self.needed => "idle",
            Some(_) => "late",
            None => "never",
        }
    }
}

/// A schedule that is failing or late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTrouble {
    pub name: String,
    /// `failing` or `late`.
    pub health: &'static str,
    pub detail: String,
}

/// LLM spend today and this month (UTC) and their caps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    pub today: f64,
    pub month: f64,
    pub daily_cap: Option<f64>,
    pub monthly_cap: Option<f64>,
}

/// Where the journal is and how big it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The SQLite file; `bytes` counts it and its write-ahead log.
    Sqlite { path: PathBuf, bytes: u64 },
    /// A PostgreSQL database: its URL without the password, and
    /// `pg_database_size` of it.
    Postgres { url: String, bytes: u64 },
}

impl Database {
    pub fn bytes(&self) -> u64 {
        match self {
            Database::Sqlite { bytes, .. } | Database::Postgres { bytes, .. } => *bytes,
        }
    }

    /// The file's path, or `PostgreSQL at URL`.
    pub fn place(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => path.display().to_string(),
            Database::Postgres { url, .. } => format!("PostgreSQL at {url}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub now: Millis,
    pub ticking: Ticking,
    /// Runs running and waiting.
    pub running: i64,
    pub waiting: i64,
    pub pending: Vec<PendingKind>,
    pub schedules: Vec<ScheduleTrouble>,
    /// Open and half-open breakers.
    pub breakers: Vec<Breaker>,
    pub held: Vec<HeldStep>,
    pub spend: Spend,
    pub database: Database,
    pub last_backup: Option<Heartbeat>,
}

impl Status {
    /// Whether something needs the operator: not ticking when needed, failing or
    /// late schedules, open breakers.
    pub fn healthy(&self) -> bool {
        matches!(self.ticking.verdict(self.now), "ok" | "idle")
            && self.schedules.is_empty()
            && self.breakers.is_empty()
    }
}

/// Gather the status of `journal`, whose data folder holds `db` (the SQLite file,
/// unused on PostgreSQL but for the folder). `caps` are the LLM caps (daily,
/// monthly); `timer` whether the systemd timer is installed.
pub fn gather(
    journal: &Journal,
    db: &Path,
    caps: (Option<f64>, Option<f64>),
    timer: bool,
) -> Result<Status> {
    let now = journal.now();
    let data_dir = db.parent().unwrap_or(Path::new("."));
    let (running, waiting) = journal.active_runs()?;
    let mut schedules = Vec::new();
    let records = journal.schedules()?;
    for s in &records {
        let fires = journal.fires(&s.spec.name, crate::schedule::FAILING_AFTER)?;
        match crate::schedule::health(s, &fires, now) {
            crate::schedule::Health::Failing(n) => schedules.push(ScheduleTrouble {
                name: s.spec.name.clone(),
                health: "failing",
                detail: format!("its last {} failed", crate::text::count(n, "run")),
            }),
            crate::schedule::Health::Late(due) => schedules.push(ScheduleTrouble {
                name: s.spec.name.clone(),
                health: "late",
                detail: format!("due since {}", crate::clock::format_ms(due)),
            }),
            _ => {}
        }
    }
    let needed = records.iter().any(|s| !s.paused) || journal.next_wake()?.is_some();
    let (day, month) = crate::agent::budget::period_starts(now);
    let database = match journal.postgres_url() {
        Some(url) => Database::Postgres {
            url,
            bytes: journal.database_bytes()?,
        },
        None => {
            let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            Database::Sqlite {
                path: db.to_path_buf(),
                bytes: size(db) + size(Path::new(&wal)),
            }
        }
    };
    Ok(Status {
        now,
        ticking: Ticking {
            last: journal.heartbeat("tick")?,
            daemon: super::backup::daemon_pid(data_dir),
            timer,
            needed,
        },
        running,
        waiting,
        pending: journal.pending_by_kind()?,
        schedules,
        breakers: journal
            .breakers()?
            .into_iter()
            .filter(Breaker::is_tripped)
            .collect(),
        held: journal.held_steps()?,
        spend: Spend {
            today: journal.llm_spent_since(day)?,
            month: journal.llm_spent_since(month)?,
            daily_cap: caps.0,
            monthly_cap: caps.1,
        },
        database,
        last_backup: journal.heartbeat("backup")?,
    })
}
