//! Exactly once per message: ten ticks at once, `kill -9` between fetching and
//! recording and between recording and flagging, and a folder whose UIDVALIDITY
//! changes.

use super::{message, runs, setup, setup_with, tick, watcher};
use crate::support::dovecot::{Dovecot, Proxy};
use crate::support::wait_until;

/// Later than the pinned clock by more than a crashed run's lease: a tick then
/// continues a run its crashed creator never drove.
const LATER: &str = "2026-11-21T09:35:00Z";

#[test]
fn ten_ticks_at_once_start_one_run_per_message() {
    let server = Dovecot::start();
    let t = setup(&server);
    let uids: Vec<u32> = (1..=5)
        .map(|n| server.append("INBOX", &message(n, "hi")))
        .collect();
    let ticks: Vec<_> = (0..10).map(|_| t.args(&["tick"]).spawn()).collect();
    for b in ticks {
        b.wait().success();
    }
    let r = runs(&t);
    let mut got: Vec<u64> = r.iter().map(|x| x.1).collect();
    got.sort_unstable();
    assert_eq!(
        got,
        uids.iter().map(|u| *u as u64).collect::<Vec<_>>(),
        "{r:?}"
    );
    assert!(r.iter().all(|x| x.2 == "succeeded"), "{r:?}");
    for u in uids {
        assert_eq!(server.flags("INBOX", u), ["\\Seen"]);
    }
    // Each message's record is in the listing once.
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    assert_eq!(list[0]["recent_messages"].as_array().unwrap().len(), 5);
}

#[test]
fn killed_between_fetch_and_record_the_message_is_taken_once_later() {
    let server = Dovecot::start();
    let t = setup(&server);
    // A first poll of the empty folder notes its UIDVALIDITY: the next one only
    // writes to record a message.
    t.aios(&["tick"]).success();
    let uid = server.append("INBOX", &message(1, "fetched then killed"));
    let validity = server.client().uidvalidity("INBOX");
    // Hold the database's write lock (on PostgreSQL, a lock on the messages' table
    // that lets reads through): the tick fetches and saves the message, then waits to
    // record it. It is killed there.
    enum Lock {
        Sqlite(rusqlite::Connection),
        Postgres(postgres::Client),
    }
    let mut lock = if crate::support::on_postgres() {
        let mut c = t.pg();
        c.batch_execute("BEGIN; LOCK TABLE mail_messages IN EXCLUSIVE MODE")
            .unwrap();
        Lock::Postgres(c)
    } else {
        let c = rusqlite::Connection::open(t.db()).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        Lock::Sqlite(c)
    };
    let bg = t.args(&["tick"]).env("AIOS_LOCK_TIMEOUT", "60s").spawn();
    let saved = t.join(&format!(
        "mail/inbox/default/INBOX/{validity}/{uid}/message.eml"
    ));
    wait_until("the message fetched and saved", || saved.exists());
    bg.kill9();
    match &mut lock {
        Lock::Sqlite(c) => c.execute_batch("ROLLBACK").unwrap(),
        Lock::Postgres(c) => c.batch_execute("ROLLBACK").unwrap(),
    }
    drop(lock);
    // Nothing was recorded, and the message is still unread on the server.
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    assert!(server.flags("INBOX", uid).is_empty());
    // The next tick takes it, once. On PostgreSQL its run may be run 2: when the
    // killed tick's transaction took id 1 from the sequence, that id is never given
    // again (README, Backends: ids leave gaps).
    tick(&t);
    tick(&t);
    let r = runs(&t);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].1, r[0].2.as_str()),
        (uid as u64, "succeeded"),
        "{r:?}"
    );
    if !crate::support::on_postgres() {
        assert_eq!(r[0].0, 1, "{r:?}");
    }
    assert_eq!(server.flags("INBOX", uid), ["\\Seen"]);
}

#[test]
fn killed_between_record_and_flag_the_message_is_flagged_later_and_not_run_twice() {
    let server = Dovecot::start();
    let proxy = Proxy::start(server.port);
    let t = setup_with(proxy.port, &watcher("folder = \"INBOX\""));
    let u1 = server.append("INBOX", &message(1, "recorded then killed"));
    let u2 = server.append("INBOX", &message(2, "not fetched yet"));
    // The flag command never reaches the server: aios waits for its answer and is
    // killed there, its first message recorded.
    proxy.hold_at(Some("UID STORE"));
    let bg = t.args(&["tick"]).spawn();
    wait_until("the flag command sent", || proxy.held());
    bg.kill9();
    assert_eq!(runs(&t), vec![(1, u1 as u64, "running".to_string())]);
    assert!(server.flags("INBOX", u1).is_empty());
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    assert_eq!(
        list[0]["last_message"]["flagged_at"],
        serde_json::Value::Null
    );
    // The next tick flags it first, takes the second message, and continues the
    // run the killed tick never drove: one run per message.
    proxy.hold_at(None);
    t.args(&["tick"]).env("AIOS_NOW", LATER).run().success();
    assert_eq!(
        runs(&t),
        vec![
            (1, u1 as u64, "succeeded".to_string()),
            (2, u2 as u64, "succeeded".to_string())
        ]
    );
    assert_eq!(server.flags("INBOX", u1), ["\\Seen"]);
    assert_eq!(server.flags("INBOX", u2), ["\\Seen"]);
    t.args(&["tick"])
        .env("AIOS_NOW", LATER)
        .run()
        .success()
        .stdout_is("");
}

#[test]
fn a_new_uidvalidity_does_not_start_the_same_messages_again() {
    let server = Dovecot::start();
    server.create_folder("Support");
    let t = setup_with(server.port, &watcher("folder = \"Support\""));
    server.append("Support", &message(1, "first"));
    server.append("Support", &message(2, "second"));
    tick(&t);
    assert_eq!(runs(&t).len(), 2);
    let before = server.client().uidvalidity("Support");
    let mut c = server.client();
    // The folder is rebuilt (as a server restored from a backup does): same
    // messages, new UIDs under a new UIDVALIDITY, plus one new message.
    c.ok("RENAME \"Support\" \"Old\"");
    c.ok("CREATE \"Support\"");
    c.append("Support", &message(1, "first"));
    c.append("Support", &message(2, "second"));
    let new = c.append("Support", &message(3, "new"));
    let after = server.client().uidvalidity("Support");
    assert_ne!(before, after);
    let out = t.aios(&["tick"]).success();
    assert!(
        out.stdout.contains(&format!(
            "folder Support of imap account `default` changed its UIDVALIDITY ({before} to {after})"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("mail inbox (Support uid 1): already taken by run 1 before the folder's UIDVALIDITY changed; no new run"),
        "{}",
        out.stdout
    );
    let r = runs(&t);
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[2].1, new as u64);
    for uid in server.uids("Support") {
        assert_eq!(server.flags("Support", uid), ["\\Seen"]);
    }
    let notices: Vec<_> = t
        .inbox()
        .into_iter()
        .filter(|i| i["kind"] == "notice")
        .collect();
    assert_eq!(notices.len(), 1);
    tick(&t);
    assert_eq!(runs(&t).len(), 3);
}
