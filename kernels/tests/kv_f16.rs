//! The f16 KV cache's operations on every available path: conversions
//! bit-exact against the `half` crate (IEEE round-to-nearest-even, as ggml's
//! `ggml_fp32_to_fp16`), attention over f16 rows against the scalar path and
//! f64 math.

mod common;

use common::Rng;
use half::f16;
use knob_kernels::ops::{self, OPS_REL_TOL};
use knob_kernels::{available_isas, Isa};

/// f32 values that probe the rounding: every half, the midpoints between
/// neighbouring halves (ties go to the even one) and the f32 values just
/// either side of each midpoint, the overflow boundary and specials.
fn rounding_probes() -> Vec<f32> {
    let mut v = Vec::new();
    for bits in 0..0x7c00u16 {
        let a = f16::from_bits(bits).to_f32();
        let b = f16::from_bits(bits + 1).to_f32(); // 0x7c00 is +inf
        let mid = if b.is_finite() {
            (a + b) / 2.0
        } else {
            65520.0
        };
        for x in [a, mid, next_up(mid), next_down(mid)] {
            v.push(x);
            v.push(-x);
        }
    }
    v.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1.0e-10,
        -1.0e-10,
        f32::from_bits(1), // the smallest f32 subnormal
        1.0e6,
    ]);
    v
}

fn next_up(x: f32) -> f32 {
    f32::from_bits(x.to_bits() + 1)
}

fn next_down(x: f32) -> f32 {
    if x == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(x.to_bits() - 1)
    }
}

/// Converts `x` on `isa` in slices of every length up to 40 (so each SIMD
/// body and tail sees every value) and checks each half against `half`.
fn check_narrow(isa: Isa, x: &[f32]) {
    let mut out = vec![0u16; x.len()];
    let mut at = 0;
    let mut len = 0;
    while at < x.len() {
        let end = (at + len).min(x.len());
        ops::f32_to_f16_row_with(isa, &x[at..end], &mut out[at..end]);
        at = end;
        len = (len + 1) % 41;
    }
    for (&v, &got) in x.iter().zip(&out) {
        let want = f16::from_f32(v);
        if v.is_nan() {
            assert!(
                f16::from_bits(got).is_nan(),
                "[{isa}] NaN {v:e} -> {got:#06x}"
            );
        } else {
            assert_eq!(
                got,
                want.to_bits(),
                "[{isa}] {v:e} ({:#010x}) -> {got:#06x}, half says {:#06x}",
                v.to_bits(),
                want.to_bits()
            );
        }
    }
}

#[test]
fn f32_to_f16_rounds_to_nearest_even_on_every_path() {
    let probes = rounding_probes();
    let mut nans = vec![f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)];
    nans.extend(&probes[..100]);
    for isa in available_isas() {
        check_narrow(isa, &probes);
        check_narrow(isa, &nans);
    }
}

#[test]
fn f16_to_f32_is_exact_for_every_half_on_every_path() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    for isa in available_isas() {
        let mut out = vec![0f32; all.len()];
        // odd-length slices, so the tails run too
        for (x, o) in all.chunks(37).zip(out.chunks_mut(37)) {
            ops::f16_to_f32_row_with(isa, x, o);
        }
        for (&h, &got) in all.iter().zip(&out) {
            let want = f16::from_bits(h).to_f32();
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "[{isa}] {h:#06x} -> {got:e}, half says {want:e}"
            );
        }
    }
}

fn halves(rng: &mut Rng, n: usize, mag: f32) -> Vec<u16> {
    (0..n)
        .map(|_| f16::from_f32(rng.f32() * mag).to_bits())
        .collect()
}

/// `dot_rows_f16` and `weighted_sum_rows_f16` on `isa` against f64 math on
/// the halves' exact values and against the scalar path, for `n` rows of `d`
/// values at `stride`, the rows slice exactly as long as the last row needs.
fn check_f16_rows(rng: &mut Rng, isa: Isa, d: usize, n: usize, stride: usize) {
    let len = if n == 0 { 0 } else { (n - 1) * stride + d };
    let rows = halves(rng, len, 4.0);
    let val = |t: usize, i: usize| f16::from_bits(rows[t * stride + i]).to_f32() as f64;
    let q: Vec<f32> = (0..d).map(|_| rng.f32() * 2.0).collect();
    let scale = 0.125f32;

    let mut out = vec![f32::NAN; n];
    ops::dot_rows_f16_with(isa, &q, &rows, stride, scale, &mut out);
    let mut spec = vec![f32::NAN; n];
    ops::dot_rows_f16_with(Isa::Scalar, &q, &rows, stride, scale, &mut spec);
    for t in 0..n {
        let terms = (0..d).map(|i| scale as f64 * q[i] as f64 * val(t, i));
        let want: f64 = terms.clone().sum();
        let abs: f64 = terms.map(f64::abs).sum();
        let tol = OPS_REL_TOL as f64 * abs + 1e-30;
        let (got, sc) = (out[t] as f64, spec[t] as f64);
        assert!(
            (got - want).abs() <= tol && (got - sc).abs() <= 2.0 * tol,
            "dot_rows_f16 [{isa}] d {d} n {n} stride {stride} t {t}: {got} vs f64 {want}, scalar {sc}"
        );
    }

    for signed in [false, true] {
        let w: Vec<f32> = (0..n)
            .map(|_| {
                if signed {
                    rng.f32()
                } else {
                    (rng.f32() + 1.0) / n as f32
                }
            })
            .collect();
        let mut out = vec![f32::NAN; d];
        ops::weighted_sum_rows_f16_with(isa, &w, &rows, stride, &mut out);
        let mut spec = vec![f32::NAN; d];
        ops::weighted_sum_rows_f16_with(Isa::Scalar, &w, &rows, stride, &mut spec);
        for i in 0..d {
            let terms = (0..n).map(|t| w[t] as f64 * val(t, i));
            let want: f64 = terms.clone().sum();
            let abs: f64 = terms.map(f64::abs).sum();
            let tol = OPS_REL_TOL as f64 * abs + 1e-30;
            let (got, sc) = (out[i] as f64, spec[i] as f64);
            assert!(
                (got - want).abs() <= tol && (got - sc).abs() <= 2.0 * tol,
                "weighted_sum_rows_f16 [{isa}] d {d} n {n} stride {stride} i {i}: {got} vs f64 {want}, scalar {sc}"
            );
        }
    }
}

#[test]
fn attention_over_f16_rows_matches_f64_and_scalar() {
    let mut rng = Rng(31);
    for isa in available_isas() {
        for d in [1, 3, 8, 16, 31, 64, 80, 128] {
            for n in [0, 1, 2, 7, 33, 300] {
                for stride in [d, d + 1, 3 * d + 8] {
                    check_f16_rows(&mut rng, isa, d, n, stride);
                }
            }
        }
    }
}

#[test]
fn f16_rows_with_no_rows_or_no_width() {
    for isa in available_isas() {
        let mut s = [f32::NAN; 3];
        ops::dot_rows_f16_with(isa, &[], &[], 0, 1.0, &mut s);
        assert_eq!(s, [0.0; 3], "[{isa}] d 0 scores are 0");
        let mut o = [f32::NAN; 5];
        ops::weighted_sum_rows_f16_with(isa, &[], &[], 5, &mut o);
        assert_eq!(o, [0.0; 5], "[{isa}] no rows sum to 0");
    }
}

#[test]
#[should_panic(expected = "dot_rows_f16")]
fn dot_rows_f16_rejects_short_rows() {
    let mut out = [0.0f32; 3];
    ops::dot_rows_f16(&[1.0; 4], &[0; 2 * 6 + 3], 6, 1.0, &mut out);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    #[test]
    fn f32_to_f16_any_bits(bits in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..64)) {
        let x: Vec<f32> = bits.into_iter().map(f32::from_bits).collect();
        for isa in available_isas() {
            check_narrow(isa, &x);
        }
    }

    #[test]
    fn attention_over_f16_rows_any_shape(
        d in 0usize..=200,
        n in 0usize..=70,
        extra in 0usize..=9,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        for isa in available_isas() {
            check_f16_rows(&mut rng, isa, d, n, d + extra);
        }
    }
}
