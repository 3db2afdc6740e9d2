//! The journal's side of aios's health: backups and restores of the file, the
//! heartbeats of routine work (`tick`, `backup`) and the counts `aios status`
//! reads.
//!
//! A backup is `VACUUM INTO` a temporary file beside the destination, renamed into
//! place when complete: one read transaction, so it is consistent while other
//! processes write (WAL readers do not block writers), and never half-written. A
//! restore checks the file (integrity, an aios journal, a schema this build can
//! open), keeps the current database aside (a backup of it), then copies the file
//! into the live database with SQLite's online backup API, under SQLite's locks:
//! connections other processes hold see the restored content, never a torn file.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value as Json;

use super::SqliteJournal;
use super::open::MIGRATIONS;
use crate::clock::Millis;
use crate::error::{Error, Result};

/// When a routine job last ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub at: Millis,
    pub by: String,
    pub detail: Json,
}

/// What a checked backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub path: PathBuf,
    pub bytes: u64,
    /// Its schema version (this build migrates an older one when it opens it).
    pub schema: i64,
    pub runs: i64,
    pub events: i64,
}

impl SqliteJournal {
    /// Record that `name` (`tick`, `backup`) ran now, by `by`, with `detail`.
    pub fn beat(&mut self, name: &str, by: &str, detail: &Json) -> Result<()> {
        let at = self.now();
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO heartbeats (name, at, by, detail) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![name, at, by, detail.to_string()])?;
        Ok(())
    }

    /// When `name` last ran, if ever.
    pub fn heartbeat(&self, name: &str) -> Result<Option<Heartbeat>> {
        let row = self
            .conn
            .prepare_cached("SELECT at, by, detail FROM heartbeats WHERE name = ?1")?
            .query_row(params![name], |r| {
                Ok((
                    r.get::<_, Millis>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        Ok(row.map(|(at, by, detail)| Heartbeat {
            at,
            by,
            detail: serde_json::from_str(&detail).unwrap_or(Json::Null),
        }))
    }

    /// Write a consistent copy of the database to `dest` (which must not exist):
    /// its size in bytes.
    pub fn backup_to(&self, dest: &Path) -> Result<u64> {
        if dest.exists() {
            return Err(
                Error::conflict(format!("{} exists already", dest.display()))
                    .with_hint("name a new file, or move the old one away first"),
            );
        }
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::storage(format!("cannot create {}: {e}", dir.display()))
                .with_hint("name a folder this user may write")
        })?;
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        let copied = self
            .conn
            .execute("VACUUM INTO ?1", params![partial.to_string_lossy()])
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                Error::storage(format!("cannot write {}: {e}", dest.display()))
                    .with_hint("name a folder this user may write, with room for the copy")
            });
        copied?;
        private(&partial);
        std::fs::rename(&partial, dest).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::storage(format!("cannot move the copy to {}: {e}", dest.display()))
        })?;
        Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
    }

    /// Runs a live process executes now (a lease not expired): `(run, owner)`.
    pub fn live_leases(&self) -> Result<Vec<(i64, String)>> {
        let now = self.now();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, lease_owner FROM runs WHERE status = 'running'
               AND lease_owner IS NOT NULL AND lease_expires > ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replace this database's content with the checked backup at `src`, through
    /// SQLite's online backup API (the destination is locked while it is copied).
    /// The caller keeps the current content aside first ([`SqliteJournal::backup_to`]).
    pub fn restore_from(&mut self, src: &Path) -> Result<()> {
        let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        {
            let b = rusqlite::backup::Backup::new(&from, &mut self.conn)?;
            b.step(-1)?;
        }
        Ok(())
    }
}

/// Make a copy readable by this user only (it holds everything the journal does).
fn private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// Check that `path` is a sound aios journal this build can open: SQLite's
/// `integrity_check`, the tables of an aios journal, a schema not newer than this
/// build's. Reads only.
pub fn check_backup(path: &Path) -> Result<BackupFile> {
    let bad = |what: String| {
        Error::invalid(format!(
            "{} is not a backup aios can restore: {what}",
            path.display()
        ))
        .with_hint("name a file made by: aios backup")
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::not_found(format!("cannot read {}: {e}", path.display()))
            .with_hint("name a file made by: aios backup")
    })?;
    if !meta.is_file() {
        return Err(bad("it is not a file".into()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| bad(e.to_string()))?;
    let check: Vec<String> = (|| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    })()
    .map_err(|e| bad(e.to_string()))?;
    if check != ["ok"] {
        return Err(bad(format!(
            "its integrity check failed: {}",
            check.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        )));
    }
    let schema: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    let has = |table: &str| -> bool {
        conn.query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            params![table],
            |_| Ok(()),
        )
        .is_ok()
    };
    if schema < 1 || !has("events") || !has("runs") {
        return Err(bad("it holds no aios journal".into()));
    }
    if schema > MIGRATIONS.len() as i64 {
        return Err(bad(format!(
            "it was written by a newer aios (schema {schema}, this build knows {})",
            MIGRATIONS.len()
        ))
        .with_hint("restore it with the aios that made it, or upgrade aios"));
    }
    let count = |sql: &str| -> Result<i64> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| bad(e.to_string()))
    };
    Ok(BackupFile {
        path: path.to_path_buf(),
        bytes: meta.len(),
        schema,
        runs: count("SELECT count(*) FROM runs")?,
        events: count("SELECT count(*) FROM events")?,
    })
}

/// Pending inbox items of one kind: how many, and when the oldest was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingKind {
    pub kind: String,
    pub count: i64,
    pub oldest: Millis,
}

impl SqliteJournal {
    /// Pending inbox items by kind (notices as `notice`), the kind with the oldest
    /// item first.
    pub fn pending_by_kind(&self) -> Result<Vec<PendingKind>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, count(*), min(created_at) FROM proposals INDEXED BY proposals_pending_by_kind
               WHERE status = 'pending' GROUP BY kind
             UNION ALL
             SELECT 'notice', count(*), min(created_at) FROM notices WHERE status = 'pending' HAVING count(*) > 0
             ORDER BY 3, 1",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingKind {
                kind: r.get(0)?,
                count: r.get(1)?,
                oldest: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The earliest time something inside a run waits for: a `wait` step's or a
    /// held step's wake-up, or an inbox item's deadline.
    pub fn next_wake(&self) -> Result<Option<Millis>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT min(t) FROM (
               SELECT min(wake_at) AS t FROM steps WHERE wake_at IS NOT NULL AND status = 'waiting'
               UNION ALL
               SELECT min(deadline) FROM proposals INDEXED BY proposals_deadline
                 WHERE deadline IS NOT NULL AND status = 'pending')",
            )?
            .query_row([], |r| r.get(0))?)
    }

    /// How many runs are running and waiting.
    pub fn active_runs(&self) -> Result<(i64, i64)> {
        let count = |status: &str| -> Result<i64> {
            Ok(self
                .conn
                .prepare_cached("SELECT count(*) FROM runs WHERE status = ?1")?
                .query_row(params![status], |r| r.get(0))?)
        };
        Ok((count("running")?, count("waiting")?))
    }
}
