//! `mu`: knob's own encoder–decoder, exactly as docs/mu-gguf.md defines it.
//!
//! The shape follows candle's quantized T5: [`Mu::encode`] runs once per query
//! and computes every decoder layer's cross-attention K/V right away; then each
//! [`Mu::decode_step`] feeds one decoder token through causal self-attention
//! (with a KV cache), cross-attention over the encoder output and the FFN.
//! Unlike T5, Mu uses RoPE (NeoX pairing) and grouped-query attention, and
//! wraps every sub-layer in Dual LayerNorm: `x = x + post_norm(f(pre_norm(x)))`.
//!
//! Version 2 files (`mu.encoder.kind = "bert"`) replace the encoder with a
//! pretrained BERT ([`super::bert`]) over its own WordPiece vocabulary; the
//! decoder is the same, its cross-attention reading BERT's wider output.
use knob_kernels::ops::{self, RopeStyle};
use knob_kernels::ThreadPool;

mod beams;
mod layers;

pub use beams::BeamCache;
use layers::{attention, ffn, RunState};
pub use layers::{Attention, Config, DecoderLayer, EncoderKind, EncoderLayer, Ffn, Norm, Weights};

use super::bert::Bert;
use super::{LanguageModel, ModelError, ModelSource, RopeTable};

/// A loaded Mu model with one session's state.
pub struct Mu {
    pub config: Config,
    pub weights: Weights,
    /// v2's encoder; v1's layers are in `weights.enc`
    bert: Option<Bert>,
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
        let mut mu = Self::new(config, weights, threads);
        if mu.config.encoder == EncoderKind::Bert {
            let bert = Bert::load_part(src, threads)?;
            let (c, b) = (&mu.config, &bert.config);
            if b.dim != c.enc_dim || b.vocab_size != c.enc_vocab || b.n_ctx < c.enc_ctx {
                return Err(ModelError::BadValue {
                    key: "mu.encoder.embedding_length".into(),
                    why: format!(
                        "the decoder expects a {}-wide encoder over {} tokens and up to {} positions; \
                         the BERT keys say {} wide, {} tokens, {} positions",
                        c.enc_dim, c.enc_vocab, c.enc_ctx, b.dim, b.vocab_size, b.n_ctx
                    ),
                });
            }
            mu.bert = Some(bert);
        }
        Ok(mu)
    }

    /// A model of `weights`; a v2 config needs its BERT from [`Mu::load`].
    pub fn new(c: Config, weights: Weights, threads: usize) -> Self {
        let threads = threads.max(1);
        let st = RunState::new(&c, threads);
        let rope = RopeTable::new(c.enc_ctx.max(c.dec_ctx), c.head_dim, c.rope_base, 1.0, None);
        let single = BeamCache::for_config(&c, 1);
        Self {
            config: c,
            weights,
            bert: None,
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
        let m = tokens.len();
        let c = &self.config;
        super::check_input(tokens, c.enc_ctx, c.enc_vocab, "prompt")?;
        match (c.encoder, self.bert.as_mut()) {
            (EncoderKind::Bert, Some(bert)) => {
                let hidden = bert.forward(tokens)?;
                self.st.enc_out[..hidden.len()].copy_from_slice(hidden);
            }
            (EncoderKind::Bert, None) => {
                return Err(ModelError::Unsupported(
                    "a v2 mu model without its BERT encoder (load it with Mu::load)".into(),
                ))
            }
            (EncoderKind::Mu, _) => self.encode_own(tokens),
        }
        let (c, w, pool) = (&self.config, &self.weights, &self.pool);
        let RunState {
            xq,
            xb,
            enc_out,
            cross_k,
            cross_v,
            ..
        } = &mut self.st;
        // The encoder's output, `m` rows of `enc_dim`, that cross-attention reads.
        let enc_out: &[f32] = match c.encoder {
            EncoderKind::Bert => &enc_out[..m * c.enc_dim],
            EncoderKind::Mu => &xb[..m * c.dim],
        };

        // --- cross-attention K/V for every decoder layer, once per query ------
        xq.quantize(enc_out, m, c.enc_dim);
        let per_layer = c.enc_ctx * c.kv_dim();
        for (l, lw) in w.dec.iter().enumerate() {
            let at = l * per_layer;
            lw.cross
                .wk
                .forward(pool, enc_out, xq, m, &mut cross_k[at..at + per_layer]);
            lw.cross
                .wv
                .forward(pool, enc_out, xq, m, &mut cross_v[at..at + per_layer]);
        }
        self.n_enc_tokens = m;
        self.single.reset();
        Ok(())
    }

    /// The sentence vector of `tokens` (v2 only: BERT's mean-pooled,
    /// L2-normalized last hidden states, as `knob embed` prints); `None` for
    /// v1, whose encoder was never trained to make one. Leaves the decoder's
    /// cross-attention state as it was.
    pub fn sentence_embedding(&mut self, tokens: &[u32]) -> Result<Option<Vec<f32>>, ModelError> {
        match self.bert.as_mut() {
            Some(bert) => bert.sentence_embedding(tokens, true).map(Some),
            None => Ok(None),
        }
    }

    /// v1's encoder: its layers over `tokens` (checked by the caller), the
    /// final norm's output left in `st.xb`.
    fn encode_own(&mut self, tokens: &[u32]) {
        let c = &self.config;
        let m = tokens.len();
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
        if let Some(norm) = &w.enc_norm {
            norm.rows(&st.x, m, c.norm_eps, &mut st.xb);
        }
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
            weights: self.weights.bytes() + self.bert.as_ref().map_or(0, Bert::weight_bytes),
            kv_cache: 4 * (self.single.kv_len() + st.cross_k.len() + st.cross_v.len()),
        }
    }
}
