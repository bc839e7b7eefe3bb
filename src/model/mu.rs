//! `mu`: knob's own encoder–decoder, exactly as docs/mu-gguf.md defines it.
//!
//! The shape follows candle's quantized T5: [`Mu::encode`] runs once per query
//! and computes every decoder layer's cross-attention K/V right away; then each
//! [`Mu::decode_step`] feeds one decoder token through causal self-attention
//! (with a KV cache), cross-attention over the encoder output and the FFN.
//! Unlike T5, Mu uses RoPE (NeoX pairing) and grouped-query attention, and
//! wraps every sub-layer in Dual LayerNorm: `x = x + post_norm(f(pre_norm(x)))`.
use knob_kernels::ops::{self, RopeStyle};
use knob_kernels::ThreadPool;

mod beams;
mod layers;

pub use beams::BeamCache;
use layers::{attention, ffn, RunState};
pub use layers::{Attention, Config, DecoderLayer, EncoderLayer, Ffn, Norm, Weights};

use super::{LanguageModel, ModelError, ModelSource, RopeTable};

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
        let st = RunState::new(&c, threads);
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
        super::check_input(tokens, c.enc_ctx, c.vocab_size, "prompt")?;
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

    /// Feeds one token to each of `tokens.len()` hypotheses at the next
    /// position; returns their logits, one row of `vocab_size` each.
    /// Call [`Mu::encode`] first; between steps, [`BeamCache::reorder`].
    pub fn decode_beams<'c>(
        &mut self,
        cache: &'c mut BeamCache,
        tokens: &[u32],
    ) -> Result<&'c [f32], ModelError> {
        let parts = beams::Parts {
            config: &self.config,
            weights: &self.weights,
            st: &mut self.st,
            rope: &self.rope,
            pool: &self.pool,
            serial: &self.serial,
            n_enc_tokens: self.n_enc_tokens,
        };
        beams::decode(parts, cache, tokens)
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

impl BeamCache {
    /// Room for `capacity` hypotheses of `mu`; at most the encoder context,
    /// since the run-state rows are shared with the encoder.
    pub fn new(mu: &Mu, capacity: usize) -> BeamCache {
        Self::for_config(&mu.config, capacity)
    }

    /// New hypothesis `i` continues old hypothesis `from[i]`.
    pub fn reorder(&mut self, mu: &Mu, from: &[usize]) {
        self.reorder_for(&mu.config, from)
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
