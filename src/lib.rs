//! aios: a terminal-first AI workflow OS for one-person companies.
pub mod template;
pub mod workflow;
pub mod clock;
pub mod connectors;
pub mod error;
pub mod journal;
pub mod engine;
