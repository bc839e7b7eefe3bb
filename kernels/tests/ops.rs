//! f32 operations on every available path against plain f64 math.

mod common;

use common::Rng;
use knob_kernels::ops::{self, RopeStyle, GELU_ERF_TOL, OPS_REL_TOL};
use knob_kernels::{available_isas, Isa};

const LENS: [usize; 7] = [1, 3, 8, 17, 64, 576, 1000];

fn vec(rng: &mut Rng, n: usize, mag: f32) -> Vec<f32> {
    (0..n).map(|_| rng.f32() * mag).collect()
}

/// Element-wise closeness relative to `scale` (the result's magnitude).
fn close(got: &[f32], want: &[f64], scale: f64, what: &str, isa: Isa) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = OPS_REL_TOL as f64 * scale.max(w.abs()) + 1e-30;
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what} [{isa}] i {i}: {g} vs {w} (tol {tol})"
        );
    }
}

#[test]
fn reductions_and_elementwise() {
    let mut rng = Rng(21);
    for isa in available_isas() {
        for n in LENS {
            let a = vec(&mut rng, n, 3.0);
            let b = vec(&mut rng, n, 3.0);
            let want: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let abs: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 * y as f64).abs())
                .sum();
            let got = ops::dot_with(isa, &a, &b) as f64;
            assert!(
                (got - want).abs() <= OPS_REL_TOL as f64 * abs,
                "dot [{isa}] n {n}: {got} vs {want}"
            );

            let mut y = a.clone();
            ops::axpy_with(isa, &mut y, 0.75, &b);
            let want: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&x, &z)| x as f64 + 0.75 * z as f64)
                .collect();
            close(&y, &want, 3.0, "axpy", isa);

            let mut y = a.clone();
            ops::add_with(isa, &mut y, &b);
            let want: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&x, &z)| x as f64 + z as f64)
                .collect();
            close(&y, &want, 3.0, "add", isa);

            let mut y = a.clone();
            ops::scale_with(isa, &mut y, -1.5);
            let want: Vec<f64> = a.iter().map(|&x| x as f64 * -1.5).collect();
            close(&y, &want, 0.0, "scale", isa);
        }
    }
}

#[test]
fn norms() {
    let mut rng = Rng(22);
    for isa in available_isas() {
        for n in LENS {
            let x: Vec<f32> = vec(&mut rng, n, 2.0).iter().map(|v| v + 0.5).collect();
            let w = vec(&mut rng, n, 1.5);
            let bias = vec(&mut rng, n, 0.5);
            let eps = 1e-5;
            let mut out = vec![0.0; n];
            ops::rms_norm_with(isa, &x, &w, eps, &mut out);
            let ms: f64 = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / n as f64;
            let inv = 1.0 / (ms + eps as f64).sqrt();
            let want: Vec<f64> = x
                .iter()
                .zip(&w)
                .map(|(&v, &g)| v as f64 * inv * g as f64)
                .collect();
            close(&out, &want, 2.0, "rms_norm", isa);

            ops::layer_norm_with(isa, &x, &w, &bias, eps, &mut out);
            let mean: f64 = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var: f64 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            let inv = 1.0 / (var + eps as f64).sqrt();
            let want: Vec<f64> = x
                .iter()
                .zip(&w)
                .zip(&bias)
                .map(|((&v, &g), &b)| (v as f64 - mean) * inv * g as f64 + b as f64)
                .collect();
            // layer_norm's relative error grows with |x - mean| / std; scale by the
            // largest normalized magnitude.
            close(&out, &want, 2.0 * (n as f64).sqrt(), "layer_norm", isa);
        }
    }
}

/// Many rows at once give every row exactly what `rms_norm` gives it: the
/// rows' sums run side by side, each still in order.
#[test]
fn rms_norm_rows_equals_row_by_row() {
    let mut rng = Rng(24);
    for isa in available_isas() {
        for width in [1, 3, 64, 576] {
            for m in [1, 7, 8, 9, 16, 23] {
                let x: Vec<f32> = vec(&mut rng, m * width, 4.0);
                let w = vec(&mut rng, width, 1.5);
                let mut got = vec![0.0; m * width];
                ops::rms_norm_rows_with(isa, &x, &w, 1e-5, &mut got);
                for r in 0..m {
                    let mut want = vec![0.0; width];
                    let row = r * width..(r + 1) * width;
                    ops::rms_norm_with(isa, &x[row.clone()], &w, 1e-5, &mut want);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got[row]),
                        bits(&want),
                        "rms_norm_rows [{isa}] width {width}, {m} rows: row {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_and_silu() {
    let mut rng = Rng(23);
    for isa in available_isas() {
        for n in LENS {
            for mag in [1.0f32, 30.0, 1000.0] {
                let x = vec(&mut rng, n, mag);
                let mut y = x.clone();
                ops::softmax_with(isa, &mut y);
                let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
                let e: Vec<f64> = x.iter().map(|&v| (v as f64 - m).exp()).collect();
                let s: f64 = e.iter().sum();
                let want: Vec<f64> = e.iter().map(|v| v / s).collect();
                close(&y, &want, 0.0, "softmax", isa);
                assert!(y.iter().all(|v| v.is_finite()));
            }
            let g = vec(&mut rng, n, 20.0);
            let u = vec(&mut rng, n, 2.0);
            let mut y = g.clone();
            ops::silu_mul_with(isa, &mut y, &u);
            let want: Vec<f64> = g
                .iter()
                .zip(&u)
                .map(|(&a, &b)| a as f64 / (1.0 + (-(a as f64)).exp()) * b as f64)
                .collect();
            close(&y, &want, 0.0, "silu_mul", isa);
        }
        // Extremes: silu of large negative is -0, not NaN.
        let mut y = vec![-100.0f32, 100.0, -1e30, 0.0];
        ops::silu_mul_with(isa, &mut y, &[1.0; 4]);
        assert!(
            y[0].abs() < 1e-30 && (y[1] - 100.0).abs() < 1e-3 && y[2] == 0.0 && y[3] == 0.0,
            "{y:?} [{isa}]"
        );
    }
}

/// The paths with 512-bit versions of the f32 operations; none (and a
/// line saying the test was skipped) on a CPU without AVX-512.
#[cfg(target_arch = "x86_64")]
fn avx512_paths(test: &str) -> Vec<Isa> {
    let wide: Vec<Isa> = available_isas()
        .into_iter()
        .filter(|i| matches!(i, Isa::Avx512Vnni | Isa::Amx))
        .collect();
    if wide.is_empty() {
        // Straight to stderr: libtest captures eprintln!, and a skip must show.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: no AVX-512 on this CPU");
    }
    wide
}

/// The 512-bit SiLU runs the AVX2 code's steps sixteen lanes at a time, so
/// both give the same bits, specials and the short tail included.
#[cfg(target_arch = "x86_64")]
#[test]
fn silu_mul_on_512_bits_equals_the_avx2_code() {
    let wide = avx512_paths("silu_mul_on_512_bits_equals_the_avx2_code");
    let mut rng = Rng(25);
    let specials = [
        f32::NAN,
        f32::INFINITY,
        -f32::INFINITY,
        88.5,
        88.8,
        -87.4,
        -90.0,
        -0.0,
        1e-40,
    ];
    for n in [1, 15, 16, 17, 47, 1536] {
        let mut g = vec(&mut rng, n, 30.0);
        for (i, v) in g.iter_mut().enumerate().step_by(7) {
            *v = specials[i / 7 % specials.len()];
        }
        let u = vec(&mut rng, n, 2.0);
        let mut want = g.clone();
        ops::silu_mul_with(Isa::Avx2, &mut want, &u);
        for &isa in &wide {
            let mut got = g.clone();
            ops::silu_mul_with(isa, &mut got, &u);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "silu_mul [{isa}] n {n}");
        }
    }
}

/// The 512-bit scores of 64-value heads are the AVX2 code's, bit for bit:
/// any key count (short last groups of eight), strides of a head and of a
/// whole KV row, and rows of zeros (the sign of a zero product).
#[cfg(target_arch = "x86_64")]
#[test]
fn dot_rows_of_64_on_512_bits_equal_the_avx2_code() {
    let wide = avx512_paths("dot_rows_of_64_on_512_bits_equal_the_avx2_code");
    let mut rng = Rng(26);
    for stride in [64, 192] {
        for n in [1, 5, 8, 13, 64, 100] {
            let mut q = vec(&mut rng, 64, 2.0);
            let mut rows = vec(&mut rng, (n - 1) * stride + 64, 3.0);
            if n == 13 {
                q[..32].fill(-0.0);
                rows[..64].fill(0.0);
            }
            let mut want = vec![0.0; n];
            ops::dot_rows_with(Isa::Avx2, &q, &rows, stride, 0.125, &mut want);
            for &isa in &wide {
                let mut got = vec![f32::NAN; n];
                ops::dot_rows_with(isa, &q, &rows, stride, 0.125, &mut got);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "dot_rows [{isa}] stride {stride}, {n} rows"
                );
            }
        }
    }
}

/// Lengths around the 8- and 16-value steps, magnitudes, and twenty draws
/// of each.
#[cfg(target_arch = "x86_64")]
fn softmax_cases() -> impl Iterator<Item = (usize, f32, usize)> {
    [1, 7, 8, 15, 16, 17, 24, 31, 33, 100, 577]
        .into_iter()
        .flat_map(|n| [1.0f32, 4.0, 30.0].into_iter().map(move |m| (n, m)))
        .flat_map(|(n, m)| (0..20).map(move |d| (n, m, d)))
}

/// The 512-bit softmax is the AVX2 code's, bit for bit (the cases below,
/// each with a -inf entry, as a mask leaves, some with NaNs or zeros).
#[cfg(target_arch = "x86_64")]
#[test]
fn softmax_on_512_bits_equals_the_avx2_code() {
    let wide = avx512_paths("softmax_on_512_bits_equals_the_avx2_code");
    let mut rng = Rng(27);
    // Many draws: a sum taken in another order differs from the AVX2 one
    // in only some of them.
    for (n, mag, draw) in softmax_cases() {
        let mut x = vec(&mut rng, n, mag);
        if n > 3 {
            x[n / 2] = f32::NEG_INFINITY;
        }
        // Some draws with a NaN (which the AVX2 maximum may keep or drop,
        // by position) or with the maximum at +-0.
        match draw {
            5 => x[n - 1] = f32::NAN,
            6 => x[0] = f32::NAN,
            7 => {
                x.iter_mut().for_each(|v| *v = -v.abs() - 1.0);
                x[n / 3] = 0.0;
                x[n - 1] = -0.0;
            }
            _ => {}
        }
        let mut want = x.clone();
        ops::softmax_with(Isa::Avx2, &mut want);
        for &isa in &wide {
            let mut got = x.clone();
            ops::softmax_with(isa, &mut got);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got),
                bits(&want),
                "softmax [{isa}] n {n}, magnitude {mag}, draw {draw}"
            );
        }
    }
}

/// The exact GELU in f64.
fn gelu64(x: f32) -> f64 {
    let x = f64::from(x);
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// `gelu_erf` on `isa` within [`GELU_ERF_TOL`] of the exact GELU and of the
/// scalar path (libm's erff), element by element.
fn check_gelu(isa: Isa, x: &[f32], what: &str) {
    let mut got = x.to_vec();
    ops::gelu_erf_with(isa, &mut got);
    let mut spec = x.to_vec();
    ops::gelu_erf_with(Isa::Scalar, &mut spec);
    for ((&v, &g), &s) in x.iter().zip(&got).zip(&spec) {
        let want = gelu64(v);
        let tol = f64::from(GELU_ERF_TOL) * want.abs().max(1.0);
        assert!(
            (f64::from(g) - want).abs() <= tol,
            "gelu_erf {what} [{isa}] x {v}: {g} vs exact {want}"
        );
        assert!(
            (f64::from(g) - f64::from(s)).abs() <= tol,
            "gelu_erf {what} [{isa}] x {v}: {g} vs scalar {s}"
        );
    }
}

#[test]
fn gelu_erf_is_the_exact_gelu_on_every_path() {
    let mut rng = Rng(27);
    // A fine grid over the whole curve, the worst of the approximation
    // (|x| / sqrt 2 near 3.8) included; every length's tail too.
    let grid: Vec<f32> = (-12_000..=12_000).map(|i| i as f32 * 1e-3).collect();
    for isa in available_isas() {
        check_gelu(isa, &grid, "grid");
        for n in LENS {
            for mag in [1.0f32, 6.0, 100.0] {
                check_gelu(isa, &vec(&mut rng, n, mag), "random");
            }
        }
        // Far tails saturate as the scalar path does: exactly 0 below, x above.
        let mut y = vec![-10.0f32, -100.0, -1e30, 10.0, 1e30, 0.0, -0.0, 1e-30];
        ops::gelu_erf_with(isa, &mut y);
        assert_eq!(y[..3], [0.0; 3], "[{isa}]");
        assert_eq!(y[3..5], [10.0, 1e30], "[{isa}]");
        assert!(
            y[5] == 0.0 && y[6] == 0.0 && (y[7] - 5e-31).abs() < 1e-36,
            "{y:?} [{isa}]"
        );
    }
}

/// log-softmax of `x * scale` in f64.
fn log_softmax64(x: &[f32], scale: f32) -> Vec<f64> {
    let s = f64::from(scale);
    let m = x
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b) * s));
    let z: f64 = x.iter().map(|&v| (f64::from(v) * s - m).exp()).sum();
    x.iter().map(|&v| f64::from(v) * s - m - z.ln()).collect()
}

/// `log_softmax` on `isa` against f64 math and the scalar path. The result
/// is a difference of `x * scale` and log Z, so the budget is relative to
/// the larger of the two.
fn check_log_softmax(isa: Isa, x: &[f32], scale: f32) {
    let mut got = vec![0.0f32; x.len()];
    ops::log_softmax_with(isa, x, scale, &mut got);
    let mut spec = vec![0.0f32; x.len()];
    ops::log_softmax_with(Isa::Scalar, x, scale, &mut spec);
    let want = log_softmax64(x, scale);
    let big = x.iter().filter(|v| v.is_finite()).fold(1.0f64, |a, &v| {
        a.max((f64::from(v) * f64::from(scale)).abs())
    }) + (x.len() as f64).ln();
    for (i, ((&g, &s), &w)) in got.iter().zip(&spec).zip(&want).enumerate() {
        if w == f64::NEG_INFINITY {
            assert!(
                g == f32::NEG_INFINITY && s == f32::NEG_INFINITY,
                "[{isa}] i {i}: {g}"
            );
            continue;
        }
        let tol = f64::from(OPS_REL_TOL) * big;
        assert!(
            (f64::from(g) - w).abs() <= tol && (f64::from(g) - f64::from(s)).abs() <= tol,
            "log_softmax [{isa}] n {} i {i}: {g} vs {w} (scalar {s}, tol {tol})",
            x.len()
        );
    }
}

#[test]
fn log_softmax_matches_f64_on_every_path() {
    let mut rng = Rng(28);
    for isa in available_isas() {
        for n in LENS.into_iter().chain([915]) {
            for mag in [1.0f32, 30.0, 1000.0] {
                for scale in [1.0f32, 0.5, 1.7] {
                    check_log_softmax(isa, &vec(&mut rng, n, mag), scale);
                }
            }
        }
        // A masked token (the decoder's padding) stays impossible.
        let mut x = vec(&mut rng, 20, 5.0);
        x[3] = f32::NEG_INFINITY;
        x[17] = f32::NEG_INFINITY;
        check_log_softmax(isa, &x, 1.0);
        // Probabilities sum to one.
        let x = vec(&mut rng, 915, 10.0);
        let mut y = vec![0.0f32; 915];
        ops::log_softmax_with(isa, &x, 1.3, &mut y);
        let total: f64 = y.iter().map(|&v| f64::from(v).exp()).sum();
        assert!((total - 1.0).abs() < 1e-5, "[{isa}] {total}");
    }
}

#[test]
#[should_panic(expected = "not positive")]
fn log_softmax_rejects_a_scale_that_would_flip_the_order() {
    let mut out = [0.0f32; 2];
    ops::log_softmax(&[1.0, 2.0], -1.0, &mut out);
}

#[test]
fn rope_both_styles() {
    let mut rng = Rng(24);
    for isa in available_isas() {
        for head_dim in [2, 8, 64, 80] {
            let heads = 3;
            let x = vec(&mut rng, heads * head_dim, 2.0);
            let theta: Vec<f64> = (0..head_dim / 2)
                .map(|i| 7.0 * 10000f64.powf(-2.0 * i as f64 / head_dim as f64))
                .collect();
            let cos: Vec<f32> = theta.iter().map(|t| t.cos() as f32).collect();
            let sin: Vec<f32> = theta.iter().map(|t| t.sin() as f32).collect();
            for style in [RopeStyle::Normal, RopeStyle::Neox] {
                let mut y = x.clone();
                ops::rope_with(isa, &mut y, head_dim, &cos, &sin, style);
                let mut want: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                let half = head_dim / 2;
                for h in 0..heads {
                    for i in 0..half {
                        let (a, b) = match style {
                            RopeStyle::Normal => (h * head_dim + 2 * i, h * head_dim + 2 * i + 1),
                            RopeStyle::Neox => (h * head_dim + i, h * head_dim + i + half),
                        };
                        let (c, s) = (cos[i] as f64, sin[i] as f64);
                        let (x0, x1) = (x[a] as f64, x[b] as f64);
                        want[a] = x0 * c - x1 * s;
                        want[b] = x0 * s + x1 * c;
                    }
                }
                close(&y, &want, 2.0, "rope", isa);
            }
        }
    }
}

#[test]
fn matvec_f32_matches_f64() {
    let mut rng = Rng(25);
    for isa in available_isas() {
        for (n, k) in [(1, 1), (5, 17), (9, 576)] {
            let w = vec(&mut rng, n * k, 1.0);
            let x = vec(&mut rng, k, 1.0);
            let mut y = vec![0.0; n];
            ops::matvec_f32_with(isa, &w, n, k, &x, &mut y);
            for j in 0..n {
                let want: f64 = (0..k).map(|i| w[j * k + i] as f64 * x[i] as f64).sum();
                let abs: f64 = (0..k)
                    .map(|i| (w[j * k + i] as f64 * x[i] as f64).abs())
                    .sum();
                assert!(
                    (y[j] as f64 - want).abs() <= OPS_REL_TOL as f64 * abs + 1e-30,
                    "matvec [{isa}] {n}x{k} j {j}"
                );
            }
        }
    }
}

/// `dot_rows` and `weighted_sum_rows` on `isa` against f64 math for `n`
/// rows of `d` values at `stride`, with the rows slice exactly as long as
/// the last row needs (an overread would panic or show up as garbage).
/// They must also equal, exactly, the per-row `dot` / `axpy` loop on the same
/// path that they replace in attention, so swapping them in changes no output.
fn check_rows_ops(rng: &mut Rng, isa: Isa, d: usize, n: usize, stride: usize) {
    let len = if n == 0 { 0 } else { (n - 1) * stride + d };
    let rows = vec(rng, len, 2.0);
    let q = vec(rng, d, 2.0);
    let row = |t: usize| &rows[t * stride..t * stride + d];
    let scale = 0.125f32;

    let mut out = vec![f32::NAN; n];
    ops::dot_rows_with(isa, &q, &rows, stride, scale, &mut out);
    for (t, &got) in out.iter().enumerate() {
        let terms = q
            .iter()
            .zip(row(t))
            .map(|(&a, &b)| scale as f64 * a as f64 * b as f64);
        let want: f64 = terms.clone().sum();
        let abs: f64 = terms.map(f64::abs).sum();
        assert!(
            (got as f64 - want).abs() <= OPS_REL_TOL as f64 * abs + 1e-30,
            "dot_rows [{isa}] d {d} n {n} stride {stride} t {t}: {got} vs {want}"
        );
        let per_row = ops::dot_with(isa, &q, row(t)) * scale;
        assert!(
            got == per_row,
            "dot_rows [{isa}] d {d} n {n} stride {stride} t {t}: {got} != dot * scale {per_row}"
        );
    }

    // Softmax-like weights and signed ones.
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
        ops::weighted_sum_rows_with(isa, &w, &rows, stride, &mut out);
        let mut per_row = vec![0.0f32; d];
        for (t, &a) in w.iter().enumerate() {
            ops::axpy_with(isa, &mut per_row, a, row(t));
        }
        assert!(
            out == per_row,
            "weighted_sum_rows [{isa}] d {d} n {n} stride {stride}: differs from the axpy loop"
        );
        for (i, &got) in out.iter().enumerate() {
            let terms = (0..n).map(|t| w[t] as f64 * rows[t * stride + i] as f64);
            let want: f64 = terms.clone().sum();
            let abs: f64 = terms.map(f64::abs).sum();
            assert!(
                (got as f64 - want).abs() <= OPS_REL_TOL as f64 * abs + 1e-30,
                "weighted_sum_rows [{isa}] d {d} n {n} stride {stride} i {i}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn attention_rows_match_f64() {
    let mut rng = Rng(26);
    for isa in available_isas() {
        for d in [1, 3, 8, 16, 31, 64, 80, 128] {
            for n in [0, 1, 2, 7, 33, 300] {
                for stride in [d + 1, d + 5, 3 * d + 8] {
                    check_rows_ops(&mut rng, isa, d, n, stride);
                }
            }
        }
    }
}

#[test]
fn attention_rows_edge_shapes() {
    for isa in available_isas() {
        // Empty rows: dot_rows writes nothing, weighted_sum_rows zeroes `out`.
        let mut out = [0.0f32; 0];
        ops::dot_rows_with(isa, &[], &[], 0, 1.0, &mut out);
        let mut s = [f32::NAN; 3];
        ops::dot_rows_with(isa, &[], &[], 0, 1.0, &mut s);
        assert_eq!(s, [0.0; 3], "[{isa}] d 0 scores are 0");
        let mut o = [f32::NAN; 5];
        ops::weighted_sum_rows_with(isa, &[], &[], 5, &mut o);
        assert_eq!(o, [0.0; 5], "[{isa}] no rows sum to 0");
        // stride == d (contiguous rows) is allowed; 64 is the head width
        // with its own AVX2 path, and prefill widens keys to that layout.
        check_rows_ops(&mut Rng(27), isa, 24, 9, 24);
        check_rows_ops(&mut Rng(28), isa, 64, 17, 64);
        check_rows_ops(&mut Rng(29), isa, 64, 8, 64);
    }
}

#[test]
#[should_panic(expected = "dot_rows")]
fn dot_rows_rejects_short_rows() {
    let mut out = [0.0f32; 3];
    ops::dot_rows(&[1.0; 4], &[0.0; 2 * 6 + 3], 6, 1.0, &mut out);
}

#[test]
#[should_panic(expected = "weighted_sum_rows")]
fn weighted_sum_rows_rejects_stride_below_width() {
    let mut out = [0.0f32; 4];
    ops::weighted_sum_rows(&[1.0; 2], &[0.0; 16], 3, &mut out);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    #[test]
    fn attention_rows_any_shape(
        d in 0usize..=200,
        n in 0usize..=70,
        extra in 0usize..=9,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        for isa in available_isas() {
            check_rows_ops(&mut rng, isa, d, n, d + extra);
        }
    }

    #[test]
    fn gelu_erf_any_length_and_range(
        n in 0usize..=300,
        mag in 0.01f32..20.0,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        let x = vec(&mut rng, n, mag);
        for isa in available_isas() {
            check_gelu(isa, &x, "proptest");
        }
    }

    #[test]
    fn log_softmax_any_length_and_scale(
        n in 1usize..=1200,
        mag in 0.01f32..200.0,
        scale in 0.05f32..4.0,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        let x = vec(&mut rng, n, mag);
        for isa in available_isas() {
            check_log_softmax(isa, &x, scale);
        }
    }
}

/// `weighted_sum_rows_multi` gives every row exactly what
/// `weighted_sum_rows` gives it on the same path, with rows of different
/// lengths (causal attention's) in one call, an empty one among them.
#[test]
fn weighted_sums_of_several_rows_equal_the_rows_one_by_one() {
    let mut rng = Rng(33);
    for d in [8, 16, 64, 80, 128] {
        let stride = d + 3;
        for lens in [
            vec![5],
            vec![1, 2, 3, 4],
            vec![40, 41, 42, 43, 44],
            vec![0, 7, 300, 299, 1, 2, 3, 4, 50],
        ] {
            let n_max = *lens.iter().max().unwrap();
            let w_stride = n_max + 2;
            let weights = vec(&mut rng, lens.len() * w_stride, 1.0);
            let rows = vec(&mut rng, n_max.max(1) * stride, 2.0);
            for isa in available_isas() {
                let mut out = vec![f32::NAN; lens.len() * d];
                ops::weighted_sum_rows_multi_with(
                    isa, &weights, w_stride, &lens, &rows, stride, d, &mut out,
                );
                for (r, &n) in lens.iter().enumerate() {
                    let mut want = vec![f32::NAN; d];
                    ops::weighted_sum_rows_with(
                        isa,
                        &weights[r * w_stride..r * w_stride + n],
                        &rows,
                        stride,
                        &mut want,
                    );
                    assert!(
                        out[r * d..(r + 1) * d]
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "weighted_sum_rows_multi [{isa}] d {d} lens {lens:?} row {r}"
                    );
                }
            }
        }
    }
}
