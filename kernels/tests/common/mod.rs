//! Shared helpers for the kernels' integration tests.
#![allow(dead_code)]

use knob_kernels::{f32_to_f16, BlockQ8_0, QuantizedActs, QK8_0};

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Kinds of weight blocks the tests mix.
#[derive(Clone, Copy, Debug)]
pub enum WeightKind {
    /// Random values in [-127, 127], ordinary scales.
    Random,
    /// Only +-127 (the largest products).
    Extreme,
    /// Random values including -128 (from a foreign file).
    WithMinus128,
}

/// `n * k / 32` weight blocks; scales are drawn from zero, tiny, huge and
/// ordinary values.
pub fn weights(rng: &mut Rng, n: usize, k: usize, kind: WeightKind) -> Vec<BlockQ8_0> {
    (0..n * k / QK8_0)
        .map(|_| {
            let d = match rng.below(8) {
                0 => 0.0,
                1 => 6.0e-8,  // smallest f16 subnormal range
                2 => 60000.0, // near the f16 max
                _ => rng.f32().abs() * 0.02 + 1e-4,
            };
            let mut qs = [0i8; QK8_0];
            for q in &mut qs {
                *q = match kind {
                    WeightKind::Random => (rng.i8()).max(-127),
                    WeightKind::Extreme => {
                        if rng.next_u64() & 1 == 0 {
                            127
                        } else {
                            -127
                        }
                    }
                    WeightKind::WithMinus128 => {
                        if rng.below(4) == 0 {
                            -128
                        } else {
                            rng.i8()
                        }
                    }
                };
            }
            BlockQ8_0 {
                d: f32_to_f16(d).to_le_bytes(),
                qs,
            }
        })
        .collect()
}

/// `m * k` activations with per-block magnitudes from tiny to huge, some
/// all-zero blocks and some exact .5 ties.
pub fn activations(rng: &mut Rng, m: usize, k: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; m * k];
    for block in x.chunks_exact_mut(QK8_0) {
        let mag = match rng.below(8) {
            0 => 0.0,
            1 => 1e-30,
            2 => 1e20,
            3 => 127.0, // integer-valued block with ties below
            _ => 1.0,
        };
        for v in block.iter_mut() {
            *v = rng.f32() * mag;
        }
        if mag == 127.0 {
            block[0] = 127.0;
            for v in &mut block[1..] {
                *v = (rng.below(255) as f32 - 127.0) * 0.5;
            }
        }
    }
    x
}

/// The exact f64 value of one weight row times one activation row, from the
/// dequantized values, and `sum_b |d_w d_x| * sum_i |w_i x_i|` (the
/// magnitude `dot_tolerance` is relative to).
pub fn dot_f64(w_row: &[BlockQ8_0], x: &QuantizedActs, r: usize) -> (f64, f64) {
    let vals: Vec<i8> = x.row_values(r).collect();
    let scales = x.row_scales(r);
    let mut sum = 0.0f64;
    let mut abs = 0.0f64;
    for (b, wb) in w_row.iter().enumerate() {
        let prods = wb
            .qs
            .iter()
            .zip(&vals[b * 32..b * 32 + 32])
            .map(|(&a, &c)| a as i64 * c as i64);
        let (isum, iabs) = prods.fold((0i64, 0i64), |(s, a), p| (s + p, a + p.abs()));
        let d = wb.scale() as f64 * scales[b] as f64;
        sum += d * isum as f64;
        abs += d.abs() * iabs as f64;
    }
    (sum, abs)
}

/// Whether `isa` runs here; if not, says why on the real stderr (libtest
/// captures `eprintln!`, not direct writes), so a skip shows in the CI log.
pub fn isa_here(isa: knob_kernels::Isa, test: &str) -> bool {
    use std::io::Write;
    match isa.check() {
        Ok(()) => true,
        Err(reason) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: the {} path cannot run here: {reason}",
                isa.name()
            );
            false
        }
    }
}

/// The (weight, activation) values of [`extreme_case`]: the largest
/// magnitudes, and -128, the one weight a top-bit flip turns into 0.
pub const EXTREME_PAIRS: [(i8, i32); 4] = [(127, -127), (-127, -127), (-128, -127), (-128, 127)];

/// `n x k` weights all `wq` with scale 1, and `m` activation rows whose
/// blocks are 31 copies of `xq` and one 127 (so the activation scale is 1 and
/// the values pass through unchanged): every product and sum is an integer
/// well inside f32's exact range, so every output must equal the returned
/// exact value.
pub fn extreme_case(
    n: usize,
    k: usize,
    m: usize,
    wq: i8,
    xq: i32,
) -> (Vec<BlockQ8_0>, QuantizedActs, f32) {
    let w = vec![
        BlockQ8_0 {
            d: f32_to_f16(1.0).to_le_bytes(),
            qs: [wq; 32]
        };
        n * k / 32
    ];
    let x: Vec<f32> = (0..m * k)
        .map(|i| if i % 32 == 0 { 127.0 } else { xq as f32 })
        .collect();
    let mut acts = QuantizedActs::new();
    acts.quantize_with(knob_kernels::Isa::Scalar, &x, m, k);
    assert!(acts.row_scales(0).iter().all(|&d| d == 1.0));
    let exact = (k / 32) as f32 * (wq as f32) * (31.0 * xq as f32 + 127.0);
    (w, acts, exact)
}

/// Two products that must be exactly zero, with what makes them so: weights
/// of scale 0 against ones, and -128 weights of scale 2 against zero
/// activations (scale 0).
pub fn zero_scale_cases(
    n: usize,
    k: usize,
    m: usize,
) -> [(&'static str, Vec<BlockQ8_0>, QuantizedActs); 2] {
    let quantized = |v: f32| {
        let mut acts = QuantizedActs::new();
        acts.quantize_with(knob_kernels::Isa::Scalar, &vec![v; m * k], m, k);
        acts
    };
    let zero_w = vec![
        BlockQ8_0 {
            d: [0, 0],
            qs: [100; 32]
        };
        n * k / 32
    ];
    let minus_128 = vec![
        BlockQ8_0 {
            d: f32_to_f16(2.0).to_le_bytes(),
            qs: [-128; 32]
        };
        n * k / 32
    ];
    [
        ("zero weight scales", zero_w, quantized(1.0)),
        ("zero activations", minus_128, quantized(0.0)),
    ]
}

impl WeightKind {
    /// The kind a proptest's byte picks (`i % 3`).
    pub fn nth(i: u8) -> WeightKind {
        match i % 3 {
            0 => WeightKind::Random,
            1 => WeightKind::Extreme,
            _ => WeightKind::WithMinus128,
        }
    }
}

/// A gemm on one shape and the scalar path's answer to it.
pub struct GemmCase {
    pub n: usize,
    pub k: usize,
    pub m: usize,
    pub w: Vec<BlockQ8_0>,
    /// Random activations, quantized by the scalar path.
    pub acts: QuantizedActs,
    /// The scalar gemm's `m x n` output.
    pub want: Vec<f32>,
}

impl GemmCase {
    pub fn new(n: usize, k: usize, m: usize, seed: u64, wk: WeightKind) -> GemmCase {
        use knob_kernels::{gemm_with, Isa, ThreadPool};
        let mut rng = Rng(seed | 1);
        let w = weights(&mut rng, n, k, wk);
        let x = activations(&mut rng, m, k);
        let mut acts = QuantizedActs::new();
        acts.quantize_with(Isa::Scalar, &x, m, k);
        let mut want = vec![0.0f32; m * n];
        gemm_with(Isa::Scalar, &ThreadPool::new(1), &w, n, k, &acts, &mut want);
        GemmCase {
            n,
            k,
            m,
            w,
            acts,
            want,
        }
    }

    /// Asserts that every output of `got` is within `dot_tolerance` of the
    /// scalar answer; `what` names the path in the message.
    pub fn assert_near_scalar(&self, what: &str, got: &[f32]) {
        let (n, k, m, nb) = (self.n, self.k, self.m, self.k / QK8_0);
        for r in 0..m {
            for j in 0..n {
                let (_, abs) = dot_f64(&self.w[j * nb..(j + 1) * nb], &self.acts, r);
                let tol = knob_kernels::dot_tolerance(nb, abs as f32);
                let (g, e) = (got[r * n + j], self.want[r * n + j]);
                assert!(
                    (g - e).abs() <= tol,
                    "{what} {n}x{k} m {m}: y[{r},{j}] = {g}, scalar {e}, tol {tol}"
                );
            }
        }
    }
}
