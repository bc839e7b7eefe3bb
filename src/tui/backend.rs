//! The narrow interface between the TUI and whatever answers requests.
//!
//! The TUI owns no model. It hands each request to an [`Assistant`] that runs on
//! a worker thread and reports back through [`WorkerEvent`]s; the UI thread only
//! draws and reads keys. The settings agent and the GGUF chat model sit behind
//! this trait in the real binary; [`super::fake::FakeAssistant`] sits behind it
//! in tests and in the demo mode (`KNOB_TUI_FAKE=1`).
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;

/// Something that answers requests: settings plans, chat replies, suggestions.
///
/// Every method runs on the worker thread, never on the UI thread, so it may
/// block for as long as inference takes. Results go out as events; a method
/// that fails sends [`WorkerEvent::Error`] rather than panicking.
pub trait Assistant: Send + 'static {
    /// Handles one user request: a settings plan, a streamed chat answer, or
    /// suggestions. Sends events as they happen and stops early, sending
    /// `Finished { cancelled: true }`, once `cancel` is set.
    fn handle(&mut self, request: &str, events: &Sender<WorkerEvent>, cancel: &AtomicBool);
    /// Applies the plan that was shown as card `plan_id`; answers with `Applied`.
    fn apply(&mut self, plan_id: u64, events: &Sender<WorkerEvent>);
    /// Undoes the most recent applied change; answers with `Undone`.
    fn undo(&mut self, events: &Sender<WorkerEvent>);
    /// Reports the journal of applied changes.
    fn history(&mut self, events: &Sender<WorkerEvent>);
    /// Starts a new conversation (`/clear`): the chat model forgets the
    /// earlier turns and its KV cache is emptied.
    fn clear(&mut self, events: &Sender<WorkerEvent>);
    /// Loads a chat model from a GGUF file (`/model PATH`).
    fn set_model(&mut self, path: &Path, events: &Sender<WorkerEvent>);
    /// Targets another platform (`/platform NAME`), e.g. `gnome` or `kde`.
    fn set_platform(&mut self, name: &str, events: &Sender<WorkerEvent>);
    /// Sets the number of inference threads (`/threads N`).
    fn set_threads(&mut self, n: usize, events: &Sender<WorkerEvent>);
    /// The name shown in the status bar.
    fn model_name(&self) -> String;
    /// The inference thread count shown in the status bar.
    fn threads(&self) -> usize;
}

/// Work for the worker thread, one at a time, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Handle(String),
    Apply(u64),
    Undo,
    History,
    Clear,
    SetModel(PathBuf),
    SetPlatform(String),
    SetThreads(usize),
}

/// Generation figures, as measured by the assistant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenStats {
    /// Tokens in the prompt that was fed to the model.
    pub prompt_tokens: usize,
    /// Tokens generated so far.
    pub generated: usize,
    /// Milliseconds from the request to the first generated token.
    pub ttft_ms: Option<f64>,
    /// Decode speed so far: generated tokens per second after the first one.
    pub tokens_per_s: f64,
}

/// One setting in a plan card.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    /// Catalog id, e.g. `appearance.dark-mode`.
    pub id: String,
    /// Human title, e.g. `Dark mode`.
    pub title: String,
    /// The value now.
    pub current: String,
    /// The value the plan sets.
    pub new: String,
    /// False when the setting already has the new value (nothing to do).
    pub changed: bool,
    /// Where the setting lives, e.g. `gnome`.
    pub platform: String,
    /// Caveats for this setting, e.g. "applies after logging out".
    pub notes: Vec<String>,
    /// What `v` shows, as `-v` does on the command line: the key's own
    /// values where they differ, and each exact argv (`$ gsettings set ...`).
    pub commands: Vec<String>,
}

/// A settings plan as the UI shows it, before anything is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanCard {
    /// Identifies the plan when the user applies it.
    pub id: u64,
    /// The request it answers.
    pub request: String,
    pub rows: Vec<PlanRow>,
    /// How sure the agent is, 0..=1.
    pub confidence: f32,
    /// Argv run once after the writes, shown with the commands.
    pub then: Vec<String>,
}

/// What the worker reports to the UI thread.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// A streamed piece of a chat answer, with the figures so far.
    Token {
        text: String,
        stats: GenStats,
    },
    /// Figures while the model works without streaming text (the settings agent).
    Stats(GenStats),
    /// The generation ended, normally or because it was cancelled.
    Finished {
        stats: GenStats,
        cancelled: bool,
    },
    /// A settings plan to review.
    Plan(PlanCard),
    /// The outcome of applying a plan: a summary, or the error after rollback.
    Applied {
        plan_id: u64,
        result: Result<String, String>,
    },
    /// The outcome of undo: a summary, or the error (the change stays).
    Undone {
        result: Result<String, String>,
    },
    /// Catalog matches for a request that was not understood or not a settings
    /// request while no chat model is loaded, with an optional hint.
    Suggestions {
        hits: Vec<(String, String, f32)>,
        hint: Option<String>,
    },
    /// The model name or thread count changed.
    Status {
        model: String,
        threads: usize,
    },
    Info(String),
    Error(String),
    /// Sent by the worker loop after every command; never by an assistant.
    Done,
}
