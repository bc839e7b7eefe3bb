//! Feeds arbitrary bytes to the GGUF reader and, when they parse, to
//! everything that consumes a parsed file: tensor conversion, metadata
//! rendering and the tokenizer builder. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    knob::fuzz::fuzz_one(data);
});
