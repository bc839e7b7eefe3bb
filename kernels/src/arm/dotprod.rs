//! The NEON dotprod path: `sdot` (four signed 8-bit products summed into
//! each 32-bit lane). `vdotq_s32` is not stable in Rust, so the instruction
//! is issued with `asm!`. Exact for every i8, -128 included.

use std::arch::aarch64::*;
use std::arch::asm;

use super::neon::{self, BlockDot};
use crate::acts::{ActRow, Q32};
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

pub(crate) const REQUIRES: &str = "needs NEON with the dot-product extension (FEAT_DotProd)";

/// Proof that the CPU has NEON and dotprod.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NeonDotprod(neon::Neon);

impl NeonDotprod {
    pub(crate) fn new() -> Option<Self> {
        let neon = neon::Neon::new()?;
        std::arch::is_aarch64_feature_detected!("dotprod").then_some(NeonDotprod(neon))
    }
}

impl Kernels for NeonDotprod {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        self.0.quantize_acts(x, qs, d, sums)
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        assert!(w.len() == x.qs.len() && out.len() == w.len());
        for ((o, wb), xq) in out.iter_mut().zip(w).zip(x.qs) {
            // SAFETY: the token proves NEON and dotprod; whole blocks.
            *o = unsafe { vaddvq_s32(dot_block(wb, xq)) };
        }
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        assert!(w.len() == y.len() * nb && x.qs.len() == nb && x.d.len() == nb);
        // SAFETY: the token proves NEON and dotprod; shapes checked above.
        unsafe { gemv_rows(w, nb, x, y) }
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        assert!(w.len() % nb == 0 && x.cols() == nb * QK8_0);
        // SAFETY: the token proves NEON and dotprod; shapes checked above.
        unsafe { gemm_rows(w, nb, x, out) }
    }
}

/// `acc + sdot(a, b)`: each 32-bit lane adds the four products of its bytes.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: sdot only reads and writes the named vector registers; the
    // target feature guarantees the CPU has the instruction.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

#[target_feature(enable = "neon,dotprod")]
#[inline]
fn dot_block(w: &BlockQ8_0, x: &Q32) -> int32x4_t {
    let (w0, w1) = neon::load_w(w);
    let (x0, x1) = neon::load_x(x);
    sdot(sdot(vdupq_n_s32(0), w0, x0), w1, x1)
}

struct Sdot;

impl BlockDot for Sdot {
    #[inline]
    unsafe fn dot(w: &BlockQ8_0, x: &Q32) -> int32x4_t {
        // SAFETY: the caller guarantees NEON and dotprod.
        unsafe { dot_block(w, x) }
    }
}

// The shared loops, compiled with dotprod enabled so `sdot` inlines.

#[target_feature(enable = "neon,dotprod")]
unsafe fn gemv_rows(w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
    // SAFETY: forwarded from the caller (features and shapes).
    unsafe { neon::gemv_rows::<Sdot>(w, nb, x, y) }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn gemm_rows(w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
    // SAFETY: forwarded from the caller (features and shapes).
    unsafe { neon::gemm_rows::<Sdot>(w, nb, x, out) }
}
