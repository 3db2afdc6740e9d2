//! What polling a mail watch costs when its folder holds 10,000 messages and none is
//! new, against a real dovecot (installed by `.ci/setup`, started here in a temp
//! folder). A tick runs every minute, forever, so this must stay cheap.
//!
//! 1. `search = "UNSEEN"` (the default), every message seen: one poll of the watch
//!    in process (`aios::mail::poll::poll_all`): connect and log in, select the
//!    folder, search, log out, plus its journal reads;
//! 2. `search = "ALL"`, every one of the 10,000 already taken (10,000 recorded
//!    messages in the journal): the search answers all of them and each is found
//!    decided;
//! 3. `aios tick` of the release binary on (1)'s data folder: the whole process,
//!    start-up included.
//!
//! Prints a markdown table and PASS/FAIL of (1) and (2) against the 50 ms target.
//! `cargo bench --bench imap` (`-- --quick`: 5 runs instead of 31).

mod common;
#[path = "../tests/cli/support/dovecot.rs"]
mod dovecot;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aios::clock::Clock;
use aios::connectors::ExecEnv;
use aios::engine::{NewRun, Quiet, RunEnv};
use aios::journal::{
    IncomingMail, Journal, MailOutcome, MailPlace, MailRecorded, NewFireRun, OpenOptions, Owner,
};
use aios::schedule::TickReport;
use aios::secrets::{Secrets, Store};

const MESSAGES: u32 = 10_000;
const TARGET: Duration = Duration::from_millis(50);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn workflow(search: &str) -> String {
    format!(
        "name = \"inbox\"\n[inputs.message]\ntype = \"object\"\n[trigger]\nimap = {{ search = \"{search}\" }}\n[[steps]]\nid = \"got\"\nkind = \"set\"\nvalues = {{ uid = \"{{{{ inputs.message.imap.uid }}}}\" }}\n"
    )
}

/// A data folder with the config, the password and the watch registered; the
/// journal and the environment a tick polls with.
fn home(port: u16, search: &str) -> (tempfile::TempDir, Journal, RunEnv) {
    let dir = tempfile::Builder::new()
        .prefix("aios-bench-imap-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("config.toml"),
        format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nuser = \"{}\"\npassword = 'secret(\"IMAP_PASSWORD\")'\n",
            dovecot::USER
        ),
    )
    .unwrap();
    let file = d.join("inbox.toml");
    let source = workflow(search);
    std::fs::write(&file, &source).unwrap();
    let store = Store::new(d);
    store
        .set("IMAP_PASSWORD", dovecot::PASSWORD, "bench")
        .unwrap();
    let secrets = Secrets::new(store);
    let cfg = aios::config::ConfigFile::load(&d.join("config.toml")).unwrap();
    let settings = aios::mail::config::from_config(&cfg, d, d).unwrap();
    let mut journal = Journal::open(&d.join("aios.db"), Clock::System, OpenOptions::default())
        .expect("open the journal");
    let wf = aios::workflow::load(&source, "inbox.toml").expect("the workflow loads");
    aios::mail::add(&mut journal, &file, &source, &wf, &settings, &secrets).unwrap();
    let mut env = RunEnv::new(Owner::new(std::process::id(), "bench"), ExecEnv::default());
    env.secrets = secrets;
    env.mail = Arc::new(settings);
    (dir, journal, env)
}

/// One poll of every watch; fails the bench on any error or any run started.
fn poll(journal: &mut Journal, env: &RunEnv) -> Duration {
    let mut report = TickReport::default();
    let mut driven = Vec::new();
    let start = Instant::now();
    aios::mail::poll::poll_all(journal, env, &mut Quiet, &mut report, &mut driven);
    let took = start.elapsed();
    assert!(
        report.items.is_empty() && driven.is_empty(),
        "a poll with nothing new did something: {:?}",
        report.items
    );
    took
}

/// Record every message as taken (a run each), as 10,000 earlier polls would have.
fn record_all(journal: &mut Journal, dir: &Path, validity: u32) {
    let source = std::fs::read_to_string(dir.join("inbox.toml")).unwrap();
    let wf = aios::workflow::load(&source, "inbox.toml").unwrap();
    for uid in 1..=MESSAGES {
        let created = aios::engine::created_event(NewRun {
            workflow: &wf,
            source: &source,
            path: Some("inbox.toml"),
            dir,
            inputs: serde_json::json!({ "message": { "imap": { "uid": uid } } }),
            uid: None,
            dry: None,
        });
        let got = journal
            .record_mail(
                "inbox",
                IncomingMail {
                    place: MailPlace {
                        account: "default".into(),
                        folder: "INBOX".into(),
                        uidvalidity: validity,
                        uid,
                    },
                    message_id: Some(format!("m{uid}@example.com")),
                    key: format!("id:m{uid}@example.com"),
                    outcome: MailOutcome::Start(NewFireRun {
                        source: source.clone(),
                        created,
                    }),
                    done: true,
                },
            )
            .unwrap();
        assert!(matches!(got, MailRecorded::Started { .. }));
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 31 };
    let server = dovecot::Dovecot::start();
    eprintln!("appending {MESSAGES} messages…");
    let fill = Instant::now();
    let mut c = server.client();
    let batch: Vec<Vec<u8>> = (0..500u32)
        .map(|i| {
            format!(
                "From: c{i}@example.com\r\nTo: support@example.com\r\nSubject: message {i}\r\nMessage-ID: <m{i}@example.com>\r\n\r\nbody {i}\r\n"
            )
            .into_bytes()
        })
        .collect();
    for _ in 0..MESSAGES / 500 {
        c.append_many("INBOX", "(\\Seen)", &batch);
    }
    let validity = c.uidvalidity("INBOX");
    assert_eq!(c.search("ALL").len(), MESSAGES as usize);
    eprintln!("appended in {:.1} s", fill.elapsed().as_secs_f64());

    // (1) UNSEEN, nothing unseen.
    let (home1, mut j1, env1) = home(server.port, "UNSEEN");
    for _ in 0..3 {
        poll(&mut j1, &env1);
    }
    let unseen: Vec<Duration> = (0..runs).map(|_| poll(&mut j1, &env1)).collect();

    // (2) ALL, every message taken.
    let (home2, mut j2, env2) = home(server.port, "ALL");
    eprintln!("recording {MESSAGES} taken messages…");
    record_all(&mut j2, home2.path(), validity);
    for _ in 0..3 {
        poll(&mut j2, &env2);
    }
    let all: Vec<Duration> = (0..runs).map(|_| poll(&mut j2, &env2)).collect();

    // (3) The whole `aios tick` process on (1)'s data folder.
    let tick: Option<Vec<Duration>> = common::aios_binary().ok().map(|bin| {
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(&bin)
                    .arg("tick")
                    .env_clear()
                    .env("AIOS_HOME", home1.path())
                    .output()
                    .expect("run aios tick");
                let took = start.elapsed();
                assert!(
                    out.status.success() && out.stdout.is_empty(),
                    "aios tick: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                took
            })
            .collect()
    });

    println!("IMAP poll of a folder with {MESSAGES} messages, nothing new ({runs} runs)\n");
    println!("| what | median | p95 | target |");
    println!("|---|---|---|---|");
    let mut ok = true;
    for (what, v) in [
        ("poll, search UNSEEN (all seen), in process", &unseen),
        ("poll, search ALL (all 10,000 taken), in process", &all),
    ] {
        let m = median(v.clone());
        ok &= m < TARGET;
        println!(
            "| {what} | {} | {} | < {} |",
            ms(m),
            ms(p95(v.clone())),
            ms(TARGET)
        );
    }
    match &tick {
        Some(v) => println!(
            "| `aios tick` (process start included), search UNSEEN | {} | {} | - |",
            ms(median(v.clone())),
            ms(p95(v.clone()))
        ),
        None => println!("| `aios tick` | not run: no aios binary | | |"),
    }
    println!("\n{}", if ok { "PASS" } else { "FAIL" });
    drop((j1, j2, home1, home2));
    if !ok {
        std::process::exit(1);
    }
}
