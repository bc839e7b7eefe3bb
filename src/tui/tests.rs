//! The TUI without a terminal: transitions of the state machine, and screens
//! rendered into ratatui's TestBackend and compared with insta snapshots.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;

use super::app::{update, Effect, Event};
use super::backend::{Command, GenStats, PlanCard, PlanRow, WorkerEvent};
use super::state::{Card, CardStatus, Entry, Focus, State};
use super::theme::Theme;
use super::view;
use super::wrap::WrapCache;

fn state() -> State {
    State::new(
        "qwen2.5-0.5b-instruct-q8_0".into(),
        4,
        Theme { color: true },
        (60, 16),
    )
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn worker(e: WorkerEvent) -> Event {
    Event::Worker(e)
}

/// Feeds events at time `now` and collects all effects.
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

fn stats(generated: usize, rate: f64) -> GenStats {
    GenStats {
        prompt_tokens: 24,
        generated,
        ttft_ms: Some(85.0),
        tokens_per_s: rate,
    }
}

fn plan(id: u64) -> PlanCard {
    PlanCard {
        id,
        request: "turn on dark mode".into(),
        rows: vec![
            PlanRow {
                id: "appearance.dark-mode".into(),
                title: "Dark mode".into(),
                current: "light".into(),
                new: "dark".into(),
                changed: true,
                platform: "gnome".into(),
                notes: vec!["Some GTK 3 apps follow after a restart".into()],
                commands: vec![
                    "key value: 'default' -> 'prefer-dark'".into(),
                    "$ gsettings set org.gnome.desktop.interface color-scheme prefer-dark".into(),
                ],
            },
            PlanRow {
                id: "appearance.accent-color".into(),
                title: "Accent colour".into(),
                current: "blue".into(),
                new: "blue".into(),
                changed: false,
                platform: "gnome".into(),
                notes: vec![],
                commands: vec![
                    "(unchanged) $ gsettings set org.gnome.desktop.interface accent-color blue"
                        .into(),
                ],
            },
        ],
        confidence: 0.92,
        then: vec!["$ dbus-send --session --type=signal /Theme org.example.Changed".into()],
    }
}

/// A request sent and its plan shown, with the card focused.
fn with_pending_plan() -> State {
    let mut s = state();
    type_text(&mut s, "turn on dark mode");
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Stats(stats(12, 48.0))),
            worker(WorkerEvent::Plan(plan(7))),
        ],
    );
    feed(
        &mut s,
        [
            worker(WorkerEvent::Finished {
                stats: stats(12, 48.0),
                cancelled: false,
            }),
            worker(WorkerEvent::Done),
        ],
    );
    s
}

fn render(state: &State, width: u16, height: u16) -> TestBackend {
    let mut state = state.clone();
    state.size = (width, height);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view::draw(frame, &state, &mut WrapCache::default()))
        .expect("draw");
    terminal.backend().clone()
}

// ---- transitions ----

#[test]
fn enter_sends_the_request_to_the_worker() {
    let mut s = state();
    assert!(type_text(&mut s, "hello").is_empty());
    let effects = feed(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(effects, [Effect::Send(Command::Handle("hello".into()))]);
    assert!(s.generating);
    assert_eq!(s.entries, [Entry::User("hello".into())]);
    assert!(s.input.is_empty());
    // The request is in the history.
    feed(&mut s, [key(KeyCode::Up)]);
    assert_eq!(s.input.text(), "hello");
}

#[test]
fn empty_enter_does_nothing() {
    let mut s = state();
    assert!(feed(
        &mut s,
        [
            key(KeyCode::Enter),
            key(KeyCode::Char(' ')),
            key(KeyCode::Enter)
        ]
    )
    .is_empty());
    assert!(s.entries.is_empty());
}

#[test]
fn a_second_request_waits_for_the_first() {
    let mut s = state();
    type_text(&mut s, "one");
    feed(&mut s, [key(KeyCode::Enter)]);
    type_text(&mut s, "two");
    assert!(feed(&mut s, [key(KeyCode::Enter)]).is_empty());
    assert_eq!(s.input.text(), "two");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("Ctrl-C")));
}

#[test]
fn paste_with_newlines_does_not_submit() {
    let mut s = state();
    let effects = feed(
        &mut s,
        [Event::Paste("line one\nline two\r\nline three".into())],
    );
    assert!(effects.is_empty());
    assert_eq!(s.input.text(), "line one\nline two\nline three");
    assert!(s.entries.is_empty());
    // Enter then sends all of it at once.
    let effects = feed(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(
        effects,
        [Effect::Send(Command::Handle(
            "line one\nline two\nline three".into()
        ))]
    );
}

#[test]
fn alt_enter_and_ctrl_j_add_a_line() {
    let mut s = state();
    type_text(&mut s, "a");
    feed(
        &mut s,
        [Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT))],
    );
    type_text(&mut s, "b");
    feed(&mut s, [ctrl('j')]);
    type_text(&mut s, "c");
    assert_eq!(s.input.text(), "a\nb\nc");
    // Up moves inside the text before it reaches the history.
    feed(&mut s, [key(KeyCode::Up)]);
    assert_eq!(s.input.text(), "a\nb\nc");
}

#[test]
fn key_releases_are_ignored() {
    let mut s = state();
    let mut release = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    feed(&mut s, [Event::Key(release)]);
    assert!(s.input.is_empty());
}

#[test]
fn ctrl_c_stops_the_generation_then_quits() {
    let mut s = state();
    type_text(&mut s, "tell me a story");
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Token {
                text: "Once".into(),
                stats: stats(1, 0.0),
            }),
        ],
    );
    assert_eq!(feed(&mut s, [ctrl('c')]), [Effect::Cancel]);
    assert!(s.stopping);
    assert!(!s.quit);
    feed(
        &mut s,
        [
            worker(WorkerEvent::Finished {
                stats: stats(1, 0.0),
                cancelled: true,
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(!s.generating);
    assert_eq!(
        s.entries[1],
        Entry::Answer {
            text: "Once".into(),
            cancelled: true
        }
    );
    assert_eq!(feed(&mut s, [ctrl('c')]), [Effect::Quit]);
    assert!(s.quit);
}

#[test]
fn ctrl_c_when_idle_asks_for_a_second_one() {
    let mut s = state();
    assert!(feed(&mut s, [ctrl('c')]).is_empty());
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("again")));
    // Any other key disarms it.
    feed(&mut s, [key(KeyCode::Char('x'))]);
    assert!(feed(&mut s, [ctrl('c')]).is_empty());
    assert_eq!(feed(&mut s, [ctrl('c')]), [Effect::Quit]);
}

#[test]
fn ctrl_d_quits_only_on_empty_input() {
    let mut s = state();
    type_text(&mut s, "ab");
    feed(&mut s, [key(KeyCode::Left)]);
    assert!(feed(&mut s, [ctrl('d')]).is_empty());
    assert_eq!(s.input.text(), "a");
    feed(&mut s, [key(KeyCode::Backspace)]);
    assert_eq!(feed(&mut s, [ctrl('d')]), [Effect::Quit]);
}

#[test]
fn tokens_stream_into_one_answer_with_live_rate() {
    let mut s = state();
    type_text(&mut s, "hi");
    let t0 = Instant::now();
    update(&mut s, key(KeyCode::Enter), t0);
    update(
        &mut s,
        worker(WorkerEvent::Token {
            text: "Hel".into(),
            stats: stats(1, 0.0),
        }),
        t0,
    );
    update(
        &mut s,
        worker(WorkerEvent::Token {
            text: "lo".into(),
            stats: stats(11, 9.0),
        }),
        t0 + Duration::from_millis(900),
    );
    assert_eq!(s.entries.len(), 2);
    assert_eq!(
        s.entries[1],
        Entry::Answer {
            text: "Hello".into(),
            cancelled: false
        }
    );
    // A tick recomputes the rate from the UI's own clock: 10 tokens in 1 s.
    update(&mut s, Event::Tick, t0 + Duration::from_secs(1));
    let rate = s.meter.as_ref().and_then(|m| m.rate).expect("a rate");
    assert!((rate - 10.0).abs() < 1e-9, "{rate}");
    // A stall shows as a falling rate.
    update(&mut s, Event::Tick, t0 + Duration::from_secs(2));
    let rate = s.meter.as_ref().and_then(|m| m.rate).expect("a rate");
    assert!((rate - 5.0).abs() < 1e-9, "{rate}");
    // The worker's final figures replace the live ones, and stay.
    update(
        &mut s,
        worker(WorkerEvent::Finished {
            stats: stats(11, 12.5),
            cancelled: false,
        }),
        t0 + Duration::from_secs(2),
    );
    update(
        &mut s,
        worker(WorkerEvent::Done),
        t0 + Duration::from_secs(2),
    );
    update(&mut s, Event::Tick, t0 + Duration::from_secs(9));
    assert_eq!(s.meter.as_ref().and_then(|m| m.rate), Some(12.5));
    assert!(!s.generating);
}

#[test]
fn plan_card_takes_the_keys_until_answered() {
    let mut s = with_pending_plan();
    assert_eq!(s.focus, Focus::Card(1));
    assert!(!s.generating);
    // Letters other than the card's keys are not typed, and a hint shows.
    assert!(feed(&mut s, [key(KeyCode::Char('x'))]).is_empty());
    assert!(s.input.is_empty());
    assert!(s.notice.is_some());
    assert!(feed(&mut s, [Event::Paste("text".into())]).is_empty());
    assert!(s.input.is_empty());
    let effects = feed(&mut s, [key(KeyCode::Char('a'))]);
    assert_eq!(effects, [Effect::Send(Command::Apply(7))]);
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::Applying,
            ..
        })
    ));
    feed(
        &mut s,
        [
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Ok("Dark mode: light -> dark".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::Applied(_),
            ..
        })
    ));
    // Undo is offered on the card.
    assert_eq!(s.focus, Focus::Card(1));
    assert_eq!(
        feed(&mut s, [key(KeyCode::Char('u'))]),
        [Effect::Send(Command::Undo)]
    );
    feed(
        &mut s,
        [
            worker(WorkerEvent::Undone {
                result: Ok("Dark mode: dark -> light".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(
        matches!(&s.entries[1], Entry::Card(Card { status: CardStatus::Undone(m), .. }) if m == "Dark mode: dark -> light")
    );
    assert!(s.in_flight.is_empty());
}

#[test]
fn enter_applies_d_keeps_a_dry_run_esc_dismisses() {
    let mut s = with_pending_plan();
    assert_eq!(
        feed(&mut s, [key(KeyCode::Enter)]),
        [Effect::Send(Command::Apply(7))]
    );

    let mut s = with_pending_plan();
    assert!(feed(&mut s, [key(KeyCode::Char('d'))]).is_empty());
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::DryRun,
            ..
        })
    ));
    assert_eq!(s.focus, Focus::Input);

    let mut s = with_pending_plan();
    assert!(feed(&mut s, [key(KeyCode::Esc)]).is_empty());
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::Dismissed,
            ..
        })
    ));
    // Typing works again.
    type_text(&mut s, "d");
    assert_eq!(s.input.text(), "d");
}

#[test]
fn typing_after_apply_goes_to_the_input() {
    let mut s = with_pending_plan();
    feed(
        &mut s,
        [
            key(KeyCode::Char('a')),
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Ok("done".into()),
            }),
        ],
    );
    type_text(&mut s, "hi");
    assert_eq!(s.input.text(), "hi");
    assert_eq!(s.focus, Focus::Input);
}

#[test]
fn failed_apply_shows_the_rollback() {
    let mut s = with_pending_plan();
    feed(&mut s, [key(KeyCode::Char('a'))]);
    feed(
        &mut s,
        [
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Err("gsettings: permission denied".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(
        matches!(&s.entries[1], Entry::Card(Card { status: CardStatus::Failed(e), .. }) if e.contains("permission"))
    );
    assert_eq!(s.focus, Focus::Input);
}

#[test]
fn an_apply_with_no_answer_is_marked_failed() {
    let mut s = with_pending_plan();
    feed(&mut s, [key(KeyCode::Char('a')), worker(WorkerEvent::Done)]);
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::Failed(_),
            ..
        })
    ));
}

#[test]
fn slash_commands() {
    let mut s = state();
    let run = |s: &mut State, line: &str| {
        type_text(s, line);
        feed(s, [key(KeyCode::Enter)])
    };
    assert_eq!(
        run(&mut s, "/threads 8"),
        [Effect::Send(Command::SetThreads(8))]
    );
    assert_eq!(
        run(&mut s, "/model /tmp/m.gguf"),
        [Effect::Send(Command::SetModel(PathBuf::from(
            "/tmp/m.gguf"
        )))]
    );
    assert_eq!(
        run(&mut s, "/platform kde"),
        [Effect::Send(Command::SetPlatform("kde".into()))]
    );
    assert_eq!(run(&mut s, "/history"), [Effect::Send(Command::History)]);
    assert_eq!(run(&mut s, "/undo"), [Effect::Send(Command::Undo)]);
    assert!(run(&mut s, "/threads zero").is_empty());
    assert!(run(&mut s, "/threads 0").is_empty());
    assert!(run(&mut s, "/model").is_empty());
    assert!(run(&mut s, "/frobnicate").is_empty());
    let errors = s
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::Error(_)))
        .count();
    assert_eq!(errors, 4);
    assert!(run(&mut s, "/help").is_empty());
    assert!(matches!(s.entries.last(), Some(Entry::Info(t)) if t.contains("/platform NAME")));
    assert_eq!(run(&mut s, "/clear"), [Effect::Send(Command::Clear)]);
    assert!(s.entries.is_empty());
    assert_eq!(run(&mut s, "/quit"), [Effect::Quit]);
    // Slash commands do not start a generation.
    assert!(!s.generating);
}

#[test]
fn undo_command_marks_the_applied_card() {
    let mut s = with_pending_plan();
    feed(
        &mut s,
        [
            key(KeyCode::Char('a')),
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Ok("x".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    feed(&mut s, [key(KeyCode::Esc)]);
    type_text(&mut s, "/undo");
    feed(&mut s, [key(KeyCode::Enter)]);
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::Undoing,
            ..
        })
    ));
    feed(
        &mut s,
        [
            worker(WorkerEvent::Undone {
                result: Err("journal is empty".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(matches!(
        &s.entries[1],
        Entry::Card(Card {
            status: CardStatus::UndoFailed(_),
            ..
        })
    ));
}

#[test]
fn status_event_updates_the_bar() {
    let mut s = state();
    feed(
        &mut s,
        [worker(WorkerEvent::Status {
            model: "tiny".into(),
            threads: 8,
        })],
    );
    assert_eq!((s.model.as_str(), s.threads), ("tiny", 8));
}

#[test]
fn page_up_scrolls_back_and_page_down_returns_to_following() {
    let mut s = state();
    for i in 0..40 {
        feed(&mut s, [worker(WorkerEvent::Info(format!("line {i}")))]);
    }
    feed(&mut s, [key(KeyCode::PageUp)]);
    let top = s.scroll_top.expect("scrolled");
    // New output does not move what the user is reading.
    feed(&mut s, [worker(WorkerEvent::Info("more".into()))]);
    assert_eq!(s.scroll_top, Some(top));
    for _ in 0..20 {
        feed(&mut s, [key(KeyCode::PageUp)]);
    }
    assert_eq!(s.scroll_top, Some(0));
    for _ in 0..20 {
        feed(&mut s, [key(KeyCode::PageDown)]);
    }
    assert_eq!(s.scroll_top, None);
}

// ---- screens ----

#[test]
fn screen_empty() {
    assert_snapshot!(render(&state(), 60, 10));
}

fn streaming_state() -> State {
    let mut s = state();
    type_text(&mut s, "how do I list files by size?");
    let t0 = Instant::now();
    update(&mut s, key(KeyCode::Enter), t0);
    let answer = "Use `ls` with `-S`:\n```sh\nls -lS --human-readable\n```\nThe largest files come first. Add `-r` to";
    for (i, piece) in answer.split_inclusive(' ').enumerate() {
        let ev = worker(WorkerEvent::Token {
            text: piece.into(),
            stats: stats(i + 1, 30.0),
        });
        update(&mut s, ev, t0 + Duration::from_millis(40 * i as u64));
    }
    let generated = answer.split_inclusive(' ').count();
    update(
        &mut s,
        Event::Tick,
        t0 + Duration::from_millis(40 * (generated as u64 - 1) + 40),
    );
    s
}

#[test]
fn screen_streamed_answer_with_live_stats() {
    let s = streaming_state();
    let screen = render(&s, 60, 16);
    assert_snapshot!(screen);
    assert!(screen.to_string().contains("tok/s"));
}

#[test]
fn screen_finished_answer_keeps_final_stats() {
    let mut s = streaming_state();
    feed(
        &mut s,
        [
            worker(WorkerEvent::Finished {
                stats: stats(20, 24.5),
                cancelled: false,
            }),
            worker(WorkerEvent::Done),
        ],
    );
    let screen = render(&s, 60, 16).to_string();
    assert!(
        screen.contains("24.5 tok/s · TTFT 85 ms · 20 tok"),
        "{screen}"
    );
}

#[test]
fn screen_plan_card() {
    assert_snapshot!(render(&with_pending_plan(), 60, 18));
}

#[test]
fn v_shows_and_hides_the_commands_of_a_pending_card() {
    let mut s = with_pending_plan();
    let commands_shown = |s: &State| matches!(&s.entries[1], Entry::Card(c) if c.show_commands);
    assert!(!commands_shown(&s));
    let hidden = render(&s, 80, 24).to_string();
    assert!(!hidden.contains("$ gsettings"), "{hidden}");
    assert!(feed(&mut s, [key(KeyCode::Char('v'))]).is_empty());
    assert!(commands_shown(&s));
    // The card keeps the focus and waits: v is not an answer.
    assert_eq!(s.focus, Focus::Card(1));
    assert!(matches!(&s.entries[1], Entry::Card(c) if c.status == CardStatus::Pending));
    assert_snapshot!("plan_card_with_commands", render(&s, 80, 24));
    feed(&mut s, [key(KeyCode::Char('v'))]);
    assert!(!commands_shown(&s));
    assert_eq!(render(&s, 80, 24).to_string(), hidden);
}

#[test]
fn a_refused_apply_does_not_claim_a_rollback() {
    let mut s = with_pending_plan();
    feed(
        &mut s,
        [
            key(KeyCode::Char('a')),
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Err("cannot apply this kde plan here: kwriteconfig5 not found on this machine, so the current values are unknown; nothing was changed".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    let screen = render(&s, 100, 20).to_string();
    assert!(
        screen.contains("✗ Not applied: cannot apply this kde plan here: kwriteconfig5 not found"),
        "{screen}"
    );
    assert!(!screen.contains("rolled back"), "{screen}");
}

#[test]
fn screen_plan_card_applied_offers_undo() {
    let mut s = with_pending_plan();
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Applied {
                plan_id: 7,
                result: Ok("Dark mode: light -> dark".into()),
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert_snapshot!(render(&s, 60, 18));
}

#[test]
fn screen_error() {
    let mut s = state();
    type_text(&mut s, "/model /nope.gguf");
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Error(
                "cannot open /nope.gguf: No such file or directory (os error 2)".into(),
            )),
            worker(WorkerEvent::Done),
        ],
    );
    assert_snapshot!(render(&s, 60, 10));
}

#[test]
fn screen_suggestions_with_model_hint() {
    let mut s = state();
    type_text(&mut s, "what is the capital of France");
    let hits = vec![
        ("display.brightness".into(), "Brightness".into(), 0.2),
        ("sound.volume".into(), "Volume".into(), 0.1),
    ];
    let hint = Some("That does not look like a settings request, and no chat model is loaded to answer it: /model PATH loads one.".into());
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Suggestions { hits, hint }),
            worker(WorkerEvent::Done),
        ],
    );
    // One message, not "Not understood as a settings request" followed by
    // a hint that says what it was understood as.
    let screen = render(&s, 60, 12).to_string();
    assert!(!screen.contains("Not understood"), "{screen}");
    assert_snapshot!(render(&s, 60, 12));
}

#[test]
fn screen_narrow_40_columns() {
    assert_snapshot!("narrow_plan_card", render(&with_pending_plan(), 40, 20));
    let stream = render(&streaming_state(), 40, 16);
    assert_snapshot!("narrow_stream", stream);
    // The status bar keeps the live figures and shortens the model name.
    let screen = stream.to_string();
    let status = screen.lines().last().expect("status row");
    assert!(status.contains("tok/s") && status.contains('…'), "{status}");
}

#[test]
fn screen_cjk_and_emoji() {
    let mut s = state();
    type_text(&mut s, "日本語で説明してください 🙏");
    let t0 = Instant::now();
    update(&mut s, key(KeyCode::Enter), t0);
    let answer = "はい、ダークモードは画面を暗くする設定です。👍 目の疲れを減らします。";
    update(
        &mut s,
        worker(WorkerEvent::Token {
            text: answer.into(),
            stats: stats(30, 20.0),
        }),
        t0,
    );
    update(
        &mut s,
        worker(WorkerEvent::Finished {
            stats: stats(30, 20.0),
            cancelled: false,
        }),
        t0,
    );
    update(&mut s, worker(WorkerEvent::Done), t0);
    type_text(&mut s, "漢字");
    let screen = render(&s, 30, 12);
    assert_snapshot!(screen);
    // A wide character takes two cells: the second is blank, never a second glyph.
    let buffer = screen.buffer();
    assert_eq!(buffer[(2, 0)].symbol(), "日");
    assert_eq!(buffer[(3, 0)].symbol(), " ");
    assert_eq!(buffer[(4, 0)].symbol(), "本");
    // The emoji is wide too, and the row ends inside the width.
    assert_eq!(buffer[(27, 0)].symbol(), "🙏");
}

#[test]
fn screen_multi_line_input_and_cursor() {
    let mut s = state();
    feed(&mut s, [Event::Paste("first line\nsecond line".into())]);
    let mut terminal = Terminal::new(TestBackend::new(40, 10)).expect("test terminal");
    s.size = (40, 10);
    terminal
        .draw(|frame| view::draw(frame, &s, &mut WrapCache::default()))
        .expect("draw");
    assert_snapshot!(terminal.backend());
    // The cursor sits after "second line" on the input's second row.
    let cursor = terminal.get_cursor_position().expect("cursor");
    assert_eq!((cursor.x, cursor.y), (2 + 11, 8));
}

#[test]
fn colours_only_from_the_palette_and_none_under_no_color() {
    let s = with_pending_plan();
    let screen = render(&s, 60, 18);
    for cell in screen.buffer().content() {
        assert!(
            !matches!(cell.fg, Color::Rgb(..) | Color::Indexed(_)),
            "fixed colour {:?}",
            cell.fg
        );
        assert_eq!(cell.bg, Color::Reset, "own background colour");
    }
    assert!(screen
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg == Color::Cyan));
    let mut plain = s.clone();
    plain.theme = Theme { color: false };
    let screen = render(&plain, 60, 18);
    assert!(screen
        .buffer()
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
}

// ---- the worker thread ----

/// An assistant that panics on every request.
struct Panicking;

impl super::Assistant for Panicking {
    fn handle(
        &mut self,
        _: &str,
        _: &std::sync::mpsc::Sender<WorkerEvent>,
        _: &std::sync::atomic::AtomicBool,
    ) {
        panic!("boom");
    }
    fn apply(&mut self, _: u64, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn undo(&mut self, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn history(&mut self, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn clear(&mut self, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn set_model(&mut self, _: &std::path::Path, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn set_platform(&mut self, _: &str, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn set_threads(&mut self, _: usize, _: &std::sync::mpsc::Sender<WorkerEvent>) {}
    fn model_name(&self) -> String {
        "panicking".into()
    }
    fn threads(&self) -> usize {
        1
    }
}

fn next_worker_event(rx: &std::sync::mpsc::Receiver<Event>) -> WorkerEvent {
    match rx
        .recv_timeout(Duration::from_secs(10))
        .expect("an event from the worker")
    {
        Event::Worker(event) => event,
        other => panic!("not a worker event: {other:?}"),
    }
}

#[test]
fn worker_runs_commands_in_order_and_reports_done() {
    let (tx, rx) = std::sync::mpsc::channel();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fake = super::fake::FakeAssistant::new(Duration::ZERO);
    let commands = super::spawn_worker(Box::new(fake), tx, cancel).expect("worker");
    commands.send(Command::SetThreads(6)).expect("send");
    commands.send(Command::History).expect("send");
    assert_eq!(
        next_worker_event(&rx),
        WorkerEvent::Info("Threads: 6".into())
    );
    assert!(matches!(
        next_worker_event(&rx),
        WorkerEvent::Status { threads: 6, .. }
    ));
    assert_eq!(next_worker_event(&rx), WorkerEvent::Done);
    assert!(matches!(next_worker_event(&rx), WorkerEvent::Info(t) if t.contains("No changes")));
    assert_eq!(next_worker_event(&rx), WorkerEvent::Done);
}

#[test]
fn a_panicking_assistant_becomes_an_error_in_the_transcript() {
    let (tx, rx) = std::sync::mpsc::channel();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let commands = super::spawn_worker(Box::new(Panicking), tx, cancel).expect("worker");
    commands.send(Command::Handle("hi".into())).expect("send");
    let error = next_worker_event(&rx);
    assert!(
        matches!(&error, WorkerEvent::Error(e) if e.contains("boom")),
        "{error:?}"
    );
    assert_eq!(next_worker_event(&rx), WorkerEvent::Done);
    // The UI ends the generation and shows the error.
    let mut s = state();
    type_text(&mut s, "hi");
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(error),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(!s.generating);
    assert!(matches!(s.entries.last(), Some(Entry::Error(e)) if e.contains("boom")));
}

#[test]
fn wrapped_rows_follow_every_change_between_frames() {
    // One state drawn again and again, as the runtime does, so the wrap cache is used.
    let mut s = state();
    let mut terminal = Terminal::new(TestBackend::new(60, 16)).expect("test terminal");
    let mut cache = WrapCache::default();
    let mut draw = |s: &State| {
        terminal
            .draw(|f| view::draw(f, s, &mut cache))
            .expect("draw");
        terminal.backend().to_string()
    };
    type_text(&mut s, "first request");
    feed(
        &mut s,
        [
            key(KeyCode::Enter),
            worker(WorkerEvent::Token {
                text: "Hello".into(),
                stats: stats(1, 0.0),
            }),
        ],
    );
    assert!(draw(&s).contains("Hello"));
    feed(
        &mut s,
        [worker(WorkerEvent::Token {
            text: " world".into(),
            stats: stats(2, 0.0),
        })],
    );
    assert!(draw(&s).contains("Hello world"));
    feed(
        &mut s,
        [
            worker(WorkerEvent::Finished {
                stats: stats(2, 9.0),
                cancelled: true,
            }),
            worker(WorkerEvent::Done),
        ],
    );
    assert!(draw(&s).contains("[stopped]"));
    // After /clear, new entries at the same places are drawn, not the old rows.
    type_text(&mut s, "/clear");
    feed(&mut s, [key(KeyCode::Enter)]);
    type_text(&mut s, "second request");
    feed(
        &mut s,
        [key(KeyCode::Enter), worker(WorkerEvent::Plan(plan(9)))],
    );
    let screen = draw(&s);
    assert!(
        screen.contains("second request") && !screen.contains("first request"),
        "{screen}"
    );
    assert!(screen.contains("Esc dismiss"));
    // A card's status and its focus change its rows.
    feed(
        &mut s,
        [
            key(KeyCode::Char('a')),
            worker(WorkerEvent::Applied {
                plan_id: 9,
                result: Ok("done".into()),
            }),
        ],
    );
    assert!(draw(&s).contains("Applied: done · u undo"));
    feed(&mut s, [key(KeyCode::Esc)]);
    assert!(draw(&s).contains("Applied: done · /undo reverts it"));
    // A new width wraps everything again.
    terminal.backend_mut().resize(30, 16);
    s.size = (30, 16);
    terminal
        .draw(|f| view::draw(f, &s, &mut cache))
        .expect("draw");
    assert!(terminal.backend().to_string().contains("│ Dark mode"));
}
