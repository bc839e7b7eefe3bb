//! The write-ahead journal: a crash between the journal write and the end of
//! apply still lets undo restore the values; unreadable entries are reported.
use std::cell::Cell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use knob::settings::load::load_with_user_dir;
use knob::settings::system::Output;
use knob::settings::{apply, plan, Journal, Platform, RealSystem, System, Value};

use crate::support::{assert_contains, require_tool, stderr, stdout, Sandbox, IFACE};

/// Sets the cursor size to 40 on GNOME: one change, one journal entry.
const SET_CURSOR_40: [&str; 7] = [
    "set",
    "fixture.cursor_size",
    "40",
    "--platform",
    "gnome",
    "--apply",
    "--yes",
];

/// The real system, except that the process "dies" (panics) when write
/// number `crash_at` (1-based) is about to run.
struct CrashingSystem {
    inner: RealSystem,
    writes: Cell<usize>,
    crash_at: usize,
}

impl System for CrashingSystem {
    fn has_program(&self, program: &str) -> bool {
        self.inner.has_program(program)
    }
    fn read(&self, argv: &[String]) -> io::Result<Output> {
        self.inner.read(argv)
    }
    fn write(&self, argv: &[String]) -> io::Result<Output> {
        self.writes.set(self.writes.get() + 1);
        if self.writes.get() == self.crash_at {
            panic!("simulated crash before write {}", self.crash_at);
        }
        self.inner.write(argv)
    }
}

fn crash_during_apply(sb: &Sandbox, crash_at: usize) {
    let cat = load_with_user_dir(Some(&sb.path("config").join("knob/profiles"))).unwrap();
    let sys = CrashingSystem {
        inner: sb.system(),
        writes: Cell::new(0),
        crash_at,
    };
    let requests = [
        ("fixture.cursor_size".to_string(), Value::Int(48)),
        ("fixture.text_scale".to_string(), Value::Float(2.0)),
    ];
    let p = plan(&cat, &requests, Platform::Gnome, &sys).unwrap();
    let journal = Journal::new(sb.journal_dir());
    let result = catch_unwind(AssertUnwindSafe(|| {
        apply(&p, &sys, Some(&journal), "crash test")
    }));
    assert!(result.is_err(), "the simulated crash must stop apply");
}

#[test]
fn crash_after_the_first_write_is_undoable() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let get = |k: &str| sb.gsettings_get(IFACE, k);
    crash_during_apply(&sb, 2);
    assert_eq!(
        get("cursor-size"),
        "48",
        "the first change ran before the crash"
    );
    assert_eq!(get("text-scaling-factor"), "1.0");
    let entry = std::fs::read_to_string(sb.journal_dir().join("000001.json")).unwrap();
    assert_contains(&entry, "\"state\": \"pending\"");

    let out = sb.knob(&["history"]);
    assert!(
        stdout(&out).contains("pending") && stdout(&out).contains("crash test"),
        "{}",
        stdout(&out)
    );
    sb.knob_ok(&["undo"]);
    assert_eq!(get("cursor-size"), "24");
    assert_eq!(get("text-scaling-factor"), "1.0");
    let entry = std::fs::read_to_string(sb.journal_dir().join("000001.json")).unwrap();
    assert_contains(&entry, "\"state\": \"undone\"");
}

#[test]
fn crash_before_any_write_leaves_an_undoable_entry() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    crash_during_apply(&sb, 1);
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    sb.knob_ok(&["undo"]);
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
}

#[test]
fn corrupt_and_newer_entries_are_reported_never_dropped() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.knob_ok(&SET_CURSOR_40);
    let bad = sb.journal_dir().join("000002.json");
    std::fs::write(&bad, "{\"format\": 1, \"id\": 2, \"truncated").unwrap();

    let out = sb.knob(&["undo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&stderr(&out), "000002.json is corrupt");
    assert_eq!(
        sb.gsettings_get(IFACE, "cursor-size"),
        "40",
        "nothing undone past a corrupt entry"
    );
    let out = sb.knob(&["history"]);
    let text = stdout(&out);
    assert!(
        text.contains("   1  ") && text.contains("   2  unreadable: journal entry"),
        "{text}"
    );

    std::fs::write(&bad, "{\"format\": 99, \"id\": 2}").unwrap();
    let out = sb.knob(&["undo"]);
    assert_contains(
        &stderr(&out),
        "written by a newer knob (format 99, this knob reads 2)",
    );

    // The readable entry can still be undone by id, and the bad one stays.
    sb.knob_ok(&["undo", "--id", "1"]);
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "{\"format\": 99, \"id\": 2}"
    );
    // A new plan does not reuse the unreadable entry's id.
    let out = sb.knob(&[
        "set",
        "fixture.cursor_size",
        "40",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert!(stdout(&out).contains("(plan 3;"), "{}", stdout(&out));
}

/// Runs knob in the sandbox; fails if it has not finished in 20 s (reading a
/// FIFO would wait for a writer forever).
fn knob_within_20s(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut child = sb
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("knob {args:?} hung on the journal");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn fifo_symlink_and_huge_id_entries_neither_hang_nor_wrap() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.knob_ok(&SET_CURSOR_40);
    let dir = sb.journal_dir();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("000002.json"))
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.join("000003.json")).unwrap();

    let out = knob_within_20s(&sb, &["history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("   2  unreadable: journal entry")
            && text.contains("000002.json is not read: it is a FIFO, not a regular file"),
        "{text}"
    );
    assert_contains(
        &text,
        "000003.json is not read: it is a symbolic link, not a regular file",
    );
    let out = knob_within_20s(&sb, &["undo"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_contains(
        &stderr(&out),
        "000003.json is not read: it is a symbolic link",
    );
    let out = knob_within_20s(&sb, &["undo", "--id", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_contains(&stderr(&out), "it is a FIFO");
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "40");

    // An entry with the largest id: a clear error and nothing changed,
    // instead of a next id that wraps to 0.
    std::fs::write(dir.join("18446744073709551615.json"), "{}").unwrap();
    let out = sb.knob(&[
        "set",
        "fixture.cursor_size",
        "64",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_contains(
        &stderr(&out),
        "18446744073709551615.json has the largest possible id, so no entry can follow it",
    );
    assert!(!dir.join("000000.json").exists());
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "40");
}

#[cfg(unix)]
#[test]
fn a_symlink_at_a_leftover_temporary_name_is_not_followed() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.knob_ok(&SET_CURSOR_40);
    let precious = sb.path("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    // Where knob 226b8c6 wrote its temporary file for entry 1.
    std::os::unix::fs::symlink(&precious, sb.journal_dir().join("000001.json.tmp")).unwrap();
    sb.knob_ok(&["undo"]);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    let out = sb.knob(&["history"]);
    assert_contains(&stdout(&out), "undone");
}
