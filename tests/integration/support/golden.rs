//! Reading the golden files the training pipeline writes (train/knobtrain/
//! golden.py, golden_v2.py, golden_dec.py): where they are, their tolerances,
//! token id lists and rows of logits.
use std::path::{Path, PathBuf};

use knob::model::mu::Mu;
use serde_json::Value;

/// The golden directory: `env_var` when it is set (train/test.sh points it at
/// the smoke run it has just made), else the committed `fixture` directory.
pub fn dir(env_var: &str, fixture: &str) -> PathBuf {
    std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(fixture))
}

/// The golden JSON file `name` in `dir`.
pub fn load(dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The largest difference the golden file allows for the comparison `key`.
pub fn tolerance(g: &Value, key: &str) -> f32 {
    g["tolerance"][key]["max_abs"].as_f64().unwrap() as f32
}

/// A golden file whose logits were all equal would let any engine pass: at
/// least 3 cases, and each case's first row of `logits_key` spread out.
pub fn assert_cases_not_trivial(g: &Value, logits_key: &str) {
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let logits = rows(&case[logits_key]);
        let spread = logits[0].iter().cloned().fold(f32::MIN, f32::max)
            - logits[0].iter().cloned().fold(f32::MAX, f32::min);
        assert!(
            spread > 0.1,
            "logits of {:?} are nearly flat",
            case["query"]
        );
    }
}

/// A JSON array of token ids.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A JSON array of arrays of numbers (one row of logits per position).
pub fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// Feeds one golden case's decoder input to `model` (already encoded) a
/// token at a time and compares every step's logits with `want`, padding
/// left out (the engine never produces it: its logit must be -inf). Returns
/// the largest difference; `what` names the case in a failure.
pub fn compare_decoder(
    model: &mut Mu,
    dec: &[u32],
    want: &[Vec<f32>],
    tolerance: f32,
    what: &str,
) -> f32 {
    assert_eq!(
        want.len(),
        dec.len(),
        "{what}: one row of logits per input token"
    );
    let pad = model.config.pad_token.map(|p| p as usize);
    let mut worst = 0.0f32;
    for (pos, (&token, want)) in dec.iter().zip(want).enumerate() {
        let got = model.decode_step(token).unwrap();
        assert_eq!(got.len(), want.len(), "{what}: the decoder's vocabulary");
        if let Some(p) = pad {
            assert_eq!(got[p], f32::NEG_INFINITY, "padding is never produced");
        }
        let diff = got
            .iter()
            .zip(want)
            .enumerate()
            .filter(|(i, _)| Some(*i) != pad)
            .map(|(_, (a, b))| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            diff <= tolerance,
            "{what} position {pos}: max |logit diff| {diff} > {tolerance}"
        );
        worst = worst.max(diff);
    }
    worst
}
