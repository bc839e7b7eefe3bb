//! The AVX-512 VNNI path: `vpdpbusd` on 512-bit registers, two Q8_0 blocks
//! per instruction.
//!
//! `vpdpbusd` multiplies unsigned by signed bytes. Weights are made unsigned
//! by flipping their top bit (`w + 128`, exact for every i8 including -128),
//! and the offset is removed with the activation block's sum:
//! `sum (w + 128) x = w . x + 128 * sum x`, so each block's accumulator
//! starts at `-128 * sum x` (from [`QuantizedActs`]). The result is the exact
//! integer dot product for any weights and activations in [-128, 127].
//!
//! gemm repacks a tile of 16 weight rows so that one 512-bit register holds
//! 4 consecutive values of each of the 16 rows; one `vpdpbusd` with 4
//! broadcast activation values then advances 16 dot products at once, and
//! every repacked weight register serves several activation rows.

use std::arch::x86_64::*;

use super::avx2;
use crate::acts::{ActRow, Q32};
use crate::tiled::{BTile, Scales16, TiledPiece, TILE_N};
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

pub(crate) const REQUIRES: &str = "needs AVX-512 F/BW/VL with VNNI, plus AVX2, FMA and F16C";

/// Proof that the CPU has AVX-512 F/BW/VL/VNNI and AVX2/FMA/F16C.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512Vnni(());

impl Avx512Vnni {
    pub(crate) fn new() -> Option<Self> {
        let ok = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
            && avx2::Avx2::new().is_some();
        ok.then_some(Avx512Vnni(()))
    }

    /// The bandwidth probe's read (`bench::stream_read`) with 512-bit loads:
    /// on a Xeon they read about 20% faster than 256-bit ones, as fast as the
    /// gemv kernels here do, so the probe does not set the limit too low.
    pub(crate) fn stream_sum(self, buf: &[u8]) -> u64 {
        // SAFETY: the token proves AVX-512 F.
        unsafe { stream_sum(buf) }
    }
}

/// The checksum of `bench::stream_read`: the u64 words of the longest
/// prefix that is a multiple of 128 bytes, plus the bytes after it.
#[target_feature(enable = "avx512f")]
unsafe fn stream_sum(buf: &[u8]) -> u64 {
    const STEP: usize = 256;
    const AHEAD: usize = 1024;
    let p = buf.as_ptr();
    let mut acc = [_mm512_setzero_si512(); 4];
    let body = buf.len() - buf.len() % STEP;
    let mut i = 0;
    while i < body {
        for line in 0..4 {
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + AHEAD + 64 * line).cast());
        }
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + STEP <= body <= len, so the 64 bytes at i + 64u are in buf.
            *a = _mm512_add_epi64(*a, unsafe { _mm512_loadu_si512(p.add(i + 64 * u).cast()) });
        }
        i += STEP;
    }
    let words = buf.len() - buf.len() % 128;
    if i < words {
        // One 128-byte block is left over from the 256-byte steps.
        for (u, a) in acc.iter_mut().take(2).enumerate() {
            // SAFETY: i + 128 <= words <= len.
            *a = _mm512_add_epi64(*a, unsafe { _mm512_loadu_si512(p.add(i + 64 * u).cast()) });
        }
    }
    let s = _mm512_add_epi64(
        _mm512_add_epi64(acc[0], acc[1]),
        _mm512_add_epi64(acc[2], acc[3]),
    );
    (_mm512_reduce_add_epi64(s) as u64)
        .wrapping_add(buf[words..].iter().map(|&b| u64::from(b)).sum::<u64>())
}

impl Kernels for Avx512Vnni {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        assert!(x.len() == qs.len() * QK8_0 && d.len() == qs.len() && sums.len() == qs.len());
        // SAFETY: the token proves AVX-512 F; shapes checked above.
        unsafe { super::avx512_quantize::quantize_acts(x, qs, d, sums) }
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        assert!(w.len() == x.qs.len() && out.len() == w.len() && x.sums.len() == w.len());
        for (((o, wb), xq), &s) in out.iter_mut().zip(w).zip(x.qs).zip(x.sums) {
            // SAFETY: the token proves the features; whole blocks.
            *o = unsafe { avx2::hsum_i32(dot_block_256(wb, xq, s)) };
        }
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        assert!(
            w.len() == y.len() * nb && x.qs.len() == nb && x.d.len() == nb && x.sums.len() == nb
        );
        // SAFETY: the token proves the features; shapes checked above.
        unsafe { gemv_rows(w, nb, x, y) }
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        assert!(w.len().is_multiple_of(nb) && x.cols() == nb * QK8_0);
        // SAFETY: the token proves the features; shapes checked above.
        unsafe { gemm_rows(w, nb, x, out) }
    }
}

/// Eight i32 partial sums of one block's dot product (`256-bit vpdpbusd`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2")]
#[inline]
fn dot_block_256(w: &BlockQ8_0, x: &Q32, xsum: i32) -> __m256i {
    // SAFETY: `qs` is 32 readable bytes (unaligned load); Q32 is 32 bytes, aligned.
    let (wv, xv) = unsafe {
        (
            _mm256_loadu_si256(w.qs.as_ptr().cast()),
            _mm256_load_si256(x.0.as_ptr().cast()),
        )
    };
    let wu = _mm256_xor_si256(wv, _mm256_set1_epi8(-128));
    _mm256_dpbusd_epi32(_mm256_setr_epi32(-128 * xsum, 0, 0, 0, 0, 0, 0, 0), wu, xv)
}

/// Two consecutive weight blocks' values, top bits flipped (unsigned).
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn load_w2(b: *const BlockQ8_0) -> __m512i {
    // SAFETY: the caller passes a pointer to two readable consecutive blocks;
    // each `qs` is 32 bytes at offset 2 of its 34-byte block.
    unsafe {
        let lo = _mm256_loadu_si256((*b).qs.as_ptr().cast());
        let hi = _mm256_loadu_si256((*b.add(1)).qs.as_ptr().cast());
        _mm512_xor_si512(
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi),
            _mm512_set1_epi8(-128),
        )
    }
}

/// The two blocks' scales times the two activation scales at `xd`, each
/// product spread over its block's 8 lanes. The two f16 scales are joined in a
/// general register and converted together (cheaper than broadcasting each).
#[target_feature(enable = "avx512f,f16c")]
#[inline]
fn scale_pair(b: *const BlockQ8_0, xd: *const f32, spread: __m512i) -> __m512 {
    // SAFETY: the caller passes a pointer to two readable consecutive blocks
    // and to two readable activation scales.
    let (h0, h1, d2) = unsafe {
        (
            u16::from_le_bytes((*b).d),
            u16::from_le_bytes((*b.add(1)).d),
            _mm_castpd_ps(_mm_load_sd(xd.cast())),
        )
    };
    let h = _mm_cvtsi32_si128((u32::from(h0) | (u32::from(h1) << 16)) as i32);
    let d = _mm_mul_ps(_mm_cvtph_ps(h), d2);
    _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d))
}

/// Independent accumulators per row (block pairs in flight): enough to hide
/// the FMA latency while the row is read as one sequential stream.
const GEMV_UNROLL: usize = 4;

/// gemv reads one row at a time, front to back. Interleaving several rows
/// (to share activation loads) measured 3x slower on DRAM-bound matrices
/// here: the hardware prefetchers follow one stream per row best.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn gemv_rows(w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
    let pairs = nb / 2;
    let wp = w.as_ptr();
    // The VNNI offset correction of each pair (-128 * block sum in lane 0 of
    // each block's half), computed once per call.
    let bias: Vec<__m512i> = (0..pairs)
        .map(|p| {
            let (s0, s1) = (-128 * x.sums[2 * p], -128 * x.sums[2 * p + 1]);
            _mm512_setr_epi32(s0, 0, 0, 0, 0, 0, 0, 0, s1, 0, 0, 0, 0, 0, 0, 0)
        })
        .collect();
    let spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (j, yj) in y.iter_mut().enumerate() {
        // SAFETY: row j < y.len() starts inside w (w.len() == y.len() * nb).
        let row = unsafe { wp.add(j * nb) };
        let step = |acc: __m512, p: usize| -> __m512 {
            // SAFETY: p < pairs, so blocks 2p and 2p + 1 are inside this row,
            // and x.qs has nb blocks (64 bytes from block 2p).
            let (blk, xv) = unsafe {
                (
                    row.add(2 * p),
                    _mm512_loadu_si512(x.qs.as_ptr().add(2 * p).cast()),
                )
            };
            // Software prefetch a fixed distance ahead in the row stream (the
            // rows are contiguous, so this runs on into the next row).
            _mm_prefetch::<_MM_HINT_T0>(blk.cast::<i8>().wrapping_add(avx2::PREFETCH_BYTES));
            // SAFETY: p < pairs == bias.len(); x.d has nb > 2p + 1 entries.
            let (b, xd) = unsafe { (*bias.get_unchecked(p), x.d.as_ptr().add(2 * p)) };
            let dot = _mm512_dpbusd_epi32(b, load_w2(blk), xv);
            _mm512_fmadd_ps(scale_pair(blk, xd, spread), _mm512_cvtepi32_ps(dot), acc)
        };
        let mut acc = [_mm512_setzero_ps(); GEMV_UNROLL];
        let mut p = 0;
        while p + GEMV_UNROLL <= pairs {
            for u in 0..GEMV_UNROLL {
                acc[u] = step(acc[u], p + u);
            }
            p += GEMV_UNROLL;
        }
        while p < pairs {
            acc[0] = step(acc[0], p);
            p += 1;
        }
        let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ));
        if nb % 2 == 1 {
            let b = nb - 1;
            let blk = &w[j * nb + b];
            let dot = dot_block_256(blk, &x.qs[b], x.sums[b]);
            sum += avx2::hsum_ps(_mm256_mul_ps(
                _mm256_set1_ps(blk.scale() * x.d[b]),
                _mm256_cvtepi32_ps(dot),
            ));
        }
        *yj = sum;
    }
}

/// Weight rows per repacked gemm tile (one per 32-bit lane).
const TILE_W: usize = 16;
// The per-call and the repacked-once gemms share `block_fma` and
// `store_lanes`, so their tiles must be the same width.
const _: () = assert!(TILE_W == TILE_N);
/// Activation rows that share each repacked weight register.
const TILE_X: usize = 4;

/// A tile of up to 16 weight rows, repacked: for block b, register g
/// (g < 8) holds values `4g..4g+4` of each row, lane = row; unsigned (top bit
/// flipped). Rows past the tile's end are zero with scale 0.
struct Packed {
    vals: Vec<__m512i>,
    scales: Vec<__m512>,
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn pack_tile(w: &[BlockQ8_0], nb: usize, rows: usize, pk: &mut Packed) {
    pk.vals.clear();
    pk.scales.clear();
    let flip = _mm512_set1_epi8(-128);
    for b in 0..nb {
        // Gather row r's 32 bytes as 8 dwords; transposing 16 rows x 8 dwords
        // through a stack buffer is cheap next to the m rows that reuse it.
        let mut t = [[0u32; TILE_W]; 8];
        let mut s = [0u16; TILE_W];
        for r in 0..rows {
            let blk = &w[r * nb + b];
            s[r] = u16::from_le_bytes(blk.d);
            for g in 0..8 {
                let q = &blk.qs[4 * g..4 * g + 4];
                t[g][r] = u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
            }
        }
        for tg in &t {
            // SAFETY: tg is 16 u32 = 64 readable bytes.
            let v = unsafe { _mm512_loadu_si512(tg.as_ptr().cast()) };
            // Missing rows must contribute 0: flipped zero is 128, so their
            // products are 128 * x, cancelled by the bias like every row's,
            // and then multiplied by scale 0.
            pk.vals.push(_mm512_xor_si512(v, flip));
        }
        // SAFETY: s is 16 u16 = 32 readable bytes.
        pk.scales.push(_mm512_cvtph_ps(unsafe {
            _mm256_loadu_si256(s.as_ptr().cast())
        }));
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn gemm_rows(w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
    let n = w.len() / nb;
    let m = x.rows();
    let mut pk = Packed {
        vals: Vec::with_capacity(nb * 8),
        scales: Vec::with_capacity(nb),
    };
    let mut j = 0;
    while j < n {
        let rows = TILE_W.min(n - j);
        pack_tile(&w[j * nb..(j + rows) * nb], nb, rows, &mut pk);
        // Fetch the next tile's weights (contiguous) while this one computes:
        // packing reads rows with scalar loads that would otherwise wait on
        // memory one line at a time (3x slower on the 28 MiB lm_head).
        let next = &w[((j + rows) * nb).min(w.len())..((j + 2 * rows) * nb).min(w.len())];
        let next_bytes = std::mem::size_of_val(next);
        for off in (0..next_bytes).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(next.as_ptr().cast::<i8>().wrapping_add(off));
        }
        let mut r = 0;
        while r < m {
            let xr = TILE_X.min(m - r);
            let xrows: [ActRow<'_>; TILE_X] = std::array::from_fn(|c| x.row(r + c.min(xr - 1)));
            let mut acc = [_mm512_setzero_ps(); TILE_X];
            for b in 0..nb {
                // SAFETY: b < nb; pk has 8 registers per block.
                let wv: [__m512i; 8] =
                    std::array::from_fn(|g| unsafe { *pk.vals.get_unchecked(b * 8 + g) });
                let ws = pk.scales[b];
                for (a, row) in acc.iter_mut().zip(&xrows) {
                    // SAFETY: this function has the features; b < nb == row.qs.len().
                    *a = unsafe { block_fma(*a, &wv, ws, row, b) };
                }
            }
            for (c, a) in acc.iter().take(xr).enumerate() {
                // SAFETY: this function has the features.
                unsafe { store_lanes(&mut out.row_mut(r + c)[j..j + rows], *a) };
            }
            r += xr;
        }
        j += rows;
    }
}

/// The AVX-512 VNNI gemm over weights repacked once ([`crate::TiledQ8_0`]):
/// every piece against all of `x`'s rows. A repacked block of 16 weight rows
/// is exactly the 8 registers `pack_tile` builds per call (register g holds
/// values `4g..4g+4` of each row, lane = row), stored signed for the AMX
/// path too, so the top bits are flipped as the tile is loaded. On a Zen 4
/// without AMX the per-call packing was most of the settings agent's time.
pub(crate) fn gemm_tiled_pieces(
    _token: Avx512Vnni,
    nb: usize,
    x: &QuantizedActs,
    pieces: &mut [TiledPiece<'_, '_>],
) {
    assert!(x.cols() == nb * QK8_0);
    for p in pieces.iter() {
        assert!(p.vals.len() == p.scales.len() && p.vals.len() == p.cols.div_ceil(TILE_N) * nb);
    }
    for p in pieces.iter_mut() {
        for (j, cols, v, s) in p.groups(nb) {
            // Activation rows eight at a time, then the rest by 4, 2 and 1,
            // so no row is computed twice.
            let m = x.rows();
            let mut r = 0;
            while r < m {
                let left = m - r;
                // SAFETY: the token proves the features; v and s hold nb
                // entries (checked above); rows r.. exist in x.
                r += unsafe {
                    if left >= 8 {
                        tiled_rows::<8>(v, s, x, r, &mut p.out, j, cols)
                    } else if left >= 4 {
                        tiled_rows::<4>(v, s, x, r, &mut p.out, j, cols)
                    } else if left >= 2 {
                        tiled_rows::<2>(v, s, x, r, &mut p.out, j, cols)
                    } else {
                        tiled_rows::<1>(v, s, x, r, &mut p.out, j, cols)
                    }
                };
            }
        }
    }
}

/// Activation rows `r0..r0 + R` times one repacked group of 16 weight rows
/// (`vals`, `scales`: one entry per block), into `out` columns `j..j + cols`.
/// Returns R.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn tiled_rows<const R: usize>(
    vals: &[BTile],
    scales: &[Scales16],
    x: &QuantizedActs,
    r0: usize,
    out: &mut OutRows<'_>,
    j: usize,
    cols: usize,
) -> usize {
    let flip = _mm512_set1_epi8(-128);
    let xrows: [ActRow<'_>; R] = std::array::from_fn(|c| x.row(r0 + c));
    let mut acc = [_mm512_setzero_ps(); R];
    for (b, (tile, sc)) in vals.iter().zip(scales).enumerate() {
        let tp = tile.0.as_ptr().cast::<__m512i>();
        let wv: [__m512i; 8] = std::array::from_fn(|g| {
            // SAFETY: a BTile is 512 bytes, 64-byte aligned: 8 aligned registers.
            let v = unsafe { _mm512_load_si512(tp.add(g)) };
            _mm512_xor_si512(v, flip)
        });
        // SAFETY: Scales16 is 16 f32, 64-byte aligned.
        let ws = unsafe { _mm512_load_ps(sc.0.as_ptr()) };
        for (a, row) in acc.iter_mut().zip(&xrows) {
            // SAFETY: this function has the features; b < nb == row.qs.len().
            *a = unsafe { block_fma(*a, &wv, ws, row, b) };
        }
    }
    for (c, a) in acc.iter().enumerate() {
        // SAFETY: this function has the features.
        unsafe { store_lanes(&mut out.row_mut(r0 + c)[j..j + cols], *a) };
    }
    R
}

/// `acc + ws * x.d[b] * (w . x)` for block `b` of one activation row against
/// 16 weight rows in the register layout of both gemms (`wv[g]` holds values
/// `4g..4g+4` of each row, lane = row, top bit flipped). Written once for
/// `gemm_rows` and `tiled_rows`; it has no target features of its own, so it
/// must be inlined into theirs.
///
/// # Safety
/// The caller has this module's features, and `b < row.qs.len()`.
#[inline(always)]
unsafe fn block_fma(
    acc: __m512,
    wv: &[__m512i; 8],
    ws: __m512,
    row: &ActRow<'_>,
    b: usize,
) -> __m512 {
    // SAFETY: b is in range (caller); a Q32 is 32 readable bytes, so the 8
    // dword reads at 4g (g < 8) stay inside it; the features are the caller's.
    unsafe {
        let q = row.qs.get_unchecked(b).0.as_ptr().cast::<i32>();
        let mut dot = _mm512_set1_epi32(-128 * *row.sums.get_unchecked(b));
        for (g, &w) in wv.iter().enumerate() {
            dot = _mm512_dpbusd_epi32(dot, w, _mm512_set1_epi32(q.add(g).read_unaligned()));
        }
        _mm512_fmadd_ps(
            _mm512_mul_ps(ws, _mm512_set1_ps(*row.d.get_unchecked(b))),
            _mm512_cvtepi32_ps(dot),
            acc,
        )
    }
}

/// Stores the first `dst.len()` (at most 16) lanes of `v`: a whole tile in
/// one store, a ragged last tile through a stack copy.
///
/// # Safety
/// The caller has this module's features.
#[inline(always)]
unsafe fn store_lanes(dst: &mut [f32], v: __m512) {
    debug_assert!(dst.len() <= TILE_N);
    if dst.len() == TILE_N {
        // SAFETY: dst is 16 writable f32.
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), v) };
    } else {
        let mut lanes = [0.0f32; TILE_N];
        // SAFETY: lanes is 16 writable f32.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) };
        dst.copy_from_slice(&lanes[..dst.len()]);
    }
}
