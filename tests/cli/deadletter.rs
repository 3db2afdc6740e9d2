//! Dead letters and compensation: a failed run's `failure` item and each of its
//! choices (retry, skip, compensate, abandon), `aios undo` (plan, http and file
//! undos in reverse commit order, at most once), `on_failure = "compensate"`, and a
//! compensation that itself fails.

use serde_json::{Value as Json, json};

use crate::support::http::{Response, Server};
use crate::support::{Test, step};

/// The pending items of kind `kind`.
fn items(t: &Test, kind: &str) -> Vec<Json> {
    t.inbox()
        .into_iter()
        .filter(|i| i["kind"] == kind)
        .collect()
}

/// Every inbox item of the run, decided or not.
fn all_items(t: &Test, run: i64) -> Vec<Json> {
    match t
        .aios(&["inbox", "list", "--all", "--json"])
        .success()
        .json()
    {
        Json::Array(a) => a.into_iter().filter(|i| i["run_id"] == run).collect(),
        other => panic!("{other}"),
    }
}

fn one_failure(t: &Test) -> i64 {
    let f = items(t, "failure");
    assert_eq!(f.len(), 1, "{f:?}");
    f[0]["id"].as_i64().unwrap()
}

#[test]
fn a_failed_run_leaves_one_failure_item_and_approving_it_retries_the_step() {
    let server = Server::start();
    server.script(
        "/x",
        vec![
            Response::text(500, "down"),
            Response::text(500, "still down"),
            Response::text(200, "ok"),
        ],
    );
    let wf = format!(
        r#"
name = "flaky"

[[steps]]
id = "call"
kind = "http"
approve = "never"
method = "POST"
url = "{}"

[[steps]]
id = "after"
kind = "set"
values = {{ done = true }}
"#,
        server.url("/x")
    );
    let t = Test::new().write("wf.toml", &wf);
    let out = t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t);
    assert!(
        out.stdout.contains(&format!(
            "failure item {id} waits in the inbox: aios approve {id} · aios reject {id} --reason \"...\""
        )),
        "{}",
        out.stdout
    );
    let show = t.aios(&["inbox", "show", &id.to_string()]).success().stdout;
    assert!(show.contains("This run failed"), "{show}");
    assert!(show.contains("call (http)"), "{show}");
    assert!(
        show.contains(&format!("POST {} answered 500: down", server.url("/x"))),
        "{show}"
    );
    assert!(show.contains("attempts   1"), "{show}");
    assert!(show.contains("skip       not allowed"), "{show}");

    // A retry that fails again: a new item, the old one resolved.
    t.aios(&["approve", &id.to_string()])
        .code(1)
        .stderr_contains(&format!("inbox {id} approved: the failed step runs again"));
    let again = one_failure(&t);
    assert_ne!(again, id);
    let old = all_items(&t, 1)
        .into_iter()
        .find(|i| i["id"] == id)
        .unwrap();
    assert_eq!(old["status"], "approved");

    t.aios(&["approve", &again.to_string()]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "call")["attempts"], 3);
    assert_eq!(step(&show, "after")["status"], "succeeded");
    assert_eq!(server.count("/x"), 3);
    assert!(items(&t, "failure").is_empty());
}

const SKIPPABLE: &str = r#"
name = "optional"

[[steps]]
id = "try"
kind = "shell"
approve = "never"
on_reject = "skip"
argv = ["sh", "-c", "echo nope >&2; exit 3"]

[[steps]]
id = "write"
kind = "file"
approve = "never"
path = "out.txt"
content = "went on"
"#;

#[test]
fn skip_goes_on_without_the_step_when_it_says_on_reject_skip() {
    let t = Test::new().write("wf.toml", SKIPPABLE);
    t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t).to_string();
    let show = t.aios(&["inbox", "show", &id]).success().stdout;
    assert!(
        show.contains(&format!("aios approve {id} --skip")),
        "{show}"
    );
    t.aios(&["approve", &id, "--skip"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "try")["status"], "skipped");
    assert_eq!(t.read("out.txt"), "went on");
}

#[test]
fn skip_is_refused_for_a_step_that_does_not_allow_it_and_decides_nothing() {
    let t = Test::new().write("wf.toml", &SKIPPABLE.replace("on_reject = \"skip\"\n", ""));
    t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t).to_string();
    t.aios(&["approve", &id, "--skip"])
        .code(2)
        .stderr_contains("error: step `try` may not be skipped: the run goes on without a step only when it says on_reject = \"skip\"")
        .stderr_contains(&format!("hint: aios approve {id} · aios reject {id}"));
    assert_eq!(one_failure(&t).to_string(), id);
    t.aios(&["approve", &id, "--compensate"])
        .code(2)
        .stderr_contains("nothing to compensate");
}

#[test]
fn reject_abandons_the_run_and_a_resume_is_refused() {
    let t = Test::new().write("wf.toml", SKIPPABLE);
    t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t).to_string();
    t.aios(&["reject", &id, "--reason", "not worth it"])
        .success()
        .stdout_contains("run 1 (optional) abandoned: it stays failed");
    assert!(items(&t, "failure").is_empty());
    assert_eq!(t.show(1)["status"], "failed");
    t.aios(&["resume", "1"]).code(4).stderr_contains(&format!(
        "run 1 was abandoned at its failure item {id} (not worth it); it cannot be resumed"
    ));
    assert!(!t.join("out.txt").exists());
}

#[test]
fn a_resume_by_hand_withdraws_the_failure_item() {
    let t = Test::new().write("wf.toml", SKIPPABLE);
    t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t);
    // It fails again: the old item was withdrawn, a new one waits.
    t.aios(&["resume", "1"]).code(1);
    let again = one_failure(&t);
    assert_ne!(again, id);
    let old = all_items(&t, 1)
        .into_iter()
        .find(|i| i["id"] == id)
        .unwrap();
    assert_eq!(old["status"], "withdrawn");
    t.aios(&["approve", &id.to_string()])
        .code(4)
        .stderr_contains("was withdrawn (run 1 was resumed by hand)");
}

/// An order is created over http and written to a ledger, then a third step fails.
fn saga(server: &Server, on_failure: &str) -> String {
    format!(
        r#"
name = "order"
{on_failure}

[[steps]]
id = "create"
kind = "http"
approve = "never"
method = "POST"
url = "{orders}"
undo = {{ kind = "http", method = "DELETE", url = "{orders}/{{{{ output.body.id }}}}" }}

[[steps]]
id = "ledger"
kind = "file"
approve = "never"
path = "ledger.md"
mode = "append"
content = "order {{{{ steps.create.output.body.id }}}}\n"
undo = {{ kind = "file", path = "ledger.md", mode = "append", content = "order {{{{ steps.create.output.body.id }}}} cancelled\n" }}

[[steps]]
id = "note"
kind = "file"
approve = "never"
path = "note.txt"
content = "no undo here"

[[steps]]
id = "charge"
kind = "http"
approve = "never"
method = "POST"
url = "{charge}"
"#,
        orders = server.url("/orders"),
        charge = server.url("/charge"),
    )
}

fn order_server() -> Server {
    let server = Server::start();
    server.respond("/orders", Response::json(201, json!({ "id": 42 })));
    server.respond("/orders/42", Response::json(200, json!({ "deleted": 42 })));
    server.respond("/charge", Response::text(402, "card declined"));
    server
}

fn deletes(server: &Server) -> usize {
    server
        .requests_to("/orders/42")
        .iter()
        .filter(|r| r.method == "DELETE")
        .count()
}

#[test]
fn undo_plan_lists_the_committed_steps_latest_first() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, ""));
    t.aios(&["run", "wf.toml"]).code(1);
    let out = t.aios(&["undo", "--plan", "1"]).success().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "undo of run 1 (order) (the latest committed first):"
    );
    assert_eq!(
        lines[1],
        "  note (file): cannot be undone (it declares no `undo`)"
    );
    assert!(
        lines[2].starts_with("  ledger (file): undo: append"),
        "{out}"
    );
    assert_eq!(
        lines[3],
        format!("  create (http): undo: DELETE {}/42", server.url("/orders"))
    );
    assert_eq!(lines.len(), 4, "{out}");
    let plan = t.aios(&["undo", "--plan", "1", "--json"]).success().json();
    assert_eq!(plan["steps"][0]["status"], "cannot_be_undone");
    assert_eq!(plan["steps"][2]["undo"]["method"], "DELETE");
    // Nothing was proposed or sent.
    assert_eq!(deletes(&server), 0);
    assert_eq!(items(&t, "action").len(), 0);
    t.aios(&["undo", "--plan", "1", "charge"])
        .code(2)
        .stderr_contains("step `charge` of run 1 committed nothing");
    t.aios(&["undo", "--plan", "1", "nope"])
        .code(3)
        .stderr_contains("run 1 has no step `nope`");
}

#[test]
fn compensate_proposes_the_undos_in_reverse_commit_order_each_committed_once() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, ""));
    t.aios(&["run", "wf.toml"]).code(1);
    assert_eq!(t.read("ledger.md"), "order 42\n");
    let id = one_failure(&t).to_string();
    let show = t.aios(&["inbox", "show", &id]).success().stdout;
    assert!(
        show.contains(&format!("aios approve {id} --compensate")),
        "{show}"
    );
    t.aios(&["approve", &id, "--compensate"])
        .success()
        .stderr_contains(
            "run 2 proposes the undo of run 1: 2 compensations, latest first, one at a time",
        )
        .stderr_contains("note (file): cannot be undone (it declares no `undo`)");
    // The ledger's undo first (committed last), as an ordinary proposal.
    let ledger = t.item("undo_ledger");
    assert_eq!(t.show(2)["status"], "waiting");
    assert_eq!(t.show(1)["status"], "failed");
    t.aios(&["approve", &ledger.to_string()]).success();
    assert_eq!(t.read("ledger.md"), "order 42\norder 42 cancelled\n");
    assert_eq!(deletes(&server), 0);
    let create = t.item("undo_create");
    t.aios(&["approve", &create.to_string()]).success();
    assert_eq!(deletes(&server), 1);
    let del = &server.requests_to("/orders/42")[0];
    assert!(del.header("idempotency-key").is_some());
    assert_eq!(t.show(2)["status"], "succeeded");
    // The run it undid is closed, and a second undo proposes nothing.
    t.aios(&["resume", "1"])
        .code(4)
        .stderr_contains("its compensation was chosen");
    t.aios(&["undo", "1"])
        .success()
        .stdout_contains("create (http): already undone by run 2")
        .stdout_contains("nothing of run 1 can be undone");
    assert_eq!(deletes(&server), 1);
}

#[test]
fn undo_of_named_steps_of_a_succeeded_run() {
    let server = order_server();
    server.respond("/charge", Response::text(200, "paid"));
    let t = Test::new().write("wf.toml", &saga(&server, ""));
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["undo", "1", "create"]).success();
    let create = t.item("undo_create");
    t.aios(&["approve", &create.to_string()]).success();
    assert_eq!(deletes(&server), 1);
    assert_eq!(t.show(2)["status"], "succeeded");
    assert_eq!(t.read("ledger.md"), "order 42\n");
}

#[test]
fn a_run_still_going_cannot_be_undone() {
    let server = order_server();
    let t = Test::new().write(
        "wf.toml",
        &saga(&server, "").replace(
            "approve = \"never\"\nmethod = \"POST\"\nurl = \"http",
            "approve = \"always\"\nmethod = \"POST\"\nurl = \"http",
        ),
    );
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(t.show(1)["status"], "waiting");
    t.aios(&["undo", "1"])
        .code(4)
        .stderr_contains("error: run 1 is still waiting; only a run that ended can be undone")
        .stderr_contains("hint: cancel it first: aios cancel 1");
}

#[test]
fn on_failure_compensate_proposes_the_undo_when_the_run_fails() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, "on_failure = \"compensate\""));
    t.aios(&["run", "wf.toml"])
        .code(1)
        .stdout_contains("was decided: compensate (on_failure); the undo waits in the inbox");
    assert!(items(&t, "failure").is_empty());
    let f = all_items(&t, 1)
        .into_iter()
        .find(|i| i["kind"] == "failure")
        .unwrap();
    assert_eq!(f["status"], "approved");
    assert_eq!(t.show(2)["status"], "waiting");
    t.aios(&["approve", &t.item("undo_ledger").to_string()])
        .success();
    t.aios(&["approve", &t.item("undo_create").to_string()])
        .success();
    assert_eq!(deletes(&server), 1);
    assert_eq!(t.read("ledger.md"), "order 42\norder 42 cancelled\n");
}

#[test]
fn a_compensation_that_fails_is_a_failure_item_of_its_own() {
    let server = order_server();
    server.script(
        "/orders/42",
        vec![
            Response::text(503, "try later"),
            Response::json(200, json!({ "deleted": 42 })),
        ],
    );
    let t = Test::new().write("wf.toml", &saga(&server, "on_failure = \"compensate\""));
    t.aios(&["run", "wf.toml"]).code(1);
    t.aios(&["approve", &t.item("undo_ledger").to_string()])
        .success();
    t.aios(&["approve", &t.item("undo_create").to_string()])
        .code(1);
    assert_eq!(t.show(2)["status"], "failed");
    let f = items(&t, "failure");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["run_id"], 2);
    assert_eq!(f[0]["step_id"], "undo_create");
    // Retrying it proposes the DELETE again (a compensation is always
    // approved); approved, it now succeeds.
    t.aios(&["approve", &f[0]["id"].as_i64().unwrap().to_string()])
        .success();
    assert_eq!(t.show(2)["status"], "waiting");
    t.aios(&["approve", &t.item("undo_create").to_string()])
        .success();
    assert_eq!(t.show(2)["status"], "succeeded");
    assert_eq!(deletes(&server), 2);
}

#[test]
fn cancelling_a_failed_run_withdraws_its_failure_item() {
    let t = Test::new().write("wf.toml", SKIPPABLE);
    t.aios(&["run", "wf.toml"]).code(1);
    let id = one_failure(&t);
    t.aios(&["cancel", "1", "--reason", "gave up"]).success();
    assert!(items(&t, "failure").is_empty());
    let item = all_items(&t, 1)
        .into_iter()
        .find(|i| i["id"] == id)
        .unwrap();
    assert_eq!(item["status"], "withdrawn");
    assert_eq!(t.show(1)["status"], "cancelled");
    // Once closed, a failed run cannot be cancelled again.
    t.aios(&["cancel", "1"]).code(4);
}

#[test]
fn rejecting_a_compensation_skips_it_and_the_next_is_proposed() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, "on_failure = \"compensate\""));
    t.aios(&["run", "wf.toml"]).code(1);
    let ledger = t.item("undo_ledger").to_string();
    t.aios(&["reject", &ledger, "--reason", "keep the line"])
        .success();
    t.aios(&["approve", &t.item("undo_create").to_string()])
        .success();
    let show = t.show(2);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "undo_ledger")["status"], "skipped");
    assert_eq!(t.read("ledger.md"), "order 42\n");
    assert_eq!(deletes(&server), 1);
    // The skipped one may still be undone later; the committed one is not again.
    let plan = t.aios(&["undo", "--plan", "1"]).success().stdout;
    assert!(plan.contains("ledger (file): undo: append"), "{plan}");
    assert!(
        plan.contains("create (http): already undone by run 2"),
        "{plan}"
    );
}

#[test]
fn a_compensation_interrupted_by_a_crash_asks_and_is_never_sent_twice() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, "on_failure = \"compensate\""));
    t.aios(&["run", "wf.toml"]).code(1);
    t.aios(&["approve", &t.item("undo_ledger").to_string()])
        .success();
    let create = t.item("undo_create").to_string();
    let mut held = server.hold("/orders/42");
    let bg = t.args(&["approve", &create]).spawn();
    held.arrived();
    bg.kill9();
    held.release_all();
    t.aios(&["resume", "2"]).success();
    assert_eq!(
        deletes(&server),
        1,
        "the DELETE was sent again without asking"
    );
    let items = t.inbox();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "attention");
    assert_eq!(items[0]["step_id"], "undo_create");
    t.aios(&["approve", &items[0]["id"].to_string(), "--done"])
        .success();
    assert_eq!(t.show(2)["status"], "succeeded");
    assert_eq!(deletes(&server), 1);
}

#[test]
fn while_a_compensation_run_waits_the_plan_says_so_and_no_second_one_starts() {
    let server = order_server();
    let t = Test::new().write("wf.toml", &saga(&server, "on_failure = \"compensate\""));
    t.aios(&["run", "wf.toml"]).code(1);
    let plan = t.aios(&["undo", "--plan", "1"]).success().stdout;
    assert!(
        plan.ends_with("run 2 is undoing it now: decide its items (aios inbox list)\n"),
        "{plan}"
    );
    t.aios(&["undo", "1"])
        .code(4)
        .stderr_contains("error: run 2 is undoing run 1 already")
        .stderr_contains("hint: decide its items (aios inbox list), or cancel it: aios cancel 2");
    assert_eq!(t.inbox().len(), 1);
    t.aios(&["replay"]).success();
}

#[test]
fn a_dry_run_that_fails_leaves_no_failure_item() {
    let t = Test::new().write(
        "wf.toml",
        "name = \"dry\"\n[[steps]]\nid = \"b\"\nkind = \"set\"\nvalues = { v = \"{{ run.id.missing.x }}\" }\n",
    );
    t.aios(&["run", "--dry-run", "wf.toml", "-q"]).code(1);
    assert!(t.inbox().is_empty(), "{:?}", t.inbox());
    // A real run of it does.
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    assert_eq!(items(&t, "failure").len(), 1);
}
