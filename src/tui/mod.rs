//! The inbox TUI (`aios inbox` on a terminal): review, edit and decide what waits for
//! the operator, and watch runs progress.
//!
//! Elm-style: [`model`] holds the state, [`message`] lists what can happen
//! ([`Msg`]) and what the runtime must do ([`Cmd`]), [`update`] is the pure transition
//! (unit tested), [`view`] draws a model (snapshot tested on `TestBackend`), and
//! [`runtime`] (with `terminal`) is the only part that touches the terminal, the
//! journal, threads and the clock. Decisions go through [`crate::inbox::decide`], the same function as
//! `aios approve/reject`; approved runs continue in background threads, each with its
//! own journal connection, and the screen follows them by polling the journal.
//!
//! The terminal is restored on quit, on error and on panic (a guard plus a panic
//! hook); Ctrl-C quits (raw mode delivers it as a key).

pub mod message;
pub mod model;
pub mod runtime;
mod terminal;
pub mod update;
pub mod view;

pub use message::{Cmd, Msg};
pub use model::{Model, Settings};
pub use runtime::{Runtime, TuiSettings, run};
pub use update::update;
pub use view::view;
