//! A chat model that tests write themselves (shared by the CLI output and
//! tmux tests): no download, any size.
use std::path::Path;

/// GPT-2's byte-to-character table, as byte-level BPE vocabularies spell bytes.
pub fn byte_chars() -> Vec<char> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut table = vec![' '; 256];
    for (b, c) in bs.iter().zip(&cs) {
        table[*b as usize] = char::from_u32(*c).unwrap();
    }
    table
}

/// The shape of a test chat model.
#[derive(Clone, Copy)]
pub struct Shape {
    pub dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub context: u32,
}

/// A llama-architecture chat model written by the test: random Q8_0 weights
/// and a byte-level vocabulary with ChatML's control tokens. The control
/// tokens' tied embedding rows are zero, so end-of-turn (logit 0) never beats
/// the best byte token: a reply never ends by itself and runs until it is
/// stopped or reaches --max-tokens.
pub fn write_chat_model(path: &Path, shape: Shape) {
    use knob::gguf::writer::GgufWriter;
    use knob::gguf::{Array, Value};
    let Shape {
        dim,
        hidden,
        layers,
        heads,
        context,
    } = shape;
    let mut tokens = vec![
        "<|endoftext|>".to_string(),
        "<|im_start|>".into(),
        "<|im_end|>".into(),
    ];
    tokens.extend(byte_chars().iter().map(|c| c.to_string()));
    let vocab = tokens.len();
    let mut types = vec![3i32; 3];
    types.extend(std::iter::repeat_n(1, 256));
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama")
        .set("general.name", "tiny test chat")
        .set("llama.embedding_length", dim as u32)
        .set("llama.feed_forward_length", hidden as u32)
        .set("llama.block_count", layers as u32)
        .set("llama.attention.head_count", heads as u32)
        .set("llama.attention.head_count_kv", heads as u32)
        .set("llama.context_length", context)
        .set("llama.attention.layer_norm_rms_epsilon", 1e-5f32)
        .set("llama.rope.freq_base", 10000.0f32)
        .set("tokenizer.ggml.model", "gpt2")
        .set("tokenizer.ggml.pre", "smollm")
        .set("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
        .set("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
        .set(
            "tokenizer.ggml.merges",
            Value::Array(Array::String(Vec::new())),
        )
        .set("tokenizer.ggml.bos_token_id", 1u32)
        .set("tokenizer.ggml.eos_token_id", 2u32)
        .set("tokenizer.ggml.add_bos_token", false);
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut random = |n: usize, scale: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    };
    let mut embd = random(vocab * dim, 1.0);
    embd[..3 * dim].iter_mut().for_each(|v| *v = 0.0);
    w.add_q8_0("token_embd.weight", &[dim as u64, vocab as u64], &embd)
        .unwrap();
    let ones = vec![1.0f32; dim];
    let (a, b) = (1.0 / (dim as f32).sqrt(), 1.0 / (hidden as f32).sqrt());
    for l in 0..layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        w.add_f32(&n("attn_norm"), &[dim as u64], &ones).unwrap();
        for t in ["attn_q", "attn_k", "attn_v", "attn_output"] {
            w.add_q8_0(&n(t), &[dim as u64, dim as u64], &random(dim * dim, a))
                .unwrap();
        }
        w.add_f32(&n("ffn_norm"), &[dim as u64], &ones).unwrap();
        for t in ["ffn_gate", "ffn_up"] {
            w.add_q8_0(
                &n(t),
                &[dim as u64, hidden as u64],
                &random(dim * hidden, a),
            )
            .unwrap();
        }
        w.add_q8_0(
            &n("ffn_down"),
            &[hidden as u64, dim as u64],
            &random(dim * hidden, b),
        )
        .unwrap();
    }
    w.add_f32("output_norm.weight", &[dim as u64], &ones)
        .unwrap();
    w.write_to(path).unwrap();
}
