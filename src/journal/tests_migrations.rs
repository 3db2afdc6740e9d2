//! Migrations: released ones never change (their hashes are pinned), and databases
//! created by a migration before it was edited are repaired when opened.

use rusqlite::{Connection, params};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::open::MIGRATIONS;
use super::*;
use crate::clock::Clock;

/// Released migrations and the SHA-256 of their text. Never change a line here:
/// a released migration is never edited; add the next number instead (and its line
/// here once it is released).
const RELEASED: &[(&str, &str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("migrations/0001_init.sql"),
        "3b1da53c672ab1a707b54ada6e4f2b4517805781f5f32a2a33293cc1368ddcaf",
    ),
    (
        "0002_agent.sql",
        include_str!("migrations/0002_agent.sql"),
        "d29142cffbde3e172d6549a932f27060588084410b2810d5ec74f240a2abba13",
    ),
    (
        "0003_memory.sql",
        include_str!("migrations/0003_memory.sql"),
        "40fdda21868775026e5bfeb0eea106cf91d20c093d0965f1148544b8a8eec736",
    ),
    (
        "0004_schedule.sql",
        include_str!("migrations/0004_schedule.sql"),
        "fb5b3dc875f64d6faeb64e39b9cd8ea31f92964435c5164a52cc163bf78fa65f",
    ),
    (
        "0005_inbox.sql",
        include_str!("migrations/0005_inbox.sql"),
        "3ca417ed827db38f7738ee6ae44f1f783846e9f0585147c1b3af29752b52900c",
    ),
    (
        "0006_timers.sql",
        include_str!("migrations/0006_timers.sql"),
        "0838ff439fad8085e11888454a2fbffc865301e67bd85a75bd95c9ea56c17dcb",
    ),
    (
        "0007_notices.sql",
        include_str!("migrations/0007_notices.sql"),
        "aac64e43eb3e495572b0d2c686dc061b0e803c49b49da500c2d5c53c72b81c4c",
    ),
    (
        "0008_hook_formats.sql",
        include_str!("migrations/0008_hook_formats.sql"),
        "c0096c7bfbb56d656cdfc125fbdf29c557c272edf7213df0ecad503e5da31a4e",
    ),
    (
        "0009_old_fires.sql",
        include_str!("migrations/0009_old_fires.sql"),
        "9a1527211aa9ecfb640e555539d19fc697e62631051a581a02a7e17fde025938",
    ),
    (
        "0010_llm_finish.sql",
        include_str!("migrations/0010_llm_finish.sql"),
        "80d31c9105882ad688b0be08d681a2d08a159e233349cca9c03111a5ad426bb6",
    ),
    (
        "0011_dry_runs.sql",
        include_str!("migrations/0011_dry_runs.sql"),
        "321af89f707500c775373f907141850f15f9708dfa839ece55b7d9cc8a1d52f7",
    ),
    (
        "0012_mail.sql",
        include_str!("migrations/0012_mail.sql"),
        "a63e80b67252ddbe932bf2c78bcd737fc63d5abfc4509f2537418945c3c84a4e",
    ),
    (
        "0013_notifications.sql",
        include_str!("migrations/0013_notifications.sql"),
        "4feddfb4c69b47cdb93fc8ac938f64c36333be905f34377ba41ae9270b390c99",
    ),
    (
        "0014_rate_limits.sql",
        include_str!("migrations/0014_rate_limits.sql"),
        "8a7add3790b97fd9fd31fb2dfd5909c26d9013fbc913c79d4606a1566b9c988b",
    ),
    (
        "0015_runs_by_workflow.sql",
        include_str!("migrations/0015_runs_by_workflow.sql"),
        "5a11666d3a13071911694655a68a276b42e7cc0f472d02fed2ff0d2cadeab46b",
    ),
    (
        "0016_breakers.sql",
        include_str!("migrations/0016_breakers.sql"),
        "ccb8561103ce67ba1f28aa0a3db438cb2c307ea65f54db8d713adf3f3a38ccf2",
    ),
    (
        "0017_health.sql",
        include_str!("migrations/0017_health.sql"),
        "dd5c9fa8cbd0906c89c8e2cbc85708b2b3434199c958ea2695224086843f3edd",
    ),
    (
        "0018_pending_by_run.sql",
        include_str!("migrations/0018_pending_by_run.sql"),
        "93c12bcb7435b02d531ca7cf72eef623b92a0e12ad56f5fab055b699ca8a98d8",
    ),
    (
        "0019_trust.sql",
        include_str!("migrations/0019_trust.sql"),
        "1f7a1a66c0cf69efd6fca8ce6bfbc1f99905909778cbafccdbefdac747d27973",
    ),
    (
        "0020_fact_unset.sql",
        include_str!("migrations/0020_fact_unset.sql"),
        "16924f1595754923a9fba2045ff2e45dd3fc1d454262d2143f3efe555f9f52e0",
    ),
    (
        "0021_history_cost.sql",
        include_str!("migrations/0021_history_cost.sql"),
        "3a428dd27c0018ca3d5ebe6862b083c24a7bad1dd4a32d9cb9728008c05e882d",
    ),
    (
        "0022_fact_recorded.sql",
        include_str!("migrations/0022_fact_recorded.sql"),
        "ac424943e15b1dfc494195425422da1dcf668b4d04156135d7698437c9dc4393",
    ),
    (
        "0023_work.sql",
        include_str!("migrations/0023_work.sql"),
        "07f616a3116a49b46eb8166e3ed75469080d024144509ef58a23611a468b6d1e",
    ),
];

/// 0001 as first released (commit b326bdf): runs kept their source text.
const V0001_BEFORE_SOURCES: &str = include_str!("testdata/0001_init_before_sources.sql");
/// 0006 as first released (commit 6258f4b): no `hooks` table.
const V0006_BEFORE_HOOKS: &str = include_str!("testdata/0006_timers_before_hooks.sql");

fn sql(i: usize) -> &'static str {
    MIGRATIONS[i]
}

/// A database file built the way an older aios left it: `steps` applied in order,
/// then `user_version` set to their number.
fn build(dir: &tempfile::TempDir, steps: &[&str]) -> std::path::PathBuf {
    let path = dir.path().join("aios.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for s in steps {
        conn.execute_batch(s).unwrap();
    }
    conn.pragma_update(None, "user_version", steps.len() as i64)
        .unwrap();
    path
}

fn open_at(path: &std::path::Path) -> SqliteJournal {
    SqliteJournal::open(path, Clock::System, OpenOptions::default()).unwrap()
}

#[test]
fn released_migrations_are_never_edited() {
    for (i, (name, text, pinned)) in RELEASED.iter().enumerate() {
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        assert_eq!(
            &hash, pinned,
            "{name} was edited after its release: restore it and add the change as a new migration"
        );
        assert_eq!(
            sql(i),
            *text,
            "{name} is not the migration of version {}",
            i + 1
        );
    }
}

#[test]
fn a_database_migrated_to_0006_before_hooks_existed_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut steps: Vec<&str> = (0..5).map(sql).collect();
    steps.push(V0006_BEFORE_HOOKS);
    let path = build(&dir, &steps);
    // Opening it used to fail: 0008 alters a `hooks` table it did not have.
    let mut j = open_at(&path);
    let settings = HookSettings::default();
    let put = |j: &mut SqliteJournal| {
        j.put_hook("deploy", "/w/deploy.toml", "/w", "name = \"d\"", &settings)
            .unwrap()
    };
    assert!(!put(&mut j));
    let hooks = j.hooks().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].name, "deploy");
    assert!(j.hook("deploy").unwrap().is_some());
    drop(j);
    // A database that always had them is left as it was by the repair.
    let dir = tempfile::tempdir().unwrap();
    let path = build(&dir, &(0..7).map(sql).collect::<Vec<_>>());
    let mut j = open_at(&path);
    put(&mut j);
    assert_eq!(j.hooks().unwrap().len(), 1);
}

#[test]
fn a_database_of_the_first_0001_keeps_its_runs_and_can_create_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut steps = vec![V0001_BEFORE_SOURCES];
    steps.extend((1..7).map(sql));
    let path = build(&dir, &steps);
    {
        // A run recorded by that first version: its source text in the row.
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO runs (id, uid, workflow, path, dir, source, source_hash, inputs, status, created_at, updated_at)
             VALUES (1, 'u1', 'w', NULL, '/tmp', 'name = \"w\"', 'h1', '{}', 'succeeded', 1, 1)",
            params![],
        )
        .unwrap();
    }
    let mut j = open_at(&path);
    let text: String = j
        .conn
        .query_row("SELECT text FROM sources WHERE hash = 'h1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(text, "name = \"w\"");
    assert_eq!(j.run(1).unwrap().workflow, "w");
    // New runs are created as in any database.
    let created = Event::RunCreated {
        dry: None,
        uid: "u2".into(),
        workflow: "w2".into(),
        path: None,
        dir: "/tmp".into(),
        source_hash: "h2".into(),
        inputs: json!({}),
        steps: vec![],
    };
    assert_eq!(j.create_run("name = \"w2\"", created).unwrap(), 2);
    assert_eq!(j.runs(None, 10).unwrap().len(), 2);
}

#[test]
fn facts_set_by_hand_before_0022_get_their_events_and_replay_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(&dir, &(0..21).map(sql).collect::<Vec<_>>());
    {
        let conn = Connection::open(&path).unwrap();
        for (key, version, value, source, at) in [
            ("plan", 1, "\"pro\"", "manual", 100),
            (
                "plan",
                2,
                "{\"tier\": \"team\", \"seats\": 5}",
                "manual",
                200,
            ),
            ("owner", 1, "\"ada\"", "decision", 150),
        ] {
            conn.execute(
                "INSERT INTO fact_versions (entity, key, version, value, source, set_by, at)
                 VALUES ('customer:acme', ?1, ?2, ?3, ?4, 'ada', ?5)",
                params![key, version, value, source, at],
            )
            .unwrap();
        }
        // A run's `fact` step already has its event (run 1's): not copied again.
        conn.execute(
            "INSERT INTO fact_versions (entity, key, version, value, source, run_id, step_id, at)
             VALUES ('customer:acme', 'mrr', 1, '120', 'run', 1, 'count', 300)",
            [],
        )
        .unwrap();
    }
    let j = open_at(&path);
    let events: Vec<_> = j
        .events(0)
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.event))
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    // In the order they were set, at the instants they were set.
    assert_eq!(
        events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![100, 150, 200]
    );
    match &events[2].1 {
        Event::FactRecorded {
            key,
            value,
            version,
            source,
            by,
            run,
            ..
        } => {
            assert_eq!(
                (key.as_str(), *version, source.as_str()),
                ("plan", 2, "manual")
            );
            assert_eq!(value, &json!({"tier": "team", "seats": 5}));
            assert_eq!((by.as_deref(), *run), (Some("ada"), None));
        }
        other => panic!("not a fact_recorded event: {other:?}"),
    }
    let (n, differences) = j.replay_recorded_facts().unwrap();
    assert_eq!((n, differences), (3, Vec::<String>::new()));
}

#[test]
fn fires_skipped_as_too_old_before_0009_get_their_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = build(&dir, &(0..8).map(sql).collect::<Vec<_>>());
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schedule_events (schedule, type, data, at) VALUES ('daily', 'fires_skipped_old', ?1, 500)",
            params![json!({"type": "skipped_old", "count": 18, "first": 100, "last": 200}).to_string()],
        )
        .unwrap();
    }
    let j = open_at(&path);
    let f = j.fires("daily", 10).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].due_at, f[0].first_due_at, f[0].instants, f[0].status),
        (200, 100, 18, FireStatus::Skipped)
    );
    assert_eq!(
        f[0].reason.as_deref(),
        Some("older than the catch_up_window")
    );
}

#[test]
fn the_schema_of_a_new_database_is_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_at(&dir.path().join("aios.db"));
    assert_eq!(j.version().unwrap(), MIGRATIONS.len() as i64);
    let has_source: bool = j
        .conn
        .query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('runs') WHERE name = 'source'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!has_source);
}

#[test]
fn each_migration_file_number_is_its_schema_version() {
    let src = include_str!("open.rs");
    let names: Vec<&str> = src
        .lines()
        .filter_map(|l| l.trim().strip_prefix("include_str!(\"migrations/"))
        .map(|l| &l[..4])
        .collect();
    assert_eq!(names.len(), MIGRATIONS.len());
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            n.parse::<usize>().unwrap(),
            i + 1,
            "migration {n} is at position {}",
            i + 1
        );
    }
}
