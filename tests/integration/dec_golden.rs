//! The golden test of the decoder-only settings model (issue 19) in knob's
//! `llama` engine against the JAX model it was trained as
//! (train/knobtrain/model_dec.py). `train/run-arch.sh --smoke` writes a tiny
//! trained model as all-F32 and Q8_0 GGUFs and `golden-dec.json` with the JAX
//! logits from the separator on, for a few fixed `query <s> program` cases.
//!
//! Both engine paths are checked: the chat engine's (prefill, then one token
//! at a time) and the beam search's (prefill once, then several hypotheses
//! over the shared prompt KV, `LlamaBeamCache`).
//!
//! The committed copy lives in tests/fixtures/dec-golden; train/test.sh
//! re-runs the smoke pipeline and points KNOB_DEC_GOLDEN_DIR at the fresh output.
use std::path::PathBuf;

use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::llama::{Llama, LlamaBeamCache, SessionOptions};
use knob::model::LanguageModel;
use knob::tokenizer::Tokenizer;
use serde_json::Value;

use crate::support::golden::{self as golden, assert_cases_not_trivial, ids, rows, tolerance};
use crate::support::*;

fn golden_dir() -> PathBuf {
    golden::dir("KNOB_DEC_GOLDEN_DIR", "tests/fixtures/dec-golden")
}

fn golden() -> Value {
    golden::load(&golden_dir(), "golden-dec.json")
}

fn load(file: &str) -> (Llama, Tokenizer) {
    let gguf = Gguf::open(golden_dir().join(file)).unwrap();
    let tokenizer = Tokenizer::from_gguf(&gguf).unwrap();
    let opts = SessionOptions {
        threads: 1,
        context: None,
        max_batch: 256,
        // f32, as the settings model's decoder-only shape runs it.
        kv: knob::model::kv_cache::KvType::F32,
    };
    (
        Llama::load(&GgufSource::new(gguf), opts).unwrap(),
        tokenizer,
    )
}

fn max_diff(got: &[f32], want: &[f32], what: &str) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: vocabulary");
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Runs every case through both engine paths of `file`, comparing with the
/// `logits_key` rows; returns the largest difference seen.
fn check(file: &str, logits_key: &str, tolerance: f32) -> f32 {
    let g = golden();
    let (mut model, tokenizer) = load(file);
    let mut cache = LlamaBeamCache::new(&model, 2, 32);
    let mut worst = 0.0f32;
    for case in g["cases"].as_array().unwrap() {
        let query = case["query"].as_str().unwrap();
        let seq = ids(&case["ids"]);
        let nq = case["n_query"].as_u64().unwrap() as usize;
        // The embedded tokenizer.json tokenizes exactly as the trainer did.
        assert_eq!(
            tokenizer.encode(query, false, false).unwrap(),
            seq[..nq],
            "tokens of {query:?}"
        );
        let want = rows(&case[logits_key]);
        assert_eq!(want.len(), seq.len() - nq, "one row from the separator on");
        let mut assert_close = |got: &[f32], want: &[f32], what: String| {
            let d = max_diff(got, want, &what);
            assert!(d <= tolerance, "{what}: max |logit diff| {d} > {tolerance}");
            worst = worst.max(d);
        };

        // The chat engine's path: the prompt in one batch, then token by token.
        model.reset();
        let got = model.prefill(&seq[..=nq]).unwrap().to_vec();
        assert_close(&got, &want[0], format!("{file} {query:?} prefill"));
        for (i, &t) in seq[nq + 1..].iter().enumerate() {
            let got = model.decode(t).unwrap().to_vec();
            assert_close(&got, &want[i + 1], format!("{file} {query:?} decode {i}"));
        }

        // The beam path: two hypotheses fed the same tokens must both match.
        model.reset();
        model.prefill(&seq[..=nq]).unwrap();
        cache.start_after_prefill(&model);
        assert_close(
            cache.logits(1),
            &want[0],
            format!("{file} {query:?} beams start"),
        );
        cache.reorder(&model, &[0, 0]);
        for (i, &t) in seq[nq + 1..].iter().enumerate() {
            let vocab = want[0].len();
            let got = model.decode_beams(&mut cache, &[t, t]).unwrap().to_vec();
            for b in 0..2 {
                assert_close(
                    &got[b * vocab..(b + 1) * vocab],
                    &want[i + 1],
                    format!("{file} {query:?} beam {b} step {i}"),
                );
            }
            // Reordering keeps the hypotheses' own K/V with them.
            cache.reorder(&model, &[1, 0]);
        }
    }
    worst
}

#[test]
fn f32_engine_matches_the_f32_jax_decoder_only_model() {
    let g = golden();
    let tol = tolerance(&g, "f32_gguf_vs_logits_f32");
    let worst = check(g["gguf_f32"].as_str().unwrap(), "logits_f32", tol);
    eprintln!("f32: worst difference {worst} (tolerance {tol})");
}

#[test]
fn q8_0_engine_matches_the_jax_decoder_only_model_with_the_same_quantized_weights() {
    let g = golden();
    let tol = tolerance(&g, "q8_0_gguf_vs_logits_q8");
    let worst = check(g["gguf_q8_0"].as_str().unwrap(), "logits_q8", tol);
    eprintln!("q8_0: worst difference {worst} (tolerance {tol})");
}

#[test]
fn the_decoder_only_golden_cases_are_not_trivial() {
    let g = golden();
    assert_cases_not_trivial(&g, "logits_f32");
}

#[test]
fn knob_eval_scores_a_decoder_only_settings_model() {
    // The decoder-only file runs through the same agent as mu: tokenizer,
    // grammar-constrained beam search, validation.
    let sb = Sandbox::new();
    let file = sb.path("cases.jsonl");
    std::fs::write(
        &file,
        "{\"query\": \"turn on dark mode\", \"expect\": [\"set appearance.dark_mode true\"]}\n\
         {\"query\": \"make the text bigger\", \"expect\": [\"inc text.size\"]}\n",
    )
    .unwrap();
    let model = golden_dir().join("dec.gguf");
    let out = sb.knob(&[
        "eval",
        "--json",
        "--settings-model",
        &model.display().to_string(),
        &file.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"], 2);
    // Whatever the tiny model answers, the constrained search finds a
    // program of the grammar for every request.
    for f in report["failures"].as_array().unwrap() {
        assert_ne!(f["got"], "(no valid program)", "{f}");
    }
}
