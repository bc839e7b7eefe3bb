//! `knob model info` through the real binary.

use std::process::Command;

use knob::gguf::writer::GgufWriter;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("knob-model-info-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn prints_json_for_a_valid_file() {
    let dir = temp_dir("ok");
    let path = dir.join("tiny.gguf");
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama")
        .set("llama.block_count", 1u32);
    w.add_q8_0("token_embd.weight", &[32, 2], &[0.25; 64])
        .unwrap();
    w.write_to(&path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(["model", "info", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metadata"]["llama.block_count"], 1);
    assert_eq!(v["tensors"][0]["name"], "token_embd.weight");
    assert_eq!(v["tensors"][0]["bytes"], 68);
    let text = Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(["model", "info"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("token_embd.weight") && text.contains("q8_0"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_file_exits_1_with_the_offset() {
    let dir = temp_dir("bad");
    let path = dir.join("bad.gguf");
    let mut bytes = GgufWriter::new().to_bytes();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // metadata count
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(["model", "info"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("knob: error: cannot load model "), "{err}");
    assert!(
        err.contains("metadata count at byte 16 is 18446744073709551615, over the limit"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
