//! Transition tests: no IO, no async, no clock.

use super::*;

fn plan(needs: &[&[usize]]) -> Vec<StepPlan> {
    needs
        .iter()
        .map(|n| StepPlan {
            needs: n.to_vec(),
            approval: false,
            on_reject: OnReject::Fail,
            retry: Retry::default(),
            timer: false,
        })
        .collect()
}

fn chain(n: usize) -> Vec<StepPlan> {
    let needs: Vec<Vec<usize>> = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    let refs: Vec<&[usize]> = needs.iter().map(|v| v.as_slice()).collect();
    plan(&refs)
}

fn ready(step: usize) -> Input {
    Input::Prepared {
        step,
        outcome: Prepared::Ready,
    }
}

fn ok(step: usize) -> Input {
    Input::Finished {
        step,
        ok: true,
        retryable: false,
    }
}

fn err(step: usize, retryable: bool) -> Input {
    Input::Finished {
        step,
        ok: false,
        retryable,
    }
}

#[test]
fn a_chain_runs_top_to_bottom() {
    let mut m = Machine::new(chain(3), 4);
    assert_eq!(
        m.schedule(),
        vec![Effect::Prepare {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(
        m.handle(ready(0)),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(m.outcome(), Outcome::Active);
    assert_eq!(
        m.handle(ok(0)),
        vec![Effect::Prepare {
            step: 1,
            attempt: 1
        }]
    );
    m.handle(ready(1));
    assert_eq!(
        m.handle(ok(1)),
        vec![Effect::Prepare {
            step: 2,
            attempt: 1
        }]
    );
    m.handle(ready(2));
    assert!(m.handle(ok(2)).is_empty());
    assert_eq!(m.outcome(), Outcome::Succeeded);
}

#[test]
fn independent_steps_start_together_up_to_max_parallel() {
    let mut m = Machine::new(plan(&[&[], &[], &[], &[0, 1, 2]]), 2);
    let first = m.schedule();
    assert_eq!(
        first,
        vec![
            Effect::Prepare {
                step: 0,
                attempt: 1
            },
            Effect::Prepare {
                step: 1,
                attempt: 1
            }
        ]
    );
    m.handle(ready(0));
    // A slot frees only when a step finishes.
    assert_eq!(
        m.handle(ok(0)),
        vec![Effect::Prepare {
            step: 2,
            attempt: 1
        }]
    );
    m.handle(ready(1));
    m.handle(ready(2));
    assert!(m.handle(ok(1)).is_empty());
    assert_eq!(
        m.handle(ok(2)),
        vec![Effect::Prepare {
            step: 3,
            attempt: 1
        }]
    );
}

#[test]
fn a_false_condition_skips_and_dependents_still_run() {
    let mut m = Machine::new(chain(2), 4);
    m.schedule();
    let fx = m.handle(Input::Prepared {
        step: 0,
        outcome: Prepared::Skip,
    });
    assert_eq!(
        fx,
        vec![
            Effect::Skip {
                step: 0,
                rejected: false
            },
            Effect::Prepare {
                step: 1,
                attempt: 1
            }
        ]
    );
}

#[test]
fn approval_steps_are_proposed_then_executed_once_approved() {
    let mut p = chain(2);
    p[0].approval = true;
    let mut m = Machine::new(p, 4);
    m.schedule();
    assert_eq!(
        m.handle(ready(0)),
        vec![Effect::Propose {
            step: 0,
            attempt: 1
        }]
    );
    m.handle(Input::Proposed { step: 0 });
    assert_eq!(m.outcome(), Outcome::Waiting);
    let fx = m.handle(Input::Decided {
        step: 0,
        decision: Decided::Approve,
    });
    assert_eq!(
        fx,
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    // A second decision changes nothing.
    assert!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Approve
        })
        .is_empty()
    );
}

/// A step that may run without approval is still proposed when its rendered action
/// says it must be (a tool not annotated read-only); approved, it runs once.
#[test]
fn an_action_that_must_ask_is_proposed_whatever_the_step_says() {
    let mut m = Machine::new(chain(2), 4);
    m.schedule();
    assert_eq!(
        m.handle(Input::Prepared {
            step: 0,
            outcome: Prepared::Ask,
        }),
        vec![Effect::Propose {
            step: 0,
            attempt: 1
        }]
    );
    m.handle(Input::Proposed { step: 0 });
    assert_eq!(m.outcome(), Outcome::Waiting);
    assert_eq!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Approve,
        }),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    // The next step, ready and not asking, runs without a proposal.
    assert_eq!(
        m.handle(ok(0)),
        vec![Effect::Prepare {
            step: 1,
            attempt: 1
        }]
    );
    assert_eq!(
        m.handle(ready(1)),
        vec![Effect::Execute {
            step: 1,
            attempt: 1
        }]
    );
}

#[test]
fn rejection_fails_or_skips_by_policy() {
    let mut p = chain(2);
    p[0].approval = true;
    let mut m = Machine::new(p.clone(), 4);
    m.schedule();
    m.handle(ready(0));
    m.handle(Input::Proposed { step: 0 });
    let fx = m.handle(Input::Decided {
        step: 0,
        decision: Decided::Reject,
    });
    assert_eq!(fx, vec![Effect::Fail { step: 0 }]);
    assert_eq!(m.outcome(), Outcome::Failed);

    p[0].on_reject = OnReject::Skip;
    let mut m = Machine::new(p, 4);
    m.schedule();
    m.handle(ready(0));
    m.handle(Input::Proposed { step: 0 });
    let fx = m.handle(Input::Decided {
        step: 0,
        decision: Decided::Reject,
    });
    assert_eq!(
        fx,
        vec![
            Effect::Skip {
                step: 0,
                rejected: true
            },
            Effect::Prepare {
                step: 1,
                attempt: 1
            }
        ]
    );
}

#[test]
fn retries_back_off_exponentially_then_fail() {
    let mut p = chain(1);
    p[0].retry = Retry {
        attempts: 3,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(150),
    };
    let mut m = Machine::new(p, 4);
    m.schedule();
    m.handle(ready(0));
    assert!(m.retries_left(0));
    assert_eq!(
        m.handle(err(0, true)),
        vec![Effect::ScheduleRetry {
            step: 0,
            next_attempt: 2,
            delay: Duration::from_millis(100)
        }]
    );
    assert_eq!(m.outcome(), Outcome::Active);
    assert_eq!(
        m.handle(Input::RetryDue { step: 0 }),
        vec![Effect::Execute {
            step: 0,
            attempt: 2
        }]
    );
    assert_eq!(
        m.handle(err(0, true)),
        vec![Effect::ScheduleRetry {
            step: 0,
            next_attempt: 3,
            delay: Duration::from_millis(150)
        }]
    );
    m.handle(Input::RetryDue { step: 0 });
    // What an agent step's turns are told before they give up: no retry left.
    assert!(!m.retries_left(0));
    assert_eq!(m.handle(err(0, true)), vec![Effect::Fail { step: 0 }]);
    assert_eq!(m.outcome(), Outcome::Failed);
    assert_eq!(m.step(0).attempt, 3);
}

#[test]
fn non_retryable_errors_fail_at_once() {
    let mut p = chain(1);
    p[0].retry.attempts = 5;
    let mut m = Machine::new(p, 4);
    m.schedule();
    m.handle(ready(0));
    assert_eq!(m.handle(err(0, false)), vec![Effect::Fail { step: 0 }]);
}

#[test]
fn a_failure_starts_nothing_new_but_lets_running_steps_finish() {
    let mut m = Machine::new(plan(&[&[], &[], &[1]]), 4);
    m.schedule();
    m.handle(ready(0));
    m.handle(ready(1));
    assert!(!m.halted());
    assert_eq!(m.handle(err(0, false)), vec![Effect::Fail { step: 0 }]);
    assert!(
        m.halted(),
        "a step still running is told the run is failing"
    );
    assert_eq!(m.outcome(), Outcome::Active);
    assert!(m.handle(ok(1)).is_empty(), "step 2 must not start");
    assert_eq!(m.outcome(), Outcome::Failed);
    assert_eq!(m.step(2).phase, Phase::Pending);
}

#[test]
fn resume_resets_failed_steps_and_keeps_finished_ones() {
    let steps = vec![
        StepState::new(Phase::Succeeded, 1),
        StepState::new(Phase::Failed, 2),
        StepState::new(Phase::Pending, 0),
    ];
    let mut m = Machine::restore(chain(3), steps, 4);
    assert_eq!(m.outcome(), Outcome::Failed);
    assert_eq!(m.reset_failed(), vec![1]);
    assert_eq!(
        m.schedule(),
        vec![Effect::Prepare {
            step: 1,
            attempt: 3
        }]
    );
}

#[test]
fn interrupted_steps_ask_for_attention_and_follow_the_answer() {
    let steps = vec![
        StepState::new(Phase::Succeeded, 1),
        StepState::new(Phase::Pending, 1),
        StepState::new(Phase::Pending, 0),
    ];
    let mut m = Machine::restore(chain(3), steps, 4);
    assert_eq!(
        m.handle(Input::Interrupted { step: 1 }),
        vec![Effect::AskAttention {
            step: 1,
            attempt: 1
        }]
    );
    assert_eq!(m.outcome(), Outcome::Waiting);
    let fx = m.handle(Input::Decided {
        step: 1,
        decision: Decided::Done,
    });
    assert_eq!(
        fx,
        vec![
            Effect::MarkDone { step: 1 },
            Effect::Prepare {
                step: 2,
                attempt: 1
            }
        ]
    );

    let steps = vec![StepState::new(Phase::NeedsAttention, 4)];
    let mut m = Machine::restore(chain(1), steps, 4);
    assert_eq!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Approve
        }),
        vec![Effect::Execute {
            step: 0,
            attempt: 5
        }]
    );
    let steps = vec![StepState::new(Phase::NeedsAttention, 4)];
    let mut m = Machine::restore(chain(1), steps, 4);
    assert_eq!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Fail
        }),
        vec![Effect::Fail { step: 0 }]
    );
}

#[test]
fn stale_inputs_are_ignored() {
    let mut m = Machine::new(chain(2), 4);
    assert!(m.handle(ok(1)).is_empty());
    assert_eq!(m.step(1).phase, Phase::Pending);
    assert!(m.handle(Input::RetryDue { step: 0 }).is_empty());
}

#[test]
fn backoff_doubles_and_caps() {
    let r = Retry {
        attempts: 10,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(5),
    };
    let d: Vec<u64> = (1..=5).map(|t| backoff(&r, t).as_secs()).collect();
    assert_eq!(d, vec![1, 2, 4, 5, 5]);
}

#[test]
fn a_wide_graph_of_a_thousand_steps_completes() {
    let mut m = Machine::new(chain(1000), 4);
    let mut queue = m.schedule();
    let mut executed = 0;
    while let Some(e) = queue.pop() {
        match e {
            Effect::Prepare { step, .. } => queue.extend(m.handle(ready(step))),
            Effect::Execute { step, .. } => {
                executed += 1;
                queue.extend(m.handle(ok(step)))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(executed, 1000);
    assert_eq!(m.outcome(), Outcome::Succeeded);
}

#[test]
fn a_paused_machine_commits_decided_steps_and_starts_nothing_else() {
    let mut p = chain(2);
    p[0].approval = true;
    let steps = vec![
        StepState::new(Phase::Proposed, 1),
        StepState::new(Phase::Pending, 0),
    ];
    let mut m = Machine::restore(p, steps, 4);
    m.pause();
    let fx = m.handle(Input::Decided {
        step: 0,
        decision: Decided::Approve,
    });
    assert_eq!(
        fx,
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    assert!(m.handle(ok(0)).is_empty());
    assert_eq!(m.outcome(), Outcome::Waiting);
}

#[test]
fn a_blocked_step_waits_under_a_new_attempt_then_runs_or_fails() {
    let mut m = Machine::new(chain(2), 4);
    m.schedule();
    assert_eq!(
        m.handle(ready(0)),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    // A budget stop: nothing to do until the operator decides.
    assert_eq!(m.handle(Input::Blocked { step: 0 }), vec![]);
    assert_eq!(m.step(0).phase, Phase::Proposed);
    assert_eq!(m.step(0).attempt, 2);
    assert_eq!(m.outcome(), Outcome::Waiting);
    // Blocking a step that is not running changes nothing.
    assert_eq!(m.handle(Input::Blocked { step: 1 }), vec![]);
    assert_eq!(m.step(1).phase, Phase::Pending);
    assert_eq!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Approve
        }),
        vec![Effect::Execute {
            step: 0,
            attempt: 2
        }]
    );
    // Blocked again, then rejected: the step fails.
    m.handle(Input::Blocked { step: 0 });
    assert_eq!(
        m.handle(Input::Decided {
            step: 0,
            decision: Decided::Reject
        }),
        vec![Effect::Fail { step: 0 }]
    );
    assert_eq!(m.outcome(), Outcome::Failed);
}

#[test]
fn a_wait_step_sleeps_then_runs_when_its_timer_is_due() {
    let mut p = chain(2);
    p[0].timer = true;
    let mut m = Machine::new(p, 4);
    m.schedule();
    assert_eq!(
        m.handle(ready(0)),
        vec![Effect::Sleep {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(m.step(0).phase, Phase::Sleeping);
    // Only a timer pending: the run waits (the driver knows until when).
    assert_eq!(m.outcome(), Outcome::Waiting);
    // Stray inputs do not wake it.
    assert!(m.handle(ok(0)).is_empty());
    assert_eq!(m.step(0).phase, Phase::Sleeping);
    assert_eq!(
        m.handle(Input::TimerDue { step: 0 }),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(
        m.handle(ok(0)),
        vec![Effect::Prepare {
            step: 1,
            attempt: 1
        }]
    );
    // A second TimerDue for a step that is no longer sleeping does nothing.
    assert!(m.handle(Input::TimerDue { step: 0 }).is_empty());
}

#[test]
fn a_sleeping_step_does_not_block_parallel_work_and_survives_restore() {
    let mut p = plan(&[&[], &[]]);
    p[0].timer = true;
    let mut m = Machine::new(p.clone(), 4);
    m.schedule();
    m.handle(ready(0));
    m.handle(ready(1));
    assert_eq!(m.outcome(), Outcome::Active);
    m.handle(ok(1));
    assert_eq!(m.outcome(), Outcome::Waiting);
    // Restored from the journal (sleeping, attempt 1): the timer wakes it.
    let mut r = Machine::restore(
        p,
        vec![
            StepState::new(Phase::Sleeping, 1),
            StepState::new(Phase::Succeeded, 1),
        ],
        4,
    );
    assert_eq!(r.outcome(), Outcome::Waiting);
    assert!(r.schedule().is_empty());
    assert_eq!(
        r.handle(Input::TimerDue { step: 0 }),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    r.handle(ok(0));
    assert_eq!(r.outcome(), Outcome::Succeeded);
}

#[test]
fn a_held_step_sleeps_and_runs_the_same_attempt_without_spending_a_retry() {
    let mut p = chain(2);
    p[0].retry = Retry {
        attempts: 2,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
    };
    let mut m = Machine::new(p, 4);
    m.schedule();
    m.handle(ready(0));
    // The first attempt's call waits for its target's breaker.
    assert!(m.handle(Input::Held { step: 0 }).is_empty());
    assert_eq!(m.step(0).phase, Phase::Sleeping);
    assert_eq!(m.outcome(), Outcome::Waiting);
    // Held only from Running: a stray hold changes nothing.
    assert!(m.handle(Input::Held { step: 1 }).is_empty());
    assert_eq!(m.step(1).phase, Phase::Pending);
    assert_eq!(
        m.handle(Input::TimerDue { step: 0 }),
        vec![Effect::Execute {
            step: 0,
            attempt: 1
        }]
    );
    // Held again on the retry: the retry is still the second of two tries.
    m.handle(err(0, true));
    m.handle(Input::RetryDue { step: 0 });
    m.handle(Input::Held { step: 0 });
    assert_eq!(
        m.handle(Input::TimerDue { step: 0 }),
        vec![Effect::Execute {
            step: 0,
            attempt: 2
        }]
    );
    assert_eq!(m.step(0).tries, 2);
    assert_eq!(
        m.handle(ok(0)),
        vec![Effect::Prepare {
            step: 1,
            attempt: 1
        }]
    );
}
