//! The breaker's decisions and projection, without IO.

use super::*;
use crate::connectors::TargetKind;

fn target() -> Target {
    Target::new(TargetKind::Http, "api.example.com")
}

fn policy() -> BreakerPolicy {
    BreakerPolicy {
        failures: 3,
        cooldown: 1_000,
        max_cooldown: 3_000,
    }
}

/// Feed a failure at `now` and project it.
fn fail(b: Option<Breaker>, now: Millis) -> Option<Breaker> {
    match on_failure(
        b.as_ref(),
        &policy(),
        now,
        "GET https://api.example.com/ answered 503",
    ) {
        Some(ev) => Some(apply(b, &target(), &ev, now)),
        None => b,
    }
}

#[test]
fn opens_after_the_configured_consecutive_failures() {
    let mut b = None;
    for now in [10, 20] {
        b = fail(b, now);
        assert_eq!(b.as_ref().unwrap().state, BreakerState::Closed);
        assert_eq!(admit(b.as_ref(), &policy(), now, "x"), Admit::Go);
    }
    b = fail(b, 30);
    let open = b.clone().unwrap();
    assert_eq!(open.state, BreakerState::Open);
    assert_eq!((open.failures, open.trips), (3, 1));
    assert_eq!((open.opened_at, open.until), (Some(30), Some(1_030)));
    match admit(Some(&open), &policy(), 500, "run 1, step a") {
        Admit::Wait { until, reason } => {
            assert_eq!(until, 1_030);
            assert!(
                reason.contains("circuit breaker http:api.example.com is open until")
                    && reason.contains("3 consecutive failures")
                    && reason.contains("answered 503"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_success_resets_the_count() {
    let b = fail(fail(None, 1), 2);
    let ev = on_success(b.as_ref()).expect("a reset");
    let b = apply(b, &target(), &ev, 3);
    assert_eq!((b.state, b.failures), (BreakerState::Closed, 0));
    // Nothing to record while it is closed and clean.
    assert_eq!(on_success(Some(&b)), None);
    assert_eq!(on_success(None), None);
}

#[test]
fn a_half_open_probe_closes_it_or_doubles_the_cooldown_up_to_the_cap() {
    let mut b = fail(fail(fail(None, 0), 0), 0).unwrap();
    assert_eq!(b.until, Some(1_000));
    let mut expected = [2_000, 3_000, 3_000].into_iter();
    let mut now = 1_000;
    for trips in 2..=4 {
        // The cooldown is over: one caller probes, the others wait for it.
        let Admit::Probe(probe) = admit(Some(&b), &policy(), now, "run 7, step post") else {
            panic!("no probe at {now}");
        };
        b = apply(Some(b), &target(), &probe, now);
        assert_eq!(b.state, BreakerState::HalfOpen);
        match admit(Some(&b), &policy(), now + 1, "run 8, step post") {
            Admit::Wait { reason, .. } => {
                assert!(
                    reason.contains("half-open: run 7, step post probes it"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        // The probe fails: open again for twice as long, capped.
        b = fail(Some(b), now).unwrap();
        assert_eq!((b.state, b.trips), (BreakerState::Open, trips));
        assert_eq!(b.until, Some(now + expected.next().unwrap()));
        assert_eq!(
            b.opened_at,
            Some(0),
            "the episode began at the first opening"
        );
        now = b.until.unwrap();
    }
    let Admit::Probe(probe) = admit(Some(&b), &policy(), now, "run 9, step post") else {
        panic!("no probe");
    };
    b = apply(Some(b), &target(), &probe, now);
    let closed = apply(
        Some(b.clone()),
        &target(),
        &on_success(Some(&b)).unwrap(),
        now + 5,
    );
    assert_eq!(closed.state, BreakerState::Closed);
    assert_eq!(
        (closed.failures, closed.trips, closed.opened_at),
        (0, 0, None)
    );
    assert_eq!(admit(Some(&closed), &policy(), now + 6, "x"), Admit::Go);
}

#[test]
fn a_lost_probe_is_given_up_on_after_a_cooldown() {
    let b = fail(fail(fail(None, 0), 0), 0).unwrap();
    let Admit::Probe(probe) = admit(Some(&b), &policy(), 1_000, "run 1, step a") else {
        panic!()
    };
    let b = apply(Some(b), &target(), &probe, 1_000);
    assert!(matches!(
        admit(Some(&b), &policy(), 1_999, "y"),
        Admit::Wait { until: 2_000, .. }
    ));
    assert!(matches!(
        admit(Some(&b), &policy(), 2_000, "y"),
        Admit::Probe(_)
    ));
}

#[test]
fn a_late_failure_of_an_open_breaker_changes_nothing() {
    let b = fail(fail(fail(None, 0), 0), 0).unwrap();
    assert_eq!(on_failure(Some(&b), &policy(), 5, "late"), None);
}

#[test]
fn cooldowns_double_to_the_cap() {
    let p = BreakerPolicy {
        failures: 5,
        cooldown: 60_000,
        max_cooldown: 600_000,
    };
    let got: Vec<Millis> = (1..=6).map(|t| p.cooldown_for(t)).collect();
    assert_eq!(got, [60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    assert_eq!(p.cooldown_for(1000), 600_000);
}

fn settings(text: &str) -> Result<BreakerSettings> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    BreakerSettings::from_config(&ConfigFile::load(&p).unwrap())
}

#[test]
fn config_sets_the_default_and_per_target_policies() {
    let s = settings(
        r#"
[breakers]
failures = 3
cooldown = "30s"
max_cooldown = "10m"
notify_after = "5m"

[breakers."http:api.example.com"]
failures = 10

[breakers."llm:local"]
enabled = false
"#,
    )
    .unwrap();
    assert_eq!(s.notify_after, 300_000);
    let d = s.policy(&Target::parse("mcp:time").unwrap()).unwrap();
    assert_eq!(
        (d.failures, d.cooldown, d.max_cooldown),
        (3, 30_000, 600_000)
    );
    let api = s.policy(&target()).unwrap();
    assert_eq!(
        (api.failures, api.cooldown),
        (10, 30_000),
        "the rest is inherited"
    );
    assert_eq!(s.policy(&Target::parse("llm:local").unwrap()), None);
    assert_eq!(settings("").unwrap(), BreakerSettings::default());
    let off = settings("[breakers]\nenabled = false\n").unwrap();
    assert_eq!(off.policy(&target()), None);
    // A long cooldown without a cap of its own raises the cap.
    let long = settings("[breakers]\ncooldown = \"1h\"\n").unwrap();
    assert_eq!(long.default.max_cooldown, 3_600_000);
}

#[test]
fn config_mistakes_name_the_key() {
    let e = settings("[breakers]\nfailure = 3\n").unwrap_err();
    assert!(
        e.message.contains("`breakers.failure` is not a known key"),
        "{}",
        e.message
    );
    assert!(e.hint.unwrap().contains("failures"));
    let e = settings("[breakers]\ncooldown = \"soon\"\n").unwrap_err();
    assert!(
        e.message
            .contains("`breakers.cooldown` is `soon`, not a duration"),
        "{}",
        e.message
    );
    let e = settings("[breakers]\ncooldown = \"5m\"\nmax_cooldown = \"1m\"\n").unwrap_err();
    assert!(
        e.message.contains("(1m) is shorter than the cooldown (5m)"),
        "{}",
        e.message
    );
    let e = settings("[breakers.\"ftp:x\"]\nfailures = 2\n").unwrap_err();
    assert!(
        e.message.contains("does not name a target"),
        "{}",
        e.message
    );
    let e = settings("[breakers.\"http:x\"]\nnotify_after = \"1m\"\n").unwrap_err();
    assert!(
        e.message
            .contains("`breakers.\"http:x\".notify_after` is not a known key"),
        "{}",
        e.message
    );
    let e = settings("[breakers]\nfailures = 0\n").unwrap_err();
    assert!(e.message.contains("from 1 to 1000"), "{}", e.message);
}
