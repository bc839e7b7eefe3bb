//! Reads the real test model (SmolLM2-135M-Instruct, Q4_1) named by
//! KNOB_TEST_MODEL. These tests fail, not skip, when the variable is unset:
//! CI must provide the model (see scripts/setup-dev.sh).

use knob::gguf::{GgmlType, Gguf};

use crate::support::test_model_path;

#[test]
fn smollm2_header_and_metadata() {
    let g = Gguf::open(test_model_path()).unwrap();
    let m = g.metadata();
    assert_eq!(g.architecture().unwrap(), "llama");
    assert_eq!(m.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(m.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(m.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(m.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(m.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(
        m.get_str_array("tokenizer.ggml.tokens").unwrap().len(),
        49152
    );
    // 30 layers x 9 tensors + token_embd + output_norm.
    assert_eq!(g.tensor_infos().len(), 272);
}

#[test]
fn smollm2_every_tensor_converts() {
    let g = Gguf::open(test_model_path()).unwrap();
    let mut q8_blocks = 0usize;
    for t in g.tensors() {
        assert!(t.ggml_type.is_supported(), "{} is {}", t.name, t.ggml_type);
        if t.dims.len() == 2 {
            let q = t.to_q8_0().unwrap();
            assert_eq!(q.len() * 32, t.n_elements(), "{}", t.name);
            q8_blocks += q.len();
        } else {
            let f = t.to_f32().unwrap();
            assert!(f.iter().all(|v| v.is_finite()), "{}", t.name);
        }
    }
    // About 134.5M parameters in matrices.
    assert!(q8_blocks * 32 > 130_000_000, "{q8_blocks}");
    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!(embd.dims, &[576, 49152]);
    assert!(matches!(
        embd.ggml_type,
        GgmlType::Q4_1 | GgmlType::Q8_0 | GgmlType::Q6K | GgmlType::F16
    ));
}
