//! The inference engine's model architectures.
//!
//! - [`llama`]: decoder-only transformers (SmolLM2, TinyLlama, Llama 3.x).
//! - [`mu`]: knob's own encoder–decoder, exactly as docs/mu-gguf.md defines it.
//! - [`bert`]: BERT sentence encoders (all-MiniLM-L6-v2): text in, one vector
//!   out; not a [`LanguageModel`].
//!
//! Both load from a [`ModelSource`] (the GGUF reader implements it, and tests
//! implement it over in-memory tensors), keep every buffer they need in a run
//! state allocated once per session, and expose the same [`LanguageModel`]
//! interface to the sampler and the generation loop in `crate::generate`.
use std::sync::{Arc, OnceLock};

use knob_kernels::{BlockQ8_0, Isa, QuantizedActs, ThreadPool, TiledQ8_0};

pub mod bert;
pub mod gguf_source;
pub mod kv_cache;
pub mod llama;
mod load;
pub mod mu;
pub mod profile;

pub use load::load;

/// Errors from loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("missing metadata key {0}")]
    MissingKey(String),
    #[error("bad metadata value for {key}: {why}")]
    BadValue { key: String, why: String },
    #[error("missing tensor {0}")]
    MissingTensor(String),
    #[error("tensor {name} has shape {got:?}, expected {expected:?}")]
    BadShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("the prompt and reply need {needed} tokens, but the context holds {limit}")]
    ContextFull { needed: usize, limit: usize },
    #[error("token id {token} is outside the vocabulary of {vocab}")]
    BadToken { token: u32, vocab: usize },
    #[error("reading tensor {name}: {why}")]
    Tensor { name: String, why: String },
}

/// Q8_0 blocks of a row-major matrix, owned (re-quantized at load) or borrowed
/// from a memory-mapped file that the implementor keeps alive.
pub trait QBlocks: Send + Sync {
    fn blocks(&self) -> &[BlockQ8_0];
}

impl QBlocks for Vec<BlockQ8_0> {
    fn blocks(&self) -> &[BlockQ8_0] {
        self
    }
}

/// How a tensor's data reaches the engine.
pub enum TensorData {
    /// Q8_0 blocks, rows of `k / 32` blocks.
    Q8(Arc<dyn QBlocks>),
    /// Plain f32 values (F32, F16 and BF16 tensors are converted at load).
    F32(Vec<f32>),
}

/// What a model needs from a model file: typed metadata and tensors by name.
pub trait ModelSource {
    fn meta_str(&self, key: &str) -> Option<String>;
    fn meta_u32(&self, key: &str) -> Option<u32>;
    fn meta_f32(&self, key: &str) -> Option<f32>;
    /// Dimensions, fastest first (GGUF's `ne`), or None when there is no such tensor.
    fn tensor_dims(&self, name: &str) -> Option<Vec<usize>>;
    /// The tensor's data: Q8_0 stays Q8_0, the k-quants and legacy quants come
    /// back re-quantized to Q8_0, float types come back as f32.
    fn tensor(&self, name: &str) -> Result<TensorData, ModelError>;
}

/// Loading helpers shared by the architectures.
pub(crate) struct Loader<'a> {
    pub src: &'a dyn ModelSource,
    pub arch: &'a str,
    /// Where the matrices it loads keep a second, repacked copy.
    pub repack: Repack,
}

/// On which paths a matrix's Q8_0 weights are repacked once for the tiled
/// gemm (`knob_kernels::gemm_tiled`) rather than per product. The copy is as
/// large as the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repack {
    /// Only on the AMX path, whose per-call repacking costs the most. For
    /// chat models: on AVX-512 VNNI a second copy of every matrix took
    /// SmolLM2's peak RSS from 182 to 295 MiB, past the 1.25x of weights
    /// plus KV cache that issue 3 allows.
    OnAmx,
    /// On every path that has a tiled gemm (AMX, AVX-512 VNNI). For the
    /// small models of the settings agent, whose latency is the product:
    /// on a Zen 4 the per-call repacking was most of a request's time.
    OnAnyTiledPath,
}

impl<'a> Loader<'a> {
    /// A loader of `arch`'s keys, once the file says it is that architecture.
    pub fn for_arch(src: &'a dyn ModelSource, arch: &'a str) -> Result<Self, ModelError> {
        let found = src.meta_str("general.architecture").unwrap_or_default();
        if found != arch {
            return Err(ModelError::Unsupported(format!(
                "architecture {found:?} is not {arch}"
            )));
        }
        Ok(Loader {
            src,
            arch,
            repack: Repack::OnAmx,
        })
    }

    pub fn u32(&self, key: &str) -> Result<usize, ModelError> {
        let full = format!("{}.{key}", self.arch);
        let v = self
            .src
            .meta_u32(&full)
            .ok_or(ModelError::MissingKey(full.clone()))?;
        // Cap every size so that a hostile file cannot ask for absurd buffers.
        if v == 0 || v > 1 << 24 {
            return Err(ModelError::BadValue {
                key: full,
                why: format!("{v} is out of range 1..=16777216"),
            });
        }
        Ok(v as usize)
    }
    pub fn u32_or(&self, key: &str, default: usize) -> Result<usize, ModelError> {
        let full = format!("{}.{key}", self.arch);
        match self.src.meta_u32(&full) {
            None => Ok(default),
            Some(_) => self.u32(key),
        }
    }
    pub fn f32(&self, key: &str) -> Result<f32, ModelError> {
        let full = format!("{}.{key}", self.arch);
        if self.src.meta_f32(&full).is_none() {
            return Err(ModelError::MissingKey(full));
        }
        self.f32_or(key, 0.0)
    }
    pub fn f32_or(&self, key: &str, default: f32) -> Result<f32, ModelError> {
        let full = format!("{}.{key}", self.arch);
        match self.src.meta_f32(&full) {
            None => Ok(default),
            Some(v) if v.is_finite() && v > 0.0 => Ok(v),
            Some(v) => Err(ModelError::BadValue {
                key: full,
                why: format!("{v} is not a positive number"),
            }),
        }
    }
    fn check_dims(&self, name: &str, expected: &[usize]) -> Result<(), ModelError> {
        let got = self
            .src
            .tensor_dims(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        if got != expected {
            return Err(ModelError::BadShape {
                name: name.to_string(),
                expected: expected.to_vec(),
                got,
            });
        }
        Ok(())
    }
    /// A 1-D f32 vector of length `n` (norm weights and biases).
    pub fn vector(&self, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
        self.check_dims(name, &[n])?;
        match self.src.tensor(name)? {
            TensorData::F32(v) if v.len() == n => Ok(v),
            TensorData::F32(v) => Err(ModelError::BadShape {
                name: name.into(),
                expected: vec![n],
                got: vec![v.len()],
            }),
            TensorData::Q8(_) => Err(ModelError::Tensor {
                name: name.into(),
                why: "norm weights must be a float type".into(),
            }),
        }
    }
    /// A linear map `y = W x` with `n` outputs and `k` inputs (stored `ne = [k, n]`).
    pub fn linear(&self, name: &str, n: usize, k: usize) -> Result<Linear, ModelError> {
        self.check_dims(name, &[k, n])?;
        let data = self.src.tensor(name)?;
        let ok = match &data {
            TensorData::Q8(b) => k.is_multiple_of(32) && b.blocks().len() == n * k / 32,
            TensorData::F32(v) => v.len() == n * k,
        };
        if !ok {
            return Err(ModelError::Tensor {
                name: name.into(),
                why: format!("data does not hold {n}x{k} values"),
            });
        }
        Ok(Linear::with_repack(n, k, data, self.repack))
    }
}

/// A weight matrix `W[n x k]` (one row per output).
pub struct Linear {
    /// output features (rows)
    pub n: usize,
    /// input features (columns)
    pub k: usize,
    pub data: TensorData,
    /// Q8_0 weights repacked once for the tiled gemm, made on the first
    /// product of several rows (prefill, encoders, beams) when the selected
    /// path has one (`knob_kernels::tiled_isa`) and `repack` allows it;
    /// `None` otherwise. One-row products (decode) keep reading `data`.
    tiled: OnceLock<Option<TiledQ8_0>>,
    repack: Repack,
}

impl Linear {
    /// A matrix repacked only on the AMX path ([`Repack::OnAmx`]).
    pub fn new(n: usize, k: usize, data: TensorData) -> Linear {
        Linear::with_repack(n, k, data, Repack::OnAmx)
    }

    pub fn with_repack(n: usize, k: usize, data: TensorData, repack: Repack) -> Linear {
        Linear {
            n,
            k,
            data,
            tiled: OnceLock::new(),
            repack,
        }
    }

    /// The repacked tiles, when the selected path has a tiled gemm and
    /// `repack` allows it there (made on the first call).
    fn tiled(&self, w: &dyn QBlocks) -> Option<&TiledQ8_0> {
        self.tiled
            .get_or_init(|| {
                let wanted = matches!(
                    (knob_kernels::tiled_isa(), self.repack),
                    (Some(Isa::Amx), _) | (Some(_), Repack::OnAnyTiledPath)
                );
                wanted.then(|| TiledQ8_0::new(w.blocks(), self.n, self.k))
            })
            .as_ref()
    }

    /// The repacked tiles of Q8_0 weights, where the selected path has them.
    fn tiled_q8(&self) -> Option<&TiledQ8_0> {
        match &self.data {
            TensorData::Q8(w) => self.tiled(w.as_ref()),
            TensorData::F32(_) => None,
        }
    }

    /// `y[r*n + j] = W[j,:] · x[r,:]` for `m` rows. `xq` must hold `x` quantized
    /// (the caller quantizes once and reuses it for every matrix that reads `x`).
    pub fn forward(
        &self,
        pool: &ThreadPool,
        x: &[f32],
        xq: &QuantizedActs,
        m: usize,
        y: &mut [f32],
    ) {
        debug_assert!(x.len() >= m * self.k && y.len() >= m * self.n);
        match &self.data {
            TensorData::Q8(w) => {
                if m == 1 {
                    knob_kernels::gemv(pool, w.blocks(), self.n, self.k, xq, &mut y[..self.n]);
                } else if let Some(t) = self.tiled(w.as_ref()) {
                    // Weights repacked once beat repacking them per call
                    // from 2 rows on, on both paths (`knob bench kernels`).
                    knob_kernels::gemm_tiled(pool, t, xq, &mut y[..m * self.n]);
                } else {
                    knob_kernels::gemm(pool, w.blocks(), self.n, self.k, xq, &mut y[..m * self.n]);
                }
            }
            TensorData::F32(w) => {
                for r in 0..m {
                    knob_kernels::ops::matvec_f32(
                        w,
                        self.n,
                        self.k,
                        &x[r * self.k..(r + 1) * self.k],
                        &mut y[r * self.n..(r + 1) * self.n],
                    );
                }
            }
        }
    }

    /// [`Linear::forward`] of several matrices over the same `m > 1` rows
    /// (a layer's q, k and v): with a tiled gemm in one round of the pool,
    /// which shares the columns of all of them between the threads
    /// (`knob_kernels::gemm_tiled_many`); otherwise one product each.
    pub fn forward_many<const N: usize>(
        pool: &ThreadPool,
        jobs: [(&Linear, &mut [f32]); N],
        x: &[f32],
        xq: &QuantizedActs,
        m: usize,
    ) {
        let tiled: Option<Vec<&TiledQ8_0>> = jobs.iter().map(|(l, _)| l.tiled_q8()).collect();
        match tiled {
            Some(tiled) if m > 1 => {
                let mut t: Vec<(&TiledQ8_0, &mut [f32])> = tiled
                    .into_iter()
                    .zip(jobs)
                    .map(|(t, (l, y))| (t, &mut y[..m * l.n]))
                    .collect();
                knob_kernels::gemm_tiled_many(pool, &mut t, xq);
            }
            _ => {
                for (l, y) in jobs {
                    l.forward(pool, x, xq, m, y);
                }
            }
        }
    }

    /// Whether this matrix reads quantized activations.
    pub fn is_q8(&self) -> bool {
        matches!(self.data, TensorData::Q8(_))
    }

    /// Row `row` as f32 (embedding lookup).
    pub fn row_into(&self, row: usize, out: &mut [f32]) {
        match &self.data {
            TensorData::Q8(w) => {
                let nb = self.k / 32;
                knob_kernels::dequantize_row_q8_0(
                    &w.blocks()[row * nb..(row + 1) * nb],
                    &mut out[..self.k],
                );
            }
            TensorData::F32(w) => {
                out[..self.k].copy_from_slice(&w[row * self.k..(row + 1) * self.k])
            }
        }
    }

    /// Bytes of this matrix's weights.
    pub fn bytes(&self) -> usize {
        match &self.data {
            TensorData::Q8(w) => std::mem::size_of_val(w.blocks()),
            TensorData::F32(w) => w.len() * 4,
        }
    }
}

/// Most matrices [`gemv_many`] takes at once, and most parts it splits them into.
const MANY_MATS: usize = 3;
const MANY_PARTS: usize = 8;

/// Checks an encoder's input: at least one token, at most `limit`, each
/// below `vocab` (`what` names the input in the error).
pub(crate) fn check_input(
    tokens: &[u32],
    limit: usize,
    vocab: usize,
    what: &str,
) -> Result<(), ModelError> {
    if tokens.is_empty() {
        return Err(ModelError::BadValue {
            key: what.into(),
            why: "no tokens".into(),
        });
    }
    if tokens.len() > limit {
        return Err(ModelError::ContextFull {
            needed: tokens.len(),
            limit,
        });
    }
    if let Some(&token) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(ModelError::BadToken { token, vocab });
    }
    Ok(())
}

/// `y_i = W_i x` for several matrices that read the same one-row input, as a
/// single job on the pool: one wake-up of the workers instead of one per
/// matrix (decode runs ~200 matrix-vector products per token, and waking a
/// parked thread costs microseconds). The rows of all matrices are split into
/// one contiguous part per thread, balanced by rows (equal `k`, so equal
/// bytes). Falls back to one product at a time for f32 weights or one thread.
pub(crate) fn gemv_many<const N: usize>(
    pool: &ThreadPool,
    serial: &ThreadPool,
    jobs: [(&Linear, &mut [f32]); N],
    x: &[f32],
    xq: &QuantizedActs,
) {
    const { assert!(N <= MANY_MATS) };
    let parts = pool.threads().min(MANY_PARTS);
    if parts <= 1 || jobs.iter().any(|(w, _)| !w.is_q8()) {
        for (w, y) in jobs {
            w.forward(pool, x, xq, 1, y);
        }
        return;
    }
    let mats: [&Linear; N] = std::array::from_fn(|i| jobs[i].0);
    let total: usize = mats.iter().map(|w| w.n).sum();
    // Pieces: (part, matrix, first row, its output rows). Each output is cut
    // at part boundaries, so every piece owns its rows of one output; the
    // mutexes are never contended (one part per task).
    type Piece<'a> = Option<(usize, usize, usize, std::sync::Mutex<&'a mut [f32]>)>;
    let mut pieces: [Piece<'_>; MANY_MATS + MANY_PARTS] = Default::default();
    let mut count = 0;
    let mut row0 = 0; // first row of this matrix among all matrices' rows
    for (mi, (w, y)) in jobs.into_iter().enumerate() {
        let mut rest = &mut y[..w.n];
        let mut r = 0;
        while r < w.n {
            let global = row0 + r;
            let part = (global * parts / total).min(parts - 1);
            let part_end = ((part + 1) * total).div_ceil(parts);
            let rows = (part_end.max(global + 1) - global).min(w.n - r);
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(rows);
            rest = tail;
            pieces[count] = Some((part, mi, r, std::sync::Mutex::new(mine)));
            count += 1;
            r += rows;
        }
        row0 += w.n;
    }
    let pieces = &pieces[..count];
    pool.run(parts, &|part| {
        for (_, mi, r, out) in pieces.iter().flatten().filter(|p| p.0 == part) {
            let w = mats[*mi];
            let TensorData::Q8(blocks) = &w.data else {
                unreachable!("checked above: all Q8_0")
            };
            let nb = w.k / 32;
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let rows = out.len();
            knob_kernels::gemv(
                serial,
                &blocks.blocks()[r * nb..(r + rows) * nb],
                rows,
                w.k,
                xq,
                &mut out,
            );
        }
    });
}

/// The interface the generation loop drives. Positions are implicit: each call
/// continues where the previous one stopped, until [`LanguageModel::reset`].
pub trait LanguageModel: Send {
    /// Vocabulary size (length of the logits).
    fn vocab_size(&self) -> usize;
    /// Most tokens one session can hold (prompt and reply together).
    fn context_length(&self) -> usize;
    /// Tokens consumed so far in this session.
    fn position(&self) -> usize;
    /// Feed the prompt; returns the logits for the token that follows it.
    /// For an encoder–decoder this encodes the prompt and runs the decoder
    /// start token.
    fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError>;
    /// Feed one generated token; returns the logits for the next.
    fn decode(&mut self, token: u32) -> Result<&[f32], ModelError>;
    /// Forget the session (KV cache) and start at position 0.
    fn reset(&mut self);
    /// The thread pool's size.
    fn threads(&self) -> usize;
    /// Bytes of weights and of KV cache this session holds.
    fn memory(&self) -> MemoryUse;
    /// Bytes one decode step reads from memory with `context` positions in
    /// the cache: the weights it multiplies by and the cached keys and values
    /// attention reads (what bounds decoding on a memory-bound CPU). By
    /// default all weights and the whole cache (an upper bound).
    fn decode_bytes(&self, context: usize) -> usize {
        let _ = context;
        let m = self.memory();
        m.weights + m.kv_cache
    }
    /// Starts (clearing it) or stops the per-op time profile; false when
    /// this model has none.
    fn set_profiling(&mut self, on: bool) -> bool {
        let _ = on;
        false
    }
    /// Jobs this model's thread pool has handed to its workers so far
    /// (each wakes them once; see `ThreadPool::jobs_run`).
    fn pool_jobs(&self) -> u64 {
        0
    }
    /// Nanoseconds per section of the forward pass since profiling started.
    fn profile(&self) -> Vec<(profile::Op, u64)> {
        Vec::new()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryUse {
    /// weight bytes (Q8_0 blocks and f32 tensors)
    pub weights: usize,
    /// KV cache bytes (and, for Mu, the cross-attention K/V)
    pub kv_cache: usize,
}

/// RoPE tables: `cos[p * half + i]`, `sin[..]` for positions `0..n_pos`, with
/// `theta_i = p * base^(-2i/d) / freq_factor_i` and linear scaling of `p`.
pub(crate) struct RopeTable {
    pub half: usize,
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
}

impl RopeTable {
    pub fn new(
        n_pos: usize,
        head_dim: usize,
        base: f32,
        pos_scale: f32,
        freq_factors: Option<&[f32]>,
    ) -> Self {
        let half = head_dim / 2;
        let mut cos = vec![0f32; n_pos * half];
        let mut sin = vec![0f32; n_pos * half];
        for p in 0..n_pos {
            for i in 0..half {
                let mut freq = (base as f64).powf(-2.0 * i as f64 / head_dim as f64);
                if let Some(f) = freq_factors {
                    freq /= f[i] as f64;
                }
                let theta = p as f64 * pos_scale as f64 * freq;
                cos[p * half + i] = theta.cos() as f32;
                sin[p * half + i] = theta.sin() as f32;
            }
        }
        Self { half, cos, sin }
    }
    pub fn at(&self, pos: usize) -> (&[f32], &[f32]) {
        let r = pos * self.half..(pos + 1) * self.half;
        (&self.cos[r.clone()], &self.sin[r])
    }
}

/// One attention head for one query row: `out = softmax(q·K / sqrt(d)) V` over
/// `n_keys` keys stored with stride `stride` starting at `k` / `v`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    n_keys: usize,
    stride: usize,
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    attend_kv(
        q,
        kv_cache::KvRows::F32(keys),
        kv_cache::KvRows::F32(values),
        n_keys,
        stride,
        scale,
        scores,
        out,
    )
}

/// [`attend`] over cached keys and values of either element type.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend_kv(
    q: &[f32],
    keys: kv_cache::KvRows<'_>,
    values: kv_cache::KvRows<'_>,
    n_keys: usize,
    stride: usize,
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    assert_eq!(out.len(), q.len(), "attend: out and q lengths");
    let scores = &mut scores[..n_keys];
    keys.dot_rows(q, stride, scale, scores);
    knob_kernels::ops::softmax(scores);
    values.weighted_sum_rows(scores, stride, out);
}

/// Runs `f(first_head, last_head, scratch, out)` over `n_heads` heads split
/// across `pool`'s threads. `out` is head-major (`per_head` values for each
/// head) and each task gets its heads' part of it and its own slice of
/// `scratch` (which holds one per thread). Jobs too small to pay for waking
/// a worker (a few microseconds) run inline, which covers short decode steps.
pub(crate) fn par_heads<F>(
    pool: &ThreadPool,
    n_heads: usize,
    work: usize,
    scratch: &mut [f32],
    out: &mut [f32],
    f: F,
) where
    F: Fn(usize, usize, &mut [f32], &mut [f32]) + Sync,
{
    let t = if work < PAR_HEADS_MIN_WORK {
        1
    } else {
        pool.threads().clamp(1, n_heads)
    };
    if t == 1 {
        f(0, n_heads, scratch, out);
        return;
    }
    let per_head = out.len() / n_heads;
    let heads_per_task = n_heads.div_ceil(t);
    pool.run_split(
        out,
        heads_per_task * per_head,
        scratch,
        scratch.len() / t,
        &|task, o, sc| {
            let h0 = task * heads_per_task;
            f(h0, (h0 + heads_per_task).min(n_heads), sc, o)
        },
    );
}

/// Causal attention over `n_heads` heads of `m` new rows (row `r` sees
/// `pos + r + 1` positions), split evenly across `pool`'s threads. The work
/// is cut into units of one head and a range of rows, `threads` ranges per
/// head with about equal work (later rows see more keys), and each task
/// takes `n_heads` consecutive units: one slice of the head-major `out`
/// (`m * head_dim` values per head) and its own part of `scratch` (which
/// holds one per thread). Splitting by heads alone would leave one thread
/// with 5 of SmolLM2's 9 heads. Small jobs run inline as one task.
///
/// Calls `f(head, rows, scratch, out_rows)`, `out_rows` being that head's
/// rows `rows` (`rows.len() * head_dim` values); a task's units of one
/// head come in row order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_causal_heads<F>(
    pool: &ThreadPool,
    n_heads: usize,
    m: usize,
    head_dim: usize,
    pos: usize,
    scratch: &mut [f32],
    out: &mut [f32],
    f: F,
) where
    F: Fn(usize, std::ops::Range<usize>, &mut [f32], &mut [f32]) + Sync,
{
    let out = &mut out[..n_heads * m * head_dim];
    let threads = pool.threads();
    let work = m * (pos + m) * head_dim * n_heads;
    if threads == 1 || m < threads || work < PAR_HEADS_MIN_WORK {
        for (h, o) in out.chunks_exact_mut(m * head_dim).enumerate() {
            f(h, 0..m, scratch, o);
        }
        return;
    }
    let row_ends = causal_row_ends(pos, m, threads);
    let rows = |c: usize| (if c == 0 { 0 } else { row_ends[c - 1] })..row_ends[c];
    // Unit u is head u / threads, row range u % threads.
    let unit_end = |u: usize| ((u / threads) * m + rows(u % threads).end) * head_dim;
    let task_ends: Vec<usize> = (1..=threads).map(|t| unit_end(t * n_heads - 1)).collect();
    pool.run_split_at(
        out,
        &task_ends,
        scratch,
        scratch.len() / threads,
        &|t, o, sc| {
            let first = t * n_heads;
            let base = if t == 0 { 0 } else { task_ends[t - 1] };
            for u in first..first + n_heads {
                let (h, r) = (u / threads, rows(u % threads));
                let at = (h * m + r.start) * head_dim - base;
                let len = r.len() * head_dim;
                f(h, r, sc, &mut o[at..at + len]);
            }
        },
    );
}

/// Ends of `chunks` consecutive row ranges of `0..m` with about equal
/// causal attention work, row `r` costing `pos + r + 1`.
pub(crate) fn causal_row_ends(pos: usize, m: usize, chunks: usize) -> Vec<usize> {
    let cost = |r: usize| (r * pos + r * (r + 1) / 2) as f64; // rows 0..r
    let total = cost(m);
    let mut ends = Vec::with_capacity(chunks);
    let mut r = 0;
    for c in 1..chunks {
        let goal = total * c as f64 / chunks as f64;
        while r < m && cost(r) < goal {
            r += 1;
        }
        // The nearer of the two rows around the goal, never before the last end.
        let last = ends.last().copied().unwrap_or(0);
        if r > last && goal - cost(r - 1) < cost(r) - goal {
            r -= 1;
        }
        ends.push(r);
    }
    ends.push(m);
    ends
}

/// Runs `f(first_row, rows)` over the `m` rows of `width` values in `out`,
/// split across `pool`'s threads in runs of whole rows when there are
/// enough values to pay for waking a worker (prefill); else inline. Keeping
/// prefill's norms and element-wise steps on the pool also keeps its workers
/// spinning between the matrix products instead of parking.
pub(crate) fn par_rows(
    pool: &ThreadPool,
    m: usize,
    width: usize,
    out: &mut [f32],
    f: &(dyn Fn(usize, &mut [f32]) + Sync),
) {
    let out = &mut out[..m * width];
    let tasks = pool.threads().min(m);
    if tasks <= 1 || m * width < PAR_ROWS_MIN_VALUES {
        return f(0, out);
    }
    let rows_per_task = m.div_ceil(tasks);
    pool.run_pieces(out, rows_per_task * width, &|t, rows| {
        f(t * rows_per_task, rows)
    });
}

/// Values below which [`par_rows`] stays on the calling thread.
const PAR_ROWS_MIN_VALUES: usize = 8 * 1024;

/// Multiply-adds below which [`par_heads`] stays on the calling thread.
const PAR_HEADS_MIN_WORK: usize = 1 << 18;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_row_ranges_share_the_work_evenly() {
        assert_eq!(causal_row_ends(0, 10, 1), vec![10]);
        // Rows 0..m cost 1..=m: the first half of the work is the first ~71%
        // of the rows.
        let e = causal_row_ends(0, 100, 2);
        assert_eq!(e.len(), 2);
        assert!((70..=72).contains(&e[0]) && e[1] == 100, "{e:?}");
        // After a long cache every row costs about the same.
        let e = causal_row_ends(100_000, 100, 4);
        assert_eq!(e, vec![25, 50, 75, 100]);
        // More chunks than rows: empty ranges, still ending at m.
        let e = causal_row_ends(0, 2, 4);
        assert!(e.windows(2).all(|w| w[0] <= w[1]) && e[3] == 2, "{e:?}");
    }

    #[test]
    fn par_causal_heads_covers_every_head_and_row_once() {
        let (n_heads, hd) = (9, 4);
        for threads in [1, 2, 3] {
            let pool = ThreadPool::new(threads);
            for (m, pos) in [(1, 0), (64, 0), (512, 0), (37, 1000)] {
                let mut out = vec![-1.0f32; n_heads * m * hd];
                let mut scratch = vec![0.0f32; threads * 5];
                par_causal_heads(
                    &pool,
                    n_heads,
                    m,
                    hd,
                    pos,
                    &mut scratch,
                    &mut out,
                    |h, rows, sc, o| {
                        assert!(sc.len() >= 5);
                        assert_eq!(o.len(), rows.len() * hd);
                        for (i, r) in rows.enumerate() {
                            o[i * hd..(i + 1) * hd].fill((h * 10_000 + r) as f32);
                        }
                    },
                );
                let want: Vec<f32> = (0..n_heads)
                    .flat_map(|h| (0..m).flat_map(move |r| [(h * 10_000 + r) as f32; 4]))
                    .collect();
                assert_eq!(out, want, "threads {threads} m {m} pos {pos}");
            }
        }
    }

    #[test]
    fn par_heads_gives_each_thread_its_own_heads() {
        let (n_heads, per_head) = (5, 7);
        for threads in [1, 2, 3] {
            let mut out = vec![0.0f32; n_heads * per_head];
            let mut scratch = vec![0.0f32; threads * 4];
            par_heads(
                &ThreadPool::new(threads),
                n_heads,
                1 << 30,
                &mut scratch,
                &mut out,
                |h0, h1, sc, o| {
                    assert_eq!(sc.len(), 4);
                    assert_eq!(o.len(), (h1 - h0) * per_head);
                    for h in h0..h1 {
                        for i in 0..per_head {
                            o[(h - h0) * per_head + i] = (h * 100 + i) as f32;
                        }
                    }
                },
            );
            let want: Vec<f32> = (0..n_heads)
                .flat_map(|h| (0..per_head).map(move |i| (h * 100 + i) as f32))
                .collect();
            assert_eq!(out, want, "threads {threads}");
        }
    }

    #[test]
    fn linear_on_several_rows_matches_the_scalar_gemm_on_every_path() {
        // With AMX or AVX-512 VNNI selected (by KNOB_ISA, or detected) the
        // product goes through weights repacked once into tiles where the
        // matrix's policy allows; either way it must stay within the
        // kernels' tolerance of the scalar specification.
        let (n, k, m) = (37, 96, 20);
        let v: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919) % 211) as f32 / 105.0 - 1.0)
            .collect();
        let mut b = vec![BlockQ8_0::ZERO; n * k / 32];
        knob_kernels::quantize_row_q8_0(&v, &mut b);
        let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut xq = QuantizedActs::new();
        xq.quantize(&x, m, k);
        let pool = ThreadPool::new(2);
        let mut want = vec![0.0f32; m * n];
        knob_kernels::gemm_with(Isa::Scalar, &pool, &b, n, k, &xq, &mut want);
        let isa = knob_kernels::tiled_isa();
        for (repack, tiled) in [
            (Repack::OnAmx, isa == Some(Isa::Amx)),
            (Repack::OnAnyTiledPath, isa.is_some()),
        ] {
            let lin = Linear::with_repack(n, k, TensorData::Q8(Arc::new(b.clone())), repack);
            let mut y = vec![0.0f32; m * n];
            lin.forward(&pool, &x, &xq, m, &mut y);
            for r in 0..m {
                let xs: Vec<i8> = xq.row_values(r).collect();
                for j in 0..n {
                    let abs: f32 = (0..k / 32)
                        .map(|bi| {
                            let blk = &b[j * (k / 32) + bi];
                            let s: f32 = (0..32)
                                .map(|i| (blk.qs[i] as f32 * xs[bi * 32 + i] as f32).abs())
                                .sum();
                            (blk.scale() * xq.row_scales(r)[bi]).abs() * s
                        })
                        .sum();
                    let tol = knob_kernels::dot_tolerance(k / 32, abs);
                    let (got, exp) = (y[r * n + j], want[r * n + j]);
                    assert!(
                        (got - exp).abs() <= tol,
                        "{repack:?}: y[{r},{j}] = {got}, scalar {exp}"
                    );
                }
            }
            assert_eq!(
                lin.tiled.get().is_some_and(|t| t.is_some()),
                tiled,
                "{repack:?} on {isa:?}"
            );
        }
    }

    #[test]
    fn gemv_many_equals_one_product_at_a_time() {
        let k = 64;
        let mut seed = 7u32;
        let mut mat = |n: usize| {
            let v: Vec<f32> = (0..n * k)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as f32 / 32768.0 - 1.0
                })
                .collect();
            let mut b = vec![
                BlockQ8_0 {
                    d: [0; 2],
                    qs: [0; 32]
                };
                n * k / 32
            ];
            knob_kernels::quantize_row_q8_0(&v, &mut b);
            Linear::new(n, k, TensorData::Q8(Arc::new(b)))
        };
        let (a, b, c) = (mat(37), mat(5), mat(70));
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut xq = QuantizedActs::new();
        xq.quantize(&x, 1, k);
        let serial = ThreadPool::new(1);
        for threads in [1, 2, 3, 8] {
            let pool = ThreadPool::new(threads);
            let (mut ya, mut yb, mut yc) = (vec![0.0; 37], vec![0.0; 5], vec![0.0; 70]);
            gemv_many(
                &pool,
                &serial,
                [(&a, &mut ya[..]), (&b, &mut yb[..]), (&c, &mut yc[..])],
                &x,
                &xq,
            );
            for (w, y) in [(&a, &ya), (&b, &yb), (&c, &yc)] {
                let mut want = vec![0.0; w.n];
                w.forward(&serial, &x, &xq, 1, &mut want);
                assert_eq!(y, &want, "threads {threads}, n {}", w.n);
            }
        }
    }

    #[test]
    fn rope_table_angles() {
        let t = RopeTable::new(3, 4, 100.0, 0.5, Some(&[1.0, 2.0]));
        let (cos, sin) = t.at(2);
        // theta_i = 2 * 0.5 * 100^(-2i/4) / f_i: i=0 -> 1, i=1 -> 0.1 / 2
        assert!((cos[0] - 1f32.cos()).abs() < 1e-6 && (sin[0] - 1f32.sin()).abs() < 1e-6);
        assert!((cos[1] - 0.05f32.cos()).abs() < 1e-6 && (sin[1] - 0.05f32.sin()).abs() < 1e-6);
    }
}
