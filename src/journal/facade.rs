//! [`Journal`], the type the program names: a facade over one backend, the SQLite
//! file ([`SqliteJournal`], the default) or a PostgreSQL database ([`PgJournal`]).
//!
//! Every method of every concern trait (`store`) is dispatched to the backend by the
//! `concern!` macro that writes the traits, so a trait method cannot be left out and
//! call sites need no trait in scope. What belongs to the SQLite file alone (its
//! path, read-only opening, the write gate, backups) is here, saying what it does on
//! PostgreSQL.

use std::path::Path;

use super::pg::PgJournal;
use super::{OpenOptions, SqliteJournal, WriteGate};
use crate::clock::Clock;
use crate::error::Result;

/// An open journal, on either backend. One per thread; not shared across threads.
#[derive(Debug)]
pub struct Journal(pub(super) Backend);

/// The backend a [`Journal`] stands for.
#[derive(Debug)]
pub(super) enum Backend {
    Sqlite(SqliteJournal),
    Postgres(PgJournal),
}

impl From<SqliteJournal> for Journal {
    fn from(j: SqliteJournal) -> Journal {
        Journal(Backend::Sqlite(j))
    }
}

impl From<PgJournal> for Journal {
    fn from(j: PgJournal) -> Journal {
        Journal(Backend::Postgres(j))
    }
}

impl Journal {
    /// Open (creating and migrating) the SQLite journal at `path`: see
    /// [`SqliteJournal::open`].
    pub fn open(path: &Path, clock: Clock, opts: OpenOptions) -> Result<Journal> {
        SqliteJournal::open(path, clock, opts).map(Journal::from)
    }

    /// The SQLite journal at `path`, read-only: see [`SqliteJournal::open_read_only`].
    pub fn open_read_only(path: &Path, clock: Clock, opts: OpenOptions) -> Result<Journal> {
        SqliteJournal::open_read_only(path, clock, opts).map(Journal::from)
    }

    /// The SQLite journal at `path`, writable when this user may write: see
    /// [`SqliteJournal::open_any`].
    pub fn open_any(path: &Path, clock: Clock, opts: OpenOptions) -> Result<Journal> {
        SqliteJournal::open_any(path, clock, opts).map(Journal::from)
    }

    /// The SQLite file, or `None` on PostgreSQL (no file of its own).
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Backend::Sqlite(j) => Some(j.path()),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether the journal was opened read-only (SQLite's `open_any` on a folder this
    /// user may not write); a PostgreSQL journal always writes.
    pub fn is_read_only(&self) -> bool {
        match &self.0 {
            Backend::Sqlite(j) => j.is_read_only(),
            Backend::Postgres(_) => false,
        }
    }

    /// The clock the journal stamps events with.
    pub fn clock(&self) -> Clock {
        match &self.0 {
            Backend::Sqlite(j) => j.clock(),
            Backend::Postgres(j) => j.clock(),
        }
    }

    /// Share `gate` with the other journals of this process (SQLite: their writes
    /// take turns, see [`WriteGate`]). On PostgreSQL the gate is not used: the
    /// server orders concurrent writers itself, with row locks.
    pub fn with_gate(self, gate: WriteGate) -> Journal {
        match self.0 {
            Backend::Sqlite(j) => Journal::from(j.with_gate(gate)),
            pg @ Backend::Postgres(_) => Journal(pg),
        }
    }

    /// A handle templates read facts through, with its own connection (see
    /// [`FactReader`](super::FactReader); on PostgreSQL it reads through the pool).
    pub fn fact_reader(&self) -> super::FactReader {
        match &self.0 {
            Backend::Sqlite(j) => super::FactReader::new(Some(j.path())),
            Backend::Postgres(j) => super::FactReader::postgres(j.pool().clone(), j.clock()),
        }
    }

    /// The SQLite journal inside, for tests that look at its connection.
    #[cfg(test)]
    pub(crate) fn into_sqlite(self) -> Option<SqliteJournal> {
        match self.0 {
            Backend::Sqlite(j) => Some(j),
            Backend::Postgres(_) => None,
        }
    }

    /// The PostgreSQL database's URL without its password, or `None` on SQLite.
    pub fn postgres_url(&self) -> Option<String> {
        match &self.0 {
            Backend::Sqlite(_) => None,
            Backend::Postgres(j) => Some(j.pool().redacted_url()),
        }
    }

    /// The PostgreSQL database's size (`pg_database_size`); on SQLite, the file's
    /// (without its write-ahead log).
    pub fn database_bytes(&self) -> Result<u64> {
        match &self.0 {
            Backend::Sqlite(j) => Ok(std::fs::metadata(j.path()).map(|m| m.len()).unwrap_or(0)),
            Backend::Postgres(j) => j.database_bytes(),
        }
    }

    /// Whether this journal is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Backend::Postgres(_))
    }
}
