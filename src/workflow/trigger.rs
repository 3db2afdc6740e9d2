//! The `[trigger]` table: when a workflow runs by itself (cron, or each message of an
//! IMAP folder) and how missed or overlapping fires are handled. Read here, used by
//! `crate::schedule` (cron) and `crate::mail` (imap, whose own table is read there).

use std::time::Duration;

use serde_json::Value as Json;

use super::diag::Diagnostic;
use super::read::{Cx, Val, get, key_span};

pub(crate) const TRIGGER_KEYS: &[&str] = &[
    "cron",
    "imap",
    "timezone",
    "overlap",
    "catch_up",
    "catch_up_window",
    "inputs",
];

/// What to do with a fire while an earlier run of the same schedule is still
/// running or waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Do not start it (the skip is journaled).
    Skip,
    /// Start it when the earlier run has finished.
    Queue,
    /// Start it anyway.
    Allow,
    /// Cancel the earlier run, then start it.
    CancelRunning,
}

/// Which fires missed while nothing ticked (the machine was off) still run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    None,
    Latest,
    All,
}

macro_rules! words {
    ($t:ident { $($v:ident = $w:literal),+ }) => {
        impl $t {
            pub const WORDS: &'static [&'static str] = &[$($w),+];
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $w),+ }
            }
            pub fn parse(s: &str) -> Option<$t> {
                match s { $($w => Some($t::$v),)+ _ => None }
            }
        }
    };
}

words!(Overlap { Skip = "skip", Queue = "queue", Allow = "allow", CancelRunning = "cancel_running" });
words!(CatchUp { None = "none", Latest = "latest", All = "all" });

/// Keys that only mean something to a cron trigger.
const CRON_ONLY: &[&str] = &["timezone", "overlap", "catch_up", "catch_up_window"];

/// A validated `[trigger]`: exactly one of `cron` and `imap` is set.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// 5-field cron expression or `@daily`-style macro.
    pub cron: Option<String>,
    /// `imap = { … }`: one run per message of an IMAP folder.
    pub imap: Option<crate::mail::ImapTrigger>,
    /// IANA zone name; `None`: the machine's zone, resolved when the schedule is added.
    pub timezone: Option<String>,
    pub overlap: Overlap,
    pub catch_up: CatchUp,
    /// Missed fires older than this are skipped whatever `catch_up` says.
    pub catch_up_window: Duration,
    /// Inputs of every fired run (a JSON object; checked against the declarations
    /// when the schedule is added).
    pub inputs: serde_json::Map<String, Json>,
}

/// Default `catch_up_window`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(7 * 86_400);

pub(crate) fn read_trigger(cx: &mut Cx, v: &Val<'_>) -> Option<Trigger> {
    let t = cx.table("trigger", v)?;
    cx.unknown_keys(t, TRIGGER_KEYS, "in [trigger]");
    let mut ok = true;
    let imap = match get(t, "imap") {
        Some(i) => match crate::mail::trigger::read(cx, i) {
            Some(m) => Some(m),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    if get(t, "imap").is_some() {
        if let Some(c) = key_span(t, "cron") {
            ok = false;
            cx.push(
                Diagnostic::new("a trigger has `cron` or `imap`, not both")
                    .at(c)
                    .label("`imap` is given too")
                    .hint("keep one; two triggers need two workflow files"),
            );
        }
        for k in CRON_ONLY {
            if let Some(span) = key_span(t, k) {
                ok = false;
                cx.push(
                    Diagnostic::new(format!(
                        "`{k}` is only read with `cron`: an imap trigger starts one run per message"
                    ))
                    .at(span)
                    .label("not used by an imap trigger")
                    .hint(format!("remove `{k}`")),
                );
            }
        }
    }
    let cron = match get(t, "cron") {
        _ if get(t, "imap").is_some() => None,
        Some(c) => match cx.string("cron", c) {
            Some(s) => match crate::schedule::cron::parse_expr(&s) {
                Ok(_) => Some(s),
                Err(e) => {
                    cx.push(
                        Diagnostic::new(e)
                            .at(c.span())
                            .label("not a cron expression")
                            .hint("write 5 fields, like \"0 9 * * MON\" (09:00 every Monday), or @hourly, @daily, @weekly, @monthly"),
                    );
                    None
                }
            },
            None => None,
        },
        None => {
            cx.push(
                Diagnostic::new("missing required key `cron` in [trigger]")
                    .at(v.span())
                    .label("`cron` (or `imap`) is required here")
                    .hint("add cron = \"0 9 * * MON\", or imap = { folder = \"INBOX\" } to start a run per message"),
            );
            None
        }
    };
    let mut timezone = None;
    if let Some(z) = get(t, "timezone")
        && let Some(s) = cx.string("timezone", z)
    {
        match crate::schedule::cron::parse_zone(&s) {
            Ok(_) => timezone = Some(s),
            Err(e) => {
                ok = false;
                cx.push(
                    Diagnostic::new(e)
                        .at(z.span())
                        .label("not an IANA time zone")
                        .hint("use a name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""),
                );
            }
        }
    }
    let mut overlap = Overlap::Skip;
    if let Some(o) = get(t, "overlap") {
        match cx.choice("overlap", o, Overlap::WORDS) {
            Some(i) => overlap = Overlap::parse(Overlap::WORDS[i]).unwrap_or(Overlap::Skip),
            None => ok = false,
        }
    }
    let mut catch_up = CatchUp::Latest;
    if let Some(o) = get(t, "catch_up") {
        match cx.choice("catch_up", o, CatchUp::WORDS) {
            Some(i) => catch_up = CatchUp::parse(CatchUp::WORDS[i]).unwrap_or(CatchUp::Latest),
            None => ok = false,
        }
    }
    let mut catch_up_window = DEFAULT_WINDOW;
    if let Some(w) = get(t, "catch_up_window") {
        match cx.duration("catch_up_window", w) {
            Some(d) => catch_up_window = d,
            None => ok = false,
        }
    }
    let mut inputs = serde_json::Map::new();
    if let Some(i) = get(t, "inputs") {
        match cx.table("inputs", i) {
            Some(_) => match cx.json("inputs", i, None) {
                Some(Json::Object(m)) => inputs = m,
                _ => ok = false,
            },
            None => ok = false,
        }
    }
    (ok && (cron.is_some() || imap.is_some())).then(|| Trigger {
        cron,
        imap,
        timezone,
        overlap,
        catch_up,
        catch_up_window,
        inputs,
    })
}

/// Check and type inputs given as a JSON object (a trigger's `inputs`, a hook's
/// body) against the workflow's declarations; apply defaults.
pub fn resolve_json_inputs(
    wf: &super::Workflow,
    given: &serde_json::Map<String, Json>,
) -> Result<Json, Vec<Diagnostic>> {
    let pairs: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    super::resolve_inputs(wf, &pairs)
}
