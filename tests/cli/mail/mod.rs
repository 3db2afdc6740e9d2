//! Email in: `[trigger] imap` against a real dovecot started by the test (messages
//! appended over IMAP by the test itself): what a run receives, exactly once per
//! message (concurrent ticks, kill -9 at each step, UIDVALIDITY), bad input and
//! failing servers, and the support workflow end to end.

mod faults;
mod once;
mod receive;
mod support_flow;

use serde_json::Value as Json;

use crate::support::Test;
use crate::support::dovecot::{Dovecot, PASSWORD, USER};

/// The secret the config names for the password.
pub const SECRET: &str = "IMAP_PASSWORD";

/// `[imap]` for a server on `port` (plain text: loopback), plus `extra` lines.
pub fn config(port: u16, extra: &str) -> String {
    format!(
        "[imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nuser = \"{USER}\"\npassword = 'secret(\"{SECRET}\")'\ntimeout = \"10s\"\n{extra}"
    )
}

/// A workflow started per message of `folder`, whose one step keeps what it got.
pub fn watcher(imap: &str) -> String {
    format!(
        r#"
name = "inbox"

[inputs.message]
type = "object"

[trigger]
imap = {{ {imap} }}

[[steps]]
id = "got"
kind = "set"
values = {{ uid = "{{{{ inputs.message.imap.uid }}}}", from = "{{{{ inputs.message.from.address }}}}", subject = "{{{{ inputs.message.subject }}}}" }}
"#
    )
}

/// A test home with the config, the password stored, and `workflow` registered.
pub fn setup_with(port: u16, workflow: &str) -> Test {
    let t = Test::new()
        .write("config.toml", &config(port, ""))
        .write("inbox.toml", workflow);
    t.args(&["secret", "set", SECRET])
        .stdin(PASSWORD)
        .run()
        .success();
    t.aios(&["schedule", "add", "inbox.toml"])
        .success()
        .stdout_contains("schedule inbox added (imap default/");
    t
}

pub fn setup(server: &Dovecot) -> Test {
    setup_with(server.port, &watcher("folder = \"INBOX\""))
}

/// A simple message.
pub fn message(n: u32, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}@example.com>\r\nTo: support@example.com\r\nSubject: {subject}\r\nDate: Sat, 21 Nov 2026 08:0{}:00 +0000\r\nMessage-ID: <m{n}@example.com>\r\n\r\nMessage number {n}.\r\n",
        n % 10
    )
    .into_bytes()
}

/// Every run as (run id, the UID its message had, status).
pub fn runs(t: &Test) -> Vec<(i64, u64, String)> {
    let list = t.aios(&["runs", "--json"]).success().json();
    let mut out: Vec<(i64, u64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_i64().unwrap();
            let show = t.show(id);
            let uid = show["inputs"]["message"]["imap"]["uid"].as_u64().unwrap();
            (id, uid, show["status"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

/// The inputs.message of run `id`.
pub fn message_of(t: &Test, id: i64) -> Json {
    t.show(id)["inputs"]["message"].clone()
}

/// `aios tick --json`, which must succeed.
pub fn tick(t: &Test) -> Json {
    t.aios(&["tick", "--json"]).success().json()
}
