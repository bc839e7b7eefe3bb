//! Running a child with input on stdin, and reading what it printed.
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cmd` with `input` on its stdin; stdout and stderr go where `cmd`
/// says (pipe them to capture them). The input is written from another
/// thread: the child may stop reading early.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("starting the command");
    let mut stdin = child.stdin.take().expect("a stdin pipe");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("waiting for the command");
    writer.join().expect("the stdin writer");
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// Parses the one JSON value on stdout, with both outputs in the message on
/// failure.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON value ({e}): stdout: {} stderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Parses stdout as JSON lines, one value a line.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Asserts that `haystack` contains `needle`, showing all of `haystack` when
/// it does not.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "{needle:?} is not in:\n{haystack}"
    );
}
