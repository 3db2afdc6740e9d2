//! The executor: a pure state machine ([`machine`]) and the driver that performs its
//! effects against the journal, the connectors and time.

pub mod machine;
