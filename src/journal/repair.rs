//! Repairs of databases created by a released migration that was edited later
//! (never again: a test pins the hash of every released migration). They run in the
//! migration transaction, before the migrations a database lacks (a later migration
//! may build on what they restore: 0008 alters `hooks`), each only where the
//! database's version says the repaired shape should already be there, and each
//! looks first: a database that has the right shape is left unchanged.

use crate::error::Result;

/// Repair what the database at `version` should have and may lack.
pub(super) fn before_migrations(tx: &rusqlite::Transaction<'_>, version: i64) -> Result<()> {
    if version >= 1 {
        sources_of_0001(tx)?;
    }
    if version >= 6 {
        hooks_of_0006(tx)?;
    }
    Ok(())
}

/// 0001 first kept each run's workflow text in `runs.source`; it was then edited
/// to store sources once, by hash, in a `sources` table. A database created before
/// that edit has `runs.source` and no `sources` table, so no run can be created
/// in it. Move the texts into `sources` and drop the column.
fn sources_of_0001(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let has_column: bool = tx.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('runs') WHERE name = 'source'",
        [],
        |r| r.get(0),
    )?;
    if !has_column {
        return Ok(());
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS sources (
             hash TEXT PRIMARY KEY,
             text TEXT NOT NULL
         ) WITHOUT ROWID;
         INSERT OR IGNORE INTO sources (hash, text) SELECT source_hash, source FROM runs;
         ALTER TABLE runs DROP COLUMN source;",
    )?;
    Ok(())
}

/// 0006 gained the `hooks` table after it had been applied: a database migrated to
/// 0006 before that edit has none. Create it as 0006 does now.
fn hooks_of_0006(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS hooks (
             name        TEXT PRIMARY KEY,
             path        TEXT NOT NULL,
             dir         TEXT NOT NULL,
             source_hash TEXT NOT NULL REFERENCES sources (hash),
             created_at  INTEGER NOT NULL,
             updated_at  INTEGER NOT NULL
         ) WITHOUT ROWID;",
    )?;
    Ok(())
}
