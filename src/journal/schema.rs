//! A new database's schema in one step: `schema.sql` holds the statements that
//! leave an empty database exactly as the migrations up to its version leave it
//! (tables, indexes, triggers and the few rows they write), so a new database runs
//! them instead of replaying every migration. Replaying them cost more than a
//! thousand-step run's own work: each `ALTER TABLE` in them makes SQLite parse the
//! whole schema again. The migrations after the snapshot's version (none when it is
//! current) still run on top of it, so a stale snapshot is slower, never wrong.
//!
//! `schema.sql` is generated from the migrations ([`dump`]); a test fails when it is
//! behind them or differs from what they build, and rewrites it when run with
//! `AIOS_WRITE_DB_SCHEMA=1 cargo test --lib journal::schema` (README "Development").

use rusqlite::Connection;

/// The snapshot: its first line is `-- version N`, the schema version it stands for.
const SNAPSHOT: &str = include_str!("schema.sql");

/// The schema version of [`SNAPSHOT`] (0 when the file does not say: then it is not
/// used).
pub(super) fn snapshot_version() -> i64 {
    SNAPSHOT
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-- version "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Create the snapshot's schema in `conn` when the database is new (version 0 and
/// nothing in it), inside the caller's transaction. Returns the version it is at.
pub(super) fn create_new(conn: &Connection, version: i64) -> rusqlite::Result<i64> {
    let at = snapshot_version();
    if version != 0 || at == 0 {
        return Ok(version);
    }
    let empty: bool = conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))?;
    if !empty {
        return Ok(version);
    }
    conn.execute_batch(SNAPSHOT)?;
    conn.pragma_update(None, "user_version", at)?;
    Ok(at)
}

/// The statements that rebuild `conn`'s schema and rows in an empty database, in
/// creation order, headed by `-- version N` (its `user_version`). Tables that SQLite
/// makes for a virtual table (its shadow tables) are left to it. (Only the tests write the file.)
#[cfg(test)]
pub(super) fn dump(conn: &Connection) -> rusqlite::Result<String> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let shadow: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE type = 'shadow'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = format!(
        "-- version {version}\n-- Generated from the migrations by journal::schema's test: do not edit.\n"
    );
    let mut tables = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT type, name, sql FROM sqlite_master
          WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (kind, name, sql) = row?;
        if shadow.contains(&name) {
            continue;
        }
        out.push_str(&sql);
        out.push_str(";\n");
        if kind == "table" && !sql.starts_with("CREATE VIRTUAL") {
            tables.push(name);
        }
    }
    // The rows the migrations leave (AUTOINCREMENT counters, seeded rows).
    let has_sequence: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if has_sequence {
        tables.push("sqlite_sequence".into());
    }
    for table in tables {
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let values = cols
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ', ' || ");
        let names = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = conn.prepare(&format!("SELECT {values} FROM \"{table}\""))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            out.push_str(&format!(
                "INSERT INTO \"{table}\" ({names}) VALUES ({});\n",
                row?
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::journal::open::MIGRATIONS;
    use crate::journal::{OpenOptions, SqliteJournal};

    /// An empty database with the first `n` migrations applied one by one.
    fn migrated(n: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..n] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", n as i64).unwrap();
        conn
    }

    /// Everything a database holds: its schema entries, every table's rows (shadow
    /// tables included) and its version.
    fn contents(conn: &Connection) -> Vec<String> {
        let mut out: Vec<String> = conn
            .prepare("SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name != 'sqlite_schema' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for t in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let cells: Vec<String> = (0..n)
                        .map(|i| match r.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Text(t) => {
                                format!("{:?}", String::from_utf8_lossy(t))
                            }
                            v => format!("{v:?}"),
                        })
                        .collect();
                    Ok(format!("{t}: {}", cells.join(" | ")))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>();
            out.extend(rows);
        }
        out.push(format!(
            "user_version {}",
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
                .unwrap()
        ));
        out
    }

    /// `got` holds what `want` holds; the message names only what differs.
    fn assert_same(got: &Connection, want: &Connection, what: &str) {
        let (got, want) = (contents(got), contents(want));
        let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
        let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
        assert!(
            extra.is_empty() && missing.is_empty() && got.len() == want.len(),
            "{what}: not the migrated database\nextra: {extra:#?}\nmissing: {missing:#?}"
        );
    }

    #[test]
    fn the_snapshot_is_what_the_migrations_build() {
        let want = dump(&migrated(MIGRATIONS.len())).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/journal/schema.sql");
        if std::env::var_os("AIOS_WRITE_DB_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        assert!(
            SNAPSHOT == want,
            "src/journal/schema.sql is not what the migrations build (a migration was added?): \
             regenerate it with: AIOS_WRITE_DB_SCHEMA=1 cargo test --lib journal::schema"
        );
    }

    #[test]
    fn a_new_database_opened_from_the_snapshot_is_the_migrated_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aios.db");
        let j = SqliteJournal::open(&path, Clock::System, OpenOptions::default()).unwrap();
        assert_eq!(j.version().unwrap(), MIGRATIONS.len() as i64);
        assert_same(&j.conn, &migrated(MIGRATIONS.len()), "opened new");
    }

    #[test]
    fn an_older_snapshot_and_the_migrations_after_it_build_the_same_database() {
        // What a stale snapshot does: its statements, then the later migrations.
        for at in [1, 6, 18, MIGRATIONS.len() - 1] {
            let snapshot = dump(&migrated(at)).unwrap();
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(&snapshot).unwrap();
            for sql in &MIGRATIONS[at..] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
                .unwrap();
            assert_same(
                &conn,
                &migrated(MIGRATIONS.len()),
                &format!("from a snapshot at {at}"),
            );
        }
    }

    #[test]
    fn a_database_of_version_0_that_is_not_empty_is_migrated_not_overwritten() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE mine (x)").unwrap();
        assert_eq!(create_new(&conn, 0).unwrap(), 0);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
