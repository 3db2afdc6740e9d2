//! Distinct secret values planted through every path (the store, the secrets file,
//! a provider's key in the environment echoed back by the provider, a secret input
//! on the command line, a webhook's secret input, a hook's secret, a shell step that
//! prints a secret, a response that echoes one), then searched for in the database
//! (`aios.db`, `-wal`, `-shm`, read while the server holds them open; on PostgreSQL
//! every row of the test's database), every other
//! file under the data directory and the output of every command: zero hits. The
//! only files that hold them are the store's own.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::agent::{DRAFT, FREE_MODELS, GOOD, config};
use crate::serve::{post, sign, start, stop, wait_within};
use crate::support::http::{Response, Server};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Output, Test};

const STORE: &str = "planted-store-31a4f1c2";
const FILE: &str = "planted-file-77d2e9b0";
const ENV_KEY: &str = "sk-planted-env-5b6c7d8e";
const INPUT: &str = "planted-input-0f1e2d3c";
const HOOK_INPUT: &str = "planted-hook-input-9a8b7c6d";
const HOOK_SECRET: &str = "whsec_planted-hook-4d3c2b1a";
const ALL: &[&str] = &[STORE, FILE, ENV_KEY, INPUT, HOOK_INPUT, HOOK_SECRET];

/// Every way a value may reach aios, in one workflow.
fn workflow(server: &Server) -> String {
    format!(
        r#"name = "planted"
[inputs.pw]
secret = true
[inputs.user]
default = "ada"

[[steps]]
id = "call"
kind = "http"
method = "POST"
url = "{url}"
headers = {{ Authorization = "Bearer {{{{ secret('STORE_KEY') }}}}", X-File = "{{{{ secret('FILE_KEY') }}}}" }}
json = {{ user = "{{{{ inputs.user }}}}", pw = "{{{{ inputs.pw }}}}" }}

[[steps]]
id = "print"
kind = "shell"
approve = "never"
argv = ["sh", "-c", "echo \"$A $B $C\"; echo \"$C\" >&2; exit 3"]
env = {{ A = "{{{{ secret('STORE_KEY') }}}}", B = "{{{{ secret('FILE_KEY') }}}}", C = "{{{{ inputs.pw }}}}" }}
"#,
        url = server.url("/echo")
    )
}

/// A webhook's workflow: its secret input goes to a server that echoes it.
fn hooked(server: &Server) -> String {
    format!(
        r#"name = "hooked"
[inputs.token]
secret = true
[[steps]]
id = "send"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
headers = {{ X-Token = "{{{{ inputs.token }}}}" }}
"#,
        server.url("/hook-echo")
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn hits(bytes: &[u8]) -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        .collect()
}

#[test]
fn planted_secrets_are_nowhere_but_the_store() {
    let server = Server::start();
    server.respond(
        "/echo",
        Response::json(200, json!({"echo": [STORE, FILE, INPUT]})),
    );
    server.respond(
        "/hook-echo",
        Response::json(200, json!({"echo": HOOK_INPUT})),
    );
    let llm = LlmServer::start();
    llm.script(vec![
        Reply::error(401, &format!("Incorrect API key provided: {ENV_KEY}")),
        Reply::openai(GOOD, 3, 4),
    ]);
    let t = Test::new()
        .write("config.toml", &config(&llm, "openai", FREE_MODELS))
        .write("secrets.env", &format!("FILE_KEY={FILE}\n"))
        .write("planted.toml", &workflow(&server))
        .write("hooked.toml", &hooked(&server))
        .write("draft.toml", DRAFT)
        .env("LLM_KEY", ENV_KEY);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.join("secrets.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let mut outputs: Vec<Output> = Vec::new();
    let mut keep = |o: Output| -> Output {
        outputs.push(Output {
            args: o.args.clone(),
            stdout: o.stdout.clone(),
            stderr: o.stderr.clone(),
            code: o.code,
        });
        o
    };

    keep(
        t.args(&["secret", "set", "STORE_KEY"])
            .stdin(STORE)
            .run()
            .success(),
    );
    keep(
        t.args(&["hook", "add", "in", "hooked.toml", "--secret-stdin"])
            .stdin(HOOK_SECRET)
            .run()
            .success(),
    );
    keep(
        t.aios(&["check", "planted.toml", "hooked.toml", "draft.toml"])
            .success(),
    );
    // A provider that echoes its key in a 401, then the next model answers.
    keep(t.aios(&["run", "draft.toml"]).success());
    assert_eq!(
        llm.seen()[0].header("authorization"),
        Some(format!("Bearer {ENV_KEY}").as_str())
    );
    // A secret input on the command line; the action waits for approval.
    keep(
        t.aios(&["run", "planted.toml", "--input", &format!("pw={INPUT}")])
            .success(),
    );
    let item = t.item("call").to_string();
    for args in [
        vec!["inbox", "list"],
        vec!["inbox", "list", "--json"],
        vec!["inbox", "show", &item],
        vec!["inbox", "show", &item, "--json"],
        vec!["inbox", "show", &item, "--action"],
    ] {
        keep(t.aios(&args).success());
    }
    let action = keep(t.aios(&["inbox", "show", &item, "--action"]).success()).json();
    t.put("edit.json", &action.to_string());
    keep(t.aios(&["approve", &item, "--edit", "edit.json"]).code(1));
    let r = &server.requests_to("/echo")[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {STORE}").as_str())
    );
    assert_eq!(r.header("x-file"), Some(FILE));
    assert_eq!(r.json(), json!({"user": "ada", "pw": INPUT}));

    // A webhook's secret input, while the server holds the database open.
    let (bg, port) = start(&t, &[]);
    let body = format!(r#"{{"token": "{HOOK_INPUT}"}}"#);
    let reply = post(
        port,
        "/hooks/in",
        &[("X-Aios-Signature", &sign(HOOK_SECRET, body.as_bytes()))],
        body.as_bytes(),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(hits(reply.body.as_bytes()).is_empty());
    let hooked_run = reply.json()["run_id"].as_i64().unwrap().to_string();
    wait_within(std::time::Duration::from_secs(10), "the hooked run", || {
        t.show(hooked_run.parse().unwrap())["status"] == "succeeded"
    });
    assert_eq!(
        server.requests_to("/hook-echo")[0].header("x-token"),
        Some(HOOK_INPUT)
    );
    for run in ["1", "2", hooked_run.as_str()] {
        for args in [
            vec!["show", run],
            vec!["show", run, "--json"],
            vec!["log", run],
            vec!["log", run, "--json"],
        ] {
            keep(t.aios(&args).success());
        }
    }
    for args in [
        vec!["runs"],
        vec!["runs", "--json"],
        vec!["llm", "log"],
        vec!["llm", "log", "--json"],
        vec!["secret", "list"],
        vec!["secret", "list", "--json"],
        vec!["hook", "list", "--json"],
        vec!["replay"],
        vec!["budget", "--json"],
        vec!["memory", "search", "planted"],
    ] {
        keep(t.aios(&args).success());
    }

    // The files, while the server holds the database open (WAL and shared memory
    // included; on PostgreSQL, every row of the database), then the outputs.
    let on_sqlite = !crate::support::on_postgres();
    let db = t.join("aios.db");
    if on_sqlite {
        assert!(t.join("aios.db-wal").exists() && t.join("aios.db-shm").exists());
    }
    let found = hits(&t.journal_bytes());
    assert!(found.is_empty(), "the journal holds {found:?}");
    let mut searched = 0;
    for f in files_under(t.path()) {
        let rel = f.strip_prefix(t.path()).unwrap().to_path_buf();
        let store = rel.starts_with("secrets")
            || rel == Path::new("secrets.env")
            || rel == Path::new("hooks/in.secret");
        let found = hits(&std::fs::read(&f).unwrap());
        if store {
            continue;
        }
        searched += 1;
        assert!(found.is_empty(), "{} holds {found:?}", rel.display());
    }
    // On PostgreSQL the three files of the database are not in the folder.
    let files = if on_sqlite { 6 } else { 3 };
    assert!(searched >= files, "searched {searched} files");
    assert_eq!(db.exists(), on_sqlite);
    let out = stop(bg);
    outputs.push(out);
    for o in &outputs {
        let found = hits(format!("{}{}", o.stdout, o.stderr).as_bytes());
        assert!(found.is_empty(), "`aios {}` printed {found:?}", o.args);
    }
    // The run with the secret input failed (the shell step exits 3): it keeps its
    // input in the store until it is resumed or cancelled; the hooked run succeeded
    // and forgot its own.
    let kept: Vec<String> = files_under(&t.join("secrets/runs"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].contains(INPUT));
}
