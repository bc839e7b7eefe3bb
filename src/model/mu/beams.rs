//! Decoding several hypotheses of one query at once, for beam search.
//!
//! All hypotheses advance in lockstep (same position), so one step is one
//! pass over the decoder weights with `m = beams` rows: the matrix products
//! become a gemm that loads each weight block once for every beam. Each beam
//! has its own self-attention KV cache; the cross-attention K/V computed by
//! `encode` are shared.
use knob_kernels::ops::{self, RopeStyle};
use knob_kernels::ThreadPool;

use super::layers::{attention, ffn, Config, RunState, Weights};
use crate::model::{gemv_many, ModelError, RopeTable};

/// Per-hypothesis decoder state; allocated once, reused for every query.
/// (`Default` is an empty placeholder, used while a cache is lent out.)
#[derive(Default)]
pub struct BeamCache {
    capacity: usize,
    /// Live hypotheses.
    beams: usize,
    /// Tokens fed so far (the same for every hypothesis).
    pos: usize,
    /// [n_dec, capacity, dec_ctx, kv_dim]
    key_cache: Vec<f32>,
    /// [n_dec, capacity, dec_ctx, kv_dim]
    value_cache: Vec<f32>,
    /// One layer's caches for every beam, used while reordering.
    scratch: Vec<f32>,
    /// [capacity, vocab_size]
    logits: Vec<f32>,
}

impl BeamCache {
    /// Room for `capacity` hypotheses; at most the encoder context, since the
    /// run-state rows are shared with the encoder.
    pub(super) fn for_config(c: &Config, capacity: usize) -> BeamCache {
        let capacity = capacity.clamp(1, c.enc_ctx);
        let per_layer = capacity * c.dec_ctx * c.kv_dim();
        BeamCache {
            capacity,
            beams: 0,
            pos: 0,
            key_cache: vec![0.0; c.n_dec * per_layer],
            value_cache: vec![0.0; c.n_dec * per_layer],
            scratch: vec![0.0; per_layer],
            logits: vec![0.0; capacity * c.vocab_size],
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// Floats held by the self-attention KV caches.
    pub fn kv_len(&self) -> usize {
        self.key_cache.len() + self.value_cache.len()
    }

    /// The logits of the last step's first `n` hypotheses.
    pub fn logits(&self, n: usize) -> &[f32] {
        let vocab = self.logits.len() / self.capacity.max(1);
        &self.logits[..n.min(self.beams) * vocab]
    }

    /// Forgets every hypothesis; the next step starts at position 0.
    pub fn reset(&mut self) {
        self.beams = 0;
        self.pos = 0;
    }

    /// New hypothesis `i` continues old hypothesis `from[i]`.
    pub(super) fn reorder_for(&mut self, c: &Config, from: &[usize]) {
        let kv = c.kv_dim();
        let beam_len = c.dec_ctx * kv;
        let used = self.pos * kv;
        let per_layer = self.capacity * beam_len;
        assert!(from.len() <= self.capacity && from.iter().all(|&f| f < self.beams));
        // Only the filled positions of hypotheses that move are copied (a
        // step reorders a few KiB, not the whole cache).
        for cache in [&mut self.key_cache, &mut self.value_cache] {
            for l in 0..c.n_dec {
                let layer = &mut cache[l * per_layer..(l + 1) * per_layer];
                for (i, &f) in from.iter().enumerate() {
                    if f != i {
                        self.scratch[f * used..(f + 1) * used]
                            .copy_from_slice(&layer[f * beam_len..f * beam_len + used]);
                    }
                }
                for (i, &f) in from.iter().enumerate() {
                    if f != i {
                        layer[i * beam_len..i * beam_len + used]
                            .copy_from_slice(&self.scratch[f * used..(f + 1) * used]);
                    }
                }
            }
        }
        self.beams = from.len();
    }
}

/// What the batched decoder borrows from [`Mu`](super::Mu).
pub(super) struct Parts<'a> {
    pub config: &'a Config,
    pub weights: &'a Weights,
    pub st: &'a mut RunState,
    /// positions 0..max(enc_ctx, dec_ctx)
    pub rope: &'a RopeTable,
    pub pool: &'a ThreadPool,
    /// a one-thread pool for the parts of a fused job (see `gemv_many`)
    pub serial: &'a ThreadPool,
    /// encoder tokens of the current query (0 before `encode`)
    pub n_enc_tokens: usize,
}

/// [`Mu::decode_beams`](super::Mu::decode_beams).
pub(super) fn decode<'c>(
    parts: Parts<'_>,
    cache: &'c mut BeamCache,
    tokens: &[u32],
) -> Result<&'c [f32], ModelError> {
    let Parts {
        config: c,
        weights: w,
        st,
        rope,
        pool,
        serial,
        n_enc_tokens,
    } = parts;
    let m = tokens.len();
    if n_enc_tokens == 0 {
        return Err(ModelError::BadValue {
            key: "decoder".into(),
            why: "decode_beams before encode".into(),
        });
    }
    if m == 0 || m > cache.capacity || (cache.pos > 0 && m > cache.beams) {
        return Err(ModelError::BadValue {
            key: "beams".into(),
            why: format!(
                "{m} tokens for {} live of {} hypotheses",
                cache.beams, cache.capacity
            ),
        });
    }
    if cache.pos >= c.dec_ctx {
        return Err(ModelError::ContextFull {
            needed: cache.pos + 1,
            limit: c.dec_ctx,
        });
    }
    if let Some(&token) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
        return Err(ModelError::BadToken {
            token,
            vocab: c.vocab_size,
        });
    }
    let (d, kv, q_dim, hd) = (c.dim, c.kv_dim(), c.n_heads * c.head_dim, c.head_dim);
    let (pos, t_enc) = (cache.pos, n_enc_tokens);
    let beam_len = c.dec_ctx * kv;
    let per_layer = cache.capacity * beam_len;

    for (r, &t) in tokens.iter().enumerate() {
        w.token_embd
            .row_into(t as usize, &mut st.x[r * d..(r + 1) * d]);
    }
    for (l, lw) in w.dec.iter().enumerate() {
        // --- causal self-attention, each beam over its own cache ----------
        lw.attn.norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
        st.xq.quantize(&st.xb[..m * d], m, d);
        if m == 1 {
            // One row: the three products as one pool job (fewer wake-ups).
            let jobs = [
                (&lw.attn.wq, &mut st.q[..]),
                (&lw.attn.wk, &mut st.k[..]),
                (&lw.attn.wv, &mut st.v[..]),
            ];
            gemv_many(pool, serial, jobs, &st.xb, &st.xq);
        } else {
            lw.attn.wq.forward(pool, &st.xb, &st.xq, m, &mut st.q);
            lw.attn.wk.forward(pool, &st.xb, &st.xq, m, &mut st.k);
            lw.attn.wv.forward(pool, &st.xb, &st.xq, m, &mut st.v);
        }
        let (cos, sin) = rope.at(pos);
        for r in 0..m {
            ops::rope(
                &mut st.q[r * q_dim..(r + 1) * q_dim],
                hd,
                cos,
                sin,
                RopeStyle::Neox,
            );
            ops::rope(
                &mut st.k[r * kv..(r + 1) * kv],
                hd,
                cos,
                sin,
                RopeStyle::Neox,
            );
            let at = l * per_layer + r * beam_len;
            cache.key_cache[at + pos * kv..at + (pos + 1) * kv]
                .copy_from_slice(&st.k[r * kv..(r + 1) * kv]);
            cache.value_cache[at + pos * kv..at + (pos + 1) * kv]
                .copy_from_slice(&st.v[r * kv..(r + 1) * kv]);
            attention(
                c,
                pool,
                &st.q[r * q_dim..(r + 1) * q_dim],
                &cache.key_cache[at..at + beam_len],
                &cache.value_cache[at..at + beam_len],
                1,
                pos + 1,
                &mut st.scores,
                &mut st.att,
                &mut st.att_rows[r * q_dim..(r + 1) * q_dim],
            );
        }
        st.xq.quantize(&st.att_rows[..m * q_dim], m, q_dim);
        lw.attn
            .wo
            .forward(pool, &st.att_rows, &st.xq, m, &mut st.xb2);
        lw.attn.post_norm.rows(&st.xb2, m, c.norm_eps, &mut st.xb);
        ops::add(&mut st.x[..m * d], &st.xb[..m * d]);

        // --- cross-attention over the shared encoder output ---------------
        lw.cross.norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
        st.xq.quantize(&st.xb[..m * d], m, d);
        lw.cross.wq.forward(pool, &st.xb, &st.xq, m, &mut st.q);
        let at = l * c.enc_ctx * kv;
        for r in 0..m {
            attention(
                c,
                pool,
                &st.q[r * q_dim..(r + 1) * q_dim],
                &st.cross_k[at..],
                &st.cross_v[at..],
                1,
                t_enc,
                &mut st.scores,
                &mut st.att,
                &mut st.att_rows[r * q_dim..(r + 1) * q_dim],
            );
        }
        st.xq.quantize(&st.att_rows[..m * q_dim], m, q_dim);
        lw.cross
            .wo
            .forward(pool, &st.att_rows, &st.xq, m, &mut st.xb2);
        lw.cross.post_norm.rows(&st.xb2, m, c.norm_eps, &mut st.xb);
        ops::add(&mut st.x[..m * d], &st.xb[..m * d]);

        // --- feed-forward ---------------------------------------------------
        ffn(c, pool, serial, &lw.ffn, m, st);
    }
    // --- final norm and tied output projection ------------------------------
    w.dec_norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
    st.xq.quantize(&st.xb[..m * d], m, d);
    let logits = &mut cache.logits[..m * c.vocab_size];
    w.token_embd.forward(pool, &st.xb, &st.xq, m, logits);
    if let Some(pad) = c.pad_token {
        // As in decode_step: padding is never produced.
        for row in logits.chunks_mut(c.vocab_size) {
            row[pad as usize] = f32::NEG_INFINITY;
        }
    }
    cache.beams = m;
    cache.pos += 1;
    Ok(&cache.logits[..m * c.vocab_size])
}
