//! knob-kernels: the int8 and f32 compute kernels of knob's inference engine.
//!
//! - Weights are GGUF Q8_0 blocks ([`BlockQ8_0`]), used in place from a
//!   memory-mapped file.
//! - Activations are quantized on the fly into [`QuantizedActs`], the layout
//!   the kernels want (aligned 32-value blocks, f32 scales, block sums).
//! - [`gemv`] and [`gemm`] multiply a Q8_0 matrix by one or many activation
//!   rows on a [`ThreadPool`]; [`ops`] has the f32 operations of a
//!   transformer layer.
//!
//! Every operation has a scalar path (`scalar.rs`, the specification) and SIMD
//! paths (AVX2, AVX-512 VNNI, AMX, NEON, NEON dotprod), chosen once at run time by
//! CPU feature detection ([`selected_isa`]); `KNOB_ISA` forces one.

#![allow(clippy::needless_range_loop)] // index loops over tiles read clearer in kernels

mod acts;
#[cfg(target_arch = "aarch64")]
mod arm;
pub mod bench;
mod block;
#[cfg(all(feature = "ggml-reference", target_arch = "x86_64"))]
pub mod ggml_ref;
mod isa;
pub mod ops;
mod pool;
mod scalar;
mod tiled;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::marker::PhantomData;

pub use acts::QuantizedActs;
use acts::{ActRow, Q32};
pub use block::{
    bf16_to_f32, blocks_as_bytes, blocks_from_bytes, dequantize_row_q8_0, f16_to_f32, f32_to_f16,
    quantize_row_q8_0, BlockQ8_0, QK8_0,
};
pub use isa::{available_isas, isa_from_env, selected_isa, Isa};
pub use pool::{SplitTask, ThreadPool};
#[cfg(target_arch = "x86_64")]
use tiled::TiledPiece;
pub use tiled::{TiledQ8_0, TILE_N};

/// Errors from this crate's fallible entry points.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelError {
    #[error("Q8_0 data is {len} bytes, not a whole number of {block}-byte blocks")]
    BadBlockBytes { len: usize, block: usize },
    #[error("KNOB_ISA={value:?} is not a known path (expected one of scalar, avx2, avx512vnni, amx, neon, dotprod)")]
    UnknownIsa { value: String },
    #[error("KNOB_ISA={name} was requested, but this CPU cannot run it: {reason}")]
    UnsupportedIsa { name: &'static str, reason: String },
}

/// Error budget of one row dot product against the scalar path, in units of
/// `abs_sum = sum_b |d_w(b) d_x(b)| * sum_i |w_i x_i|` per accumulated term.
/// Integer block sums are exact on every path; the paths differ only in f32
/// rounding: SIMD paths scale and accumulate per-lane partial sums (so a
/// block's lanes are separate terms), use FMA, and add the lanes at the end.
/// A sum of `t` terms in any order errs by at most `(t - 1) * eps` of the sum
/// of their magnitudes, which is at most `abs_sum`.
pub const DOT_REL_TOL_PER_TERM: f32 = f32::EPSILON;

/// Extra terms beyond one per block: the final horizontal sum of up to 16
/// lanes (4 levels), the scale product and the block's own rounding.
pub const DOT_EXTRA_TERMS: f32 = 8.0;

/// The tolerance allowed between two paths' results for one row dot product
/// of `nb` blocks, where `abs_sum = sum_b |d_w(b) d_x(b)| * sum_i |w_i x_i|`.
pub fn dot_tolerance(nb: usize, abs_sum: f32) -> f32 {
    (nb as f32 + DOT_EXTRA_TERMS) * DOT_REL_TOL_PER_TERM * abs_sum + f32::MIN_POSITIVE
}

/// The operations every path implements, with the same signatures
/// (`scalar.rs` is the specification). Implementors are zero-sized tokens
/// that can only be made on a CPU that has the instructions they use.
pub(crate) trait Kernels: Sync {
    /// Quantizes `x` (`32 * qs.len()` values) per block of 32: values into
    /// `qs`, f32 scales into `d`, sums of each block's values into `sums`.
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]);
    /// Exact integer dot product of every block of one weight row with the
    /// matching activation block (the building block of the other two).
    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]);
    /// `y[j] = dot(w row j, x)` for `j < y.len()`; `w` holds `y.len()` rows of
    /// `nb` blocks.
    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]);
    /// `out[r][j] = dot(w row j, x row r)` for every row of `x` and every row
    /// of `w` (`w.len() / nb` rows).
    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>);
}

/// The kernels of `isa`. Panics if this CPU cannot run it.
pub(crate) fn kernels_for(isa: Isa) -> &'static dyn Kernels {
    match isa {
        Isa::Scalar => &scalar::Scalar,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::avx2::Avx2::new()
            .map(leak)
            .unwrap_or_else(|| unavailable(isa)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => x86::avx512vnni::Avx512Vnni::new()
            .map(leak)
            .unwrap_or_else(|| unavailable(isa)),
        #[cfg(target_arch = "x86_64")]
        Isa::Amx => x86::amx::Amx::new()
            .map(leak)
            .unwrap_or_else(|| unavailable(isa)),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => arm::neon::Neon::new()
            .map(leak)
            .unwrap_or_else(|| unavailable(isa)),
        #[cfg(target_arch = "aarch64")]
        Isa::NeonDotprod => arm::dotprod::NeonDotprod::new()
            .map(leak)
            .unwrap_or_else(|| unavailable(isa)),
        #[allow(unreachable_patterns)]
        _ => unavailable(isa),
    }
}

/// Tokens are zero-sized, so "leaking" one allocates nothing.
#[allow(dead_code)]
fn leak<K: Kernels + 'static>(k: K) -> &'static dyn Kernels {
    const { assert!(std::mem::size_of::<K>() == 0) };
    Box::leak(Box::new(k))
}

fn unavailable(isa: Isa) -> ! {
    panic!(
        "knob-kernels: the {} path is not available on this CPU (see available_isas())",
        isa.name()
    )
}

/// A strided window of an output matrix, `rows x cols` with row stride `ld`:
/// the part of `y` one gemm task writes. Tasks get disjoint windows.
pub(crate) struct OutRows<'a> {
    ptr: *mut f32,
    ld: usize,
    rows: usize,
    cols: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

impl OutRows<'_> {
    /// # Safety
    /// `ptr + r * ld + c` must be valid for writes for every `r < rows`,
    /// `c < cols`, and no other live reference may access those elements
    /// while this value exists.
    unsafe fn new(ptr: *mut f32, ld: usize, rows: usize, cols: usize) -> Self {
        OutRows {
            ptr,
            ld,
            rows,
            cols,
            _borrow: PhantomData,
        }
    }

    /// Row `r` of the window (`cols` values).
    #[inline]
    #[allow(dead_code)] // used by the AVX-512 path
    pub(crate) fn row_mut(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows, "OutRows: row {r} outside {} rows", self.rows);
        // SAFETY: row r's `cols` values are valid for writes and exclusive to
        // this window (contract of `new`); the borrow of self keeps them so.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.ld), self.cols) }
    }

    #[inline]
    pub(crate) fn set(&mut self, r: usize, c: usize, v: f32) {
        assert!(
            r < self.rows && c < self.cols,
            "OutRows: ({r}, {c}) outside {}x{}",
            self.rows,
            self.cols
        );
        // SAFETY: in bounds (checked above), and exclusive by the contract of `new`.
        unsafe { *self.ptr.add(r * self.ld + c) = v }
    }
}

/// Rows per task when splitting `n` weight rows: enough tasks to balance the
/// threads, in multiples of 16 rows so SIMD tiles stay whole.
fn split_rows(n: usize, threads: usize) -> usize {
    if threads <= 1 {
        return n.max(1);
    }
    let tasks = threads * 4;
    let per = n.div_ceil(tasks);
    per.div_ceil(16) * 16
}

fn check_shapes(
    what: &str,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    x: &QuantizedActs,
    y_len: usize,
    m: usize,
) {
    assert!(
        k.is_multiple_of(QK8_0),
        "{what}: k = {k} is not a multiple of 32"
    );
    assert_eq!(
        w.len(),
        n * (k / QK8_0),
        "{what}: w has {} blocks, expected n * k / 32 = {}",
        w.len(),
        n * k / 32
    );
    assert_eq!(
        x.cols(),
        k,
        "{what}: activations have {} columns, expected k = {k}",
        x.cols()
    );
    assert!(
        y_len >= m * n,
        "{what}: y has {y_len} values, needs {}",
        m * n
    );
}

/// `y[j] = sum_i W[j, i] * x[i]` for `j < n`: `w` is `n` rows of `k / 32`
/// blocks, `x` holds (at least) one quantized row of `k` values. Uses the
/// selected path.
pub fn gemv(
    pool: &ThreadPool,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    x: &QuantizedActs,
    y: &mut [f32],
) {
    gemv_with(selected_isa(), pool, w, n, k, x, y);
}

/// [`gemv`] on a given path (panics if the CPU lacks it).
pub fn gemv_with(
    isa: Isa,
    pool: &ThreadPool,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    x: &QuantizedActs,
    y: &mut [f32],
) {
    check_shapes("gemv", w, n, k, x, y.len(), 1);
    assert!(x.rows() >= 1, "gemv: no activation row");
    if n == 0 {
        return;
    }
    let kern = kernels_for(isa);
    let nb = k / QK8_0;
    let row = x.row(0);
    let per = split_rows(n, pool.threads());
    let y = &mut y[..n];
    let tasks = n.div_ceil(per);
    let yp = SendPtr(y.as_mut_ptr());
    pool.run(tasks, &|t| {
        let j0 = t * per;
        let j1 = (j0 + per).min(n);
        // SAFETY: task t alone writes y[j0..j1]; the ranges of different
        // tasks are disjoint and inside y, which run() keeps borrowed.
        let yt = unsafe { std::slice::from_raw_parts_mut(yp.get().add(j0), j1 - j0) };
        kern.gemv_rows(&w[j0 * nb..j1 * nb], nb, row, yt);
    });
}

/// `y[r * n + j] = sum_i W[j, i] * X[r, i]` for `r < m = x.rows()`, `j < n`.
/// Uses the selected path. Tiled so each weight block loaded serves several
/// activation rows; with m = 1 it is [`gemv`].
pub fn gemm(
    pool: &ThreadPool,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    x: &QuantizedActs,
    y: &mut [f32],
) {
    gemm_with(selected_isa(), pool, w, n, k, x, y);
}

/// [`gemm`] on a given path (panics if the CPU lacks it).
pub fn gemm_with(
    isa: Isa,
    pool: &ThreadPool,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    x: &QuantizedActs,
    y: &mut [f32],
) {
    let m = x.rows();
    check_shapes("gemm", w, n, k, x, y.len(), m);
    if n == 0 || m == 0 {
        return;
    }
    if m == 1 {
        // One row gains nothing from gemm's tiling (the AVX-512 tiles would
        // repack weights for a single use).
        return gemv_with(isa, pool, w, n, k, x, y);
    }
    let kern = kernels_for(isa);
    let nb = k / QK8_0;
    let per = split_rows(n, pool.threads());
    let tasks = n.div_ceil(per);
    let yp = SendPtr(y.as_mut_ptr());
    pool.run(tasks, &|t| {
        let j0 = t * per;
        let j1 = (j0 + per).min(n);
        // SAFETY: task t alone writes columns j0..j1 of every row of the
        // m x n output; those windows are disjoint between tasks and inside
        // y (y.len() >= m * n, checked), which run() keeps borrowed.
        let mut out = unsafe { OutRows::new(yp.get().add(j0), n, m, j1 - j0) };
        kern.gemm_rows(&w[j0 * nb..j1 * nb], nb, x, &mut out);
    });
}

/// The fewest activation rows for which `gemm_with(Isa::Amx, ..)` uses the
/// tile unit with weights repacked per call; with fewer it runs the AVX-512
/// VNNI gemm. Measured on a Xeon with AMX (SmolLM2 shapes, 1 thread): per-call
/// repacking is 0.7-0.8x VNNI below 16 rows, 1.0-1.2x from 16 on.
/// [`gemm_tiled`] (repacked once) has no such limit: 2x VNNI from m = 2.
pub const AMX_MIN_ROWS: usize = 16;

/// The path [`gemm_tiled`] runs on: the selected path ([`selected_isa`]) when
/// it has a gemm over repacked weights (AMX or AVX-512 VNNI), else `None`.
pub fn tiled_isa() -> Option<Isa> {
    let isa = selected_isa();
    matches!(isa, Isa::Amx | Isa::Avx512Vnni).then_some(isa)
}

/// `y[r * n + j] = sum_i W[j, i] * X[r, i]` for `r < m = x.rows()`, `j < n`
/// with the weights repacked once ([`TiledQ8_0`]) rather than per call, on
/// the path [`tiled_isa`] names. Panics if there is none (ask `tiled_isa()`
/// first) or if the shapes disagree.
pub fn gemm_tiled(pool: &ThreadPool, w: &TiledQ8_0, x: &QuantizedActs, y: &mut [f32]) {
    gemm_tiled_many(pool, &mut [(w, y)], x);
}

/// [`gemm_tiled`] on a given path: `Isa::Amx` or `Isa::Avx512Vnni` (panics
/// for any other, or if this CPU cannot run it).
pub fn gemm_tiled_with(
    isa: Isa,
    pool: &ThreadPool,
    w: &TiledQ8_0,
    x: &QuantizedActs,
    y: &mut [f32],
) {
    gemm_tiled_many_with(isa, pool, &mut [(w, y)], x);
}

/// [`gemm_tiled`] of several matrices over the same activations (a layer's
/// q, k and v, or its gate and up) in one round of the pool: the threads
/// share out the matrices' columns (or rows, see below) as if they were one
/// matrix, and each lays out the activations for the tile unit once.
/// Every output is the same, bit for bit, as from its own `gemm_tiled`.
pub fn gemm_tiled_many(
    pool: &ThreadPool,
    jobs: &mut [(&TiledQ8_0, &mut [f32])],
    x: &QuantizedActs,
) {
    let isa = tiled_isa().unwrap_or_else(|| {
        panic!(
            "knob-kernels: gemm_tiled needs the amx or avx512vnni path, and {} is selected",
            selected_isa().name()
        )
    });
    gemm_tiled_many_with(isa, pool, jobs, x);
}

/// [`gemm_tiled_many`] on a given path (see [`gemm_tiled_with`]).
pub fn gemm_tiled_many_with(
    isa: Isa,
    pool: &ThreadPool,
    jobs: &mut [(&TiledQ8_0, &mut [f32])],
    x: &QuantizedActs,
) {
    assert!(
        matches!(isa, Isa::Amx | Isa::Avx512Vnni),
        "knob-kernels: gemm_tiled runs on the amx or avx512vnni path, not {}",
        isa.name()
    );
    let m = x.rows();
    for (w, y) in jobs.iter() {
        let (n, k) = (w.rows(), w.cols());
        assert_eq!(
            x.cols(),
            k,
            "gemm_tiled: activations have {} columns, expected k = {k}",
            x.cols()
        );
        assert!(
            y.len() >= m * n,
            "gemm_tiled: y has {} values, needs {}",
            y.len(),
            m * n
        );
    }
    if m == 0 || jobs.iter().all(|(w, _)| w.rows() == 0) {
        return;
    }
    let k = x.cols();
    if k == 0 {
        for (w, y) in jobs.iter_mut() {
            y[..m * w.rows()].fill(0.0);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        /// The tiled gemm this call runs; its constructor checked the CPU.
        #[derive(Clone, Copy)]
        enum TiledPath {
            Amx(x86::amx::Amx),
            Vnni(x86::avx512vnni::Avx512Vnni),
        }
        let path = match isa {
            Isa::Amx => TiledPath::Amx(x86::amx::Amx::new().unwrap_or_else(|| unavailable(isa))),
            _ => TiledPath::Vnni(
                x86::avx512vnni::Avx512Vnni::new().unwrap_or_else(|| unavailable(isa)),
            ),
        };
        let nb = k / QK8_0;
        let mats: Vec<(&TiledQ8_0, SendPtr)> = jobs
            .iter_mut()
            .map(|(w, y)| (&**w, SendPtr(y.as_mut_ptr())))
            .collect();
        let row_tiles = m.div_ceil(TILE_N);
        let split_rows = match path {
            TiledPath::Amx(amx)
                if pool.threads() > 1
                    && row_tiles >= x86::amx::ROW_TILES_PER_PASS * pool.threads() =>
            {
                Some(amx)
            }
            _ => None,
        };
        if let Some(amx) = split_rows {
            // Enough rows that every thread fills whole passes of row tiles:
            // split the rows, so that each thread reads only the activations
            // it quantized and writes the rows its next steps read (prefill
            // splits those by rows too). 512 rows on 2 threads: 462-476
            // against 518 us per token; 64 rows stay split by columns, where
            // each thread's weight tiles serve all four row tiles (404
            // against 434; `knob bench model --profile`).
            let per = row_tiles.div_ceil(pool.threads());
            let tasks = row_tiles.div_ceil(per);
            pool.run(tasks, &|t| {
                let tiles = t * per..((t + 1) * per).min(row_tiles);
                let (r0, r1) = (tiles.start * TILE_N, (tiles.end * TILE_N).min(m));
                let mut pieces: Vec<TiledPiece<'_, '_>> = mats
                    .iter()
                    .filter(|(w, _)| w.rows() > 0)
                    .map(|&(w, ref y)| {
                        let n = w.rows();
                        TiledPiece {
                            vals: &w.vals,
                            scales: &w.scales,
                            cols: n,
                            // SAFETY: task t alone writes rows r0..r1 of each
                            // m x n output; those windows are disjoint between
                            // tasks and inside y (y.len() >= m * n, checked),
                            // which `jobs` keeps borrowed.
                            out: unsafe { OutRows::new(y.get().add(r0 * n), n, r1 - r0, n) },
                        }
                    })
                    .collect();
                x86::amx::gemm_tiled_pieces(amx, nb, x, tiles, &mut pieces);
            });
            return;
        }
        // One task per thread, each a run of whole 16-row tile groups of
        // the matrices laid end to end: every task sets up the tile unit and
        // lays out all of x's scales, which cost more than finer tasks win
        // back (the 576 x 576 product of 64 rows on 2 threads: 50 against 66
        // us with 4 tasks per thread, `knob bench kernels --shape smollm2`).
        let groups: Vec<usize> = mats
            .iter()
            .map(|(w, _)| w.rows().div_ceil(TILE_N))
            .collect();
        let total: usize = groups.iter().sum();
        let per = total.div_ceil(pool.threads());
        let tasks = total.div_ceil(per);
        pool.run(tasks, &|t| {
            let (g0, g1) = (t * per, ((t + 1) * per).min(total));
            let mut pieces = Vec::with_capacity(mats.len());
            let mut first = 0;
            for (&(w, ref y), &count) in mats.iter().zip(&groups) {
                // This task's groups of this matrix, matrix-relative.
                let (a, b) = (
                    g0.max(first) - first,
                    g1.min(first + count).saturating_sub(first),
                );
                first += count;
                if a >= b {
                    continue;
                }
                let n = w.rows();
                let (j0, j1) = (a * TILE_N, (b * TILE_N).min(n));
                pieces.push(TiledPiece {
                    vals: &w.vals[a * nb..b * nb],
                    scales: &w.scales[a * nb..b * nb],
                    cols: j1 - j0,
                    // SAFETY: task t alone writes columns j0..j1 of every row
                    // of this m x n output; those windows are disjoint between
                    // tasks and inside y (y.len() >= m * n, checked), which
                    // `jobs` keeps borrowed.
                    out: unsafe { OutRows::new(y.get().add(j0), n, m, j1 - j0) },
                });
            }
            match path {
                TiledPath::Amx(amx) => {
                    x86::amx::gemm_tiled_pieces(amx, nb, x, 0..row_tiles, &mut pieces)
                }
                TiledPath::Vnni(vnni) => {
                    x86::avx512vnni::gemm_tiled_pieces(vnni, nb, x, &mut pieces)
                }
            }
        });
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = pool;
        unavailable(isa)
    }
}

/// Exact per-block integer dot products of one weight row (`k / 32` blocks)
/// with activation row `r` on a given path, for tests that compare paths.
pub fn block_dots_with(
    isa: Isa,
    w_row: &[BlockQ8_0],
    x: &QuantizedActs,
    r: usize,
    out: &mut [i32],
) {
    let row = x.row(r);
    assert_eq!(w_row.len(), row.qs.len(), "block_dots: row lengths differ");
    assert_eq!(
        out.len(),
        w_row.len(),
        "block_dots: out.len() must be the block count"
    );
    kernels_for(isa).block_dots(w_row, row, out);
}

/// One Q8_0 weight row times activation row `r`, on a given path.
pub fn dot_with(isa: Isa, w_row: &[BlockQ8_0], x: &QuantizedActs, r: usize) -> f32 {
    let row = x.row(r);
    assert_eq!(w_row.len(), row.qs.len(), "dot: row lengths differ");
    let mut y = [0.0f32];
    kernels_for(isa).gemv_rows(w_row, w_row.len(), row, &mut y);
    y[0]
}

/// A raw pointer that may cross to the pool's threads (each task derives a
/// disjoint region from it).
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used to derive disjoint per-task regions, see gemv/gemm.
unsafe impl Send for SendPtr {}
// SAFETY: as above; the pointer itself is only read.
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
