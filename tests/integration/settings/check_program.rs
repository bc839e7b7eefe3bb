//! `knob settings check-program`: the grammar check scripts and the training
//! pipeline call instead of keeping their own copies of the grammar.
use std::process::Output;

use crate::support::{assert_contains, json, json_lines, stderr, stdout, Sandbox};

/// The training pipeline's test catalog: the export format with fields
/// knob does not know, which a check must ignore.
const TRAIN_CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/train/tests/fixtures/catalog.json"
);

fn check_stdin(sb: &Sandbox, args: &[&str], input: &str) -> Output {
    let mut argv = vec!["settings", "check-program"];
    argv.extend(args);
    sb.knob_stdin(&argv, input.as_bytes())
}

#[test]
fn valid_programs_exit_zero_and_say_how_many() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "settings",
        "check-program",
        "set appearance.dark_mode true ; inc sound.volume 5",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: 2 programs\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn questions_and_chat_are_programs_too() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "settings",
        "check-program",
        "get appearance.dark_mode",
        "get sound.volume ; set appearance.dark_mode true",
        "chat",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: 3 programs\n");
    for bad in [
        "get nope.nothing",
        "chat ; none",
        "get sound.volume ; set sound.volume 3",
    ] {
        let out = sb.knob(&["settings", "check-program", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stdout(&out));
    }
}

#[test]
fn an_invalid_program_exits_one_with_the_parsers_reason() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "settings",
        "check-program",
        "set sound.volume 30",
        "toggle sound.volume",
        "set sound.volume 20 ; inc sound.volume",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "2: toggle sound.volume: 'toggle' cannot be used with sound.volume\n\
         3: set sound.volume 20 ; inc sound.volume: 'sound.volume' is changed twice: a program changes each setting and applies each preset at most once\n\
         knob: 2 of 3 programs invalid\n"
    );
}

#[test]
fn json_from_stdin_gives_one_verdict_per_line_in_order() {
    let sb = Sandbox::new();
    let out = check_stdin(
        &sb,
        &["--json"],
        "set appearance.dark_mode true ; preset night\n\nset sound.volume 101\nnone\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_lines(&out);
    assert_eq!(v.len(), 4, "{}", stdout(&out));
    assert_eq!(
        v[0],
        serde_json::json!({
            "program": "set appearance.dark_mode true ; preset night",
            "valid": true,
            "error": null,
            "actions": ["set appearance.dark_mode true", "preset night"],
            "targets": ["appearance.dark_mode", "preset:night"],
        })
    );
    assert_eq!(v[1]["program"], "");
    assert_eq!(v[1]["error"], "empty action");
    assert_eq!(v[2]["valid"], false);
    assert_eq!(
        v[2]["error"],
        "'101' is not a valid value for sound.volume: out of range 0..=100"
    );
    assert_eq!(v[3]["valid"], true);
    assert_eq!(v[3]["actions"], serde_json::json!([]));
}

#[test]
fn a_catalog_export_replaces_knobs_own_catalog() {
    let sb = Sandbox::new();
    // knob's catalog has the wifi setting; the training fixture does not,
    // and its brightness starts at 1.
    let own = sb.knob(&["settings", "check-program", "set network.wifi true"]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    let out = check_stdin(
        &sb,
        &["--json", "--catalog", TRAIN_CATALOG],
        "set network.wifi true\nset display.brightness 0\nset time.timezone \"Europe/Berlin\" ; inc sound.volume 5\n",
    );
    let v = json_lines(&out);
    assert_eq!(v[0]["error"], "unknown setting 'network.wifi'");
    assert_eq!(
        v[1]["error"],
        "'0' is not a valid value for display.brightness: out of range 1..=100"
    );
    assert_eq!(v[2]["valid"], true);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_unreadable_catalog_is_an_error_not_a_verdict() {
    let sb = Sandbox::new();
    let bad = sb.path("bad.json");
    std::fs::write(&bad, "{\"settings\": 3}").unwrap();
    let out = sb.knob(&[
        "settings",
        "check-program",
        "--json",
        "--catalog",
        bad.to_str().unwrap(),
        "none",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = json(&out);
    let message = err["error"]["message"].as_str().unwrap();
    assert_contains(message, "is not a catalog export");
}
