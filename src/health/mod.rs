//! The operator's view of aios's own health, and what keeps it healthy:
//!
//! - [`breaker`]: circuit breakers per connector target (pure decisions and the
//!   projection of their events; `[breakers]` in the config)
//! - [`backup`]: `[backup]`, daily copies and their rotation, safe restores
//! - [`status`]: one screen of health as typed data (`aios status`, the TUI)

pub mod backup;
pub mod breaker;
pub mod status;

pub use breaker::{Admit, Breaker, BreakerEvent, BreakerPolicy, BreakerSettings, BreakerState};
