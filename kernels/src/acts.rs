//! Activations quantized on the fly, in the layout the int8 kernels want.

use crate::{Isa, QK8_0};

/// 32 quantized activation values, 32-byte aligned so SIMD loads never split
/// a cache line.
#[repr(C, align(32))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q32(pub [i8; QK8_0]);

impl Q32 {
    pub const ZERO: Q32 = Q32([0; QK8_0]);
}

/// `m` activation rows of length `k`, quantized per block of 32 exactly like
/// [`crate::quantize_row_q8_0`] (same values, but the scale kept as f32 rather
/// than rounded to f16), plus each block's sum of values, which the VNNI
/// kernel needs to undo its unsigned offset.
///
/// Every value is in [-127, 127]: the AVX2 kernel's `maddubs` sign trick
/// relies on it. Buffers are reused across calls and only grow.
#[derive(Clone, Debug, Default)]
pub struct QuantizedActs {
    m: usize,
    k: usize,
    qs: Vec<Q32>,
    d: Vec<f32>,
    sums: Vec<i32>,
}

/// One quantized row, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ActRow<'a> {
    pub qs: &'a [Q32],
    pub d: &'a [f32],
    pub sums: &'a [i32],
}

impl QuantizedActs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Quantizes `m` rows of `k` values (`x.len() == m * k`, `k % 32 == 0`)
    /// with the selected ISA's quantizer.
    pub fn quantize(&mut self, x: &[f32], m: usize, k: usize) {
        self.quantize_with(crate::selected_isa(), x, m, k);
    }

    /// As [`Self::quantize`] with a given path. Every path yields identical
    /// values (tested). Panics if `isa` is not available on this CPU.
    pub fn quantize_with(&mut self, isa: Isa, x: &[f32], m: usize, k: usize) {
        assert!(
            k.is_multiple_of(QK8_0),
            "QuantizedActs::quantize: k = {k} is not a multiple of 32"
        );
        assert_eq!(
            x.len(),
            m * k,
            "QuantizedActs::quantize: x.len() must be m * k"
        );
        let nb = m * k / QK8_0;
        if self.qs.len() < nb {
            self.qs.resize(nb, Q32::ZERO);
            self.d.resize(nb, 0.0);
            self.sums.resize(nb, 0);
        }
        self.m = m;
        self.k = k;
        crate::kernels_for(isa).quantize_acts(
            x,
            &mut self.qs[..nb],
            &mut self.d[..nb],
            &mut self.sums[..nb],
        );
    }

    /// Number of rows quantized by the last call.
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Row length of the last call.
    pub fn cols(&self) -> usize {
        self.k
    }

    /// The quantized values of row `r` (for tests and tools).
    pub fn row_values(&self, r: usize) -> impl Iterator<Item = i8> + '_ {
        self.row(r).qs.iter().flat_map(|q| q.0)
    }

    /// The per-block scales of row `r`.
    pub fn row_scales(&self, r: usize) -> &[f32] {
        self.row(r).d
    }

    /// The per-block sums of row `r`.
    pub fn row_sums(&self, r: usize) -> &[i32] {
        self.row(r).sums
    }

    pub(crate) fn row(&self, r: usize) -> ActRow<'_> {
        assert!(r < self.m, "QuantizedActs: row {r} out of {}", self.m);
        let nb = self.k / QK8_0;
        let range = r * nb..(r + 1) * nb;
        ActRow {
            qs: &self.qs[range.clone()],
            d: &self.d[range.clone()],
            sums: &self.sums[range],
        }
    }
}
