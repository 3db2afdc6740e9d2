//! Repairs of databases created by a released migration that was edited later
//! (never again: a test pins the hash of every released migration). Each repair
//! looks at the database first and changes nothing where the shape is already right.

use crate::error::Result;

/// 0001 first kept each run's workflow text in `runs.source`; it was then edited
/// to store sources once, by hash, in a `sources` table. A database created before
/// that edit has `runs.source` and no `sources` table, so no run can be created
/// in it. Move the texts into `sources` and drop the column.
pub(super) fn sources_of_0001(tx: &rusqlite::Transaction<'_>) -> Result<()> {
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
