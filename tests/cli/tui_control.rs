//! The control room through a pseudo-terminal: a failed run's failure item abandoned
//! from the runs view, and an open circuit breaker shown on the Overview tab (and
//! marked in the hint bar) and closed there with `x`, as `aios breakers close` does.

use crate::support::Test;
use crate::support::http::{Response, Server};
use crate::tui::{Pty, restored, write_wf};

#[test]
fn runs_view_abandons_a_failed_run_at_its_failure_item() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "again"));
    t.aios(&["run", "a.toml"]).success();
    t.aios(&["reject", "1", "--reason", "not yet"]).code(1);
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#2 failure · note");
    tui.keys("\t");
    tui.wait_for("x abandon");
    tui.keys("x");
    tui.wait_for("abandon #2");
    tui.keys("vendor gone\r");
    tui.wait_for("inbox 2 rejected");
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(restored(&raw));
    // The same as `aios reject 2 --reason …`: the item rejected, the run stays failed
    // and cannot be resumed.
    assert_eq!(t.show(1)["status"], "failed");
    assert!(t.inbox().is_empty());
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("vendor gone");
    t.aios(&["resume", "1"])
        .code(4)
        .stderr_contains("was abandoned at its failure item 2");
}

#[test]
fn the_overview_shows_an_open_breaker_and_x_closes_it() {
    let server = Server::start();
    server.respond("/x", Response::text(502, "bad gateway"));
    let wf = format!(
        "name = \"a\"\n[[steps]]\nid = \"call\"\nkind = \"http\"\napprove = \"never\"\nmethod = \"POST\"\nurl = \"{}\"\nretry = {{ attempts = 3, backoff = \"10ms\" }}\n",
        server.url("/x")
    );
    let t = Test::new()
        .write(
            "config.toml",
            "[breakers]\nfailures = 1\ncooldown = \"1h\"\n",
        )
        .write("a.toml", &wf);
    t.aios(&["run", "a.toml"]).success();
    let host = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let name = format!("http:{host}");
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    // Marked in the hint bar on every screen.
    tui.wait_for("✗ 1 breaker open");
    tui.keys("\t\t");
    tui.wait_for("circuit breakers · 1 open");
    tui.wait_for(&format!(
        "› {name}  open  1 failure  probe at 10:30:00Z (cooldown 1h)"
    ));
    tui.keys("x");
    tui.wait_for(&format!(
        "circuit breaker {name} closed: the steps it held go"
    ));
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(restored(&raw));
    let list = t.aios(&["breakers", "--json"]).success().json();
    assert_eq!(list[0]["target"], name.as_str());
    assert_eq!(list[0]["state"], "closed");
    server.respond("/x", Response::text(200, "ok"));
    t.aios(&["tick"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
}
