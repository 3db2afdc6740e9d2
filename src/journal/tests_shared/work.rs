//! The shared suite's ready-work queue (see `super`): queueing with the run,
//! claims (tags, expiry, the run's lease with them), hand-offs, finishing, workers,
//! and claims racing from many connections.

use super::*;
use crate::journal::store::Work;

fn at(ms: i64) -> Clock {
    Clock::Fixed(jiff::Timestamp::from_millisecond(ms).unwrap())
}

fn tags(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

const T0: i64 = 1_800_000_000_000;

fn a_queued_run_is_claimed_renewed_and_finished<B: Backend>(b: &B)
where
    B::J: Work,
{
    let mut j = b.open_at(at(T0));
    let w1 = Owner::new(101, "box");
    let run = j
        .create_queued_run("name = \"w\"", created("u1", &["a"]), &[])
        .unwrap();
    // Created and queued together.
    assert_eq!(j.run(run).unwrap().workflow, "w");
    let queued = j.work_items().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].run_id, queued[0].queued_at, queued[0].attempts),
        (run, T0, 0)
    );
    assert!(queued[0].claimed_by.is_none() && queued[0].claimable(T0));
    let item = j.claim_work(&w1, &[], 30_000).unwrap().unwrap();
    assert_eq!(item.run_id, run);
    assert_eq!(item.claimed_by.as_deref(), Some("101@box"));
    assert_eq!((item.lease_expires, item.attempts), (Some(T0 + 30_000), 1));
    assert_eq!(j.work_item(run).unwrap().unwrap(), item);
    // The claim took the run's lease for the worker.
    let r = j.run(run).unwrap();
    assert_eq!(r.lease_owner.as_deref(), Some("101@box"));
    assert_eq!(r.lease_expires, Some(T0 + 30_000));
    // Held: nobody else claims it.
    let mut other = b.open_at(at(T0 + 1_000));
    assert!(
        other
            .claim_work(&Owner::new(202, "box"), &[], 30_000)
            .unwrap()
            .is_none()
    );
    // Renewed: the claim and the run's lease together.
    let mut later = b.open_at(at(T0 + 10_000));
    assert!(later.renew_work(run, &w1, 30_000).unwrap());
    assert_eq!(
        later.work_item(run).unwrap().unwrap().lease_expires,
        Some(T0 + 40_000)
    );
    assert_eq!(later.run(run).unwrap().lease_expires, Some(T0 + 40_000));
    assert!(
        !later
            .renew_work(run, &Owner::new(202, "box"), 30_000)
            .unwrap()
    );
    // Finished: the row goes and the lease is given back.
    assert!(!later.finish_work(run, &Owner::new(202, "box")).unwrap());
    assert!(later.finish_work(run, &w1).unwrap());
    assert!(later.work_items().unwrap().is_empty());
    assert!(later.run(run).unwrap().lease_owner.is_none());
    assert!(!later.finish_work(run, &w1).unwrap());
    assert!(later.claim_work(&w1, &[], 30_000).unwrap().is_none());

    // A driver hands a run on: queued with the tags, its lease given up, in one go.
    let run2 = j.create_run("name = \"w\"", created("u2", &["a"])).unwrap();
    let driver = Owner::new(303, "box");
    assert!(j.acquire_lease(run2, &driver, 30_000).unwrap().is_ok());
    j.hand_off(run2, &tags(&["gpu", "eu", "gpu"]), &driver)
        .unwrap();
    let q = j.work_item(run2).unwrap().unwrap();
    assert_eq!(q.tags, tags(&["eu", "gpu"]));
    assert!(q.claimed_by.is_none());
    assert!(j.run(run2).unwrap().lease_owner.is_none());
    // A tagged worker claims it, and hands it on again: its claim ends there.
    let gpu = Owner::new(404, "box");
    let c = j
        .claim_work(&gpu, &tags(&["eu", "gpu", "x"]), 30_000)
        .unwrap()
        .unwrap();
    assert_eq!((c.run_id, c.attempts), (run2, 1));
    j.hand_off(run2, &tags(&["tpu"]), &gpu).unwrap();
    assert!(!j.finish_work(run2, &gpu).unwrap());
    let q = j.work_item(run2).unwrap().unwrap();
    assert_eq!(
        (q.tags.clone(), q.claimed_by.clone(), q.attempts),
        (tags(&["tpu"]), None, 1)
    );
    assert!(j.run(run2).unwrap().lease_owner.is_none());

    // Workers: registered, heard from, stopped; listed by when last heard from.
    j.register_worker(&w1, &tags(&["b", "a"]), 4, 30_000)
        .unwrap();
    let ws = j.worker_records(T0 - 1).unwrap();
    assert_eq!(ws.len(), 1);
    assert_eq!(
        (ws[0].id.as_str(), ws[0].tags.clone(), ws[0].concurrency),
        ("101@box", tags(&["a", "b"]), 4)
    );
    assert!(ws[0].live(T0 + 30_000) && !ws[0].live(T0 + 30_001));
    later.worker_beat(&w1).unwrap();
    assert_eq!(
        later.worker_records(T0).unwrap()[0].heartbeat_at,
        T0 + 10_000
    );
    later.stop_worker(&w1).unwrap();
    let ws = later.worker_records(T0).unwrap();
    assert_eq!(ws[0].stopped_at, Some(T0 + 10_000));
    assert!(!ws[0].live(T0 + 10_000));
    assert!(later.worker_records(T0 + 10_001).unwrap().is_empty());
    // Started again: live again.
    later.register_worker(&w1, &[], 1, 30_000).unwrap();
    assert!(later.worker_records(T0).unwrap()[0].live(T0 + 10_000));
}

fn a_claim_needs_every_tag_of_the_run<B: Backend>(b: &B)
where
    B::J: Work,
{
    let mut j = b.open_at(at(T0));
    let any = j
        .create_queued_run("name = \"w\"", created("u1", &["a"]), &[])
        .unwrap();
    let gpu = j
        .create_queued_run("name = \"w\"", created("u2", &["a"]), &tags(&["gpu"]))
        .unwrap();
    let both = j
        .create_queued_run("name = \"w\"", created("u3", &["a"]), &tags(&["gpu", "eu"]))
        .unwrap();
    let w = Owner::new(1, "h");
    // No tags: only the untagged run.
    let c = j.claim_work(&w, &[], 10_000).unwrap().unwrap();
    assert_eq!(c.run_id, any);
    assert!(j.claim_work(&w, &[], 10_000).unwrap().is_none());
    // `eu` alone covers neither tagged run.
    assert!(j.claim_work(&w, &tags(&["eu"]), 10_000).unwrap().is_none());
    // `gpu` covers the run needing gpu, not the one needing gpu and eu.
    let c = j.claim_work(&w, &tags(&["gpu"]), 10_000).unwrap().unwrap();
    assert_eq!((c.run_id, c.tags.clone()), (gpu, tags(&["gpu"])));
    assert!(j.claim_work(&w, &tags(&["gpu"]), 10_000).unwrap().is_none());
    // A superset covers it.
    let c = j
        .claim_work(&w, &tags(&["a", "eu", "gpu"]), 10_000)
        .unwrap()
        .unwrap();
    assert_eq!((c.run_id, c.tags), (both, tags(&["eu", "gpu"])));
}

fn an_expired_claim_is_claimed_again<B: Backend>(b: &B)
where
    B::J: Work,
{
    let mut j = b.open_at(at(T0));
    let run = j
        .create_queued_run("name = \"w\"", created("u1", &["a"]), &[])
        .unwrap();
    let dead = Owner::new(11, "elsewhere");
    j.claim_work(&dead, &[], 1_000).unwrap().unwrap();
    // Not yet expired (the instant it expires included): not claimable.
    let taker = Owner::new(22, "other");
    for ms in [T0 + 500, T0 + 1_000] {
        let mut k = b.open_at(at(ms));
        assert!(k.claim_work(&taker, &[], 1_000).unwrap().is_none(), "{ms}");
    }
    // Expired: claimed again, with the run's lease.
    let mut k = b.open_at(at(T0 + 1_001));
    let c = k.claim_work(&taker, &[], 1_000).unwrap().unwrap();
    assert_eq!((c.run_id, c.attempts), (run, 2));
    assert_eq!(c.claimed_by.as_deref(), Some("22@other"));
    assert_eq!(k.run(run).unwrap().lease_owner.as_deref(), Some("22@other"));
    // The first worker's claim is gone: it renews and finishes nothing.
    assert!(!k.renew_work(run, &dead, 1_000).unwrap());
    assert!(!k.finish_work(run, &dead).unwrap());
    assert_eq!(
        k.work_item(run).unwrap().unwrap().claimed_by.as_deref(),
        Some("22@other")
    );
    assert!(k.finish_work(run, &taker).unwrap());
    // A run whose lease another process holds is not claimed, even unclaimed.
    let run2 = k
        .create_queued_run("name = \"w\"", created("u2", &["a"]), &[])
        .unwrap();
    let driver = Owner::new(33, "other");
    assert!(k.acquire_lease(run2, &driver, 5_000).unwrap().is_ok());
    assert!(k.claim_work(&taker, &[], 1_000).unwrap().is_none());
    let mut after = b.open_at(at(T0 + 1_001 + 5_001));
    let c = after.claim_work(&taker, &[], 1_000).unwrap().unwrap();
    assert_eq!(c.run_id, run2);
}

fn racing_workers_claim_each_run_once<B: Backend>(b: &B)
where
    B::J: Work,
{
    let mut j = b.open();
    let mut runs = Vec::new();
    for i in 0..200 {
        runs.push(
            j.create_queued_run("name = \"w\"", created(&format!("u{i}"), &["a"]), &[])
                .unwrap(),
        );
    }
    let claimed: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                // Each its own connection, as each worker has.
                let mut j = b.open();
                s.spawn(move || {
                    let me = Owner::new(1000 + t, "race");
                    let mut mine = Vec::new();
                    while let Some(c) = j.claim_work(&me, &[], 60_000).unwrap() {
                        assert_eq!(c.claimed_by, Some(me.as_string()));
                        mine.push(c.run_id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claimed.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, runs, "each run claimed exactly once");
    // Every row names the worker that claimed it, claimed once.
    for (t, mine) in claimed.iter().enumerate() {
        for run in mine {
            let w = j.work_item(*run).unwrap().unwrap();
            assert_eq!(w.claimed_by, Some(format!("{}@race", 1000 + t)));
            assert_eq!(w.attempts, 1);
        }
    }
}

shared_suite!(
    a_queued_run_is_claimed_renewed_and_finished,
    a_claim_needs_every_tag_of_the_run,
    an_expired_claim_is_claimed_again,
    racing_workers_claim_each_run_once,
);
