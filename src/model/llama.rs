//! Llama-family decoder-only transformer (SmolLM2, TinyLlama, Llama 3.x).
//!
//! Reads like llama2.c's run.c: a [`Config`], the [`Weights`] with their shapes,
//! a [`RunState`] allocated once per session, and a `forward` that runs from
//! top to bottom. Prefill feeds up to `max_batch` prompt tokens at once through
//! gemm; decode feeds one token through gemv. The KV cache is f16 (as llama.cpp's) unless
//! [`SessionOptions::kv`] asks for f32.
use knob_kernels::ops::{self, RopeStyle};
use knob_kernels::{QuantizedActs, ThreadPool};

use super::kv_cache::{KvRows, KvStore, KvType};
use super::profile::{Op, Profiler};
use super::{
    attend_kv, gemv_many, par_causal_heads, par_rows, LanguageModel, Linear, Loader, ModelError,
    ModelSource, Repack, RopeTable,
};

mod beams;

/// Query rows that prefill attention handles together: each chunk of keys
/// and each value row is read once for all of them.
const SCORE_ROWS: usize = 4;

/// Keys that prefill attention scores per pass over a group's rows: 64
/// keys of 64 f32 values are 16 KiB, well inside L1.
const KEY_CHUNK: usize = 64;

/// Prompt rows from which prefill attention widens the cache to f32 once
/// per layer ([`WideKv`]) instead of reading the cache per query row.
const WIDEN_KV_MIN_ROWS: usize = 4;

pub use beams::LlamaBeamCache;

/// Hyperparameters, read from the `llama.*` metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// d_model: width of the residual stream (`llama.embedding_length`)
    pub dim: usize,
    /// FFN hidden width (`llama.feed_forward_length`)
    pub hidden_dim: usize,
    /// transformer blocks (`llama.block_count`)
    pub n_layers: usize,
    /// query heads (`llama.attention.head_count`)
    pub n_heads: usize,
    /// key/value heads; n_heads is a multiple (grouped-query attention)
    pub n_kv_heads: usize,
    /// width of one head; dim / n_heads unless `llama.attention.key_length` says otherwise
    pub head_dim: usize,
    /// vocabulary size (rows of `token_embd`)
    pub vocab_size: usize,
    /// longest sequence the model was trained for (`llama.context_length`)
    pub max_seq_len: usize,
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`). llama.cpp's
    /// default is 1e-5 when the key is missing; SmolLM2 stores 1e-5 too.
    pub norm_eps: f32,
    /// RoPE frequency base (`llama.rope.freq_base`, default 10000)
    pub rope_base: f32,
    /// positions are multiplied by this: 1 / `llama.rope.scaling.factor` for
    /// linear scaling, else 1. Llama 3.x's scaling arrives as the
    /// `rope_freqs.weight` tensor instead (per-frequency divisors).
    pub rope_pos_scale: f32,
}

impl Config {
    pub fn from_source(src: &dyn ModelSource) -> Result<Self, ModelError> {
        let ld = Loader::for_arch(src, "llama")?;
        let dim = ld.u32("embedding_length")?;
        let n_heads = ld.u32("attention.head_count")?;
        let n_kv_heads = ld.u32_or("attention.head_count_kv", n_heads)?;
        if n_heads % n_kv_heads != 0 {
            return Err(ModelError::BadValue {
                key: "llama.attention.head_count_kv".into(),
                why: format!("{n_kv_heads} does not divide head_count {n_heads}"),
            });
        }
        let head_dim = ld.u32_or("attention.key_length", dim / n_heads)?;
        if head_dim % 2 != 0 || head_dim * n_heads == 0 {
            return Err(ModelError::Unsupported(format!("head width {head_dim}")));
        }
        if ld.u32_or("rope.dimension_count", head_dim)? != head_dim {
            return Err(ModelError::Unsupported(
                "partial RoPE (rope.dimension_count != head width)".into(),
            ));
        }
        let rope_pos_scale = match src.meta_str("llama.rope.scaling.type").as_deref() {
            None | Some("none") => 1.0,
            Some("linear") => 1.0 / ld.f32_or("rope.scaling.factor", 1.0)?,
            Some(other) => return Err(ModelError::Unsupported(format!("RoPE scaling {other:?}"))),
        };
        let embd = src
            .tensor_dims("token_embd.weight")
            .ok_or_else(|| ModelError::MissingTensor("token_embd.weight".into()))?;
        let vocab_size = match embd.as_slice() {
            [d, v] if *d == dim && *v > 0 => *v,
            _ => {
                return Err(ModelError::BadShape {
                    name: "token_embd.weight".into(),
                    expected: vec![dim, 0],
                    got: embd,
                })
            }
        };
        Ok(Self {
            dim,
            hidden_dim: ld.u32("feed_forward_length")?,
            n_layers: ld.u32("block_count")?,
            n_heads,
            n_kv_heads,
            head_dim,
            vocab_size,
            max_seq_len: ld.u32("context_length")?,
            norm_eps: ld.f32_or("attention.layer_norm_rms_epsilon", 1e-5)?,
            rope_base: ld.f32_or("rope.freq_base", 10000.0)?,
            rope_pos_scale,
        })
    }
    fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }
    fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}

/// One transformer block.
///
/// Pitfall: llama.cpp's converter permutes the rows of `attn_q` and `attn_k`
/// so that RoPE rotates adjacent pairs (2i, 2i+1) — RopeStyle::Normal — even
/// though the Hugging Face checkpoint rotates halves. Use the GGUF weights with
/// Normal RoPE, never NeoX.
pub struct Layer {
    /// [dim] RMSNorm weight before attention
    pub attn_norm: Vec<f32>,
    /// [n_heads*head_dim, dim]
    pub wq: Linear,
    /// [n_kv_heads*head_dim, dim]
    pub wk: Linear,
    /// [n_kv_heads*head_dim, dim]
    pub wv: Linear,
    /// [dim, n_heads*head_dim]
    pub wo: Linear,
    /// [dim] RMSNorm weight before the FFN
    pub ffn_norm: Vec<f32>,
    /// [hidden_dim, dim]
    pub w_gate: Linear,
    /// [hidden_dim, dim]
    pub w_up: Linear,
    /// [dim, hidden_dim]
    pub w_down: Linear,
}

pub struct Weights {
    /// [vocab_size, dim] token embeddings (rows dequantized on lookup)
    pub token_embd: Linear,
    pub layers: Vec<Layer>,
    /// [dim] final RMSNorm weight
    pub output_norm: Vec<f32>,
    /// [vocab_size, dim] output projection; None when tied to `token_embd`
    pub output: Option<Linear>,
    /// [head_dim/2] per-frequency divisors (Llama 3.x rope scaling), if present
    pub rope_freqs: Option<Vec<f32>>,
}

impl Weights {
    pub fn load(src: &dyn ModelSource, c: &Config) -> Result<Self, ModelError> {
        // A chat model's weights are most of knob's memory: no second copy
        // where the tile unit is not the gain.
        let ld = Loader {
            src,
            arch: "llama",
            repack: Repack::OnAmx,
        };
        let mut layers = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            layers.push(Layer {
                attn_norm: ld.vector(&n("attn_norm"), c.dim)?,
                wq: ld.linear(&n("attn_q"), c.q_dim(), c.dim)?,
                wk: ld.linear(&n("attn_k"), c.kv_dim(), c.dim)?,
                wv: ld.linear(&n("attn_v"), c.kv_dim(), c.dim)?,
                wo: ld.linear(&n("attn_output"), c.dim, c.q_dim())?,
                ffn_norm: ld.vector(&n("ffn_norm"), c.dim)?,
                w_gate: ld.linear(&n("ffn_gate"), c.hidden_dim, c.dim)?,
                w_up: ld.linear(&n("ffn_up"), c.hidden_dim, c.dim)?,
                w_down: ld.linear(&n("ffn_down"), c.dim, c.hidden_dim)?,
            });
        }
        let output = match src.tensor_dims("output.weight") {
            Some(_) => Some(ld.linear("output.weight", c.vocab_size, c.dim)?),
            None => None,
        };
        let rope_freqs = match src.tensor_dims("rope_freqs.weight") {
            Some(_) => Some(ld.vector("rope_freqs.weight", c.head_dim / 2)?),
            None => None,
        };
        Ok(Self {
            token_embd: ld.linear("token_embd.weight", c.vocab_size, c.dim)?,
            layers,
            output_norm: ld.vector("output_norm.weight", c.dim)?,
            output,
            rope_freqs,
        })
    }

    /// Bytes of all weights.
    pub fn bytes(&self) -> usize {
        let per_layer: usize = self
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                    .iter()
                    .map(|w| w.bytes())
                    .sum::<usize>()
                    + 4 * (l.attn_norm.len() + l.ffn_norm.len())
            })
            .sum();
        per_layer
            + self.token_embd.bytes()
            + self.output.as_ref().map_or(0, |o| o.bytes())
            + 4 * self.output_norm.len()
    }
}

/// Options for one session.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// threads for gemv/gemm and attention
    pub threads: usize,
    /// tokens the KV cache holds; None = the model's context length
    pub context: Option<usize>,
    /// prompt tokens per prefill batch
    pub max_batch: usize,
    /// element type of the KV cache
    pub kv: KvType,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            context: None,
            max_batch: 256,
            kv: KvType::F16,
        }
    }
}

/// Activation buffers, sized once for `max_batch` rows.
struct RunState {
    /// [max_batch, dim] residual stream
    x: Vec<f32>,
    /// [max_batch, dim] normed input of a sub-layer, and sub-layer outputs
    xb: Vec<f32>,
    /// [max_batch, n_heads*head_dim]
    q: Vec<f32>,
    /// [max_batch, n_kv_heads*head_dim]
    k: Vec<f32>,
    /// [max_batch, n_kv_heads*head_dim]
    v: Vec<f32>,
    /// [n_heads, max_batch, head_dim] attention output, head-major so that
    /// threads can own whole heads
    att: Vec<f32>,
    /// [max_batch, n_heads*head_dim] attention output, row-major
    att_rows: Vec<f32>,
    /// [max_batch, hidden_dim] FFN gate, then silu(gate)*up
    hb: Vec<f32>,
    /// [max_batch, hidden_dim] FFN up
    hb2: Vec<f32>,
    /// quantized activations for the next matmul
    xq: QuantizedActs,
    /// per thread, attention scores of up to SCORE_ROWS rows:
    /// [threads, SCORE_ROWS * n_ctx]
    scores: Vec<f32>,
    /// prefill attention's keys and values in f32; grows on demand
    wide_kv: WideKv,
    /// [vocab_size] logits of the last position
    logits: Vec<f32>,
    /// [n_layers, n_ctx, n_kv_heads*head_dim], f16 or f32
    key_cache: KvStore,
    /// [n_layers, n_ctx, n_kv_heads*head_dim], f16 or f32
    value_cache: KvStore,
}

/// A loaded llama model with one session's state.
pub struct Llama {
    pub config: Config,
    pub weights: Weights,
    st: RunState,
    rope: RopeTable,
    pool: ThreadPool,
    /// a one-thread pool for the parts of a fused job (see `gemv_many`)
    serial: ThreadPool,
    n_ctx: usize,
    max_batch: usize,
    pos: usize,
    prof: Profiler,
}

impl Llama {
    pub fn load(src: &dyn ModelSource, opts: SessionOptions) -> Result<Self, ModelError> {
        let config = Config::from_source(src)?;
        let weights = Weights::load(src, &config)?;
        Ok(Self::new(config, weights, opts))
    }

    pub fn new(c: Config, weights: Weights, opts: SessionOptions) -> Self {
        let n_ctx = opts
            .context
            .unwrap_or(c.max_seq_len)
            .clamp(1, c.max_seq_len);
        let b = opts.max_batch.clamp(1, n_ctx);
        let threads = opts.threads.max(1);
        let cache = c.n_layers * n_ctx * c.kv_dim();
        let mut st = RunState {
            x: vec![0.0; b * c.dim],
            xb: vec![0.0; b * c.dim],
            q: vec![0.0; b * c.q_dim()],
            k: vec![0.0; b * c.kv_dim()],
            v: vec![0.0; b * c.kv_dim()],
            att: vec![0.0; b * c.q_dim()],
            att_rows: vec![0.0; b * c.q_dim()],
            hb: vec![0.0; b * c.hidden_dim],
            hb2: vec![0.0; b * c.hidden_dim],
            xq: QuantizedActs::new(),
            scores: vec![0.0; threads * SCORE_ROWS * n_ctx],
            wide_kv: WideKv::default(),
            logits: vec![0.0; c.vocab_size],
            key_cache: KvStore::new(opts.kv, cache),
            value_cache: KvStore::new(opts.kv, cache),
        };
        // Size the quantized-activation buffer for the widest input now, so
        // that no later call allocates.
        let widest = c.dim.max(c.hidden_dim).max(c.q_dim());
        st.xq.quantize(&vec![0.0; b * widest], b, widest);
        let rope = RopeTable::new(
            n_ctx,
            c.head_dim,
            c.rope_base,
            c.rope_pos_scale,
            weights.rope_freqs.as_deref(),
        );
        Self {
            config: c,
            weights,
            st,
            rope,
            pool: ThreadPool::new(threads),
            serial: ThreadPool::new(1),
            n_ctx,
            max_batch: b,
            pos: 0,
            prof: Profiler::default(),
        }
    }

    /// Runs `tokens` (at most `max_batch`) at positions `pos..`, appending to the
    /// KV cache, and leaves the logits of the last one in `st.logits`.
    fn forward(&mut self, tokens: &[u32]) {
        let c = &self.config;
        let w = &self.weights;
        let st = &mut self.st;
        let pool = &self.pool;
        let prof = &mut self.prof;
        prof.start();
        let m = tokens.len();
        let (dim, hd, q_dim, kv_dim, hidden) =
            (c.dim, c.head_dim, c.q_dim(), c.kv_dim(), c.hidden_dim);
        let pos = self.pos;
        let n_ctx = self.n_ctx;

        // --- token embeddings -------------------------------------------------
        for (r, &t) in tokens.iter().enumerate() {
            w.token_embd
                .row_into(t as usize, &mut st.x[r * dim..(r + 1) * dim]);
        }
        prof.lap(Op::Embedding);

        for (l, lw) in w.layers.iter().enumerate() {
            // --- attention: x += wo(attn(rope(wq xn), rope(wk xn), wv xn)) ----
            rms_norm_rows(pool, &st.x, &lw.attn_norm, c.norm_eps, m, dim, &mut st.xb);
            prof.lap(Op::Norm);
            st.xq.quantize_on(pool, &st.xb[..m * dim], m, dim);
            prof.lap(Op::QuantizeActs);
            if m == 1 {
                let jobs = [
                    (&lw.wq, &mut st.q[..]),
                    (&lw.wk, &mut st.k[..]),
                    (&lw.wv, &mut st.v[..]),
                ];
                gemv_many(pool, &self.serial, jobs, &st.xb, &st.xq);
            } else {
                let jobs = [
                    (&lw.wq, &mut st.q[..]),
                    (&lw.wk, &mut st.k[..]),
                    (&lw.wv, &mut st.v[..]),
                ];
                Linear::forward_many(pool, jobs, &st.xb, &st.xq, m);
            }
            prof.lap(Op::MatvecQkv);

            // RoPE on q and k (adjacent pairs: see the pitfall on `Layer`),
            // then append k and v to this layer's cache.
            let layer_cache = l * n_ctx * kv_dim;
            for r in 0..m {
                let (cos, sin) = self.rope.at(pos + r);
                ops::rope(
                    &mut st.q[r * q_dim..(r + 1) * q_dim],
                    hd,
                    cos,
                    sin,
                    RopeStyle::Normal,
                );
                ops::rope(
                    &mut st.k[r * kv_dim..(r + 1) * kv_dim],
                    hd,
                    cos,
                    sin,
                    RopeStyle::Normal,
                );
                let at = layer_cache + (pos + r) * kv_dim;
                st.key_cache.write(at, &st.k[r * kv_dim..(r + 1) * kv_dim]);
                st.value_cache
                    .write(at, &st.v[r * kv_dim..(r + 1) * kv_dim]);
            }
            prof.lap(Op::RopeKvStore);

            // Causal attention: row r sees positions 0..=pos+r. Query head h
            // reads KV head h / (n_heads / n_kv_heads).
            let group = c.n_heads / c.n_kv_heads;
            let scale = 1.0 / (hd as f32).sqrt();
            let n_keys = pos + m;
            let (kc, vc) = (
                st.key_cache.from(layer_cache),
                st.value_cache.from(layer_cache),
            );
            // With several rows, every KV head's keys and values are widened
            // to f32 once (see `WideKv`) and groups of rows share each chunk
            // of keys and each value row; one row (decode) reads the cache
            // directly. Every score and sum is the same as row by row.
            let wide = (m >= WIDEN_KV_MIN_ROWS).then(|| {
                st.wide_kv
                    .fill(pool, kc, vc, c.n_kv_heads, n_keys, kv_dim, hd)
            });
            let q = &st.q;
            par_causal_heads(
                pool,
                c.n_heads,
                m,
                hd,
                pos,
                &mut st.scores,
                &mut st.att[..m * q_dim],
                |h, rows, scratch, out| {
                    let g = h / group;
                    let Some(w) = &wide else {
                        for (i, r) in rows.enumerate() {
                            attend_kv(
                                &q[r * q_dim + h * hd..r * q_dim + (h + 1) * hd],
                                kc.from(g * hd),
                                vc.from(g * hd),
                                pos + r + 1,
                                kv_dim,
                                scale,
                                scratch,
                                &mut out[i * hd..(i + 1) * hd],
                            );
                        }
                        return;
                    };
                    attend_wide(
                        &q[h * hd..],
                        q_dim,
                        w.keys(g),
                        w.values(g),
                        hd,
                        pos,
                        rows,
                        scale,
                        scratch,
                        out,
                    );
                },
            );
            let (att, n_heads) = (&st.att, c.n_heads);
            par_rows(pool, m, q_dim, &mut st.att_rows, &|r0, rows| {
                for (i, row) in rows.chunks_exact_mut(q_dim).enumerate() {
                    for h in 0..n_heads {
                        let src = (h * m + r0 + i) * hd;
                        row[h * hd..(h + 1) * hd].copy_from_slice(&att[src..src + hd]);
                    }
                }
            });
            prof.lap(Op::Attention);
            st.xq.quantize_on(pool, &st.att_rows[..m * q_dim], m, q_dim);
            prof.lap(Op::QuantizeActs);
            lw.wo.forward(pool, &st.att_rows, &st.xq, m, &mut st.xb);
            prof.lap(Op::MatvecAttnOutput);
            add_rows(pool, m, dim, &mut st.x, &st.xb);
            prof.lap(Op::Residual);

            // --- feed-forward: x += down(silu(gate(xn)) * up(xn)) -------------
            rms_norm_rows(pool, &st.x, &lw.ffn_norm, c.norm_eps, m, dim, &mut st.xb);
            prof.lap(Op::Norm);
            st.xq.quantize_on(pool, &st.xb[..m * dim], m, dim);
            prof.lap(Op::QuantizeActs);
            if m == 1 {
                gemv_many(
                    pool,
                    &self.serial,
                    [(&lw.w_gate, &mut st.hb[..]), (&lw.w_up, &mut st.hb2[..])],
                    &st.xb,
                    &st.xq,
                );
            } else {
                let jobs = [(&lw.w_gate, &mut st.hb[..]), (&lw.w_up, &mut st.hb2[..])];
                Linear::forward_many(pool, jobs, &st.xb, &st.xq, m);
            }
            prof.lap(Op::MatvecGateUp);
            let up = &st.hb2;
            par_rows(pool, m, hidden, &mut st.hb, &|r0, gate| {
                ops::silu_mul(gate, &up[r0 * hidden..r0 * hidden + gate.len()]);
            });
            prof.lap(Op::SiluMul);
            st.xq.quantize_on(pool, &st.hb[..m * hidden], m, hidden);
            prof.lap(Op::QuantizeActs);
            lw.w_down.forward(pool, &st.hb, &st.xq, m, &mut st.xb);
            prof.lap(Op::MatvecDown);
            add_rows(pool, m, dim, &mut st.x, &st.xb);
            prof.lap(Op::Residual);
        }

        // --- final norm and logits, for the last row only ---------------------
        let last = (m - 1) * dim;
        ops::rms_norm(
            &st.x[last..last + dim],
            &w.output_norm,
            c.norm_eps,
            &mut st.xb[..dim],
        );
        prof.lap(Op::Norm);
        st.xq.quantize(&st.xb[..dim], 1, dim);
        prof.lap(Op::QuantizeActs);
        let out = w.output.as_ref().unwrap_or(&w.token_embd);
        out.forward(pool, &st.xb, &st.xq, 1, &mut st.logits);
        prof.lap(Op::Logits);
        self.pos += m;
    }

    fn check(&self, tokens: &[u32]) -> Result<(), ModelError> {
        let needed = self.pos + tokens.len();
        if needed > self.n_ctx {
            return Err(ModelError::ContextFull {
                needed,
                limit: self.n_ctx,
            });
        }
        if let Some(&token) = tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(ModelError::BadToken {
                token,
                vocab: self.config.vocab_size,
            });
        }
        Ok(())
    }
}

/// One layer's cached keys and values as f32, for prefill attention, which
/// reads every key and value many times: each KV head's rows one after another
/// (`head_dim` apart). Made once per layer (the heads in parallel), so the
/// f16 conversions leave the per-row loops, the 64-value rows take the
/// `dot_rows` path that keeps the query in registers, and every query head
/// of a group shares its KV head's copy.
#[derive(Default)]
struct WideKv {
    /// [n_kv_heads][len]
    keys: Vec<f32>,
    /// [n_kv_heads][len]
    values: Vec<f32>,
    /// values per KV head: positions times head_dim
    len: usize,
}

impl WideKv {
    /// Widens positions `0..n_keys` of every KV head (`head_dim` values at
    /// `g * head_dim` of each `kv_dim`-wide cache row).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        pool: &ThreadPool,
        keys: KvRows<'_>,
        values: KvRows<'_>,
        n_kv_heads: usize,
        n_keys: usize,
        kv_dim: usize,
        head_dim: usize,
    ) -> &WideKv {
        let len = n_keys * head_dim;
        self.len = len;
        grow(&mut self.keys, n_kv_heads * len);
        grow(&mut self.values, n_kv_heads * len);
        pool.run_split(
            &mut self.keys[..n_kv_heads * len],
            len,
            &mut self.values[..n_kv_heads * len],
            len,
            &|g, k, v| {
                keys.from(g * head_dim)
                    .widen_rows(n_keys, kv_dim, head_dim, k);
                values
                    .from(g * head_dim)
                    .widen_rows(n_keys, kv_dim, head_dim, v);
            },
        );
        self
    }

    fn keys(&self, g: usize) -> &[f32] {
        &self.keys[g * self.len..(g + 1) * self.len]
    }

    fn values(&self, g: usize) -> &[f32] {
        &self.values[g * self.len..(g + 1) * self.len]
    }
}

/// Causal attention of query rows `rows` (after `pos` cached positions) of
/// one head, row `r`'s query at `q[r * q_stride..]`, over its KV head's
/// widened keys and values (`head_dim` apart), into `out`
/// (`rows.len() * head_dim`). SCORE_ROWS rows at a time share
/// each key and value load, and every score and sum is computed exactly as
/// `attend` computes it row by row.
#[allow(clippy::too_many_arguments)]
fn attend_wide(
    q: &[f32],
    q_stride: usize,
    keys: &[f32],
    values: &[f32],
    head_dim: usize,
    pos: usize,
    rows: std::ops::Range<usize>,
    scale: f32,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let hd = head_dim;
    // Row i of a group keeps its scores at i * n_max.
    for r0 in rows.clone().step_by(SCORE_ROWS) {
        let r1 = (r0 + SCORE_ROWS).min(rows.end);
        let n_max = pos + r1;
        let scores = &mut scratch[..(r1 - r0) * n_max];
        // Keys in chunks that stay in L1 while every row of the group
        // scores them (one row at a time would stream all keys from L2
        // again for each row).
        for t0 in (0..n_max).step_by(KEY_CHUNK) {
            for r in r0..r1 {
                let t1 = (pos + r + 1).min(t0 + KEY_CHUNK);
                if t0 < t1 {
                    let o = (r - r0) * n_max;
                    ops::dot_rows(
                        &q[r * q_stride..r * q_stride + hd],
                        &keys[t0 * hd..],
                        hd,
                        scale,
                        &mut scores[o + t0..o + t1],
                    );
                }
            }
        }
        let mut lens = [0; SCORE_ROWS];
        for r in r0..r1 {
            lens[r - r0] = pos + r + 1;
            let o = (r - r0) * n_max;
            ops::softmax(&mut scores[o..o + pos + r + 1]);
        }
        let (i0, i1) = (r0 - rows.start, r1 - rows.start);
        ops::weighted_sum_rows_multi(
            scores,
            n_max,
            &lens[..r1 - r0],
            values,
            hd,
            hd,
            &mut out[i0 * hd..i1 * hd],
        );
    }
}

/// Grows `v` to at least `len` values (never shrinks: reused across calls).
fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// `out[r] = rms_norm(x[r]) * weight` for the first `m` rows of `width`.
fn rms_norm_rows(
    pool: &ThreadPool,
    x: &[f32],
    weight: &[f32],
    eps: f32,
    m: usize,
    width: usize,
    out: &mut [f32],
) {
    par_rows(pool, m, width, out, &|r0, rows| {
        ops::rms_norm_rows(&x[r0 * width..r0 * width + rows.len()], weight, eps, rows);
    });
}

/// `x += y` over the first `m` rows of `width`.
fn add_rows(pool: &ThreadPool, m: usize, width: usize, x: &mut [f32], y: &[f32]) {
    par_rows(pool, m, width, x, &|r0, rows| {
        ops::add(rows, &y[r0 * width..r0 * width + rows.len()]);
    });
}

impl LanguageModel for Llama {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }
    fn context_length(&self) -> usize {
        self.n_ctx
    }
    fn position(&self) -> usize {
        self.pos
    }
    fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::BadValue {
                key: "prompt".into(),
                why: "no tokens".into(),
            });
        }
        self.check(tokens)?;
        for chunk in tokens.chunks(self.max_batch) {
            self.forward(chunk);
        }
        Ok(&self.st.logits)
    }
    fn decode(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.check(&[token])?;
        self.forward(&[token]);
        Ok(&self.st.logits)
    }
    fn reset(&mut self) {
        self.pos = 0;
    }
    fn threads(&self) -> usize {
        self.pool.threads()
    }
    fn memory(&self) -> super::MemoryUse {
        super::MemoryUse {
            weights: self.weights.bytes(),
            kv_cache: self.st.key_cache.bytes() + self.st.value_cache.bytes(),
        }
    }
    fn decode_bytes(&self, context: usize) -> usize {
        let c = &self.config;
        let w = &self.weights;
        let layers: usize = w
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                    .iter()
                    .map(|m| m.bytes())
                    .sum::<usize>()
                    + 4 * (l.attn_norm.len() + l.ffn_norm.len())
            })
            .sum();
        // The logits read the output matrix, or the tied embeddings whole;
        // the lookup reads one embedding row.
        let out = w.output.as_ref().unwrap_or(&w.token_embd);
        let embd_row = w.token_embd.bytes() / c.vocab_size.max(1);
        let kv_elem = self.st.key_cache.bytes() / (c.n_layers * self.n_ctx * c.kv_dim()).max(1);
        let kv = 2 * c.n_layers * context.min(self.n_ctx) * c.kv_dim() * kv_elem;
        layers + out.bytes() + embd_row + 4 * w.output_norm.len() + kv
    }
    fn pool_jobs(&self) -> u64 {
        self.pool.jobs_run()
    }
    fn set_profiling(&mut self, on: bool) -> bool {
        self.prof.enable(on);
        true
    }
    fn profile(&self) -> Vec<(Op, u64)> {
        self.prof.totals()
    }
}
