//! The TUI's runs view through a pseudo-terminal: cancel a run with a reason, retry a
//! failed run, open the item a run waits on; and the RUN column of `aios inbox list`.

use crate::support::Test;
use crate::tui::{Pty, restored, two_waiting, write_wf};

#[test]
fn runs_view_cancels_a_run_with_a_reason() {
    let t = two_waiting();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("\t");
    tui.wait_for("c cancel");
    // The newest run first: run 2 (beta) is selected.
    tui.keys("c");
    tui.wait_for("cancel run 2");
    tui.keys("wrong week\r");
    tui.wait_for("run 2 cancelled");
    tui.wait_for("cancelled");
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(restored(&raw));
    assert_eq!(t.show(2)["status"], "cancelled");
    assert_eq!(t.show(1)["status"], "waiting");
    t.aios(&["log", "2"])
        .success()
        .stdout_contains("run cancelled: wrong week");
    // The cancelled run's item left the inbox; run 1's stays.
    let pending = t.inbox();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["run_id"], 1);
    t.aios(&["replay"]).success();
}

#[test]
fn runs_view_retries_a_failed_run_and_opens_its_item() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "again"));
    t.aios(&["run", "a.toml"]).success();
    t.aios(&["reject", "1", "--reason", "not yet"]).code(1);
    assert_eq!(t.show(1)["status"], "failed");
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    // The failed run's failure item waits in the inbox.
    tui.wait_for("#2 failure · note");
    tui.keys("\t");
    tui.wait_for("r retry");
    tui.keys("r");
    // Retrying the failed step from the runs view decides its failure item (as
    // `aios approve 2` does) and proposes the step's action again.
    tui.wait_for("run 1 waits for you");
    tui.keys("o");
    tui.wait_for("#3 action · note");
    tui.keys("a");
    tui.wait_for("run 1 succeeded");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    assert_eq!(t.read("a.txt"), "again");
    assert_eq!(t.show(1)["status"], "succeeded");
}

#[test]
fn the_timeline_shows_the_run_s_inputs_with_secrets_hidden() {
    let t = Test::new().write(
        "in.toml",
        r#"
name = "inputs"

[inputs.week]
type = "integer"

[inputs.password]
secret = true

[[steps]]
id = "note"
kind = "file"
path = "w.txt"
content = "week {{ inputs.week }}"
"#,
    );
    t.aios(&[
        "run",
        "in.toml",
        "-i",
        "week=47",
        "-i",
        "password=hunter2-long",
    ])
    .success();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("\r");
    tui.wait_for("INPUTS");
    tui.wait_for("week = 47");
    tui.wait_for("password = secret");
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("hunter2"), "the secret reached the screen");
}

#[test]
fn inbox_list_has_a_run_column() {
    let t = two_waiting();
    let out = t.aios(&["inbox", "list"]).success().stdout;
    let header = out.lines().next().unwrap();
    assert!(header.contains("  RUN  "), "{out}");
    let row = out.lines().nth(2).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], &["2", "action", "2"], "{out}");
}

#[test]
fn bulk_approve_asks_with_the_count_and_kinds_first() {
    let t = two_waiting();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("  ");
    tui.wait_for("2 marked");
    tui.keys("a");
    tui.wait_for("approve 2 items?");
    tui.wait_for("Approve 2 items at once: action: 2.");
    // n: nothing decided, still marked.
    tui.keys("n");
    tui.wait_for("a approve  r reject");
    assert_eq!(t.inbox().len(), 2);
    tui.keys("a");
    tui.wait_for("approve 2 items?");
    tui.keys("y");
    tui.wait_for("2 items approved");
    tui.wait_for("Nothing waits for you.");
    // Both runs go on in the background: quit once neither is driven any more.
    tui.keys("\t");
    tui.wait_for("      1 alpha");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while t.show(1)["status"] != "succeeded" || t.show(2)["status"] != "succeeded" {
        assert!(
            std::time::Instant::now() < deadline,
            "the runs did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // (y answers "quit?" when the drive's end is not seen yet; both runs are done.)
    tui.keys("qy");
    assert_eq!(tui.exit().0, Some(0));
    assert_eq!(t.read("a.txt"), "hello from the inbox");
    assert_eq!(t.read("b.txt"), "second");
}

#[test]
fn snoozed_items_are_listed_by_z_and_unsnoozed_by_u() {
    let t = two_waiting();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("s");
    tui.wait_for("snooze #1");
    tui.keys("\r");
    tui.wait_for("2 pending · 1 snoozed");
    tui.keys("z");
    tui.wait_for(" snoozed ");
    tui.wait_for("back in 4h");
    tui.keys("u");
    tui.wait_for("1 item back in the inbox");
    tui.wait_for("Nothing is snoozed.");
    tui.keys("z");
    tui.wait_for("#1 action · note");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("note: inbox item 1 unsnoozed by");
    t.aios(&["replay"]).success();
}

#[test]
fn inbox_unsnooze_shows_a_snoozed_item_again() {
    let t = two_waiting();
    // Not snoozed: refused, with a hint that runs.
    t.aios(&["inbox", "unsnooze", "1"])
        .code(4)
        .stderr_contains("inbox item 1 is not snoozed")
        .stderr_contains("hint: see it with: aios inbox show 1");
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("s\r");
    tui.wait_for("1 item snoozed until");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("snoozed until");
    t.aios(&["inbox", "unsnooze", "1"])
        .success()
        .stdout_contains("inbox item 1 (write a.txt (20 bytes)) is back in the inbox");
    let show = t.aios(&["inbox", "show", "1"]).success().stdout;
    assert!(!show.contains("snoozed until"), "{show}");
    t.aios(&["inbox", "unsnooze", "9"]).code(3);
    t.aios(&["replay"]).success();
}
