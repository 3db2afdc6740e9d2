//! The shared suite's mail watches: one run per message however many ticks fetch
//! it (see `super`).

use serde_json::json;

use super::*;
use crate::journal::store::{MailStore, RunUpkeep};

fn watch(name: &str, folder: &str) -> MailWatchSpec {
    MailWatchSpec {
        name: name.into(),
        path: "/w/m.toml".into(),
        dir: "/w".into(),
        source_hash: "hm".into(),
        account: "work".into(),
        folder: folder.into(),
        search: "UNSEEN".into(),
        after: "seen".into(),
        move_to: None,
        max_per_tick: 10,
        inputs: json!({"k": "v"}),
    }
}

fn message(uidvalidity: u32, uid: u32, key: &str) -> IncomingMail {
    IncomingMail {
        place: MailPlace {
            account: "work".into(),
            folder: "INBOX".into(),
            uidvalidity,
            uid,
        },
        message_id: Some(format!("<{key}>")),
        key: key.into(),
        outcome: MailOutcome::Start(NewFireRun {
            source: "name = \"m\"".into(),
            created: created(&format!("mail-{uidvalidity}-{uid}"), &["a"]),
        }),
        done: false,
    }
}

fn mail_watches_are_registered_paused_and_removed(b: &impl Backend<J: MailStore>) {
    let mut j = b.open();
    assert!(!j.has_mail_watch("m").unwrap());
    assert!(
        !j.put_mail_watch(watch("m", "INBOX"), "name = \"m\"")
            .unwrap()
    );
    assert!(j.has_mail_watch("m").unwrap());
    let w = j.mail_watch("m").unwrap();
    assert_eq!(w.spec, watch("m", "INBOX"));
    assert!(!w.paused && w.uidvalidity.is_none());
    // Its folder's UIDVALIDITY: journaled when new or changed only.
    assert_eq!(
        j.mail_validity("m", "work", "INBOX", 7).unwrap(),
        Some(None)
    );
    assert_eq!(j.mail_validity("m", "work", "INBOX", 7).unwrap(), None);
    assert_eq!(j.mail_watch("m").unwrap().uidvalidity, Some(7));
    // Replaced on the same folder: its UIDVALIDITY is kept; on another, forgotten.
    let mut newer = watch("m", "INBOX");
    newer.search = "ALL".into();
    newer.source_hash = "hm2".into();
    assert!(j.put_mail_watch(newer, "name = \"m2\"").unwrap());
    let (w, source) = j.mail_watch_source("m").unwrap();
    assert_eq!((w.spec.search.as_str(), w.uidvalidity), ("ALL", Some(7)));
    assert_eq!(source, "name = \"m2\"");
    j.put_mail_watch(watch("m", "Archive"), "name = \"m\"")
        .unwrap();
    assert_eq!(j.mail_watch("m").unwrap().uidvalidity, None);
    assert!(j.set_mail_watch_paused("m", true).unwrap());
    assert!(!j.set_mail_watch_paused("m", true).unwrap());
    assert!(j.mail_watch("m").unwrap().paused);
    j.put_mail_watch(watch("a", "INBOX"), "name = \"a\"")
        .unwrap();
    let names: Vec<String> = j
        .mail_watches()
        .unwrap()
        .into_iter()
        .map(|w| w.spec.name)
        .collect();
    assert_eq!(names, ["a", "m"]);
    j.remove_mail_watch("m").unwrap();
    assert_eq!(
        j.mail_watch("m").unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
    assert_eq!(
        j.remove_mail_watch("m").unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
    // One name, one schedule: a cron schedule's name is taken.
    let cron = ScheduleSpec {
        name: "c".into(),
        path: "/w/c.toml".into(),
        dir: "/w".into(),
        source_hash: "hc".into(),
        cron: "0 * * * *".into(),
        timezone: "UTC".into(),
        overlap: "skip".into(),
        catch_up: "latest".into(),
        catch_up_window: 0,
        inputs: json!({}),
    };
    j.add_schedule(cron, "name = \"c\"", |_| None).unwrap();
    assert!(j.has_cron_schedule("c").unwrap());
    assert!(!j.has_cron_schedule("a").unwrap());
    let e = j
        .put_mail_watch(watch("c", "INBOX"), "name = \"c\"")
        .unwrap_err();
    assert!(
        e.message.contains("one name holds one schedule"),
        "{}",
        e.message
    );
    assert!(!j.has_mail_watch("c").unwrap());
}

fn a_message_starts_one_run_however_many_ticks_fetch_it<B: Backend + Sync>(b: &B)
where
    B::J: MailStore + RunUpkeep,
{
    let mut j = b.open();
    j.put_mail_watch(watch("m", "INBOX"), "name = \"m\"")
        .unwrap();
    let barrier = std::sync::Barrier::new(4);
    let outcomes: Vec<MailRecorded> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (mut j, barrier) = (b.open(), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    j.record_mail("m", message(7, 10, "k10")).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            MailRecorded::Started { run } => Some(*run),
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == MailRecorded::Already)
            .count(),
        3
    );
    let run = runs[0];
    assert_eq!(j.run(run).unwrap().uid, "mail-7-10");
    assert_eq!(
        j.record_mail("m", message(7, 11, "k11")).unwrap(),
        MailRecorded::Started { run: run + 1 }
    );
    // A message that cannot be read: a notice, once, and nothing to flag.
    let mut bad = message(7, 12, "k12");
    bad.outcome = MailOutcome::Notice {
        summary: "unreadable".into(),
        data: json!({"uid": 12}),
    };
    let notice = match j.record_mail("m", bad).unwrap() {
        MailRecorded::Malformed { notice: Some(n) } => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(j.notice(notice).unwrap().unwrap().kind, "mail_malformed");
    assert_eq!(
        j.mail_decided("m", "work", "INBOX", 7, &[9, 10, 12, 13])
            .unwrap(),
        [10, 11, 12].into_iter().collect()
    );
    assert!(
        j.mail_decided("m", "work", "INBOX", 8, &[10])
            .unwrap()
            .is_empty()
    );
    assert_eq!(j.mail_unflagged("m", "work", "INBOX", 7).unwrap(), [10, 11]);
    j.mail_flagged("m", "work", "INBOX", 7, vec![11, 10], "seen")
        .unwrap();
    // Flagged again (another tick): nothing more is written.
    j.mail_flagged("m", "work", "INBOX", 7, vec![10], "seen")
        .unwrap();
    assert!(
        j.mail_unflagged("m", "work", "INBOX", 7)
            .unwrap()
            .is_empty()
    );
    // The folder's UIDVALIDITY changed: a message taken before (by its key) starts
    // no second run.
    assert_eq!(
        j.record_mail("m", message(8, 1, "k10")).unwrap(),
        MailRecorded::Duplicate { run: Some(run) }
    );
    let msgs = j.mail_messages("m", 10).unwrap();
    let seen: Vec<(u32, u32, MailStatus, Option<i64>)> = msgs
        .iter()
        .map(|m| (m.place.uidvalidity, m.place.uid, m.status, m.run_id))
        .collect();
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&(8, 1, MailStatus::Duplicate, Some(run))));
    assert!(seen.contains(&(7, 12, MailStatus::Malformed, None)));
    let first = msgs.iter().find(|m| m.place.uid == 10).unwrap();
    assert_eq!(first.run_status, Some(RunStatus::Running));
    assert!(first.flagged_at.is_some());
    assert_eq!(first.message_id.as_deref(), Some("<k10>"));
    assert_eq!(j.mail_messages("m", 1).unwrap().len(), 1);
    // The run a message started replays (its message row points at it), and
    // still points at it after.
    let report = j.replay(run).unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert_eq!(
        j.mail_messages("m", 10)
            .unwrap()
            .iter()
            .filter(|m| m.run_id == Some(run))
            .count(),
        2
    );
    // Paused (or removed), a watch records nothing.
    j.set_mail_watch_paused("m", true).unwrap();
    assert_eq!(
        j.record_mail("m", message(8, 2, "k20")).unwrap(),
        MailRecorded::Gone
    );
    assert_eq!(j.mail_messages("m", 10).unwrap().len(), 4);
}

fn a_failing_poll_is_journaled_once_per_streak(b: &impl Backend<J: MailStore>) {
    let mut j = b.open_at(Clock::Fixed(
        jiff::Timestamp::from_millisecond(5_000).unwrap(),
    ));
    assert_eq!(j.mail_poll_failed("nope", "x").unwrap(), (5_000, false));
    j.put_mail_watch(watch("m", "INBOX"), "name = \"m\"")
        .unwrap();
    assert!(!j.mail_poll_ok("m").unwrap(), "it was not failing");
    assert_eq!(j.mail_poll_failed("m", "refused").unwrap(), (5_000, true));
    let mut later = b.open_at(Clock::Fixed(
        jiff::Timestamp::from_millisecond(9_000).unwrap(),
    ));
    assert_eq!(
        later.mail_poll_failed("m", "refused").unwrap(),
        (5_000, false)
    );
    // Another error: journaled, the streak's start kept.
    assert_eq!(
        later.mail_poll_failed("m", "timeout").unwrap(),
        (5_000, false)
    );
    let w = later.mail_watch("m").unwrap();
    assert_eq!(
        (w.failing_since, w.last_error.as_deref()),
        (Some(5_000), Some("timeout"))
    );
    assert!(later.mail_poll_ok("m").unwrap());
    assert!(!later.mail_poll_ok("m").unwrap());
    let w = later.mail_watch("m").unwrap();
    assert_eq!((w.failing_since, w.last_error), (None, None));
}

shared_suite!(
    mail_watches_are_registered_paused_and_removed,
    a_message_starts_one_run_however_many_ticks_fetch_it,
    a_failing_poll_is_journaled_once_per_streak,
);
