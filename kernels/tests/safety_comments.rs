//! Every `unsafe` block in this crate states why it is sound in a
//! `// SAFETY:` comment. clippy's `undocumented_unsafe_blocks` (denied in
//! the workspace lints) checks the same, but only for the code compiled on
//! the host: on x86-64 it never sees `arm/` or `ops/neon.rs`. This test reads
//! the sources, so every architecture's blocks are checked on every machine.

use std::path::{Path, PathBuf};

/// `(line number, line)` of each `unsafe {` block in `src` that has no
/// `// SAFETY:` comment on its line or directly above its statement.
fn undocumented_unsafe_blocks(src: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if !has_unsafe_block(code) {
            continue;
        }
        if !documented(&lines, i) {
            missing.push((i + 1, line.trim().to_string()));
        }
    }
    missing
}

/// Whether `code` opens an `unsafe` block (not an `unsafe fn`, `impl` or `trait`).
fn has_unsafe_block(code: &str) -> bool {
    code.match_indices("unsafe").any(|(at, word)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].trim_start();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('{')
    })
}

/// Looks at the block's own line, then upward over comment lines and the
/// earlier lines of the same statement, for a `SAFETY:` comment.
fn documented(lines: &[&str], at: usize) -> bool {
    if lines[at].contains("SAFETY:") {
        return true;
    }
    for line in lines[..at].iter().rev().map(|l| l.trim()) {
        if line.starts_with("//") {
            if line.contains("SAFETY:") {
                return true;
            }
            continue;
        }
        // Code that ends a statement or opens/closes a scope is not part of
        // the statement holding the block: the comment had to come after it.
        if line.is_empty() || line.ends_with([';', '{', '}']) || line.starts_with('#') {
            return false;
        }
    }
    false
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_unsafe_block_in_the_crate_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("arm/neon.rs")),
        "the aarch64 sources are among the files read: {files:?}"
    );
    let mut report = String::new();
    let mut blocks = 0;
    // This file's own examples are undocumented on purpose.
    files.retain(|f| !f.ends_with("tests/safety_comments.rs"));
    for file in &files {
        let src = std::fs::read_to_string(file).unwrap();
        blocks += src.lines().filter(|l| has_unsafe_block(l)).count();
        for (n, line) in undocumented_unsafe_blocks(&src) {
            report += &format!("{}:{n}: {line}\n", file.display());
        }
    }
    assert!(
        blocks > 50,
        "found only {blocks} unsafe blocks: is the scan broken?"
    );
    assert!(
        report.is_empty(),
        "unsafe blocks without a // SAFETY: comment:\n{report}"
    );
}

#[test]
fn the_check_finds_an_undocumented_block_and_accepts_documented_ones() {
    let src = "\
fn a(p: *const u8) -> u8 {
    // SAFETY: p is valid (documented above the statement).
    unsafe { *p }
}
fn b(p: *const u8) -> u8 {
    let x = 1;
    unsafe { *p }
}
fn c(p: *const u8) -> u8 {
    // SAFETY: p is valid (documented above a statement that continues).
    let v =
        unsafe { *p };
    v
}
unsafe fn d(p: *const u8) -> u8 {
    let y = unsafe { *p }; // SAFETY: p is valid (on the same line)
    y
}
fn e(p: *const u8) -> u8 {
    // not a safety comment
    unsafe { *p }
}
";
    let missing: Vec<usize> = undocumented_unsafe_blocks(src)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(missing, [7, 21]);
}
