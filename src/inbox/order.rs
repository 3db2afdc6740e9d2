//! The inbox's one order, most urgent first: `aios inbox list`, the list of a
//! waiting run and the TUI all sort with [`cmp`].
//!
//! 1. By kind: an `attention` item first (a side effect may or may not have
//!    happened, and its step is stuck until you say), then a `budget` stop (an agent
//!    step stopped before spending), a `rescue` (an agent step every model
//!    failed) or a `failure` (a failed run waits on your choice), then actions, approval gates and kinds added
//!    later, then schedule notices (nothing waits on them).
//! 2. Within a kind, items with a decision deadline first, the soonest first (the
//!    deadline decides for you when it passes).
//! 3. Then the item that has waited longest first (oldest; the id breaks ties).

use std::cmp::Ordering;

use crate::clock::Millis;
use crate::journal::{InboxRow, ProposalKind, ProposalRecord};

/// What the order reads of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    pub kind: &'a str,
    pub deadline: Option<Millis>,
    pub created_at: Millis,
    pub id: i64,
}

impl<'a> Key<'a> {
    pub fn of_row(r: &'a InboxRow) -> Key<'a> {
        Key {
            kind: &r.kind,
            deadline: r.deadline,
            created_at: r.created_at,
            id: r.id,
        }
    }

    pub fn of_record(p: &'a ProposalRecord) -> Key<'a> {
        Key {
            kind: p.kind.as_str(),
            deadline: p.deadline,
            created_at: p.created_at,
            id: p.id,
        }
    }
}

/// How urgent a kind is: lower first. A kind this build does not know (a newer
/// build wrote it) ranks with actions.
pub fn rank(kind: &str) -> u8 {
    match ProposalKind::parse(kind) {
        Some(ProposalKind::Attention) => 0,
        Some(ProposalKind::Budget | ProposalKind::Rescue | ProposalKind::Failure) => 1,
        Some(ProposalKind::Notice) => 3,
        Some(ProposalKind::Action | ProposalKind::Approval) | None => 2,
    }
}

/// Most urgent first (see the module's documentation).
pub fn cmp(a: Key<'_>, b: Key<'_>) -> Ordering {
    rank(a.kind)
        .cmp(&rank(b.kind))
        .then_with(|| match (a.deadline, b.deadline) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then(a.created_at.cmp(&b.created_at))
        .then(a.id.cmp(&b.id))
}

/// Sort inbox items most urgent first; with decided ones among them (`inbox list
/// --all`), the pending ones come first, then the rest oldest first.
pub fn sort_records(items: &mut [ProposalRecord]) {
    use crate::journal::ProposalStatus::Pending;
    items.sort_by(|a, b| match (a.status == Pending, b.status == Pending) {
        (true, true) => cmp(Key::of_record(a), Key::of_record(b)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.id.cmp(&b.id),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, deadline: Option<Millis>, created_at: Millis, id: i64) -> Key<'_> {
        Key {
            kind,
            deadline,
            created_at,
            id,
        }
    }

    #[test]
    fn kinds_then_deadlines_then_the_longest_waiting_first() {
        let mut keys = [
            key("notice", None, 1, 1),
            key("action", None, 50, 7),
            key("approval", Some(9_000), 60, 8),
            key("action", None, 20, 3),
            key("budget", None, 90, 9),
            key("action", Some(5_000), 70, 10),
            key("rescue", None, 10, 2),
            key("attention", None, 95, 11),
        ];
        keys.sort_by(|a, b| cmp(*a, *b));
        let ids: Vec<i64> = keys.iter().map(|k| k.id).collect();
        assert_eq!(ids, [11, 2, 9, 10, 8, 3, 7, 1]);
    }
}
