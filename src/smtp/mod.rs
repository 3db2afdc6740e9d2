//! SMTP: the accounts of `[smtp]` in config.toml ([`config`]) and sending one
//! message through one of them ([`client`]), phase by phase, so a failure says
//! whether the message may have been delivered. Email steps
//! ([`crate::connectors::email`]) and email notifications send through here.

pub mod client;
pub mod config;

pub use client::{Accepted, Connections, Failure, SendError};
pub use config::{Account, DEFAULT_ACCOUNT, SmtpSettings, Tls};

/// The accounts of a configuration and the connections kept to them: what commits
/// (and notifications) of one process send through.
#[derive(Debug, Default)]
pub struct Transport {
    pub settings: SmtpSettings,
    pub connections: Connections,
}

impl Transport {
    pub fn new(settings: SmtpSettings) -> Transport {
        Transport {
            settings,
            connections: Connections::default(),
        }
    }
}
