//! The AVX-512 VNNI gemm over weights repacked once
//! (`gemm_tiled_with(Isa::Avx512Vnni, ..)`), against the scalar path and
//! against the VNNI gemm that repacks per call: odd and tile-edge shapes,
//! one and many blocks, extreme values, zero scales, several matrices in one
//! round, any thread count. On a CPU without AVX-512 VNNI each test says on
//! stderr (uncaptured, so it shows in the CI log) that it was skipped and why.

mod common;

use std::io::Write;

use common::{activations, dot_f64, weights, Rng, WeightKind};
use knob_kernels::*;
use proptest::prelude::*;

const VNNI: Isa = Isa::Avx512Vnni;

/// Whether the AVX-512 VNNI path runs here; if not, says why on the real
/// stderr (libtest captures `eprintln!`, not direct writes).
fn vnni_here(test: &str) -> bool {
    match VNNI.check() {
        Ok(()) => true,
        Err(reason) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: the avx512vnni path cannot run here: {reason}"
            );
            false
        }
    }
}

/// The tiled VNNI gemm on one shape against the scalar path (within
/// `dot_tolerance`) and against the per-call VNNI gemm (the same integer
/// sums and the same f32 steps per block, so bit for bit from 2 rows on).
fn check_shape(n: usize, k: usize, m: usize, seed: u64, wk: WeightKind, threads: usize) {
    let mut rng = Rng(seed | 1);
    let w = weights(&mut rng, n, k, wk);
    let x = activations(&mut rng, m, k);
    let nb = k / 32;
    let mut acts = QuantizedActs::new();
    acts.quantize_with(Isa::Scalar, &x, m, k);
    let pool = ThreadPool::new(threads);
    let mut want = vec![0.0f32; m * n];
    gemm_with(Isa::Scalar, &ThreadPool::new(1), &w, n, k, &acts, &mut want);

    let tiled = TiledQ8_0::new(&w, n, k);
    let mut got = vec![f32::NAN; m * n];
    gemm_tiled_with(VNNI, &pool, &tiled, &acts, &mut got);
    let mut per_call = vec![f32::NAN; m * n];
    gemm_with(VNNI, &pool, &w, n, k, &acts, &mut per_call);
    for r in 0..m {
        for j in 0..n {
            let (_, abs) = dot_f64(&w[j * nb..(j + 1) * nb], &acts, r);
            let tol = dot_tolerance(nb, abs as f32);
            let (g, e) = (got[r * n + j], want[r * n + j]);
            assert!(
                (g - e).abs() <= tol,
                "tiled vnni {n}x{k} m {m}: y[{r},{j}] = {g}, scalar {e}, tol {tol}"
            );
            if m > 1 {
                let p = per_call[r * n + j];
                assert_eq!(
                    p.to_bits(),
                    g.to_bits(),
                    "tiled vnni {n}x{k} m {m}: y[{r},{j}] = {g}, per-call gemm {p}"
                );
            }
        }
    }
}

fn kind(i: u8) -> WeightKind {
    match i % 3 {
        0 => WeightKind::Random,
        1 => WeightKind::Extreme,
        _ => WeightKind::WithMinus128,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn tiled_vnni_gemm_matches_scalar(
        n in 1usize..=50,
        nb in prop_oneof![1usize..=20, 20usize..=256],
        m in 1usize..=67,
        seed in any::<u64>(),
        wk in any::<u8>(),
        threads in 1usize..=3,
    ) {
        if !vnni_here("tiled_vnni_gemm_matches_scalar") {
            return Ok(());
        }
        let k = nb * 32;
        // Keep the scalar reference cheap in debug builds.
        let m = m.min((1 << 19) / (n * k)).max(1);
        check_shape(n, k, m, seed, kind(wk), threads);
    }
}

#[test]
fn tiled_vnni_edge_shapes() {
    if !vnni_here("tiled_vnni_edge_shapes") {
        return;
    }
    // One block; n at, below and above the 16-row group edge; m through
    // every run of 8, 4, 2 and 1 activation rows; many blocks.
    for (n, k, m) in [
        (1, 32, 1),
        (1, 32, 2),
        (16, 32, 16),
        (15, 64, 15),
        (17, 64, 17),
        (16, 96, 3),
        (33, 32, 7),
        (31, 160, 9),
        (48, 8192, 19),
        (3, 32, 67),
        (384, 384, 16),
    ] {
        for wk in [
            WeightKind::Random,
            WeightKind::Extreme,
            WeightKind::WithMinus128,
        ] {
            check_shape(n, k, m, (n * 1000 + k + m) as u64, wk, 1);
        }
    }
    check_shape(203, 160, 40, 9, WeightKind::Random, 3);
    check_shape(40, 64, 130, 10, WeightKind::Extreme, 2);
}

/// Weights of scale 1 and integer activations with a block maximum of 127
/// (so the activation scale is 1): every product and sum is an integer well
/// inside f32's exact range, so the result must be exact, including the
/// -128 weights that the top-bit flip turns into 0.
#[test]
fn tiled_vnni_extreme_values_are_exact() {
    if !vnni_here("tiled_vnni_extreme_values_are_exact") {
        return;
    }
    let (n, k, m) = (18, 128, 13);
    let one = f32_to_f16(1.0).to_le_bytes();
    for (wq, xq) in [(127i8, -127i32), (-127, -127), (-128, -127), (-128, 127)] {
        let w = vec![
            BlockQ8_0 {
                d: one,
                qs: [wq; 32]
            };
            n * k / 32
        ];
        let x: Vec<f32> = (0..m * k)
            .map(|i| if i % 32 == 0 { 127.0 } else { xq as f32 })
            .collect();
        let mut acts = QuantizedActs::new();
        acts.quantize_with(Isa::Scalar, &x, m, k);
        assert!(acts.row_scales(0).iter().all(|&d| d == 1.0));
        let exact = (k / 32) as f32 * (wq as f32) * (31.0 * xq as f32 + 127.0);
        let mut y = vec![0.0f32; m * n];
        gemm_tiled_with(
            VNNI,
            &ThreadPool::new(2),
            &TiledQ8_0::new(&w, n, k),
            &acts,
            &mut y,
        );
        assert!(
            y.iter().all(|&v| v == exact),
            "w {wq} x {xq}: {y:?} != {exact}"
        );
    }
}

#[test]
fn tiled_vnni_zero_scales_give_zero() {
    if !vnni_here("tiled_vnni_zero_scales_give_zero") {
        return;
    }
    let (n, k, m) = (20, 96, 11);
    // Padding rows 20..32 of the last group are zero with scale 0 too.
    let w0 = vec![
        BlockQ8_0 {
            d: [0, 0],
            qs: [100; 32]
        };
        n * k / 32
    ];
    let mut acts = QuantizedActs::new();
    acts.quantize_with(Isa::Scalar, &vec![1.0f32; m * k], m, k);
    let mut y = vec![f32::NAN; m * n];
    gemm_tiled_with(
        VNNI,
        &ThreadPool::new(1),
        &TiledQ8_0::new(&w0, n, k),
        &acts,
        &mut y,
    );
    assert!(y.iter().all(|&v| v == 0.0), "zero weight scales: {y:?}");
    let w1 = vec![
        BlockQ8_0 {
            d: f32_to_f16(2.0).to_le_bytes(),
            qs: [-128; 32]
        };
        n * k / 32
    ];
    acts.quantize_with(Isa::Scalar, &vec![0.0f32; m * k], m, k);
    let mut y = vec![f32::NAN; m * n];
    gemm_tiled_with(
        VNNI,
        &ThreadPool::new(1),
        &TiledQ8_0::new(&w1, n, k),
        &acts,
        &mut y,
    );
    assert!(y.iter().all(|&v| v == 0.0), "zero activations: {y:?}");
}

/// Several matrices in one round of the pool give each matrix's own
/// product, bit for bit, whatever the thread count.
#[test]
fn tiled_vnni_many_equals_one_at_a_time_with_any_thread_count() {
    if !vnni_here("tiled_vnni_many_equals_one_at_a_time_with_any_thread_count") {
        return;
    }
    let mut rng = Rng(91);
    let (k, m) = (160, 21);
    let shapes = [37usize, 16, 5];
    let ws: Vec<TiledQ8_0> = shapes
        .iter()
        .map(|&n| TiledQ8_0::new(&weights(&mut rng, n, k, WeightKind::Random), n, k))
        .collect();
    let mut acts = QuantizedActs::new();
    acts.quantize_with(VNNI, &activations(&mut rng, m, k), m, k);
    let alone: Vec<Vec<u32>> = ws
        .iter()
        .map(|w| {
            let mut y = vec![f32::NAN; m * w.rows()];
            gemm_tiled_with(VNNI, &ThreadPool::new(1), w, &acts, &mut y);
            y.iter().map(|v| v.to_bits()).collect()
        })
        .collect();
    for t in [1, 2, 3] {
        let mut ys: Vec<Vec<f32>> = ws.iter().map(|w| vec![f32::NAN; m * w.rows()]).collect();
        let mut jobs: Vec<(&TiledQ8_0, &mut [f32])> = ws
            .iter()
            .zip(ys.iter_mut())
            .map(|(w, y)| (w, y.as_mut_slice()))
            .collect();
        gemm_tiled_many_with(VNNI, &ThreadPool::new(t), &mut jobs, &acts);
        for (i, y) in ys.iter().enumerate() {
            let bits: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, alone[i], "matrix {i}, {t} threads");
        }
    }
}

#[test]
#[should_panic(expected = "runs on the amx or avx512vnni path, not avx2")]
fn tiled_gemm_refuses_a_path_without_one() {
    let w = TiledQ8_0::new(&[BlockQ8_0::ZERO; 1], 1, 32);
    let mut acts = QuantizedActs::new();
    acts.quantize_with(Isa::Scalar, &[0.0; 64], 2, 32);
    gemm_tiled_with(Isa::Avx2, &ThreadPool::new(1), &w, &acts, &mut [0.0; 2]);
}
