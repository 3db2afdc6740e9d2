//! `aios stats [--json]`: the last 30 days of the journal's clock, from one library
//! function (the TUI's Overview tab draws the same).

use serde_json::json;

use crate::support::Test;
use crate::tui::write_wf;

#[test]
fn stats_json_has_30_days_decisions_failures_and_outcomes() {
    let t = Test::new()
        .write("a.toml", &write_wf("alpha", "a.txt", "x"))
        .write("b.toml", &write_wf("beta", "b.txt", "y"));
    // Two days ago: proposed at 10:00, approved at 12:00.
    t.args(&["run", "a.toml"])
        .env("AIOS_NOW", "2026-11-19T10:00:00Z")
        .run()
        .success();
    t.args(&["approve", "1"])
        .env("AIOS_NOW", "2026-11-19T12:00:00Z")
        .run()
        .success();
    // Today: rejected at once, the run fails.
    t.aios(&["run", "b.toml"]).success();
    t.aios(&["reject", "2", "--reason", "no"]).code(1);
    t.aios(&["outcome", "1", "open_rate=0.41"]).success();
    let st = t.aios(&["stats", "--json"]).success().json();
    let days = st["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[0]["date"], "2026-10-23");
    assert_eq!(
        days[29],
        json!({"date": "2026-11-21", "spent_usd": 0.0, "decided": 1})
    );
    assert_eq!(days[27]["decided"], 1);
    assert_eq!(days[27]["date"], "2026-11-19");
    assert_eq!(st["decided"], 2);
    // Waits of 2h and 0s: the median is 1h.
    assert_eq!(st["median_decide_ms"], 3_600_000);
    assert_eq!(st["failures"], json!([{"workflow": "beta", "failed": 1}]));
    assert_eq!(
        st["outcomes"],
        json!([{"workflow": "alpha", "key": "open_rate",
                "points": [{"run": 1, "date": "2026-11-21", "value": 0.41}]}])
    );
    assert_eq!(st["daily_cap_usd"], json!(null));
    assert_eq!(st["monthly_cap_usd"], json!(null));
    assert_eq!(st["spent_month_usd"], 0.0);
    let text = t.aios(&["stats"]).success().stdout;
    assert!(
        text.contains("last 30 days (2026-10-23 to 2026-11-21)"),
        "{text}"
    );
    assert!(
        text.contains("decided     2 items, median time to decide 1h"),
        "{text}"
    );
    assert!(text.contains("failures    beta 1"), "{text}");
    assert!(
        text.contains("alpha open_rate: █ over 1 run (last 0.41)"),
        "{text}"
    );
}

#[test]
fn stats_of_an_empty_journal_and_caps_from_the_config() {
    let t = Test::new().write(
        "config.toml",
        "[budget]\ndaily_usd = 2.0\nmonthly_usd = 20.0\n",
    );
    let st = t.aios(&["stats", "--json"]).success().json();
    assert_eq!(st["days"].as_array().unwrap().len(), 30);
    assert_eq!(st["decided"], 0);
    assert_eq!(st["median_decide_ms"], json!(null));
    assert_eq!(st["failures"], json!([]));
    assert_eq!(st["outcomes"], json!([]));
    assert_eq!(st["daily_cap_usd"], 2.0);
    assert_eq!(st["monthly_cap_usd"], 20.0);
    let text = t.aios(&["stats"]).success().stdout;
    assert!(
        text.contains("today $0 of $2.00, this month $0 of $20.00"),
        "{text}"
    );
}
