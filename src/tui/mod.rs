//! The terminal chat UI (`knob` on a terminal, `knob chat`).
//!
//! Four threads: the UI thread owns the terminal and the [`state::State`]; a
//! reader thread turns terminal input into events; a ticker sends timer ticks
//! (10 Hz, for the live tokens/s); the worker owns the [`Assistant`] and runs
//! every request, so inference never blocks drawing or typing. They all talk
//! over one channel of [`app::Event`]s into the UI thread.
pub mod app;
pub mod backend;
pub mod fake;
pub mod input;
pub mod paste_burst;
pub mod state;
pub mod theme;
pub mod view;
pub mod wrap;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

use std::io::{self, stdout};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{self as term, DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;

use app::{Effect, Event};
pub use backend::{Assistant, Command, GenStats, PlanCard, PlanRow, WorkerEvent};
use state::State;
use theme::Theme;

/// How often the live figures refresh (at least 4 Hz is required; 10 Hz looks smooth).
pub const TICK: Duration = Duration::from_millis(100);
/// Most queued events handled between two draws.
const MAX_BATCH: usize = 512;
/// Environment variable: panic on the first key (a test hook; the end-to-end
/// test runs the release binary too).
pub const TEST_PANIC_ENV: &str = "KNOB_TUI_TEST_PANIC";
/// The worker thread's name; the panic hook leaves the terminal alone for it.
const WORKER_THREAD: &str = "knob-worker";

/// Runs the TUI until the user quits. `startup` commands (e.g. loading the
/// model given with `--model`) go to the worker before any request. `theme`
/// says whether to use colour (`--color`, NO_COLOR).
pub fn run(
    assistant: Box<dyn Assistant>,
    startup: Vec<Command>,
    theme: Theme,
) -> anyhow::Result<()> {
    // The guard comes first: set-up can fail half-way (raw mode on, no
    // alternate screen), and restoring what was never changed is harmless.
    let _restore = RestoreOnDrop;
    // crossterm drops colours under NO_COLOR by itself; the theme has
    // already decided (`--color always` wins over NO_COLOR).
    ratatui::crossterm::style::force_color_output(theme.color);
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    install_panic_hook();
    execute!(stdout(), EnableBracketedPaste).context("cannot enable bracketed paste")?;

    let size = terminal.size().context("cannot read the terminal size")?;
    let mut state = State::new(
        assistant.model_name(),
        assistant.threads(),
        theme,
        (size.width, size.height),
    );

    let (event_tx, event_rx) = mpsc::channel::<Event>();
    let cancel = Arc::new(AtomicBool::new(false));
    let stop_reader = Arc::new(AtomicBool::new(false));
    let commands = spawn_worker(assistant, event_tx.clone(), Arc::clone(&cancel))?;
    spawn_reader(event_tx.clone(), Arc::clone(&stop_reader))?;
    spawn_ticker(event_tx)?;

    let mut effects = Vec::new();
    for command in startup {
        effects.extend(app::queue(&mut state, command));
    }
    let result = event_loop(
        &mut terminal,
        &mut state,
        &event_rx,
        &commands,
        &cancel,
        effects,
    );
    stop_reader.store(true, Ordering::Relaxed);
    // Stop a generation in progress; the worker ends when `commands` drops.
    cancel.store(true, Ordering::Relaxed);
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    state: &mut State,
    events: &Receiver<Event>,
    commands: &Sender<Command>,
    cancel: &AtomicBool,
    mut effects: Vec<Effect>,
) -> anyhow::Result<()> {
    // A panic on the first key, so that the end-to-end test can check that
    // the panic hook gives the terminal back.
    let panic_on_key = std::env::var_os(TEST_PANIC_ENV).is_some();
    let mut redraw = true;
    // Wrapped transcript rows from earlier frames: a streamed token re-wraps
    // only the answer it extends.
    let mut wrap_cache = wrap::WrapCache::default();
    loop {
        for effect in effects.drain(..) {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Cancel => cancel.store(true, Ordering::Relaxed),
                Effect::Send(command) => {
                    if matches!(command, Command::Handle(_)) {
                        cancel.store(false, Ordering::Relaxed);
                    }
                    if commands.send(command).is_err() {
                        let now = Instant::now();
                        let gone =
                            WorkerEvent::Error("the assistant has stopped; restart knob".into());
                        app::update(state, Event::Worker(gone), now);
                        app::update(state, Event::Worker(WorkerEvent::Done), now);
                        redraw = true;
                    }
                }
            }
        }
        if redraw {
            terminal
                .draw(|frame| view::draw(frame, state, &mut wrap_cache))
                .context("cannot draw")?;
        }
        // Block for the next event, then take whatever else is queued (up to
        // a bound, so drawing never starves) before drawing again: a fast
        // token stream or a burst of keys costs one draw.
        let first = events.recv().context("all event sources stopped")?;
        redraw = false;
        for event in std::iter::once(first).chain(events.try_iter().take(MAX_BATCH)) {
            // A tick changes nothing on screen unless figures are live.
            redraw |= !matches!(event, Event::Tick) || state.generating;
            if panic_on_key && matches!(event, Event::Key(_)) {
                panic!("{TEST_PANIC_ENV} is set: panicking on the first key, as asked");
            }
            effects.extend(app::update(state, event, Instant::now()));
            if effects.contains(&Effect::Quit) {
                break;
            }
        }
    }
}

fn spawn_worker(
    mut assistant: Box<dyn Assistant>,
    events: Sender<Event>,
    cancel: Arc<AtomicBool>,
) -> anyhow::Result<Sender<Command>> {
    let (command_tx, command_rx) = mpsc::channel::<Command>();
    let (worker_tx, worker_rx) = mpsc::channel::<WorkerEvent>();
    thread::Builder::new()
        .name(WORKER_THREAD.into())
        .spawn(move || {
            for command in command_rx {
                let status_may_change =
                    matches!(command, Command::SetModel(_) | Command::SetThreads(_));
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| match &command {
                    Command::Handle(request) => assistant.handle(request, &worker_tx, &cancel),
                    Command::Apply(id) => assistant.apply(*id, &worker_tx),
                    Command::Undo => assistant.undo(&worker_tx),
                    Command::History => assistant.history(&worker_tx),
                    Command::Clear => assistant.clear(&worker_tx),
                    Command::SetModel(path) => assistant.set_model(path, &worker_tx),
                    Command::SetPlatform(name) => assistant.set_platform(name, &worker_tx),
                    Command::SetThreads(n) => assistant.set_threads(*n, &worker_tx),
                }));
                if let Err(payload) = outcome {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    let _ = worker_tx.send(WorkerEvent::Error(format!(
                        "internal error in the assistant: {message}"
                    )));
                    let _ = worker_tx.send(WorkerEvent::Done);
                    // Its state may be broken: stop taking commands.
                    return;
                }
                if status_may_change {
                    let status = WorkerEvent::Status {
                        model: assistant.model_name(),
                        threads: assistant.threads(),
                    };
                    let _ = worker_tx.send(status);
                }
                if worker_tx.send(WorkerEvent::Done).is_err() {
                    return;
                }
            }
        })
        .context("cannot start the worker thread")?;
    thread::Builder::new()
        .name("knob-forward".into())
        .spawn(move || {
            for event in worker_rx {
                if events.send(Event::Worker(event)).is_err() {
                    return;
                }
            }
        })
        .context("cannot start a thread")?;
    Ok(command_tx)
}

fn spawn_reader(events: Sender<Event>, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("knob-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Poll with a timeout so the thread notices `stop` and never
                // reads input after the UI has given the terminal back.
                match term::poll(TICK) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => return,
                }
                let Ok(batch) = read_batch() else { return };
                for event in batch {
                    if events.send(event).is_err() {
                        return;
                    }
                }
            }
        })
        .context("cannot start the input thread")?;
    Ok(())
}

/// Reads the next event; a key, with the keys that follow it closer than
/// anyone types (a paste without bracketed paste), as one burst.
fn read_batch() -> io::Result<Vec<Event>> {
    let mut burst = Vec::new();
    loop {
        let event = match term::read()? {
            term::Event::Key(key) => {
                burst.push(key);
                if burst.len() < paste_burst::MAX_BURST_KEYS && term::poll(paste_burst::BURST_GAP)?
                {
                    continue;
                }
                None
            }
            term::Event::Paste(text) => Some(Event::Paste(text)),
            term::Event::Resize(w, h) => Some(Event::Resize(w, h)),
            _ => None,
        };
        let mut out = paste_burst::events(burst);
        out.extend(event);
        return Ok(out);
    }
}

fn spawn_ticker(events: Sender<Event>) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("knob-tick".into())
        .spawn(move || loop {
            thread::sleep(TICK);
            if events.send(Event::Tick).is_err() {
                return;
            }
        })
        .context("cannot start the timer thread")?;
    Ok(())
}

/// Gives the terminal back: bracketed paste off, cursor shown, raw mode off,
/// main screen back. Safe to call more than once.
fn restore_terminal() {
    let _ = execute!(stdout(), DisableBracketedPaste, Show);
    ratatui::restore();
}

/// Restores the terminal when `run` returns, by success or by error.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// On a panic in the UI, restore the terminal before the message is printed.
/// A panic on the worker thread is caught there and shown in the transcript,
/// so the hook keeps quiet for it and leaves the screen to the UI.
fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if thread::current().name() == Some(WORKER_THREAD) {
            return;
        }
        let _ = execute!(io::stdout(), DisableBracketedPaste, Show);
        previous(info);
    }));
}
