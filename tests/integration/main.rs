//! The integration tests of the root crate, in one test binary (so the crate
//! is linked once, not once per file) with shared helpers in `support`.
//! One module per area; run one area with a filter on its module path, e.g.
//! `cargo test --release --locked --test integration settings::`.
mod support;

mod agent_cli;
mod agent_model;
mod chat_session;
mod cli_embed;
mod cli_global_flags;
mod cli_misc;
mod cli_model_info;
mod cli_output;
mod dec_golden;
mod gguf_fuzz_regressions;
mod json_schema;
mod model_vs_naive;
mod mu2_golden;
mod mu_golden;
mod real_model;
mod real_model_gguf;
mod real_model_tokenizer;
mod semantic_search;
mod settings;
mod tui_tmux;

/// Every integration test lives in this binary: a new file directly in
/// tests/ would be built as one more test binary that links the whole crate
/// again, and would not share `support`.
#[test]
fn integration_tests_are_one_binary() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut stray: Vec<String> = std::fs::read_dir(&tests)
        .expect("tests/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.display().to_string())
        .collect();
    stray.sort();
    assert!(
        stray.is_empty(),
        "move these into tests/integration/ as modules of main.rs: {stray:?}"
    );
}
