//! The TUI as a state machine: `update(state, event, now) -> effects`.
//!
//! Nothing here touches the terminal, a thread or the clock: the runtime
//! (`super::run`) feeds events in, passes the time, and carries out the
//! returned [`Effect`]s. That is what lets the tests drive it key by key.
use std::path::PathBuf;
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::backend::{Command, GenStats, WorkerEvent};
use super::state::{Card, CardStatus, Entry, Focus, Meter, State};
use super::view;

/// Everything that can happen to the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    /// Bracketed paste: the whole pasted text at once, newlines included.
    Paste(String),
    Resize(u16, u16),
    /// The timer: refreshes the live figures while a generation runs.
    Tick,
    Worker(WorkerEvent),
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue a command for the worker.
    Send(Command),
    /// Ask the generation in progress to stop (sets the cancel flag).
    Cancel,
    Quit,
}

pub const HELP: &str = "\
Ask for a setting in plain words (\"turn on dark mode\") to get a plan to review, or chat.
Keys: Enter sends · Alt-Enter or Ctrl-J adds a line · Up/Down history · PgUp/PgDn scroll
      Ctrl-C stops the answer, twice quits · Ctrl-D on an empty line quits
Plan cards: Enter or a applies · d keeps it as a dry run · v shows the commands
            Esc dismisses · u undoes
/undo            undo the last applied change
/history         list applied changes
/model PATH      load a GGUF chat model
/platform NAME   target another platform (gnome, kde, ...)
/threads N       set the number of inference threads
/clear           clear the transcript and start a new conversation
/help            show this
/quit            leave";

impl State {
    fn send(&mut self, command: Command) -> Vec<Effect> {
        self.in_flight.push_back(command.clone());
        vec![Effect::Send(command)]
    }
}

/// Queues a command for the worker outside of any key press (e.g. `--model`).
pub fn queue(state: &mut State, command: Command) -> Vec<Effect> {
    state.send(command)
}

/// Applies one event to the state and says what the runtime must do.
///
/// `now` is the time of the event; it only feeds the live tokens/s figure.
pub fn update(state: &mut State, event: Event, now: Instant) -> Vec<Effect> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Release => Vec::new(),
        Event::Key(key) => on_key(state, key),
        Event::Paste(text) => {
            state.quit_armed = false;
            if let Focus::Card(i) = state.focus {
                if matches!(
                    state.card_mut(i),
                    Some(Card {
                        status: CardStatus::Pending,
                        ..
                    })
                ) {
                    state.notice = Some(PENDING_HINT.into());
                    return Vec::new();
                }
                state.focus = Focus::Input;
            }
            state.notice = None;
            state.input.insert_str(&text);
            Vec::new()
        }
        Event::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Event::Tick => {
            if state.generating {
                refresh_rate(state, now);
            }
            Vec::new()
        }
        Event::Worker(event) => on_worker(state, event, now),
    }
}

const PENDING_HINT: &str =
    "This plan waits: Enter or a applies, d keeps it as a dry run, v shows the commands, Esc dismisses";

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        if state.quit_armed {
            state.quit = true;
            return vec![Effect::Quit];
        }
        state.quit_armed = true;
        if state.generating {
            state.stopping = true;
            state.notice = Some("Stopping… (Ctrl-C again quits)".into());
            return vec![Effect::Cancel];
        }
        state.notice = Some("Press Ctrl-C again to quit".into());
        return Vec::new();
    }
    state.quit_armed = false;
    state.notice = None;
    if ctrl && key.code == KeyCode::Char('d') && state.input.is_empty() {
        state.quit = true;
        return vec![Effect::Quit];
    }
    match key.code {
        KeyCode::PageUp => {
            scroll_up(state);
            return Vec::new();
        }
        KeyCode::PageDown => {
            scroll_down(state);
            return Vec::new();
        }
        _ => {}
    }
    if let Focus::Card(index) = state.focus {
        if let Some(effects) = on_card_key(state, index, key) {
            return effects;
        }
    }
    on_input_key(state, key)
}

/// Keys while a plan card has the focus. `None` passes the key on to the input.
fn on_card_key(state: &mut State, index: usize, key: KeyEvent) -> Option<Vec<Effect>> {
    let plain = !key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    let Some(card) = state.card_mut(index) else {
        state.focus = Focus::Input;
        return None;
    };
    match card.status {
        CardStatus::Pending => {
            let id = card.plan.id;
            match key.code {
                KeyCode::Enter | KeyCode::Char('a') if plain => {
                    card.status = CardStatus::Applying;
                    state.focus = Focus::Input;
                    Some(state.send(Command::Apply(id)))
                }
                KeyCode::Char('d') if plain => {
                    card.status = CardStatus::DryRun;
                    state.focus = Focus::Input;
                    Some(Vec::new())
                }
                KeyCode::Char('v') if plain => {
                    card.show_commands = !card.show_commands;
                    Some(Vec::new())
                }
                KeyCode::Esc => {
                    card.status = CardStatus::Dismissed;
                    state.focus = Focus::Input;
                    Some(Vec::new())
                }
                _ => {
                    state.notice = Some(PENDING_HINT.into());
                    Some(Vec::new())
                }
            }
        }
        CardStatus::Applied(_) => {
            let undo = key.code == KeyCode::Char('u') && plain;
            if undo {
                card.status = CardStatus::Undoing;
            }
            state.focus = Focus::Input;
            match key.code {
                _ if undo => Some(state.send(Command::Undo)),
                KeyCode::Esc | KeyCode::Enter => Some(Vec::new()),
                _ => None,
            }
        }
        _ => {
            state.focus = Focus::Input;
            None
        }
    }
}

fn on_input_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let input = &mut state.input;
    match key.code {
        KeyCode::Enter if alt || shift || ctrl => input.insert_char('\n'),
        KeyCode::Enter => return submit(state),
        KeyCode::Char('j') if ctrl => input.insert_char('\n'),
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char('u') if ctrl => input.kill_to_line_start(),
        KeyCode::Char('w') if ctrl => input.kill_word(),
        KeyCode::Char('d') if ctrl => input.delete(),
        KeyCode::Char(_) if ctrl || alt => {}
        KeyCode::Char(c) => input.insert_char(c),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        KeyCode::Up if input.on_first_line() => input.history_prev(),
        KeyCode::Up => input.line_up(),
        KeyCode::Down if input.on_last_line() => input.history_next(),
        KeyCode::Down => input.line_down(),
        KeyCode::Esc => state.scroll_top = None,
        _ => {}
    }
    Vec::new()
}

fn scroll_up(state: &mut State) {
    let total = view::transcript_height(state);
    let visible = view::transcript_area_height(state);
    let bottom_top = total.saturating_sub(visible);
    let top = state.scroll_top.unwrap_or(bottom_top);
    state.scroll_top = Some(top.saturating_sub(state.page()).min(bottom_top));
}

fn scroll_down(state: &mut State) {
    let Some(top) = state.scroll_top else { return };
    let total = view::transcript_height(state);
    let visible = view::transcript_area_height(state);
    let top = top + state.page();
    state.scroll_top = if top + visible >= total {
        None
    } else {
        Some(top)
    };
}

fn submit(state: &mut State) -> Vec<Effect> {
    let text = state.input.text().trim().to_string();
    if text.is_empty() {
        return Vec::new();
    }
    if let Some(command) = text.strip_prefix('/') {
        state.input.take();
        state.scroll_top = None;
        return slash(state, command);
    }
    if state.generating {
        state.notice = Some("Still answering: wait, or press Ctrl-C to stop it".into());
        return Vec::new();
    }
    state.input.take();
    state.scroll_top = None;
    state.push(Entry::User(text.clone()));
    state.generating = true;
    state.stopping = false;
    state.streaming = None;
    state.meter = Some(Meter::default());
    state.send(Command::Handle(text))
}

fn slash(state: &mut State, line: &str) -> Vec<Effect> {
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (line, ""),
    };
    let usage = |state: &mut State, text: &str| {
        state.push(Entry::Error(format!("usage: {text}")));
        Vec::new()
    };
    match name {
        "quit" | "exit" | "q" => {
            state.quit = true;
            vec![Effect::Quit]
        }
        "help" | "?" => {
            state.push(Entry::Info(HELP.into()));
            Vec::new()
        }
        // The chat model forgets the conversation too: the worker empties
        // its history and KV cache, so the next reply starts afresh.
        "clear" if state.generating => {
            state.notice = Some("Still answering: press Ctrl-C to stop it, then /clear".into());
            Vec::new()
        }
        "clear" => {
            state.entries.clear();
            state.streaming = None;
            state.focus = Focus::Input;
            state.scroll_top = None;
            state.send(Command::Clear)
        }
        "undo" => {
            if let Some(index) = last_applied_card(state) {
                if let Some(card) = state.card_mut(index) {
                    card.status = CardStatus::Undoing;
                }
            }
            state.send(Command::Undo)
        }
        "history" => state.send(Command::History),
        "model" if arg.is_empty() => usage(state, "/model PATH (a GGUF chat model)"),
        "model" => state.send(Command::SetModel(PathBuf::from(arg))),
        "platform" if arg.is_empty() => usage(state, "/platform NAME (e.g. gnome, kde)"),
        "platform" => state.send(Command::SetPlatform(arg.to_string())),
        "threads" => match arg.parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => state.send(Command::SetThreads(n)),
            _ => usage(state, "/threads N, with N from 1 to 1024"),
        },
        _ => {
            state.push(Entry::Error(format!(
                "unknown command /{name}; /help lists the commands"
            )));
            Vec::new()
        }
    }
}

fn last_applied_card(state: &State) -> Option<usize> {
    state.entries.iter().rposition(|e| {
        matches!(
            e,
            Entry::Card(Card {
                status: CardStatus::Applied(_),
                ..
            })
        )
    })
}

fn refresh_rate(state: &mut State, now: Instant) {
    let Some(meter) = state.meter.as_mut() else {
        return;
    };
    if let Some(first) = meter.first_token_at {
        let secs = now.saturating_duration_since(first).as_secs_f64();
        if meter.stats.generated >= 2 && secs > 0.0 {
            meter.rate = Some((meter.stats.generated - 1) as f64 / secs);
        }
    }
}

fn take_stats(state: &mut State, stats: GenStats, now: Instant) {
    let meter = state.meter.get_or_insert_with(Meter::default);
    if meter.first_token_at.is_none() && stats.generated >= 1 {
        meter.first_token_at = Some(now);
    }
    if meter.rate.is_none() && stats.tokens_per_s > 0.0 {
        meter.rate = Some(stats.tokens_per_s);
    }
    meter.stats = stats;
}

fn on_worker(state: &mut State, event: WorkerEvent, now: Instant) -> Vec<Effect> {
    match event {
        WorkerEvent::Token { text, stats } => {
            if state.streaming.is_none() {
                // A reply starts: its figures replace those of the settings
                // agent that decided to chat.
                state.meter = Some(Meter::default());
            }
            take_stats(state, stats, now);
            match state.streaming.and_then(|i| state.entries.get_mut(i)) {
                Some(Entry::Answer { text: answer, .. }) => answer.push_str(&text),
                _ => {
                    let index = state.push(Entry::Answer {
                        text,
                        cancelled: false,
                    });
                    state.streaming = Some(index);
                }
            }
        }
        WorkerEvent::Stats(stats) => take_stats(state, stats, now),
        WorkerEvent::Finished { stats, cancelled } => {
            let rate = stats.tokens_per_s;
            take_stats(state, stats, now);
            if let Some(meter) = state.meter.as_mut() {
                meter.rate = Some(rate);
            }
            if cancelled {
                match state.streaming.and_then(|i| state.entries.get_mut(i)) {
                    Some(Entry::Answer { cancelled, .. }) => *cancelled = true,
                    _ => {
                        state.push(Entry::Info("Stopped.".into()));
                    }
                }
            }
            end_generation(state);
        }
        WorkerEvent::Plan(plan) => {
            let index = state.push(Entry::Card(Card::new(plan)));
            state.focus = Focus::Card(index);
            state.scroll_top = None;
        }
        WorkerEvent::Applied { plan_id, result } => {
            let found = state.entries.iter().rposition(
                |e| matches!(e, Entry::Card(c) if c.plan.id == plan_id && c.status == CardStatus::Applying),
            );
            match found {
                Some(index) => {
                    let ok = result.is_ok();
                    if let Some(card) = state.card_mut(index) {
                        card.status = match result {
                            Ok(summary) => CardStatus::Applied(summary),
                            Err(error) => CardStatus::Failed(error),
                        };
                    }
                    if ok && state.input.is_empty() && state.focus == Focus::Input {
                        state.focus = Focus::Card(index);
                    }
                }
                None => {
                    state.push(match result {
                        Ok(summary) => Entry::Info(summary),
                        Err(error) => Entry::Error(error),
                    });
                }
            }
        }
        WorkerEvent::Undone { result } => {
            let found = state
                .entries
                .iter()
                .rposition(|e| matches!(e, Entry::Card(c) if c.status == CardStatus::Undoing));
            match found.and_then(|i| state.card_mut(i)) {
                Some(card) => {
                    card.status = match result {
                        Ok(summary) => CardStatus::Undone(summary),
                        Err(error) => CardStatus::UndoFailed(error),
                    }
                }
                None => {
                    state.push(match result {
                        Ok(summary) => Entry::Info(summary),
                        Err(error) => Entry::Error(error),
                    });
                }
            }
        }
        WorkerEvent::Suggestions { hits, hint } => {
            state.push(Entry::Suggestions { hits, hint });
        }
        WorkerEvent::Status { model, threads } => {
            state.model = model;
            state.threads = threads;
        }
        WorkerEvent::Info(text) => {
            state.push(Entry::Info(text));
        }
        WorkerEvent::Error(text) => {
            state.push(Entry::Error(text));
        }
        WorkerEvent::Done => {
            // The worker does commands in order, so this one is the oldest.
            match state.in_flight.pop_front() {
                // A request may end without `Finished` (a plan, suggestions, an error).
                Some(Command::Handle(_)) => end_generation(state),
                Some(Command::Apply(id)) => {
                    for entry in &mut state.entries {
                        if let Entry::Card(card) = entry {
                            if card.plan.id == id && card.status == CardStatus::Applying {
                                card.status =
                                    CardStatus::Failed("the assistant gave no result".into());
                            }
                        }
                    }
                }
                Some(Command::Undo) => {
                    for entry in &mut state.entries {
                        if let Entry::Card(card) = entry {
                            if card.status == CardStatus::Undoing {
                                card.status =
                                    CardStatus::UndoFailed("the assistant gave no result".into());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Vec::new()
}

fn end_generation(state: &mut State) {
    state.generating = false;
    state.stopping = false;
    state.streaming = None;
    if state
        .notice
        .as_deref()
        .is_some_and(|n| n.starts_with("Stopping"))
    {
        state.notice = Some("Stopped (Ctrl-C again quits)".into());
    }
}
