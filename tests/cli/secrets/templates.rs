//! `{{ secret("NAME") }}` in a step: checked when the workflow loads, a placeholder
//! in everything kept and shown, the value put in at commit only, redacted from what
//! comes back; an edit may keep or move a placeholder, never add one or a value.

use serde_json::{Value as Json, json};

use crate::support::Test;
use crate::support::http::{Response, Server};

pub(crate) const TOKEN: &str = "tok-live-5c1e8d2b9a";
const PH: &str = "secret(\"API_TOKEN\")";

/// A POST whose header, query and JSON body carry the token, then a shell step that
/// gets it in its environment and argv and prints both.
pub(crate) fn pay(server: &Server) -> String {
    format!(
        r#"name = "pay"
[[steps]]
id = "charge"
kind = "http"
method = "POST"
url = "{}"
headers = {{ Authorization = "Bearer {{{{ secret(\"API_TOKEN\") }}}}" }}
query = {{ key = "{{{{ secret('API_TOKEN') }}}}" }}
json = {{ token = "{{{{ secret('API_TOKEN') }}}}", amount = 5 }}

[[steps]]
id = "echo"
kind = "shell"
approve = "never"
argv = ["sh", "-c", "printf '%s|%s' \"$TOKEN\" \"$1\"", "x", "{{{{ secret('API_TOKEN') }}}}"]
env = {{ TOKEN = "{{{{ secret('API_TOKEN') }}}}" }}
"#,
        server.url("/v1/charges")
    )
}

fn setup(server: &Server) -> Test {
    server.respond(
        "/v1/charges",
        Response::json(200, json!({"id": "ch_1", "seen_key": TOKEN})),
    );
    let t = Test::new().write("pay.toml", &pay(server));
    t.args(&["secret", "set", "API_TOKEN"])
        .stdin(TOKEN)
        .run()
        .success();
    t
}

#[test]
fn a_secret_is_a_placeholder_until_commit() {
    let server = Server::start();
    let t = setup(&server);
    let run = t.aios(&["run", "pay.toml"]).success();
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    let item = t.item("charge");
    let shown = t.aios(&["inbox", "show", &item.to_string()]).success();
    assert!(
        shown
            .stdout
            .contains(&format!("Authorization: Bearer {PH}")),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains(TOKEN));
    let action = t
        .aios(&["inbox", "show", &item.to_string(), "--action"])
        .success()
        .json();
    assert_eq!(action["headers"]["Authorization"], format!("Bearer {PH}"));
    assert_eq!(action["query"]["key"], PH);
    assert_eq!(action["json"], json!({"token": PH, "amount": 5}));
    assert!(server.requests().is_empty());

    let approved = t.aios(&["approve", &item.to_string()]).success();
    assert!(!approved.stdout.contains(TOKEN) && !approved.stderr.contains(TOKEN));
    // The server got the value, in every place.
    let r = &server.requests_to("/v1/charges")[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.query.as_deref(), Some(format!("key={TOKEN}").as_str()));
    assert_eq!(r.json(), json!({"token": TOKEN, "amount": 5}));
    // What came back is redacted: the echoed key, the shell step's output.
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let charge = crate::support::step(&show, "charge");
    assert_eq!(charge["output"]["body"]["seen_key"], PH);
    let echo = crate::support::step(&show, "echo");
    assert_eq!(echo["output"]["stdout"], format!("{PH}|{PH}"));
    for cmd in [
        vec!["show", "1"],
        vec!["log", "1"],
        vec!["log", "1", "--json"],
        vec!["inbox", "list", "--all", "--json"],
    ] {
        let out = t.aios(&cmd).success();
        assert!(!out.stdout.contains(TOKEN), "{cmd:?}: {}", out.stdout);
    }
    t.assert_journal_lacks(TOKEN);
}

#[test]
fn check_refuses_a_secret_that_is_not_set() {
    let server = Server::start();
    let t = Test::new().write("pay.toml", &pay(&server));
    let out = t.aios(&["check", "pay.toml"]).code(2);
    assert!(
        out.stderr.starts_with(
            "error: unknown secret `API_TOKEN`\n --> pay.toml:7:29\n  |\n7 | headers = { Authorization = \"Bearer {{ secret(\\\"API_TOKEN\\\") }}\" }\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("= hint: aios secret set API_TOKEN\n"),
        "{}",
        out.stderr
    );
    // Each secret once, at the first template that reads it.
    assert_eq!(
        out.stderr.matches("unknown secret").count(),
        1,
        "{}",
        out.stderr
    );
    t.aios(&["run", "pay.toml"]).code(2);
    t.aios(&["runs", "--json"]).success().stdout_is("[]\n");
    // From the secrets file too.
    t.put("secrets.env", &format!("API_TOKEN={TOKEN}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.join("secrets.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    t.aios(&["check", "pay.toml"]).success();
}

/// A secret goes only into an action: never to an LLM, a computed value or a
/// condition. Each is refused at load time with its place in the file.
#[test]
fn secrets_outside_actions_are_refused_at_load_time() {
    let t = Test::new().write(
        "wf.toml",
        r#"name = "w"
[[steps]]
id = "draft"
kind = "agent"
prompt = "Use the key {{ secret('API_TOKEN') }}"

[[steps]]
id = "calc"
kind = "set"
values = { k = "{{ secret('API_TOKEN') }}" }

[[steps]]
id = "post"
kind = "http"
when = "secret('API_TOKEN') != ''"
url = "https://example.com/secret(\"API_TOKEN\")"

[[steps]]
id = "named"
kind = "http"
url = "https://example.com/"
headers = { X = "{{ secret(name) }}" }
"#,
    );
    let err = t.aios(&["check", "wf.toml"]).code(2).stderr;
    for expected in [
        "error: step `draft` is an agent step: `secret(\"API_TOKEN\")` would go to an LLM, and a secret never goes to an LLM\n --> wf.toml:5:10",
        "error: step `calc` is a `set` step: it cannot read `secret(\"API_TOKEN\")`\n  --> wf.toml:10:16",
        "error: the `when` condition of step `post` reads `secret(\"API_TOKEN\")`\n  --> wf.toml:15:8",
        "error: `secret(\"API_TOKEN\")` here is plain text, not the secret\n  --> wf.toml:16:7",
        "error: `secret` takes the secret's name as one quoted literal: secret(\"NAME\")\n  --> wf.toml:22:17",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn a_value_that_only_looks_like_a_placeholder_is_sent_as_text() {
    let server = Server::start();
    server.respond("/echo", Response::json(200, json!({"ok": true})));
    let t = Test::new().write(
        "wf.toml",
        &format!(
            r#"name = "w"
[inputs.note]
[[steps]]
id = "post"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
json = {{ note = "{{{{ inputs.note }}}}", text = "say {{{{ inputs.note }}}}" }}
"#,
            server.url("/echo")
        ),
    );
    t.args(&["secret", "set", "API_TOKEN"])
        .stdin(TOKEN)
        .run()
        .success();
    t.aios(&["run", "wf.toml", "--input", "note=secret(\"API_TOKEN\")"])
        .success();
    let body = server.requests_to("/echo")[0].json();
    assert_eq!(
        body,
        json!({"note": "secret(\"API_TOKEN\")", "text": "say secret(\"API_TOKEN\")"})
    );
}

#[test]
fn a_secret_removed_before_commit_fails_the_step_with_the_command_to_set_it() {
    let server = Server::start();
    let t = setup(&server);
    t.aios(&["run", "pay.toml"]).success();
    t.aios(&["secret", "rm", "API_TOKEN"]).success();
    t.aios(&["approve", &t.item("charge").to_string()]).code(1);
    let show = t.show(1);
    assert_eq!(
        crate::support::step(&show, "charge")["error"],
        "the secret `API_TOKEN` is not set; aios secret set API_TOKEN"
    );
    assert!(server.requests().is_empty());
}

/// An edit may keep, move or drop the proposed action's placeholders; it may not
/// name another secret, nor hold a secret's value.
#[test]
fn an_edit_moves_placeholders_but_never_adds_a_secret_or_a_value() {
    let server = Server::start();
    let t = setup(&server);
    t.args(&["secret", "set", "OTHER_KEY"])
        .stdin("other-value-77aa")
        .run()
        .success();
    t.aios(&["run", "pay.toml"]).success();
    let id = t.item("charge").to_string();
    let action = t.aios(&["inbox", "show", &id, "--action"]).success().json();

    let edit = |t: &Test, a: &Json| {
        t.put("edit.json", &a.to_string());
        t.aios(&["approve", &id, "--edit", "edit.json"])
    };
    let mut other = action.clone();
    other["headers"]["X-Other"] = json!("secret(\"OTHER_KEY\")");
    let out = edit(&t, &other).code(2);
    assert!(
        out.stderr.contains(
            "the edit names secret(\"OTHER_KEY\"), which the proposed action does not use: an edit may keep, move or remove the proposed action's secrets (secret(\"API_TOKEN\")), not add another"
        ),
        "{}",
        out.stderr
    );
    let mut unknown = action.clone();
    unknown["json"]["x"] = json!("secret(\"NOPE\")");
    edit(&t, &unknown)
        .code(2)
        .stderr_contains("the edit names secret(\"NOPE\")");
    let mut value = action.clone();
    value["json"]["token"] = json!(TOKEN);
    let out = edit(&t, &value).code(2);
    assert!(
        out.stderr
            .contains("edit.json holds the value of the secret `API_TOKEN`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN));
    assert!(server.requests().is_empty());

    // Moved: the token goes in a header of its own, out of the query and body.
    let mut moved = action.clone();
    moved["headers"] = json!({"X-Api-Key": PH});
    moved["query"] = json!({});
    moved["json"] = json!({"amount": 6});
    edit(&t, &moved).success();
    let r = &server.requests_to("/v1/charges")[0];
    assert_eq!(r.header("x-api-key"), Some(TOKEN));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.json(), json!({"amount": 6}));
    let log = t.aios(&["log", "1"]).success().stdout;
    assert!(
        log.contains(r#"+    "X-Api-Key": "secret(\"API_TOKEN\")""#),
        "{log}"
    );
    assert!(!log.contains(TOKEN));
}
