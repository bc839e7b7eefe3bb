//! `knob model info` through the real binary.

use std::process::Command;

use knob::gguf::writer::GgufWriter;

use crate::support::{assert_contains, stderr, KNOB};

#[test]
fn prints_json_for_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama")
        .set("llama.block_count", 1u32);
    w.add_q8_0("token_embd.weight", &[32, 2], &[0.25; 64])
        .unwrap();
    w.write_to(&path).unwrap();
    let out = Command::new(KNOB)
        .args(["model", "info", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metadata"]["llama.block_count"], 1);
    assert_eq!(v["tensors"][0]["name"], "token_embd.weight");
    assert_eq!(v["tensors"][0]["bytes"], 68);
    let text = Command::new(KNOB)
        .args(["model", "info"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("token_embd.weight") && text.contains("q8_0"),
        "{text}"
    );
}

#[test]
fn a_broken_file_exits_1_with_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    let mut bytes = GgufWriter::new().to_bytes();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // metadata count
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(KNOB)
        .args(["model", "info"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("knob: error: cannot load model "), "{err}");
    assert_contains(
        &err,
        "metadata count at byte 16 is 18446744073709551615, over the limit",
    );
}
