//! What a SQLite error means to the user: the conversion of `rusqlite::Error` into
//! the program's [`Error`] (its message, hint and [`StorageCause`]). It lives with the
//! SQLite backend so that no rusqlite type is named outside it.

use crate::error::{Error, StorageCause};

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
            _ => None,
        };
        let (message, hint, cause) = match code {
            Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => (
                "the database is locked by another process".to_string(),
                "another aios command is writing; try again in a moment".to_string(),
                StorageCause::Busy,
            ),
            Some(C::SystemIoFailure) => (
                format!("the database could not be written or read: {e}"),
                "check free disk space (and quotas); nothing was half-written, so re-run the same command"
                    .to_string(),
                StorageCause::Io,
            ),
            Some(C::DiskFull) => (
                "the disk is full: the journal could not be written".to_string(),
                "free some space; nothing was half-written, so re-run the same command".to_string(),
                StorageCause::Full,
            ),
            Some(C::ReadOnly) | Some(C::PermissionDenied) | Some(C::CannotOpen) => (
                format!("the database cannot be opened for writing: {e}"),
                "check the permissions of the data directory (see AIOS_HOME / --home)".to_string(),
                StorageCause::Access,
            ),
            Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => (
                format!("the database file is damaged: {e}"),
                "restore it from a backup, or point AIOS_HOME at a new folder".to_string(),
                StorageCause::Damaged,
            ),
            _ => (
                format!("database error: {e}"),
                "this is likely a bug in aios: check the journal with `aios replay` and report both outputs".to_string(),
                StorageCause::Other,
            ),
        };
        // The message already says what the SQLite error means; its text is kept
        // only where it adds something (it is in `message` for those cases).
        Error::storage(message).with_hint(hint).with_cause(cause)
    }
}
