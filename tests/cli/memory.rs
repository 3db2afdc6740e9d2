//! Memory: facts, notes, search, import, outcomes, decisions as memory, the memory
//! step kinds, template access to facts, and embeddings against a loopback server.

use serde_json::json;

use crate::support::http::{Response, Server};
use crate::support::{NOW, Test, keys, sorted, step};

#[test]
fn facts_are_set_read_and_versioned_with_provenance() {
    let t = Test::new().env("AIOS_NOW", NOW).env("USER", "ada");
    t.aios(&["fact", "set", "customer:acme", "plan", "basic"])
        .success()
        .stdout_is("customer:acme plan = \"basic\" (version 1)\n");
    t.aios(&[
        "fact",
        "set",
        "customer:acme",
        "plan",
        "pro",
        "--note",
        "upgraded on call",
    ])
    .success()
    .stdout_is("customer:acme plan = \"pro\" (version 2)\n");
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    t.aios(&["fact", "get", "customer:acme", "plan"])
        .success()
        .stdout_is("pro\n");
    let all = t
        .aios(&["fact", "get", "customer:acme", "--json"])
        .success()
        .json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        keys(&all[0]),
        sorted(&[
            "entity",
            "key",
            "value",
            "version",
            "source",
            "run_id",
            "step_id",
            "proposal_id",
            "note",
            "set_by",
            "at",
            "unset"
        ])
    );
    assert_eq!(
        (
            all[0]["key"].clone(),
            all[0]["value"].clone(),
            all[0]["version"].clone()
        ),
        (json!("plan"), json!("pro"), json!(2))
    );
    assert_eq!(all[1]["value"], json!(5), "numbers stay numbers");
    assert_eq!(all[0]["at"], NOW);
    let h = t
        .aios(&["fact", "history", "customer:acme", "plan"])
        .success()
        .stdout;
    assert_eq!(
        h,
        format!(
            "v1   {NOW}  \"basic\"  manual by ada@{host}\nv2   {NOW}  \"pro\"  manual by ada@{host}: upgraded on call\n",
            host = crate::support::hostname()
        )
    );
    let h = t
        .aios(&["fact", "history", "customer:acme", "plan", "--json"])
        .success()
        .json();
    assert_eq!(h[1]["note"], "upgraded on call");
    assert_eq!(h[0]["source"], "manual");
}

#[test]
fn unknown_entities_and_keys_say_what_exists() {
    let t = Test::new();
    t.aios(&["fact", "get", "customer:acme"])
        .code(3)
        .stderr_is("error: no facts about `customer:acme`\nhint: no facts yet; set one with: aios fact set customer:acme KEY VALUE\n");
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "get", "customer:acne"])
        .code(3)
        .stderr_is("error: no facts about `customer:acne`\nhint: did you mean `customer:acme`?\n");
    t.aios(&["fact", "get", "customer:acme", "plane"])
        .code(3)
        .stderr_is("error: `customer:acme` has no fact `plane`\nhint: did you mean `plan`?\n");
    t.aios(&["fact", "history", "customer:acme", "seats"])
        .code(3)
        .stderr_contains("`customer:acme` has no fact `seats`\nhint: `customer:acme` has: plan");
    t.aios(&[
        "fact",
        "set",
        "customer:acme",
        "plan",
        "x",
        "--decision",
        "9",
    ])
    .code(3)
    .stderr_contains("error: no inbox item 9");
    t.aios(&["fact", "set", " ", "plan", "x"])
        .code(2)
        .stderr_contains("must not be empty");
}

#[test]
fn notes_are_searchable_and_full_text_alone_says_so() {
    let t = Test::new();
    t.aios(&[
        "memory",
        "add",
        "Acme prefers short emails; never on Fridays",
        "--tag",
        "customer:acme",
    ])
    .success()
    .stdout_is("memory 1 added\n");
    t.aios(&["memory", "add", "Globex pays invoices in EUR"])
        .success();
    let out = t
        .aios(&["memory", "search", "how does acme like emails", "--json"])
        .success();
    assert_eq!(
        out.stderr,
        "full-text search only: no [embeddings] in config.toml\n"
    );
    let hits = out.json();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0]["text"],
        "Acme prefers short emails; never on Fridays"
    );
    assert_eq!(hits[0]["tags"], json!(["customer:acme"]));
    assert_eq!(hits[0]["fts_rank"], 1);
    assert_eq!(hits[0]["vector_rank"], json!(null));
    t.aios(&["memory", "search", "acme"])
        .success()
        .stdout_contains("    1 note · customer:acme · ")
        .stdout_contains("       Acme prefers short emails; never on Fridays\n");
    // Query syntax of FTS5 is plain text here: never an error.
    for q in [
        "\"acme",
        "acme AND (",
        "NEAR(",
        "*",
        "col:x",
        "'); DROP TABLE x; --",
    ] {
        t.aios(&["memory", "search", q]).success();
    }
    t.aios(&["memory", "search", "zzz"])
        .success()
        .stdout_is("no memory matches\n");
    t.aios(&["memory", "add", "  "])
        .code(2)
        .stderr_contains("the note is empty");
}

#[test]
fn forgetting_removes_a_note_from_search() {
    let t = Test::new();
    t.aios(&["memory", "add", "the blue widget ships friday"])
        .success();
    t.aios(&["memory", "forget", "1"])
        .success()
        .stdout_is("memory 1 forgotten: the blue widget ships friday\n");
    let hits = t
        .aios(&["memory", "search", "widget", "--json"])
        .success()
        .json();
    assert_eq!(hits, json!([]));
    t.aios(&["memory", "forget", "1"])
        .code(3)
        .stderr_contains("error: no memory 1");
}

#[test]
fn import_is_one_transaction_with_line_numbers_on_errors() {
    let t = Test::new()
        .write(
            "notes.jsonl",
            "{\"text\": \"first\", \"tags\": [\"a\"]}\n\n{\"text\": \"second\", \"source\": \"crm\"}\n",
        )
        .write("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"x\", \"tagz\": []}\n")
        .write("empty-text.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"\"}\n")
        .write("broken.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
    t.aios(&["memory", "import", "bad.jsonl"])
        .code(2)
        .stderr_contains("error: bad.jsonl:2: unknown field `tagz`")
        .stderr_contains("nothing was imported");
    t.aios(&["memory", "import", "empty-text.jsonl"])
        .code(2)
        .stderr_contains("error: empty-text.jsonl:2: `text` is empty");
    t.aios(&["memory", "import", "broken.jsonl"])
        .code(2)
        .stderr_contains("error: broken.jsonl:2: ");
    t.aios(&["memory", "import", "missing.jsonl"]).code(3);
    // Nothing of the bad files was kept.
    assert_eq!(
        t.aios(&["memory", "search", "fine ok", "--json"])
            .success()
            .json(),
        json!([])
    );
    t.aios(&["memory", "import", "notes.jsonl"])
        .success()
        .stdout_is("imported 2 notes from notes.jsonl\n");
    let hits = t
        .aios(&["memory", "search", "second", "--json"])
        .success()
        .json();
    assert_eq!(hits[0]["source"], "crm");
    let hits = t
        .aios(&["memory", "search", "first", "--json"])
        .success()
        .json();
    assert_eq!(hits[0]["source"], "import notes.jsonl");
}

const MEMORY_WF: &str = r#"
name = "upgrade"

[inputs.customer]
type = "string"

[[steps]]
id = "remember"
kind = "remember"
text = "Upgraded {{ inputs.customer }} from {{ facts['customer:' ~ inputs.customer].plan }}"
tags = ["launch", "customer:{{ inputs.customer }}"]

[[steps]]
id = "upgrade"
kind = "fact"
entity = "customer:{{ inputs.customer }}"
key = "plan"
value = "enterprise"

[[steps]]
id = "seats"
kind = "fact"
entity = "customer:{{ inputs.customer }}"
key = "seats"
value = "{{ fact('customer:' ~ inputs.customer, 'seats') + 1 }}"

[[steps]]
id = "measure"
kind = "outcome"
values = { plan = "{{ facts['customer:' ~ inputs.customer].plan }}", upgraded = true }
"#;

#[test]
fn memory_steps_write_facts_notes_and_outcomes_from_a_run() {
    let t = Test::new().write("wf.toml", MEMORY_WF);
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "seats", "5"])
        .success();
    t.aios(&["check", "wf.toml"]).success();
    t.aios(&["run", "wf.toml", "-i", "customer=acme"]).success();
    let show = t.show(1);
    assert_eq!(
        step(&show, "remember")["output"],
        json!({"note": 1, "text": "Upgraded acme from pro", "tags": ["launch", "customer:acme"]})
    );
    assert_eq!(
        step(&show, "upgrade")["output"],
        json!({"entity": "customer:acme", "key": "plan", "value": "enterprise", "version": 2})
    );
    assert_eq!(
        step(&show, "seats")["output"]["value"],
        json!(6),
        "typed like set values"
    );
    assert_eq!(
        step(&show, "measure")["output"],
        json!({"values": {"plan": "enterprise", "upgraded": true}})
    );
    let h = t
        .aios(&["fact", "history", "customer:acme", "plan", "--json"])
        .success()
        .json();
    assert_eq!(h[1]["source"], "run");
    assert_eq!(
        (h[1]["run_id"].clone(), h[1]["step_id"].clone()),
        (json!(1), json!("upgrade"))
    );
    // Journaled like any other transition.
    let log = t.aios(&["log", "1", "--json"]).success().json();
    let types: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for ty in ["note_added", "fact_set", "outcome_recorded"] {
        assert!(types.contains(&ty), "{types:?}");
    }
    let hits = t
        .aios(&["memory", "search", "upgraded acme", "--json"])
        .success()
        .json();
    assert_eq!(hits[0]["run_id"], 1);
    assert_eq!(hits[0]["step_id"], "remember");
    t.aios(&["replay"]).success();
    // Forgetting a run's note is an event of that run; replay still agrees.
    t.aios(&["memory", "forget", "1"]).success();
    t.aios(&["replay", "1"]).success();
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("note 1 forgotten");
}

#[test]
fn an_unknown_fact_in_a_template_fails_the_step_with_a_clear_message() {
    let t = Test::new().write(
        "wf.toml",
        r#"
name = "f"
[[steps]]
id = "a"
kind = "set"
values = { plan = "{{ fact('customer:nobody', 'plan') }}" }
"#,
    );
    t.aios(&["run", "wf.toml"])
        .code(1)
        .stderr_contains("no facts about `customer:nobody`");
    t.aios(&["fact", "set", "customer:nobody", "seats", "1"])
        .success();
    t.aios(&["run", "wf.toml"])
        .code(1)
        .stderr_contains("`customer:nobody` has no fact `plan`");
}

#[test]
fn memory_kinds_are_validated_at_load_time() {
    let t = Test::new().write(
        "wf.toml",
        r#"
name = "bad"
[[steps]]
id = "a"
kind = "fact"
entity = ""
key = "plan"
approve = "always"

[[steps]]
id = "b"
kind = "remember"
txt = "x"

[[steps]]
id = "c"
kind = "outcome"
values = {}
"#,
    );
    let out = t.aios(&["check", "wf.toml"]).code(2);
    for msg in [
        "`entity` is empty",
        "missing required key `value` in step `a`",
        "fact steps have no side effects",
        "unknown key `txt` in step `b`",
        "missing required key `text` in step `b`",
        "`values` is empty",
    ] {
        assert!(out.stderr.contains(msg), "lacks {msg:?}:\n{}", out.stderr);
    }
}

#[test]
fn outcomes_attach_to_a_run_and_are_searchable_with_it() {
    let t = Test::new().env("AIOS_NOW", NOW).write(
        "wf.toml",
        "name = \"launch\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
    );
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&[
        "outcome",
        "1",
        "open_rate=0.41",
        "replies=3",
        "note=warm leads",
    ])
    .success()
    .stdout_is("run 1 (launch): open_rate=0.41 replies=3 note=warm leads\n");
    let list = t.aios(&["outcome", "1", "--json"]).success().json();
    assert_eq!(
        list,
        json!([
            {"run_id": 1, "key": "note", "value": "warm leads", "step_id": null, "at": NOW},
            {"run_id": 1, "key": "open_rate", "value": 0.41, "step_id": null, "at": NOW},
            {"run_id": 1, "key": "replies", "value": 3, "step_id": null, "at": NOW},
        ])
    );
    t.aios(&["outcome", "1"])
        .success()
        .stdout_contains("open_rate  0.41");
    let hits = t
        .aios(&[
            "memory",
            "search",
            "launch open rate",
            "--kind",
            "outcome",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(
        hits[0]["text"],
        "outcome of run 1 (launch): open_rate=0.41 replies=3 note=warm leads"
    );
    assert_eq!(hits[0]["run_id"], 1);
    t.aios(&["replay", "1"]).success();
    t.aios(&["outcome", "9", "x=1"])
        .code(3)
        .stderr_contains("no run 9");
    t.aios(&["outcome", "1", "oops"]).code(2).stderr_is(
        "error: `oops` is not NAME=VALUE\nhint: write it as aios outcome 1 name=value\n",
    );
}

#[test]
fn decisions_with_reasons_and_edits_are_searchable() {
    let t = Test::new().write(
        "wf.toml",
        r#"
name = "mail"
[[steps]]
id = "draft"
kind = "file"
path = "out.txt"
content = "Dear Sir, a very long letter"
"#,
    );
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["reject", "1", "--reason", "too formal, keep it short"])
        .code(1);
    let hits = t
        .aios(&["memory", "search", "formal", "--json"])
        .success()
        .json();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["kind"], "decision");
    assert_eq!(hits[0]["workflow"], "mail");
    assert_eq!(hits[0]["step_id"], "draft");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap()
            .ends_with("\nreason: too formal, keep it short"),
        "{}",
        hits[0]["text"]
    );
    // Decisions are part of their run's record: not forgettable.
    let id = hits[0]["id"].as_i64().unwrap().to_string();
    t.aios(&["memory", "forget", &id])
        .code(2)
        .stderr_contains("is a decision, not a note");
    t.aios(&["replay", "1"]).success();
}

fn embeddings_config(server: &Server) -> String {
    format!(
        "[embeddings]\nurl = \"{}\"\nmodel = \"mini\"\nbatch = 1\napi_key_env = \"EMBED_KEY\"\n",
        server.url("/v1")
    )
}

#[test]
fn with_embeddings_search_is_hybrid_and_notes_get_vectors() {
    let server = Server::start();
    server.respond(
        "/v1/embeddings",
        Response::json(
            200,
            json!({"data": [{"index": 0, "embedding": [0.1, 0.9, -0.3]}]}),
        ),
    );
    let t = Test::new()
        .env("EMBED_KEY", "sk-test")
        .write("config.toml", &embeddings_config(&server));
    t.aios(&["memory", "add", "Acme prefers short emails"])
        .success();
    let reqs = server.requests_to("/v1/embeddings");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json(),
        json!({"model": "mini", "input": ["Acme prefers short emails"]})
    );
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-test"));
    let out = t.aios(&["memory", "search", "acme", "--json"]).success();
    assert_eq!(out.stderr, "", "no full-text-only notice");
    let hits = out.json();
    assert_eq!(hits[0]["fts_rank"], 1);
    assert_eq!(hits[0]["vector_rank"], 1);
    // A word the text lacks is still found through its vector.
    let hits = t
        .aios(&["memory", "search", "correspondence", "--json"])
        .success()
        .json();
    assert_eq!(hits[0]["fts_rank"], json!(null));
    assert_eq!(hits[0]["vector_rank"], 1);
    // One request for the query per search; the note was embedded once.
    assert_eq!(server.count("/v1/embeddings"), 3);
}

#[test]
fn a_failing_embedding_server_falls_back_to_full_text() {
    let server = Server::start();
    server.respond(
        "/v1/embeddings",
        Response::json(500, json!({"error": {"message": "model not loaded"}})),
    );
    let t = Test::new()
        .env("EMBED_KEY", "k")
        .write("config.toml", &embeddings_config(&server));
    t.aios(&["memory", "add", "Acme prefers short emails"])
        .success()
        .stderr_contains("model not loaded; vectors will be added on a later command");
    let out = t.aios(&["memory", "search", "acme", "--json"]).success();
    assert!(
        out.stderr.contains("searching full text only"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()[0]["fts_rank"], 1);
    // Once the server works, the missing vectors are added.
    server.respond(
        "/v1/embeddings",
        Response::json(
            200,
            json!({"data": [{"index": 0, "embedding": [1.0, 0.0]}]}),
        ),
    );
    let hits = t
        .aios(&["memory", "search", "acme", "--json"])
        .success()
        .json();
    assert_eq!(hits[0]["vector_rank"], 1);
}

#[test]
fn bad_embeddings_config_is_a_clear_error() {
    let t = Test::new().write("config.toml", "[embeddings]\nmodel = \"m\"\n");
    t.aios(&["memory", "search", "x"])
        .code(2)
        .stderr_contains("[embeddings] needs `url`");
    let t = Test::new().write(
        "config.toml",
        "[embeddings]\nurl = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\napi_key_env = \"NOPE_KEY\"\n",
    );
    t.aios(&["memory", "search", "x"])
        .code(2)
        .stderr_contains("api_key_env names `NOPE_KEY`, which is not set");
}

#[test]
fn replay_agrees_when_a_run_writes_a_note_after_a_decision() {
    // Replay gives decisions new ids (after the note's kept one): still the same state.
    let t = Test::new().write(
        "wf.toml",
        "name = \"w\"\n[[steps]]\nid = \"f\"\nkind = \"file\"\npath = \"o.txt\"\ncontent = \"x\"\n[[steps]]\nid = \"r\"\nkind = \"remember\"\ntext = \"done\"\n",
    );
    for run in ["1", "2"] {
        t.aios(&["run", "wf.toml"]).success();
        t.aios(&["approve", run]).success();
    }
    t.aios(&["replay", "1"]).success();
    t.aios(&["replay", "2"]).success();
}
