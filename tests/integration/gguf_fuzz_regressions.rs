//! The GGUF reader against hostile input without a nightly toolchain:
//! replays every file kept in `fuzz/regressions/` and `fuzz/seeds/`, and runs a
//! deterministic in-process mutation fuzzer (bit flips, interesting integers
//! written over counts and lengths, truncations, splices) over a small valid
//! model. `knob::fuzz::fuzz_one` is the step the cargo-fuzz target runs;
//! a panic anywhere fails the test.
//!
//! `KNOB_FUZZ_SEED_OUT=fuzz/seeds/small.gguf cargo test --test integration gguf_fuzz_regressions::`
//! rewrites the committed seed file.

use knob::fuzz::{fuzz_one, fuzz_reader};
use knob::gguf::writer::GgufWriter;
use knob::gguf::{GgmlType, Gguf};

/// A small model with every supported tensor type and a byte-level tokenizer.
fn seed() -> Vec<u8> {
    let mut w = GgufWriter::new();
    let mut tokens: Vec<String> = vec![
        "<|endoftext|>".into(),
        "<|im_start|>".into(),
        "<|im_end|>".into(),
    ];
    for b in 0..256u32 {
        let c = match b {
            33..=126 | 161..=172 | 174..=255 => char::from_u32(b).unwrap(),
            _ => char::from_u32(
                256 + [0..=32, 127..=160, 173..=173]
                    .iter()
                    .flat_map(|r| r.clone())
                    .position(|x| x == b)
                    .unwrap() as u32,
            )
            .unwrap(),
        };
        tokens.push(c.to_string());
    }
    tokens.extend(["he", "ll", "llo", "hello"].map(String::from));
    let mut types = vec![3i32; 3];
    types.extend(std::iter::repeat_n(1, tokens.len() - 3));
    w.set("general.architecture", "llama")
        .set("general.alignment", 32u32)
        .set("llama.block_count", 1u32)
        .set("tokenizer.ggml.model", "gpt2")
        .set("tokenizer.ggml.pre", "smollm")
        .set("tokenizer.ggml.tokens", tokens)
        .set("tokenizer.ggml.token_type", types)
        .set(
            "tokenizer.ggml.merges",
            vec!["h e", "l l", "ll o", "he llo"],
        )
        .set("tokenizer.ggml.bos_token_id", 1u32)
        .set("tokenizer.ggml.eos_token_id", 2u32)
        .set(
            "tokenizer.chat_template",
            "{% for m in messages %}{{ m['role'] + ': ' + m['content'].strip() }}{% endfor %}",
        );
    let vals: Vec<f32> = (0..256).map(|i| (i as f32 - 128.0) / 17.0).collect();
    w.add_f32("norm", &[32], &vals[..32]).unwrap();
    w.add_f16("f16", &[32, 2], &vals[..64]).unwrap();
    w.add_q8_0("q8", &[64, 2], &vals[..128]).unwrap();
    w.add_raw(
        "bf16",
        &[32],
        GgmlType::Bf16,
        (0..64).map(|i| i as u8).collect(),
    )
    .unwrap();
    w.add_raw(
        "q4_0",
        &[64],
        GgmlType::Q4_0,
        (0..36).map(|i| (i * 7) as u8).collect(),
    )
    .unwrap();
    w.add_raw(
        "q4_k",
        &[256],
        GgmlType::Q4K,
        (0..144).map(|i| (i * 13) as u8).collect(),
    )
    .unwrap();
    w.add_raw(
        "q6_k",
        &[256],
        GgmlType::Q6K,
        (0..210).map(|i| (i * 3) as u8).collect(),
    )
    .unwrap();
    w.to_bytes()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 14] = [
    0,
    1,
    2,
    4,
    8,
    9,
    13,
    31,
    63,
    64,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
    1 << 62,
    u64::MAX,
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    let len = data.len();
    match rng.below(6) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = [0u8, 0xFF, 0x7F, 0x80, 0x20, 0x08][rng.below(6)];
        }
        2 | 3 if len >= 8 => {
            // Counts, lengths, dims and offsets live in the header: aim there most of the time.
            let span = if rng.below(4) == 0 {
                len - 8
            } else {
                (len - 8).min(2048)
            };
            let i = rng.below(span + 1);
            let v = INTERESTING[rng.below(INTERESTING.len())];
            if rng.below(2) == 0 {
                data[i..i + 4].copy_from_slice(&(v as u32).to_le_bytes());
            } else {
                data[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        4 => data.truncate(rng.below(len + 1)),
        _ if len > 0 => {
            let (a, b) = (rng.below(len), rng.below(len));
            let (start, end) = (a.min(b), a.max(b).min(a.min(b) + 64));
            let chunk = data[start..end].to_vec();
            let at = rng.below(len);
            if rng.below(2) == 0 {
                data.splice(at..at, chunk);
            } else {
                data.drain(start..end);
            }
        }
        _ => {}
    }
}

#[test]
fn seed_parses_and_exercises_everything() {
    let bytes = seed();
    if let Ok(path) = std::env::var("KNOB_FUZZ_SEED_OUT") {
        std::fs::write(path, &bytes).unwrap();
    }
    assert!(fuzz_one(&bytes));
    let g = Gguf::from_bytes(&bytes).unwrap();
    assert_eq!(g.tensor_infos().len(), 7);
    let tok = knob::tokenizer::Tokenizer::from_gguf(&g).unwrap();
    assert_eq!(tok.encode("hello", false, false).unwrap(), vec![262]);
}

#[test]
fn in_process_mutation_fuzzing() {
    let seed = seed();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut rejected) = (0, 0);
    for i in 0..20_000 {
        let mut data = seed.clone();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut data);
        }
        // Building tokenizers is slow in debug builds: the consumers get every 64th input.
        let ok = if i % 64 == 0 {
            fuzz_one(&data)
        } else {
            fuzz_reader(&data).is_some()
        };
        if ok {
            parsed += 1;
        } else {
            rejected += 1;
        }
    }
    // Both outcomes must be well represented, or the mutations are too weak or too strong.
    assert!(
        parsed > 200 && rejected > 200,
        "parsed {parsed}, rejected {rejected}"
    );
}

#[test]
fn kept_inputs_do_not_crash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["regressions", "seeds"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            fuzz_one(&data);
            n += 1;
        }
    }
    assert!(n >= 1, "fuzz/seeds holds at least the seed model");
}

/// The seed embedded the way knob embeds its own model: `include_bytes!`
/// only guarantees alignment 1, and the reader must cope either way.
static EMBEDDED: &[u8] = include_bytes!("../../fuzz/seeds/small.gguf");

#[test]
fn embedded_bytes_read_in_place_or_copied() {
    let g = Gguf::from_static(EMBEDDED).unwrap();
    assert_eq!(g.tensor_infos().len(), 7);
    assert_eq!(g.tensor_f32("norm").unwrap()[0], -128.0 / 17.0);
    assert_eq!(g.tensor_q8_0("q8").unwrap().len(), 4);
    let in_place = (EMBEDDED.as_ptr() as usize).is_multiple_of(8);
    assert_eq!(g.bytes().as_ptr() == EMBEDDED.as_ptr(), in_place);
}

#[test]
fn readers_can_move_to_worker_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Gguf>();
    send_sync::<knob::tokenizer::Tokenizer>();
    send_sync::<knob::chat_template::ChatTemplate>();
}
