//! Two knob processes at once, against real gsettings slowed down by a
//! wrapper on PATH: undo waits for an apply that is still writing, two undos
//! undo two different plans, and --no-wait fails at once with exit 5.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    assert_contains, gsettings_wrapper, json, require_tool, stderr, Sandbox, IFACE,
};

/// Applies the fixture preset on GNOME: three gsettings writes.
const APPLY_EVENING: [&str; 6] = [
    "apply",
    "fixture-evening",
    "--platform",
    "gnome",
    "--apply",
    "--yes",
];

/// A `gsettings` on PATH that sleeps `delay` seconds before every write,
/// then runs the real one; returns the PATH to give knob.
fn slow_gsettings(sb: &Sandbox, delay: &str) -> String {
    gsettings_wrapper(
        &sb.path("slow-bin"),
        &format!("if [ \"$1\" = set ]; then sleep {delay}; fi"),
    )
    .into_string()
    .unwrap()
}

/// Starts knob in the sandbox with `path` as PATH.
fn spawn(sb: &Sandbox, path: &str, args: &[&str]) -> Child {
    let mut cmd = sb.command(args);
    cmd.env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("starting knob")
}

/// Waits for a child, killing it (and failing) after a minute.
fn finish(child: Child, what: &str) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("waiting for knob"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("{what} did not finish within a minute");
        }
    }
}

/// Waits until `path` exists: the apply holds the lock and is writing.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn entry(sb: &Sandbox, id: u64) -> serde_json::Value {
    let path: PathBuf = sb.journal_dir().join(format!("{id:06}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn undo_waits_for_a_slow_apply_and_undoes_all_of_it() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let slow = slow_gsettings(&sb, "0.5");
    // Three writes (color-scheme, gtk-theme, cursor-size) of 0.5 s each.
    let apply = spawn(&sb, &slow, &APPLY_EVENING);
    // The entry is written before the first change: apply is under way.
    wait_for(&sb.journal_dir().join("000001.json"));
    let undo = spawn(&sb, &slow, &["undo", "--json"]);
    let apply = finish(apply, "apply");
    let undo = finish(undo, "undo");
    assert!(apply.status.success(), "{}", stderr(&apply));
    assert!(undo.status.success(), "{}", stderr(&undo));
    let report = json(&undo);
    assert_eq!(report["id"], 1);
    assert_eq!(
        report["restored"],
        serde_json::json!(["fixture.dark_mode", "fixture.cursor_size"])
    );

    // Nothing stays changed, and the journal says so.
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'default'");
    assert_eq!(sb.gsettings_get(IFACE, "gtk-theme"), "'Adwaita'");
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    let e = entry(&sb, 1);
    assert_eq!(e["state"], "undone");
    for c in e["changes"].as_array().unwrap() {
        assert_eq!(c["status"], "restored", "{c}");
    }
    let again = sb.knob(&["undo"]);
    assert_eq!(again.status.code(), Some(1));
    assert_contains(&stderr(&again), "nothing to undo");
    // It waited for the apply, and said so once.
    assert_eq!(
        stderr(&undo)
            .matches("waiting for another knob to finish applying or undoing (lock ")
            .count(),
        1,
        "{}",
        stderr(&undo)
    );
}

#[test]
fn two_concurrent_undos_undo_two_different_plans() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    for (setting, value) in [("fixture.cursor_size", "32"), ("fixture.text_scale", "1.5")] {
        sb.knob_ok(&[
            "set",
            setting,
            value,
            "--platform",
            "gnome",
            "--apply",
            "--yes",
        ]);
    }
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "32");
    assert_eq!(sb.gsettings_get(IFACE, "text-scaling-factor"), "1.5");

    let slow = slow_gsettings(&sb, "0.5");
    let first = spawn(&sb, &slow, &["undo", "--json"]);
    let second = spawn(&sb, &slow, &["undo", "--json"]);
    let first = finish(first, "the first undo");
    let second = finish(second, "the second undo");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    let mut ids = vec![json(&first)["id"].clone(), json(&second)["id"].clone()];
    ids.sort_by_key(|v| v.as_u64());
    assert_eq!(ids, vec![1, 2], "each undo must undo its own plan");
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    assert_eq!(sb.gsettings_get(IFACE, "text-scaling-factor"), "1.0");
    assert_eq!(entry(&sb, 1)["state"], "undone");
    assert_eq!(entry(&sb, 2)["state"], "undone");
}

#[test]
fn no_wait_fails_at_once_with_exit_5_while_another_knob_applies() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    // Three writes of a second each: long enough for two refusals.
    let slow = slow_gsettings(&sb, "1");
    let mut apply = spawn(&sb, &slow, &APPLY_EVENING);
    wait_for(&sb.journal_dir().join("000001.json"));
    let undo = sb.knob(&["undo", "--no-wait"]);
    let set = sb.knob(&[
        "set",
        "fixture.text_scale",
        "2",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
        "--no-wait",
    ]);
    // Both answered while the apply was still writing.
    let still_running = apply.try_wait().unwrap().is_none();
    let apply = finish(apply, "apply");
    for out in [&undo, &set] {
        assert_eq!(out.status.code(), Some(5), "{}", stderr(out));
        assert!(
            stderr(out).contains("another knob is applying or undoing changes (it holds ")
                && stderr(out).contains("leave out --no-wait to wait for it"),
            "{}",
            stderr(out)
        );
    }
    assert!(
        still_running,
        "the refusals came only after the apply ended"
    );
    assert!(apply.status.success(), "{}", stderr(&apply));
    // The apply finished; the refused commands changed nothing.
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'prefer-dark'");
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "32");
    assert_eq!(sb.gsettings_get(IFACE, "text-scaling-factor"), "1.0");
    assert_eq!(entry(&sb, 1)["state"], "applied");
    assert!(!sb.journal_dir().join("000002.json").exists());
}
