//! The PostgreSQL backend (being built): for now, the throwaway server the tests use
//! (`testdb`).

#[cfg(test)]
pub(crate) mod testdb;
