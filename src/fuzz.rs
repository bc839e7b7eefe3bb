//! One fuzzing step, shared by the cargo-fuzz targets (`fuzz/`) and the
//! in-process mutation test (`tests/integration/gguf_fuzz_regressions.rs`). It sits above
//! every layer it drives (the GGUF reader, the tokenizer, the chat template,
//! `knob model info`), so that none of them depends on the fuzzer.

use crate::gguf::Gguf;

/// Parses `data` and, when it parses, runs everything that consumes a parsed
/// file. Returns whether it parsed. Must never panic.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) -> bool {
    let Some(gguf) = fuzz_reader(data) else {
        return false;
    };
    let _ = crate::commands::model::info_json(&gguf, false);
    if let Ok(tok) = crate::tokenizer::Tokenizer::from_gguf(&gguf) {
        if let Ok(ids) = tok.encode("Hello, wörld! 123 <|im_start|>", true, true) {
            let _ = tok.decode(&ids, true);
        }
        if let Ok(tmpl) = crate::chat_template::ChatTemplate::for_model(gguf.metadata(), &tok) {
            let _ = tmpl.render(&[crate::chat_template::Message::new("user", "hi")], true);
        }
    }
    true
}

/// The reader alone: parse, convert every tensor, render every value.
#[doc(hidden)]
pub fn fuzz_reader(data: &[u8]) -> Option<Gguf> {
    let gguf = Gguf::from_bytes(data).ok()?;
    for t in gguf.tensors() {
        if let Ok(values) = t.to_f32() {
            assert_eq!(values.len(), t.n_elements());
        }
        if let Ok(blocks) = t.to_q8_0() {
            assert_eq!(blocks.len() * 32, t.n_elements());
        }
    }
    for (_, value) in gguf.metadata().iter() {
        let _ = value.summary(8, 120);
    }
    Some(gguf)
}
