//! Email steps without a server: reading the fields, rendering, the message's bytes,
//! edits and the description. Sending is tested against a real SMTP server in
//! `tests/cli/email.rs`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::config::ConfigFile;
use crate::connectors::{Action, ActionSpec, CheckCx, RenderCx};
use crate::mcp::NoServers;
use crate::template::Context;
use crate::workflow::{Approve, StepSpec};

fn config(text: &str) -> (tempfile::TempDir, ConfigFile) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    let c = ConfigFile::load(&p).unwrap();
    (dir, c)
}

const SMTP: &str =
    "[smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"Ada <ada@example.com>\"\n";

fn spec(step: &str) -> EmailSpec {
    let src = format!(
        "name = \"t\"\n[inputs.who]\ndefault = \"x@y.z\"\n[[steps]]\nid = \"send\"\nkind = \"email\"\n{step}"
    );
    let wf = crate::workflow::load(&src, "t.toml").unwrap_or_else(|d| {
        panic!("{}", d.render(&src, "t.toml", false));
    });
    match &wf.steps[0].spec {
        StepSpec::Action(ActionSpec::Email(s)) => s.clone(),
        other => panic!("not an email step: {other:?}"),
    }
}

fn problems(step: &str) -> String {
    let src = format!("name = \"t\"\n[[steps]]\nid = \"send\"\nkind = \"email\"\n{step}");
    match crate::workflow::load(&src, "t.toml") {
        Ok(_) => String::new(),
        Err(d) => d.render(&src, "t.toml", false),
    }
}

fn render(s: &EmailSpec, dir: &Path, cfg: &ConfigFile) -> Result<EmailAction, String> {
    let ctx = Context::new(
        &json!({ "who": "bob@example.com" }),
        1,
        "2026-11-21T09:30:00Z",
    );
    let r = RenderCx {
        ctx: &ctx,
        dir,
        run_uid: "0192f0c1",
        step_id: "send",
        attempt: 1,
        tools: &NoServers,
        config: cfg,
        persona: &crate::trust::Persona::open(),
    };
    Email::render(s, &r).map(|e| *e.0)
}

#[test]
fn fields_are_read_and_mistakes_placed() {
    let s = spec(
        "to = [\"{{ inputs.who }}\", \"Eve <eve@example.com>\"]\ncc = \"carol@example.com\"\nsubject = \"Hi\"\nmarkdown = \"**hi**\"\nattachments = [\"a.txt\", { path = \"b/c.pdf\", name = \"C.pdf\" }]\nheaders = { \"X-Campaign\" = \"launch\" }\naccount = \"work\"\n",
    );
    assert_eq!(s.account.as_deref(), Some("work"));
    assert!(s.markdown.is_some() && s.html.is_none());
    let cases = [
        (
            "subject = \"x\"\ntext = \"y\"\n",
            "an email step needs a recipient",
        ),
        (
            "to = \"a@b.c\"\ntext = \"y\"\n",
            "missing required key `subject`",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\n",
            "an email step needs a body",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\nhtml = \"<p>\"\nmarkdown = \"y\"\n",
            "takes `html` or `markdown`, not both",
        ),
        (
            "to = 3\nsubject = \"x\"\ntext = \"y\"\n",
            "`to` must be an address or a list",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\ntext = \"y\"\nattachments = [\"../secret\"]\n",
            "attachment path `../secret` escapes the root folder",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\ntext = \"y\"\nattachments = [\"/etc/passwd\"]\n",
            "is absolute",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\ntext = \"y\"\nheaders = { Bcc = \"x@y.z\" }\n",
            "header `Bcc` is set by the step's own fields",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\ntext = \"y\"\naccount = \"{{ inputs.a }}\"\n",
            "is not an account name",
        ),
        (
            "to = \"a@b.c\"\nsubject = \"x\"\ntext = \"y\"\nattachments = [{ name = \"x\" }]\n",
            "an attachment needs `path`",
        ),
    ];
    for (step, want) in cases {
        let p = problems(step);
        assert!(p.contains(want), "{step}\n---\n{p}");
        assert!(p.contains("t.toml:"), "placed: {p}");
    }
}

#[test]
fn render_fixes_addresses_attachments_and_the_message_id() {
    let (_d, cfg) = config(SMTP);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir_all(work.path().join("b")).unwrap();
    std::fs::write(work.path().join("b/c.pdf"), b"%PDF-1.4 x").unwrap();
    let s = spec(
        "to = [\"{{ inputs.who }}\", \"Eve Smith <eve@example.com>\"]\nsubject = \"Hi {{ inputs.who }}\"\ntext = \"Hello\"\nattachments = [\"a.txt\", { path = \"b/c.pdf\", name = \"Prices.pdf\" }]\n",
    );
    let a = render(&s, work.path(), &cfg).unwrap();
    assert_eq!(a.account, "default");
    assert_eq!(a.from, "Ada <ada@example.com>");
    assert_eq!(a.to, ["bob@example.com", "Eve Smith <eve@example.com>"]);
    assert_eq!(a.subject, "Hi bob@example.com");
    assert_eq!(a.message_id, "<aios.0192f0c1.send.1@example.com>");
    assert_eq!(a.attachments[0].name, "a.txt");
    assert_eq!(a.attachments[0].content_type, "text/plain");
    assert_eq!(a.attachments[0].size, Some(6));
    assert_eq!(
        a.attachments[0].sha256.as_deref(),
        Some(message::sha256_hex(b"alpha\n").as_str())
    );
    assert_eq!(
        (
            a.attachments[1].name.as_str(),
            a.attachments[1].content_type.as_str()
        ),
        ("Prices.pdf", "application/pdf")
    );
    Action::Email(a.clone().into()).validate().unwrap();

    // A missing file, a bad address, an unknown account: the step fails, clearly.
    let missing =
        spec("to = \"x@y.z\"\nsubject = \"s\"\ntext = \"t\"\nattachments = [\"nope.pdf\"]\n");
    let e = render(&missing, work.path(), &cfg).unwrap_err();
    assert!(e.contains("nope.pdf"), "{e}");
    let bad = spec("to = \"{{ inputs.who }}, not-an-address\"\nsubject = \"s\"\ntext = \"t\"\n");
    let e = render(&bad, work.path(), &cfg).unwrap_err();
    assert_eq!(e, "`to`: `not-an-address` is not an email address");
    let other = spec("to = \"x@y.z\"\nsubject = \"s\"\ntext = \"t\"\naccount = \"work\"\n");
    let e = render(&other, work.path(), &cfg).unwrap_err();
    assert!(e.starts_with("no SMTP account `work` in "), "{e}");
    let (_d2, none) = config("");
    let e = render(&other, work.path(), &none).unwrap_err();
    assert!(
        e.contains("has no [smtp] section") && e.contains("add [smtp.work]"),
        "{e}"
    );
}

#[test]
fn a_symlink_out_of_the_root_is_not_attached() {
    let (_d, cfg) = config(SMTP);
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), work.path().join("link")).unwrap();
    let s = spec("to = \"x@y.z\"\nsubject = \"s\"\ntext = \"t\"\nattachments = [\"link\"]\n");
    let e = render(&s, work.path(), &cfg).unwrap_err();
    assert!(e.contains("escapes the root folder"), "{e}");
}

fn action() -> EmailAction {
    EmailAction {
        account: "default".into(),
        from: "Ada <ada@example.com>".into(),
        to: vec!["bob@example.com".into()],
        cc: vec!["Carol <carol@example.com>".into()],
        bcc: vec!["hidden@example.com".into()],
        reply_to: Vec::new(),
        subject: "Office hours — open".into(),
        text: Some("Hi Bob,\n\nBook a slot.\n".into()),
        html: None,
        markdown: None,
        headers: BTreeMap::from([("X-Campaign".to_string(), "launch".to_string())]),
        root: "/tmp".into(),
        attachments: Vec::new(),
        message_id: "<aios.u1.send.1@example.com>".into(),
    }
}

fn at_noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_253_400)
}

#[test]
fn the_message_is_the_same_bytes_every_time() {
    let a = action();
    let m = message::build(&a, Vec::new(), at_noon()).unwrap();
    let bytes = String::from_utf8(m.formatted()).unwrap();
    assert_eq!(
        bytes,
        String::from_utf8(
            message::build(&a, Vec::new(), at_noon())
                .unwrap()
                .formatted()
        )
        .unwrap()
    );
    assert!(
        bytes.starts_with("From: Ada <ada@example.com>\r\n"),
        "{bytes}"
    );
    assert!(bytes.contains("\r\nMessage-ID: <aios.u1.send.1@example.com>\r\n"));
    assert!(bytes.contains("\r\nX-Campaign: launch\r\n"));
    assert!(bytes.contains("\r\nDate: "), "{bytes}");
    assert!(
        !bytes.contains("hidden@example.com"),
        "Bcc stays out of the headers"
    );
    assert!(
        bytes.contains("\r\nSubject: Office hours =?utf-8?b?4oCU?= open\r\n"),
        "non-ASCII subject encoded: {bytes}"
    );
    assert!(bytes.is_ascii());
    let to: Vec<String> = m.envelope().to().iter().map(|a| a.to_string()).collect();
    assert_eq!(
        to,
        ["bob@example.com", "carol@example.com", "hidden@example.com"]
    );

    // Markdown: a text and an HTML part; an attachment: mixed, boundaries fixed.
    let mut md = action();
    md.text = None;
    md.markdown = Some("# Slots\n\n**Tuesday**\n".into());
    md.attachments = vec![EmailAttachment {
        path: "slots.txt".into(),
        name: "slots.txt".into(),
        content_type: "text/plain".into(),
        size: Some(4),
        sha256: None,
    }];
    let m = message::build(&md, vec![b"Tue\n".to_vec()], at_noon()).unwrap();
    let text = String::from_utf8(m.formatted()).unwrap();
    let mixed = format!(
        "aios-mixed-{}",
        &message::sha256_hex(md.message_id.as_bytes())[..24]
    );
    assert!(
        text.contains(&format!("multipart/mixed;\r\n boundary=\"{mixed}\"")),
        "{text}"
    );
    assert!(text.contains("multipart/alternative") && text.contains("<strong>Tuesday</strong>"));
    assert!(text.contains("Content-Disposition: attachment; filename=\"slots.txt\""));
    assert!(text.contains("# Slots"));
}

#[test]
fn an_edit_may_change_recipients_and_body_not_the_sender() {
    let a = action();
    let mut e = a.clone();
    e.to = vec!["dan@example.com".into()];
    e.subject = "Changed".into();
    e.text = Some("New body".into());
    e.attachments = vec![EmailAttachment {
        path: "new.pdf".into(),
        name: "new.pdf".into(),
        content_type: "application/pdf".into(),
        size: None,
        sha256: None,
    }];
    Action::Email(e.clone().into())
        .validate_edit(&Action::Email(a.clone().into()))
        .unwrap();
    let mut claimed = e.clone();
    claimed.attachments[0].sha256 = Some("00".into());
    let err = Action::Email(claimed.into())
        .validate_edit(&Action::Email(a.clone().into()))
        .unwrap_err();
    assert!(err.contains("remove `size` and `sha256`"), "{err}");
    let mut escape = e.clone();
    escape.attachments[0].path = "../../etc/passwd".into();
    let err = Action::Email(escape.into())
        .validate_edit(&Action::Email(a.clone().into()))
        .unwrap_err();
    assert!(err.contains("escapes the root folder"), "{err}");
    let mut bad = e.clone();
    bad.to = vec!["bob@".into()];
    let err = Action::Email(bad.into())
        .validate_edit(&Action::Email(a.clone().into()))
        .unwrap_err();
    assert_eq!(err, "`to`: `bob@` is not an email address");
    for (field, f) in [
        (
            "from",
            (|x: &mut EmailAction| x.from = "eve@evil.example".into()) as fn(&mut EmailAction),
        ),
        ("account", |x| x.account = "work".into()),
        ("root", |x| x.root = "/".into()),
        ("message_id", |x| x.message_id = "<x@y>".into()),
    ] {
        let mut x = e.clone();
        f(&mut x);
        let err = Action::Email(x.into())
            .validate_edit(&Action::Email(a.clone().into()))
            .unwrap_err();
        assert!(
            err.starts_with(&format!("`{field}` cannot be edited")),
            "{err}"
        );
    }
}

#[test]
fn the_description_shows_the_message() {
    let mut a = action();
    a.attachments = vec![EmailAttachment {
        path: "docs/slots.pdf".into(),
        name: "Slots.pdf".into(),
        content_type: "application/pdf".into(),
        size: Some(20480),
        sha256: Some("ab".into()),
    }];
    assert_eq!(
        Action::Email(a.clone().into()).describe().to_text(),
        "email Office hours — open\n  From: Ada <ada@example.com>\n  To: bob@example.com\n  Cc: Carol <carol@example.com>\n  Bcc: hidden@example.com\n  Subject: Office hours — open\n  X-Campaign: launch\n  Message-ID: <aios.u1.send.1@example.com>\n  via SMTP account `default`\n  text:\n  │ Hi Bob,\n  │ \n  │ Book a slot.\n  attachment Slots.pdf (from docs/slots.pdf) (20480 bytes, application/pdf)\n  attachments read beneath /tmp\n  Date: set when sent"
    );
    assert_eq!(
        Action::Email(a.into()).summary(),
        "email bob@example.com and 2 others: Office hours — open"
    );
}

#[test]
fn check_names_an_unknown_account_unless_the_step_is_guarded() {
    let (_d, cfg) = config("[smtp.work]\nhost = \"127.0.0.1\"\ntls = \"none\"\n");
    let s = spec("to = \"x@y.z\"\nsubject = \"s\"\ntext = \"t\"\naccount = \"wrok\"\n");
    let cx = |guarded| CheckCx {
        approve: Approve::Always,
        guarded,
        tools: &NoServers,
        config: &cfg,
    };
    let d = Email::check(&s, &cx(false));
    assert_eq!(d.len(), 1);
    assert!(
        d[0].message.starts_with("no SMTP account `wrok` in "),
        "{}",
        d[0].message
    );
    assert!(
        d[0].hint
            .as_deref()
            .unwrap()
            .contains("did you mean `work`?")
    );
    assert!(Email::check(&s, &cx(true)).is_empty());
    let ok = spec("to = \"x@y.z\"\nsubject = \"s\"\ntext = \"t\"\naccount = \"work\"\n");
    assert!(Email::check(&ok, &cx(false)).is_empty());
}
