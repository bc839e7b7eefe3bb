//! The reader alone (parse, convert every tensor, render every value), fast
//! enough for thousands of inputs per second; `gguf_reader` adds the
//! tokenizer and chat template.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = knob::fuzz::fuzz_reader(data);
});
