//! The operator's view of aios's own health, and what keeps it healthy:
//!
//! - [`breaker`]: circuit breakers per connector target (pure decisions and the
//!   projection of their events; `[breakers]` in the config)

pub mod breaker;

pub use breaker::{Admit, Breaker, BreakerEvent, BreakerPolicy, BreakerSettings, BreakerState};
