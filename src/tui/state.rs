//! The TUI's state: the transcript, the input, the focus and the figures.
//! The view draws from it alone and `app::update` changes it.
use std::collections::VecDeque;
use std::time::Instant;

use super::backend::{Command, GenStats, PlanCard};
use super::input::Input;
use super::theme::Theme;

/// Where a plan card stands.
#[derive(Debug, Clone, PartialEq)]
pub enum CardStatus {
    /// Waiting for Enter/a, d or Esc.
    Pending,
    /// Kept as a dry run: nothing was changed.
    DryRun,
    Dismissed,
    Applying,
    /// Applied; the summary. Undo is offered.
    Applied(String),
    /// Not applied: refused (a tool is missing), or failed and rolled
    /// back; the message says which.
    Failed(String),
    Undoing,
    Undone(String),
    /// Undo failed; the error. The change is still in place.
    UndoFailed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub plan: PlanCard,
    pub status: CardStatus,
    /// `v` shows the exact commands under each row.
    pub show_commands: bool,
}

impl Card {
    pub fn new(plan: PlanCard) -> Card {
        Card {
            plan,
            status: CardStatus::Pending,
            show_commands: false,
        }
    }
}

/// One item of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    User(String),
    /// A chat answer; `cancelled` when the user stopped it.
    Answer {
        text: String,
        cancelled: bool,
    },
    Card(Card),
    Suggestions {
        hits: Vec<(String, String, f32)>,
        hint: Option<String>,
    },
    Info(String),
    Error(String),
}

/// Which part of the screen the keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    /// The plan card at this transcript index: pending, or applied with undo offered.
    Card(usize),
}

/// The figures in the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meter {
    /// The latest figures from the worker.
    pub stats: GenStats,
    /// When the first generated token arrived, as the UI saw it.
    pub first_token_at: Option<Instant>,
    /// Tokens per second: live while generating (refreshed on every tick), final after.
    pub rate: Option<f64>,
}

/// The whole state of the app; the screen is drawn from this alone.
#[derive(Debug, Clone)]
pub struct State {
    pub model: String,
    pub threads: usize,
    pub theme: Theme,
    pub entries: Vec<Entry>,
    pub input: Input,
    pub focus: Focus,
    /// Top row of the transcript when the user scrolled up; `None` follows the end.
    pub scroll_top: Option<usize>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// A request is with the worker.
    pub generating: bool,
    /// Ctrl-C was pressed and the worker has not finished yet.
    pub stopping: bool,
    /// The transcript index of the answer being streamed.
    pub(super) streaming: Option<usize>,
    /// Commands sent to the worker and not yet done, oldest first.
    pub in_flight: VecDeque<Command>,
    /// The figures of the current or last generation; `None` before the first.
    pub meter: Option<Meter>,
    /// The next Ctrl-C quits.
    pub quit_armed: bool,
    /// A one-line hint above the input, cleared by the next key.
    pub notice: Option<String>,
    pub quit: bool,
}

impl State {
    pub fn new(model: String, threads: usize, theme: Theme, size: (u16, u16)) -> Self {
        State {
            model,
            threads,
            theme,
            entries: Vec::new(),
            input: Input::default(),
            focus: Focus::Input,
            scroll_top: None,
            size,
            generating: false,
            stopping: false,
            streaming: None,
            in_flight: VecDeque::new(),
            meter: None,
            quit_armed: false,
            notice: None,
            quit: false,
        }
    }

    pub(super) fn card_mut(&mut self, index: usize) -> Option<&mut Card> {
        match self.entries.get_mut(index) {
            Some(Entry::Card(card)) => Some(card),
            _ => None,
        }
    }

    pub(super) fn push(&mut self, entry: Entry) -> usize {
        self.entries.push(entry);
        self.entries.len() - 1
    }

    /// Rows the transcript may be scrolled up by.
    pub(super) fn page(&self) -> usize {
        (self.size.1 as usize / 2).max(1)
    }
}
