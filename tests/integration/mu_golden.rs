//! The golden test of the `mu` forward pass: knob's engine against the JAX
//! model it was trained as. `train/run.sh --smoke` writes a tiny trained
//! model in two forms (all-F32 and Q8_0) and `golden.json` with the JAX
//! logits at every decoder position for a few fixed queries, and the
//! tolerances it measured (see train/knobtrain/golden.py).
//!
//! The committed copy lives in tests/fixtures/mu-golden; CI re-runs the smoke
//! pipeline and points KNOB_MU_GOLDEN_DIR at the fresh output, so a change on
//! either side of the contract (docs/mu-gguf.md) is caught.
use std::path::PathBuf;

use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::mu::Mu;
use knob::tokenizer::Tokenizer;
use serde_json::Value;

use crate::support::golden::{
    self as golden, assert_cases_not_trivial, compare_decoder, ids, rows, tolerance,
};

fn golden_dir() -> PathBuf {
    golden::dir("KNOB_MU_GOLDEN_DIR", "tests/fixtures/mu-golden")
}

fn golden() -> Value {
    golden::load(&golden_dir(), "golden.json")
}

/// Runs every golden case through the engine loaded from `file`, comparing
/// with the `logits_key` logits; returns the largest difference seen.
fn check(file: &str, logits_key: &str, tolerance: f32) -> f32 {
    let g = golden();
    let gguf = Gguf::open(golden_dir().join(file)).unwrap();
    let tokenizer = Tokenizer::from_gguf(&gguf).unwrap();
    // The engine never produces padding (its logit is -inf); JAX's is a number.
    let pad = gguf
        .metadata()
        .get_u32_opt("tokenizer.ggml.padding_token_id")
        .unwrap();
    let mut model = Mu::load(&GgufSource::new(gguf), 1).unwrap();
    assert_eq!(
        model.config.pad_token, pad,
        "the padding the comparison leaves out"
    );
    let mut worst = 0.0f32;
    for case in g["cases"].as_array().unwrap() {
        let query = case["query"].as_str().unwrap();
        let enc = ids(&case["enc_ids"]);
        // The embedded tokenizer.json tokenizes exactly as the trainer did.
        assert_eq!(
            tokenizer.encode(query, false, false).unwrap(),
            enc,
            "tokens of {query:?}"
        );
        let want = rows(&case[logits_key]);
        model.encode(&enc).unwrap();
        let what = format!("{file} {query:?}");
        let diff = compare_decoder(&mut model, &ids(&case["dec_ids"]), &want, tolerance, &what);
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn f32_engine_matches_the_f32_jax_model() {
    let g = golden();
    let tol = tolerance(&g, "f32_gguf_vs_logits_f32");
    let worst = check(g["gguf_f32"].as_str().unwrap(), "logits_f32", tol);
    eprintln!("f32: worst difference {worst} (tolerance {tol})");
}

#[test]
fn q8_0_engine_matches_the_jax_model_with_the_same_quantized_weights() {
    let g = golden();
    let tol = tolerance(&g, "q8_0_gguf_vs_logits_q8");
    let worst = check(g["gguf_q8_0"].as_str().unwrap(), "logits_q8", tol);
    eprintln!("q8_0: worst difference {worst} (tolerance {tol})");
}

#[test]
fn the_golden_cases_are_not_trivial() {
    let g = golden();
    assert_cases_not_trivial(&g, "logits_f32");
}
