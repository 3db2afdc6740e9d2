//! Personas: `[personas.NAME]` scopes, checked when an action is rendered, when an
//! edit is approved and again at commit; `aios check`'s literal violations; `aios
//! persona list|show`.

use serde_json::json;

use crate::support::Test;

const SUPPORT: &str = r#"
[personas.support]
http_hosts = ["api.helpdesk.example", "*.example.com"]
http_methods = ["GET", "POST"]
shell_programs = ["git"]
email_from = ["support@me.example"]
email_to_domains = ["customer.example"]
mcp_tools = ["crm.get*"]
secrets = ["HELPDESK_TOKEN"]
models = ["fast"]
max_usd_day = 1.0
"#;

#[test]
fn persona_list_and_show_print_effective_scopes() {
    let t = Test::new().write("config.toml", SUPPORT);
    let out = t.aios(&["persona", "list"]).success();
    assert!(
        out.stdout
            .contains("default           built-in  anything aios allows"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("support           config    http: api.helpdesk.example, *.example.com;"),
        "{}",
        out.stdout
    );
    let show = t.aios(&["persona", "show", "support"]).success();
    assert!(
        show.stdout.contains("  file_roots        nothing\n"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout
            .contains("  email_to_domains  customer.example\n"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("  max_usd_day       $1.00\n"),
        "{}",
        show.stdout
    );
    let j = t
        .aios(&["persona", "show", "support", "--json"])
        .success()
        .json();
    assert_eq!(j["mcp_tools"], json!(["crm.get*"]));
    assert_eq!(j["http_methods"], json!(["GET", "POST"]));
    let d = t
        .aios(&["persona", "show", "default", "--json"])
        .success()
        .json();
    assert_eq!(d["http_hosts"], json!(["*"]));
    assert_eq!(d["builtin"], true);
    let all = t.aios(&["persona", "list", "--json"]).success().json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    t.aios(&["persona", "show", "sales"])
        .code(3)
        .stderr_contains("error: no persona `sales`")
        .stderr_contains("hint: aios persona list (configured: default, support)");
}

#[test]
fn a_bad_persona_key_is_refused_with_the_keys() {
    let t = Test::new().write("config.toml", "[personas.x]\nhttp_host = [\"a\"]\n");
    t.aios(&["persona", "list"])
        .code(2)
        .stderr_contains("[personas.x] `http_host` is not a persona key")
        .stderr_contains("a persona takes: http_hosts, http_methods");
}

/// An HTTP step whose URL comes from an input: only rendering can tell its host.
const FETCH: &str = r#"
name = "fetch"
persona = "support"

[inputs]
url = { type = "string" }

[[steps]]
id = "get"
kind = "http"
method = "POST"
url = "{{ inputs.url }}"
"#;

#[test]
fn a_rendered_action_out_of_scope_fails_the_step_naming_the_persona_and_rule() {
    let t = Test::new()
        .write("config.toml", SUPPORT)
        .write("fetch.toml", FETCH);
    t.aios(&[
        "run",
        "fetch.toml",
        "--input",
        "url=https://evil.test/steal",
        "-q",
    ])
    .code(1);
    let show = t.show(1);
    let err = show["steps"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("persona `support` does not allow the HTTP host evil.test:443: it is not in its `http_hosts` (api.helpdesk.example, *.example.com)"),
        "{err}"
    );
    // Nothing was proposed (the failed run has its failure item only).
    assert!(
        t.inbox().iter().all(|i| i["kind"] == "failure"),
        "{:?}",
        t.inbox()
    );
    // In scope: proposed as usual.
    t.aios(&[
        "run",
        "fetch.toml",
        "--input",
        "url=https://api.example.com/tickets",
        "-q",
    ])
    .success()
    .stdout_contains("is waiting for you");
}

#[test]
fn an_edit_cannot_take_the_action_out_of_scope_and_commit_checks_again() {
    let t = Test::new()
        .write("config.toml", SUPPORT)
        .write("fetch.toml", FETCH);
    t.aios(&[
        "run",
        "fetch.toml",
        "--input",
        "url=https://api.example.com/tickets",
        "-q",
    ])
    .success();
    let id = t.item("get").to_string();
    let mut action = t.aios(&["inbox", "show", &id, "--action"]).success().json();
    action["url"] = "https://evil.test/steal".into();
    t.put("edit.json", &action.to_string());
    t.aios(&["approve", &id, "--edit", "edit.json"])
        .code(2)
        .stderr_contains("error: edit.json is not valid: persona `support` does not allow the HTTP host evil.test:443")
        .stderr_contains("hint: keep the action within the persona (aios persona show support)");
    // Nothing was decided.
    assert_eq!(t.inbox()[0]["status"], "pending");

    // The persona is narrowed after the proposal: the commit checks again.
    t.put(
        "config.toml",
        &SUPPORT.replace(
            "http_hosts = [\"api.helpdesk.example\", \"*.example.com\"]",
            "http_hosts = [\"api.helpdesk.example\"]",
        ),
    );
    t.aios(&["approve", &id]).code(1);
    let err = t.show(1)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("persona `support` does not allow the HTTP host api.example.com:443"),
        "{err}"
    );
}

#[test]
fn check_reports_literal_violations_with_their_place() {
    let t = Test::new().write("config.toml", SUPPORT).write(
        "wf.toml",
        r#"name = "bad"
persona = "support"

[[steps]]
id = "call"
kind = "http"
url = "https://evil.test/x"

[[steps]]
id = "wipe"
kind = "shell"
argv = ["rm", "-rf", "/tmp/x"]

[[steps]]
id = "sh"
kind = "shell"
script = "git status"

[[steps]]
id = "think"
kind = "agent"
model = "smart"
prompt = "hi"

[[steps]]
id = "send"
kind = "http"
method = "DELETE"
url = "https://api.helpdesk.example/x"
headers = { Authorization = "{{ secret(\"STRIPE_KEY\") }}" }

[[steps]]
id = "other"
kind = "set"
persona = "nobody"
values = { a = 1 }
"#,
    );
    t.args(&["secret", "set", "STRIPE_KEY"])
        .stdin("sk_x\n")
        .run()
        .success();
    let out = t.aios(&["check", "wf.toml"]).code(2);
    for (msg, at) in [
        (
            "persona `support` does not allow the HTTP host evil.test:443",
            "wf.toml:7:7",
        ),
        (
            "persona `support` does not allow the program `rm`",
            "wf.toml:12:9",
        ),
        (
            "persona `support` does not allow the program `sh`: it is not in its `shell_programs` (git)",
            "wf.toml:17:10",
        ),
        (
            "persona `support` does not allow the model alias `smart`",
            "wf.toml:22:9",
        ),
        (
            "persona `support` does not allow the HTTP method DELETE",
            "wf.toml:28:10",
        ),
        (
            "persona `support` does not allow the secret `STRIPE_KEY`",
            "wf.toml:30:",
        ),
        ("persona `nobody` is not configured", "wf.toml:35:11"),
    ] {
        assert!(out.stderr.contains(msg), "{msg}\n{}", out.stderr);
        assert!(out.stderr.contains(at), "{at}\n{}", out.stderr);
    }
    assert!(
        out.stderr
            .contains("hint: add [personas.nobody] to config.toml"),
        "{}",
        out.stderr
    );
    // `run` refuses it the same way, before recording anything.
    t.aios(&["run", "wf.toml"]).code(2);
    assert!(
        t.aios(&["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_workflow_without_persona_runs_under_default_which_allows_everything() {
    let t = Test::new().write("config.toml", SUPPORT).write(
        "wf.toml",
        "name = \"free\"\n\n[[steps]]\nid = \"run\"\nkind = \"shell\"\napprove = \"never\"\nargv = [\"echo\", \"hi\"]\n",
    );
    t.aios(&["check", "wf.toml"]).success();
    t.aios(&["run", "wf.toml", "-q"]).success();
    assert_eq!(t.show(1)["steps"][0]["output"]["stdout"], "hi\n");
}

#[test]
fn a_persona_requiring_a_sandbox_refuses_shell_steps_that_turn_it_off() {
    let wf = |sandbox: &str| {
        format!(
            "name = \"boxed\"\npersona = \"boxed\"\n\n[[steps]]\nid = \"run\"\nkind = \"shell\"\napprove = \"never\"\nargv = [\"{{{{ 'echo' }}}}\", \"hi\"]\n{sandbox}"
        )
    };
    let t = Test::new()
        .write(
            "config.toml",
            "[personas.boxed]\nshell_programs = [\"echo\"]\nsandbox = \"required\"\n",
        )
        .write("off.toml", &wf("sandbox = \"off\"\n"))
        .write("weak.toml", &wf("sandbox = { mode = \"best_effort\" }\n"))
        .write("boxed.toml", &wf(""));
    // Refused when rendered: nothing runs.
    t.aios(&["run", "off.toml", "-q"]).code(1);
    let err = t.show(1)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains(
            "persona `boxed` requires shell steps to run sandboxed (sandbox = \"required\"), and this step's sandbox is `off`"
        ),
        "{err}"
    );
    assert!(t.show(1)["steps"][0]["output"].is_null());
    t.aios(&["run", "weak.toml", "-q"]).code(1);
    let err = t.show(2)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("this step's sandbox is `best_effort`"),
        "{err}"
    );
    // The default sandbox (`required`) is what the persona asks for: it runs, confined.
    t.aios(&["run", "boxed.toml", "-q"]).success();
    let out = &t.show(3)["steps"][0]["output"];
    assert_eq!(out["stdout"], "hi\n");
    assert!(
        out["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("landlock ABI "),
        "{out}"
    );
}

#[test]
fn aios_check_reports_a_literal_shell_step_whose_sandbox_the_persona_refuses() {
    let t = Test::new()
        .write(
            "config.toml",
            "[personas.boxed]\nshell_programs = [\"echo\"]\nsandbox = \"best_effort\"\n",
        )
        .write(
            "wf.toml",
            "name = \"boxed\"\npersona = \"boxed\"\n\n[[steps]]\nid = \"run\"\nkind = \"shell\"\nargv = [\"echo\", \"hi\"]\nsandbox = \"off\"\n",
        );
    t.aios(&["check", "wf.toml"])
        .code(2)
        .stderr_contains("wf.toml:7:9")
        .stderr_contains("(sandbox = \"best_effort\"), and this step's sandbox is `off`");
}

/// The README's worked example: a `support` persona that may only email customers of
/// one domain and read the CRM's tools (server-everything stands in for the CRM).
#[test]
fn the_support_persona_reads_the_crm_and_nothing_else() {
    let crm = crate::support::mcp::everything_config().replace("[mcp.everything]", "[mcp.crm]");
    let t = Test::new()
        .write(
            "config.toml",
            &format!(
                "{crm}\n[personas.support]\nemail_from = [\"support@me.example\"]\nemail_to_domains = [\"customer.example\"]\nmcp_tools = [\"crm.get*\"]\n"
            ),
        )
        .write(
            "support.toml",
            r#"name = "support"
persona = "support"

[[steps]]
id = "lookup"
kind = "tool"
server = "crm"
tool = "get-sum"
args = { a = 2, b = 40 }
approve = "never"
"#,
        )
        .write(
            "bad.toml",
            r#"name = "bad"
persona = "support"

[[steps]]
id = "write"
kind = "tool"
server = "crm"
tool = "echo"
args = { message = "hi" }

[[steps]]
id = "call"
kind = "http"
url = "https://api.example.com/x"
"#,
        );
    t.aios(&["check", "support.toml"]).success();
    t.aios(&["run", "support.toml", "-q"])
        .success()
        .stdout_contains("run 1 (support) succeeded");
    assert_eq!(
        t.show(1)["steps"][0]["output"],
        json!(["The sum of 2 and 40 is 42."])
    );
    let out = t.aios(&["check", "bad.toml"]).code(2);
    assert!(
        out.stderr.contains("persona `support` does not allow the tool crm.echo: it is not in its `mcp_tools` (crm.get*)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(" --> bad.toml:8:8"), "{}", out.stderr);
    assert!(
        out.stderr.contains("persona `support` does not allow the HTTP method GET: it is not in its `http_methods` (empty: nothing is allowed)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("persona `support` does not allow the HTTP host api.example.com:443"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_file_step_must_write_beneath_the_personas_roots() {
    let t = Test::new();
    let allowed = t.join("support");
    std::fs::create_dir_all(&allowed).unwrap();
    t.put(
        "config.toml",
        &format!(
            "[personas.files]\nfile_roots = [{:?}]\n",
            allowed.display().to_string()
        ),
    );
    t.put(
        "wf.toml",
        "name = \"notes\"\npersona = \"files\"\n\n[inputs]\nroot = { type = \"string\" }\n\n[[steps]]\nid = \"save\"\nkind = \"file\"\napprove = \"never\"\nroot = \"{{ inputs.root }}\"\npath = \"note.txt\"\ncontent = \"hi\"\n",
    );
    t.aios(&["run", "wf.toml", "--input", "root=support", "-q"])
        .success();
    assert_eq!(t.read("support/note.txt"), "hi");
    t.aios(&["run", "wf.toml", "--input", "root=elsewhere", "-q"])
        .code(1);
    let err = t.show(2)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("persona `files` does not allow files under") && err.contains("file_roots"),
        "{err}"
    );
    assert!(!t.join("elsewhere/note.txt").exists());
}

/// An email under the `support` persona: only from its sender, only to its customers'
/// domain (checked in the file, when rendered, and on an edit).
#[test]
fn the_support_persona_emails_only_its_customers() {
    use crate::support::smtp::{Opts, SmtpServer};
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = crate::email::with_server(&server);
    t.put(
        "config.toml",
        &format!(
            "{}\n[personas.support]\nemail_from = [\"ada@example.com\"]\nemail_to_domains = [\"customer.example\"]\n",
            server.config(None)
        ),
    );
    t.put(
        "mail.toml",
        "name = \"reply\"\npersona = \"support\"\n\n[inputs.who]\ndefault = \"bob@customer.example\"\n\n[[steps]]\nid = \"send\"\nkind = \"email\"\nto = \"{{ inputs.who }}\"\nsubject = \"Your ticket\"\ntext = \"Fixed.\"\n",
    );
    t.aios(&["run", "mail.toml", "-q"])
        .success()
        .stdout_contains("is waiting for you");
    // Rendered to another domain: refused, nothing proposed.
    t.aios(&[
        "run",
        "mail.toml",
        "--input",
        "who=eve@elsewhere.example",
        "-q",
    ])
    .code(1);
    let err = t.show(2)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("persona `support` does not allow the recipient eve@elsewhere.example: it is not in its `email_to_domains` (customer.example)"),
        "{err}"
    );
    // An edit adding a recipient elsewhere is refused.
    let mut action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    action["cc"] = serde_json::json!(["eve@elsewhere.example"]);
    t.put("edit.json", &action.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json"])
        .code(2)
        .stderr_contains("does not allow the recipient eve@elsewhere.example");
    // Literal values are reported by `aios check`.
    t.put(
        "bad.toml",
        "name = \"bad\"\npersona = \"support\"\n\n[[steps]]\nid = \"send\"\nkind = \"email\"\nfrom = \"Mallory <mallory@example.com>\"\nto = [\"eve@elsewhere.example\"]\nsubject = \"x\"\ntext = \"y\"\n",
    );
    let out = t.aios(&["check", "bad.toml"]).code(2);
    assert!(
        out.stderr
            .contains("persona `support` does not allow sending from mallory@example.com")
            && out.stderr.contains("bad.toml:7:8"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("does not allow the recipient eve@elsewhere.example")
            && out.stderr.contains("bad.toml:8:6"),
        "{}",
        out.stderr
    );
}

/// A compensation runs under the persona of the step it undoes: an undo out of its
/// scopes does not render (`--plan` says why), and the one proposed is committed
/// under it (a persona narrowed meanwhile stops it).
#[test]
fn a_compensation_runs_under_the_persona_of_the_step_it_undoes() {
    let t = Test::new();
    let books = t.join("books");
    std::fs::create_dir_all(&books).unwrap();
    std::fs::create_dir_all(t.join("elsewhere")).unwrap();
    let persona = |roots: &str| format!("[personas.files]\nfile_roots = [{roots}]\n");
    t.put(
        "config.toml",
        &persona(&format!("{:?}", books.display().to_string())),
    );
    t.put(
        "wf.toml",
        "name = \"books\"\npersona = \"files\"\n\n[[steps]]\nid = \"save\"\nkind = \"file\"\napprove = \"never\"\nroot = \"books\"\npath = \"note.txt\"\ncontent = \"hi\\n\"\nundo = { kind = \"file\", root = \"books\", path = \"note.txt\", mode = \"append\", content = \"undone\\n\" }\n\n[[steps]]\nid = \"log\"\nkind = \"file\"\napprove = \"never\"\nneeds = [\"save\"]\nroot = \"books\"\npath = \"log.txt\"\ncontent = \"saved\\n\"\nundo = { kind = \"file\", root = \"elsewhere\", path = \"log.txt\", content = \"undone\\n\" }\n",
    );
    t.aios(&["run", "wf.toml", "-q"]).success();
    let plan = t.aios(&["undo", "--plan", "1"]).success().stdout;
    assert!(
        plan.contains("log (file): cannot be undone: its `undo` does not render: persona `files` does not allow files under"),
        "{plan}"
    );
    t.aios(&["undo", "1"]).success();
    let item = t.item("undo_save");
    // Narrowed before the approval: the compensation's commit is refused.
    t.put(
        "config.toml",
        &persona(&format!("{:?}", t.join("elsewhere").display().to_string())),
    );
    t.aios(&["approve", &item.to_string()]).code(1);
    let err = t.show(2)["steps"][0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("persona `files` does not allow files under"),
        "{err}"
    );
    assert_eq!(t.read("books/note.txt"), "hi\n");
    assert!(!t.join("elsewhere/log.txt").exists());
}
