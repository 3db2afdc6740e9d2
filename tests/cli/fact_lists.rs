//! `aios fact list`, `aios fact unset` (a journaled tombstone version that replay
//! rebuilds) and `aios memory list [--tag]`.

use serde_json::json;

use crate::support::{NOW, Test, hostname};

#[test]
fn unset_is_a_tombstone_version_that_history_keeps() {
    let t = Test::new().env("AIOS_NOW", NOW).env("USER", "ada");
    let host = hostname();
    t.aios(&["fact", "set", "customer:acme", "plan", "basic"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    t.aios(&[
        "fact",
        "unset",
        "customer:acme",
        "plan",
        "--note",
        "churned",
    ])
    .success()
    .stdout_is("customer:acme plan unset (version 3; its history keeps every version)\n");
    t.aios(&["fact", "get", "customer:acme", "plan"])
        .code(3)
        .stderr_is(&format!(
            "error: customer:acme plan is unset (version 3, unset by ada@{host}, {NOW})\n\
             hint: see its earlier values with: aios fact history customer:acme plan; \
             set it again with: aios fact set customer:acme plan VALUE\n"
        ));
    let current = t
        .aios(&["fact", "get", "customer:acme", "--json"])
        .success()
        .json();
    assert_eq!(current.as_array().unwrap().len(), 1, "{current}");
    assert_eq!(current[0]["key"], "seats");
    t.aios(&["fact", "history", "customer:acme", "plan"])
        .success()
        .stdout_is(&format!(
            "v1   {NOW}  \"basic\"  manual by ada@{host}\n\
             v2   {NOW}  \"pro\"  manual by ada@{host}\n\
             v3   {NOW}  (unset)  unset by ada@{host}: churned\n"
        ));
    let h = t
        .aios(&["fact", "history", "customer:acme", "plan", "--json"])
        .success()
        .json();
    assert_eq!(
        (
            h[2]["version"].clone(),
            h[2]["value"].clone(),
            h[2]["unset"].clone(),
            h[2]["note"].clone()
        ),
        (json!(3), json!(null), json!(true), json!("churned"))
    );
    assert_eq!(h[1]["unset"], json!(false));
    // Unsetting twice, or a fact that never was, is refused without writing.
    t.aios(&["fact", "unset", "customer:acme", "plan"])
        .code(4)
        .stderr_is(
            "error: customer:acme plan is already unset (version 3)\n\
             hint: see its versions with: aios fact history customer:acme plan\n",
        );
    t.aios(&["fact", "unset", "customer:acme", "seat"])
        .code(3)
        .stderr_is("error: `customer:acme` has no fact `seat`\nhint: did you mean `seats`?\n");
    // The unset is an event (of no run) in the log, and replay rebuilds it.
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok unset facts: 1 event replay to the stored tombstones\n");
    // Set again, the fact continues its history.
    t.aios(&["fact", "set", "customer:acme", "plan", "team"])
        .success()
        .stdout_is("customer:acme plan = \"team\" (version 4)\n");
    t.aios(&["fact", "get", "customer:acme", "plan"])
        .success()
        .stdout_is("team\n");
}

#[test]
fn replay_reports_a_tombstone_its_event_does_not_rebuild() {
    let t = Test::new();
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "unset", "customer:acme", "plan"])
        .success();
    // `WHERE unset`: an integer on SQLite, a boolean on PostgreSQL.
    t.sql("DELETE FROM fact_versions WHERE unset");
    t.aios(&["replay"]).code(1).stdout_contains(
        "mismatch unset facts: the stored tombstones differ from their events:\n  \
         fact tombstone customer:acme plan version 2 by ",
    );
    // With the tombstone gone, the fact reads as set again: replay is what shows it.
    t.aios(&["fact", "get", "customer:acme", "plan"])
        .success()
        .stdout_is("pro\n");
}

#[test]
fn an_unset_fact_is_gone_from_templates() {
    let t = Test::new().write(
        "plan.toml",
        r#"
name = "plan"
[[steps]]
id = "say"
kind = "set"
values = { plan = "{{ facts['customer:acme'].plan }}" }
"#,
    );
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    let run = t.aios(&["run", "plan.toml", "--json"]).success().json();
    assert_eq!(run["steps"][0]["output"], json!({"plan": "pro"}));
    t.aios(&["fact", "unset", "customer:acme", "plan"])
        .success();
    let run = t.aios(&["run", "plan.toml", "--json"]).code(1).json();
    assert_eq!(run["steps"][0]["status"], "failed");
}

#[test]
fn fact_list_shows_every_entity_or_one() {
    let t = Test::new().env("AIOS_NOW", NOW).env("USER", "ada");
    t.aios(&["fact", "list"])
        .success()
        .stdout_is("no facts yet; set one with: aios fact set customer:acme plan pro\n");
    assert_eq!(
        t.aios(&["fact", "list", "--json"]).success().json(),
        json!([])
    );
    t.aios(&["fact", "set", "customer:beta", "plan", "basic"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    t.aios(&["fact", "set", "customer:gone", "plan", "x"])
        .success();
    t.aios(&["fact", "unset", "customer:gone", "plan"])
        .success();
    let host = hostname();
    t.aios(&["fact", "list"]).success().stdout_is(&format!(
        "customer:acme\n  plan   \"pro\"  v1 · manual by ada@{host} · {NOW}\n  \
         seats  5  v1 · manual by ada@{host} · {NOW}\n\
         customer:beta\n  plan   \"basic\"  v1 · manual by ada@{host} · {NOW}\n"
    ));
    let all = t.aios(&["fact", "list", "--json"]).success().json();
    let pairs: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["entity"].as_str().unwrap().to_string(),
                f["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("customer:acme".to_string(), "plan".to_string()),
            ("customer:acme".to_string(), "seats".to_string()),
            ("customer:beta".to_string(), "plan".to_string()),
        ]
    );
    let beta = t
        .aios(&["fact", "list", "customer:beta", "--json"])
        .success()
        .json();
    assert_eq!(beta.as_array().unwrap().len(), 1);
    assert_eq!(beta[0]["value"], "basic");
    t.aios(&["fact", "list", "customer:bta"])
        .code(3)
        .stderr_is("error: no facts about `customer:bta`\nhint: did you mean `customer:beta`?\n");
}

#[test]
fn memory_list_shows_notes_and_filters_by_tag() {
    let t = Test::new().env("AIOS_NOW", NOW);
    t.aios(&["memory", "list"])
        .success()
        .stdout_is("no notes yet; add one with: aios memory add \"what to remember\"\n");
    t.aios(&[
        "memory",
        "add",
        "Acme prefers email over calls",
        "--tag",
        "customer:acme",
    ])
    .success();
    t.aios(&["memory", "add", "Launch on a Tuesday", "--tag", "launch"])
        .success();
    t.aios(&[
        "memory",
        "add",
        "Acme renews in March",
        "--tag",
        "customer:acme",
        "--tag",
        "billing",
    ])
    .success();
    t.aios(&["memory", "list"]).success().stdout_is(&format!(
        "    1 note · customer:acme · {NOW}\n       Acme prefers email over calls\n\
         \x20   2 note · launch · {NOW}\n       Launch on a Tuesday\n\
         \x20   3 note · customer:acme, billing · {NOW}\n       Acme renews in March\n"
    ));
    let acme = t
        .aios(&["memory", "list", "--tag", "customer:acme", "--json"])
        .success()
        .json();
    let texts: Vec<&str> = acme
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Acme prefers email over calls", "Acme renews in March"]
    );
    assert_eq!(acme[1]["tags"], json!(["customer:acme", "billing"]));
    assert_eq!(acme[0]["kind"], "note");
    // A tag is matched whole, not as a prefix.
    t.aios(&["memory", "list", "--tag", "customer"])
        .success()
        .stdout_is("no notes tagged `customer`\n");
    t.aios(&["memory", "forget", "1"]).success();
    let left = t
        .aios(&["memory", "list", "--tag", "customer:acme", "--json"])
        .success()
        .json();
    assert_eq!(left.as_array().unwrap().len(), 1);
}

#[test]
fn facts_set_by_hand_are_events_that_replay_rebuilds() {
    let t = Test::new();
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok facts set by hand: 2 events replay to the stored versions\n");
    // A stored version lost behind the journal's back: replay says which.
    t.sql("DELETE FROM fact_versions WHERE entity = 'customer:acme' AND key = 'seats'");
    t.aios(&["replay"]).code(1).stdout_contains(
        "mismatch facts set by hand: the stored versions differ from their events:\n  \
         fact customer:acme seats version 1 = 5 (manual): its event rebuilds a row that is not stored\n",
    );
}
