//! The golden test of settings model v2 (a BERT encoder under the mu
//! decoder): knob's engine against the JAX model it was trained as
//! (train/knobtrain/golden_v2.py, docs/mu-gguf.md "Version 2").
//!
//! By default it checks the shipped model, `assets/knob-mu2.gguf`, against
//! tests/fixtures/mu2-golden/golden.json, written from the full run's
//! checkpoint. CI's smoke run (train/test.sh) points KNOB_MU2_GOLDEN_DIR at a
//! fresh tiny model with an all-F32 twin, so both the f32 path (tight
//! tolerance) and the Q8_0 path are checked against a model trained minutes
//! before.
use std::path::PathBuf;

use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::mu::{EncoderKind, Mu};
use knob::tokenizer::Tokenizer;
use serde_json::Value;

use crate::support::golden::{
    self as golden, assert_cases_not_trivial, compare_decoder, ids, rows, tolerance,
};

fn golden_dir() -> PathBuf {
    golden::dir("KNOB_MU2_GOLDEN_DIR", "tests/fixtures/mu2-golden")
}

fn golden() -> Value {
    golden::load(&golden_dir(), "golden-v2.json")
}

/// Runs every golden case through the engine loaded from `file` (relative to
/// the golden directory), comparing with the `logits_key` logits; returns the
/// largest difference seen.
fn check(file: &str, logits_key: &str, tolerance: f32) -> f32 {
    let g = golden();
    let gguf = Gguf::open(golden_dir().join(file)).unwrap();
    // The request's tokenizer: MiniLM's tokenizer.json, [CLS] and [SEP] added.
    let tokenizer = Tokenizer::from_gguf(&gguf).unwrap();
    let mut model = Mu::load(&GgufSource::new(gguf), 1).unwrap();
    assert_eq!(model.config.encoder, EncoderKind::Bert);
    assert_eq!(model.config.start_token as u64, g["bos"].as_u64().unwrap());
    assert_eq!(model.config.end_token.map(u64::from), g["eos"].as_u64());
    assert!(
        model.config.pad_token.is_some(),
        "mu.decoder.padding_token_id"
    );
    let mut worst = 0.0f32;
    for case in g["cases"].as_array().unwrap() {
        let query = case["query"].as_str().unwrap();
        let enc = ids(&case["enc_ids"]);
        assert_eq!(
            tokenizer.encode(query, true, false).unwrap(),
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
    // Only the smoke run writes an all-F32 twin; the shipped model is Q8_0.
    let Some(file) = g["gguf_f32"].as_str() else {
        assert!(
            std::env::var_os("KNOB_MU2_GOLDEN_DIR").is_none(),
            "a smoke golden file must name its F32 model"
        );
        return;
    };
    let tol = tolerance(&g, "f32_gguf_vs_logits_f32");
    let worst = check(file, "logits_f32", tol);
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
    assert_eq!(g["encoder_kind"], "bert");
    assert_cases_not_trivial(&g, "logits_q8");
}
