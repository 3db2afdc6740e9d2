//! Autonomy: statistics per step (`aios trust`), `[[autonomy]]` rules that decide
//! through the one decision path as `policy:NAME`, demotion by an edit, by hand
//! and by a low outcome, `notify` mode's quiet period applied by `aios tick`.

use crate::support::Test;

const REPORT: &str = r#"
name = "report"

[[steps]]
id = "save"
kind = "file"
path = "report.txt"
content = "weekly report"
"#;

const WEEKLY: &str = r#"
[[autonomy]]
name = "weekly-report"
workflow = "report"
step = "save"
after = 5
mode = "auto"
"#;

/// A rule in `notify` mode, trusted after one unchanged approval, with a 2h veto window.
const QUIETLY: &str = "[[autonomy]]\nname = \"quietly\"\nworkflow = \"report\"\nafter = 1\nmode = \"notify\"\nquiet = \"2h\"\n";

/// A home with `report.toml` and, unless `config` is empty, this `config.toml`.
fn report_home(config: &str) -> Test {
    let t = Test::new().write("report.toml", REPORT);
    if config.is_empty() {
        t
    } else {
        t.write("config.toml", config)
    }
}

fn run_report(t: &Test) -> String {
    t.aios(&["run", "report.toml", "-q"]).success().stdout
}

/// The id of the newest pending inbox item.
fn newest_item(t: &Test) -> String {
    t.inbox().last().unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string()
}

/// Run the report and approve its proposal unchanged.
fn run_and_approve(t: &Test) {
    run_report(t);
    t.aios(&["approve", &newest_item(t), "-q"]).success();
}

/// Run 1 of the report approved unchanged: what a rule with `after = 1` needs.
fn approved_once(t: &Test) {
    run_report(t);
    t.aios(&["approve", "1", "-q"]).success();
}

#[test]
fn the_weekly_report_is_auto_approved_after_five_unchanged_approvals_and_an_edit_demotes_it() {
    let t = report_home(WEEKLY);
    // Run 1's proposal waits (it is decided later, with an edit).
    run_report(&t);
    // Runs 2 to 6: approved unchanged by the operator.
    for run in 2..=6 {
        let out = run_report(&t);
        assert!(out.contains("is waiting for you"), "{out}");
        t.aios(&["approve", &newest_item(&t), "-q"]).success();
        assert_eq!(t.show(run)["status"], "succeeded");
    }
    let trust = t.aios(&["trust", "--json"]).success().json();
    assert_eq!(trust[0]["streak"], 5);
    assert_eq!(trust[0]["state"], "decided by policy:weekly-report");

    // Run 7: decided by the policy, committed without asking, reported.
    t.args(&["run", "report.toml"]).run().success().stderr_contains(
        "» save approved by policy:weekly-report (inbox 7): policy weekly-report: approved unchanged 5 of 5 times (after = 5)",
    );
    assert_eq!(t.show(7)["status"], "succeeded");
    t.aios(&["inbox", "list", "--all"])
        .success()
        .stdout_contains("[approved by policy:weekly-report] write report.txt");
    t.aios(&["log", "7"])
        .success()
        .stdout_contains("save: report.save promoted: its proposals are decided by policy (by policy:weekly-report): policy weekly-report: approved unchanged 5 of 5 times (after = 5)")
        .stdout_contains("save: inbox item 7 approved by policy:weekly-report: policy weekly-report: approved unchanged 5 of 5 times");
    t.aios(&["inbox", "show", "7"])
        .success()
        .stdout_contains("decided: approve by policy:weekly-report at");
    // Decision memory: the policy's decision is searchable with its reason.
    let found = t
        .aios(&["memory", "search", "weekly-report unchanged", "--json"])
        .success()
        .json();
    assert!(
        found
            .to_string()
            .contains("policy weekly-report: approved unchanged 5 of 5 times"),
        "{found}"
    );

    // The operator edits run 1's older proposal: the step is demoted, with the reason.
    let mut action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    action["content"] = "weekly report, fixed".into();
    t.put("edit.json", &action.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json", "-q"])
        .success();
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("report.save demoted: its proposals wait for the operator again (by ")
        .stdout_contains(": inbox item 1 was edited by ");
    let trust = t.aios(&["trust", "--json"]).success().json();
    assert_eq!(trust[0]["streak"], 0);
    assert_eq!(trust[0]["mark"]["level"], "demoted");
    assert_eq!(
        trust[0]["state"],
        "asks (policy:weekly-report after 5 more unchanged approvals)"
    );
    // Run 8 asks again.
    let out = run_report(&t);
    assert!(out.contains("is waiting for you"), "{out}");
    // The trust marks are projections of their events, like the rest.
    t.aios(&["replay"]).success();
}

#[test]
fn trust_shows_statistics_and_suggests_a_promotion_then_promote_and_demote_by_hand() {
    let t = report_home("");
    for _ in 0..3 {
        run_and_approve(&t);
    }
    run_report(&t);
    t.aios(&["reject", &newest_item(&t), "--reason", "wrong week", "-q"])
        .code(1);
    for _ in 0..3 {
        run_and_approve(&t);
    }
    t.aios(&["trust"])
        .success()
        .stdout_contains("report.save          7          6       0         1       3  asks")
        .stdout_contains("suggestion: approved unchanged the last 3 times (of 7 decided): `aios trust promote report.save`");
    // Promoted by hand: the next proposal is decided by the built-in `promoted` policy.
    t.aios(&[
        "trust",
        "promote",
        "report.save",
        "--reason",
        "it never changes",
    ])
    .success()
    .stdout_contains(
        "promoted report.save: its proposals are decided by policy:promoted from now on",
    );
    t.args(&["run", "report.toml"])
        .run()
        .success()
        .stderr_contains("save approved by policy:promoted");
    t.aios(&["trust", "promote", "report.save"]).code(4);
    t.aios(&["trust", "demote", "report.save", "--reason", "new format"])
        .success()
        .stdout_contains("demoted report.save: its proposals wait for you again");
    let out = run_report(&t);
    assert!(out.contains("is waiting for you"), "{out}");
    let j = t.aios(&["trust", "--json"]).success().json();
    assert_eq!(j[0]["mark"]["reason"], "new format");
    t.aios(&["trust", "promote", "report.nope"])
        .code(3)
        .stderr_contains("step `nope` of workflow `report` has proposed no action yet");
    t.aios(&["trust", "promote", "report"]).code(2);
}

#[test]
fn an_outcome_below_the_threshold_demotes_a_promoted_step() {
    let t = report_home(
        "[[autonomy]]\nname = \"news\"\nworkflow = \"report\"\nafter = 1\ndemote_below = { metric = \"open_rate\", value = 0.2 }\n",
    );
    approved_once(&t);
    run_report(&t);
    assert_eq!(t.show(2)["status"], "succeeded");
    t.aios(&["outcome", "2", "open_rate=0.1"]).success();
    // The next proposal finds the outcome below the threshold: demoted, it asks.
    let out = run_report(&t);
    assert!(out.contains("is waiting for you"), "{out}");
    t.aios(&["log", "3"]).success().stdout_contains(
        "report.save demoted: its proposals wait for the operator again (by policy:news): outcome open_rate = 0.1 is below 0.2 (policy news's demote_below)",
    );
    t.aios(&["inbox", "show", "3"])
        .success()
        .stdout_contains("asks you: demoted: outcome open_rate = 0.1 is below 0.2");
}

#[test]
fn notify_mode_commits_after_the_quiet_period_unless_vetoed() {
    let t = report_home(QUIETLY);
    approved_once(&t);
    let out = run_report(&t);
    assert!(out.contains("is waiting for you"), "{out}");
    t.aios(&["inbox", "list"])
        .success()
        .stdout_contains("(policy:quietly approves it at 2026-11-21T11:30:00Z unless you decide)");
    t.aios(&["inbox", "show", "2"]).success().stdout_contains(
        "policy:quietly approves it at 2026-11-21T11:30:00Z unless you decide first (policy quietly: approved unchanged 1 of 1 times (after = 1))",
    );
    // Before the quiet period ends, tick leaves it.
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T10:30:00Z")
        .run()
        .success();
    assert_eq!(t.show(2)["status"], "waiting");
    // After: approved by the policy and committed.
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T11:31:00Z")
        .run()
        .success()
        .stdout_contains(
            "inbox 2 (run 2): not vetoed in its quiet period; approved by policy:quietly",
        );
    assert_eq!(t.show(2)["status"], "succeeded");
    t.aios(&["inbox", "list", "--all"])
        .success()
        .stdout_contains("[approved by policy:quietly]");
    // A veto: the operator rejects run 3's item during the quiet period.
    run_report(&t);
    t.aios(&["reject", "3", "--reason", "not this week", "-q"])
        .code(1);
    t.aios(&["log", "3"])
        .success()
        .stdout_contains("inbox item 3 rejected by ")
        .stdout_contains("report.save demoted");
}

#[test]
fn caps_keep_a_promoted_step_asking_and_say_why() {
    let t = Test::new()
        .write(
            "config.toml",
            "[[autonomy]]\nname = \"small\"\nworkflow = \"pay\"\nafter = 1\nmax_amount = 100\namount_field = \"json.amount\"\n",
        )
        .write(
            "pay.toml",
            "name = \"pay\"\n\n[inputs]\namount = { type = \"number\" }\n\n[[steps]]\nid = \"charge\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"http://127.0.0.1:9/charge\"\njson = { amount = \"{{ inputs.amount }}\" }\n",
        );
    t.aios(&["run", "pay.toml", "--input", "amount=50", "-q"])
        .success();
    // The pending action items (failed runs also leave failure items).
    let actions = |t: &Test| -> Vec<String> {
        t.inbox()
            .iter()
            .filter(|i| i["kind"] == "action")
            .map(|i| i["id"].to_string())
            .collect()
    };
    t.aios(&["reject", "1", "--reason", "test", "-q"]).code(1);
    t.aios(&["run", "pay.toml", "--input", "amount=50", "-q"])
        .success();
    // Approving sends the request to a closed port (the run fails); what matters
    // is the unchanged approval.
    let second = actions(&t);
    assert_eq!(second.len(), 1);
    t.aios(&["approve", &second[0], "-q"]).code(1);
    t.aios(&["run", "pay.toml", "--input", "amount=500", "-q"])
        .success();
    let third = actions(&t);
    assert_eq!(third.len(), 1, "the promoted step asks");
    t.aios(&["inbox", "show", &third[0]]).success().stdout_contains(
        "asks you: policy small did not decide: the amount 500 at `json.amount` is above max_amount = 100",
    );
}

#[test]
fn a_bad_rule_is_refused_with_a_hint() {
    let t = report_home("[[autonomy]]\nname = \"x\"\nmode = \"notify\"\nafter = 2\n");
    t.aios(&["run", "report.toml"])
        .code(2)
        .stderr_contains("rule `x`: mode = \"notify\" needs `quiet`");
    let t = Test::new().write(
        "wf.toml",
        "name = \"w\"\n\n[[autonomy]]\nname = \"y\"\nafter = 0\n\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { a = 1 }\n",
    );
    t.aios(&["check", "wf.toml"])
        .code(2)
        .stderr_contains("rule `y`: `after` must be a whole number, 1 or more")
        .stderr_contains("wf.toml:3:1");
}

#[test]
fn a_workflows_own_rule_decides_its_steps() {
    let t = Test::new().write(
        "report.toml",
        &format!("{REPORT}\n[[autonomy]]\nname = \"mine\"\nstep = \"save\"\nafter = 1\n"),
    );
    approved_once(&t);
    t.args(&["run", "report.toml"])
        .run()
        .success()
        .stderr_contains("save approved by policy:mine (inbox 2)");
    assert_eq!(t.show(2)["status"], "succeeded");
}

#[test]
fn a_stale_proposal_is_never_approved_by_a_policy() {
    let t = report_home(QUIETLY);
    approved_once(&t);
    run_report(&t);
    // The workflow file changes while item 2 waits out its quiet period: it is STALE.
    t.put(
        "report.toml",
        &REPORT.replace("weekly report", "weekly report v2"),
    );
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T11:31:00Z")
        .run()
        .success();
    let items = t.inbox();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], 2);
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(t.show(2)["status"], "waiting");
    t.aios(&["inbox", "show", "2"])
        .success()
        .stdout_contains("STALE");
}

#[test]
fn the_daily_digest_lists_what_policies_decided() {
    let t = report_home(
        "[[autonomy]]\nname = \"weekly-report\"\nworkflow = \"report\"\nafter = 1\n\n[notify]\ndigest = \"09:00\"\n[notify.log]\nkind = \"command\"\nevents = [\"digest\"]\ncommand = [\"sh\", \"-c\", \"printf '%s\\n%s\\n' \\\"$AIOS_NOTIFY_TITLE\\\" \\\"$AIOS_NOTIFY_BODY\\\" >> digest.txt\"]\n",
    );
    approved_once(&t);
    run_report(&t);
    assert_eq!(t.show(2)["status"], "succeeded");
    t.aios(&["tick"]).success();
    crate::support::wait_until("the digest is written", || t.join("digest.txt").exists());
    let text = t.read("digest.txt");
    assert!(
        text.contains("Decided by policy:\n  - inbox 2 (run 2, report.save) approved by policy:weekly-report: policy weekly-report: approved unchanged 1 of 1 times (after = 1)"),
        "{text}"
    );
}
