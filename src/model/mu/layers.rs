//! Mu's weights, activation buffers and the two sub-layers that the encoder
//! and both decoders share (attention and the feed-forward block).
use knob_kernels::ops;
use knob_kernels::{QuantizedActs, ThreadPool};

use crate::model::{attend, gemv_many, par_heads, Linear, Loader, ModelError, ModelSource, Repack};

/// Which encoder a mu file holds (`mu.encoder.kind`, docs/mu-gguf.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderKind {
    /// Version 1: knob's own pre-norm layers over the token embedding the
    /// decoder shares (no key, or `"mu"`).
    Mu,
    /// Version 2: a pretrained BERT (all-MiniLM-L6-v2) under the `bert.*`
    /// keys, with its own WordPiece vocabulary (`"bert"`).
    Bert,
}

impl EncoderKind {
    /// The decoder's tied embedding: shared with the encoder in v1, its own
    /// over the action vocabulary in v2.
    pub fn decoder_embedding(self) -> &'static str {
        match self {
            EncoderKind::Mu => "token_embd.weight",
            EncoderKind::Bert => "dec.token_embd.weight",
        }
    }
}

/// Hyperparameters, read from the `mu.*` metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// the encoder's kind (`mu.encoder.kind`)
    pub encoder: EncoderKind,
    /// width of the encoder output that cross-attention reads: `dim` in v1,
    /// `mu.encoder.embedding_length` (384 for MiniLM) in v2
    pub enc_dim: usize,
    /// the encoder's vocabulary: `vocab_size` in v1, BERT's WordPieces in v2
    pub enc_vocab: usize,
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
    /// the decoder's vocabulary (rows of its tied embedding)
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
    /// the decoder's end token (`tokenizer.ggml.eos_token_id` in v1,
    /// `mu.decoder.eos_token_id` in v2)
    pub end_token: Option<u32>,
    /// padding token (`tokenizer.ggml.padding_token_id` in v1,
    /// `mu.decoder.padding_token_id` in v2), never produced: its logit is set to -inf
    pub pad_token: Option<u32>,
}

impl Config {
    pub fn from_source(src: &dyn ModelSource) -> Result<Self, ModelError> {
        let ld = Loader::for_arch(src, "mu")?;
        let encoder = match src.meta_str("mu.encoder.kind").as_deref() {
            None | Some("mu") => EncoderKind::Mu,
            Some("bert") => EncoderKind::Bert,
            Some(other) => {
                return Err(ModelError::Unsupported(format!(
                    "mu.encoder.kind {other:?} (knob runs \"mu\" and \"bert\")"
                )))
            }
        };
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
        let rows = |name: &str, width: usize| -> Result<usize, ModelError> {
            let dims = src
                .tensor_dims(name)
                .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
            match dims.as_slice() {
                [d, v] if *d == width && *v > 0 => Ok(*v),
                _ => Err(ModelError::BadShape {
                    name: name.into(),
                    expected: vec![width, 0],
                    got: dims,
                }),
            }
        };
        let vocab_size = rows(encoder.decoder_embedding(), dim)?;
        let (enc_dim, enc_vocab) = match encoder {
            EncoderKind::Mu => (dim, vocab_size),
            EncoderKind::Bert => {
                let enc_dim = ld.u32("encoder.embedding_length")?;
                (enc_dim, rows("token_embd.weight", enc_dim)?)
            }
        };
        // v2's tokenizer.ggml.* keys describe the encoder's WordPieces; the
        // decoder's own ids live under mu.decoder.*.
        let (end_key, pad_key) = match encoder {
            EncoderKind::Mu => (
                "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.padding_token_id",
            ),
            EncoderKind::Bert => ("mu.decoder.eos_token_id", "mu.decoder.padding_token_id"),
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
            encoder,
            enc_dim,
            enc_vocab,
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
            end_token: src.meta_u32(end_key).filter(|&e| (e as usize) < vocab_size),
            pad_token: src.meta_u32(pad_key).filter(|&p| (p as usize) < vocab_size),
        })
    }
    pub(super) fn kv_dim(&self) -> usize {
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
    /// [vocab_size, dim]: the decoder's input embedding and (tied) its output
    /// projection; in v1 also the encoder's input embedding
    pub token_embd: Linear,
    /// v1's encoder layers (none in v2, whose BERT is loaded apart)
    pub enc: Vec<EncoderLayer>,
    /// v1's final encoder LayerNorm; its output is what cross-attention reads
    pub enc_norm: Option<Norm>,
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
            + self.enc_norm.as_ref().map_or(0, norm)
            + norm(&self.dec_norm)
    }

    pub fn load(src: &dyn ModelSource, c: &Config) -> Result<Self, ModelError> {
        let ld = Loader {
            src,
            arch: "mu",
            repack: Repack::OnAnyTiledPath,
        };
        let (d, q, kv, ff) = (c.dim, c.n_heads * c.head_dim, c.kv_dim(), c.hidden_dim);
        // `kv_in`: the width K and V read (cross-attention reads the encoder's)
        let attn =
            |p: &str, kind: &str, norm: &str, kv_in: usize| -> Result<Attention, ModelError> {
                Ok(Attention {
                    norm: Norm::load(&ld, &format!("{p}.{norm}"), d)?,
                    wq: ld.linear(&format!("{p}.{kind}_q.weight"), q, d)?,
                    wk: ld.linear(&format!("{p}.{kind}_k.weight"), kv, kv_in)?,
                    wv: ld.linear(&format!("{p}.{kind}_v.weight"), kv, kv_in)?,
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
        let own_encoder = c.encoder == EncoderKind::Mu;
        let mut enc = Vec::new();
        for i in 0..if own_encoder { c.n_enc } else { 0 } {
            let p = format!("enc.blk.{i}");
            enc.push(EncoderLayer {
                attn: attn(&p, "attn", "attn_norm", d)?,
                ffn: ffn(&p)?,
            });
        }
        let mut dec = Vec::with_capacity(c.n_dec);
        for i in 0..c.n_dec {
            let p = format!("dec.blk.{i}");
            dec.push(DecoderLayer {
                attn: attn(&p, "attn", "attn_norm", d)?,
                cross: attn(&p, "cross", "cross_norm", c.enc_dim)?,
                ffn: ffn(&p)?,
            });
        }
        Ok(Self {
            token_embd: ld.linear(c.encoder.decoder_embedding(), c.vocab_size, d)?,
            enc,
            enc_norm: if own_encoder {
                Some(Norm::load(&ld, "enc.output_norm", d)?)
            } else {
                None
            },
            dec,
            dec_norm: Norm::load(&ld, "dec.output_norm", d)?,
        })
    }
}

/// Activation buffers, sized once for `enc_ctx` rows (the encoder runs the
/// whole query at once; the decoder uses the first row).
pub(super) struct RunState {
    /// [enc_ctx, dim] residual stream
    pub(super) x: Vec<f32>,
    /// [enc_ctx, dim] pre-norm output (sub-layer input), then post-norm output
    pub(super) xb: Vec<f32>,
    /// [enc_ctx, dim] sub-layer output before its post-norm
    pub(super) xb2: Vec<f32>,
    /// [enc_ctx, n_heads*head_dim]
    pub(super) q: Vec<f32>,
    /// [enc_ctx, n_kv_heads*head_dim]
    pub(super) k: Vec<f32>,
    /// [enc_ctx, n_kv_heads*head_dim]
    pub(super) v: Vec<f32>,
    /// [n_heads, enc_ctx, head_dim] attention output, head-major
    pub(super) att: Vec<f32>,
    /// [enc_ctx, n_heads*head_dim] attention output, row-major
    pub(super) att_rows: Vec<f32>,
    /// [enc_ctx, hidden_dim]
    pub(super) hb: Vec<f32>,
    /// [enc_ctx, hidden_dim]
    pub(super) hb2: Vec<f32>,
    pub(super) xq: QuantizedActs,
    /// [threads, max(enc_ctx, dec_ctx)]
    pub(super) scores: Vec<f32>,
    /// [n_dec, enc_ctx, kv_dim] cross-attention keys, computed once per query
    pub(super) cross_k: Vec<f32>,
    /// [n_dec, enc_ctx, kv_dim] cross-attention values, computed once per query
    pub(super) cross_v: Vec<f32>,
    /// [enc_ctx, enc_dim] v2: the BERT encoder's output (v1's stays in `xb`)
    pub(super) enc_out: Vec<f32>,
}

impl RunState {
    /// Buffers for `c`, with attention scores for `threads` threads.
    pub(super) fn new(c: &Config, threads: usize) -> RunState {
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
            enc_out: match c.encoder {
                EncoderKind::Mu => Vec::new(),
                EncoderKind::Bert => vec![0.0; b * c.enc_dim],
            },
        };
        let widest = c.dim.max(c.hidden_dim).max(q).max(c.enc_dim);
        st.xq.quantize(&vec![0.0; b * widest], b, widest);
        st
    }
}

/// `x += post_norm(down(silu(gate(xn)) * up(xn)))` with `xn = norm(x)`, on `m` rows.
pub(super) fn ffn(
    c: &Config,
    pool: &ThreadPool,
    serial: &ThreadPool,
    f: &Ffn,
    m: usize,
    st: &mut RunState,
) {
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
pub(super) fn attention(
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
        pool,
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
