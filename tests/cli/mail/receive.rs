//! What a run started by a message receives: plain, multipart with attachments,
//! other charsets, a 5 MB message, a malformed one; and what is done to the message
//! afterwards (seen, moved, kept).

use sha2::{Digest, Sha256};

use super::{message, message_of, runs, setup, setup_with, tick, watcher};
use crate::support::dovecot::Dovecot;

#[test]
fn a_plain_message_starts_one_run_then_is_marked_seen() {
    let server = Dovecot::start();
    let t = setup(&server);
    // Nothing there yet: a tick says nothing.
    t.aios(&["tick"]).success().stdout_is("");
    let uid = server.append(
        "INBOX",
        b"From: Ada Lovelace <ada@example.com>\r\nTo: Support <support@example.com>, ops@example.com\r\nCc: Bob <bob@example.com>\r\nReply-To: ada+replies@example.com\r\nSubject: My order is late\r\nDate: Sat, 21 Nov 2026 08:15:00 +0100\r\nMessage-ID: <order-42@example.com>\r\n\r\nHello,\r\nwhere is order 42?\r\n",
    );
    assert!(server.flags("INBOX", uid).is_empty());
    t.aios(&["tick"]).success().stdout_is(&format!(
        "mail inbox (INBOX uid {uid}, \"My order is late\"): run 1 succeeded\n"
    ));
    let m = message_of(&t, 1);
    assert_eq!(m["message_id"], "order-42@example.com");
    assert_eq!(
        m["from"],
        serde_json::json!({"name": "Ada Lovelace", "address": "ada@example.com"})
    );
    assert_eq!(
        m["to"],
        serde_json::json!([{"name": "Support", "address": "support@example.com"}, {"name": "", "address": "ops@example.com"}])
    );
    assert_eq!(
        m["cc"],
        serde_json::json!([{"name": "Bob", "address": "bob@example.com"}])
    );
    assert_eq!(m["reply_to"][0]["address"], "ada+replies@example.com");
    assert_eq!(m["subject"], "My order is late");
    assert_eq!(m["date"], "2026-11-21T08:15:00+01:00");
    assert_eq!(m["text"], "Hello,\r\nwhere is order 42?\r\n");
    assert_eq!(m["html"], serde_json::Value::Null);
    assert_eq!(m["attachments"], serde_json::json!([]));
    assert_eq!(m["imap"]["account"], "default");
    assert_eq!(m["imap"]["folder"], "INBOX");
    assert_eq!(m["imap"]["uid"], uid);
    // The whole message is kept beneath the data directory.
    let raw = std::path::PathBuf::from(m["raw"].as_str().unwrap());
    assert!(
        raw.starts_with(t.join("mail/inbox/default/INBOX")),
        "{}",
        raw.display()
    );
    assert!(
        std::fs::read_to_string(&raw)
            .unwrap()
            .contains("where is order 42?")
    );
    // The step read it.
    let show = t.show(1);
    assert_eq!(
        crate::support::step(&show, "got")["output"]["from"],
        "ada@example.com"
    );
    // Marked seen once the run was recorded.
    assert_eq!(server.flags("INBOX", uid), ["\\Seen"]);
    // Nothing new: no second run.
    t.aios(&["tick"]).success().stdout_is("");
    assert_eq!(runs(&t).len(), 1);
    // The schedule's listing shows the watch and its last message.
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    let s = &list[0];
    assert_eq!(s["trigger"], "imap");
    assert_eq!(s["imap"]["folder"], "INBOX");
    assert_eq!(s["imap"]["search"], "UNSEEN");
    assert_eq!(s["last_message"]["uid"], uid);
    assert_eq!(s["last_message"]["status"], "started");
    assert_eq!(s["last_message"]["run_status"], "succeeded");
    assert!(s["last_message"]["flagged_at"].is_string());
    assert_eq!(s["health"], "ok");
    t.aios(&["schedule", "list"])
        .success()
        .stdout_contains("inbox     imap default/INBOX  every tick")
        .stdout_contains("succeeded (run 1)");
}

#[test]
fn attachments_are_saved_beneath_the_data_directory_with_safe_names() {
    let server = Dovecot::start();
    let t = setup(&server);
    let pdf: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let b64 = base64(&pdf);
    let raw = format!(
        "From: a@example.com\r\nTo: s@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: multipart/alternative; boundary=\"YY\"\r\n\r\n--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the files.\r\n--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See the <b>files</b>.</p>\r\n--YY--\r\n--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--XX\r\nContent-Type: text/x-sh\r\nContent-Disposition: attachment; filename=\"../../../.bashrc\"\r\n\r\necho pwned\r\n--XX--\r\n"
    );
    let uid = server.append("INBOX", raw.as_bytes());
    tick(&t);
    let m = message_of(&t, 1);
    assert_eq!(m["text"].as_str().unwrap().trim(), "See the files.");
    assert_eq!(
        m["html"].as_str().unwrap().trim(),
        "<p>See the <b>files</b>.</p>"
    );
    let a = m["attachments"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    let folder = t.join("mail/inbox/default/INBOX");
    assert_eq!(a[0]["name"], "report.pdf");
    assert_eq!(a[0]["size"], pdf.len());
    assert_eq!(a[0]["content_type"], "application/pdf");
    let p0 = std::path::PathBuf::from(a[0]["path"].as_str().unwrap());
    assert!(p0.starts_with(&folder) && p0.ends_with(format!("{uid}/attachments/report.pdf")));
    assert_eq!(std::fs::read(&p0).unwrap(), pdf);
    // `../../../.bashrc`: its last component, without the leading dot.
    assert_eq!(a[1]["name"], "bashrc");
    let p1 = std::path::PathBuf::from(a[1]["path"].as_str().unwrap());
    assert!(p1.starts_with(&folder), "{}", p1.display());
    assert_eq!(std::fs::read_to_string(&p1).unwrap().trim(), "echo pwned");
    assert!(!t.join(".bashrc").exists());
}

#[test]
fn other_charsets_are_decoded() {
    let server = Dovecot::start();
    let t = setup(&server);
    let mut latin = b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\r\nSubject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    latin.extend_from_slice(b"Un caf\xe9 cr\xe8me, s'il vous pla\xeet.\r\n");
    server.append("INBOX", &latin);
    // Shift_JIS: 日本語のメール (subject, base64 encoded-word) and 日本語 (body).
    let sjis_subject = base64(b"\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x81\x81\x5b\x83\x8b");
    let mut sjis = format!("From: taro@example.jp\r\nSubject: =?Shift_JIS?B?{sjis_subject}?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").into_bytes();
    sjis.extend_from_slice(b"\x93\xfa\x96\x7b\x8c\xea\r\n");
    server.append("INBOX", &sjis);
    tick(&t);
    let a = message_of(&t, 1);
    assert_eq!(a["from"]["name"], "André");
    assert_eq!(a["subject"], "Café crème");
    assert_eq!(a["text"], "Un café crème, s'il vous plaît.\r\n");
    let b = message_of(&t, 2);
    assert_eq!(b["subject"], "日本語のメール");
    assert_eq!(b["text"].as_str().unwrap().trim_end(), "日本語");
}

#[test]
fn a_five_megabyte_message_is_taken_whole() {
    let server = Dovecot::start();
    let t = setup(&server);
    let big: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let raw = format!(
        "From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nA big file.\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
        base64(&big)
    );
    assert!(raw.len() > 5 * 1024 * 1024);
    let uid = server.append("INBOX", raw.as_bytes());
    tick(&t);
    let m = message_of(&t, 1);
    assert_eq!(m["size"], raw.len());
    let a = &m["attachments"][0];
    assert_eq!(a["size"], big.len());
    let saved = std::fs::read(a["path"].as_str().unwrap()).unwrap();
    assert_eq!(Sha256::digest(&saved), Sha256::digest(&big));
    assert_eq!(server.flags("INBOX", uid), ["\\Seen"]);
}

#[test]
fn a_malformed_message_becomes_a_notice_and_the_next_one_still_runs() {
    let server = Dovecot::start();
    let t = setup(&server);
    let bad = server.append(
        "INBOX",
        b"Subject: nobody sent this\r\n\r\nno From header\r\n",
    );
    let junk = server.append("INBOX", b"\x01\x02\x03 not a message at all");
    let good = server.append("INBOX", &message(3, "after the bad ones"));
    let out = t.aios(&["tick"]).success();
    let inbox = t.inbox();
    let notices: Vec<&serde_json::Value> = inbox.iter().filter(|i| i["kind"] == "notice").collect();
    assert_eq!(notices.len(), 2, "{inbox:?}");
    let s0 = notices[0]["summary"].as_str().unwrap();
    assert!(
        s0.starts_with(&format!("a message in INBOX of imap account `default` (uid {bad}) cannot start inbox: it has no sender address")),
        "{s0}"
    );
    let s1 = notices[1]["summary"].as_str().unwrap();
    assert!(
        s1.contains(&format!("(uid {junk}) cannot start inbox: ")),
        "{s1}"
    );
    assert!(out.stdout.contains(s0), "{}", out.stdout);
    // The message after them started its run.
    let r = runs(&t);
    assert_eq!(r, vec![(1, good as u64, "succeeded".to_string())]);
    // Malformed messages are left as they are (unread), and not taken again.
    assert!(server.flags("INBOX", bad).is_empty());
    assert_eq!(server.flags("INBOX", good), ["\\Seen"]);
    t.aios(&["tick"]).success().stdout_is("");
    assert_eq!(t.inbox().len(), 2);
    // The notice names where the message was saved; acknowledging it works.
    let id = notices[0]["id"].as_i64().unwrap();
    let show = t
        .aios(&["inbox", "show", &id.to_string(), "--json"])
        .success()
        .json();
    assert!(show.to_string().contains("message.eml"), "{show}");
    t.aios(&["approve", &id.to_string()]).success();
}

#[test]
fn after_move_moves_and_after_keep_leaves_the_message() {
    let server = Dovecot::start();
    server.create_folder("Done");
    let t = setup_with(
        server.port,
        &watcher("folder = \"INBOX\", after = \"move\", move_to = \"Done\""),
    );
    server.append("INBOX", &message(1, "move me"));
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    assert!(server.uids("INBOX").is_empty());
    assert_eq!(server.uids("Done").len(), 1);

    let server = Dovecot::start();
    let t = setup_with(server.port, &watcher("search = \"ALL\", after = \"keep\""));
    let uid = server.append("INBOX", &message(1, "keep me"));
    tick(&t);
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    assert!(server.flags("INBOX", uid).is_empty());
}

#[test]
fn at_most_max_per_tick_messages_per_tick_oldest_first() {
    let server = Dovecot::start();
    let t = setup_with(server.port, &watcher("max_per_tick = 2"));
    let uids: Vec<u32> = (1..=3)
        .map(|n| server.append("INBOX", &message(n, "m")))
        .collect();
    tick(&t);
    let got: Vec<u64> = runs(&t).iter().map(|r| r.1).collect();
    assert_eq!(got, [uids[0] as u64, uids[1] as u64]);
    tick(&t);
    assert_eq!(runs(&t).len(), 3);
}

#[test]
fn the_daemon_polls_too() {
    let server = Dovecot::start();
    let t = setup(&server);
    server.append("INBOX", &message(1, "for the daemon"));
    t.aios(&["daemon", "--every", "1s", "--ticks", "1"])
        .success()
        .stdout_contains("\"for the daemon\"): run 1 succeeded");
}

/// Standard base64 with line breaks every 76 characters.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 57 * 2 + 4);
    for (i, c) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}
