//! Standard output that is gone or full, for every command that prints: a
//! closed pipe (the reader of `knob … | head` has quit) leaves the command's
//! own exit status, /dev/full is one clear error with status 1, and neither
//! panics (status 101). An apply whose report cannot be written is still made
//! and journaled. Also: errors under `--json` are JSON objects, one exit
//! status per kind of bad input, and each error message says its cause once.
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};

use crate::support::chat_model;

use crate::support::{assert_contains, json, output_with_stdin, text, Sandbox, KNOB};
use serde_json::Value;

const FULL_ERROR: &str =
    "knob: error: cannot write to standard output: No space left on device (os error 28)";

/// Where the child's stdout goes.
#[derive(Clone, Copy, Debug)]
enum Sink {
    /// A pipe whose read end was closed before knob started.
    ClosedPipe,
    /// /dev/full: every write fails with ENOSPC.
    Full,
    /// Captured, as usual.
    Captured,
}

fn knob_to(sb: &Sandbox, args: &[&OsStr], sink: Sink, stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(KNOB);
    cmd.args(args);
    sb.prepare(&mut cmd);
    match sink {
        Sink::ClosedPipe => {
            let (reader, writer) = std::io::pipe().expect("a pipe");
            drop(reader);
            cmd.stdout(writer);
        }
        Sink::Full => {
            cmd.stdout(File::options().write(true).open("/dev/full").unwrap());
        }
        Sink::Captured => {
            cmd.stdout(Stdio::piped());
        }
    }
    cmd.stderr(Stdio::piped());
    match stdin {
        Some(input) => output_with_stdin(cmd, input),
        None => cmd.output().expect("running knob"),
    }
}

fn knob(sb: &Sandbox, args: &[&str], sink: Sink) -> Output {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    knob_to(sb, &args, sink, None)
}

/// The command's status with a closed stdout is `status` (its status with a
/// reader), without a panic; with /dev/full it is 1 with one error line.
fn assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(
    sb: &Sandbox,
    args: &[&str],
    status: i32,
) {
    let normal = knob(sb, args, Sink::Captured);
    assert_eq!(
        normal.status.code(),
        Some(status),
        "{args:?} with a reader: {}",
        text(&normal.stderr)
    );
    assert!(
        !normal.stdout.is_empty(),
        "{args:?} printed nothing, so the test shows nothing"
    );

    let closed = knob(sb, args, Sink::ClosedPipe);
    let err = text(&closed.stderr);
    assert_eq!(
        closed.status.code(),
        Some(status),
        "{args:?} on a closed pipe: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        !err.contains("knob: error"),
        "{args:?}: a closed pipe is no error: {err}"
    );

    let full = knob(sb, args, Sink::Full);
    let err = text(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{args:?} on /dev/full: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors, [FULL_ERROR], "{args:?} on /dev/full: {err}");
}

#[test]
fn help_and_the_catalog_commands_survive_a_closed_or_full_stdout() {
    let sb = Sandbox::new();
    for args in [
        &["--help"][..],
        &["ask", "--help"],
        &["settings", "list"],
        &["settings", "list", "--json"],
        &["settings", "show", "appearance.dark_mode"],
        &["settings", "show", "--json", "appearance.dark_mode"],
        &["settings", "export", "--json"],
        &["settings", "check"],
        &["config", "show"],
        &["config", "path"],
        &["doctor"],
        &["completions", "bash"],
        &["history"],
        &["history", "--json"],
    ] {
        assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(&sb, args, 0);
    }
}

#[test]
fn plans_survive_a_closed_or_full_stdout() {
    let sb = Sandbox::new();
    for (args, status) in [
        (
            &["set", "--platform", "windows", "appearance.dark_mode", "on"][..],
            0,
        ),
        (
            &[
                "set",
                "--platform",
                "windows",
                "--json",
                "appearance.dark_mode",
                "on",
            ],
            0,
        ),
        (&["apply", "--platform", "windows", "night"], 0),
        (&["apply", "--platform", "windows", "--json", "night"], 0),
        (&["ask", "--platform", "windows", "turn on dark mode"], 0),
        (
            &[
                "ask",
                "--platform",
                "windows",
                "--json",
                "turn on dark mode",
            ],
            0,
        ),
        (
            &[
                "ask",
                "--platform",
                "windows",
                "--explain",
                "turn on dark mode",
            ],
            0,
        ),
        // Suggestions only: the closed pipe keeps the status 3.
        (&["ask", "--platform", "windows", "bluetooth"], 3),
        (&["ask", "--platform", "windows", "--json", "bluetooth"], 3),
    ] {
        assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(&sb, args, status);
    }
}

#[test]
fn reading_settings_survives_a_closed_or_full_stdout() {
    crate::support::require_tool("gsettings");
    let sb = Sandbox::new();
    for args in [
        &["get", "--platform", "gnome", "appearance.dark_mode"][..],
        &[
            "get",
            "--platform",
            "gnome",
            "--json",
            "appearance.dark_mode",
        ],
    ] {
        assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(&sb, args, 0);
    }
}

#[test]
fn batch_eval_and_model_info_survive_a_closed_or_full_stdout() {
    let sb = Sandbox::new();
    let requests = sb.path("requests.txt");
    std::fs::write(&requests, "turn on dark mode\nbluetooth\nvolume to 30\n").unwrap();
    let cases = sb.path("cases.jsonl");
    std::fs::write(
        &cases,
        r#"{"query": "turn on dark mode", "expect": ["set appearance.dark_mode true"]}"#,
    )
    .unwrap();
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mu-golden/mu-smoke-f32.gguf"
    );
    let (requests, cases) = (requests.to_str().unwrap(), cases.to_str().unwrap());
    for args in [
        &["batch", "--platform", "windows", "--threads", "1", requests][..],
        &["batch", "--platform", "windows", "--threads", "2", requests],
        &["eval", cases],
        &["eval", "--json", cases],
        &["model", "info", model],
        &["model", "info", "--json", model],
    ] {
        assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(&sb, args, 0);
    }
}

#[test]
fn streamed_model_output_stops_on_a_closed_pipe() {
    let sb = Sandbox::new();
    let model = sb.path("tiny-chat.gguf");
    chat_model::write_chat_model(
        &model,
        chat_model::Shape {
            dim: 64,
            hidden: 128,
            layers: 1,
            heads: 2,
            context: 512,
        },
    );
    let model = model.to_str().unwrap();
    for args in [
        &["generate", "--model", model, "--max-tokens", "8", "hello"][..],
        &[
            "generate",
            "--model",
            model,
            "--max-tokens",
            "8",
            "--json",
            "hello",
        ],
        &[
            "ask",
            "--platform",
            "windows",
            "--model",
            model,
            "what is the capital of france",
        ],
        &[
            "ask",
            "--platform",
            "windows",
            "--json",
            "--model",
            model,
            "what is the capital of france",
        ],
    ] {
        assert_quiet_on_a_closed_pipe_and_clear_on_a_full_disk(&sb, args, 0);
    }
}

/// The journal's entries as `(state, summary)`.
fn history(sb: &Sandbox) -> Vec<(String, String)> {
    let out = knob(sb, &["history", "--json"], Sink::Captured);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_string(),
                e["summary"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn dark_mode(sb: &Sandbox) -> Value {
    let out = knob(
        sb,
        &[
            "get",
            "--platform",
            "gnome",
            "--json",
            "appearance.dark_mode",
        ],
        Sink::Captured,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["value"].clone()
}

#[test]
fn an_apply_whose_report_cannot_be_written_is_still_made_and_journaled() {
    crate::support::require_tool("gsettings");
    let sb = Sandbox::new();
    let set = |value: &str, sink| {
        knob(
            &sb,
            &[
                "set",
                "--platform",
                "gnome",
                "--apply",
                "--yes",
                "appearance.dark_mode",
                value,
            ],
            sink,
        )
    };
    let out = set("on", Sink::ClosedPipe);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
    assert_eq!(dark_mode(&sb), Value::Bool(true));
    assert_eq!(
        history(&sb),
        [(
            "applied".to_string(),
            "set appearance.dark_mode true".to_string()
        )]
    );

    // Undo with nobody reading: done, and journaled as undone.
    let out = knob(&sb, &["undo"], Sink::ClosedPipe);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(dark_mode(&sb), Value::Bool(false));
    assert_eq!(history(&sb)[0].0, "undone");

    // A full disk loses the report (status 1), not the change.
    let out = set("on", Sink::Full);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(FULL_ERROR));
    assert_eq!(dark_mode(&sb), Value::Bool(true));
    assert_eq!(history(&sb)[1].0, "applied");
    let out = knob(&sb, &["undo", "--json"], Sink::Full);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(dark_mode(&sb), Value::Bool(false));
    assert_eq!(history(&sb)[1].0, "undone");
}

#[test]
fn batch_apply_stops_after_the_line_in_flight_once_nobody_reads() {
    crate::support::require_tool("gsettings");
    let sb = Sandbox::new();
    let requests = sb.path("requests.txt");
    std::fs::write(
        &requests,
        "turn on dark mode\nset the cursor size to 48\nturn off dark mode\n",
    )
    .unwrap();
    let out = knob(
        &sb,
        &[
            "batch",
            "--platform",
            "gnome",
            "--apply",
            "--yes",
            "--threads",
            "1",
            requests.to_str().unwrap(),
        ],
        Sink::ClosedPipe,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
    // The first line was applied and journaled; its report found no reader,
    // so no further line was applied.
    let entries = history(&sb);
    assert_eq!(
        entries,
        [(
            "applied".to_string(),
            "batch: turn on dark mode".to_string()
        )]
    );
    assert_eq!(dark_mode(&sb), Value::Bool(true));
}

#[test]
fn json_errors_are_json_objects_with_the_same_exit_status() {
    let sb = Sandbox::new();
    // A value the catalog rejects for this platform (50 is not a Windows
    // cursor size): from the model's plan and typed directly.
    for args in [
        &[
            "ask",
            "--platform",
            "windows",
            "--json",
            "set the cursor size to 50",
        ][..],
        &[
            "set",
            "--platform",
            "windows",
            "--json",
            "a11y.cursor_size",
            "50",
        ],
    ] {
        let out = knob(&sb, args, Sink::Captured);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let v = json(&out);
        assert_eq!(v["error"]["kind"], "error", "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("a11y.cursor_size: "), "{message}");
        // Without --json: the same status, the same message on stderr.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        let out = knob(&sb, &plain, Sink::Captured);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
        assert_eq!(text(&out.stderr), format!("knob: error: {message}\n"));
    }
    // Usage errors: an empty request, an unknown flag.
    for args in [
        &["ask", "--platform", "windows", "--json", ""][..],
        &["ask", "--json", "--no-such-flag", "x"],
    ] {
        let out = knob(&sb, args, Sink::Captured);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let v = json(&out);
        assert_eq!(v["error"]["kind"], "usage", "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    // Errors before the command runs (an unreadable config) too.
    let out = knob(&sb, &["--config", "/", "history", "--json"], Sink::Captured);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(json(&out)["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid config: "));
}

#[test]
fn a_batch_line_whose_plan_fails_gets_an_error_object_on_its_line() {
    let sb = Sandbox::new();
    let out = knob_to(
        &sb,
        &[
            OsStr::new("batch"),
            OsStr::new("--platform"),
            OsStr::new("windows"),
        ],
        Sink::Captured,
        Some(b"set the cursor size to 50\nturn on dark mode\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", text(&out.stdout));
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("a11y.cursor_size: "),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["intent"], "change");
}

#[test]
fn invalid_utf8_is_a_usage_error_on_stdin_and_as_an_argument() {
    let sb = Sandbox::new();
    let bad = OsStr::from_bytes(b"turn on \xff dark mode");
    let ask = OsStr::new("ask");
    let platform = [OsStr::new("--platform"), OsStr::new("windows")];
    let json_flag = OsStr::new("--json");
    let as_argument = knob_to(
        &sb,
        &[ask, platform[0], platform[1], bad],
        Sink::Captured,
        None,
    );
    let on_stdin = knob_to(
        &sb,
        &[ask, platform[0], platform[1]],
        Sink::Captured,
        Some(bad.as_bytes()),
    );
    for out in [&as_argument, &on_stdin] {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_contains(&text(&out.stderr), "UTF-8");
    }
    // And with --json, an error object on stdout.
    for out in [
        knob_to(
            &sb,
            &[ask, json_flag, platform[0], platform[1], bad],
            Sink::Captured,
            None,
        ),
        knob_to(
            &sb,
            &[ask, json_flag, platform[0], platform[1]],
            Sink::Captured,
            Some(bad.as_bytes()),
        ),
    ] {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let v = json(&out);
        assert_eq!(v["error"]["kind"], "usage");
        assert!(v["error"]["message"].as_str().unwrap().contains("UTF-8"));
    }
}

#[test]
fn an_error_says_its_cause_once() {
    let sb = Sandbox::new();
    let dir = sb.path("home");
    let dir = dir.to_str().unwrap();
    for args in [
        &["--config", dir, "doctor"][..],
        &["model", "info", dir],
        &["generate", "--model", dir, "hello"],
    ] {
        let out = knob(&sb, args, Sink::Captured);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches("(os error").count(), 1, "{args:?}: {err}");
    }
}
