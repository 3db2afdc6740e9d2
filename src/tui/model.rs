//! The model: everything the inbox screen shows, and nothing else. Plain data; the
//! runtime fills it through messages, [`super::update`] changes it, [`super::view`]
//! draws it.

use std::collections::BTreeSet;

use ratatui_textarea::TextArea;

use crate::clock::Millis;
use crate::inbox::choices::{Choice, Input};
use crate::inbox::view::ItemView;
use crate::journal::{InboxRow, ProposalRecord, RunSummary, StaleRef, StepRecord};

/// What the front end was started with (read by `commands/`, passed in).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `NO_COLOR`: no colours (bold and reverse video stay).
    pub no_color: bool,
    /// `$VISUAL`/`$EDITOR` is set: `e` opens it; otherwise an inline editor.
    pub external_editor: bool,
}

/// A pending item in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub row: InboxRow,
    /// Some evidence it was built from changed since (see `journal::versions`).
    pub stale: bool,
    /// Lower-cased text the filter searches.
    pub haystack: String,
}

impl Item {
    pub fn new(row: InboxRow, stale: bool) -> Item {
        let haystack = format!(
            "#{} {} {} {} {}",
            row.id, row.kind, row.workflow, row.step_id, row.summary
        )
        .to_lowercase();
        Item {
            row,
            stale,
            haystack,
        }
    }
}

/// The selected item in full.
#[derive(Debug, Clone)]
pub struct Detail {
    pub record: ProposalRecord,
    /// What it shows (the same as `aios inbox show`), read once when it loads.
    pub view: ItemView,
    pub stale: Vec<StaleRef>,
    pub snoozed_until: Option<Millis>,
}

impl Detail {
    pub fn new(
        record: ProposalRecord,
        stale: Vec<StaleRef>,
        snoozed_until: Option<Millis>,
    ) -> Detail {
        Detail {
            view: ItemView::of(&record),
            record,
            stale,
            snoozed_until,
        }
    }
}

/// A run's steps and events, for the timeline view.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub run: RunSummary,
    pub error: Option<String>,
    pub steps: Vec<StepRecord>,
    /// The run's inputs as `(name, value)`, a secret input's value shown as `secret`
    /// (see [`crate::engine::cancel::shown_inputs`]).
    pub inputs: Vec<(String, String)>,
    /// (time, one line) per event, oldest first.
    pub events: Vec<(Millis, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Inbox,
    Runs,
    /// The figures of `aios stats` as charts.
    Overview,
    /// The timeline of a run; `back` is where Esc returns.
    Timeline {
        run: i64,
        back: Back,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    Inbox,
    Runs,
}

/// An approval being assembled: what is approved, with what.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Approval {
    pub ids: Vec<i64>,
    pub edit: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// A modal on top of the screen. Keys go to it first.
#[derive(Debug, Default)]
pub enum Overlay {
    #[default]
    None,
    /// The keys; `scroll`: the first line shown (j/k, the wheel), any other key closes.
    Help { scroll: u16 },
    /// The reason of a rejection of `ids` (`verb`: what the rejection does, `reject`
    /// or `fail`).
    Reject {
        ids: Vec<i64>,
        verb: &'static str,
        input: TextArea<'static>,
        error: Option<String>,
    },
    /// How long to hide `ids` for.
    Snooze {
        ids: Vec<i64>,
        input: TextArea<'static>,
        error: Option<String>,
    },
    /// The typed inputs of a choice (a gate's fields, a budget stop's raise), one
    /// box per input; Tab moves between them.
    Form(Form),
    /// The inline editor of an action (when no `$EDITOR` is set, or after a bad edit).
    Editor {
        id: i64,
        input: TextArea<'static>,
        error: Option<String>,
    },
    /// A validated edit, shown as a diff before it is committed.
    ConfirmEdit { id: i64, text: String, diff: String },
    /// Approving several marked items at once: how many of which kinds, then y/n.
    ConfirmBulk {
        approval: Approval,
        /// `(kind, count)` in list order of first appearance.
        kinds: Vec<(String, usize)>,
    },
    /// Approving stale items needs a second, explicit yes.
    ConfirmStale {
        approval: Approval,
        stale: Vec<String>,
    },
    /// Quitting while this process still drives runs.
    ConfirmQuit,
    /// Cancelling a run for good: why (optional, kept in the journal).
    Cancel { run: i64, input: TextArea<'static> },
}

/// A choice's inputs being filled in.
#[derive(Debug)]
pub struct Form {
    pub id: i64,
    pub choice: Choice,
    pub fields: Vec<FormField>,
    /// The field being typed in.
    pub focus: usize,
}

/// One input of a [`Form`], with what is typed and why it does not fit yet.
#[derive(Debug)]
pub struct FormField {
    pub input: Input,
    pub text: TextArea<'static>,
    pub error: Option<String>,
}

/// A line for the operator at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

#[derive(Debug)]
pub struct Model {
    pub settings: Settings,
    pub now: Millis,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Every pending item, most urgent first (the order of `aios inbox list`, see
    /// [`crate::inbox::order`]).
    pub items: Vec<Item>,
    /// Indices into `items` shown now (not snoozed, or only the snoozed in the snoozed
    /// view; matching the filter).
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub cursor: usize,
    /// First row of `visible` drawn.
    pub offset: usize,
    pub marks: BTreeSet<i64>,
    /// The snoozed view (`z`): only the snoozed items are listed, `u` shows them again.
    pub show_snoozed: bool,
    pub filter: String,
    /// The filter being typed (`/`).
    pub filter_input: Option<TextArea<'static>>,
    pub detail: Option<Detail>,
    pub detail_scroll: u16,
    pub screen: Screen,
    pub runs: Vec<RunSummary>,
    pub runs_cursor: usize,
    /// The Overview tab's figures, when loaded.
    pub stats: Option<crate::journal::stats::Stats>,
    /// The circuit breakers open or half-open now (as `aios breakers` lists them).
    pub breakers: Vec<crate::health::Breaker>,
    /// The breaker selected on the Overview tab (`x` closes it).
    pub breakers_cursor: usize,
    /// A run key pressed on a failed run whose failure item was still loading:
    /// `(run, item, key)`, made when the item's detail arrives.
    pub pending_failure: Option<(i64, i64, char)>,
    pub timeline: Option<Timeline>,
    pub timeline_scroll: u16,
    /// Runs this process is driving in the background now.
    pub driving: BTreeSet<i64>,
    pub status: Option<Status>,
    pub overlay: Overlay,
    /// Whether the first inbox load arrived (to tell "empty" from "loading").
    pub loaded: bool,
    pub quit: bool,
}

impl Model {
    pub fn new(settings: Settings, now: Millis, size: (u16, u16)) -> Model {
        Model {
            settings,
            now,
            size,
            items: Vec::new(),
            visible: Vec::new(),
            cursor: 0,
            offset: 0,
            marks: BTreeSet::new(),
            show_snoozed: false,
            filter: String::new(),
            filter_input: None,
            detail: None,
            detail_scroll: 0,
            screen: Screen::Inbox,
            runs: Vec::new(),
            runs_cursor: 0,
            stats: None,
            breakers: Vec::new(),
            breakers_cursor: 0,
            pending_failure: None,
            timeline: None,
            timeline_scroll: 0,
            driving: BTreeSet::new(),
            status: None,
            overlay: Overlay::None,
            loaded: false,
            quit: false,
        }
    }

    /// The item under the cursor.
    pub fn selected(&self) -> Option<&Item> {
        self.visible.get(self.cursor).map(|&i| &self.items[i])
    }

    /// What the selected item's keys do (its choices), when its detail is loaded.
    pub fn choices(&self) -> Vec<Choice> {
        self.selected_detail()
            .map(|d| crate::inbox::choices::of(&d.view))
            .unwrap_or_default()
    }

    /// The selected item's detail, when it is loaded.
    pub fn selected_detail(&self) -> Option<&Detail> {
        let id = self.selected()?.row.id;
        self.detail.as_ref().filter(|d| d.record.id == id)
    }

    /// The breaker selected on the Overview tab.
    pub fn selected_breaker(&self) -> Option<&crate::health::Breaker> {
        self.breakers.get(self.breakers_cursor)
    }

    /// Items hidden by a snooze now.
    pub fn snoozed(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.row.snoozed_until.is_some_and(|u| u > self.now))
            .count()
    }
}
