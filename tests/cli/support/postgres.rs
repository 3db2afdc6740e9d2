//! A throwaway PostgreSQL for CLI tests: the library tests' starter
//! (`src/journal/pg/testdb.rs`, one server per test process on a free loopback port,
//! a fresh database per test, PostgreSQL missing a failure naming `.ci/setup`),
//! compiled into this binary as it is.

#[path = "../../../src/journal/pg/testdb.rs"]
mod testdb;

pub use testdb::fresh_database;
