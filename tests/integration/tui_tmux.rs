//! End to end: the real `knob` binary in a real terminal (tmux), driven with
//! send-keys and read with capture-pane.
//!
//! Most tests run the demo assistant (`KNOB_TUI_FAKE=1`), which streams a
//! fixed answer with a fixed delay per token and answers "dark mode" with a
//! plan card, so no model files are needed. Two run the real thing: the
//! settings agent on the embedded model against real gsettings, and
//! a chat model written by the test streaming a reply that Ctrl-C stops. Each
//! test uses its own tmux server (`tmux -L <unique name>`) and kills it at the
//! end, pass or fail.
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::support::{assert_contains, chat_model, Tmux, KNOB};

const PROMPT: &str = "e2e$ ";

/// A tmux server with one 100x30 pane running a plain bash.
fn start_shell(name: &str) -> Tmux {
    let shell =
        format!("env -u NO_COLOR PS1='{PROMPT}' TERM=xterm-256color bash --norc --noprofile");
    let tmux = Tmux::start(name, (100, 30), &[&shell]);
    tmux.cmd(&["set-option", "-g", "escape-time", "0"]);
    // capture-pane drops trailing spaces, so look for the prompt without its space.
    tmux.wait_for(|s| s.contains(PROMPT.trim_end()), "the shell prompt");
    tmux
}

/// knob's chat interface in the shell of a [`start_shell`] pane.
trait ChatInShell {
    fn launch_knob(&self, delay_ms: u64, extra_env: &str);
    fn assert_clean_exit(&self, status: u8);
}

impl ChatInShell for Tmux {
    fn launch_knob(&self, delay_ms: u64, extra_env: &str) {
        assert!(Path::new(KNOB).exists());
        self.type_text(&format!(
            "{extra_env} KNOB_TUI_FAKE=1 KNOB_TUI_FAKE_DELAY_MS={delay_ms} {KNOB} chat; echo \"exit=$?\""
        ));
        self.keys(&["Enter"]);
        self.wait_for(|s| s.contains("demo assistant"), "knob's status bar");
        assert_eq!(
            self.format("#{alternate_on}"),
            "1",
            "knob uses the alternate screen"
        );
    }

    /// After knob exits: the exit status, and a shell that works normally again.
    fn assert_clean_exit(&self, status: u8) {
        let expected = format!("exit={status}");
        self.wait_for(|s| s.contains(&expected), &expected);
        assert_eq!(self.format("#{alternate_on}"), "0", "alternate screen left");
        assert_eq!(self.format("#{cursor_flag}"), "1", "cursor shown");
        // The line discipline is back to cooked mode with echo, so the shell
        // reads and echoes a command and runs it.
        self.type_text(
            "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo ready-$((6*7))",
        );
        self.keys(&["Enter"]);
        let screen = self.wait_for(|s| s.contains("ready-42"), "the shell to run a command");
        assert!(
            screen.contains("icanon echo ready-42"),
            "terminal left in raw mode:\n{screen}"
        );
    }
}

/// The token count on the status bar ("... · 42 tok"), if any.
fn token_count(screen: &str) -> Option<usize> {
    let status = screen.lines().rfind(|l| l.contains("tok/s"))?;
    let last = status.trim_end().strip_suffix(" tok")?;
    last.split_whitespace().last()?.parse().ok()
}

/// The number before "tok/s" on the status bar, if any.
fn tokens_per_s(screen: &str) -> Option<f64> {
    let status = screen.lines().rfind(|l| l.contains("tok/s"))?;
    let before = status.split("tok/s").next()?;
    before.split_whitespace().last()?.parse().ok()
}

#[test]
fn settings_request_shows_a_plan_card_then_quits_cleanly() {
    let tmux = start_shell("plan");
    tmux.launch_knob(40, "");
    tmux.type_text("turn on dark mode");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(
        |s| s.contains("Plan: turn on dark mode") && s.contains("Esc dismiss"),
        "the plan card",
    );
    assert_contains(&screen, "light -> dark");
    let rate = tokens_per_s(&screen).unwrap_or_else(|| panic!("no tokens/s figure:\n{screen}"));
    assert!(rate > 0.0, "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for(
        |s| s.contains("Plan dismissed: turn on dark mode"),
        "the card to be dismissed",
    );
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    tmux.assert_clean_exit(0);
}

/// Whether an SGR sequence on a `capture-pane -e` screen sets a colour
/// (foreground or background; not bold, dim or reverse, not a reset).
fn has_colour(screen: &str) -> bool {
    sgr_params(screen).any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107))
}

/// Every parameter of every SGR sequence on a `capture-pane -e` screen (tmux
/// may merge a reset with the next attribute: `ESC[0;7m`).
fn sgr_params(screen: &str) -> impl Iterator<Item = u32> + '_ {
    screen.split("\x1b[").skip(1).flat_map(|seq| {
        let params = seq.split_once('m').map_or("", |(p, _)| p);
        params.split(';').filter_map(|p| p.parse::<u32>().ok())
    })
}

/// The chat interface's screen, launched with `args` after `knob chat` and
/// `env` before it, then quit.
fn chat_screen(name: &str, env: &str, args: &str) -> String {
    let tmux = start_shell(name);
    tmux.type_text(&format!(
        "{env} KNOB_TUI_FAKE=1 {KNOB} chat {args}; echo \"exit=$?\""
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for(|s| s.contains("demo assistant"), "knob's status bar");
    tmux.type_text("turn on dark mode");
    tmux.keys(&["Enter"]);
    tmux.wait_for(|s| s.contains("Esc dismiss"), "the plan card");
    let screen = tmux.screen_with_escapes();
    tmux.keys(&["Escape"]);
    tmux.wait_for(|s| s.contains("Plan dismissed"), "the card to be dismissed");
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    tmux.assert_clean_exit(0);
    screen
}

#[test]
fn color_never_takes_the_colour_out_of_the_chat_interface() {
    let coloured = chat_screen("colour-auto", "", "");
    assert!(has_colour(&coloured), "no colour by default:\n{coloured:?}");
    let plain = chat_screen("colour-never", "", "--color never");
    assert!(!has_colour(&plain), "colour with --color never:\n{plain:?}");
    // Modifiers stay: the status bar is still reversed.
    assert!(sgr_params(&plain).any(|p| p == 7), "{plain:?}");
    let plain = chat_screen("colour-no-color", "NO_COLOR=1", "");
    assert!(!has_colour(&plain), "colour under NO_COLOR:\n{plain:?}");
    let forced = chat_screen("colour-always", "NO_COLOR=1", "--color always");
    assert!(
        has_colour(&forced),
        "--color always beats NO_COLOR:\n{forced:?}"
    );
}

#[test]
fn ctrl_c_stops_the_stream_and_the_app_stays_open() {
    let tmux = start_shell("stop");
    // Slow tokens, so the answer is still streaming when Ctrl-C arrives.
    tmux.launch_knob(150, "");
    // A paste with a newline: bracketed, so it lands in the input whole and
    // does not send the first line. (Unbracketed, tmux would type the
    // newline as Enter.)
    assert!(tmux
        .cmd(&[
            "set-buffer",
            "-b",
            "e2e",
            "hello, who are you?\nand what can you do?"
        ])
        .status
        .success());
    assert!(tmux
        .cmd(&["paste-buffer", "-p", "-d", "-b", "e2e", "-t", "main"])
        .status
        .success());
    let screen = tmux.wait_for(
        |s| s.contains("  and what can you do?"),
        "the pasted text in the input",
    );
    thread::sleep(Duration::from_millis(300));
    assert!(
        !tmux.screen().contains("This is knob's demo"),
        "the paste was sent early:\n{screen}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        |s| s.contains("This is knob's demo") && tokens_per_s(s).is_some(),
        "the stream to start",
    );
    // Resizing while tokens stream keeps the app drawing.
    assert!(tmux
        .cmd(&["resize-window", "-t", "main", "-x", "72", "-y", "24"])
        .status
        .success());
    tmux.wait_for(
        |s| s.lines().count() <= 24 && s.lines().any(|l| l.contains("tok/s")),
        "a redraw at the new size",
    );
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for(|s| s.contains("[stopped]"), "the stream to stop");
    assert!(
        !screen.contains("to see a plan card."),
        "the whole answer arrived:\n{screen}"
    );
    // Nothing more arrives after the stop.
    thread::sleep(Duration::from_millis(500));
    let later = tmux.screen();
    let answer = |s: &str| {
        s.lines()
            .take_while(|l| !l.contains("[stopped]"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        answer(&screen),
        answer(&later),
        "tokens kept coming after the stop"
    );
    // Still open and responsive.
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "knob quit on the first Ctrl-C"
    );
    tmux.type_text("/help");
    tmux.keys(&["Enter"]);
    tmux.wait_for(|s| s.contains("/platform NAME"), "the help text");
    // Ctrl-C twice quits.
    tmux.keys(&["C-c"]);
    tmux.wait_for(|s| s.contains("Ctrl-C again"), "the quit hint");
    tmux.keys(&["C-c"]);
    tmux.assert_clean_exit(0);
}

#[test]
fn a_paste_without_bracketed_paste_keeps_its_lines_and_sends_nothing() {
    let tmux = start_shell("keys-paste");
    tmux.launch_knob(40, "");
    // Without -p tmux types the buffer as keys, each line end as Enter,
    // as a terminal without bracketed paste does.
    assert!(tmux
        .cmd(&["set-buffer", "-b", "e2e", "my paste\nsecond line"])
        .status
        .success());
    assert!(tmux
        .cmd(&["paste-buffer", "-d", "-b", "e2e", "-t", "main"])
        .status
        .success());
    tmux.wait_for(
        |s| s.contains("› my paste") && s.contains("  second line"),
        "both lines in the input",
    );
    thread::sleep(Duration::from_millis(300));
    let screen = tmux.screen();
    assert!(
        !screen.contains("This is knob's demo"),
        "the first line was sent early:\n{screen}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(|s| s.contains("This is knob's demo"), "the answer");
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    tmux.assert_clean_exit(0);
}

#[test]
fn a_panic_gives_the_terminal_back() {
    // Debug builds (which tests use) panic on the first key when asked to.
    let tmux = start_shell("panic");
    tmux.launch_knob(40, "KNOB_TUI_TEST_PANIC=1");
    tmux.type_text("x");
    // Rust exits with 101 after a panic; the message is on the normal screen.
    tmux.assert_clean_exit(101);
    assert_contains(&tmux.screen(), "panicking on the first key");
}

#[test]
fn without_a_terminal_knob_points_to_ask_and_batch() {
    for args in [&["chat"][..], &[][..]] {
        let out = Command::new(KNOB)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run knob");
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("knob ask") && stderr.contains("knob batch"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no screen drawing to a pipe");
    }
}

/// The environment for a knob that touches real settings: gsettings writes to
/// a keyfile in a temporary config directory, the journal goes there too.
fn sandbox_env(dir: &Path) -> String {
    format!(
        "XDG_CURRENT_DESKTOP=GNOME GSETTINGS_BACKEND=keyfile XDG_CONFIG_HOME={d}/config KNOB_CONFIG_DIR={d}/config/knob KNOB_DATA_DIR={d}/data",
        d = dir.display()
    )
}

fn gsettings_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("gsettings")
        .args(args)
        .env("GSETTINGS_BACKEND", "keyfile")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("XDG_CURRENT_DESKTOP")
        .output()
        .expect("gsettings must be installed for this test");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_real_agent_plans_applies_and_undoes_from_the_chat() {
    let dir = tempfile::tempdir().unwrap();
    let scheme = ["get", "org.gnome.desktop.interface", "color-scheme"];
    assert_eq!(gsettings_in(dir.path(), &scheme), "'default'");
    let tmux = start_shell("real-plan");
    tmux.type_text(&format!(
        "{} {KNOB} chat; echo \"exit=$?\"",
        sandbox_env(dir.path())
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        |s| s.contains("knob-mu") && s.contains("threads"),
        "the status bar with the settings model",
    );
    tmux.type_text("turn on dark mode");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(
        |s| s.contains("Plan: turn on dark mode") && s.contains("Dark mode"),
        "the plan card",
    );
    assert_contains(&screen, "false -> true");
    let rate = tokens_per_s(&screen).unwrap_or_else(|| panic!("no tokens/s figure:\n{screen}"));
    assert!(rate > 0.0, "{screen}");
    tmux.keys(&["a"]);
    tmux.wait_for(|s| s.contains("applied Dark mode"), "the applied result");
    assert_eq!(gsettings_in(dir.path(), &scheme), "'prefer-dark'");
    tmux.keys(&["u"]);
    tmux.wait_for(|s| s.contains("undid plan"), "the undo result");
    assert_eq!(gsettings_in(dir.path(), &scheme), "'default'");
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    tmux.assert_clean_exit(0);
}

#[test]
fn a_chat_model_streams_and_ctrl_c_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-chat.gguf");
    // ~85M parameters: big enough that a reply streams for seconds.
    chat_model::write_chat_model(
        &model,
        chat_model::Shape {
            dim: 768,
            hidden: 2048,
            layers: 12,
            heads: 12,
            context: 4096,
        },
    );
    let model = model.display();
    let tmux = start_shell("real-chat");
    tmux.type_text(&format!(
        "{} {KNOB} chat --model {model}; echo \"exit=$?\"",
        sandbox_env(dir.path())
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        |s| s.contains("tiny test chat loaded"),
        "the chat model to load",
    );
    tmux.type_text("Write a long poem about the sea, the wind and the stars.");
    tmux.keys(&["Enter"]);
    // More tokens than the settings agent ever writes: the chat model is streaming.
    let streaming = tmux.wait_for(
        |s| tokens_per_s(s).is_some_and(|r| r > 0.0) && token_count(s).is_some_and(|n| n >= 24),
        "the chat model's tokens streaming with a live tokens/s",
    );
    tmux.keys(&["C-c"]);
    let stopped = tmux.wait_for(|s| s.contains("[stopped]"), "the stream to stop");
    thread::sleep(Duration::from_millis(500));
    let answer = |s: &str| {
        s.lines()
            .take_while(|l| !l.contains("[stopped]"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        answer(&stopped),
        answer(&tmux.screen()),
        "tokens kept coming after the stop"
    );
    // The status bar keeps the reply's figures, not the settings agent's
    // (a dozen tokens at a thousand tokens/s) that chose to chat.
    let after = tmux.screen();
    let count = token_count(&after).unwrap_or_else(|| panic!("no token count:\n{after}"));
    assert!(count >= 24, "the settings agent's token count:\n{after}");
    assert!(
        tokens_per_s(&after).is_some_and(|r| r < 500.0),
        "the settings agent's tokens/s:\n{after}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "knob quit on the first Ctrl-C:\n{streaming}"
    );
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    tmux.assert_clean_exit(0);
}
