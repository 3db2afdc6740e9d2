//! `workflows/outcome-review.toml`, the feedback loop: real launches of
//! `workflows/launch.toml` with outcomes recorded by `aios outcome` and a note, the
//! offline review naming the best and worst launch, adopted at the gate as facts
//! `playbook:launch` and a note, which the next launch's copy prompt reads; a rejected
//! review changes nothing; no outcomes, nothing to review.

use serde_json::{Value as Json, json};

use super::approve_all;
use crate::support::{Test, step};

const WF: &str = "outcome-review.toml";

fn launch(t: &Test, offer: &str) -> i64 {
    let out = t
        .aios(&[
            "run",
            "launch.toml",
            "--json",
            "-q",
            "--input",
            &format!("offer={offer}"),
        ])
        .success()
        .json();
    let id = out["id"].as_i64().unwrap();
    approve_all(t, id);
    assert_eq!(t.show(id)["status"], "succeeded");
    id
}

/// Two launches with their open rates, and a note about one of them.
fn launched() -> (Test, i64, i64) {
    let t = Test::new()
        .copy("workflows/launch.toml", "launch.toml")
        .copy(&format!("workflows/{WF}"), WF);
    let audit = launch(&t, "Audit");
    let hours = launch(&t, "Office hours");
    t.aios(&["outcome", &audit.to_string(), "open_rate=0.12", "replies=1"])
        .success();
    t.aios(&["outcome", &hours.to_string(), "open_rate=0.41"])
        .success();
    t.aios(&[
        "memory",
        "add",
        "The Audit email went out on a Friday",
        "--tag",
        "launch",
    ])
    .success();
    (t, audit, hours)
}

fn review(t: &Test) -> Json {
    t.aios(&["run", WF, "--json", "-q"]).success().json()
}

#[test]
fn outcome_review_adopts_a_lesson_that_the_next_launch_reads() {
    let (t, audit, hours) = launched();
    t.aios(&["check", WF]).success();
    let out = review(&t);
    let id = out["id"].as_i64().unwrap();
    assert_eq!(step(&out, "past")["output"]["count"], 2);
    let stats = &step(&out, "stats")["output"];
    assert_eq!(
        (&stats["count"], &stats["average"]),
        (&json!(2), &json!(0.265))
    );
    // The offline review is built from the outcomes and the note.
    let draft = &step(&out, "review")["output"];
    assert_eq!(draft["heuristic"], true);
    let summary = draft["json"]["summary"].as_str().unwrap();
    for part in [
        "2 runs of launch compared by open_rate (average 0.265): best run ",
        &format!("best run {hours} ("),
        "offer=Office hours",
        "with open_rate = 0.41; worst run ",
        &format!("worst run {audit} ("),
        "offer=Audit",
        "with open_rate = 0.12.",
        "Noted: The Audit email went out on a Friday / Launched \"Office hours\" at $49",
    ] {
        assert!(summary.contains(part), "{part} not in {summary}");
    }
    let lesson = draft["json"]["lesson"].as_str().unwrap().to_string();
    assert!(
        lesson.starts_with(&format!(
            "Start the next launch from what worked best: run {hours} ("
        )),
        "{lesson}"
    );
    // Nothing lands before the go.
    t.aios(&["fact", "get", "playbook:launch"]).code(3);
    let inbox = t.inbox();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["step_id"], "adopt");
    assert_eq!(approve_all(&t, id), vec!["adopt"]);
    assert_eq!(t.show(id)["status"], "succeeded");

    let lesson_fact = t
        .aios(&["fact", "get", "playbook:launch", "lesson", "--json"])
        .success()
        .json();
    assert_eq!(lesson_fact["value"], lesson.as_str());
    assert_eq!(lesson_fact["run_id"], id);
    let best = t
        .aios(&["fact", "get", "playbook:launch", "best", "--json"])
        .success()
        .json();
    assert_eq!(best["value"]["run"], hours);
    assert_eq!(best["value"]["value"], 0.41);
    assert_eq!(best["value"]["metric"], "open_rate");
    assert_eq!(best["value"]["inputs"]["offer"], "Office hours");
    let show = t.show(id);
    let note = &step(&show, "remember")["output"];
    assert_eq!(note["tags"], json!(["launch", "review"]));
    assert!(
        note["text"]
            .as_str()
            .unwrap()
            .ends_with(&format!("Lesson: {lesson}")),
        "{note}"
    );

    // The loop closes: the next launch's copy step reads the lesson.
    let next = launch(&t, "Workshop");
    let calls = t
        .aios(&["llm", "log", "--run", &next.to_string(), "--json"])
        .success()
        .json();
    let copy = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["step_id"] == "copy")
        .unwrap();
    let chat = copy["request"]["chat"]["messages"].to_string();
    assert!(
        chat.contains("playbook:launch lesson = \\\"Start the next launch from what worked best"),
        "{chat}"
    );
    assert_eq!(
        step(&t.show(next), "copy")["output"]["context"]["facts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_rejected_review_changes_nothing_and_no_outcomes_means_no_review() {
    let t = Test::new().copy(&format!("workflows/{WF}"), WF);
    let out = review(&t);
    assert_eq!(out["status"], "succeeded");
    assert_eq!(step(&out, "review")["status"], "skipped");
    assert!(t.inbox().is_empty());

    let (t, _, _) = launched();
    let dry = t.aios(&["run", "--dry-run", WF]).success();
    assert!(dry.stdout.contains("rehearsed:"), "{}", dry.stdout);
    let id = review(&t)["id"].as_i64().unwrap();
    let item = t.inbox()[0]["id"].to_string();
    t.aios(&["reject", &item, "--reason", "too early to tell"])
        .success();
    let show = t.show(id);
    assert_eq!(show["status"], "succeeded", "{show}");
    for s in ["lesson", "best", "remember"] {
        assert_eq!(step(&show, s)["status"], "skipped", "{s}");
    }
    t.aios(&["fact", "get", "playbook:launch"]).code(3);
}
