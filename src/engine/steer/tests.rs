//! The rules of a change of definition, without IO: a run's step records and
//! items against two sources.

use serde_json::json;

use super::*;
use crate::journal::{ProposalKind, RunStatus};

const OLD: &str = r#"
name = "demo"

[[steps]]
id = "a"
kind = "set"
values = { x = 1 }

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "hi"

[[steps]]
id = "b"
kind = "set"
needs = ["a"]
values = { y = "{{ steps.a.output.x }}" }

[[steps]]
id = "c"
kind = "set"
needs = ["b"]
values = { z = 1 }
"#;

fn run(source: &str) -> RunRecord {
    RunRecord {
        id: 7,
        uid: "u".into(),
        workflow: "demo".into(),
        path: Some("wf.toml".into()),
        dir: "/w".into(),
        source: source.into(),
        source_hash: crate::journal::source_hash(source),
        inputs: json!({ "who": "Ada" }),
        status: RunStatus::Failed,
        error: None,
        created_at: 0,
        updated_at: 0,
        finished_at: None,
        lease_owner: None,
        lease_expires: None,
        dry: None,
    }
}

fn rec(id: &str, status: StepStatus, attempts: u32) -> StepRecord {
    StepRecord {
        step_id: id.into(),
        idx: 0,
        kind: String::new(),
        status,
        attempts,
        output: None,
        error: None,
        started_at: None,
        finished_at: None,
        throttled: None,
        held: None,
    }
}

/// `a` succeeded, `w` waits on item 1 (pending), `b` failed, `c` never ran.
fn records() -> Vec<StepRecord> {
    vec![
        rec("a", StepStatus::Succeeded, 1),
        rec("w", StepStatus::Waiting, 1),
        rec("b", StepStatus::Failed, 1),
        rec("c", StepStatus::Pending, 0),
    ]
}

fn item(status: ProposalStatus) -> ProposalRecord {
    let mut p = crate::tui::update::tests::record(1, ProposalKind::Action, json!({}));
    p.step_id = "w".into();
    p.status = status;
    p
}

fn load(source: &str) -> Workflow {
    crate::workflow::load(source, "wf.toml").expect("valid")
}

/// Review `new` against the run of [`OLD`] with `steps` and `items`.
fn review_of(
    new: &str,
    steps: &[StepRecord],
    items: &[ProposalRecord],
) -> Result<Option<Change>, Vec<String>> {
    let old = load(OLD);
    let wf = load(new);
    review(
        &run(OLD),
        &old,
        &Revision {
            workflow: &wf,
            source: new,
            path: Some("wf.toml"),
            dir: "/w",
            by: "ada@host",
        },
        steps,
        items,
    )
}

fn changes(c: &Change) -> Vec<String> {
    match &c.events[0] {
        Event::WorkflowChanged { changes, .. } => changes.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_definition_changes_nothing() {
    assert!(
        review_of(OLD, &records(), &[item(ProposalStatus::Pending)])
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_failed_step_and_one_not_run_take_the_new_definition() {
    let new = OLD
        .replace("steps.a.output.x }}", "steps.a.output.x + 1 }}")
        .replace("values = { z = 1 }", "values = { z = 2 }");
    let c = review_of(&new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        [
            "step `b` changed: it failed, and runs again on the new definition",
            "step `c` changed: it has not run, and runs on the new definition",
        ]
    );
    let Event::WorkflowChanged {
        steps,
        previous_hash,
        source_hash,
        diff,
        by,
        ..
    } = &c.events[0]
    else {
        unreachable!()
    };
    assert_eq!(previous_hash, &crate::journal::source_hash(OLD));
    assert_eq!(source_hash, &crate::journal::source_hash(&new));
    assert_eq!(by, "ada@host");
    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "w", "b", "c"]);
    assert!(diff.contains("+values = { z = 2 }"), "{diff}");
    assert!(diff.contains("-values = { z = 1 }"), "{diff}");
    assert_eq!(c.events.len(), 1, "nothing to reset");
}

#[test]
fn a_finished_step_keeps_its_output_when_its_definition_changes() {
    let new = OLD.replace("values = { x = 1 }", "values = { x = 5 }");
    let c = review_of(&new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        ["step `a` changed: it succeeded, and keeps its output (the change applies to later runs)"]
    );
}

#[test]
fn a_finished_step_must_stay_with_its_kind() {
    let removed = OLD.replacen(
        "[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
        "",
        1,
    );
    let removed = removed.replace("needs = [\"a\"]\n", "needs = []\n");
    let removed = removed.replace("steps.a.output.x", "1");
    let problems = review_of(&removed, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    // `w` had no `needs`: it waited for `a`, and would now wait for nothing.
    assert_eq!(
        problems,
        [
            "step `a` succeeded: it must stay in the workflow (its output stands, and later steps may read it)",
            "step `w` waits on inbox item 1, proposed from the old definition: it must stay exactly as it was (decide the item first; once it is rejected, the step may change)",
        ]
    );
    let kind = OLD.replacen(
        "kind = \"set\"\nvalues = { x = 1 }",
        "kind = \"shell\"\nargv = [\"true\"]",
        1,
    );
    let kind = kind.replace("steps.a.output.x", "1");
    let problems = review_of(&kind, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    assert_eq!(
        problems,
        [
            "step `a` succeeded as a `set` step: in wf.toml it is a `shell` step, and a step that ran keeps its kind"
        ]
    );
}

#[test]
fn a_finished_step_cannot_need_a_step_that_has_not_run() {
    // A step inserted before `a` becomes what `a` needs (a step without `needs`
    // waits for the one before it).
    let new = OLD.replacen(
        "[[steps]]\nid = \"a\"",
        "[[steps]]\nid = \"first\"\nkind = \"set\"\nvalues = { n = 0 }\n\n[[steps]]\nid = \"a\"",
        1,
    );
    let problems = review_of(&new, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    assert_eq!(
        problems,
        [
            "step `a` succeeded, so what it needs must have finished too: `first` has not (it is new; add it after the steps that ran, or give them `needs`)"
        ]
    );
    // Added at the end, it is fine.
    let new = format!("{OLD}\n[[steps]]\nid = \"last\"\nkind = \"set\"\nvalues = {{ n = 0 }}\n");
    let c = review_of(&new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        ["step `last` added (a `set` step): it runs when what it needs has finished"]
    );
}

#[test]
fn a_step_waiting_on_a_pending_item_stays_as_it_was() {
    let new = OLD.replace("content = \"hi\"", "content = \"hello\"");
    let problems = review_of(&new, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    assert_eq!(
        problems,
        [
            "step `w` waits on inbox item 1, proposed from the old definition: it must stay exactly as it was (decide the item first; once it is rejected, the step may change)"
        ]
    );
}

#[test]
fn a_step_whose_item_was_withdrawn_may_change_and_proposes_again() {
    let new = OLD.replace("content = \"hi\"", "content = \"hello\"");
    let c = review_of(&new, &records(), &[item(ProposalStatus::Withdrawn)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        [
            "step `w` changed: its inbox item 1, withdrawn when the run failed, stays withdrawn, and the step proposes again from the new definition"
        ]
    );
    assert_eq!(
        c.events[1],
        Event::StepReset {
            step: "w".into(),
            reason: "its definition changed; inbox item 1 stays withdrawn".into()
        }
    );
}

#[test]
fn failed_and_unrun_steps_may_be_removed_or_change_kind() {
    let new = r#"
name = "demo"

[[steps]]
id = "a"
kind = "set"
values = { x = 1 }

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "hi"

[[steps]]
id = "b"
kind = "shell"
needs = ["a"]
argv = ["echo", "{{ steps.a.output.x }}"]
"#;
    let c = review_of(new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        [
            "step `b` changed (now a `shell` step): it failed, and runs again on the new definition",
            "step `c` removed (it had not run)",
        ]
    );
}

#[test]
fn the_name_stays_and_inputs_must_fit_the_run() {
    let new = format!(
        "{}\n[inputs.who]\ntype = \"integer\"\n[inputs.lang]\ndefault = \"en\"\n[inputs.must]\ntype = \"string\"\n",
        OLD.replace("name = \"demo\"", "name = \"other\"")
    );
    // Tables after [[steps]] would belong to the last step: put them first.
    let (head, steps) = new.split_once("[[steps]]").unwrap();
    let (steps, inputs) = steps.split_once("\n[inputs.who]").unwrap();
    let new = format!("{head}[inputs.who]{inputs}\n[[steps]]{steps}");
    let problems = review_of(&new, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    assert_eq!(
        problems,
        [
            "the workflow is named `other` in wf.toml, but run 7 is a run of `demo`: keep the name",
            "input `who`: run 7 was given \"Ada\", which is not an integer as wf.toml declares",
            "input `must` is required by wf.toml, and run 7 was not given it: give it a default",
        ]
    );
}

#[test]
fn an_input_with_a_default_joins_the_run() {
    let new = OLD.replacen(
        "name = \"demo\"\n",
        "name = \"demo\"\n\n[inputs.lang]\ndefault = \"en\"\n",
        1,
    );
    let c = review_of(&new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(changes(&c), ["input `lang` added with its default \"en\""]);
    let Event::WorkflowChanged { inputs_added, .. } = &c.events[0] else {
        unreachable!()
    };
    assert_eq!(inputs_added.get("lang"), Some(&json!("en")));
}

#[test]
fn comments_and_descriptions_change_no_step() {
    let new = OLD.replace(
        "id = \"c\"\n",
        "id = \"c\"\ndescription = \"the last one\" # a note\n",
    );
    let c = review_of(&new, &records(), &[item(ProposalStatus::Pending)])
        .unwrap()
        .unwrap();
    assert_eq!(
        changes(&c),
        ["no step changed (only comments, spacing or descriptions)"]
    );
}

#[test]
fn defaults_reach_the_steps_that_inherit_them() {
    let new = OLD.replacen(
        "name = \"demo\"\n",
        "name = \"demo\"\n\n[defaults]\nretry = { attempts = 3 }\n",
        1,
    );
    let problems = review_of(&new, &records(), &[item(ProposalStatus::Pending)]).unwrap_err();
    // `w` waits on a pending item and inherits the new retry policy.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("step `w` waits on inbox item 1"));
    let c = review_of(&new, &records(), &[item(ProposalStatus::Withdrawn)])
        .unwrap()
        .unwrap();
    let lines = changes(&c);
    assert!(
        lines.iter().any(|l| l.starts_with("step `b` changed")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("step `c` changed")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("step `a` changed: it succeeded, and keeps its output")),
        "{lines:?}"
    );
}
