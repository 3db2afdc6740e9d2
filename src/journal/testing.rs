//! Test helpers that reach under the journal's interface: another process's hold on
//! the SQLite file, for tests of the code that waits for it.

use std::path::Path;

/// A write lock on the database at `path`, held by a connection of its own (as
/// another process would hold it) until [`WriteLockHolder::release`].
pub(crate) struct WriteLockHolder(rusqlite::Connection);

impl WriteLockHolder {
    pub(crate) fn take(path: &Path) -> WriteLockHolder {
        let conn = rusqlite::Connection::open(path).expect("open the database");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        WriteLockHolder(conn)
    }

    pub(crate) fn release(self) {
        self.0
            .execute_batch("ROLLBACK")
            .expect("release the write lock");
    }
}
