//! The scalar path: plain Rust, written to be read. It is the specification
//! every SIMD path is tested against.
//!
//! A row dot product is, per block b, the exact integer sum
//! `isum_b = sum_i w.qs[i] * x.qs[i]`, scaled by `d_w * d_x` and accumulated
//! in f32 in block order:
//! `y = sum_b (d_w(b) * d_x(b)) * isum_b`.

use crate::acts::{ActRow, Q32};
use crate::block::{act_block_scale, round_to_i8};
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

/// The scalar kernels (always available).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar;

/// Exact integer dot product of one weight block with 32 activation values.
#[inline]
pub(crate) fn block_dot(w: &BlockQ8_0, x: &Q32) -> i32 {
    w.qs.iter()
        .zip(&x.0)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// One weight row against one activation row.
pub(crate) fn dot_row(w: &[BlockQ8_0], x: ActRow<'_>) -> f32 {
    let mut acc = 0.0f32;
    for ((wb, xq), &xd) in w.iter().zip(x.qs).zip(x.d) {
        acc += (wb.scale() * xd) * block_dot(wb, xq) as f32;
    }
    acc
}

impl Kernels for Scalar {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        for (((xb, q), d), s) in x
            .chunks_exact(QK8_0)
            .zip(qs.iter_mut())
            .zip(d.iter_mut())
            .zip(sums.iter_mut())
        {
            let (scale, inv) = act_block_scale(xb);
            *d = scale;
            for (qv, &v) in q.0.iter_mut().zip(xb) {
                *qv = round_to_i8(v * inv);
            }
            *s = q.0.iter().map(|&v| i32::from(v)).sum();
        }
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        for ((o, wb), xq) in out.iter_mut().zip(w).zip(x.qs) {
            *o = block_dot(wb, xq);
        }
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        for (row, yj) in w.chunks_exact(nb).zip(y.iter_mut()) {
            *yj = dot_row(row, x);
        }
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        for (j, row) in w.chunks_exact(nb).enumerate() {
            for r in 0..x.rows() {
                out.set(r, j, dot_row(row, x.row(r)));
            }
        }
    }
}
