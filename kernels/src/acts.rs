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

/// Below this many values, [`QuantizedActs::quantize_on`] stays on one
/// thread: waking a worker costs more than the work.
const PARALLEL_MIN_VALUES: usize = 8 * 1024;

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
        let nb = self.prepare(x, m, k);
        crate::kernels_for(isa).quantize_acts(
            x,
            &mut self.qs[..nb],
            &mut self.d[..nb],
            &mut self.sums[..nb],
        );
    }

    /// As [`Self::quantize`], with the rows split over `pool`'s threads
    /// when there are enough of them to pay for it (prefill); one row, or a
    /// one-thread pool, runs inline. The values are the same either way.
    pub fn quantize_on(&mut self, pool: &crate::ThreadPool, x: &[f32], m: usize, k: usize) {
        let tasks = pool.threads().min(m);
        if tasks <= 1 || m * k < PARALLEL_MIN_VALUES {
            return self.quantize(x, m, k);
        }
        let nb = self.prepare(x, m, k);
        let nb_row = k / QK8_0;
        let per = m.div_ceil(tasks) * nb_row;
        let kern = crate::kernels_for(crate::selected_isa());
        let (dp, sp) = (
            crate::pool::SharedMut(self.d.as_mut_ptr()),
            crate::pool::SharedMut(self.sums.as_mut_ptr()),
        );
        pool.run_pieces(&mut self.qs[..nb], per, &|t, qs| {
            let b0 = t * per;
            let (dp, sp) = (&dp, &sp);
            // SAFETY: task t alone writes blocks b0..b0 + qs.len() of d and
            // sums (the pieces of qs are disjoint and d, sums hold nb >= those
            // blocks); both stay borrowed until run_pieces returns.
            let (d, sums) = unsafe {
                (
                    std::slice::from_raw_parts_mut(dp.0.add(b0), qs.len()),
                    std::slice::from_raw_parts_mut(sp.0.add(b0), qs.len()),
                )
            };
            kern.quantize_acts(&x[b0 * QK8_0..(b0 + qs.len()) * QK8_0], qs, d, sums);
        });
    }

    /// Checks the shape of `x` (`m` rows of `k`, `k % 32 == 0`), grows the
    /// buffers to its blocks and records the shape; returns the blocks.
    fn prepare(&mut self, x: &[f32], m: usize, k: usize) -> usize {
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
        nb
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

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &QuantizedActs, b: &QuantizedActs) -> bool {
        (a.rows(), a.cols()) == (b.rows(), b.cols())
            && (0..a.rows()).all(|r| {
                a.row_values(r).eq(b.row_values(r))
                    && a.row_sums(r) == b.row_sums(r)
                    && a.row_scales(r)
                        .iter()
                        .zip(b.row_scales(r))
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            })
    }

    #[test]
    fn quantize_on_a_pool_gives_the_one_thread_values() {
        // Shapes below and above the parallel threshold, rows that do not
        // divide evenly between threads, and a buffer reused at a smaller size.
        for threads in [1, 2, 3] {
            let pool = crate::ThreadPool::new(threads);
            let mut on_pool = QuantizedActs::new();
            for (m, k) in [(1, 64), (3, 96), (64, 576), (37, 1536), (5, 32)] {
                let x: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 7919) % 1013) as f32 / 97.0 - 5.0)
                    .collect();
                let mut inline = QuantizedActs::new();
                inline.quantize(&x, m, k);
                on_pool.quantize_on(&pool, &x, m, k);
                assert!(same(&inline, &on_pool), "threads {threads} m {m} k {k}");
            }
        }
    }
}
