//! The PostgreSQL backend: the same event log and projections as the SQLite journal,
//! on a server that several machines can share.
//!
//! Every concern is carried: runs and events ([`RunStore`]), leases ([`LeaseStore`]), the
//! inbox's items ([`InboxStore`]) with trust demotions on decisions, its views,
//! snoozes and reopened items ([`InboxUpkeep`]), schedules and fires
//! ([`ScheduleStore`]), the LLM ledger ([`LlmLedger`]), timers and decision deadlines
//! ([`TimerStore`]), rate-limit turns ([`RateStore`]), failure items
//! ([`FailureStore`]), notices ([`NoticeStore`]), webhooks ([`HookStore`]), health
//! ([`HealthStore`]: backups, restores and the integrity check are refused as not
//! supported), circuit breakers and the steps they hold (`BreakerStore`),
//! notifications (`NotifyStore`), trust listings (`TrustStore`), versions of evidence
//! (`VersionStore`), statistics (`StatsStore`), mail watches (`MailStore`) and runs'
//! upkeep: replay, workflow changes, dry-run pruning (`RunUpkeep`), and the ready-work
//! queue with its workers (`Work`: claims with `FOR UPDATE SKIP LOCKED`). Ids come from
//! database sequences; every compare-and-swap decision reads the row it decides on
//! with `SELECT … FOR UPDATE` (or takes an advisory lock on the name it decides for)
//! in the transaction that writes the outcome; each event is appended and projected
//! in one transaction. Memory is carried too ([`MemoryStore`](super::store::MemoryStore): facts, notes,
//! decisions and outcomes, full-text search on a `tsvector` with a GIN index, vectors
//! ranked by exact cosine). [`not_supported`] is the error of what only the SQLite
//! file does (its backup, restore and integrity check).
//!
//! Connections come from a [`PgPool`]: a journal takes one and gives it back when
//! dropped. A [`PgJournal`] is used by one thread, like the SQLite [`super::Journal`].

mod breakers;
mod error;
mod failure;
mod health;
mod hooks;
pub mod import;
mod import_concerns;
mod inbox;
mod lease;
mod llm;
mod mail;
mod memory;
mod memory_search;
mod notices;
mod notify;
mod project;
mod rate;
mod runs;
mod schedule;
pub mod select;
mod stats;
#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests_import;
#[cfg(test)]
mod tests_import_concerns;
mod timers;
mod trust;
mod upkeep;
mod versions;
mod work;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use super::store::{
    FailureStore, HealthStore, HookStore, InboxStore, InboxUpkeep, LeaseStore, LlmLedger,
    NoticeStore, RateStore, RunStore, ScheduleStore, TimerStore,
};
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Numbered migrations, applied in order; each applied one's SHA-256 is recorded in
/// `aios_migrations` and checked on every open, so an edited released migration or
/// a database written by a newer aios is refused.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_core", include_str!("migrations/0001_core.sql")),
    (
        "0002_schedules",
        include_str!("migrations/0002_schedules.sql"),
    ),
    ("0003_llm", include_str!("migrations/0003_llm.sql")),
    ("0004_rate", include_str!("migrations/0004_rate.sql")),
    ("0005_notices", include_str!("migrations/0005_notices.sql")),
    ("0006_hooks", include_str!("migrations/0006_hooks.sql")),
    ("0007_health", include_str!("migrations/0007_health.sql")),
    (
        "0008_breakers",
        include_str!("migrations/0008_breakers.sql"),
    ),
    (
        "0009_notifications",
        include_str!("migrations/0009_notifications.sql"),
    ),
    ("0010_mail", include_str!("migrations/0010_mail.sql")),
    (
        "0011_dry_runs",
        include_str!("migrations/0011_dry_runs.sql"),
    ),
    ("0012_memory", include_str!("migrations/0012_memory.sql")),
    ("0013_work", include_str!("migrations/0013_work.sql")),
];

/// The error of a concern the PostgreSQL backend does not carry yet.
pub fn not_supported(concern: &str) -> Error {
    Error::invalid(format!("{concern} is not yet supported on PostgreSQL"))
        .with_hint("use the SQLite journal for it: unset AIOS_DATABASE_URL (and `[database] url` in the config)")
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A small pool of connections to one database; cheap to clone and share.
#[derive(Clone)]
pub struct PgPool {
    url: Arc<str>,
    idle: Arc<Mutex<Vec<Client>>>,
    max_idle: usize,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool").finish_non_exhaustive()
    }
}

impl PgPool {
    /// A pool for `url`; migrates the database on the first connection.
    pub fn connect(url: &str) -> Result<PgPool> {
        if !is_postgres_url(url) {
            return Err(
                Error::invalid(format!("`{}` is not a PostgreSQL URL", redact(url)))
                    .with_hint("write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"),
            );
        }
        let pool = PgPool {
            url: url.into(),
            idle: Arc::new(Mutex::new(Vec::new())),
            max_idle: 8,
        };
        let mut client = pool.take()?;
        migrate(&mut client)?;
        pool.give_back(client);
        Ok(pool)
    }

    fn take(&self) -> Result<Client> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) if !c.is_closed() => Ok(c),
            closed => {
                if let Some(c) = closed {
                    discard(c);
                }
                Client::connect(&self.url, NoTls).map_err(|e| {
                    Error::from(e).with_hint(format!(
                        "check that the server at {} runs and accepts this user",
                        redact(&self.url)
                    ))
                })
            }
        }
    }

    fn give_back(&self, client: Client) {
        if client.is_closed() {
            return discard(client);
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(client);
        } else {
            drop(idle);
            discard(client);
        }
    }

    /// The pool of this process for `url`: connected (and the database migrated) on
    /// first use, the same pool after, so a process holds one pool per database
    /// whatever number of journals it opens. A failed connection is not kept: the
    /// next call tries again.
    pub fn shared(url: &str) -> Result<PgPool> {
        static POOLS: Mutex<Vec<PgPool>> = Mutex::new(Vec::new());
        let mut pools = POOLS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = pools.iter().find(|p| &*p.url == url) {
            return Ok(p.clone());
        }
        let pool = PgPool::connect(url)?;
        pools.push(pool.clone());
        Ok(pool)
    }

    /// The database's URL without its password, for messages.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// A journal on a connection of this pool.
    pub fn journal(&self, clock: Clock) -> Result<PgJournal> {
        Ok(PgJournal {
            client: RefCell::new(Some(self.take()?)),
            pool: self.clone(),
            clock,
        })
    }
}

/// Close a connection the pool does not keep. `postgres::Client` closes itself by
/// blocking on a runtime of its own, which tokio refuses inside another runtime's
/// context (async code that drops a journal: `aios serve` dropping its idle readers
/// at shutdown aborted with "Cannot start a runtime from within a runtime"); there
/// it is closed on a thread of its own.
fn discard(client: Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(move || drop(client));
        });
    } else {
        drop(client);
    }
}

/// The URL without its password (in the user part or a `password=` parameter),
/// for messages.
pub fn redact(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_string(),
    };
    let url = url.as_str();
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A journal on PostgreSQL. One per thread; not shared across threads.
pub struct PgJournal {
    client: RefCell<Option<Client>>,
    pool: PgPool,
    clock: Clock,
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal").finish_non_exhaustive()
    }
}

impl Drop for PgJournal {
    fn drop(&mut self) {
        if let Some(c) = self.client.get_mut().take() {
            self.pool.give_back(c);
        }
    }
}

impl PgJournal {
    /// Connect to `url` (migrating it) and open a journal on it.
    pub fn connect(url: &str, clock: Clock) -> Result<PgJournal> {
        PgPool::connect(url)?.journal(clock)
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The pool this journal's connection came from.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The connection, for one method's statements.
    fn conn(&self) -> std::cell::RefMut<'_, Client> {
        std::cell::RefMut::map(self.client.borrow_mut(), |c| {
            c.as_mut()
                .expect("a journal holds its connection until dropped")
        })
    }

    /// The migrations applied to this database, in order.
    pub fn migrations(&self) -> Result<Vec<String>> {
        let rows = self
            .conn()
            .query("SELECT name FROM aios_migrations ORDER BY version", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// A transaction of the journal: a `postgres` transaction whose commit is counted
/// in `journal::write_transactions` when it wrote (asked of the server only while
/// `AIOS_STATS` counts). Everything else is the transaction's own (`Deref`).
pub struct Tx<'a>(postgres::Transaction<'a>);

/// Begin a journal transaction on `client`.
pub fn begin(client: &mut Client) -> Result<Tx<'_>> {
    Ok(Tx(client.transaction()?))
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = postgres::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Tx<'_> {
    pub fn rollback(self) -> Result<()> {
        Ok(self.0.rollback()?)
    }

    pub fn commit(mut self) -> Result<()> {
        let wrote = crate::journal::counting_postgres_writes()
            && self
                .0
                .query_one("SELECT txid_current_if_assigned() IS NOT NULL", &[])?
                .get::<_, bool>(0);
        self.0.commit()?;
        if wrote {
            crate::journal::count_write_transaction();
        }
        Ok(())
    }
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Apply the migrations this database lacks, in one transaction that holds an
/// advisory lock: when several processes open a new database at once, one migrates
/// and the others find it done.
fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = begin(client)?;
    // 0x6a696f73: any constant shared by every aios process.
    tx.execute("SELECT pg_advisory_xact_lock(1634299763)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS aios_migrations (
             version BIGINT PRIMARY KEY,
             name    TEXT NOT NULL,
             sha256  TEXT NOT NULL,
             at      BIGINT NOT NULL
         )",
    )?;
    let applied: Vec<(i64, String, String)> = tx
        .query(
            "SELECT version, name, sha256 FROM aios_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    if applied.len() > MIGRATIONS.len() {
        return Err(Error::storage(format!(
            "the database was written by a newer aios (schema {}, this build knows {})",
            applied.len(),
            MIGRATIONS.len()
        ))
        .with_hint("upgrade aios, or point AIOS_DATABASE_URL at another database"));
    }
    for (i, (version, name, hash)) in applied.iter().enumerate() {
        let (known_name, text) = MIGRATIONS[i];
        if *version != i as i64 + 1 || name != known_name || *hash != sha(text) {
            return Err(Error::storage(format!(
                "the database's migration {version} ({name}) is not this build's {} ({known_name})",
                i + 1
            ))
            .with_hint("this database was migrated by a different aios build: use that build, or a new database"));
        }
    }
    let at = crate::clock::Clock::System.now_ms();
    for (i, (name, text)) in MIGRATIONS.iter().enumerate().skip(applied.len()) {
        tx.batch_execute(text)?;
        tx.execute(
            "INSERT INTO aios_migrations (version, name, sha256, at) VALUES ($1, $2, $3, $4)",
            &[&(i as i64 + 1), name, &sha(text), &at],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The backends the shared journal tests run against: both implement every ported
/// concern.
pub trait PortedConcerns:
    RunStore
    + LeaseStore
    + InboxStore
    + InboxUpkeep
    + ScheduleStore
    + LlmLedger
    + TimerStore
    + RateStore
    + FailureStore
    + NoticeStore
    + HookStore
    + HealthStore
{
}
impl<T> PortedConcerns for T where
    T: RunStore
        + LeaseStore
        + InboxStore
        + InboxUpkeep
        + ScheduleStore
        + LlmLedger
        + TimerStore
        + RateStore
        + FailureStore
        + NoticeStore
        + HookStore
        + HealthStore
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact("postgres://aios:pw@db:5432/aios"),
            "postgres://aios:***@db:5432/aios"
        );
        assert_eq!(
            redact("postgresql://aios@db/aios?sslmode=disable&password=pw"),
            "postgresql://aios@db/aios?sslmode=disable&password=***"
        );
        assert_eq!(redact("postgres://db/aios"), "postgres://db/aios");
    }

    #[test]
    fn a_process_has_one_pool_per_database() {
        let url = testdb::fresh_database();
        let (a, b) = (PgPool::shared(&url).unwrap(), PgPool::shared(&url).unwrap());
        assert!(Arc::ptr_eq(&a.idle, &b.idle));
        let other = PgPool::shared(&testdb::fresh_database()).unwrap();
        assert!(!Arc::ptr_eq(&a.idle, &other.idle));
        // A journal given back is the next one's connection.
        drop(a.journal(Clock::System).unwrap());
        assert_eq!(b.idle.lock().unwrap().len(), 1);
        // A server that cannot be reached is an error each time, never a pool.
        let e = PgPool::shared("postgres://aios:pw@127.0.0.1:9/aios").unwrap_err();
        assert!(e.message.contains("could not be reached"), "{}", e.message);
        assert!(!format!("{e:?}").contains(":pw@"), "{e:?}");
    }
}
