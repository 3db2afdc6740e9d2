//! `[trigger] imap = { … }`: a workflow started once per message of an IMAP folder.
//! Read here (with a place for every mistake), registered by `aios schedule add`,
//! polled by `aios tick` ([`super::poll`]).

use serde::{Deserialize, Serialize};

use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{Cx, Table, Val, get, key_span};
use crate::workflow::{InputDecl, InputType};

/// What is done to a message once its run is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum After {
    /// Set the `\Seen` flag.
    Seen,
    /// Move it to `move_to`.
    Move,
    /// Leave it as it is (the journal alone remembers that it was taken).
    Keep,
}

impl After {
    pub const WORDS: &'static [&'static str] = &["seen", "move", "keep"];

    pub fn as_str(self) -> &'static str {
        match self {
            After::Seen => "seen",
            After::Move => "move",
            After::Keep => "keep",
        }
    }

    pub fn parse(s: &str) -> Option<After> {
        match s {
            "seen" => Some(After::Seen),
            "move" => Some(After::Move),
            "keep" => Some(After::Keep),
            _ => None,
        }
    }
}

/// A validated `imap = { … }` of a `[trigger]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapTrigger {
    /// `[imap.NAME]` of the config; `None`: the default account.
    pub account: Option<String>,
    pub folder: String,
    /// An IMAP search key (RFC 3501 `SEARCH`): which messages of the folder to take.
    pub search: String,
    pub after: After,
    /// The folder `after = "move"` moves messages to.
    pub move_to: Option<String>,
    /// At most this many new messages per poll, oldest first (the rest next time).
    pub max_per_tick: u32,
}

/// The input every run started by a mail trigger receives.
pub const MESSAGE_INPUT: &str = "message";

/// The default `max_per_tick`.
pub const MAX_PER_TICK: u32 = 50;

pub(crate) const KEYS: &[&str] = &[
    "account",
    "folder",
    "search",
    "after",
    "move_to",
    "max_per_tick",
];

/// A folder name or search key goes into an IMAP command line: no line breaks,
/// nothing outside printable ASCII (folder names may hold any other text).
fn bad_text(s: &str, ascii_only: bool) -> Option<&'static str> {
    if s.trim().is_empty() {
        return Some("is empty");
    }
    if s.chars().any(char::is_control) {
        return Some("holds a control character (a line break?)");
    }
    if ascii_only && !s.is_ascii() {
        return Some("holds characters outside ASCII");
    }
    None
}

fn text(cx: &mut Cx, t: &Table<'_>, key: &str, default: &str, ascii_only: bool) -> Option<String> {
    let Some(v) = get(t, key) else {
        return Some(default.to_string());
    };
    let s = cx.string(key, v)?;
    if let Some(problem) = bad_text(&s, ascii_only) {
        let hint = if key == "search" {
            "write an IMAP search key in ASCII, like \"UNSEEN\" or \"UNSEEN FROM \\\"example.com\\\"\""
        } else {
            "write the folder's name as the server shows it, like \"INBOX\" or \"Support\""
        };
        cx.push(
            Diagnostic::new(format!("`{key}` {problem}"))
                .at(v.span())
                .label(format!("not a valid `{key}`"))
                .hint(hint),
        );
        return None;
    }
    Some(s)
}

/// Read `imap = { … }`.
pub(crate) fn read(cx: &mut Cx, v: &Val<'_>) -> Option<ImapTrigger> {
    let t = cx.table("imap", v)?;
    cx.unknown_keys(t, KEYS, "in [trigger] imap");
    let mut ok = true;
    let mut account = None;
    if let Some(a) = get(t, "account") {
        match cx.string("account", a) {
            Some(s) if crate::workflow::read::is_ident(&s) => account = Some(s),
            Some(s) => {
                ok = false;
                cx.push(
                    Diagnostic::new(format!("`{s}` is not an account name"))
                        .at(a.span())
                        .label("not an [imap.NAME] of the config")
                        .hint("name an account of the config file's [imap.NAME] tables (letters, digits and `_`)"),
                );
            }
            None => ok = false,
        }
    }
    let folder = text(cx, t, "folder", "INBOX", false);
    let search = text(cx, t, "search", "UNSEEN", true);
    let mut after = After::Seen;
    if let Some(a) = get(t, "after") {
        match cx.choice("after", a, After::WORDS) {
            Some(i) => after = After::parse(After::WORDS[i]).unwrap_or(After::Seen),
            None => ok = false,
        }
    }
    let move_to = match get(t, "move_to") {
        Some(_) => match text(cx, t, "move_to", "", false) {
            Some(m) => Some(m),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    match (after, &move_to) {
        (After::Move, None) => {
            ok = false;
            cx.push(
                Diagnostic::new(
                    "`after = \"move\"` needs `move_to`, the folder to move messages to",
                )
                .at(get(t, "after").map(|a| a.span()).unwrap_or(v.span()))
                .label("moved where?")
                .hint("add move_to = \"Processed\" (a folder that exists on the server)"),
            );
        }
        (After::Seen | After::Keep, Some(_)) => {
            ok = false;
            cx.push(
                Diagnostic::new("`move_to` is only read with `after = \"move\"`")
                    .at(key_span(t, "move_to").unwrap_or(v.span()))
                    .label("not used")
                    .hint("add after = \"move\", or remove move_to"),
            );
        }
        _ => {}
    }
    let mut max_per_tick = MAX_PER_TICK;
    if let Some(m) = get(t, "max_per_tick") {
        match cx.integer("max_per_tick", m) {
            Some(n) if (1..=10_000).contains(&n) => max_per_tick = n as u32,
            Some(_) => {
                ok = false;
                cx.push(
                    Diagnostic::new("`max_per_tick` must be from 1 to 10000")
                        .at(m.span())
                        .label("out of range")
                        .hint(format!("the default is {MAX_PER_TICK}")),
                );
            }
            None => ok = false,
        }
    }
    let (folder, search) = (folder?, search?);
    ok.then_some(ImapTrigger {
        account,
        folder,
        search,
        after,
        move_to,
        max_per_tick,
    })
}

/// A mail trigger hands each message to the input `message`: it must be declared
/// as an object, and not given in `[trigger] inputs`.
pub(crate) fn check_inputs(cx: &mut Cx, imap: &Val<'_>, trigger: &Table<'_>, decls: &[InputDecl]) {
    match decls.iter().find(|d| d.name == MESSAGE_INPUT) {
        Some(d) if d.ty == InputType::Object && !d.secret => {}
        Some(_) => cx.push(
            Diagnostic::new(format!(
                "input `{MESSAGE_INPUT}` receives each message of the imap trigger: it must be an object"
            ))
            .at(imap.span())
            .label("the message goes to inputs.message")
            .hint(format!("declare it as [inputs.{MESSAGE_INPUT}] with type = \"object\"")),
        ),
        None => cx.push(
            Diagnostic::new(format!(
                "an imap trigger starts each run with the input `{MESSAGE_INPUT}`, which is not declared"
            ))
            .at(imap.span())
            .label("the message goes to inputs.message")
            .hint(format!(
                "add [inputs.{MESSAGE_INPUT}] with type = \"object\" (fields: message_id, from, to, cc, subject, date, text, html, attachments)"
            )),
        ),
    }
    if let Some(inputs) = get(trigger, "inputs")
        && let toml::de::DeValue::Table(t) = inputs.get_ref()
        && let Some(span) = key_span(t, MESSAGE_INPUT)
    {
        cx.push(
            Diagnostic::new(format!(
                "`{MESSAGE_INPUT}` cannot be given in [trigger] inputs: each message fills it"
            ))
            .at(span)
            .label("filled by the imap trigger")
            .hint(format!("remove `{MESSAGE_INPUT}` from [trigger] inputs")),
        );
    }
}
