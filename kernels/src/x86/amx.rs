//! The AMX path: Intel's tile unit (AMX-TILE, AMX-INT8) for gemm, AVX-512
//! for everything around it.
//!
//! `tdpbssd` (signed x signed bytes, int32 sums) multiplies a tile of 16
//! activation rows x 32 bytes (one Q8_0 block of each row, read in place
//! from [`QuantizedActs`]) by the same block of 16 weight rows in the layout
//! of [`crate::TiledQ8_0`], giving a 16 x 16 tile of exact block sums. One
//! instruction covers exactly one block (K = 32, not the 64 it could take):
//! with 64 the integer sum would mix two blocks with different scales. The
//! tile is stored, and AVX-512 adds `(d_w * d_x) * sum` to 16 f32 row
//! accumulators, block after block, as the scalar spec does.
//!
//! Weights come either repacked once ([`crate::gemm_tiled`], worth it from
//! m = 2 on) or repacked per 16-row group inside each gemm call (worth it
//! from [`crate::AMX_MIN_ROWS`] rows on; below, gemm runs the AVX-512 VNNI
//! code). gemv (m = 1), block dots and quantization are the AVX-512 VNNI
//! path's: one activation row would use a 16th of each tile product.
//!
//! The tile instructions go through `asm!` (their intrinsics and target
//! features are unstable). Each `asm!` block loads, multiplies and stores its
//! tiles and declares them clobbered; only the tile configuration lives
//! across blocks, set by [`TileScope`] and released when it drops.
//!
//! Linux hands out the (8 KiB per thread) tile state only on request: the
//! path asks once (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`)
//! and is unavailable, with the reason, when the CPU, the OS or that request
//! says no; the other paths then run as before.

use std::arch::asm;
use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::avx512vnni::{self, Avx512Vnni};
use crate::acts::{ActRow, Q32};
use crate::tiled::{pack_group, BTile, Scales16, TiledPiece, TILE_N};
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

/// Proof that the CPU has AMX-TILE/AMX-INT8 and the AVX-512 VNNI path, and
/// that the OS granted this process the tile state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Amx(());

impl Amx {
    /// The token, or why this CPU/OS cannot run the path. Asks Linux for the
    /// tile state on the first call (the answer is cached).
    pub(crate) fn detect() -> Result<Amx, String> {
        static STATE: OnceLock<Result<(), String>> = OnceLock::new();
        STATE
            .get_or_init(|| decide(&CpuAmx::probe(), request_tile_state))
            .clone()
            .map(|()| Amx(()))
    }

    pub(crate) fn new() -> Option<Self> {
        Self::detect().ok()
    }

    fn vnni(self) -> Avx512Vnni {
        Avx512Vnni::new().expect("the AMX token implies AVX-512 VNNI")
    }
}

/// What CPUID and XCR0 say about AMX.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CpuAmx {
    avx512vnni: bool,
    /// CPUID.(7,0):EDX bits 24 and 25.
    amx_tile: bool,
    amx_int8: bool,
    /// XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS saves tile state.
    os_tile_state: bool,
    /// Palette 1 has 8 tiles of 16 rows x 64 bytes (CPUID leaf 0x1D).
    palette_fits: bool,
}

impl CpuAmx {
    fn probe() -> CpuAmx {
        let vnni = Avx512Vnni::new().is_some();
        // Leaves above the maximum are never queried.
        let max_leaf = __get_cpuid_max(0).0;
        if max_leaf < 7 {
            return CpuAmx {
                avx512vnni: vnni,
                ..CpuAmx::default()
            };
        }
        let l7 = __cpuid_count(7, 0);
        let osxsave = __cpuid(1).ecx & (1 << 27) != 0;
        let xcr0 = if osxsave {
            let (lo, hi): (u32, u32);
            // SAFETY: XGETBV with ECX = 0 is valid whenever CPUID reports
            // OSXSAVE (checked); it only reads XCR0 into EDX:EAX.
            unsafe {
                asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
                     options(nomem, nostack, preserves_flags));
            }
            (u64::from(hi) << 32) | u64::from(lo)
        } else {
            0
        };
        let palette_fits = max_leaf >= 0x1d && {
            let p = __cpuid_count(0x1d, 1);
            let (bytes_per_row, max_names, max_rows) =
                (p.ebx & 0xffff, p.ebx >> 16, p.ecx & 0xffff);
            bytes_per_row >= 64 && max_names >= 8 && max_rows >= 16
        };
        CpuAmx {
            avx512vnni: vnni,
            amx_tile: l7.edx & (1 << 24) != 0,
            amx_int8: l7.edx & (1 << 25) != 0,
            os_tile_state: xcr0 & (0b11 << 17) == 0b11 << 17,
            palette_fits,
        }
    }
}

/// Whether the path may run, given the CPU and a request for the tile state
/// (made only when everything else is there); `Err` says why not.
fn decide(cpu: &CpuAmx, request: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    if !cpu.amx_tile || !cpu.amx_int8 {
        return Err("needs AMX-TILE and AMX-INT8 (CPUID leaf 7), which this CPU lacks".into());
    }
    if !cpu.avx512vnni {
        return Err(format!(
            "the AMX path needs the AVX-512 VNNI path as well, which {}",
            avx512vnni::REQUIRES
        ));
    }
    if !cpu.os_tile_state {
        return Err("the OS does not enable the AMX tile state (XCR0 bits 17 and 18)".into());
    }
    if !cpu.palette_fits {
        return Err("the AMX tile palette 1 is smaller than 8 tiles of 16 rows x 64 bytes (CPUID leaf 0x1D)".into());
    }
    request()
}

/// Asks Linux for permission to use the tile data state (process-wide).
#[cfg(target_os = "linux")]
fn request_tile_state() -> Result<(), String> {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: u64 = 0x1023;
    const XFEATURE_XTILEDATA: u64 = 18;
    let ret: i64;
    // SAFETY: the arch_prctl system call with ARCH_REQ_XCOMP_PERM only
    // changes which extended states this process may use; it reads no user
    // memory. `syscall` clobbers rcx and r11, declared here.
    unsafe {
        asm!("syscall",
             inlateout("rax") SYS_ARCH_PRCTL => ret,
             in("rdi") ARCH_REQ_XCOMP_PERM,
             in("rsi") XFEATURE_XTILEDATA,
             lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    if ret == 0 {
        Ok(())
    } else {
        Err(format!(
            "Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM: errno {})",
            -ret
        ))
    }
}

#[cfg(not(target_os = "linux"))]
fn request_tile_state() -> Result<(), String> {
    Err("the AMX path asks Linux for the tile state; this OS is not supported".into())
}

impl Kernels for Amx {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        self.vnni().quantize_acts(x, qs, d, sums)
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        self.vnni().block_dots(w, x, out)
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        self.vnni().gemv_rows(w, nb, x, y)
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        if x.rows() < crate::AMX_MIN_ROWS {
            // Repacking a group per call costs more than a partial row tile
            // of products saves (measured: `knob bench kernels`).
            return self.vnni().gemm_rows(w, nb, x, out);
        }
        assert!(w.len().is_multiple_of(nb) && x.cols() == nb * QK8_0);
        let n = w.len() / nb;
        let mut vals = vec![BTile::ZERO; nb];
        let mut scales = vec![Scales16::ZERO; nb];
        with_work(x, |work| {
            let scope = TileScope::new(*self, x.rows());
            let mut j = 0;
            while j < n {
                let cols = TILE_N.min(n - j);
                pack_group(
                    &w[j * nb..(j + cols) * nb],
                    nb,
                    cols,
                    &mut vals,
                    &mut scales,
                );
                scope.group(
                    &vals,
                    &scales,
                    x,
                    work,
                    out,
                    0,
                    j,
                    cols,
                    0..x.rows().div_ceil(TILE_N),
                );
                j += cols;
            }
        });
    }
}

/// The AMX gemm over pre-repacked weights: every piece against the row
/// tiles `row_tiles` of `x`, with the activations laid out once.
pub(crate) fn gemm_tiled_pieces(
    amx: Amx,
    nb: usize,
    x: &QuantizedActs,
    row_tiles: std::ops::Range<usize>,
    pieces: &mut [TiledPiece<'_, '_>],
) {
    assert!(x.cols() == nb * QK8_0 && row_tiles.end <= x.rows().div_ceil(TILE_N));
    for p in pieces.iter() {
        assert!(p.vals.len() == p.scales.len() && p.vals.len() == p.cols.div_ceil(TILE_N) * nb);
    }
    with_work(x, |work| {
        let scope = TileScope::new(amx, x.rows());
        // Row tiles a few at a time, every group over them, so that those
        // activation rows stay in L1 while the groups' tiles stream from L2
        // (all row tiles per group re-read every row from L2: 20-25% slower
        // at 512 rows).
        for t0 in row_tiles.clone().step_by(ROW_TILES_PER_PASS) {
            let tiles = t0..(t0 + ROW_TILES_PER_PASS).min(row_tiles.end);
            for p in pieces.iter_mut() {
                for (j, cols, v, s) in p.groups(nb) {
                    scope.group(
                        v,
                        s,
                        x,
                        work,
                        &mut p.out,
                        row_tiles.start,
                        j,
                        cols,
                        tiles.clone(),
                    );
                }
            }
        }
    });
}

/// Runs `f` with this thread's [`Work`], prepared for `x`. The buffers stay
/// with the thread (the pool's threads live as long as the process), so a
/// gemm allocates nothing once they have grown to the largest shape.
fn with_work<R>(x: &QuantizedActs, f: impl FnOnce(&mut Work) -> R) -> R {
    thread_local! {
        static WORK: std::cell::RefCell<Work> = const { std::cell::RefCell::new(Work::new()) };
    }
    WORK.with(|w| {
        // A gemm never calls another gemm on its own thread; should that
        // change, a fresh Work keeps it correct.
        match w.try_borrow_mut() {
            Ok(mut work) => {
                work.prepare(x);
                f(&mut work)
            }
            Err(_) => {
                let mut work = Work::new();
                work.prepare(x);
                f(&mut work)
            }
        }
    })
}

/// The activations of one gemm laid out for the tile unit, made once per
/// call (not per weight group), and the result tiles.
struct Work {
    /// Activation rows of the last row tile when it is partial, padded to
    /// 16 with zero rows.
    pad: Vec<Q32>,
    /// Activation scales, per row tile block-major (`[tile][b][r]`), zero
    /// for padding rows.
    dx: Vec<[f32; TILE_N]>,
    /// Two halves of int32 result tiles: one chunk of blocks is scaled
    /// while the tile unit fills the other.
    c: Vec<CTile>,
}

impl Work {
    const fn new() -> Work {
        Work {
            pad: Vec::new(),
            dx: Vec::new(),
            c: Vec::new(),
        }
    }

    /// Lays out the scales of every row of `x` by row tile and copies a
    /// partial last row tile into `pad` (of a gemm over more than 16 rows:
    /// with fewer, the tiles have exactly the rows of `x`).
    fn prepare(&mut self, x: &QuantizedActs) {
        let (m, nb) = (x.rows(), x.cols() / QK8_0);
        let tiles = m.div_ceil(TILE_N);
        self.dx.clear();
        self.dx.resize(tiles * nb, [0.0; TILE_N]);
        for r in 0..m {
            let dx = &mut self.dx[(r / TILE_N) * nb..(r / TILE_N + 1) * nb];
            for (dx, &d) in dx.iter_mut().zip(x.row(r).d) {
                dx[r % TILE_N] = d;
            }
        }
        let full = m - m % TILE_N;
        if m > TILE_N && full < m {
            self.pad.clear();
            self.pad.resize(TILE_N * nb, Q32::ZERO);
            for r in full..m {
                let p = (r - full) * nb;
                self.pad[p..p + nb].copy_from_slice(x.row(r).qs);
            }
        }
        if self.c.is_empty() {
            self.c = vec![CTile([[0; TILE_N]; TILE_N]); 2 * CHUNK];
        }
    }

    /// Row tile `t` of `x` (prepared): its first activation block (the
    /// tiles' rows, `nb` blocks apart), its scales, and the result tiles.
    #[allow(clippy::type_complexity)]
    fn tile(
        &mut self,
        x: &QuantizedActs,
        t: usize,
    ) -> (*const Q32, &[[f32; TILE_N]], &mut [CTile; 2 * CHUNK]) {
        let nb = x.cols() / QK8_0;
        let a = if x.rows() <= TILE_N || (t + 1) * TILE_N <= x.rows() {
            // Rows 16t..16t + tile_rows lie one after another, nb blocks apart.
            x.row(t * TILE_N).qs.as_ptr()
        } else {
            self.pad.as_ptr()
        };
        let c = (&mut self.c[..])
            .try_into()
            .expect("prepare makes 2 * CHUNK result tiles");
        (a, &self.dx[t * nb..(t + 1) * nb], c)
    }
}

/// A 16 x 16 tile of int32 block sums as `tilestored` writes it.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct CTile([[i32; TILE_N]; TILE_N]);

/// The 64-byte `ldtilecfg` operand.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

/// Rows of the A and C tiles for a gemm of `m` activation rows: exactly
/// `m` up to 16 (a tile product's time grows with its rows, and a short
/// query or a few beams fill a fraction of 16), else 16 (the last, partial
/// row tile is padded).
fn tile_rows(m: usize) -> u8 {
    assert!(m > 0, "a tile gemm needs rows");
    m.min(TILE_N) as u8
}

/// Tiles used: C (`rows` x 16 int32) in tmm0..tmm3, one per block of a
/// chunk; A (`rows` x 32 bytes) in tmm4/tmm5 and B (8 rows x 64 bytes) in
/// tmm6/tmm7, alternating. `rows` is 1..=16.
fn tile_config(rows: u8) -> TileConfig {
    assert!((1..=TILE_N as u8).contains(&rows));
    let mut c = [0u8; 64];
    c[0] = 1; // palette 1
    let shapes: [(u8, u16); 8] = [
        (rows, 64),
        (rows, 64),
        (rows, 64),
        (rows, 64),
        (rows, 32),
        (rows, 32),
        (8, 64),
        (8, 64),
    ];
    for (t, (rows, colsb)) in shapes.into_iter().enumerate() {
        c[16 + 2 * t..18 + 2 * t].copy_from_slice(&colsb.to_le_bytes());
        c[48 + t] = rows;
    }
    TileConfig(c)
}

/// The tile configuration of one gemm task (its A and C tiles sized for its
/// activation rows, [`tile_rows`]): loaded on creation, released
/// (`tilerelease`) on drop. Not `Send`: the configuration belongs to the
/// thread that loaded it.
struct TileScope {
    _token: Amx,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl TileScope {
    fn new(token: Amx, m: usize) -> TileScope {
        let cfg = tile_config(tile_rows(m));
        // SAFETY: the token proves AMX-TILE and the OS's permission;
        // `cfg` is a valid palette-1 configuration of 64 readable, aligned
        // bytes. ldtilecfg zeroes every tile, declared clobbered.
        unsafe {
            asm!("ldtilecfg [{cfg}]", cfg = in(reg) cfg.0.as_ptr(),
                 out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
                 out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
                 options(nostack, readonly, preserves_flags));
        }
        TileScope {
            _token: token,
            _not_send: std::marker::PhantomData,
        }
    }

    /// One group of 16 weight rows (`nb` tiles and scales) against the row
    /// tiles `tiles` of `x` (laid out in `work`): writes output columns
    /// `j..j + cols` of those rows of `out`, whose row 0 is the first row of
    /// row tile `out_tile0`.
    #[allow(clippy::too_many_arguments)]
    fn group(
        &self,
        vals: &[BTile],
        scales: &[Scales16],
        x: &QuantizedActs,
        work: &mut Work,
        out: &mut OutRows<'_>,
        out_tile0: usize,
        j: usize,
        cols: usize,
        tiles: std::ops::Range<usize>,
    ) {
        let nb = vals.len();
        let m = x.rows();
        assert!(
            scales.len() == nb
                && x.cols() == nb * QK8_0
                && work.dx.len() == m.div_ceil(TILE_N) * nb
                && work.c.len() == 2 * CHUNK
                && cols <= TILE_N
                && cols > 0
        );
        assert!(tiles.end <= m.div_ceil(TILE_N) && out_tile0 <= tiles.start);
        for t in tiles {
            let r0 = t * TILE_N;
            let rows = TILE_N.min(m - r0);
            let (a, dx, c) = work.tile(x, t);
            let dst = RowTileOut {
                out: &mut *out,
                r0: r0 - out_tile0 * TILE_N,
                j,
                cols,
            };
            // Rows past `rows` are padding (zero scales; or, when the tiles
            // have fewer than 16 rows, result rows no tile fills): the
            // scaling skips them in steps of four.
            // SAFETY: the scope proves AMX and AVX-512 and holds the tile
            // configuration for x's rows; `a` points to the tiles' rows of
            // nb blocks, nb apart (all of x's rows when there are at most
            // 16, else 16 whole rows of x or the padded copy); vals, scales and dx
            // have nb entries (asserted); `rows` rows from r0 and columns
            // j..j + cols <= 16 lie in `out`'s window (the caller's).
            unsafe {
                match rows.div_ceil(4) {
                    1 => row_tile::<4>(a, vals, scales, dx, c, dst, rows),
                    2 => row_tile::<8>(a, vals, scales, dx, c, dst, rows),
                    3 => row_tile::<12>(a, vals, scales, dx, c, dst, rows),
                    _ => row_tile::<16>(a, vals, scales, dx, c, dst, rows),
                }
            }
        }
    }
}

/// Where [`row_tile`] writes: `out`'s rows from `r0`, columns `j..j + cols`.
struct RowTileOut<'o, 'a> {
    out: &'o mut OutRows<'a>,
    r0: usize,
    j: usize,
    cols: usize,
}

impl Drop for TileScope {
    fn drop(&mut self) {
        // SAFETY: AMX proven by the token held; tilerelease returns the tile
        // state to its initial state (all tiles declared clobbered).
        unsafe {
            asm!("tilerelease",
                 out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
                 out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
                 options(nostack, nomem, preserves_flags));
        }
    }
}

/// Row tiles (of 16 activation rows) that [`gemm_tiled_pieces`] takes
/// through every weight group at a time.
pub(crate) const ROW_TILES_PER_PASS: usize = 4;

/// Blocks per `asm!` chunk: one C tile each (tmm0..tmm3).
const CHUNK: usize = 4;

/// `C_i = A_i x B_i` for blocks `i < 4` from `a`, `b`: A_i is the
/// configured rows (at most 16) of 32 bytes at `a + 32 i`, `stride_a`
/// apart; B_i the 512-byte tile at `b + 512 i`; C_i goes to the 1 KiB at
/// `c + 1024 i` (its first rows). A and B alternate
/// between two tiles each so loads overlap the previous product.
///
/// # Safety
/// The tile configuration of [`tile_config`] is loaded (so the CPU has
/// AMX-INT8 and the OS granted it), and the memory described is readable
/// (A, B) and writable (C).
#[inline(always)]
unsafe fn chunk_product(a: *const u8, stride_a: usize, b: *const u8, c: *mut u8) {
    // SAFETY: the caller's contract; every tile written is declared clobbered.
    unsafe {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "tileloadd tmm4, [{a} + {sa}*1]",
            "tileloadd tmm6, [{b} + {s64}*1]",
            "tdpbssd tmm0, tmm4, tmm6",
            "tileloadd tmm5, [{a} + {sa}*1 + 32]",
            "tileloadd tmm7, [{b} + {s64}*1 + 512]",
            "tdpbssd tmm1, tmm5, tmm7",
            "tileloadd tmm4, [{a} + {sa}*1 + 64]",
            "tileloadd tmm6, [{b} + {s64}*1 + 1024]",
            "tdpbssd tmm2, tmm4, tmm6",
            "tileloadd tmm5, [{a} + {sa}*1 + 96]",
            "tileloadd tmm7, [{b} + {s64}*1 + 1536]",
            "tdpbssd tmm3, tmm5, tmm7",
            "tilestored [{c} + {s64}*1], tmm0",
            "tilestored [{c} + {s64}*1 + 1024], tmm1",
            "tilestored [{c} + {s64}*1 + 2048], tmm2",
            "tilestored [{c} + {s64}*1 + 3072], tmm3",
            a = in(reg) a,
            sa = in(reg) stride_a,
            b = in(reg) b,
            c = in(reg) c,
            s64 = in(reg) 64usize,
            out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
            out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
            options(nostack, preserves_flags),
        );
    }
}

/// As [`chunk_product`] for one block (C in tmm0).
///
/// # Safety
/// As [`chunk_product`], for one block.
#[inline(always)]
unsafe fn block_product(a: *const u8, stride_a: usize, b: *const u8, c: *mut u8) {
    // SAFETY: the caller's contract; every tile written is declared clobbered.
    unsafe {
        asm!(
            "tilezero tmm0",
            "tileloadd tmm4, [{a} + {sa}*1]",
            "tileloadd tmm6, [{b} + {s64}*1]",
            "tdpbssd tmm0, tmm4, tmm6",
            "tilestored [{c} + {s64}*1], tmm0",
            a = in(reg) a,
            sa = in(reg) stride_a,
            b = in(reg) b,
            c = in(reg) c,
            s64 = in(reg) 64usize,
            out("tmm0") _, out("tmm4") _, out("tmm6") _,
            options(nostack, preserves_flags),
        );
    }
}

/// Adds one block's scaled sums to the first `R` row accumulators:
/// `acc[r] += (d_w * d_x[r]) * sums[r]`, 16 weight rows per lane group.
#[target_feature(enable = "avx512f")]
#[inline]
fn scale_add<const R: usize>(
    acc: &mut [__m512; R],
    sums: &CTile,
    ws: &Scales16,
    dx: &[f32; TILE_N],
) {
    // SAFETY: ws is 16 aligned f32.
    let ws = unsafe { _mm512_load_ps(ws.0.as_ptr()) };
    for (r, acc) in acc.iter_mut().enumerate() {
        // SAFETY: row r < R <= 16 of the tile is 16 aligned i32.
        let sum = unsafe { _mm512_load_si512(sums.0[r].as_ptr().cast()) };
        let s = _mm512_mul_ps(ws, _mm512_set1_ps(dx[r]));
        *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), s, *acc);
    }
}

/// One row tile against one weight group: the f32 row accumulators of its
/// first `R` rows (`rows <= R` of them real, the rest padding), written to
/// `dst`'s first `rows` rows and `cols` columns.
///
/// Blocks go to the tile unit four at a time, and each chunk's products are
/// issued before the previous chunk's sums are scaled, so the AVX-512 work
/// never waits on the stores it reads.
///
/// # Safety
/// The CPU has AMX-INT8 and AVX-512 F, the tile configuration of
/// [`tile_config`] is loaded, and `a` points to its A rows of `vals.len()`
/// readable [`Q32`] blocks, `vals.len()` blocks apart; `scales` and `dx` have
/// `vals.len()` entries; `rows <= R <= 16` and `dst.cols <= 16`, and `dst`'s
/// window holds rows `dst.r0..dst.r0 + rows` and columns `dst.j..dst.j + dst.cols`.
#[target_feature(enable = "avx512f")]
unsafe fn row_tile<const R: usize>(
    a: *const Q32,
    vals: &[BTile],
    scales: &[Scales16],
    dx: &[[f32; TILE_N]],
    c: &mut [CTile; 2 * CHUNK],
    dst: RowTileOut<'_, '_>,
    rows: usize,
) {
    let nb = vals.len();
    let stride_a = nb * QK8_0;
    let mut acc = [_mm512_setzero_ps(); R];
    let chunks = nb / CHUNK;
    let cp = c.as_mut_ptr();
    let issue = |ch: usize| {
        let b = ch * CHUNK;
        // SAFETY: blocks b..b + 4 <= nb of row 0 and the tile rows after it
        // are readable (contract), vals has nb tiles, and c holds two halves
        // of CHUNK result tiles; the configuration is loaded (contract).
        unsafe {
            chunk_product(
                a.add(b).cast(),
                stride_a,
                vals.as_ptr().add(b).cast(),
                cp.add((ch % 2) * CHUNK).cast(),
            );
        }
    };
    if chunks > 0 {
        issue(0);
    }
    for ch in 0..chunks {
        if ch + 1 < chunks {
            issue(ch + 1);
        }
        for i in 0..CHUNK {
            let b = ch * CHUNK + i;
            // SAFETY: c is live and no longer written by the tile unit for
            // this half until the next issue (program order).
            let sums = unsafe { &*cp.add((ch % 2) * CHUNK + i) };
            scale_add(&mut acc, sums, &scales[b], &dx[b]);
        }
    }
    for b in chunks * CHUNK..nb {
        // SAFETY: as for `issue`, one block.
        unsafe {
            block_product(
                a.add(b).cast(),
                stride_a,
                vals.as_ptr().add(b).cast(),
                cp.cast(),
            )
        };
        // SAFETY: c[0] was just written.
        let sums = unsafe { &*cp };
        scale_add(&mut acc, sums, &scales[b], &dx[b]);
    }
    let RowTileOut { out, r0, j, cols } = dst;
    assert!(rows <= R && cols <= TILE_N);
    // Lanes 0..cols: the group's real output columns.
    let mask = (((1u32 << cols) - 1) & 0xffff) as __mmask16;
    for (r, acc) in acc.iter().enumerate().take(rows) {
        let row = &mut out.row_mut(r0 + r)[j..j + cols];
        // SAFETY: the mask writes lanes 0..cols, and row has cols values.
        unsafe { _mm512_mask_storeu_ps(row.as_mut_ptr(), mask, *acc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: CpuAmx = CpuAmx {
        avx512vnni: true,
        amx_tile: true,
        amx_int8: true,
        os_tile_state: true,
        palette_fits: true,
    };

    #[test]
    fn the_tile_state_is_requested_only_when_everything_else_is_there() {
        let mut asked = false;
        assert_eq!(
            decide(&FULL, || {
                asked = true;
                Ok(())
            }),
            Ok(())
        );
        assert!(asked);
        let missing = [
            (
                CpuAmx {
                    amx_int8: false,
                    ..FULL
                },
                "AMX-INT8",
            ),
            (
                CpuAmx {
                    amx_tile: false,
                    ..FULL
                },
                "AMX-TILE",
            ),
            (
                CpuAmx {
                    avx512vnni: false,
                    ..FULL
                },
                "VNNI",
            ),
            (
                CpuAmx {
                    os_tile_state: false,
                    ..FULL
                },
                "XCR0",
            ),
            (
                CpuAmx {
                    palette_fits: false,
                    ..FULL
                },
                "palette",
            ),
        ];
        for (cpu, why) in missing {
            let err =
                decide(&cpu, || panic!("asked the OS although {why} is missing")).unwrap_err();
            assert!(err.contains(why) && err.contains("AMX"), "{err}");
        }
    }

    #[test]
    fn a_refused_request_leaves_the_path_unavailable_with_the_reason() {
        let err = decide(&FULL, || {
            Err("Linux refused the AMX tile state (errno 22)".into())
        })
        .unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }

    #[test]
    fn the_tile_config_is_palette_1_with_the_eight_tiles_used() {
        for rows in [1u8, 4, 7, 16] {
            let c = tile_config(rows).0;
            assert_eq!(c[0], 1);
            assert_eq!(&c[1..16], &[0; 15]);
            let colsb: Vec<u16> = (0..8)
                .map(|t| u16::from_le_bytes([c[16 + 2 * t], c[17 + 2 * t]]))
                .collect();
            assert_eq!(colsb, [64, 64, 64, 64, 32, 32, 64, 64]);
            assert_eq!(&c[48..56], &[rows, rows, rows, rows, rows, rows, 8, 8]);
            // tdpbssd's shape rules: A's bytes per row / 4 = B's rows, C's
            // bytes per row = B's, C's rows = A's.
            assert_eq!(colsb[4] / 4, u16::from(c[54]));
            assert_eq!(colsb[0], colsb[6]);
            assert_eq!(c[48], c[52]);
        }
    }

    #[test]
    fn a_short_gemm_has_tiles_of_its_rows_and_a_long_one_whole_tiles() {
        assert_eq!(tile_rows(1), 1);
        assert_eq!(tile_rows(12), 12);
        assert_eq!(tile_rows(16), 16);
        assert_eq!(tile_rows(17), 16);
        assert_eq!(tile_rows(400), 16);
    }
}
