//! `knob embed` through the real binary, on tests/fixtures/bert_tiny.gguf
//! (a random-weight BERT with all-MiniLM's vocabulary, 32 dimensions) and
//! its numpy reference.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn embed(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(["embed", "--model", &fixture("bert_tiny.gguf")])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// The numpy reference's vector for `text`.
fn reference(text: &str) -> Vec<f64> {
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("bert_tiny_reference.json")).unwrap(),
    )
    .unwrap();
    let s = r["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["text"] == text)
        .unwrap_or_else(|| panic!("{text:?} is not in the reference"));
    s["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn parse_line(line: &str) -> Vec<f64> {
    line.split(' ').map(|v| v.parse().unwrap()).collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{g} vs {w}");
    }
}

#[test]
fn prints_one_line_of_values_per_text_argument() {
    let out = embed(&["turn on dark mode", "reboot"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_close(&parse_line(lines[0]), &reference("turn on dark mode"));
    assert_close(&parse_line(lines[1]), &reference("reboot"));
    // Unit length, as sentence-transformers' Normalize module makes it.
    let norm: f64 = parse_line(lines[0])
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

#[test]
fn json_gives_model_dimensions_tokens_and_embedding() {
    let out = embed(&["--json", "is dark mode on?"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "Tiny");
    assert_eq!(v["dimensions"], 32);
    // [CLS] is dark mode on ? [SEP]
    assert_eq!(v["tokens"], 7);
    let got: Vec<f64> = v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_close(&got, &reference("is dark mode on?"));
}

#[test]
fn reads_one_text_per_line_of_standard_input_empty_lines_included() {
    let out = embed(&[], Some("reboot\r\n\nturn on dark mode\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_close(&parse_line(lines[0]), &reference("reboot"));
    assert_close(&parse_line(lines[1]), &reference(""));
    assert_close(&parse_line(lines[2]), &reference("turn on dark mode"));
}

#[test]
fn no_normalize_prints_the_mean_as_it_is() {
    let out = embed(&["--no-normalize", "reboot"], None);
    assert!(out.status.success());
    let v = parse_line(String::from_utf8(out.stdout).unwrap().trim_end());
    let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "norm {norm}");
    // Same direction as the normalized vector.
    let want = reference("reboot");
    let cos: f64 = v.iter().zip(&want).map(|(a, b)| a * b).sum::<f64>() / norm;
    assert!((cos - 1.0).abs() < 1e-5, "cos {cos}");
}

#[test]
fn a_text_over_512_tokens_is_refused_unless_truncated() {
    let long = "word ".repeat(600);
    let out = embed(&[&long], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("602 tokens") && err.contains("at most 512") && err.contains("--truncate"),
        "{err}"
    );
    let out = embed(&["--truncate", "--json", &long], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tokens"], 512);
}

#[test]
fn a_model_that_is_not_bert_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("knob-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("llama.gguf");
    let mut w = knob::gguf::writer::GgufWriter::new();
    w.set("general.architecture", "llama")
        .set("tokenizer.ggml.model", "gpt2");
    w.write_to(&path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_knob"))
        .args(["embed", "--model"])
        .arg(&path)
        .arg("hello")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("as an embedding model") && err.contains("\"llama\" is not bert"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_text_and_a_terminal_or_empty_input_is_a_usage_error() {
    let out = embed(&[], Some(""));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no text to embed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
