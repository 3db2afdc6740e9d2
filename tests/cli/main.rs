//! Integration tests of the `aios` binary: one test binary, a module per area.
//! Every test runs the real binary in a cleared environment with a temp `AIOS_HOME`;
//! network traffic only goes to loopback servers the test starts itself.

mod support;

mod agent;
mod agent_budget;
mod agent_local;
mod agent_tools;
mod autonomy;
mod breakers;

mod check;
mod check_limits;
mod completions;
mod concurrency;
mod context;
mod crash;
mod deadletter;
mod decide;
mod diffs;
mod dry_run;
mod email;
mod email_faults;
mod health;
mod inspect;
mod lease;
mod library;
mod lifecycle;
mod llm;
mod mail;
mod mcp;
mod mcp_steps;
mod memory;
mod notify;
mod personas;
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
mod stats;
mod steer;
mod steps;
mod storage;
mod timers;
mod tui;
mod tui_runs;
