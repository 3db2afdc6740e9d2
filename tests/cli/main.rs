//! Integration tests of the `aios` binary: one test binary, a module per area.
//! Every test runs the real binary in a cleared environment with a temp `AIOS_HOME`;
//! network traffic only goes to loopback servers the test starts itself.

mod support;

mod agent;
mod agent_budget;
mod agent_local;

mod check;
mod check_json;
mod check_limits;
mod completions;
mod concurrency;
mod config;
mod context;
mod crash;
mod decide;
mod doctor;
mod dry_run;
mod email;
mod email_faults;
mod init;
mod inspect;
mod lease;
mod lifecycle;
mod llm;
mod mail;
mod man;
mod mcp;
mod mcp_steps;
mod memory;
mod new;
mod notify;
mod plan;
mod plurals;
mod rate;
mod readonly;
mod rescue;
mod run;
mod sandbox;
mod schedule;
mod schedule_faults;
mod secrets;
mod serve;
mod shellbox;
mod steer;
mod steps;
mod storage;
mod timers;
mod tui;
