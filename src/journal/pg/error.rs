//! What a PostgreSQL error means to the user: the conversion of `postgres::Error`
//! into the program's [`Error`] (message, hint, [`StorageCause`]), as
//! `journal::sqlite_error` does for SQLite.

use postgres::error::SqlState;

use crate::error::{Error, StorageCause};

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let code = e.code().cloned();
        // The server's own words (`db error` alone says nothing).
        let e = match e.as_db_error() {
            Some(db) => match db.detail() {
                Some(detail) => format!("{} ({detail})", db.message()),
                None => db.message().to_string(),
            },
            None => e.to_string(),
        };
        let (message, hint, cause) = match code {
            Some(c)
                if c == SqlState::T_R_SERIALIZATION_FAILURE
                    || c == SqlState::T_R_DEADLOCK_DETECTED
                    || c == SqlState::LOCK_NOT_AVAILABLE =>
            {
                (
                    "the database is busy: another aios process changed the same records at once"
                        .to_string(),
                    "try again in a moment; nothing was half-written".to_string(),
                    StorageCause::Busy,
                )
            }
            Some(c) if c == SqlState::DISK_FULL => (
                "the database server's disk is full: the journal could not be written".to_string(),
                "free some space on the server; nothing was half-written, so re-run the same command"
                    .to_string(),
                StorageCause::Full,
            ),
            Some(c)
                if c == SqlState::INSUFFICIENT_PRIVILEGE
                    || c == SqlState::INVALID_PASSWORD
                    || c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                    || c == SqlState::INVALID_CATALOG_NAME =>
            {
                (
                    format!("the PostgreSQL database refused this user: {e}"),
                    "check the user, password and database name in AIOS_DATABASE_URL (or `[database] url`)"
                        .to_string(),
                    StorageCause::Access,
                )
            }
            Some(c) if c == SqlState::DATA_CORRUPTED => (
                format!("the PostgreSQL database is damaged: {e}"),
                "restore it from a backup".to_string(),
                StorageCause::Damaged,
            ),
            None => (
                format!("the PostgreSQL server could not be reached: {e}"),
                "check that it runs and that AIOS_DATABASE_URL (or `[database] url`) points at it; nothing was half-written"
                    .to_string(),
                StorageCause::Io,
            ),
            // The same words as SQLite's: a command that runs as written on either.
            Some(_) => (
                format!("database error: {e}"),
                "this is likely a bug in aios: check the journal with `aios replay` and report both outputs"
                    .to_string(),
                StorageCause::Other,
            ),
        };
        Error::storage(message).with_hint(hint).with_cause(cause)
    }
}
