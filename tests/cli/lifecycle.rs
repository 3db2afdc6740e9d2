//! How a run ends and what it leaves: its whole duration when it waited for
//! decisions, its pending items withdrawn when it fails or is cancelled, and a run
//! stopped by a storage error that names itself for `aios resume`.

use crate::support::{Test, step};

/// Two proposed file writes that need nothing from each other.
const PARALLEL: &str = r#"
name = "two"

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "first"

[[steps]]
id = "s"
kind = "file"
needs = []
path = "s.txt"
content = "second"
"#;

#[test]
fn a_run_that_waited_reports_its_whole_duration_and_its_active_time() {
    let t = Test::new().write("two.toml", PARALLEL);
    t.args(&["run", "two.toml"])
        .env("AIOS_NOW", "2026-11-21T09:30:00Z")
        .run()
        .success();
    t.args(&["approve", &t.item("w").to_string()])
        .env("AIOS_NOW", "2026-11-21T10:00:00Z")
        .run()
        .success()
        .stdout_contains("run 1 (two) is waiting for you:");
    t.args(&["approve", &t.item("s").to_string()])
        .env("AIOS_NOW", "2026-11-21T12:00:00Z")
        .run()
        .success()
        .stdout_is("run 1 (two) succeeded in 2h30m (0ms active, the rest waiting): 2 steps\n");
    assert_eq!(step(&t.show(1), "s")["status"], "succeeded");
}
