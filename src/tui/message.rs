//! Messages into [`super::update`] and the commands it asks the runtime to perform.

use crossterm::event::{KeyEvent, MouseEvent};

use super::model::{Detail, Item, Timeline};
use crate::clock::Millis;
use crate::journal::{Decision, RunSummary};

/// Something that happened: a key, a tick, data the runtime loaded, an outcome.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A click or a turn of the wheel.
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Time passed (ages, snoozes that ended).
    Tick(Millis),
    /// The pending items, freshly read.
    Inbox(Vec<Item>),
    Runs(Vec<RunSummary>),
    /// The Overview tab's figures.
    Stats(Box<crate::journal::stats::Stats>),
    /// The circuit breakers open or half-open now.
    Breakers(Vec<crate::health::Breaker>),
    Detail(Box<Detail>),
    Timeline(Box<Timeline>),
    /// Decisions were recorded (`done`: id and verb) or refused (`failed`: id and why).
    Decided {
        done: Vec<(i64, &'static str)>,
        failed: Vec<(i64, String)>,
    },
    Snoozed {
        count: usize,
        until: Millis,
        failed: Vec<(i64, String)>,
    },
    /// This process started driving a run in the background.
    DriveStarted(i64),
    /// A background drive stopped: the run's status word, or why it could not go on.
    DriveEnded {
        run: i64,
        outcome: Result<String, String>,
    },
    /// The external editor closed; `None` when it failed or the text was unchanged.
    EditorClosed {
        id: i64,
        text: Option<String>,
    },
    /// An edit was validated: the diff to confirm, or what is wrong with it.
    EditChecked {
        id: i64,
        text: String,
        result: Result<Option<String>, String>,
    },
    /// Something to tell the operator.
    Status {
        text: String,
        error: bool,
    },
}

/// Work for the runtime (IO). `update` returns these; it never performs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Quit,
    LoadDetail(i64),
    LoadTimeline(i64),
    /// The figures of the Overview tab.
    LoadStats,
    Decide {
        ids: Vec<i64>,
        decision: Decision,
        reason: Option<String>,
        edit: Option<String>,
        fields: Vec<(String, String)>,
        confirm_stale: bool,
    },
    Snooze {
        ids: Vec<i64>,
        until: Millis,
    },
    /// Show snoozed items again now (`aios inbox unsnooze ID`).
    Unsnooze(Vec<i64>),
    /// Open `$VISUAL`/`$EDITOR` on `text` (the action as JSON).
    ExternalEdit {
        id: i64,
        text: String,
    },
    /// Continue a run (a failed one: retry its failed steps) in the background, as
    /// `aios resume RUN` does.
    Resume(i64),
    /// Cancel a run for good, as `aios cancel RUN --reason R` does.
    Cancel {
        run: i64,
        reason: Option<String>,
    },
    /// Close a circuit breaker by hand, as `aios breakers close TARGET` does.
    CloseBreaker(crate::connectors::Target),
    /// Validate an edited action and diff it against the proposal.
    CheckEdit {
        id: i64,
        text: String,
    },
}
