//! Confirmation on a terminal: knob asks before applying, applies on `y`,
//! and refuses (exit 4) on anything else. The terminal is a tmux pane; knob
//! runs directly in it (argv, no shell).
use crate::support::{require_tool, Sandbox, Tmux, IFACE};

/// Runs `knob set fixture.cursor_size VALUE --platform gnome --apply` in a
/// pane, answers `answer`, and returns knob's exit status.
fn answer_prompt(sb: &Sandbox, value: &str, answer: &str) -> i32 {
    let env: Vec<String> = [
        ("HOME", sb.path("home")),
        ("XDG_CONFIG_HOME", sb.path("config")),
        ("XDG_DATA_HOME", sb.path("data")),
        ("XDG_RUNTIME_DIR", sb.path("runtime")),
        ("KNOB_DATA_DIR", sb.path("data").join("knob")),
        ("KNOB_CONFIG_DIR", sb.path("config").join("knob")),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", v.display()))
    .chain(["GSETTINGS_BACKEND=keyfile".to_string()])
    .collect();
    let mut args: Vec<&str> = Vec::new();
    for e in &env {
        args.extend(["-e", e]);
    }
    let knob = crate::support::KNOB;
    // The shell prints knob's exit status: reading it from the screen works
    // whatever tmux's pane bookkeeping does on a loaded machine.
    let script = format!(
        "{knob} set fixture.cursor_size {value} --platform gnome --apply; echo exit=$?; sleep 600"
    );
    args.extend(["--", "sh", "-c", &script]);
    let tmux = Tmux::start(&format!("confirm-{value}"), (150, 40), &args);
    tmux.wait_for(|s| s.contains("Apply 1 change? [y/N]"), "the prompt");
    assert!(
        tmux.screen().contains("M fixture.cursor_size"),
        "the plan is shown before the question:\n{}",
        tmux.screen()
    );
    tmux.keys(&[answer, "Enter"]);
    let screen = tmux.wait_for(|s| s.contains("exit="), "knob to exit");
    let status = screen
        .split("exit=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    status
        .parse()
        .unwrap_or_else(|_| panic!("no exit status on the screen:\n{screen}"))
}

#[test]
fn a_terminal_is_asked_before_applying() {
    require_tool("tmux");
    require_tool("gsettings");
    let sb = Sandbox::new();
    assert_eq!(
        answer_prompt(&sb, "40", "n"),
        4,
        "declining refuses with exit 4"
    );
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    assert_eq!(answer_prompt(&sb, "48", "y"), 0);
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "48");
}
