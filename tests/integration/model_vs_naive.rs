//! Engine logits against a naive f32/f64 implementation of the same model,
//! written here independently with plain loops: tiny random `llama` and `mu`
//! models, the prefill and ten decode steps, and the KV-cache path against
//! recomputing from scratch.
//!
//! Tolerances:
//! - F32 weights: the engine and the naive model do the same math in a
//!   different order, so logits agree to `F32_TOL` (absolute, logits are O(1)).
//! - Q8_0 weights: the naive model uses the same weights dequantized, but keeps
//!   activations in f32 while the engine quantizes them to 8 bits before each
//!   matmul (about 0.4% relative error per product), so logits agree to
//!   `Q8_TOL` times the largest logit magnitude.
use std::collections::HashMap;
use std::sync::Arc;

use knob::model::kv_cache::KvType;
use knob::model::llama::{Llama, SessionOptions};
use knob::model::mu::Mu;
use knob::model::{LanguageModel, ModelError, ModelSource, QBlocks, TensorData};
use knob_kernels::{dequantize_row_q8_0, quantize_row_q8_0, BlockQ8_0};

const F32_TOL: f32 = 2e-4;
const Q8_TOL: f32 = 0.03;

// ---------------------------------------------------------------------------
// An in-memory model file.

/// (ne, f32 values as the naive model sees them, Q8_0 blocks if quantized)
type MemTensor = (Vec<usize>, Vec<f32>, Option<Arc<Vec<BlockQ8_0>>>);

#[derive(Default)]
struct MemModel {
    meta_u32: HashMap<String, u32>,
    meta_f32: HashMap<String, f32>,
    meta_str: HashMap<String, String>,
    tensors: HashMap<String, MemTensor>,
}

impl ModelSource for MemModel {
    fn meta_str(&self, key: &str) -> Option<String> {
        self.meta_str.get(key).cloned()
    }
    fn meta_u32(&self, key: &str) -> Option<u32> {
        self.meta_u32.get(key).copied()
    }
    fn meta_f32(&self, key: &str) -> Option<f32> {
        self.meta_f32.get(key).copied()
    }
    fn tensor_dims(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|t| t.0.clone())
    }
    fn tensor(&self, name: &str) -> Result<TensorData, ModelError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
        Ok(match &t.2 {
            Some(b) => TensorData::Q8(b.clone() as Arc<dyn QBlocks>),
            None => TensorData::F32(t.1.clone()),
        })
    }
}

/// xorshift; values uniform in [-a, a].
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, a: f32) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
    }
}

impl MemModel {
    fn u32(&mut self, k: &str, v: u32) {
        self.meta_u32.insert(k.into(), v);
    }
    fn f32(&mut self, k: &str, v: f32) {
        self.meta_f32.insert(k.into(), v);
    }
    /// A 1-D tensor near `center`.
    fn vector(&mut self, rng: &mut Lcg, name: &str, n: usize, center: f32) {
        let v = (0..n).map(|_| center + rng.next(0.2)).collect();
        self.tensors.insert(name.into(), (vec![n], v, None));
    }
    /// A linear map with n outputs and k inputs, Q8_0 or f32.
    fn matrix(&mut self, rng: &mut Lcg, name: &str, n: usize, k: usize, q8: bool) {
        let a = 1.0 / (k as f32).sqrt() * 1.7;
        let mut v: Vec<f32> = (0..n * k).map(|_| rng.next(a)).collect();
        let blocks = if q8 {
            let mut b = vec![
                BlockQ8_0 {
                    d: [0; 2],
                    qs: [0; 32]
                };
                n * k / 32
            ];
            quantize_row_q8_0(&v, &mut b);
            dequantize_row_q8_0(&b, &mut v);
            Some(Arc::new(b))
        } else {
            None
        };
        self.tensors.insert(name.into(), (vec![k, n], v, blocks));
    }
    fn get(&self, name: &str) -> &[f32] {
        &self.tensors[name].1
    }
}

// ---------------------------------------------------------------------------
// Naive math, f64 accumulation.

/// y = W x with W stored row-major [n, k].
fn matvec(w: &[f32], x: &[f64]) -> Vec<f64> {
    let k = x.len();
    w.chunks(k)
        .map(|row| row.iter().zip(x).map(|(&a, &b)| a as f64 * b).sum())
        .collect()
}

fn rmsnorm(x: &[f64], w: &[f32], eps: f64) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    x.iter()
        .zip(w)
        .map(|(v, &g)| v / (ms + eps).sqrt() * g as f64)
        .collect()
}

fn layernorm(x: &[f64], w: &[f32], b: &[f32], eps: f64) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    x.iter()
        .zip(w)
        .zip(b)
        .map(|((v, &g), &bb)| (v - mean) / (var + eps).sqrt() * g as f64 + bb as f64)
        .collect()
}

/// Rotates one head at `pos`; `neox` pairs i with i+d/2, else 2i with 2i+1.
fn rope_head(h: &mut [f64], pos: usize, base: f64, neox: bool) {
    let d = h.len();
    for i in 0..d / 2 {
        let theta = pos as f64 * base.powf(-2.0 * i as f64 / d as f64);
        let (a, b) = if neox {
            (i, i + d / 2)
        } else {
            (2 * i, 2 * i + 1)
        };
        let (x0, x1) = (h[a], h[b]);
        h[a] = x0 * theta.cos() - x1 * theta.sin();
        h[b] = x0 * theta.sin() + x1 * theta.cos();
    }
}

/// Attention of queries `q[t]` over keys/values `k[s]`, `v[s]` for `s` in
/// `visible(t)`; heads of width `hd`, `nh` query heads over `nkv` KV heads.
fn naive_attention(
    q: &[Vec<f64>],
    k: &[Vec<f64>],
    v: &[Vec<f64>],
    nh: usize,
    nkv: usize,
    hd: usize,
    causal: bool,
) -> Vec<Vec<f64>> {
    q.iter()
        .enumerate()
        .map(|(t, qt)| {
            let mut out = vec![0.0; nh * hd];
            let n_keys = if causal { t + 1 } else { k.len() };
            for h in 0..nh {
                let kvh = h / (nh / nkv);
                let qh = &qt[h * hd..(h + 1) * hd];
                let scores: Vec<f64> = (0..n_keys)
                    .map(|s| {
                        qh.iter()
                            .zip(&k[s][kvh * hd..(kvh + 1) * hd])
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                let z: f64 = e.iter().sum();
                for s in 0..n_keys {
                    for i in 0..hd {
                        out[h * hd + i] += e[s] / z * v[s][kvh * hd + i];
                    }
                }
            }
            out
        })
        .collect()
}

fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

fn max_abs_diff(a: &[f32], b: &[f64]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            if x as f64 == y {
                0.0
            } else {
                (x as f64 - y).abs() as f32
            }
        })
        .fold(0.0, f32::max)
}

fn tolerance(q8: bool, reference: &[f64]) -> f32 {
    if q8 {
        Q8_TOL
            * reference
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(v.abs())) as f32
    } else {
        F32_TOL
    }
}

// ---------------------------------------------------------------------------
// llama

struct LlamaDims {
    dim: usize,
    hidden: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    vocab: usize,
    ctx: usize,
}

const LD: LlamaDims = LlamaDims {
    dim: 64,
    hidden: 96,
    layers: 2,
    heads: 4,
    kv_heads: 2,
    vocab: 96,
    ctx: 256,
};
const EPS: f32 = 1e-5;
const BASE: f32 = 10000.0;

/// Heads of 64 values, as most models have: prefill attention takes the
/// 64-value score kernels for them.
const LD64: LlamaDims = LlamaDims {
    dim: 128,
    hidden: 96,
    layers: 2,
    heads: 2,
    kv_heads: 1,
    vocab: 96,
    ctx: 256,
};

fn llama_model(q8: bool, tied: bool, seed: u64) -> MemModel {
    llama_model_dims(&LD, q8, tied, seed)
}

fn llama_model_dims(d: &LlamaDims, q8: bool, tied: bool, seed: u64) -> MemModel {
    let mut m = MemModel::default();
    let mut rng = Lcg(seed);
    let hd = d.dim / d.heads;
    m.meta_str
        .insert("general.architecture".into(), "llama".into());
    m.u32("llama.embedding_length", d.dim as u32);
    m.u32("llama.feed_forward_length", d.hidden as u32);
    m.u32("llama.block_count", d.layers as u32);
    m.u32("llama.attention.head_count", d.heads as u32);
    m.u32("llama.attention.head_count_kv", d.kv_heads as u32);
    m.u32("llama.context_length", d.ctx as u32);
    m.f32("llama.attention.layer_norm_rms_epsilon", EPS);
    m.f32("llama.rope.freq_base", BASE);
    m.matrix(&mut rng, "token_embd.weight", d.vocab, d.dim, q8);
    for l in 0..d.layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        m.vector(&mut rng, &n("attn_norm"), d.dim, 1.0);
        m.matrix(&mut rng, &n("attn_q"), d.heads * hd, d.dim, q8);
        m.matrix(&mut rng, &n("attn_k"), d.kv_heads * hd, d.dim, q8);
        m.matrix(&mut rng, &n("attn_v"), d.kv_heads * hd, d.dim, q8);
        m.matrix(&mut rng, &n("attn_output"), d.dim, d.heads * hd, q8);
        m.vector(&mut rng, &n("ffn_norm"), d.dim, 1.0);
        m.matrix(&mut rng, &n("ffn_gate"), d.hidden, d.dim, q8);
        m.matrix(&mut rng, &n("ffn_up"), d.hidden, d.dim, q8);
        m.matrix(&mut rng, &n("ffn_down"), d.dim, d.hidden, q8);
    }
    m.vector(&mut rng, "output_norm.weight", d.dim, 1.0);
    if !tied {
        m.matrix(&mut rng, "output.weight", d.vocab, d.dim, q8);
    }
    m
}

/// Logits after each token of `tokens`, recomputed from scratch (no cache);
/// with `kv_f16`, keys (after RoPE) and values are rounded to f16 as an f16
/// KV cache stores them.
fn naive_llama(m: &MemModel, tokens: &[u32], kv_f16: bool) -> Vec<Vec<f64>> {
    naive_llama_dims(&LD, m, tokens, kv_f16)
}

fn naive_llama_dims(d: &LlamaDims, m: &MemModel, tokens: &[u32], kv_f16: bool) -> Vec<Vec<f64>> {
    let hd = d.dim / d.heads;
    let emb = m.get("token_embd.weight");
    let mut x: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&t| {
            emb[t as usize * d.dim..(t as usize + 1) * d.dim]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    for l in 0..d.layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        let xn: Vec<Vec<f64>> = x
            .iter()
            .map(|r| rmsnorm(r, m.get(&n("attn_norm")), EPS as f64))
            .collect();
        let mut q: Vec<Vec<f64>> = xn.iter().map(|r| matvec(m.get(&n("attn_q")), r)).collect();
        let mut k: Vec<Vec<f64>> = xn.iter().map(|r| matvec(m.get(&n("attn_k")), r)).collect();
        let mut v: Vec<Vec<f64>> = xn.iter().map(|r| matvec(m.get(&n("attn_v")), r)).collect();
        for (pos, (qr, kr)) in q.iter_mut().zip(k.iter_mut()).enumerate() {
            qr.chunks_mut(hd)
                .for_each(|h| rope_head(h, pos, BASE as f64, false));
            kr.chunks_mut(hd)
                .for_each(|h| rope_head(h, pos, BASE as f64, false));
        }
        if kv_f16 {
            let half = |x: &mut f64| {
                *x = knob_kernels::f16_to_f32(knob_kernels::f32_to_f16(*x as f32)) as f64
            };
            k.iter_mut().chain(v.iter_mut()).flatten().for_each(half);
        }
        let att = naive_attention(&q, &k, &v, d.heads, d.kv_heads, hd, true);
        for (xr, ar) in x.iter_mut().zip(&att) {
            for (a, b) in xr.iter_mut().zip(matvec(m.get(&n("attn_output")), ar)) {
                *a += b;
            }
        }
        for xr in x.iter_mut() {
            let xn = rmsnorm(xr, m.get(&n("ffn_norm")), EPS as f64);
            let g = matvec(m.get(&n("ffn_gate")), &xn);
            let u = matvec(m.get(&n("ffn_up")), &xn);
            let h: Vec<f64> = g.iter().zip(&u).map(|(g, u)| silu(*g) * u).collect();
            for (a, b) in xr.iter_mut().zip(matvec(m.get(&n("ffn_down")), &h)) {
                *a += b;
            }
        }
    }
    let out = if m.tensors.contains_key("output.weight") {
        "output.weight"
    } else {
        "token_embd.weight"
    };
    x.iter()
        .map(|r| {
            matvec(
                m.get(out),
                &rmsnorm(r, m.get("output_norm.weight"), EPS as f64),
            )
        })
        .collect()
}

fn check_llama(q8: bool, tied: bool, threads: usize) {
    check_llama_kv(q8, tied, threads, KvType::F32)
}

fn check_llama_kv(q8: bool, tied: bool, threads: usize, kv: KvType) {
    let m = llama_model(q8, tied, 0x1234_5678 + q8 as u64 + 2 * tied as u64);
    // 7 prompt tokens in batches of 3 (exercises chunked prefill), then 10 decode steps.
    let prompt = [5u32, 17, 3, 90, 42, 42, 0];
    let generated = [7u32, 11, 64, 2, 95, 30, 30, 1, 8, 77];
    let all: Vec<u32> = prompt.iter().chain(&generated).copied().collect();
    let reference = naive_llama(&m, &all, kv == KvType::F16);
    let mut model = Llama::load(
        &m,
        SessionOptions {
            threads,
            context: None,
            max_batch: 3,
            kv,
        },
    )
    .unwrap();

    let logits = model.prefill(&prompt).unwrap().to_vec();
    let r = &reference[prompt.len() - 1];
    let err = max_abs_diff(&logits, r);
    assert!(
        err <= tolerance(q8, r),
        "prefill: max |diff| {err} > {}",
        tolerance(q8, r)
    );
    for (i, &t) in generated.iter().enumerate() {
        let logits = model.decode(t).unwrap().to_vec();
        let r = &reference[prompt.len() + i];
        let err = max_abs_diff(&logits, r);
        assert!(
            err <= tolerance(q8, r),
            "decode step {i}: max |diff| {err} > {}",
            tolerance(q8, r)
        );
    }

    // KV-cache path against recomputing from scratch with the engine itself:
    // one prefill of the whole sequence must give the same last logits as the
    // prefill + decode steps above (same quantization, so a tight bound).
    let cached = model.decode(9).unwrap().to_vec();
    model.reset();
    let mut all9 = all.clone();
    all9.push(9);
    let fresh = model.prefill(&all9).unwrap().to_vec();
    let err = cached
        .iter()
        .zip(&fresh)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err <= 1e-3, "cache vs recompute: {err}");
}

/// A prompt long enough for prefill's multi-threaded paths (norms,
/// quantization and element-wise steps split by rows, attention split into
/// head and row ranges of equal causal work, keys widened to f32): the last
/// logits match plain f64 math, and every thread count gives the one-thread
/// logits bit for bit (the splits change who computes a value, not how).
#[test]
fn llama_long_prefill_on_several_threads_matches_naive_and_one_thread() {
    for (d, q8, kv) in [
        (&LD, true, KvType::F16),
        (&LD, false, KvType::F32),
        (&LD64, true, KvType::F16),
        (&LD64, false, KvType::F32),
    ] {
        let m = llama_model_dims(d, q8, false, 0x51ce_7e11 + q8 as u64);
        let prompt: Vec<u32> = (0..200u32).map(|i| (i * 37 + i / 7) % 96).collect();
        let reference = naive_llama_dims(d, &m, &prompt, kv == KvType::F16);
        let r = &reference[prompt.len() - 1];
        let mut one_thread = None;
        for threads in [1, 2, 3] {
            let mut model = Llama::load(
                &m,
                SessionOptions {
                    threads,
                    context: None,
                    max_batch: 160, // a second chunk of 40 rows after 160 cached
                    kv,
                },
            )
            .unwrap();
            let logits = model.prefill(&prompt).unwrap().to_vec();
            let err = max_abs_diff(&logits, r);
            assert!(
                err <= tolerance(q8, r),
                "width {} q8 {q8} threads {threads}: max |diff| {err} > {}",
                d.dim,
                tolerance(q8, r)
            );
            match &one_thread {
                None => one_thread = Some(logits),
                Some(want) => assert!(
                    want.iter()
                        .zip(&logits)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "width {} q8 {q8}: {threads} threads differ from one",
                    d.dim
                ),
            }
        }
    }
}

#[test]
fn llama_f32_weights_match_naive() {
    check_llama(false, false, 1);
}

#[test]
fn llama_q8_weights_match_naive_tied_output() {
    check_llama(true, true, 1);
}

#[test]
fn llama_q8_weights_match_naive_two_threads() {
    check_llama(true, false, 2);
}

#[test]
fn llama_f16_kv_cache_matches_naive_with_keys_and_values_in_f16() {
    // f32 weights: the tolerance is tight enough that an f32 cache (keys and
    // values not rounded) would not pass against this reference.
    check_llama_kv(false, false, 1, KvType::F16);
    check_llama_kv(true, true, 2, KvType::F16);
}

#[test]
fn llama_kv_cache_is_f16_by_default_and_half_the_bytes_of_f32() {
    let m = llama_model(true, true, 3);
    let opts = |kv| SessionOptions {
        threads: 1,
        context: Some(16),
        max_batch: 4,
        kv,
    };
    assert_eq!(SessionOptions::default().kv, KvType::F16);
    let f16 = Llama::load(&m, opts(KvType::F16))
        .unwrap()
        .memory()
        .kv_cache;
    let f32 = Llama::load(&m, opts(KvType::F32))
        .unwrap()
        .memory()
        .kv_cache;
    assert_eq!(2 * f16, f32);
    assert_eq!(
        f32,
        4 * 2 * LD.layers * 16 * LD.kv_heads * (LD.dim / LD.heads)
    );
}

#[test]
fn llama_rejects_a_prompt_longer_than_the_context() {
    let m = llama_model(true, true, 1);
    let mut model = Llama::load(
        &m,
        SessionOptions {
            threads: 1,
            context: Some(8),
            max_batch: 4,
            kv: KvType::F32,
        },
    )
    .unwrap();
    let err = model.prefill(&[1; 9]).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextFull {
                needed: 9,
                limit: 8
            }
        ),
        "{err}"
    );
    model.prefill(&[1; 8]).unwrap();
    assert!(matches!(
        model.decode(1).unwrap_err(),
        ModelError::ContextFull {
            needed: 9,
            limit: 8
        }
    ));
    assert!(matches!(
        model.decode(96).unwrap_err(),
        ModelError::BadToken { token: 96, .. } | ModelError::ContextFull { .. }
    ));
}

#[test]
fn llama_rejects_bad_shapes_and_missing_tensors() {
    let mut m = llama_model(false, true, 3);
    m.tensors.remove("blk.1.ffn_up.weight");
    let err = Llama::load(&m, SessionOptions::default()).err().unwrap();
    assert_eq!(err.to_string(), "missing tensor blk.1.ffn_up.weight");
    let mut m = llama_model(false, true, 3);
    m.tensors.get_mut("blk.0.attn_k.weight").unwrap().0 = vec![64, 16];
    let err = Llama::load(&m, SessionOptions::default()).err().unwrap();
    assert!(
        err.to_string()
            .contains("blk.0.attn_k.weight has shape [64, 16], expected [64, 32]"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// mu

struct MuDims {
    dim: usize,
    hidden: usize,
    enc: usize,
    dec: usize,
    heads: usize,
    kv_heads: usize,
    vocab: usize,
}

const MD: MuDims = MuDims {
    dim: 64,
    hidden: 96,
    enc: 2,
    dec: 1,
    heads: 4,
    kv_heads: 2,
    vocab: 80,
};
const MU_EPS: f32 = 1e-5;
const MU_BASE: f32 = 10000.0;
const START: u32 = 2;
/// never produced: the engine sets its logit to -inf
const PAD: u32 = 0;

fn mu_model(q8: bool, seed: u64) -> MemModel {
    let mut m = MemModel::default();
    let mut rng = Lcg(seed);
    let d = &MD;
    let hd = d.dim / d.heads;
    m.meta_str
        .insert("general.architecture".into(), "mu".into());
    m.u32("mu.context_length", 32);
    m.u32("mu.decoder.context_length", 24);
    m.u32("mu.embedding_length", d.dim as u32);
    m.u32("mu.feed_forward_length", d.hidden as u32);
    m.u32("mu.encoder.block_count", d.enc as u32);
    m.u32("mu.decoder.block_count", d.dec as u32);
    m.u32("mu.attention.head_count", d.heads as u32);
    m.u32("mu.attention.head_count_kv", d.kv_heads as u32);
    m.f32("mu.attention.layer_norm_epsilon", MU_EPS);
    m.f32("mu.rope.freq_base", MU_BASE);
    m.u32("mu.decoder_start_token_id", START);
    m.u32("tokenizer.ggml.padding_token_id", PAD);
    m.matrix(&mut rng, "token_embd.weight", d.vocab, d.dim, q8);
    let norm = |m: &mut MemModel, rng: &mut Lcg, name: &str| {
        m.vector(rng, &format!("{name}.weight"), d.dim, 1.0);
        m.vector(rng, &format!("{name}.bias"), d.dim, 0.0);
    };
    for (stack, layers) in [("enc", d.enc), ("dec", d.dec)] {
        for l in 0..layers {
            let p = format!("{stack}.blk.{l}");
            let kinds: &[&str] = if stack == "enc" {
                &["attn"]
            } else {
                &["attn", "cross"]
            };
            for kind in kinds {
                let pre = if *kind == "attn" {
                    "attn_norm"
                } else {
                    "cross_norm"
                };
                norm(&mut m, &mut rng, &format!("{p}.{pre}"));
                m.matrix(
                    &mut rng,
                    &format!("{p}.{kind}_q.weight"),
                    d.heads * hd,
                    d.dim,
                    q8,
                );
                m.matrix(
                    &mut rng,
                    &format!("{p}.{kind}_k.weight"),
                    d.kv_heads * hd,
                    d.dim,
                    q8,
                );
                m.matrix(
                    &mut rng,
                    &format!("{p}.{kind}_v.weight"),
                    d.kv_heads * hd,
                    d.dim,
                    q8,
                );
                m.matrix(
                    &mut rng,
                    &format!("{p}.{kind}_output.weight"),
                    d.dim,
                    d.heads * hd,
                    q8,
                );
                norm(&mut m, &mut rng, &format!("{p}.{kind}_post_norm"));
            }
            norm(&mut m, &mut rng, &format!("{p}.ffn_norm"));
            m.matrix(
                &mut rng,
                &format!("{p}.ffn_gate.weight"),
                d.hidden,
                d.dim,
                q8,
            );
            m.matrix(&mut rng, &format!("{p}.ffn_up.weight"), d.hidden, d.dim, q8);
            m.matrix(
                &mut rng,
                &format!("{p}.ffn_down.weight"),
                d.dim,
                d.hidden,
                q8,
            );
            norm(&mut m, &mut rng, &format!("{p}.ffn_post_norm"));
        }
        norm(&mut m, &mut rng, &format!("{stack}.output_norm"));
    }
    m
}

/// Logits after each decoder token (start token first), from scratch.
fn naive_mu(m: &MemModel, query: &[u32], dec_tokens: &[u32]) -> Vec<Vec<f64>> {
    let d = &MD;
    let hd = d.dim / d.heads;
    let eps = MU_EPS as f64;
    let ln = |x: &[f64], name: &str| {
        layernorm(
            x,
            m.get(&format!("{name}.weight")),
            m.get(&format!("{name}.bias")),
            eps,
        )
    };
    let emb = m.get("token_embd.weight");
    let embed = |ts: &[u32]| -> Vec<Vec<f64>> {
        ts.iter()
            .map(|&t| {
                emb[t as usize * d.dim..(t as usize + 1) * d.dim]
                    .iter()
                    .map(|&v| v as f64)
                    .collect()
            })
            .collect()
    };
    // x = x + post(f(pre(x))) for attention sub-layers over `kv_src` (None = self)
    let attn_block = |x: &mut Vec<Vec<f64>>,
                      p: &str,
                      kind: &str,
                      pre: &str,
                      kv_src: Option<&Vec<Vec<f64>>>,
                      causal: bool| {
        let xn: Vec<Vec<f64>> = x.iter().map(|r| ln(r, &format!("{p}.{pre}"))).collect();
        let w = |s: &str| m.get(&format!("{p}.{kind}_{s}.weight"));
        let src = kv_src.unwrap_or(&xn);
        let mut q: Vec<Vec<f64>> = xn.iter().map(|r| matvec(w("q"), r)).collect();
        let mut k: Vec<Vec<f64>> = src.iter().map(|r| matvec(w("k"), r)).collect();
        let v: Vec<Vec<f64>> = src.iter().map(|r| matvec(w("v"), r)).collect();
        if kv_src.is_none() {
            for (pos, r) in q.iter_mut().enumerate() {
                r.chunks_mut(hd)
                    .for_each(|h| rope_head(h, pos, MU_BASE as f64, true));
            }
            for (pos, r) in k.iter_mut().enumerate() {
                r.chunks_mut(hd)
                    .for_each(|h| rope_head(h, pos, MU_BASE as f64, true));
            }
        }
        let att = naive_attention(&q, &k, &v, d.heads, d.kv_heads, hd, causal);
        for (xr, ar) in x.iter_mut().zip(&att) {
            let o = ln(&matvec(w("output"), ar), &format!("{p}.{kind}_post_norm"));
            xr.iter_mut().zip(o).for_each(|(a, b)| *a += b);
        }
    };
    let ffn_block = |x: &mut Vec<Vec<f64>>, p: &str| {
        for xr in x.iter_mut() {
            let xn = ln(xr, &format!("{p}.ffn_norm"));
            let g = matvec(m.get(&format!("{p}.ffn_gate.weight")), &xn);
            let u = matvec(m.get(&format!("{p}.ffn_up.weight")), &xn);
            let h: Vec<f64> = g.iter().zip(&u).map(|(g, u)| silu(*g) * u).collect();
            let o = ln(
                &matvec(m.get(&format!("{p}.ffn_down.weight")), &h),
                &format!("{p}.ffn_post_norm"),
            );
            xr.iter_mut().zip(o).for_each(|(a, b)| *a += b);
        }
    };

    let mut e = embed(query);
    for l in 0..d.enc {
        let p = format!("enc.blk.{l}");
        attn_block(&mut e, &p, "attn", "attn_norm", None, false);
        ffn_block(&mut e, &p);
    }
    let enc: Vec<Vec<f64>> = e.iter().map(|r| ln(r, "enc.output_norm")).collect();

    let toks: Vec<u32> = std::iter::once(START)
        .chain(dec_tokens.iter().copied())
        .collect();
    let mut x = embed(&toks);
    for l in 0..d.dec {
        let p = format!("dec.blk.{l}");
        attn_block(&mut x, &p, "attn", "attn_norm", None, true);
        attn_block(&mut x, &p, "cross", "cross_norm", Some(&enc), false);
        ffn_block(&mut x, &p);
    }
    x.iter()
        .map(|r| {
            let mut l = matvec(emb, &ln(r, "dec.output_norm"));
            l[PAD as usize] = f64::NEG_INFINITY;
            l
        })
        .collect()
}

fn check_mu(q8: bool, threads: usize) {
    let m = mu_model(q8, 0xabcdef + q8 as u64);
    let query = [4u32, 9, 33, 33, 71, 0, 12, 5, 60];
    let generated = [7u32, 11, 64, 2, 79, 30, 30, 1, 8, 17];
    let reference = naive_mu(&m, &query, &generated);
    let mut model = Mu::load(&m, threads).unwrap();
    let logits = model.prefill(&query).unwrap().to_vec();
    let err = max_abs_diff(&logits, &reference[0]);
    assert!(
        err <= tolerance(q8, &reference[0]),
        "encode + start token: {err}"
    );
    for (i, &t) in generated.iter().enumerate() {
        let logits = model.decode_step(t).unwrap().to_vec();
        let r = &reference[i + 1];
        assert!(
            max_abs_diff(&logits, r) <= tolerance(q8, r),
            "decode step {i}: {}",
            max_abs_diff(&logits, r)
        );
    }
    // a second query in the same session starts from scratch
    let query2 = [1u32, 2, 3];
    let reference2 = naive_mu(&m, &query2, &[]);
    let logits = model.prefill(&query2).unwrap().to_vec();
    assert!(max_abs_diff(&logits, &reference2[0]) <= tolerance(q8, &reference2[0]));
}

#[test]
fn mu_f32_weights_match_naive() {
    check_mu(false, 1);
}

#[test]
fn mu_q8_weights_match_naive() {
    check_mu(true, 1);
}

#[test]
fn mu_q8_weights_match_naive_two_threads() {
    check_mu(true, 2);
}

#[test]
fn mu_limits_are_errors() {
    let m = mu_model(true, 5);
    let mut model = Mu::load(&m, 1).unwrap();
    assert!(matches!(
        model.decode_step(1).unwrap_err(),
        ModelError::BadValue { .. }
    ));
    assert!(matches!(
        model.prefill(&[1; 33]).unwrap_err(),
        ModelError::ContextFull {
            needed: 33,
            limit: 32
        }
    ));
    model.prefill(&[1; 32]).unwrap();
    for _ in 1..24 {
        model.decode_step(3).unwrap();
    }
    assert!(matches!(
        model.decode_step(3).unwrap_err(),
        ModelError::ContextFull {
            needed: 25,
            limit: 24
        }
    ));
}

// ---------------------------------------------------------------------------
// The same tiny models through a real GGUF file (the engine branch's writer
// and reader): Q8_0 tensors are used in place, F16 ones converted to f32.

fn to_gguf(m: &MemModel, f16: &[&str]) -> Vec<u8> {
    let mut w = knob::gguf::writer::GgufWriter::new();
    for (k, v) in &m.meta_str {
        w.set(k, v.as_str());
    }
    for (k, v) in &m.meta_u32 {
        w.set(k, *v);
    }
    for (k, v) in &m.meta_f32 {
        w.set(k, *v);
    }
    let mut names: Vec<&String> = m.tensors.keys().collect();
    names.sort();
    for name in names {
        let (ne, values, blocks) = &m.tensors[name];
        let dims: Vec<u64> = ne.iter().map(|&d| d as u64).collect();
        match blocks {
            Some(b) => w.add_q8_0_blocks(name, &dims, b).expect("q8_0"),
            None if f16.contains(&name.as_str()) => w.add_f16(name, &dims, values).expect("f16"),
            None => w.add_f32(name, &dims, values).expect("f32"),
        };
    }
    w.to_bytes()
}

/// Rounds a float tensor's values to f16, so that the naive model sees what
/// an F16 tensor in the file holds.
fn round_to_f16(m: &mut MemModel, name: &str) {
    for v in m.tensors.get_mut(name).expect("tensor").1.iter_mut() {
        *v = knob_kernels::f16_to_f32(knob_kernels::f32_to_f16(*v));
    }
}

fn run_all(model: &mut dyn LanguageModel, prompt: &[u32], steps: &[u32]) -> Vec<Vec<f32>> {
    let mut out = vec![model.prefill(prompt).unwrap().to_vec()];
    for &t in steps {
        out.push(model.decode(t).unwrap().to_vec());
    }
    out
}

#[test]
fn llama_from_a_gguf_file_equals_the_in_memory_model() {
    use knob::gguf::Gguf;
    use knob::model::gguf_source::GgufSource;
    let mut m = llama_model(true, false, 99);
    // one f32 matrix stored as F16 in the file
    let f32_name = "blk.1.ffn_up.weight";
    let (ne, mut v, _) = m.tensors.remove(f32_name).unwrap();
    v.iter_mut()
        .for_each(|x| *x = knob_kernels::f16_to_f32(knob_kernels::f32_to_f16(*x)));
    m.tensors.insert(f32_name.into(), (ne, v, None));
    round_to_f16(&mut m, "output_norm.weight");
    let bytes = to_gguf(&m, &[f32_name, "output_norm.weight"]);
    let src = GgufSource::new(Gguf::from_bytes(&bytes).expect("valid GGUF"));
    let opts = SessionOptions {
        threads: 1,
        context: None,
        max_batch: 4,
        kv: KvType::F32,
    };
    let from_file = run_all(
        &mut Llama::load(&src, opts).unwrap(),
        &[1, 2, 3, 4, 5],
        &[6, 7, 8],
    );
    let in_memory = run_all(
        &mut Llama::load(&m, opts).unwrap(),
        &[1, 2, 3, 4, 5],
        &[6, 7, 8],
    );
    assert_eq!(from_file, in_memory);
    // and the in-memory model still matches the naive one
    let reference = naive_llama(&m, &[1, 2, 3, 4, 5, 6, 7, 8], false);
    let err = max_abs_diff(&in_memory[3], &reference[7]);
    assert!(err <= tolerance(true, &reference[7]), "{err}");
}

#[test]
fn mu_from_a_gguf_file_equals_the_in_memory_model() {
    use knob::gguf::Gguf;
    use knob::model::gguf_source::GgufSource;
    let m = mu_model(true, 77);
    let bytes = to_gguf(&m, &[]);
    let src = GgufSource::new(Gguf::from_bytes(&bytes).expect("valid GGUF"));
    let from_file = run_all(&mut Mu::load(&src, 2).unwrap(), &[5, 6, 7], &[8, 9]);
    let in_memory = run_all(&mut Mu::load(&m, 2).unwrap(), &[5, 6, 7], &[8, 9]);
    assert_eq!(from_file, in_memory);
    // through the generic loader, by architecture
    let mut any = knob::model::load(
        &src,
        SessionOptions {
            threads: 1,
            context: None,
            max_batch: 8,
            kv: KvType::F32,
        },
    )
    .unwrap();
    assert_eq!(any.prefill(&[5, 6, 7]).unwrap(), &in_memory[0][..]);
}

/// Several hypotheses decoded together (beam search) give each hypothesis the
/// logits the naive model gives its own token sequence, also after the
/// hypotheses are reordered, duplicated and dropped between steps.
fn check_mu_beams(q8: bool, threads: usize) {
    use knob::model::mu::BeamCache;
    let m = mu_model(q8, 0x5eed + q8 as u64);
    let query = [4u32, 9, 33, 71, 12, 5];
    let mut model = Mu::load(&m, threads).unwrap();
    let start = model.config.start_token;
    let mut cache = BeamCache::new(&model, 4);
    model.encode(&query).unwrap();

    // Step 0: one hypothesis with the start token, then fan out to three.
    let logits = model.decode_beams(&mut cache, &[start]).unwrap().to_vec();
    let r = &naive_mu(&m, &query, &[])[0];
    assert!(max_abs_diff(&logits, r) <= tolerance(q8, r));
    cache.reorder(&model, &[0, 0, 0]);
    let mut seqs: Vec<Vec<u32>> = vec![vec![], vec![], vec![]];

    // Each step feeds every hypothesis its own token; between steps the
    // hypotheses are shuffled the way beam search does.
    let steps: [(&[u32], &[usize]); 4] = [
        (&[7, 11, 64], &[2, 0, 0]),
        (&[2, 79, 30], &[1, 2]),
        (&[8, 17], &[0, 1, 1, 0]),
        (&[3, 5, 9, 1], &[3]),
    ];
    for (tokens, from) in steps {
        let logits = model.decode_beams(&mut cache, tokens).unwrap().to_vec();
        let vocab = logits.len() / tokens.len();
        for (b, &t) in tokens.iter().enumerate() {
            seqs[b].push(t);
            let reference = naive_mu(&m, &query, &seqs[b]);
            let r = reference.last().unwrap();
            let got = &logits[b * vocab..(b + 1) * vocab];
            assert!(
                max_abs_diff(got, r) <= tolerance(q8, r),
                "beam {b} after {:?}: {}",
                seqs[b],
                max_abs_diff(got, r)
            );
        }
        cache.reorder(&model, from);
        seqs = from.iter().map(|&f| seqs[f].clone()).collect();
    }
    // More tokens than live hypotheses is a usage error, not a panic.
    assert!(model.decode_beams(&mut cache, &[1, 2]).is_err());
}

#[test]
fn mu_beams_f32_match_naive() {
    check_mu_beams(false, 1);
}

#[test]
fn mu_beams_q8_match_naive_two_threads() {
    check_mu_beams(true, 2);
}
