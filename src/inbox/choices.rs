//! What the operator may answer to an item, kind by kind: one list both front ends
//! draw. `aios inbox show` and a waiting run print each [`Choice`] as the command that
//! makes it (the `next:` line); the TUI binds each to its key and asks for its
//! [`Ask`] (a reason, an edit, or a form of typed inputs) before it decides through
//! [`super::decide`]. A new kind of item plugs in by adding its choices in [`of`].

use serde_json::Value as Json;

use super::view::{ItemView, Subject};
use crate::journal::{Decision, GateField, ProposalKind};
use crate::workflow::InputType;

/// One answer to an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Its key in the TUI (unique among an item's choices).
    pub key: char,
    /// A word for the TUI's footer: `approve`, `retry`, `raise`.
    pub short: &'static str,
    /// What it does, in a few words: `run it again`.
    pub label: String,
    pub decision: Decision,
    /// What to ask for before deciding.
    pub ask: Ask,
    /// Fields the choice always sends (`switch=true` for a budget stop's switch).
    pub fixed: Vec<(String, String)>,
}

/// What a choice needs from the operator first.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    /// Nothing: decide at once.
    Nothing,
    /// Why (a rejection keeps its reason).
    Reason,
    /// An edited action (shown as a diff before it is committed).
    Edit,
    /// Typed values, filled in as a form.
    Form(Vec<Input>),
}

/// A value a form asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The name it is sent under: a gate's field, or `raise_usd`.
    pub name: String,
    /// What the form shows above it.
    pub label: String,
    pub ty: InputType,
    /// It has to be answered (required, with no default).
    pub required: bool,
    /// What an empty answer means: this value.
    pub default: Option<Json>,
    /// How `aios approve` takes it.
    pub flag: Flag,
}

/// How the CLI passes an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `--field NAME=VALUE`.
    Field,
    /// `--raise USD`.
    Raise,
}

/// The name a budget stop's raise is sent under.
pub const RAISE: &str = "raise_usd";
/// The name (and value `true`) a budget stop's switch is sent under.
pub const SWITCH: &str = "switch";
/// The name (and value `true`) a rescue's "use the offline draft" is sent under.
pub const OFFLINE: &str = "offline";

/// The name (and value `true`) a failure's "skip the step" is sent under.
pub const SKIP: &str = "skip";
/// The name (and value `true`) a failure's "compensate" is sent under.
pub const COMPENSATE: &str = "compensate";

/// Every key a choice of some kind uses (a kind that adds a key adds it here).
pub const KEYS: &str = "acdeoprw";

/// Whether the primary choice (`a`) of an item of kind `kind` asks for nothing, so
/// several marked items of such kinds can be approved together without looking at
/// each (a gate may ask for fields, a budget stop for an amount).
pub fn batchable(kind: &str) -> bool {
    matches!(
        ProposalKind::parse(kind),
        Some(
            ProposalKind::Action
                | ProposalKind::Attention
                | ProposalKind::Rescue
                | ProposalKind::Notice
                | ProposalKind::Failure
        )
    )
}

/// The choices of an item, the primary one (key `a`) first. Keys are `a` (the
/// primary approval), `c`, `d`, `e`, `o`, `p`, `r` (reject or fail) and `w`; a new kind picks
/// among letters the TUI does not use for itself (`j k g G J K s q`).
pub fn of(view: &ItemView) -> Vec<Choice> {
    let reject = |label: &str| Choice {
        key: 'r',
        short: "reject",
        label: label.to_string(),
        decision: Decision::Reject,
        ask: Ask::Reason,
        fixed: Vec::new(),
    };
    let approve = |short: &'static str, label: &str, ask: Ask| Choice {
        key: 'a',
        short,
        label: label.to_string(),
        decision: Decision::Approve,
        ask,
        fixed: Vec::new(),
    };
    let edit = |label: &str| Choice {
        key: 'e',
        short: "edit",
        label: label.to_string(),
        decision: Decision::Approve,
        ask: Ask::Edit,
        fixed: Vec::new(),
    };
    match &view.subject {
        Subject::Action {
            interrupted: false, ..
        } => vec![
            approve("approve", "commit it as proposed", Ask::Nothing),
            edit("commit your edit of it"),
            reject("reject it, with a reason"),
        ],
        Subject::Action {
            interrupted: true, ..
        } => vec![
            approve("retry", "run it again", Ask::Nothing),
            Choice {
                key: 'd',
                short: "done",
                label: "it happened: mark the step done".into(),
                decision: Decision::Done,
                ask: Ask::Nothing,
                fixed: Vec::new(),
            },
            edit("run your edit of it"),
            Choice {
                short: "fail",
                ..reject("fail the step, with a reason")
            },
        ],
        Subject::Gate(g) => {
            let ask = if g.fields.is_empty() {
                Ask::Nothing
            } else {
                Ask::Form(g.fields.iter().map(Input::of_field).collect())
            };
            let label = if g.fields.is_empty() {
                "pass the gate"
            } else {
                "fill in its fields and pass the gate"
            };
            vec![
                approve("approve", label, ask),
                reject("reject it, with a reason"),
            ]
        }
        Subject::Budget(b) => {
            let mut out = vec![approve(
                "raise",
                "let the run spend USD more than its caps",
                Ask::Form(vec![Input {
                    name: RAISE.into(),
                    label: "USD more this run may spend".into(),
                    ty: InputType::Number,
                    required: true,
                    default: None,
                    flag: Flag::Raise,
                }]),
            )];
            if let Some(next) = &b.next_model {
                out.push(Choice {
                    key: 'w',
                    short: "switch",
                    label: format!("switch the step to its next model, `{next}`"),
                    decision: Decision::Approve,
                    ask: Ask::Nothing,
                    fixed: vec![(SWITCH.into(), "true".into())],
                });
            }
            out.push(Choice {
                short: "fail",
                ..reject("fail the step, with a reason")
            });
            out
        }
        Subject::Rescue(r) => {
            let mut out = vec![
                approve(
                    "retry",
                    "run the step again from its first model",
                    Ask::Nothing,
                ),
                Choice {
                    short: "reply",
                    ..edit("give the step's reply yourself, checked like a model's")
                },
            ];
            if r.offline_text().is_some() {
                out.push(Choice {
                    key: 'o',
                    short: "offline",
                    label: "use the step's offline draft as its reply".into(),
                    decision: Decision::Approve,
                    ask: Ask::Nothing,
                    fixed: vec![(OFFLINE.into(), "true".into())],
                });
            }
            out.push(Choice {
                short: "fail",
                ..reject("fail the step, with a reason")
            });
            out
        }
        Subject::Notice => vec![approve("ack", "acknowledge it", Ask::Nothing)],
        Subject::Failure(f) => {
            let mut out = vec![approve(
                "retry",
                "run the failed step again and continue the run",
                Ask::Nothing,
            )];
            if f.skippable {
                out.push(Choice {
                    key: 'p',
                    short: "skip",
                    label: "skip the failed step and continue the run".into(),
                    decision: Decision::Approve,
                    ask: Ask::Nothing,
                    fixed: vec![(SKIP.into(), "true".into())],
                });
            }
            if f.compensable {
                out.push(Choice {
                    key: 'c',
                    short: "undo",
                    label: "leave the run failed and propose the undo of what it did".into(),
                    decision: Decision::Approve,
                    ask: Ask::Nothing,
                    fixed: vec![(COMPENSATE.into(), "true".into())],
                });
            }
            out.push(Choice {
                short: "abandon",
                ..reject("abandon the run (it stays failed), with a reason")
            });
            out
        }
    }
}

impl Choice {
    /// The command that makes this choice for item `id`: it runs as written, but
    /// for the values only the operator knows (`FILE`, `USD`, `VALUE`, `"..."`).
    pub fn command(&self, id: i64) -> String {
        let mut c = match self.decision {
            Decision::Reject => format!("aios reject {id}"),
            Decision::Approve | Decision::Done => format!("aios approve {id}"),
        };
        if self.decision == Decision::Done {
            c.push_str(" --done");
        }
        for (name, value) in &self.fixed {
            if name == SWITCH {
                c.push_str(" --switch");
            } else if name == OFFLINE {
                c.push_str(" --offline");
            } else if name == SKIP {
                c.push_str(" --skip");
            } else if name == COMPENSATE {
                c.push_str(" --compensate");
            } else {
                c.push_str(&format!(" --field {name}={value}"));
            }
        }
        match &self.ask {
            Ask::Nothing => {}
            Ask::Reason => c.push_str(" --reason \"...\""),
            Ask::Edit => c.push_str(" --edit FILE"),
            Ask::Form(inputs) => {
                for i in inputs {
                    let flag = match i.flag {
                        Flag::Raise => " --raise USD".to_string(),
                        Flag::Field => format!(" --field {}=VALUE", i.name),
                    };
                    if i.required {
                        c.push_str(&flag);
                    } else {
                        c.push_str(&format!(" [{}]", flag.trim_start()));
                    }
                }
            }
        }
        c
    }
}

impl Choice {
    /// What it does, for item `id`, with where an edit starts from.
    pub fn describe(&self, id: i64) -> String {
        match self.ask {
            Ask::Edit => format!("{} (start from: aios inbox show {id} --action)", self.label),
            _ => self.label.clone(),
        }
    }
}

impl Input {
    fn of_field(f: &GateField) -> Input {
        let mut label = format!(
            "{} ({}{})",
            f.name,
            f.ty,
            if f.must_answer() { ", required" } else { "" }
        );
        if let Some(d) = &f.description {
            label.push_str(&format!(": {d}"));
        }
        Input {
            name: f.name.clone(),
            label,
            ty: InputType::parse(&f.ty).unwrap_or(InputType::String),
            required: f.must_answer(),
            default: f.default.clone(),
            flag: Flag::Field,
        }
    }

    /// The text a form starts with: the default, as the operator would type it.
    pub fn initial(&self) -> String {
        match &self.default {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }
    }

    /// Check an answer as typed: `Ok(None)` when it is empty and may be (the
    /// default applies), `Ok(Some(text))` to send, or why it does not fit, in words
    /// (the same checks [`super::decide`] makes again).
    pub fn check(&self, raw: &str) -> Result<Option<String>, String> {
        let text = raw.trim();
        if text.is_empty() {
            return if self.required {
                Err("required".into())
            } else {
                Ok(None)
            };
        }
        if self.flag == Flag::Raise {
            return parse_usd(text).map(|_| Some(text.to_string()));
        }
        crate::workflow::convert(self.ty, text)
            .map(|_| Some(text.to_string()))
            .map_err(|hint| format!("not {}: {hint}", crate::workflow::type_article(self.ty)))
    }
}

/// An amount of USD above 0 (`2.50`, `$2.50`).
pub fn parse_usd(text: &str) -> Result<f64, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("an amount in USD above 0, like 2.50, not `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::ProposalRecord;
    use serde_json::json;

    fn view(kind: ProposalKind, action: Json) -> ItemView {
        let p: ProposalRecord = crate::tui::update::tests::record(7, kind, action);
        ItemView::of(&p)
    }

    fn commands(v: &ItemView) -> Vec<String> {
        of(v).iter().map(|c| c.command(7)).collect()
    }

    #[test]
    fn a_failure_offers_skip_and_compensate_only_when_they_apply() {
        let f = |skippable: bool, compensable: bool| {
            view(
                ProposalKind::Failure,
                json!({"step": "call", "kind": "http", "error": "boom", "attempts": 2,
                       "skippable": skippable, "compensable": compensable}),
            )
        };
        assert_eq!(
            commands(&f(false, false)),
            ["aios approve 7", "aios reject 7 --reason \"...\""]
        );
        assert_eq!(
            commands(&f(true, true)),
            [
                "aios approve 7",
                "aios approve 7 --skip",
                "aios approve 7 --compensate",
                "aios reject 7 --reason \"...\""
            ]
        );
        let keys: Vec<char> = of(&f(true, true)).iter().map(|c| c.key).collect();
        assert_eq!(keys, ['a', 'p', 'c', 'r']);
        assert!(keys.iter().all(|k| KEYS.contains(*k)));
        let shorts: Vec<&str> = of(&f(true, true)).iter().map(|c| c.short).collect();
        assert_eq!(shorts, ["retry", "skip", "undo", "abandon"]);
        // What the item shows, read leniently.
        let Subject::Failure(read) = &f(true, false).subject else {
            panic!()
        };
        assert_eq!(read.summary(), "step `call` failed after 2 attempts: boom");
        assert_eq!(
            crate::journal::Failure::of(&json!({"attempts": "x", "step": "s"})).step,
            "s"
        );
    }

    #[test]
    fn every_kind_has_choices_that_fit_it() {
        let file = json!({"kind": "file", "root": "/w", "path": "a", "content": "x"});
        assert_eq!(
            commands(&view(ProposalKind::Action, file.clone())),
            [
                "aios approve 7",
                "aios approve 7 --edit FILE",
                "aios reject 7 --reason \"...\"",
            ]
        );
        assert_eq!(
            commands(&view(ProposalKind::Attention, file)),
            [
                "aios approve 7",
                "aios approve 7 --done",
                "aios approve 7 --edit FILE",
                "aios reject 7 --reason \"...\"",
            ]
        );
        let gate = json!({"title": "Go?", "fields": [
            {"name": "date", "type": "string", "required": true},
            {"name": "n", "type": "integer", "required": false, "default": 3},
        ]});
        assert_eq!(
            commands(&view(ProposalKind::Approval, gate)),
            [
                "aios approve 7 --field date=VALUE [--field n=VALUE]",
                "aios reject 7 --reason \"...\"",
            ]
        );
        assert_eq!(
            commands(&view(ProposalKind::Approval, json!({"title": "Go?"}))),
            ["aios approve 7", "aios reject 7 --reason \"...\""]
        );
        let stop = json!({"cap": "run", "model": "fast", "next_model": "smart"});
        let budget = view(ProposalKind::Budget, stop);
        assert_eq!(
            commands(&budget),
            [
                "aios approve 7 --raise USD",
                "aios approve 7 --switch",
                "aios reject 7 --reason \"...\"",
            ]
        );
        let keys: Vec<char> = of(&budget).iter().map(|c| c.key).collect();
        assert_eq!(keys, ['a', 'w', 'r']);
        let last = view(ProposalKind::Budget, json!({"cap": "run", "model": "fast"}));
        assert_eq!(of(&last).len(), 2, "no switch without a next model");
        let rescue = view(
            ProposalKind::Rescue,
            crate::tui::view::tests::rescue_action(),
        );
        assert_eq!(
            commands(&rescue),
            [
                "aios approve 7",
                "aios approve 7 --edit FILE",
                "aios approve 7 --offline",
                "aios reject 7 --reason \"...\"",
            ]
        );
        let keys: Vec<char> = of(&rescue).iter().map(|c| c.key).collect();
        assert_eq!(keys, ['a', 'e', 'o', 'r']);
        assert_eq!(
            of(&rescue)[1].describe(7),
            "give the step's reply yourself, checked like a model's (start from: aios inbox show 7 --action)"
        );
        let mut bare = crate::tui::view::tests::rescue_action();
        bare["offline"] = Json::Null;
        let bare = view(ProposalKind::Rescue, bare);
        assert!(
            of(&bare).iter().all(|c| c.key != 'o'),
            "no offline choice without an offline draft"
        );
        assert_eq!(
            commands(&view(ProposalKind::Notice, json!({}))),
            ["aios approve 7"]
        );
    }

    #[test]
    fn every_key_of_every_kind_is_in_keys() {
        let items = [
            view(ProposalKind::Action, json!({"kind": "file"})),
            view(ProposalKind::Attention, json!({"kind": "file"})),
            view(
                ProposalKind::Approval,
                json!({"title": "Go?", "fields": [{"name": "n", "type": "integer"}]}),
            ),
            view(
                ProposalKind::Budget,
                json!({"cap": "run", "model": "fast", "next_model": "smart"}),
            ),
            view(
                ProposalKind::Rescue,
                crate::tui::view::tests::rescue_action(),
            ),
            view(ProposalKind::Notice, json!({})),
        ];
        for v in &items {
            let keys: Vec<char> = of(v).iter().map(|c| c.key).collect();
            for k in &keys {
                assert!(KEYS.contains(*k), "{k} of {:?} is not in KEYS", v.subject);
            }
            let mut unique = keys.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), keys.len(), "keys repeat: {keys:?}");
            assert_eq!(keys.first(), Some(&'a'), "the primary choice is first");
        }
    }

    #[test]
    fn inputs_are_checked_as_typed() {
        let gate = view(
            ProposalKind::Approval,
            json!({"title": "Go?", "fields": [
                {"name": "n", "type": "integer", "required": true},
                {"name": "note", "type": "string", "required": false, "default": "none"},
            ]}),
        );
        let Ask::Form(inputs) = &of(&gate)[0].ask else {
            panic!("a gate with fields asks for a form")
        };
        assert_eq!(inputs[0].label, "n (integer, required)");
        assert_eq!(inputs[0].check(""), Err("required".into()));
        assert_eq!(
            inputs[0].check("three"),
            Err("not an integer: use a whole number, like 42".into())
        );
        assert_eq!(inputs[0].check(" 3 "), Ok(Some("3".into())));
        assert_eq!(inputs[1].initial(), "none");
        assert_eq!(inputs[1].check(""), Ok(None));
        let budget = view(ProposalKind::Budget, json!({}));
        let Ask::Form(raise) = &of(&budget)[0].ask else {
            panic!("a raise asks for an amount")
        };
        assert_eq!(raise[0].check("$2.50"), Ok(Some("$2.50".into())));
        assert_eq!(
            raise[0].check("-1"),
            Err("an amount in USD above 0, like 2.50, not `-1`".into())
        );
    }
}
