//! The journal's backend for the CLI tests: `AIOS_TEST_BACKEND` (unset or `sqlite`,
//! the SQLite file in the test's home; `postgres`, a fresh database per test on the
//! throwaway server of [`super::postgres`]), the markers of tests that do not run on
//! PostgreSQL ([`Test::sqlite_only`]: each says so on stderr, and `.ci/run` lists
//! them) and reading the journal behind the CLI's back on either
//! backend ([`Test::sql`], [`Test::sql_rows`], [`Test::journal_bytes`]).

use std::sync::OnceLock;

use serde_json::Value as Json;

use super::Test;

/// The journal backend the commands of a [`Test`] use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The SQLite file in the test's home (the default).
    Sqlite,
    /// A fresh database per test on the throwaway PostgreSQL server.
    Postgres,
}

/// The backend chosen by `AIOS_TEST_BACKEND` (`sqlite`, the default, or `postgres`).
/// Any other value fails every test: a typo must not quietly run SQLite.
pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| match std::env::var("AIOS_TEST_BACKEND") {
        Err(_) => Backend::Sqlite,
        Ok(v) if v.is_empty() || v == "sqlite" => Backend::Sqlite,
        Ok(v) if v == "postgres" => Backend::Postgres,
        Ok(v) => panic!("AIOS_TEST_BACKEND={v:?}: use `sqlite` (the default) or `postgres`"),
    })
}

/// Whether the suite runs on PostgreSQL (`AIOS_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    backend() == Backend::Postgres
}

/// The name of the running test (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// Say on stderr, past libtest's capture (it captures the print macros only), so
/// that the line shows in every run and `.ci/run` can count it. One write per line.
fn announce(tag: &str, why: &str) {
    use std::io::Write;
    let line = format!("{tag} {}: {why}\n", test_name());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

impl Test {
    /// A test about the SQLite file itself (its permissions, locks, backups, WAL…):
    /// on SQLite, a new [`Test`]; in postgres mode, `None` after saying so on stderr
    /// (`SQLITE-ONLY <test>: <why>`, listed by `.ci/run`). `why` says what about the
    /// file the test checks.
    /// `let Some(t) = Test::sqlite_only("…") else { return };`
    pub fn sqlite_only(why: &str) -> Option<Test> {
        if on_postgres() {
            announce("SQLITE-ONLY", why);
            return None;
        }
        Some(Test::new())
    }

    /// The URL of this test's PostgreSQL database in postgres mode (a fresh database,
    /// created on first use), else `None`. A test that set its own
    /// `AIOS_DATABASE_URL` gets that one.
    pub fn database_url(&self) -> Option<String> {
        if let Some((_, url)) = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "AIOS_DATABASE_URL")
        {
            return Some(url.clone()).filter(|u| !u.is_empty());
        }
        on_postgres().then(|| {
            self.database
                .get_or_init(super::postgres::fresh_database)
                .clone()
        })
    }

    /// Run SQL statements on this test's journal, whichever backend it is on (behind
    /// the journal's back: to plant what an older build wrote, or lose a row). Write
    /// SQL both dialects read, or branch on [`on_postgres`].
    pub fn sql(&self, statements: &str) {
        match self.database_url() {
            Some(url) => pg_client(&url)
                .batch_execute(statements)
                .unwrap_or_else(|e| panic!("{statements}: {}", pg_error(&e))),
            None => rusqlite::Connection::open(self.join("aios.db"))
                .and_then(|c| c.execute_batch(statements))
                .unwrap_or_else(|e| panic!("{statements}: {e}")),
        }
    }

    /// The rows of a query on this test's journal, whichever backend it is on, as JSON
    /// values (integers, reals, text, booleans, null). Parameters are text, written
    /// `$1`, `$2`… (both SQLite and PostgreSQL read that).
    pub fn sql_rows(&self, query: &str, params: &[&str]) -> Vec<Vec<Json>> {
        self.try_sql_rows(query, params)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// [`Test::sql_rows`], with the error (no journal yet, a table not created yet…)
    /// returned: for polling while an aios process creates the journal.
    pub fn try_sql_rows(&self, query: &str, params: &[&str]) -> Result<Vec<Vec<Json>>, String> {
        match self.database_url() {
            Some(url) => {
                let params: Vec<&(dyn ::postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn ::postgres::types::ToSql + Sync))
                    .collect();
                let rows = pg_client(&url)
                    .query(query, &params)
                    .map_err(|e| pg_error(&e))?;
                Ok(rows
                    .iter()
                    .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
                    .collect())
            }
            None => {
                let db = self.join("aios.db");
                if !db.exists() {
                    return Err(format!("no journal at {}", db.display()));
                }
                let c = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
                let mut stmt = c.prepare(query).map_err(|e| e.to_string())?;
                let n = stmt.column_count();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                        (0..n)
                            .map(|i| {
                                use rusqlite::types::ValueRef;
                                Ok(match r.get_ref(i)? {
                                    ValueRef::Null => Json::Null,
                                    ValueRef::Integer(n) => Json::from(n),
                                    ValueRef::Real(x) => Json::from(x),
                                    ValueRef::Text(t) => {
                                        Json::from(String::from_utf8_lossy(t).into_owned())
                                    }
                                    ValueRef::Blob(b) => {
                                        Json::from(String::from_utf8_lossy(b).into_owned())
                                    }
                                })
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string())?;
                rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
            }
        }
    }

    /// Everything the journal stores, as bytes to search: on SQLite the database file
    /// and its `-wal` and `-shm` (those that exist), on PostgreSQL every row of every
    /// table of the test's database as text. For "the secret never enters the
    /// journal" checks; fails when there is no journal at all (nothing was checked).
    pub fn journal_bytes(&self) -> Vec<u8> {
        match self.database_url() {
            Some(url) => {
                let mut c = pg_client(&url);
                let tables: Vec<String> = c
                    .query(
                        "SELECT table_name::text FROM information_schema.tables \
                         WHERE table_schema = 'public' ORDER BY 1",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert!(!tables.is_empty(), "no journal in {url}");
                let mut all = Vec::new();
                for table in tables {
                    for r in c
                        .query(&format!("SELECT x::text FROM \"{table}\" x"), &[])
                        .unwrap()
                    {
                        all.extend_from_slice(r.get::<_, String>(0).as_bytes());
                        all.push(b'\n');
                    }
                }
                all
            }
            None => {
                let mut all = Vec::new();
                for f in ["aios.db", "aios.db-wal", "aios.db-shm"] {
                    if let Ok(b) = std::fs::read(self.join(f)) {
                        all.extend(b);
                    }
                }
                assert!(!all.is_empty(), "no journal in {}", self.path().display());
                all
            }
        }
    }

    /// Fail when `value` is anywhere in the journal ([`Test::journal_bytes`]).
    pub fn assert_journal_lacks(&self, value: &str) {
        let all = self.journal_bytes();
        assert!(
            !all.windows(value.len()).any(|w| w == value.as_bytes()),
            "the journal holds {value:?}"
        );
    }

    /// A connection to this test's PostgreSQL database (postgres mode, or a test that
    /// set its own `AIOS_DATABASE_URL`), for what [`Test::sql`] cannot say: a
    /// transaction held open across commands.
    pub fn pg(&self) -> ::postgres::Client {
        let url = self
            .database_url()
            .expect("t.pg(): this test runs on SQLite (AIOS_TEST_BACKEND is not postgres)");
        pg_client(&url)
    }

    /// The one integer a query returns (`SELECT count(*) …`).
    pub fn sql_int(&self, query: &str, params: &[&str]) -> i64 {
        let rows = self.sql_rows(query, params);
        assert_eq!(rows.len(), 1, "{query}: {rows:?}");
        rows[0][0]
            .as_i64()
            .unwrap_or_else(|| panic!("{query}: not an integer: {rows:?}"))
    }
}

/// A connection to a test database (the throwaway server trusts `aios` on loopback).
fn pg_client(url: &str) -> ::postgres::Client {
    ::postgres::Client::connect(url, ::postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL at {url}: {e}"))
}

/// A PostgreSQL error in the server's own words (`db error` alone says nothing).
fn pg_error(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// Column `i` of a PostgreSQL row as JSON, by its type.
fn pg_value(row: &::postgres::Row, i: usize) -> Json {
    use ::postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let v = if ty == Type::INT8 {
        row.get::<_, Option<i64>>(i).map(Json::from)
    } else if ty == Type::INT4 {
        row.get::<_, Option<i32>>(i).map(Json::from)
    } else if ty == Type::INT2 {
        row.get::<_, Option<i16>>(i).map(Json::from)
    } else if ty == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i).map(Json::from)
    } else if ty == Type::FLOAT4 {
        row.get::<_, Option<f32>>(i).map(Json::from)
    } else if ty == Type::BOOL {
        row.get::<_, Option<bool>>(i).map(Json::from)
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME {
        row.get::<_, Option<String>>(i).map(Json::from)
    } else {
        panic!("column {i} is of type {ty}: cast it to text, bigint or float8 in the query")
    };
    v.unwrap_or(Json::Null)
}
