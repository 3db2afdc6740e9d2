//! `aios new`: a workflow file from the embedded library or the skeleton.

use crate::support::Test;

#[test]
fn new_writes_a_skeleton_that_checks_and_runs() {
    let t = Test::new();
    t.aios(&["new", "hello"])
        .success()
        .stdout_contains("created hello.toml")
        .stdout_contains("aios check hello.toml");
    assert!(t.read("hello.toml").contains("name = \"hello\""));
    t.aios(&["check", "hello.toml"])
        .success()
        .stdout_contains("ok hello.toml (hello, 2 steps)");
    // Its file step is a proposal: the run waits in the inbox.
    t.aios(&["run", "hello.toml", "-i", "who=Ada"]).success();
    assert_eq!(t.inbox().len(), 1);
}

#[test]
fn new_from_the_library_renames_it() {
    let t = Test::new();
    t.aios(&["new", "flows/my-launch", "--from", "launch"])
        .success()
        .stdout_contains("created flows/my-launch.toml from the library's `launch`");
    let text = t.read("flows/my-launch.toml");
    assert!(text.contains("\nname = \"my-launch\"\n"), "{text}");
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/workflows/launch.toml"
    ))
    .unwrap();
    assert_eq!(
        text.replace("name = \"my-launch\"", "name = \"launch\""),
        original
    );
    t.aios(&["check", "flows/my-launch.toml"])
        .success()
        .stdout_contains("(my-launch,");
}

#[test]
fn new_never_overwrites() {
    let t = Test::new().write("mine.toml", "keep me");
    t.aios(&["new", "mine"])
        .code(4)
        .stderr_contains("mine.toml exists")
        .stderr_contains("hint: aios new mine-2");
    assert_eq!(t.read("mine.toml"), "keep me");
}

#[test]
fn new_from_an_unknown_workflow_suggests() {
    let t = Test::new();
    t.aios(&["new", "x", "--from", "lanch"])
        .code(3)
        .stderr_contains("no library workflow `lanch`")
        .stderr_contains("launch");
    assert!(!t.join("x.toml").exists());
    t.aios(&["new", "bad name"])
        .code(2)
        .stderr_contains("not a workflow name");
}

#[test]
fn new_list_names_the_library() {
    Test::new()
        .aios(&["new", "--list"])
        .success()
        .stdout_contains("launch")
        .stdout_contains("support")
        .stdout_contains("hello")
        .stdout_contains("Greet someone");
}

#[test]
fn a_newsletter_made_with_new_reads_its_own_past_issues() {
    let t = Test::new();
    for name in ["newsletter", "outcome-review"] {
        t.aios(&["new", &format!("my-{name}"), "--from", name])
            .success();
        t.aios(&["check", &format!("my-{name}.toml")]).success();
    }
    t.aios(&["memory", "add", "Why we raised prices", "--tag", "idea"])
        .success();
    let first = t
        .aios(&["run", "my-newsletter.toml", "--json", "-q"])
        .success()
        .json();
    let item = t.inbox()[0]["id"].to_string();
    t.aios(&["approve", &item, "-q"]).success();
    let next = t
        .aios(&["run", "my-newsletter.toml", "--json", "-q"])
        .success()
        .json();
    let past = &crate::support::step(&next, "past")["output"];
    assert_eq!(past["count"], 1, "{past}");
    assert_eq!(past["items"][0]["run_id"], first["id"]);
    assert_eq!(past["items"][0]["workflow"], "my-newsletter");
}
