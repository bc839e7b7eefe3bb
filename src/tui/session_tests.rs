//! The chat session in the TUI: `/clear`, pastes of several lines (bracketed
//! or typed as keys) and the status bar's figures after a chat reply.
//! Transitions without a terminal, screens in
//! ratatui's TestBackend.
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use super::app::{update, Effect, Event};
use super::backend::{Command, GenStats, PlanCard, PlanRow, WorkerEvent};
use super::paste_burst;
use super::state::State;
use super::theme::Theme;
use super::view;
use super::wrap::WrapCache;

fn state() -> State {
    State::new(
        "knob-mu + SmolLM2".into(),
        2,
        Theme { color: false },
        (60, 14),
    )
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn feed(state: &mut State, events: impl IntoIterator<Item = Event>) -> Vec<Effect> {
    let now = Instant::now();
    events
        .into_iter()
        .flat_map(|e| update(state, e, now))
        .collect()
}

fn type_text(state: &mut State, text: &str) -> Vec<Effect> {
    feed(state, text.chars().map(|c| key(KeyCode::Char(c))))
}

fn submit(state: &mut State, text: &str) -> Vec<Effect> {
    type_text(state, text);
    feed(state, [key(KeyCode::Enter)])
}

fn worker(e: WorkerEvent) -> Event {
    Event::Worker(e)
}

fn screen(state: &State) -> TestBackend {
    let (width, height) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view::draw(frame, state, &mut WrapCache::default()))
        .expect("draw");
    terminal.backend().clone()
}

fn text_of(backend: &TestBackend) -> String {
    let buffer = backend.buffer();
    let width = buffer.area.width as usize;
    let cells: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
    cells
        .chunks(width)
        .map(|row| row.concat().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A chat reply of `words` tokens, done.
fn chat_reply(state: &mut State, request: &str, words: &[&str]) {
    submit(state, request);
    let mut events = Vec::new();
    for (i, word) in words.iter().enumerate() {
        events.push(worker(WorkerEvent::Token {
            text: word.to_string(),
            stats: GenStats {
                prompt_tokens: 30,
                generated: i + 1,
                ttft_ms: Some(90.0),
                tokens_per_s: 40.0,
            },
        }));
    }
    events.push(worker(WorkerEvent::Finished {
        stats: GenStats {
            prompt_tokens: 30,
            generated: words.len(),
            ttft_ms: Some(90.0),
            tokens_per_s: 40.0,
        },
        cancelled: false,
    }));
    events.push(worker(WorkerEvent::Done));
    feed(state, events);
}

// ---- /clear ----

#[test]
fn clear_empties_the_transcript_and_starts_a_new_conversation_in_the_worker() {
    let mut s = state();
    chat_reply(&mut s, "tell me a joke", &["Why ", "not?"]);
    assert_eq!(s.entries.len(), 2);
    let effects = submit(&mut s, "/clear");
    // The worker must hear of it: the chat model's history and KV cache go too.
    assert_eq!(effects, [Effect::Send(Command::Clear)]);
    assert!(s.entries.is_empty());
    assert!(s.input.is_empty());
    assert!(!s.generating, "/clear starts no generation");
    let shown = text_of(&screen(&s));
    assert!(!shown.contains("Why not?"), "{shown}");
    assert!(shown.contains("/help lists"), "{shown}");
    // The worker answers Done like for any command; nothing else changes.
    feed(&mut s, [worker(WorkerEvent::Done)]);
    assert!(s.entries.is_empty() && s.in_flight.is_empty());
}

#[test]
fn clear_waits_while_a_reply_streams() {
    let mut s = state();
    submit(&mut s, "tell me a joke");
    feed(
        &mut s,
        [worker(WorkerEvent::Token {
            text: "Why".into(),
            stats: GenStats::default(),
        })],
    );
    assert!(submit(&mut s, "/clear").is_empty());
    assert_eq!(s.entries.len(), 2, "the transcript stays while answering");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("Ctrl-C")));
}

// ---- pastes of several lines ----

/// A paste typed as keys by a terminal without bracketed paste: Enter for
/// each line end.
fn typed_paste(text: &str) -> Vec<KeyEvent> {
    text.chars()
        .map(|c| match c {
            '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        })
        .collect()
}

#[test]
fn a_paste_typed_as_keys_keeps_its_lines_and_sends_nothing() {
    let mut s = state();
    // The input thread reads the burst and makes it one paste.
    let events = paste_burst::events(typed_paste("my paste\nsecond line"));
    let effects = feed(&mut s, events);
    assert!(effects.is_empty(), "sent early: {effects:?}");
    assert_eq!(s.input.text(), "my paste\nsecond line");
    assert!(s.entries.is_empty());
    // Enter, typed by a person, then sends both lines.
    let effects = feed(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(
        effects,
        [Effect::Send(Command::Handle(
            "my paste\nsecond line".into()
        ))]
    );
}

#[test]
fn a_typed_paste_never_answers_a_pending_plan_card() {
    let mut s = state();
    submit(&mut s, "dark mode");
    feed(
        &mut s,
        [
            worker(WorkerEvent::Plan(card("dark mode"))),
            worker(WorkerEvent::Done),
        ],
    );
    // "a" and Enter would apply the plan if they were keys.
    let events = paste_burst::events(typed_paste("a\nand more"));
    let effects = feed(&mut s, events);
    assert!(effects.is_empty(), "{effects:?}");
}

fn card(request: &str) -> PlanCard {
    PlanCard {
        id: 3,
        request: request.into(),
        rows: vec![PlanRow {
            id: "appearance.dark-mode".into(),
            title: "Dark mode".into(),
            current: "light".into(),
            new: "dark".into(),
            changed: true,
            platform: "gnome".into(),
            notes: vec![],
            commands: vec![],
        }],
        then: vec![],
        confidence: 0.9,
    }
}

#[test]
fn screen_a_pasted_request_keeps_its_line_break_everywhere() {
    let mut s = state();
    s.size = (40, 18);
    feed(&mut s, [Event::Paste("my paste\nsecond line".into())]);
    let input = text_of(&screen(&s));
    assert!(input.contains("› my paste\n  second line"), "{input}");
    feed(&mut s, [key(KeyCode::Enter)]);
    feed(
        &mut s,
        [
            worker(WorkerEvent::Plan(card("my paste\nsecond line"))),
            worker(WorkerEvent::Done),
        ],
    );
    let backend = screen(&s);
    let shown = text_of(&backend);
    assert!(!shown.contains("pastesecond"), "{shown}");
    assert!(
        shown.contains("┌─ Plan: my paste\n│ second line"),
        "{shown}"
    );
    assert_snapshot!(backend);
}

// ---- the status bar after a chat reply ----

#[test]
fn screen_status_bar_shows_the_reply_figures_not_the_settings_agent() {
    let mut s = state();
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    submit(&mut s, "tell me a joke");
    // The settings agent decides it is chat: 2 tokens at 1061 tok/s.
    update(
        &mut s,
        worker(WorkerEvent::Stats(GenStats {
            prompt_tokens: 4,
            generated: 2,
            ttft_ms: Some(3.0),
            tokens_per_s: 1061.0,
        })),
        at(5),
    );
    // Then the chat model's reply streams: its first token after 1 s ...
    let token = |generated: usize| {
        worker(WorkerEvent::Token {
            text: format!("w{generated} "),
            stats: GenStats {
                prompt_tokens: 40,
                generated,
                ttft_ms: Some(1000.0),
                tokens_per_s: 0.0,
            },
        })
    };
    update(&mut s, token(1), at(1000));
    for n in 2..=21 {
        update(&mut s, token(n), at(1000 + 50 * (n as u64 - 1)));
    }
    // ... 20 more in the next second: 20 tok/s live, from the reply's first token.
    update(&mut s, Event::Tick, at(2000));
    let live = view::meter_text(&s);
    assert_eq!(live, ["20.0 tok/s", "TTFT 1000 ms", "21 tok"]);
    for event in [
        worker(WorkerEvent::Finished {
            stats: GenStats {
                prompt_tokens: 40,
                generated: 21,
                ttft_ms: Some(1000.0),
                tokens_per_s: 19.5,
            },
            cancelled: false,
        }),
        worker(WorkerEvent::Done),
    ] {
        update(&mut s, event, at(2000));
    }
    update(&mut s, Event::Tick, at(5000));
    assert_eq!(
        view::meter_text(&s),
        ["19.5 tok/s", "TTFT 1000 ms", "21 tok"]
    );
    assert_snapshot!(screen(&s));
}
