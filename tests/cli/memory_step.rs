//! The `memory` step: notes by tag and outcomes of past runs read into a run, used by
//! an agent's offline draft and prompt; checked with positions, shown by `aios plan`,
//! carried out by dry runs; and the offline provider's prompt draft with its context.

use crate::support::{Test, step};

const WF: &str = r#"name = "digest"

[[steps]]
id = "ideas"
kind = "memory"
tag = "idea"
limit = 2

[[steps]]
id = "past"
kind = "memory"
find = "outcomes"
workflow = "campaign"

[[steps]]
id = "draft"
kind = "agent"
needs = ["ideas", "past"]
model = ["default", "heuristic"]
prompt = "Ideas:\n{{ steps.ideas.output.text }}"
output = "json"
schema = { type = "object", required = ["body"], properties = { body = { type = "string" } } }
offline = { body = "{% for i in steps.ideas.output.items %}* {{ i.text }}\n{% endfor %}best: {{ (steps.past.output.items | sort(attribute='values.open_rate') | last).inputs.offer }}" }

[[steps]]
id = "recall"
kind = "agent"
needs = ["draft"]
prompt = "Say what you know."
context = { memory = "pricing", k = 3 }
"#;

const CAMPAIGN: &str = r#"name = "campaign"

[inputs.offer]
type = "string"

[inputs.rate]
type = "number"

[[steps]]
id = "measure"
kind = "outcome"
values = { open_rate = "{{ inputs.rate }}" }
"#;

fn seeded() -> Test {
    let t = Test::new()
        .write("digest.toml", WF)
        .write("campaign.toml", CAMPAIGN);
    for (text, tag) in [
        ("Pricing page teardown", "idea"),
        ("Not for the newsletter", "todo"),
        ("Interview a customer about onboarding", "idea"),
        ("Why we raised prices", "idea"),
    ] {
        t.aios(&["memory", "add", text, "--tag", tag]).success();
    }
    for (offer, rate) in [
        ("Audit", "0.12"),
        ("Office hours", "0.41"),
        ("Course", "0.2"),
    ] {
        t.aios(&[
            "run",
            "campaign.toml",
            "-q",
            "--input",
            &format!("offer={offer}"),
            "--input",
            &format!("rate={rate}"),
        ])
        .success();
    }
    t
}

#[test]
fn a_memory_step_feeds_notes_and_past_outcomes_to_an_offline_draft() {
    let t = seeded();
    let out = t
        .aios(&["run", "digest.toml", "--json", "-q"])
        .success()
        .json();
    assert_eq!(out["status"], "succeeded", "{out}");
    let ideas = &step(&out, "ideas")["output"];
    assert_eq!(ideas["count"], 2);
    assert_eq!(
        ideas["text"],
        "- Why we raised prices\n- Interview a customer about onboarding"
    );
    let past = &step(&out, "past")["output"];
    assert_eq!(past["count"], 3);
    assert_eq!(past["items"][0]["values"]["open_rate"], 0.2);
    assert_eq!(past["items"][0]["inputs"]["offer"], "Course");
    assert_eq!(
        past["items"][0]["text"],
        "campaign run 3 (offer=Course, rate=0.2): open_rate=0.2"
    );
    // The offline draft is built from what memory held.
    let draft = &step(&out, "draft")["output"];
    assert_eq!(draft["heuristic"], true);
    assert_eq!(
        draft["json"]["body"],
        "* Why we raised prices\n* Interview a customer about onboarding\nbest: Office hours"
    );
    // A prompt draft offline carries the memory its context retrieved.
    let recall = step(&out, "recall")["output"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        recall.starts_with("[offline draft] Context from memory"),
        "{recall}"
    );
    assert!(recall.contains("Pricing page teardown"), "{recall}");
    assert!(
        recall.ends_with("</memory>\n\nSay what you know."),
        "{recall}"
    );
}

#[test]
fn plan_and_dry_runs_read_memory_too() {
    let t = seeded();
    t.aios(&["plan", "digest.toml"])
        .success()
        .stdout_contains("ideas   memory  runs: reads memory: up to 2 notes tagged `idea`, newest first")
        .stdout_contains("past    memory  runs: reads memory: up to 10 outcomes of `campaign` runs, newest first");
    let out = t
        .aios(&["run", "--dry-run", "digest.toml", "--json", "-q"])
        .success()
        .json();
    assert_eq!(step(&out, "ideas")["output"]["count"], 2, "{out}");
    assert!(
        step(&out, "draft")["output"]["json"]["body"]
            .as_str()
            .unwrap()
            .contains("best: Office hours"),
        "{out}"
    );
}

#[test]
fn mistakes_in_a_memory_step_are_shown_where_they_are() {
    let t = Test::new().write(
        "bad.toml",
        "name = \"bad\"\n\n[[steps]]\nid = \"m\"\nkind = \"memory\"\nfind = \"outcomes\"\ntag = \"idea\"\nlimit = 500\n",
    );
    t.aios(&["check", "bad.toml"]).code(2).stderr_is(
        r#"error: `tag` lists notes, but this step finds outcomes
 --> bad.toml:7:7
  |
7 | tag = "idea"
  |       ^^^^^^ only notes have tags
  |
  = hint: narrow outcomes with `workflow = "NAME"` or `search = "…"`, or set find = "notes"

error: `limit` is 500
 --> bad.toml:8:9
  |
8 | limit = 500
  |         ^^^ not between 1 and 100
  |
  = hint: limit is how many items the step lists, 1 to 100 (default 10)

error: bad.toml is not a valid workflow (2 problems)
"#,
    );
}
