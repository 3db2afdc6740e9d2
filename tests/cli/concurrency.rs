//! Independent steps run at once, up to `max_parallel`. Synchronized on the loopback
//! server's hold channel: no sleeps.

use std::time::Duration;

use crate::support::Test;
use crate::support::http::Server;

fn two_independent_posts(server: &Server, max_parallel: Option<u32>) -> String {
    let mp = max_parallel
        .map(|n| format!("max_parallel = {n}\n"))
        .unwrap_or_default();
    format!(
        r#"
name = "par"
{mp}
[[steps]]
id = "one"
kind = "http"
approve = "never"
method = "POST"
url = "{}"

[[steps]]
id = "two"
kind = "http"
approve = "never"
needs = []
method = "POST"
url = "{}"
"#,
        server.url("/one"),
        server.url("/two")
    )
}

#[test]
fn independent_steps_run_concurrently_by_default() {
    let server = Server::start();
    let one = server.hold("/one");
    let two = server.hold("/two");
    let t = Test::new().write("par.toml", &two_independent_posts(&server, None));
    let bg = t.args(&["run", "par.toml"]).spawn();
    // Both requests arrive while neither has been answered.
    one.arrived();
    two.arrived();
    one.release();
    two.release();
    bg.wait().success().stdout_contains("run 1 (par) succeeded");
}

#[test]
fn max_parallel_1_runs_one_step_at_a_time() {
    let server = Server::start();
    let one = server.hold("/one");
    let two = server.hold("/two");
    let t = Test::new().write("par.toml", &two_independent_posts(&server, Some(1)));
    let bg = t.args(&["run", "par.toml"]).spawn();
    one.arrived();
    assert!(
        two.arrival(Duration::from_millis(700)).is_none(),
        "`two` started while `one` was still running"
    );
    assert_eq!(server.count("/two"), 0);
    one.release();
    two.arrived();
    two.release();
    bg.wait().success().stdout_contains("run 1 (par) succeeded");
}
