//! The core error type: what went wrong, a hint for the user, and which kind of
//! failure it is (the command layer maps kinds to exit codes).

use std::fmt;

/// Broad classes of failure; each maps to one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad arguments, bad workflow, bad edited action (exit 2).
    Invalid,
    /// No such run, proposal or file (exit 3).
    NotFound,
    /// The request conflicts with the current state: already decided, run finished,
    /// lease held by another live process (exit 4).
    Conflict,
    /// The database could not be used: locked, full disk, corrupt, permissions (exit 5).
    Storage,
    /// Anything else that stopped the command (exit 1).
    Other,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// What SQLite said, for a storage error that came from it.
    cause: Option<StorageCause>,
}

/// Why the database could not be used (a storage error from SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageCause {
    /// Another writer held the lock past the timeout: nothing was written, and the
    /// same operation may succeed later.
    Busy,
    /// The disk (or a quota) is full.
    Full,
    /// A read or write of the file failed.
    Io,
    /// The file or its folder may not be opened for writing.
    Access,
    /// The file is damaged.
    Damaged,
    /// Anything else SQLite reported.
    Other,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            source: None,
            cause: None,
        }
    }

    /// The database was locked by another writer past the lock timeout: nothing was
    /// written, and trying again later may succeed.
    pub fn is_busy(&self) -> bool {
        self.cause == Some(StorageCause::Busy)
    }

    /// Why the database could not be used, for a storage error that came from SQLite.
    pub fn storage_cause(&self) -> Option<StorageCause> {
        self.cause
    }

    /// A storage error met while driving run `run`: everything up to the last write
    /// that went through is in the journal, so the way on is `aios resume RUN`, never
    /// the same command again (`aios run` would start a new run and repeat side
    /// effects already done). Other errors, and storage errors that a resume would
    /// meet again (a damaged file, an unreadable snapshot), are returned as they are.
    pub fn in_run(mut self, run: i64) -> Self {
        let resume = format!("aios resume {run}");
        self.hint = Some(match self.cause {
            Some(StorageCause::Busy) => format!(
                "another aios command is writing; run {run} is recorded up to here, continue it once that one is done with: {resume}"
            ),
            Some(StorageCause::Full) => format!(
                "free some space; run {run} is recorded up to here (nothing was half-written), then continue it with: {resume}"
            ),
            Some(StorageCause::Io) => format!(
                "check free disk space (and quotas); run {run} is recorded up to here (nothing was half-written), then continue it with: {resume}"
            ),
            Some(StorageCause::Access) => format!(
                "check the permissions of the data directory (see AIOS_HOME / --home); run {run} is recorded up to here, then continue it with: {resume}"
            ),
            // Not a passing condition: resuming would meet it again.
            Some(StorageCause::Damaged | StorageCause::Other) | None => return self,
        });
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// What a storage error means, for the backends' conversions of their errors.
    pub(crate) fn with_cause(mut self, cause: StorageCause) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::storage(format!(
            "the journal holds data this version cannot read: {e}"
        ))
        .with_source(e)
    }
}
