//! The shared suite's joins between concerns (see `super`): memory's facts and
//! outcomes as the other concerns read them — a changed fact makes a proposal's
//! evidence stale, and a recorded outcome reaches the digest, a step's trust
//! statistics and the control room's figures, on both backends alike.

use serde_json::{Value as Json, json};

use super::*;
use crate::journal::store::{MemoryStore, NotifyStore, StatsStore, TrustStore, VersionStore};

/// 2026-01-10T12:00:00Z.
const NOW: Millis = 1_768_046_400_000;

fn at(ms: Millis) -> Clock {
    Clock::Fixed(jiff::Timestamp::from_millisecond(ms).unwrap())
}

fn a_changed_fact_makes_the_evidence_that_read_it_stale<B: Backend>(b: &B)
where
    B::J: MemoryStore + VersionStore,
{
    let mut j = b.open();
    let origin = || FactOrigin {
        by: Some("ada".into()),
        ..FactOrigin::default()
    };
    j.set_fact("customer:acme", "plan", &json!("basic"), origin())
        .unwrap();
    assert_eq!(
        j.current_version("fact", "customer:acme/plan"),
        CurrentVersion::Is("1".into())
    );
    // A fact never set is missing; a key without an entity is not a fact's.
    assert_eq!(
        j.current_version("fact", "customer:acme/seats"),
        CurrentVersion::Missing
    );
    assert_eq!(j.current_version("fact", "plan"), CurrentVersion::Unknown);
    let evidence = json!({"versions": [
        {"kind": "fact", "key": "customer:acme/plan", "version": 1},
    ]});
    assert!(j.stale(&evidence).is_empty());
    j.set_fact("customer:acme", "plan", &json!("pro"), origin())
        .unwrap();
    let stale = j.stale(&evidence);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (
            stale[0].key.as_str(),
            stale[0].recorded.as_str(),
            stale[0].current.as_deref()
        ),
        ("customer:acme/plan", "1", Some("2"))
    );
    // Unset, the fact keeps its history: the tombstone is its newest version.
    j.unset_fact("customer:acme", "plan", "ada", None).unwrap();
    assert_eq!(j.stale(&evidence)[0].current.as_deref(), Some("3"));
}

fn a_recorded_outcome_reaches_the_digest_trust_and_statistics<B: Backend>(b: &B)
where
    B::J: MemoryStore + NotifyStore + TrustStore + StatsStore,
{
    let mut j = b.open_at(at(NOW));
    let run = j
        .create_run("name = \"w\"", created("u1", &["send"]))
        .unwrap();
    let p = item(&mut j, run, "send").unwrap();
    j.decide(p, decision(Decision::Approve, "me")).unwrap();
    j.commit(
        run,
        &[Event::OutcomeRecorded {
            step: None,
            values: json!({"replies": 3, "note": "warm"}),
        }],
    )
    .unwrap();
    // The digest since an hour ago lists them (the workflow's, by key).
    let d = j.digest_facts(NOW - 3_600_000, NOW, NOW).unwrap();
    let rows: Vec<(i64, &str, &str, Json)> = d
        .outcomes
        .iter()
        .map(|o| {
            (
                o.run_id,
                o.workflow.as_str(),
                o.key.as_str(),
                o.value.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (run, "w", "note", json!("warm")),
            (run, "w", "replies", json!(3))
        ]
    );
    assert!(
        j.digest_facts(NOW + 1, NOW, NOW)
            .unwrap()
            .outcomes
            .is_empty()
    );
    // The step's statistics carry the workflow's latest value of each key.
    let s = j.step_stats("w", "send").unwrap();
    assert_eq!(s.outcomes.get("replies"), Some(&json!(3)), "{s:?}");
    assert_eq!(s.outcomes.get("note"), Some(&json!("warm")), "{s:?}");
    // The control room charts the numbers (the note is not one).
    let stats = j.stats(None, None).unwrap();
    type Series<'a> = (&'a str, &'a str, Vec<(i64, f64)>);
    let series: Vec<Series> = stats
        .outcomes
        .iter()
        .map(|s| {
            (
                s.workflow.as_str(),
                s.key.as_str(),
                s.points.iter().map(|p| (p.run, p.value)).collect(),
            )
        })
        .collect();
    assert_eq!(series, [("w", "replies", vec![(run, 3.0)])]);
    assert_eq!(stats.outcomes[0].points[0].date, "2026-01-10");
}

shared_suite!(
    a_changed_fact_makes_the_evidence_that_read_it_stale,
    a_recorded_outcome_reaches_the_digest_trust_and_statistics,
);
