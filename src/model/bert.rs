//! `bert`: a BERT sentence encoder (all-MiniLM-L6-v2 and its kin), in the
//! GGUF layout llama.cpp's convert_hf_to_gguf.py writes.
//!
//! One [`Bert::forward`] runs the whole text at once (attention is
//! bidirectional: every token sees every token), and
//! [`Bert::sentence_embedding`] pools the last hidden states into one vector
//! as sentence-transformers does: the mean over all tokens ([CLS] and [SEP]
//! included), then L2-normalized.
//!
//! Differences from the decoders in this crate, each a pitfall if missed:
//! - post-LayerNorm: `x = norm(x + f(x))`, not `x + f(norm(x))`;
//! - learned absolute positions and a token-type row added to the token
//!   embedding, then a LayerNorm, before the first layer;
//! - every linear map has a bias;
//! - GELU is the exact erf form (HF's "gelu"), not the tanh approximation
//!   that llama.cpp uses; the difference is ~1e-3 in activations;
//! - LayerNorm epsilon is 1e-12, not 1e-5.
use knob_kernels::ops;
use knob_kernels::{QuantizedActs, ThreadPool};

use super::mu::Norm;
use super::{attend, par_heads, Linear, Loader, ModelError, ModelSource, Repack, TensorData};

/// How the last hidden states become one vector (`bert.pooling_type`,
/// llama.cpp's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// 1: the mean of all token states (sentence-transformers' default)
    Mean,
    /// 2: the state of the first token, [CLS]
    Cls,
}

/// Hyperparameters, read from the `bert.*` metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// width of the hidden states (`bert.embedding_length`), 384 for MiniLM
    pub dim: usize,
    /// FFN hidden width (`bert.feed_forward_length`)
    pub hidden_dim: usize,
    /// layers (`bert.block_count`)
    pub n_layers: usize,
    /// attention heads (`bert.attention.head_count`); no GQA in BERT
    pub n_heads: usize,
    /// dim / n_heads
    pub head_dim: usize,
    /// vocabulary size (rows of `token_embd`)
    pub vocab_size: usize,
    /// longest input in tokens, [CLS] and [SEP] included (`bert.context_length`,
    /// the rows of `position_embd`)
    pub n_ctx: usize,
    /// rows of `token_types` (2 for BERT: sentence A and B; knob uses A)
    pub n_token_types: usize,
    /// LayerNorm epsilon (`bert.attention.layer_norm_epsilon`)
    pub norm_eps: f32,
    /// `bert.pooling_type`; mean when absent
    pub pooling: Pooling,
}

impl Config {
    /// The config of a `bert` file (`general.architecture = "bert"`).
    pub fn from_source(src: &dyn ModelSource) -> Result<Self, ModelError> {
        Loader::for_arch(src, "bert")?;
        Self::from_keys(src)
    }

    /// The config from the `bert.*` keys alone, whatever the file's
    /// architecture: a settings model v2 (`mu`) keeps its encoder under them.
    pub fn from_keys(src: &dyn ModelSource) -> Result<Self, ModelError> {
        let ld = Loader {
            src,
            arch: "bert",
            repack: Repack::OnAnyTiledPath,
        };
        let dim = ld.u32("embedding_length")?;
        let n_heads = ld.u32("attention.head_count")?;
        if dim % n_heads != 0 {
            return Err(ModelError::BadValue {
                key: "bert.attention.head_count".into(),
                why: format!("{n_heads} heads do not divide the width {dim}"),
            });
        }
        let rows = |name: &str| -> Result<usize, ModelError> {
            let dims = src
                .tensor_dims(name)
                .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
            match dims.as_slice() {
                [d, n] if *d == dim && *n > 0 => Ok(*n),
                _ => Err(ModelError::BadShape {
                    name: name.into(),
                    expected: vec![dim, 0],
                    got: dims,
                }),
            }
        };
        let pooling = match src.meta_u32("bert.pooling_type") {
            None | Some(1) => Pooling::Mean,
            Some(2) => Pooling::Cls,
            Some(other) => {
                return Err(ModelError::Unsupported(format!(
                    "bert.pooling_type {other} (knob pools by mean (1) or [CLS] (2))"
                )))
            }
        };
        if src.meta_u32("bert.attention.causal").is_some() {
            // Stored as a bool; a u32 here means a file that is not BERT.
            return Err(ModelError::BadValue {
                key: "bert.attention.causal".into(),
                why: "expected a bool".into(),
            });
        }
        let n_ctx = ld.u32("context_length")?;
        let position_rows = rows("position_embd.weight")?;
        if position_rows < n_ctx {
            return Err(ModelError::BadShape {
                name: "position_embd.weight".into(),
                expected: vec![dim, n_ctx],
                got: vec![dim, position_rows],
            });
        }
        Ok(Self {
            dim,
            hidden_dim: ld.u32("feed_forward_length")?,
            n_layers: ld.u32("block_count")?,
            n_heads,
            head_dim: dim / n_heads,
            vocab_size: rows("token_embd.weight")?,
            n_ctx,
            n_token_types: rows("token_types.weight")?,
            // HF BERT's default; llama.cpp's converter always writes the key.
            norm_eps: ld.f32_or("attention.layer_norm_epsilon", 1e-12)?,
            pooling,
        })
    }
}

/// `y = W x + b`.
pub struct Affine {
    pub w: Linear,
    /// [n]
    pub b: Vec<f32>,
}

impl Affine {
    fn load(ld: &Loader, name: &str, n: usize, k: usize) -> Result<Self, ModelError> {
        Ok(Self {
            w: ld.linear(&format!("{name}.weight"), n, k)?,
            b: ld.vector(&format!("{name}.bias"), n)?,
        })
    }

    /// `m` rows of `x` into `y`; `xq` holds `x` quantized when `w` is Q8_0;
    /// `scratch` holds at least `m * n` values.
    fn forward(
        &self,
        pool: &ThreadPool,
        x: &[f32],
        xq: &QuantizedActs,
        m: usize,
        y: &mut [f32],
        scratch: &mut [f32],
    ) {
        let n = self.w.n;
        match &self.w.data {
            TensorData::F32(w) if m > 1 => matmul_f32(pool, w, n, self.w.k, x, m, y, scratch),
            _ => self.w.forward(pool, x, xq, m, y),
        }
        for row in y[..m * n].chunks_exact_mut(n) {
            ops::add(row, &self.b);
        }
    }

    fn bytes(&self) -> usize {
        self.w.bytes() + 4 * self.b.len()
    }
}

pub struct Layer {
    /// [dim, dim] each
    pub wq: Affine,
    pub wk: Affine,
    pub wv: Affine,
    /// [dim, dim]
    pub wo: Affine,
    /// `attn_output_norm`: after the attention's residual add
    pub attn_norm: Norm,
    /// [hidden_dim, dim]
    pub up: Affine,
    /// [dim, hidden_dim]
    pub down: Affine,
    /// `layer_output_norm`: after the FFN's residual add
    pub out_norm: Norm,
}

pub struct Weights {
    /// [vocab_size, dim]
    pub token_embd: Linear,
    /// [n_ctx, dim]: one learned row per position
    pub position_embd: Linear,
    /// [n_token_types, dim]: row 0 is added to every token (one sentence)
    pub token_types: Linear,
    /// LayerNorm of the summed embeddings
    pub embd_norm: Norm,
    pub layers: Vec<Layer>,
}

impl Weights {
    pub fn load(src: &dyn ModelSource, c: &Config) -> Result<Self, ModelError> {
        let ld = Loader {
            src,
            arch: "bert",
            repack: Repack::OnAnyTiledPath,
        };
        let (d, ff) = (c.dim, c.hidden_dim);
        let mut layers = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let p = format!("blk.{i}");
            layers.push(Layer {
                wq: Affine::load(&ld, &format!("{p}.attn_q"), d, d)?,
                wk: Affine::load(&ld, &format!("{p}.attn_k"), d, d)?,
                wv: Affine::load(&ld, &format!("{p}.attn_v"), d, d)?,
                wo: Affine::load(&ld, &format!("{p}.attn_output"), d, d)?,
                attn_norm: Norm::load(&ld, &format!("{p}.attn_output_norm"), d)?,
                up: Affine::load(&ld, &format!("{p}.ffn_up"), ff, d)?,
                down: Affine::load(&ld, &format!("{p}.ffn_down"), d, ff)?,
                out_norm: Norm::load(&ld, &format!("{p}.layer_output_norm"), d)?,
            });
        }
        let position_rows = src
            .tensor_dims("position_embd.weight")
            .map_or(c.n_ctx, |dims| dims[1]);
        Ok(Self {
            token_embd: ld.linear("token_embd.weight", c.vocab_size, d)?,
            position_embd: ld.linear("position_embd.weight", position_rows, d)?,
            token_types: ld.linear("token_types.weight", c.n_token_types, d)?,
            embd_norm: Norm::load(&ld, "token_embd_norm", d)?,
            layers,
        })
    }

    /// Bytes of all weights.
    pub fn bytes(&self) -> usize {
        let norm = |n: &Norm| 4 * (n.w.len() + n.b.len());
        self.token_embd.bytes()
            + self.position_embd.bytes()
            + self.token_types.bytes()
            + norm(&self.embd_norm)
            + self
                .layers
                .iter()
                .map(|l| {
                    [&l.wq, &l.wk, &l.wv, &l.wo, &l.up, &l.down]
                        .iter()
                        .map(|a| a.bytes())
                        .sum::<usize>()
                        + norm(&l.attn_norm)
                        + norm(&l.out_norm)
                })
                .sum::<usize>()
    }
}

/// Activation buffers, sized once for `n_ctx` rows.
struct RunState {
    /// [n_ctx, dim] hidden states
    x: Vec<f32>,
    /// [n_ctx, dim] a sub-layer's output, then the normed sum (swapped into x)
    xb: Vec<f32>,
    /// [n_ctx, dim] each
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// [n_heads, n_ctx, head_dim] attention output, head-major
    att: Vec<f32>,
    /// [n_ctx, dim] attention output, row-major
    att_rows: Vec<f32>,
    /// [n_ctx, hidden_dim]
    hb: Vec<f32>,
    /// [n_ctx * hidden_dim] a matrix product's transposed output (f32 weights)
    yt: Vec<f32>,
    xq: QuantizedActs,
    /// [threads, n_ctx] attention scores
    scores: Vec<f32>,
}

/// A loaded BERT encoder.
pub struct Bert {
    pub config: Config,
    pub weights: Weights,
    st: RunState,
    pool: ThreadPool,
}

impl Bert {
    pub fn load(src: &dyn ModelSource, threads: usize) -> Result<Self, ModelError> {
        let config = Config::from_source(src)?;
        let weights = Weights::load(src, &config)?;
        Ok(Self::new(config, weights, threads))
    }

    /// The BERT encoder inside another architecture's file (settings model v2).
    pub fn load_part(src: &dyn ModelSource, threads: usize) -> Result<Self, ModelError> {
        let config = Config::from_keys(src)?;
        let weights = Weights::load(src, &config)?;
        Ok(Self::new(config, weights, threads))
    }

    pub fn new(c: Config, weights: Weights, threads: usize) -> Self {
        let threads = threads.max(1);
        let (b, d) = (c.n_ctx, c.dim);
        let st = RunState {
            x: vec![0.0; b * d],
            xb: vec![0.0; b * d],
            q: vec![0.0; b * d],
            k: vec![0.0; b * d],
            v: vec![0.0; b * d],
            att: vec![0.0; b * d],
            att_rows: vec![0.0; b * d],
            hb: vec![0.0; b * c.hidden_dim],
            yt: vec![0.0; b * c.hidden_dim.max(d)],
            xq: QuantizedActs::new(),
            scores: vec![0.0; threads * b],
        };
        Self {
            config: c,
            weights,
            st,
            pool: ThreadPool::new(threads),
        }
    }

    /// The last hidden states of `tokens` ([CLS] and [SEP] included), one row
    /// of `dim` values per token.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        let c = &self.config;
        let m = tokens.len();
        super::check_input(tokens, c.n_ctx, c.vocab_size, "input")?;
        let (w, st, pool) = (&self.weights, &mut self.st, &self.pool);
        let (d, ff) = (c.dim, c.hidden_dim);

        // --- embeddings: token + position + token type 0, then LayerNorm ------
        let row = &mut st.q[..d]; // scratch until the first projection
        for (p, &t) in tokens.iter().enumerate() {
            let x = &mut st.x[p * d..(p + 1) * d];
            w.token_embd.row_into(t as usize, x);
            w.position_embd.row_into(p, row);
            ops::add(x, row);
            w.token_types.row_into(0, row);
            ops::add(x, row);
        }
        w.embd_norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
        std::mem::swap(&mut st.x, &mut st.xb);

        for lw in &w.layers {
            // --- self-attention (bidirectional), then x = norm(x + attn) ------
            quantize_if(&mut st.xq, lw.wq.w.is_q8(), &st.x, m, d);
            lw.wq.forward(pool, &st.x, &st.xq, m, &mut st.q, &mut st.yt);
            lw.wk.forward(pool, &st.x, &st.xq, m, &mut st.k, &mut st.yt);
            lw.wv.forward(pool, &st.x, &st.xq, m, &mut st.v, &mut st.yt);
            attention(c, pool, st, m);
            quantize_if(&mut st.xq, lw.wo.w.is_q8(), &st.att_rows, m, d);
            lw.wo
                .forward(pool, &st.att_rows, &st.xq, m, &mut st.xb, &mut st.yt);
            ops::add(&mut st.xb[..m * d], &st.x[..m * d]);
            lw.attn_norm.rows(&st.xb, m, c.norm_eps, &mut st.x);

            // --- feed-forward: x = norm(x + down(gelu(up(x)))) ----------------
            quantize_if(&mut st.xq, lw.up.w.is_q8(), &st.x, m, d);
            lw.up
                .forward(pool, &st.x, &st.xq, m, &mut st.hb, &mut st.yt);
            gelu(&mut st.hb[..m * ff]);
            quantize_if(&mut st.xq, lw.down.w.is_q8(), &st.hb, m, ff);
            lw.down
                .forward(pool, &st.hb, &st.xq, m, &mut st.xb, &mut st.yt);
            ops::add(&mut st.xb[..m * d], &st.x[..m * d]);
            lw.out_norm.rows(&st.xb, m, c.norm_eps, &mut st.x);
        }
        Ok(&st.x[..m * d])
    }

    /// The sentence vector of `tokens`: pooled as `bert.pooling_type` says,
    /// and scaled to unit length when `normalize` is set (sentence-transformers'
    /// Normalize module; cosine similarity is then a dot product).
    pub fn sentence_embedding(
        &mut self,
        tokens: &[u32],
        normalize: bool,
    ) -> Result<Vec<f32>, ModelError> {
        let (d, pooling) = (self.config.dim, self.config.pooling);
        let hidden = self.forward(tokens)?;
        let mut out = vec![0.0f32; d];
        match pooling {
            Pooling::Cls => out.copy_from_slice(&hidden[..d]),
            Pooling::Mean => {
                let rows = hidden.len() / d;
                for row in hidden.chunks_exact(d) {
                    ops::add(&mut out, row);
                }
                ops::scale(&mut out, 1.0 / rows as f32);
            }
        }
        if normalize {
            l2_normalize(&mut out);
        }
        Ok(out)
    }

    /// Bytes of the weights.
    pub fn weight_bytes(&self) -> usize {
        self.weights.bytes()
    }
}

/// `y[r * n + j] = W[j, :] · x[r, :]` for `m` rows and f32 weights `W[n x k]`.
/// `Linear::forward` reads the whole matrix once per row (it is built for
/// one-token decoding); here each weight row is read once for all `m` rows
/// while it sits in L1, and the output features are split over the pool.
/// Each task fills its features for every row in its own part of `yt`
/// (transposed, `[n, m]`), which is then copied into `y`.
#[allow(clippy::too_many_arguments)]
fn matmul_f32(
    pool: &ThreadPool,
    w: &[f32],
    n: usize,
    k: usize,
    x: &[f32],
    m: usize,
    y: &mut [f32],
    yt: &mut [f32],
) {
    let tasks = (pool.threads() * 4).min(n);
    let per_task = n.div_ceil(tasks);
    let parts: Vec<std::sync::Mutex<&mut [f32]>> = yt[..n * m]
        .chunks_mut(per_task * m)
        .map(std::sync::Mutex::new)
        .collect();
    pool.run(parts.len(), &|t| {
        // One task per part: the lock is never contended.
        let mut out = parts[t].lock().unwrap_or_else(|e| e.into_inner());
        let j0 = t * per_task;
        for (dj, col) in out.chunks_exact_mut(m).enumerate() {
            let row = &w[(j0 + dj) * k..(j0 + dj + 1) * k];
            for (r, v) in col.iter_mut().enumerate() {
                *v = ops::dot(row, &x[r * k..(r + 1) * k]);
            }
        }
    });
    drop(parts);
    for j in 0..n {
        for r in 0..m {
            y[r * n + j] = yt[j * m + r];
        }
    }
}

/// Quantizes `m` rows of `x` for the next Q8_0 matrix; f32 matrices read `x`.
fn quantize_if(xq: &mut QuantizedActs, q8: bool, x: &[f32], m: usize, k: usize) {
    if q8 {
        xq.quantize(&x[..m * k], m, k);
    }
}

/// Exact GELU, `x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))`: HF BERT's
/// `hidden_act = "gelu"`. (llama.cpp uses the tanh approximation here.)
fn gelu(x: &mut [f32]) {
    ops::gelu_erf(x);
}

/// Scales `v` to unit Euclidean length (sentence-transformers clamps the
/// norm at 1e-12, so a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = ops::dot(v, v).sqrt().max(1e-12);
    ops::scale(v, 1.0 / norm);
}

/// Multi-head attention of all `m` rows over all `m` rows (no mask: one
/// unpadded sentence), from `st.q/k/v` into `st.att_rows`.
fn attention(c: &Config, pool: &ThreadPool, st: &mut RunState, m: usize) {
    let (hd, d) = (c.head_dim, c.dim);
    let scale = 1.0 / (hd as f32).sqrt();
    let (q, k, v) = (&st.q, &st.k, &st.v);
    par_heads(
        pool,
        c.n_heads,
        m * m * d,
        &mut st.scores,
        &mut st.att[..m * d],
        |h0, h1, scores, out| {
            for h in h0..h1 {
                for r in 0..m {
                    let o = ((h - h0) * m + r) * hd;
                    attend(
                        &q[r * d + h * hd..r * d + (h + 1) * hd],
                        &k[h * hd..],
                        &v[h * hd..],
                        m,
                        d,
                        scale,
                        scores,
                        &mut out[o..o + hd],
                    );
                }
            }
        },
    );
    for h in 0..c.n_heads {
        for r in 0..m {
            let src = (h * m + r) * hd;
            st.att_rows[r * d + h * hd..r * d + (h + 1) * hd]
                .copy_from_slice(&st.att[src..src + hd]);
        }
    }
}

#[cfg(test)]
mod tests;
