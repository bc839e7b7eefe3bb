//! Decoding several continuations of one prompt at once, for beam search
//! with a decoder-only model (issue 19's settings model in llama's shape).
//!
//! The prompt (query and separator) is prefilled once into the model's own
//! KV cache; every hypothesis then reads that shared prompt KV and keeps only
//! the K/V of its own generated tokens here. All hypotheses advance in
//! lockstep, so one step is one pass over the weights with `m = beams` rows,
//! as mu's batched decoder does (`super::super::mu::BeamCache`).
use knob_kernels::ops::{self, RopeStyle};

use super::Llama;
use crate::model::{gemv_many, ModelError};

/// Per-hypothesis state of the generated tokens; allocated once, reused for
/// every prompt.
pub struct LlamaBeamCache {
    capacity: usize,
    /// Live hypotheses.
    beams: usize,
    /// Prompt tokens in the model's cache (positions 0..prompt).
    prompt: usize,
    /// Tokens each hypothesis has fed after the prompt.
    gen: usize,
    /// Most tokens a hypothesis may feed.
    gen_ctx: usize,
    /// [n_layers, capacity, gen_ctx, kv_dim]
    key_cache: Vec<f32>,
    /// [n_layers, capacity, gen_ctx, kv_dim]
    value_cache: Vec<f32>,
    /// One layer's caches for every beam, used while reordering.
    scratch: Vec<f32>,
    /// [capacity, vocab_size]
    logits: Vec<f32>,
}

impl LlamaBeamCache {
    /// Room for `capacity` hypotheses of up to `gen_ctx` generated tokens each.
    pub fn new(model: &Llama, capacity: usize, gen_ctx: usize) -> LlamaBeamCache {
        let c = &model.config;
        let capacity = capacity.clamp(1, model.max_batch);
        let gen_ctx = gen_ctx.clamp(1, model.n_ctx);
        let per_layer = capacity * gen_ctx * c.kv_dim();
        LlamaBeamCache {
            capacity,
            beams: 0,
            prompt: 0,
            gen: 0,
            gen_ctx,
            key_cache: vec![0.0; c.n_layers * per_layer],
            value_cache: vec![0.0; c.n_layers * per_layer],
            scratch: vec![0.0; per_layer],
            logits: vec![0.0; capacity * c.vocab_size],
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Floats held by the per-hypothesis KV caches.
    pub fn kv_len(&self) -> usize {
        self.key_cache.len() + self.value_cache.len()
    }

    /// Tokens a hypothesis may still feed (the cache's room and the model's context).
    pub fn room(&self, model: &Llama) -> usize {
        (self.gen_ctx - self.gen).min(model.n_ctx.saturating_sub(self.prompt + self.gen))
    }

    /// One hypothesis that continues the prompt `model` has just prefilled,
    /// with the prefill's logits as its first row.
    pub fn start_after_prefill(&mut self, model: &Llama) {
        let vocab = model.config.vocab_size;
        self.prompt = model.pos;
        self.gen = 0;
        self.beams = 1;
        self.logits[..vocab].copy_from_slice(&model.st.logits);
    }

    /// The logits of the last step's first `n` hypotheses.
    pub fn logits(&self, n: usize) -> &[f32] {
        let vocab = self.logits.len() / self.capacity;
        &self.logits[..n.min(self.beams) * vocab]
    }

    /// The logits rows of the last step, to edit (the settings model masks padding).
    pub fn logits_mut(&mut self, n: usize) -> &mut [f32] {
        let vocab = self.logits.len() / self.capacity;
        &mut self.logits[..n.min(self.beams) * vocab]
    }

    /// New hypothesis `i` continues old hypothesis `from[i]`.
    pub fn reorder(&mut self, model: &Llama, from: &[usize]) {
        let c = &model.config;
        let kv = c.kv_dim();
        let beam_len = self.gen_ctx * kv;
        let used = self.gen * kv;
        let per_layer = self.capacity * beam_len;
        assert!(from.len() <= self.capacity && from.iter().all(|&f| f < self.beams));
        for cache in [&mut self.key_cache, &mut self.value_cache] {
            for l in 0..c.n_layers {
                let layer = &mut cache[l * per_layer..(l + 1) * per_layer];
                self.scratch[..per_layer].copy_from_slice(layer);
                for (i, &f) in from.iter().enumerate() {
                    layer[i * beam_len..i * beam_len + used]
                        .copy_from_slice(&self.scratch[f * beam_len..f * beam_len + used]);
                }
            }
        }
        self.beams = from.len();
    }
}

impl Llama {
    /// Feeds one token to each of `tokens.len()` hypotheses after the
    /// prefilled prompt; returns their logits, one row of `vocab_size` each.
    /// Start with [`LlamaBeamCache::start_after_prefill`]; between steps,
    /// [`LlamaBeamCache::reorder`]. The model's own position stays at the
    /// prompt's end, so the next prompt starts from [`super::LanguageModel::reset`].
    pub fn decode_beams<'c>(
        &mut self,
        cache: &'c mut LlamaBeamCache,
        tokens: &[u32],
    ) -> Result<&'c [f32], ModelError> {
        let m = tokens.len();
        if cache.prompt == 0 || cache.prompt != self.pos {
            return Err(ModelError::BadValue {
                key: "beams".into(),
                why: "decode_beams needs the prompt prefilled first".into(),
            });
        }
        if m == 0 || m > cache.capacity || (cache.gen > 0 && m > cache.beams) {
            return Err(ModelError::BadValue {
                key: "beams".into(),
                why: format!(
                    "{m} tokens for {} live of {} hypotheses",
                    cache.beams, cache.capacity
                ),
            });
        }
        if cache.room(self) == 0 {
            return Err(ModelError::ContextFull {
                needed: cache.prompt + cache.gen + 1,
                limit: self.n_ctx.min(cache.prompt + cache.gen_ctx),
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
        let c = &self.config;
        let w = &self.weights;
        let st = &mut self.st;
        let pool = &self.pool;
        let (dim, hd, q_dim, kv_dim, hidden) =
            (c.dim, c.head_dim, c.q_dim(), c.kv_dim(), c.hidden_dim);
        let (prompt, g) = (cache.prompt, cache.gen);
        let pos = prompt + g;
        let beam_len = cache.gen_ctx * kv_dim;
        let per_layer = cache.capacity * beam_len;

        // --- token embeddings -------------------------------------------------
        for (r, &t) in tokens.iter().enumerate() {
            w.token_embd
                .row_into(t as usize, &mut st.x[r * dim..(r + 1) * dim]);
        }
        for (l, lw) in w.layers.iter().enumerate() {
            // --- attention over the shared prompt, then the beam's own tokens --
            for r in 0..m {
                ops::rms_norm(
                    &st.x[r * dim..(r + 1) * dim],
                    &lw.attn_norm,
                    c.norm_eps,
                    &mut st.xb[r * dim..(r + 1) * dim],
                );
            }
            st.xq.quantize(&st.xb[..m * dim], m, dim);
            if m == 1 {
                let jobs = [
                    (&lw.wq, &mut st.q[..]),
                    (&lw.wk, &mut st.k[..]),
                    (&lw.wv, &mut st.v[..]),
                ];
                gemv_many(pool, &self.serial, jobs, &st.xb, &st.xq);
            } else {
                lw.wq.forward(pool, &st.xb, &st.xq, m, &mut st.q);
                lw.wk.forward(pool, &st.xb, &st.xq, m, &mut st.k);
                lw.wv.forward(pool, &st.xb, &st.xq, m, &mut st.v);
            }
            // Every hypothesis is at the same position (adjacent-pair RoPE, as
            // in `forward`).
            let (cos, sin) = self.rope.at(pos);
            let prompt_k = st.key_cache.from(l * self.n_ctx * kv_dim);
            let prompt_v = st.value_cache.from(l * self.n_ctx * kv_dim);
            let group = c.n_heads / c.n_kv_heads;
            let scale = 1.0 / (hd as f32).sqrt();
            for r in 0..m {
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
                let at = l * per_layer + r * beam_len;
                cache.key_cache[at + g * kv_dim..at + (g + 1) * kv_dim]
                    .copy_from_slice(&st.k[r * kv_dim..(r + 1) * kv_dim]);
                cache.value_cache[at + g * kv_dim..at + (g + 1) * kv_dim]
                    .copy_from_slice(&st.v[r * kv_dim..(r + 1) * kv_dim]);
                let (own_k, own_v) = (&cache.key_cache[at..], &cache.value_cache[at..]);
                for h in 0..c.n_heads {
                    let kvo = (h / group) * hd;
                    let q = &st.q[r * q_dim + h * hd..r * q_dim + (h + 1) * hd];
                    let out = &mut st.att_rows[r * q_dim + h * hd..r * q_dim + (h + 1) * hd];
                    // One softmax over prompt keys and own keys together.
                    let scores = &mut st.scores[..prompt + g + 1];
                    let (sp, so) = scores.split_at_mut(prompt);
                    prompt_k.from(kvo).dot_rows(q, kv_dim, scale, sp);
                    ops::dot_rows(q, &own_k[kvo..], kv_dim, scale, so);
                    ops::softmax(scores);
                    let (sp, so) = scores.split_at(prompt);
                    prompt_v.from(kvo).weighted_sum_rows(sp, kv_dim, out);
                    for (t, &p) in so.iter().enumerate() {
                        let row = t * kv_dim + kvo;
                        ops::axpy(out, p, &own_v[row..row + hd]);
                    }
                }
            }
            st.xq.quantize(&st.att_rows[..m * q_dim], m, q_dim);
            lw.wo.forward(pool, &st.att_rows, &st.xq, m, &mut st.xb);
            ops::add(&mut st.x[..m * dim], &st.xb[..m * dim]);

            // --- feed-forward: x += down(silu(gate(xn)) * up(xn)) -------------
            for r in 0..m {
                ops::rms_norm(
                    &st.x[r * dim..(r + 1) * dim],
                    &lw.ffn_norm,
                    c.norm_eps,
                    &mut st.xb[r * dim..(r + 1) * dim],
                );
            }
            st.xq.quantize(&st.xb[..m * dim], m, dim);
            if m == 1 {
                gemv_many(
                    pool,
                    &self.serial,
                    [(&lw.w_gate, &mut st.hb[..]), (&lw.w_up, &mut st.hb2[..])],
                    &st.xb,
                    &st.xq,
                );
            } else {
                lw.w_gate.forward(pool, &st.xb, &st.xq, m, &mut st.hb);
                lw.w_up.forward(pool, &st.xb, &st.xq, m, &mut st.hb2);
            }
            ops::silu_mul(&mut st.hb[..m * hidden], &st.hb2[..m * hidden]);
            st.xq.quantize(&st.hb[..m * hidden], m, hidden);
            lw.w_down.forward(pool, &st.hb, &st.xq, m, &mut st.xb);
            ops::add(&mut st.x[..m * dim], &st.xb[..m * dim]);
        }

        // --- final norm and logits for every hypothesis -----------------------
        for r in 0..m {
            ops::rms_norm(
                &st.x[r * dim..(r + 1) * dim],
                &w.output_norm,
                c.norm_eps,
                &mut st.xb[r * dim..(r + 1) * dim],
            );
        }
        st.xq.quantize(&st.xb[..m * dim], m, dim);
        let out = w.output.as_ref().unwrap_or(&w.token_embd);
        let logits = &mut cache.logits[..m * c.vocab_size];
        out.forward(pool, &st.xb, &st.xq, m, logits);
        cache.beams = m;
        cache.gen += 1;
        Ok(&cache.logits[..m * c.vocab_size])
    }
}
