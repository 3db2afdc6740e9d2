//! Opening the journal: the file (created 0600), its pragmas, the numbered
//! migrations (applied under the write lock, so any number of processes may open a
//! new database at once), and read-only opens for commands that only read (they
//! work on a data folder the user may not write).

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::SqliteJournal;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Numbered migrations, applied in order and tracked with `PRAGMA user_version`:
/// the version is how many of them a database has, so the order of this list is
/// the schema's history; file `NNNN_*.sql` is version NNNN.
/// A released one is never edited (a test pins their hashes): add the next number
/// at the end. Databases created by a migration before it was edited are repaired
/// first ([`super::repair`]).
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_agent.sql"),
    include_str!("migrations/0003_memory.sql"),
    include_str!("migrations/0004_schedule.sql"),
    include_str!("migrations/0005_inbox.sql"),
    include_str!("migrations/0006_timers.sql"),
    include_str!("migrations/0007_notices.sql"),
    include_str!("migrations/0008_hook_formats.sql"),
    include_str!("migrations/0009_old_fires.sql"),
    include_str!("migrations/0010_llm_finish.sql"),
    include_str!("migrations/0011_dry_runs.sql"),
    include_str!("migrations/0012_mail.sql"),
    include_str!("migrations/0013_notifications.sql"),
    include_str!("migrations/0014_rate_limits.sql"),
    include_str!("migrations/0015_runs_by_workflow.sql"),
    include_str!("migrations/0016_breakers.sql"),
    include_str!("migrations/0017_health.sql"),
    include_str!("migrations/0018_pending_by_run.sql"),
    include_str!("migrations/0019_trust.sql"),
    include_str!("migrations/0020_fact_unset.sql"),
    include_str!("migrations/0021_history_cost.sql"),
    include_str!("migrations/0022_fact_recorded.sql"),
    include_str!("migrations/0023_work.sql"),
];

/// How the journal is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// `synchronous = FULL` instead of NORMAL: survives power loss, slower commits.
    pub sync_full: bool,
    /// How long to wait for another process's write lock before giving up.
    pub lock_timeout: std::time::Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            sync_full: false,
            lock_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// How a journal was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Reads only: every write fails.
    ReadOnly,
}

fn known() -> i64 {
    MIGRATIONS.len() as i64
}

fn newer_schema(version: i64) -> Error {
    Error::storage(format!(
        "the database was written by a newer aios (schema {version}, this build knows {})",
        known()
    ))
    .with_hint("upgrade aios, or point AIOS_HOME at another folder")
}

/// The error of a database that cannot be written, with its path and what still works.
fn not_writable(path: &Path, cause: &dyn std::fmt::Display) -> Error {
    let dir = folder(path);
    Error::storage(format!(
        "the database {} cannot be written: {cause}",
        path.display()
    ))
    .with_hint(format!(
        "make {} and its aios.db writable for this user; commands that only read still work: aios runs, aios inbox list",
        dir.display()
    ))
}

/// The folder of the database file.
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether a SQLite error means "this file or folder cannot be written".
fn is_permission(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied)
    )
}

impl SqliteJournal {
    /// Open (creating if needed, mode 0600) the journal at `path` for reading and
    /// writing, and migrate it.
    pub fn open(path: &Path, clock: Clock, opts: OpenOptions) -> Result<SqliteJournal> {
        SqliteJournal::writer(path, clock, opts).map_err(|e| e.0)
    }

    /// [`SqliteJournal::open`]; the error says whether this user may not write there.
    fn writer(
        path: &Path,
        clock: Clock,
        opts: OpenOptions,
    ) -> std::result::Result<SqliteJournal, (Error, bool)> {
        let plain = |e: Error| (e, false);
        let denied = |e: Error| (e, true);
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| {
                    Error::storage(format!(
                        "cannot create the data directory {}: {e}",
                        dir.display()
                    ))
                    .with_hint("set AIOS_HOME (or --home) to a writable folder")
                })
                .map_err(plain)?;
        }
        create_private(path).map_err(plain)?;
        align_sidecar_modes(path);
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            if is_permission(&e) {
                denied(not_writable(path, &e))
            } else {
                plain(e.into())
            }
        })?;
        // SQLite opens a file it may not write read-only, silently.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(denied(not_writable(
                path,
                &"the file is read-only for this user",
            )));
        }
        conn.busy_timeout(opts.lock_timeout)
            .map_err(|e| plain(e.into()))?;
        super::count_commits(&mut conn);
        // rusqlite keeps 16 prepared statements by default; a run's driver uses more
        // than that between two turns of an agent, so each turn parsed its SQL again.
        conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
        // Switching a new database to WAL needs the file to itself for a moment: a
        // second process opening it at the same instant gets SQLITE_BUSY at once,
        // whatever the busy timeout. Try again, a little later each time, for as long
        // as a write lock is waited for.
        let deadline = std::time::Instant::now() + opts.lock_timeout;
        let mut pause = std::time::Duration::from_millis(5);
        let mut wal = conn.pragma_update(None, "journal_mode", "WAL");
        while let Err(e) = &wal
            && e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
            && std::time::Instant::now() + pause < deadline
        {
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
            wal = conn.pragma_update(None, "journal_mode", "WAL");
        }
        let setup = wal
            .and_then(|_| {
                conn.pragma_update(
                    None,
                    "synchronous",
                    if opts.sync_full { "FULL" } else { "NORMAL" },
                )
            })
            .and_then(|_| conn.pragma_update(None, "foreign_keys", "ON"));
        if let Err(e) = setup {
            return Err(if is_permission(&e) {
                denied(not_writable(path, &"its folder is read-only for this user"))
            } else {
                plain(e.into())
            });
        }
        let mut journal = SqliteJournal {
            conn,
            path: path.to_path_buf(),
            clock,
            access: Access::ReadWrite,
            gate: None,
        };
        journal.migrate().map_err(plain)?;
        Ok(journal)
    }

    /// Open the journal for reading only: nothing is written, not even the WAL
    /// index, so it works on a data folder (or a database file) this user may not
    /// write. A database that does not exist yet is created (and one whose schema
    /// is behind is migrated) through [`SqliteJournal::open`].
    pub fn open_read_only(path: &Path, clock: Clock, opts: OpenOptions) -> Result<SqliteJournal> {
        if !path.exists() {
            return SqliteJournal::open(path, clock, opts);
        }
        let journal = SqliteJournal::reader(path, clock, opts, false).or_else(|e| {
            // A WAL database needs its index (`-shm`) to be read, and SQLite creates
            // it beside the file: impossible in a read-only folder. When no WAL
            // content is pending (no `-wal` file, or an empty one), every committed
            // change is in the main file, which can then be read as immutable.
            if e.1 && !wal_pending(path) {
                SqliteJournal::reader(path, clock, opts, true)
            } else {
                Err(e)
            }
        });
        let journal = journal.map_err(|e| e.0)?;
        let version = journal.version()?;
        if version > known() {
            return Err(newer_schema(version));
        }
        if version < known() {
            // Upgrading the schema writes: only possible where this user may write.
            drop(journal);
            return SqliteJournal::writer(path, clock, opts).map_err(|(e, denied)| {
                if !denied {
                    return e;
                }
                Error::storage(format!(
                    "the database was written by an older aios (schema {version}, this build reads {}) and must be upgraded first: {}",
                    known(),
                    e.message
                ))
                .with_hint(format!(
                    "upgrading writes to it: give this user write access to {} once, then run: aios runs",
                    folder(path).display()
                ))
            });
        }
        Ok(journal)
    }

    /// Open for reading and writing when this user may write, else read-only
    /// ([`SqliteJournal::is_read_only`] says which): for commands that only read but
    /// record something on the way when they can (notices of late schedules).
    pub fn open_any(path: &Path, clock: Clock, opts: OpenOptions) -> Result<SqliteJournal> {
        match SqliteJournal::writer(path, clock, opts) {
            Ok(j) => Ok(j),
            Err((e, true)) if path.exists() => {
                SqliteJournal::open_read_only(path, clock, opts).map_err(|_| e)
            }
            Err((e, _)) => Err(e),
        }
    }

    /// A read-only connection; the error says whether the open was refused for
    /// lack of write access to the folder (and may be retried as immutable).
    fn reader(
        path: &Path,
        clock: Clock,
        opts: OpenOptions,
        immutable: bool,
    ) -> std::result::Result<SqliteJournal, (Error, bool)> {
        let uri = format!(
            "file:{}?mode=ro{}",
            uri_path(path),
            if immutable { "&immutable=1" } else { "" }
        );
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(
                &uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(opts.lock_timeout)?;
            conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
            // The first read opens the WAL index: fail here, not in a command.
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(conn)
        };
        // A read-only connection cannot wait out another process rebuilding the WAL
        // index (SQLite answers SQLITE_BUSY at once, whatever the busy timeout): try
        // again, a little later each time, for as long as a write lock is waited for.
        let deadline = std::time::Instant::now() + opts.lock_timeout;
        let mut pause = std::time::Duration::from_millis(5);
        let mut opened = open();
        while let Err(e) = &opened
            && e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
            && std::time::Instant::now() + pause < deadline
        {
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
            opened = open();
        }
        match opened {
            Ok(conn) => Ok(SqliteJournal {
                conn,
                path: path.to_path_buf(),
                clock,
                access: Access::ReadOnly,
                gate: None,
            }),
            Err(e) => {
                let permission = is_permission(&e);
                Err((
                    if permission {
                        Error::storage(format!(
                            "the database {} cannot be read: {e}",
                            path.display()
                        ))
                        .with_hint(format!(
                            "its folder holds unfinished writes (aios.db-wal): give this user write access to {} once, then run: aios runs",
                            folder(path).display()
                        ))
                    } else {
                        e.into()
                    },
                    permission,
                ))
            }
        }
    }

    /// Whether this journal was opened read-only (every write fails).
    pub fn is_read_only(&self) -> bool {
        self.access == Access::ReadOnly
    }

    pub(super) fn version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Apply the migrations this database lacks, after the repairs it may need, in
    /// one write transaction that reads the version again: when several processes
    /// open a new database at once, one migrates and the others find it done.
    fn migrate(&mut self) -> Result<()> {
        let version = self.version()?;
        if version > known() {
            return Err(newer_schema(version));
        }
        if version == known() {
            return Ok(());
        }
        let tx = self.write_tx()?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known() {
            return Err(newer_schema(version));
        }
        super::repair::before_migrations(&tx, version)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// SQLite creates `aios.db-wal` and `aios.db-shm` with the mode the database file
/// has at that moment: read while the file was read-only (0400), they stay
/// read-only and would refuse every write once the file is writable again. Give
/// them the file's mode (best effort: only files this user owns can be changed).
fn align_sidecar_modes(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(mode) = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777) else {
            return;
        };
        for ext in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            if let Ok(m) = std::fs::metadata(&p)
                && m.permissions().mode() & 0o777 != mode
            {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            }
        }
    }
}

/// No uncheckpointed WAL content beside the database.
fn wal_pending(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 0)
}

/// A path for a `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Create the database file with mode 0600 before SQLite opens it.
fn create_private(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(|_| ()).map_err(|e| {
        Error::storage(format!(
            "cannot create the database {}: {e}",
            path.display()
        ))
        .with_hint("set AIOS_HOME (or --home) to a writable folder")
    })
}
