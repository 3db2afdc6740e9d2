//! Secrets: the store (`aios secret`), `secret("NAME")` in templates, placeholders in
//! everything kept and shown, redaction of what comes back, secret inputs, steps
//! that try to read aios through `/proc`, and a search for planted values in every
//! file and every output.

mod inputs;
mod llm;
mod planted;
mod proc;
mod redact;
mod store;
pub(crate) mod templates;
