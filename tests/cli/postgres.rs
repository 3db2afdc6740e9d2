//! Commands on PostgreSQL (`AIOS_DATABASE_URL`): each test gets a fresh database on
//! the throwaway server (`support::postgres`) and runs the shipped workflows end to
//! end: proposals through the inbox, launch with its memory, facts and notes, stats
//! and trust, waits and resumes, a run continued on a corrected file, a breaker on a
//! dead host, schedules and ticks, replay. The SQLite file in the home is never
//! created; restoring a SQLite backup is refused.

use crate::support::{Output, Test, step_statuses};

/// A test whose every command uses a fresh PostgreSQL database.
fn on_postgres() -> Test {
    Test::new().env(
        "AIOS_DATABASE_URL",
        &crate::support::postgres::fresh_database(),
    )
}

fn at(t: &Test, now: &str, args: &[&str]) -> Output {
    t.args(args).env("AIOS_NOW", now).run()
}

#[test]
fn hello_runs_and_its_log_comes_from_postgres() {
    let url = crate::support::postgres::fresh_database();
    let t = Test::new()
        .env("AIOS_DATABASE_URL", &url)
        .copy("examples/hello.toml", "hello.toml");
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success()
        .stdout_contains("run 1 (hello) succeeded in ");
    assert_eq!(t.read("out/hello-ada.txt"), "Hello, Ada!\n");
    t.aios(&["log", "1"]).success().stdout_is(
        "    1  2026-11-21T09:30:00Z  run created from `hello` (2 steps)
    2  2026-11-21T09:30:00Z  greeting: succeeded
    3  2026-11-21T09:30:00Z  save: started (attempt 1)
    4  2026-11-21T09:30:00Z  save: succeeded
    5  2026-11-21T09:30:00Z  run succeeded
",
    );
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let runs = t.aios(&["runs", "--json"]).success().json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    // doctor says where the journal is (never the password); status reads it.
    let doctor = t.aios(&["doctor", "--json"]).json();
    let db = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "database")
        .unwrap()
        .clone();
    assert_eq!(db["status"], "ok", "{db}");
    assert!(
        db.to_string()
            .contains("PostgreSQL at postgres://aios@127.0.0.1:"),
        "{db}"
    );
    let status = t.aios(&["status", "--json"]).json();
    assert_eq!(status["runs"]["running"], 0, "{status}");
    assert_eq!(status["breakers"], serde_json::json!([]), "{status}");
    // The database is the server's (its URL, its size), not a SQLite file.
    assert_eq!(status["database"]["backend"], "postgresql", "{status}");
    assert_eq!(status["database"]["url"], url.as_str(), "{status}");
    assert!(status["database"].get("path").is_none(), "{status}");
    assert!(
        status["database"]["bytes"].as_u64().unwrap() > 1_000_000,
        "{status}"
    );
    let text = t.aios(&["status"]).stdout;
    let line = text
        .lines()
        .find(|l| l.contains("database"))
        .unwrap()
        .to_string();
    assert!(
        line.contains(&format!("MiB (PostgreSQL at {url})")),
        "{line}"
    );
    assert!(!text.contains("aios.db"), "{text}");
    assert!(
        db.to_string().contains(" KiB): reachable, schema current"),
        "{db}"
    );
    // A second run gets the next id from the database.
    t.aios(&["run", "hello.toml", "--input", "name=Bo"])
        .success()
        .stdout_contains("run 2 (hello) succeeded");
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

/// hello.toml as shipped, but its file write asks first.
fn hello_that_asks() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.toml"),
    )
    .unwrap()
    .replace("approve = \"never\"", "")
}

#[test]
fn a_proposal_waits_in_the_inbox_and_approving_it_finishes_the_run() {
    let t = on_postgres().write("hello.toml", &hello_that_asks());
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success()
        .stdout_contains("run 1 (hello) is waiting for you:");
    assert!(!t.join("out/hello-ada.txt").exists());
    let items = t.aios(&["inbox", "list", "--json"]).success().json();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["run_id"], 1);
    assert_eq!(items[0]["step_id"], "save");
    assert_eq!(items[0]["status"], "pending");
    let status = t.aios(&["status", "--json"]).json();
    assert_eq!(status["pending"][0]["count"], 1, "{status}");
    assert_eq!(status["runs"]["waiting"], 1, "{status}");
    let id = items[0]["id"].to_string();
    t.aios(&["approve", &id])
        .success()
        .stderr_contains(&format!("inbox {id} approved (run 1, step save)"));
    assert_eq!(t.read("out/hello-ada.txt"), "Hello, Ada!\n");
    assert_eq!(t.show(1)["status"], "succeeded");
    assert!(t.inbox().is_empty());
    let status = t.aios(&["status", "--json"]).json();
    assert_eq!(status["pending"], serde_json::json!([]), "{status}");
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("save: inbox item 1 approved by ")
        .stdout_contains("run succeeded");
    // The step's trust statistics count the approval.
    let trust = t.aios(&["trust", "--json"]).success().json();
    assert_eq!(
        (trust[0]["workflow"].as_str(), trust[0]["step"].as_str()),
        (Some("hello"), Some("save")),
        "{trust}"
    );
    assert_eq!(trust[0]["streak"], 1, "{trust}");
    t.aios(&["replay"]).success().stdout_contains("ok run 1:");
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

/// Approve every item of `run` until it is done (the gate with a launch date): the
/// steps approved, in order.
fn approve_all(t: &Test, run: i64) -> Vec<String> {
    let mut approved = Vec::new();
    loop {
        let pending = t.inbox();
        let Some(item) = pending.first() else { break };
        assert_eq!(item["run_id"], run);
        assert!(approved.len() < 10, "run {run} never finished");
        approved.push(item["step_id"].as_str().unwrap().to_string());
        let id = item["id"].to_string();
        if item["kind"] == "approval" {
            t.aios(&["approve", &id, "--field", "launch_date=2026-12-01"])
                .success();
        } else {
            t.aios(&["approve", &id]).success();
        }
    }
    approved
}

#[test]
fn launch_runs_end_to_end_with_memory_and_its_record_is_searchable() {
    let t = on_postgres().copy("workflows/launch.toml", "launch.toml");
    t.aios(&[
        "fact",
        "set",
        "playbook:launch",
        "lesson",
        "launch on a Tuesday",
    ])
    .success();
    t.aios(&["run", "launch.toml"])
        .success()
        .stdout_contains("run 1 (launch) is waiting for you:");
    assert_eq!(
        approve_all(&t, 1),
        ["landing", "email", "go", "announce_outbox"]
    );
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let record = t.read("launch-out/launches.md");
    assert!(
        record.contains("for 2026-12-01; announced via outbox"),
        "{record}"
    );
    let note = crate::support::step(&show, "remember")["output"].clone();
    assert_eq!(
        note["tags"],
        serde_json::json!(["launch", "offer:founder-office-hours"])
    );
    // The copy step's context read the playbook fact (nothing else to read yet).
    let first = crate::support::step(&show, "copy")["output"]["context"].clone();
    assert_eq!(first["notes"], serde_json::json!([]), "{first}");
    assert_eq!(
        first["facts"],
        serde_json::json!([{"entity": "playbook:launch", "key": "lesson", "version": 1}]),
        "{first}"
    );
    // What the run remembered is memory's on PostgreSQL: listed, searchable, and
    // read by the next launch's copy step with the decisions on what it fed.
    let notes = t
        .aios(&["memory", "list", "--tag", "launch", "--json"])
        .success()
        .json();
    assert_eq!(notes.as_array().unwrap().len(), 1, "{notes}");
    assert!(
        notes[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Launched \"Founder office hours\""),
        "{notes}"
    );
    let found = t
        .aios(&[
            "memory",
            "search",
            "launched founder office hours",
            "--json",
        ])
        .success()
        .json();
    assert!(
        found
            .to_string()
            .contains("Launched \\\"Founder office hours\\\""),
        "{found}"
    );
    t.aios(&["run", "launch.toml"]).success();
    approve_all(&t, 2);
    let second = crate::support::step(&t.show(2), "copy")["output"]["context"].clone();
    assert_eq!(
        second["notes"],
        serde_json::json!([note["note"]]),
        "{second}"
    );
    assert_eq!(second["decisions"].as_array().unwrap().len(), 3, "{second}");
    // Outcomes, facts and the figures.
    t.aios(&["outcome", "1", "signups=12"]).success();
    assert_eq!(
        t.aios(&["outcome", "1", "--json"]).success().json()[0]["value"],
        12
    );
    t.aios(&["fact", "list"])
        .success()
        .stdout_contains("playbook:launch\n  lesson  \"launch on a Tuesday\"  v1 · manual by ");
    let st = t.aios(&["stats", "--json"]).success().json();
    assert_eq!(st["decided"], 8, "{st}");
    assert_eq!(st["outcomes"][0]["workflow"], "launch", "{st}");
    assert_eq!(st["outcomes"][0]["points"][0]["value"], 12.0, "{st}");
    // Replay rebuilds both runs, their memory rows (notes, decisions, the outcome)
    // included, to the stored state.
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok run 1:")
        .stdout_contains("ok run 2:");
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

#[test]
fn facts_are_set_listed_unset_and_replayed() {
    let t = on_postgres();
    t.aios(&["fact", "list"])
        .success()
        .stdout_is("no facts yet; set one with: aios fact set customer:acme plan pro\n");
    t.aios(&["fact", "set", "customer:acme", "plan", "basic"])
        .success()
        .stdout_is("customer:acme plan = \"basic\" (version 1)\n");
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success()
        .stdout_is("customer:acme plan = \"pro\" (version 2)\n");
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    let all = t.aios(&["fact", "list", "--json"]).success().json();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    t.aios(&["fact", "unset", "customer:acme", "plan"])
        .success()
        .stdout_is("customer:acme plan unset (version 3; its history keeps every version)\n");
    t.aios(&["fact", "get", "customer:acme", "plan"]).code(3);
    t.aios(&["fact", "get", "customer:acme", "seats"])
        .success()
        .stdout_is("5\n");
    // Templates read the current facts from the database.
    let t = t.write(
        "seats.toml",
        "name = \"seats\"\n[[steps]]\nid = \"say\"\nkind = \"set\"\nvalues = { seats = \"{{ facts['customer:acme'].seats }}\" }\n",
    );
    let run = t.aios(&["run", "seats.toml", "--json"]).success().json();
    assert_eq!(run["steps"][0]["output"], serde_json::json!({"seats": 5}));
    t.aios(&[
        "memory",
        "add",
        "Acme prefers short emails",
        "--tag",
        "customer:acme",
    ])
    .success();
    let hits = t
        .aios(&["memory", "search", "short emails", "--json"])
        .success()
        .json();
    assert!(
        hits.to_string().contains("Acme prefers short emails"),
        "{hits}"
    );
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok unset facts: 1 event replay to the stored tombstones\n");
    t.aios(&["stats"])
        .success()
        .stdout_contains("last 30 days (2026-10-23 to 2026-11-21)");
    t.aios(&["trust"]).success();
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

/// `render` reads a key its input does not have, so it fails when rendered.
const BROKEN: &str = r#"
name = "steer"

[[steps]]
id = "count"
kind = "shell"
approve = "never"
script = "echo ran >> count.txt; echo '{\"n\": 1}'"
output = "json"

[[steps]]
id = "render"
kind = "set"
values = { greeting = "hello {{ steps.count.output.json.missing.key }}" }
"#;

#[test]
fn a_failed_run_continues_on_a_corrected_file() {
    let t = on_postgres().write("wf.toml", BROKEN);
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    assert_eq!(t.show(1)["status"], "failed");
    t.put(
        "wf.toml",
        &BROKEN.replace("output.json.missing.key", "output.json.n"),
    );
    t.aios(&["resume", "1", "--workflow", "wf.toml"])
        .success()
        .stdout_is("run 1 (steer) succeeded in 0ms: 2 steps\n");
    assert_eq!(t.read("count.txt"), "ran\n");
    let show = t.show(1);
    assert_eq!(
        crate::support::step(&show, "render")["output"]["greeting"],
        "hello 1"
    );
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("  the run continues on wf.toml, changed by ");
    t.aios(&["replay", "1"])
        .success()
        .stdout_contains("ok run 1:");
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

#[test]
fn a_dead_http_target_opens_its_breaker() {
    // A port that was bound and released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let wf = format!(
        r#"
name = "call"

[[steps]]
id = "call"
kind = "http"
approve = "never"
method = "POST"
url = "http://127.0.0.1:{port}/x"
retry = {{ attempts = 5, backoff = "10ms" }}
"#
    );
    let t = on_postgres()
        .write(
            "config.toml",
            "[breakers]\nfailures = 2\ncooldown = \"1m\"\n",
        )
        .write("call.toml", &wf);
    let name = format!("http:127.0.0.1:{port}");
    t.aios(&["run", "call.toml"])
        .success()
        .stderr_contains(&format!("call waits: circuit breaker {name} is open until"));
    assert_eq!(t.show(1)["status"], "waiting");
    let b = t.aios(&["breakers", "--json"]).success().json();
    assert_eq!(b[0]["target"], name.as_str(), "{b}");
    assert_eq!(b[0]["state"], "open", "{b}");
    assert_eq!(b[0]["failures"], 2, "{b}");
    assert_eq!(b[0]["held"][0]["run"], 1, "{b}");
    let status = t.aios(&["status", "--json"]).json();
    assert_eq!(status["breakers"][0]["target"], name.as_str(), "{status}");
    t.aios(&["replay"])
        .success()
        .stdout_contains("circuit breakers: 2 events replay to the stored state");
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

const COOL_OFF: &str = r#"
name = "cool"

[[steps]]
id = "draft"
kind = "set"
values = { text = "hello" }

[[steps]]
id = "cool_off"
kind = "wait"
duration = "2d"

[[steps]]
id = "send"
kind = "set"
values = { sent = "{{ steps.draft.output.text }}" }
"#;

#[test]
fn a_waiting_run_resumes_once_its_wait_is_over() {
    let t = on_postgres().write("cool.toml", COOL_OFF);
    at(&t, "2026-11-20T09:00:00Z", &["run", "cool.toml"])
        .success()
        .stdout_contains("run 1 (cool) is waiting until 2026-11-22T09:00:00Z");
    assert_eq!(
        step_statuses(&t.show(1)),
        [
            ("draft".into(), "succeeded".into()),
            ("cool_off".into(), "waiting".into()),
            ("send".into(), "pending".into())
        ]
    );
    // Too early: it keeps waiting. After the end: it finishes.
    at(&t, "2026-11-21T12:00:00Z", &["resume", "1"]).success();
    assert_eq!(t.show(1)["status"], "waiting");
    at(&t, "2026-11-22T09:00:01Z", &["resume", "1"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(
        crate::support::step(&show, "send")["output"]["sent"],
        "hello"
    );
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

const DAILY: &str = r#"
name = "daily"

[trigger]
cron = "0 9 * * *"
timezone = "UTC"

[[steps]]
id = "a"
kind = "set"
values = { offer = "weekly digest" }
"#;

#[test]
fn a_schedule_is_added_listed_and_fired_by_tick() {
    let t = on_postgres().write("daily.toml", DAILY);
    at(
        &t,
        "2026-11-20T12:00:00Z",
        &["schedule", "add", "daily.toml"],
    )
    .success()
    .stdout_is("schedule daily added (0 9 * * * UTC); next fire 2026-11-21 09:00 UTC\n");
    let list = at(&t, "2026-11-20T12:00:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["name"], "daily");
    at(&t, "2026-11-21T08:59:00Z", &["tick"])
        .success()
        .stdout_is("");
    at(&t, "2026-11-21T09:00:30Z", &["tick"]).success();
    let runs = t.aios(&["runs", "--json"]).success().json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded");
    let list = at(&t, "2026-11-21T09:01:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    let fires = list[0]["recent_fires"].as_array().unwrap();
    assert_eq!(fires.len(), 1, "{fires:?}");
    // Ticking again at the same instant fires nothing twice.
    at(&t, "2026-11-21T09:00:30Z", &["tick"]).success();
    assert_eq!(
        t.aios(&["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

#[test]
fn a_held_step_goes_at_the_next_tick_once_its_breaker_is_closed_by_hand() {
    let server = crate::support::http::Server::start();
    server.respond(
        "/x",
        crate::support::http::Response::text(502, "bad gateway"),
    );
    let t = on_postgres()
        .write("config.toml", "[breakers]\nfailures = 1\ncooldown = \"1h\"\n")
        .write(
            "a.toml",
            &format!(
                "name = \"a\"\n[[steps]]\nid = \"call\"\nkind = \"http\"\napprove = \"never\"\nmethod = \"POST\"\nurl = \"{}\"\nretry = {{ attempts = 5, backoff = \"10ms\" }}\n",
                server.url("/x")
            ),
        );
    let name = format!(
        "http:{}",
        server
            .url("/")
            .trim_start_matches("http://")
            .trim_end_matches('/')
    );
    t.aios(&["run", "a.toml"]).success();
    assert_eq!(server.count("/x"), 1);
    assert_eq!(t.show(1)["status"], "waiting");
    server.respond(
        "/x",
        crate::support::http::Response::json(200, serde_json::json!({})),
    );
    t.aios(&["breakers", "close", &name])
        .success()
        .stdout_contains("1 step waiting for it will go at the next tick");
    t.aios(&["tick"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert_eq!(server.count("/x"), 2);
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}

#[test]
fn restore_of_a_sqlite_file_is_refused_and_writes_nothing() {
    let t = on_postgres();
    t.aios(&["restore", "backup.db"])
        .code(2)
        .stderr_contains("`aios restore` is not yet supported on PostgreSQL");
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    assert!(
        !t.join("aios.db").exists(),
        "the SQLite journal was created"
    );
}
