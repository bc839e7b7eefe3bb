//! `mu`: knob's own encoder–decoder, exactly as docs/mu-gguf.md defines it.
//!
//! The shape follows candle's quantized T5: [`Mu::encode`] runs once per query
//! and computes every decoder layer's cross-attention K/V right away; then each
//! [`Mu::decode_step`] feeds one decoder token through causal self-attention
//! (with a KV cache), cross-attention over the encoder output and the FFN.
//! Unlike T5, Mu uses RoPE (NeoX pairing) and grouped-query attention, and
//! wraps every sub-layer in Dual LayerNorm: `x = x + post_norm(f(pre_norm(x)))`.
use knob_kernels::ops::{self, RopeStyle};
use knob_kernels::{QuantizedActs, ThreadPool};

mod beams;
pub use beams::BeamCache;

use super::{
    attend, gemv_many, par_heads, LanguageModel, Linear, Loader, ModelError, ModelSource, RopeTable,
};

/// Hyperparameters, read from the `mu.*` metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// d_model: width of the residual stream (`mu.embedding_length`)
    pub dim: usize,
    /// FFN hidden width (`mu.feed_forward_length`)
    pub hidden_dim: usize,
    /// encoder layers (`mu.encoder.block_count`), about 2/3 of all layers
    pub n_enc: usize,
    /// decoder layers (`mu.decoder.block_count`)
    pub n_dec: usize,
    /// query heads (`mu.attention.head_count`)
    pub n_heads: usize,
    /// key/value heads, divides n_heads (`mu.attention.head_count_kv`)
    pub n_kv_heads: usize,
    /// dim / n_heads
    pub head_dim: usize,
    /// vocabulary size (rows of `token_embd`)
    pub vocab_size: usize,
    /// longest encoder input in tokens (`mu.context_length`)
    pub enc_ctx: usize,
    /// longest decoder output in tokens, start token included (`mu.decoder.context_length`)
    pub dec_ctx: usize,
    /// LayerNorm epsilon (`mu.attention.layer_norm_epsilon`)
    pub norm_eps: f32,
    /// RoPE base (`mu.rope.freq_base`)
    pub rope_base: f32,
    /// first decoder input token (`mu.decoder_start_token_id`)
    pub start_token: u32,
    /// padding token (`tokenizer.ggml.padding_token_id`), never produced:
    /// its logit is set to -inf
    pub pad_token: Option<u32>,
}

impl Config {
    pub fn from_source(src: &dyn ModelSource) -> Result<Self, ModelError> {
        let arch = src.meta_str("general.architecture").unwrap_or_default();
        if arch != "mu" {
            return Err(ModelError::Unsupported(format!(
                "architecture {arch:?} is not mu"
            )));
        }
        let ld = Loader { src, arch: "mu" };
        let dim = ld.u32("embedding_length")?;
        let n_heads = ld.u32("attention.head_count")?;
        let n_kv_heads = ld.u32("attention.head_count_kv")?;
        if n_heads % n_kv_heads != 0 || dim % n_heads != 0 || (dim / n_heads) % 2 != 0 {
            return Err(ModelError::BadValue {
                key: "mu.attention.head_count_kv".into(),
                why: format!(
                    "{n_kv_heads} KV heads, {n_heads} heads and width {dim} do not fit together"
                ),
            });
        }
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
        let start_token = src
            .meta_u32("mu.decoder_start_token_id")
            .ok_or(ModelError::MissingKey("mu.decoder_start_token_id".into()))?;
        if start_token as usize >= vocab_size {
            return Err(ModelError::BadToken {
                token: start_token,
                vocab: vocab_size,
            });
        }
        Ok(Self {
            dim,
            hidden_dim: ld.u32("feed_forward_length")?,
            n_enc: ld.u32("encoder.block_count")?,
            n_dec: ld.u32("decoder.block_count")?,
            n_heads,
            n_kv_heads,
            head_dim: dim / n_heads,
            vocab_size,
            enc_ctx: ld.u32("context_length")?,
            dec_ctx: ld.u32("decoder.context_length")?,
            norm_eps: ld.f32("attention.layer_norm_epsilon")?,
            rope_base: ld.f32("rope.freq_base")?,
            start_token,
            pad_token: src
                .meta_u32("tokenizer.ggml.padding_token_id")
                .filter(|&p| (p as usize) < vocab_size),
        })
    }
    fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}

/// A LayerNorm with weight and bias, both [dim].
pub struct Norm {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Norm {
    pub(crate) fn load(ld: &Loader, name: &str, dim: usize) -> Result<Self, ModelError> {
        Ok(Self {
            w: ld.vector(&format!("{name}.weight"), dim)?,
            b: ld.vector(&format!("{name}.bias"), dim)?,
        })
    }
    /// Normalizes each of the `m` rows of `x` into `out`.
    pub(crate) fn rows(&self, x: &[f32], m: usize, eps: f32, out: &mut [f32]) {
        let d = self.w.len();
        for r in 0..m {
            ops::layer_norm(
                &x[r * d..(r + 1) * d],
                &self.w,
                &self.b,
                eps,
                &mut out[r * d..(r + 1) * d],
            );
        }
    }
}

/// Attention projections (self- or cross-attention) with their Dual LayerNorm.
pub struct Attention {
    /// pre-norm
    pub norm: Norm,
    /// [n_heads*head_dim, dim]
    pub wq: Linear,
    /// [n_kv_heads*head_dim, dim]
    pub wk: Linear,
    /// [n_kv_heads*head_dim, dim]
    pub wv: Linear,
    /// [dim, n_heads*head_dim]
    pub wo: Linear,
    /// post-norm, applied to the sub-layer's output before the residual add
    pub post_norm: Norm,
}

/// SwiGLU feed-forward with its Dual LayerNorm.
pub struct Ffn {
    pub norm: Norm,
    /// [hidden_dim, dim]
    pub gate: Linear,
    /// [hidden_dim, dim]
    pub up: Linear,
    /// [dim, hidden_dim]
    pub down: Linear,
    pub post_norm: Norm,
}

pub struct EncoderLayer {
    pub attn: Attention,
    pub ffn: Ffn,
}

pub struct DecoderLayer {
    pub attn: Attention,
    pub cross: Attention,
    pub ffn: Ffn,
}

pub struct Weights {
    /// [vocab_size, dim]: encoder and decoder input embedding, and (tied) the output projection
    pub token_embd: Linear,
    pub enc: Vec<EncoderLayer>,
    /// final encoder LayerNorm; its output is what cross-attention reads
    pub enc_norm: Norm,
    pub dec: Vec<DecoderLayer>,
    /// final decoder LayerNorm, before the tied output projection
    pub dec_norm: Norm,
}

impl Weights {
    /// Bytes of all weights.
    pub fn bytes(&self) -> usize {
        let norm = |n: &Norm| 4 * (n.w.len() + n.b.len());
        let attn = |a: &Attention| {
            norm(&a.norm)
                + norm(&a.post_norm)
                + [&a.wq, &a.wk, &a.wv, &a.wo]
                    .iter()
                    .map(|w| w.bytes())
                    .sum::<usize>()
        };
        let ffn = |f: &Ffn| {
            norm(&f.norm) + norm(&f.post_norm) + f.gate.bytes() + f.up.bytes() + f.down.bytes()
        };
        self.token_embd.bytes()
            + self
                .enc
                .iter()
                .map(|l| attn(&l.attn) + ffn(&l.ffn))
                .sum::<usize>()
            + self
                .dec
                .iter()
                .map(|l| attn(&l.attn) + attn(&l.cross) + ffn(&l.ffn))
                .sum::<usize>()
            + norm(&self.enc_norm)
            + norm(&self.dec_norm)
    }

    pub fn load(src: &dyn ModelSource, c: &Config) -> Result<Self, ModelError> {
        let ld = Loader { src, arch: "mu" };
        let (d, q, kv, ff) = (c.dim, c.n_heads * c.head_dim, c.kv_dim(), c.hidden_dim);
        let attn = |p: &str, kind: &str, norm: &str| -> Result<Attention, ModelError> {
            Ok(Attention {
                norm: Norm::load(&ld, &format!("{p}.{norm}"), d)?,
                wq: ld.linear(&format!("{p}.{kind}_q.weight"), q, d)?,
                wk: ld.linear(&format!("{p}.{kind}_k.weight"), kv, d)?,
                wv: ld.linear(&format!("{p}.{kind}_v.weight"), kv, d)?,
                wo: ld.linear(&format!("{p}.{kind}_output.weight"), d, q)?,
                post_norm: Norm::load(&ld, &format!("{p}.{kind}_post_norm"), d)?,
            })
        };
        let ffn = |p: &str| -> Result<Ffn, ModelError> {
            Ok(Ffn {
                norm: Norm::load(&ld, &format!("{p}.ffn_norm"), d)?,
                gate: ld.linear(&format!("{p}.ffn_gate.weight"), ff, d)?,
                up: ld.linear(&format!("{p}.ffn_up.weight"), ff, d)?,
                down: ld.linear(&format!("{p}.ffn_down.weight"), d, ff)?,
                post_norm: Norm::load(&ld, &format!("{p}.ffn_post_norm"), d)?,
            })
        };
        let mut enc = Vec::with_capacity(c.n_enc);
        for i in 0..c.n_enc {
            let p = format!("enc.blk.{i}");
            enc.push(EncoderLayer {
                attn: attn(&p, "attn", "attn_norm")?,
                ffn: ffn(&p)?,
            });
        }
        let mut dec = Vec::with_capacity(c.n_dec);
        for i in 0..c.n_dec {
            let p = format!("dec.blk.{i}");
            dec.push(DecoderLayer {
                attn: attn(&p, "attn", "attn_norm")?,
                cross: attn(&p, "cross", "cross_norm")?,
                ffn: ffn(&p)?,
            });
        }
        Ok(Self {
            token_embd: ld.linear("token_embd.weight", c.vocab_size, d)?,
            enc,
            enc_norm: Norm::load(&ld, "enc.output_norm", d)?,
            dec,
            dec_norm: Norm::load(&ld, "dec.output_norm", d)?,
        })
    }
}

/// Activation buffers, sized once for `enc_ctx` rows (the encoder runs the
/// whole query at once; the decoder uses the first row).
struct RunState {
    /// [enc_ctx, dim] residual stream
    x: Vec<f32>,
    /// [enc_ctx, dim] pre-norm output (sub-layer input), then post-norm output
    xb: Vec<f32>,
    /// [enc_ctx, dim] sub-layer output before its post-norm
    xb2: Vec<f32>,
    /// [enc_ctx, n_heads*head_dim]
    q: Vec<f32>,
    /// [enc_ctx, n_kv_heads*head_dim]
    k: Vec<f32>,
    /// [enc_ctx, n_kv_heads*head_dim]
    v: Vec<f32>,
    /// [n_heads, enc_ctx, head_dim] attention output, head-major
    att: Vec<f32>,
    /// [enc_ctx, n_heads*head_dim] attention output, row-major
    att_rows: Vec<f32>,
    /// [enc_ctx, hidden_dim]
    hb: Vec<f32>,
    /// [enc_ctx, hidden_dim]
    hb2: Vec<f32>,
    xq: QuantizedActs,
    /// [threads, max(enc_ctx, dec_ctx)]
    scores: Vec<f32>,
    /// [n_dec, enc_ctx, kv_dim] cross-attention keys, computed once per query
    cross_k: Vec<f32>,
    /// [n_dec, enc_ctx, kv_dim] cross-attention values, computed once per query
    cross_v: Vec<f32>,
}

/// A loaded Mu model with one session's state.
pub struct Mu {
    pub config: Config,
    pub weights: Weights,
    st: RunState,
    /// positions 0..max(enc_ctx, dec_ctx)
    rope: RopeTable,
    pool: ThreadPool,
    /// a one-thread pool for the parts of a fused job (see `gemv_many`)
    serial: ThreadPool,
    /// encoder tokens of the current query (0 before `encode`)
    n_enc_tokens: usize,
    /// the decoder's state for `decode_step`: one hypothesis (self-attention
    /// KV cache, position, logits)
    single: BeamCache,
}

impl Mu {
    pub fn load(src: &dyn ModelSource, threads: usize) -> Result<Self, ModelError> {
        let config = Config::from_source(src)?;
        let weights = Weights::load(src, &config)?;
        Ok(Self::new(config, weights, threads))
    }

    pub fn new(c: Config, weights: Weights, threads: usize) -> Self {
        let threads = threads.max(1);
        let (b, q, kv) = (c.enc_ctx, c.n_heads * c.head_dim, c.kv_dim());
        let mut st = RunState {
            x: vec![0.0; b * c.dim],
            xb: vec![0.0; b * c.dim],
            xb2: vec![0.0; b * c.dim],
            q: vec![0.0; b * q],
            k: vec![0.0; b * kv],
            v: vec![0.0; b * kv],
            att: vec![0.0; b * q],
            att_rows: vec![0.0; b * q],
            hb: vec![0.0; b * c.hidden_dim],
            hb2: vec![0.0; b * c.hidden_dim],
            xq: QuantizedActs::new(),
            scores: vec![0.0; threads * c.enc_ctx.max(c.dec_ctx)],
            cross_k: vec![0.0; c.n_dec * b * kv],
            cross_v: vec![0.0; c.n_dec * b * kv],
        };
        let widest = c.dim.max(c.hidden_dim).max(q);
        st.xq.quantize(&vec![0.0; b * widest], b, widest);
        let rope = RopeTable::new(c.enc_ctx.max(c.dec_ctx), c.head_dim, c.rope_base, 1.0, None);
        let single = BeamCache::for_config(&c, 1);
        Self {
            config: c,
            weights,
            st,
            rope,
            pool: ThreadPool::new(threads),
            serial: ThreadPool::new(1),
            n_enc_tokens: 0,
            single,
        }
    }

    /// Encodes one query and computes every decoder layer's cross-attention
    /// K/V from it. Resets the decoder.
    pub fn encode(&mut self, tokens: &[u32]) -> Result<(), ModelError> {
        let c = &self.config;
        let m = tokens.len();
        if m == 0 {
            return Err(ModelError::BadValue {
                key: "prompt".into(),
                why: "no tokens".into(),
            });
        }
        if m > c.enc_ctx {
            return Err(ModelError::ContextFull {
                needed: m,
                limit: c.enc_ctx,
            });
        }
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(ModelError::BadToken {
                token,
                vocab: c.vocab_size,
            });
        }
        let (w, st, pool) = (&self.weights, &mut self.st, &self.pool);
        let (d, kv) = (c.dim, c.kv_dim());

        for (r, &t) in tokens.iter().enumerate() {
            w.token_embd
                .row_into(t as usize, &mut st.x[r * d..(r + 1) * d]);
        }
        for lw in &w.enc {
            // --- bidirectional self-attention, RoPE at positions 0..m ---------
            lw.attn.norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
            st.xq.quantize(&st.xb[..m * d], m, d);
            lw.attn.wq.forward(pool, &st.xb, &st.xq, m, &mut st.q);
            lw.attn.wk.forward(pool, &st.xb, &st.xq, m, &mut st.k);
            lw.attn.wv.forward(pool, &st.xb, &st.xq, m, &mut st.v);
            let q_dim = c.n_heads * c.head_dim;
            for r in 0..m {
                let (cos, sin) = self.rope.at(r);
                ops::rope(
                    &mut st.q[r * q_dim..(r + 1) * q_dim],
                    c.head_dim,
                    cos,
                    sin,
                    RopeStyle::Neox,
                );
                ops::rope(
                    &mut st.k[r * kv..(r + 1) * kv],
                    c.head_dim,
                    cos,
                    sin,
                    RopeStyle::Neox,
                );
            }
            attention(
                c,
                pool,
                &st.q,
                &st.k,
                &st.v,
                m,
                m,
                &mut st.scores,
                &mut st.att,
                &mut st.att_rows,
            );
            st.xq.quantize(&st.att_rows[..m * q_dim], m, q_dim);
            lw.attn
                .wo
                .forward(pool, &st.att_rows, &st.xq, m, &mut st.xb2);
            lw.attn.post_norm.rows(&st.xb2, m, c.norm_eps, &mut st.xb);
            ops::add(&mut st.x[..m * d], &st.xb[..m * d]);

            // --- feed-forward ------------------------------------------------
            ffn(c, pool, &self.serial, &lw.ffn, m, st);
        }
        // The encoder output: final norm, kept in xb.
        w.enc_norm.rows(&st.x, m, c.norm_eps, &mut st.xb);

        // --- cross-attention K/V for every decoder layer, once per query ------
        st.xq.quantize(&st.xb[..m * d], m, d);
        let per_layer = c.enc_ctx * kv;
        for (l, lw) in w.dec.iter().enumerate() {
            let at = l * per_layer;
            lw.cross
                .wk
                .forward(pool, &st.xb, &st.xq, m, &mut st.cross_k[at..at + per_layer]);
            lw.cross
                .wv
                .forward(pool, &st.xb, &st.xq, m, &mut st.cross_v[at..at + per_layer]);
        }
        self.n_enc_tokens = m;
        self.single.reset();
        Ok(())
    }

    /// Feeds one decoder token at the next position; returns the logits for
    /// the token after it. Call [`Mu::encode`] first. One hypothesis of the
    /// batched decoder in `beams.rs`, so the two can never disagree.
    pub fn decode_step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        // Taken out for the call: decode_beams borrows the model mutably too.
        let mut single = std::mem::take(&mut self.single);
        let result = self.decode_beams(&mut single, &[token]).map(|_| ());
        self.single = single;
        result?;
        Ok(self.single.logits(1))
    }
}

/// `x += post_norm(down(silu(gate(xn)) * up(xn)))` with `xn = norm(x)`, on `m` rows.
fn ffn(c: &Config, pool: &ThreadPool, serial: &ThreadPool, f: &Ffn, m: usize, st: &mut RunState) {
    let (d, ff) = (c.dim, c.hidden_dim);
    f.norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
    st.xq.quantize(&st.xb[..m * d], m, d);
    if m == 1 {
        gemv_many(
            pool,
            serial,
            [(&f.gate, &mut st.hb[..]), (&f.up, &mut st.hb2[..])],
            &st.xb,
            &st.xq,
        );
    } else {
        f.gate.forward(pool, &st.xb, &st.xq, m, &mut st.hb);
        f.up.forward(pool, &st.xb, &st.xq, m, &mut st.hb2);
    }
    ops::silu_mul(&mut st.hb[..m * ff], &st.hb2[..m * ff]);
    st.xq.quantize(&st.hb[..m * ff], m, ff);
    f.down.forward(pool, &st.hb, &st.xq, m, &mut st.xb2);
    f.post_norm.rows(&st.xb2, m, c.norm_eps, &mut st.xb);
    ops::add(&mut st.x[..m * d], &st.xb[..m * d]);
}

/// Multi-head attention of `m` query rows over `n_keys` keys (row stride
/// kv_dim). Every row sees every key: the encoder is bidirectional, and the
/// decoder's causality comes from feeding one row that sees only the cache so
/// far. Output is row-major in `rows`.
#[allow(clippy::too_many_arguments)]
fn attention(
    c: &Config,
    pool: &ThreadPool,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    m: usize,
    n_keys: usize,
    scores: &mut [f32],
    att: &mut [f32],
    rows: &mut [f32],
) {
    let (hd, kv, q_dim) = (c.head_dim, c.kv_dim(), c.n_heads * c.head_dim);
    let group = c.n_heads / c.n_kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let work = m * n_keys * hd * c.n_heads;
    par_heads(
        pool.threads(),
        c.n_heads,
        work,
        scores,
        &mut att[..m * q_dim],
        |h0, h1, scores, out| {
            for h in h0..h1 {
                let kvo = (h / group) * hd;
                for r in 0..m {
                    let o = ((h - h0) * m + r) * hd;
                    let qr = &q[r * q_dim + h * hd..r * q_dim + (h + 1) * hd];
                    attend(
                        qr,
                        &keys[kvo..],
                        &values[kvo..],
                        n_keys,
                        kv,
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
            rows[r * q_dim + h * hd..r * q_dim + (h + 1) * hd].copy_from_slice(&att[src..src + hd]);
        }
    }
}

impl LanguageModel for Mu {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }
    /// The encoder's limit: the longest prompt.
    fn context_length(&self) -> usize {
        self.config.enc_ctx
    }
    fn position(&self) -> usize {
        self.single.position()
    }
    /// Encodes the prompt, then runs the decoder start token.
    fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        self.encode(tokens)?;
        let start = self.config.start_token;
        self.decode_step(start)
    }
    fn decode(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.decode_step(token)
    }
    fn reset(&mut self) {
        self.single.reset();
        self.n_enc_tokens = 0;
    }
    fn threads(&self) -> usize {
        self.pool.threads()
    }
    fn memory(&self) -> super::MemoryUse {
        let st = &self.st;
        super::MemoryUse {
            weights: self.weights.bytes(),
            kv_cache: 4 * (self.single.kv_len() + st.cross_k.len() + st.cross_v.len()),
        }
    }
}
