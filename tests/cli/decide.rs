//! Decisions: approve (with edits), reject, once-only, cancel, `--no-resume`.

use crate::support::http::Server;
use crate::support::{Test, step};

/// Two proposed file writes: `w` (default on_reject) and `s` (on_reject = "skip").
const TWO_WRITES: &str = r#"
name = "two"

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "first"

[[steps]]
id = "s"
kind = "file"
on_reject = "skip"
path = "s.txt"
content = "second"

[[steps]]
id = "done"
kind = "set"
values = { s = "{{ steps.s.status }}" }
"#;

fn two() -> Test {
    let t = Test::new().write("two.toml", TWO_WRITES);
    t.aios(&["run", "two.toml"])
        .success()
        .stdout_contains("run 1 (two) is waiting for you:");
    t
}

#[test]
fn approve_with_edit_commits_the_edited_action() {
    let t = two();
    let id = t.item("w").to_string();
    let action = t.aios(&["inbox", "show", &id, "--action"]).success().json();
    assert_eq!(action["kind"], "file");
    assert_eq!(action["content"], "first");
    let mut edited = action.clone();
    edited["content"] = "edited by hand".into();
    t.put("edit.json", &edited.to_string());

    t.aios(&["approve", &id, "--edit", "edit.json"])
        .success()
        .stderr_contains(&format!("inbox {id} approved with edits (run 1, step w)"));
    assert_eq!(t.read("w.txt"), "edited by hand");
    let log = t.aios(&["log", "1"]).success();
    assert!(
        log.stdout.contains("w: inbox item 1 approved by"),
        "{}",
        log.stdout
    );
    assert!(log.stdout.contains("(with edits)"), "{}", log.stdout);
    assert!(
        log.stdout.contains(r#"-  "content": "first","#),
        "{}",
        log.stdout
    );
    assert!(
        log.stdout.contains(r#"+  "content": "edited by hand","#),
        "{}",
        log.stdout
    );
    // The item now shows the edit too.
    t.aios(&["inbox", "show", &id])
        .success()
        .stdout_contains("edited by the operator");
}

#[test]
fn approve_with_edit_accepts_toml() {
    let t = two();
    let id = t.item("w").to_string();
    let action = t.aios(&["inbox", "show", &id, "--action"]).success().json();
    let root = action["root"].as_str().unwrap();
    t.put(
        "edit.toml",
        &format!("kind = \"file\"\nroot = {root:?}\npath = \"w.txt\"\ncontent = \"from toml\"\n"),
    );
    t.aios(&["approve", &id, "--edit", "edit.toml"]).success();
    assert_eq!(t.read("w.txt"), "from toml");
}

#[test]
fn invalid_edits_are_refused_and_decide_nothing() {
    let t = two();
    let id = t.item("w");
    let ids = id.to_string();
    let action = t
        .aios(&["inbox", "show", &ids, "--action"])
        .success()
        .json();

    let mut escape = action.clone();
    escape["path"] = "../escape".into();
    t.put("escape.json", &escape.to_string());
    t.aios(&["approve", &ids, "--edit", "escape.json"])
        .code(2)
        .stderr_contains(
            "error: escape.json is not valid: path `../escape` escapes the root folder",
        );

    let mut unknown = action.clone();
    unknown["owner"] = "root".into();
    t.put("unknown.json", &unknown.to_string());
    t.aios(&["approve", &ids, "--edit", "unknown.json"])
        .code(2)
        .stderr_contains("error: unknown.json is not a valid action: unknown field `owner`")
        .stderr_contains(&format!("hint: start from: aios inbox show {id} --action"));

    let shell = serde_json::json!({ "kind": "shell", "argv": ["true"], "cwd": "/" });
    t.put("shell.json", &shell.to_string());
    t.aios(&["approve", &ids, "--edit", "shell.json"])
        .code(2)
        .stderr_contains("error: the edit turns a file action into a shell action; an edit may change the action, not its kind");

    t.put("garbage.txt", "{ not json = [");
    t.aios(&["approve", &ids, "--edit", "garbage.txt"])
        .code(2)
        .stderr_contains("is neither JSON");

    t.aios(&["approve", &ids, "--edit", "missing.json"])
        .code(3)
        .stderr_contains("cannot read the edit missing.json");

    // Still pending; nothing written.
    assert_eq!(t.item("w"), id);
    assert!(!t.join("w.txt").exists());
    assert!(!t.join("../escape").exists());
}

#[test]
fn an_item_is_decided_once() {
    let t = two();
    let id = t.item("w").to_string();
    t.aios(&["approve", &id]).success();
    t.aios(&["approve", &id])
        .code(4)
        .stderr_contains(&format!(
            "error: inbox item {id} was already decided: approve by "
        ))
        .stderr_contains("hint: see what happened with: aios log 1");
    t.aios(&["reject", &id, "--reason", "too late"])
        .code(4)
        .stderr_contains("was already decided");
    assert_eq!(t.read("w.txt"), "first");
}

#[test]
fn reject_needs_a_reason() {
    let t = two();
    let id = t.item("w").to_string();
    t.aios(&["reject", &id])
        .code(2)
        .stderr_contains("the following required arguments were not provided")
        .stderr_contains("--reason <REASON>");
    t.aios(&["reject", &id, "--reason", "  "])
        .code(2)
        .stderr_is("error: a rejection needs a reason\nhint: say why with --reason \"...\"\n");
    assert_eq!(t.item("w").to_string(), id);
}

#[test]
fn reject_with_on_reject_skip_skips_and_the_run_continues() {
    let t = two();
    t.aios(&["approve", &t.item("w").to_string()]).success();
    let id = t.item("s").to_string();
    t.aios(&["reject", &id, "--reason", "not now"])
        .success()
        .stderr_contains(&format!("inbox {id} rejected (run 1, step s)"))
        .stderr_contains("- s skipped: rejected: not now")
        .stdout_contains("run 1 (two) succeeded");
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "s")["status"], "skipped");
    assert_eq!(step(&show, "done")["output"]["s"], "skipped");
    assert!(!t.join("s.txt").exists());
}

#[test]
fn reject_fails_the_run_and_resume_proposes_again() {
    let t = two();
    let id = t.item("w").to_string();
    t.aios(&["reject", &id, "--reason", "wrong words"])
        .code(1)
        .stdout_is(
            "run 1 (two) failed: step `w` failed\n  w: rejected: wrong words\nfailure item 2 waits in the inbox: aios approve 2 · aios reject 2 --reason \"...\"\nhint: fix the cause, then continue with: aios resume 1\n",
        );
    let show = t.show(1);
    assert_eq!(show["status"], "failed");
    assert_eq!(step(&show, "w")["error"], "rejected: wrong words");
    // Only the run's failure item waits (a resume by hand withdraws it).
    let kinds: Vec<serde_json::Value> = t.inbox().iter().map(|i| i["kind"].clone()).collect();
    assert_eq!(kinds, ["failure"]);

    t.aios(&["resume", "1"])
        .success()
        .stdout_contains("run 1 (two) is waiting for you:")
        .stderr_contains("w will run again: resumed after a failure");
    let again = t.item("w");
    assert_ne!(again.to_string(), id);
    t.aios(&["approve", &again.to_string()]).success();
    t.aios(&["approve", &t.item("s").to_string()])
        .success()
        .stdout_contains("run 1 (two) succeeded");
    assert_eq!(step(&t.show(1), "w")["attempts"], 2);
}

#[test]
fn cancel_stops_a_run_once_and_its_items_cannot_be_decided() {
    let t = two();
    let id = t.item("w").to_string();
    t.aios(&["cancel", "1", "--reason", "changed my mind"])
        .success()
        .stdout_is("run 1 (two) cancelled\n");
    t.aios(&["cancel", "1"])
        .code(4)
        .stderr_is("error: run 1 was already cancelled; there is nothing to cancel\nhint: see it with: aios show 1\n");
    t.aios(&["approve", &id]).code(4).stderr_contains("cancel");
    t.aios(&["resume", "1"])
        .code(4)
        .stderr_contains("error: run 1 was cancelled; it cannot be resumed");
    assert!(t.inbox().is_empty());
    assert_eq!(t.show(1)["status"], "cancelled");
    assert!(!t.join("w.txt").exists());
}

#[test]
fn unknown_ids_exit_3_with_a_hint() {
    let t = two();
    t.aios(&["approve", "99"])
        .code(3)
        .stderr_is("error: no inbox item 99\nhint: list pending items with: aios inbox list\n");
    t.aios(&["reject", "99", "--reason", "x"]).code(3);
    t.aios(&["inbox", "show", "99"]).code(3);
    for cmd in ["show", "log", "resume", "cancel", "replay"] {
        t.aios(&[cmd, "42"])
            .code(3)
            .stderr_contains("error: no run 42")
            .stderr_contains("hint: list runs with: aios runs");
    }
}

#[test]
fn done_only_applies_to_interrupted_steps() {
    let t = two();
    let id = t.item("w").to_string();
    t.aios(&["approve", &id, "--done"])
        .code(2)
        .stderr_contains(&format!(
            "error: item {id} is a proposed action; --done only applies to interrupted steps"
        ));
    t.aios(&["approve", &id, "--field", "a=b"])
        .code(2)
        .stderr_contains("only approval gates have fields");
}

#[test]
fn no_resume_commits_the_action_but_runs_nothing_else() {
    let server = Server::start();
    let wf = format!(
        r#"
name = "nr"

[[steps]]
id = "post"
kind = "http"
method = "POST"
url = "{}"
json = {{ hello = "world" }}

[[steps]]
id = "after"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
"#,
        server.url("/post"),
        server.url("/after")
    );
    let t = Test::new().write("nr.toml", &wf);
    t.aios(&["run", "nr.toml"]).success();
    assert_eq!(server.count("/post"), 0);
    let id = t.item("post").to_string();
    t.aios(&["approve", &id, "--no-resume"])
        .success()
        .stdout_contains(
            "run 1 (nr) is waiting: decisions were committed; continue it with: aios resume 1",
        );
    assert_eq!(server.count("/post"), 1);
    assert_eq!(server.count("/after"), 0);
    let show = t.show(1);
    assert_eq!(step(&show, "post")["status"], "succeeded");
    assert_eq!(step(&show, "after")["status"], "pending");

    t.aios(&["resume", "1"])
        .success()
        .stdout_contains("run 1 (nr) succeeded");
    assert_eq!(server.count("/post"), 1);
    assert_eq!(server.count("/after"), 1);
}

#[test]
fn no_resume_on_a_file_write() {
    let t = two();
    t.aios(&["approve", &t.item("w").to_string(), "--no-resume"])
        .success();
    assert_eq!(t.read("w.txt"), "first");
    // `s` was not proposed yet.
    assert!(t.inbox().is_empty());
    assert_eq!(step(&t.show(1), "s")["status"], "pending");
    t.aios(&["resume", "1"]).success();
    t.item("s");
}

/// An edit speaks the workflow's words (`mode = "write" | "append"`), and an item a
/// build before `mode` journaled with `append: true` still loads, shows, edits and
/// commits as an append.
#[test]
fn a_file_action_says_mode_and_old_journals_with_append_still_load() {
    let t = Test::new().write(
        "log.toml",
        "name = \"log\"\n[[steps]]\nid = \"note\"\nkind = \"file\"\npath = \"log.txt\"\nmode = \"append\"\ncontent = \"second\\n\"\n",
    );
    t.put("log.txt", "first\n");
    t.aios(&["run", "log.toml"]).success();
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(action["mode"], "append");
    assert!(action.get("append").is_none(), "{action}");

    // As an older build wrote it: the event and its projection say `append: true`.
    t.sql(if crate::support::on_postgres() {
        // Text, as the older build wrote it (jsonb would reorder every key, which
        // replay compares).
        "ALTER TABLE events DISABLE TRIGGER events_no_update;
         UPDATE events SET data = replace(data, '\"mode\":\"append\"', '\"append\":true')
           WHERE type = 'proposal_created';
         UPDATE proposals SET action = replace(action, '\"mode\":\"append\"', '\"append\":true');
         ALTER TABLE events ENABLE TRIGGER events_no_update;"
    } else {
        "DROP TRIGGER events_no_update;
         UPDATE events SET data = json_set(json_remove(data, '$.action.mode'), '$.action.append', json('true'))
           WHERE type = 'proposal_created';
         UPDATE proposals SET action = json_set(json_remove(action, '$.mode'), '$.append', json('true'));
         CREATE TRIGGER events_no_update BEFORE UPDATE ON events
         BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    });
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("append to log.txt");
    let old = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(old["mode"], "append");
    assert!(old.get("append").is_none(), "{old}");

    // The edit names the mode the way the workflow does.
    let mut edited = old.clone();
    edited["content"] = "edited\n".into();
    t.put("edit.json", &edited.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json"])
        .success()
        .stdout_contains("run 1 (log) succeeded");
    assert_eq!(t.read("log.txt"), "first\nedited\n");
    assert_eq!(step(&t.show(1), "note")["output"]["mode"], "append");
    t.aios(&["replay", "1"]).success();
}
