//! The AVX-512 VNNI gemm over weights repacked once
//! (`gemm_tiled_with(Isa::Avx512Vnni, ..)`), against the scalar path and
//! against the VNNI gemm that repacks per call: odd and tile-edge shapes,
//! one and many blocks, extreme values, zero scales, several matrices in one
//! round, any thread count. On a CPU without AVX-512 VNNI each test says on
//! stderr (uncaptured, so it shows in the CI log) that it was skipped and why.

mod common;

use common::{
    activations, extreme_case, isa_here, weights, zero_scale_cases, GemmCase, Rng, WeightKind,
    EXTREME_PAIRS,
};
use knob_kernels::*;
use proptest::prelude::*;

const VNNI: Isa = Isa::Avx512Vnni;

fn vnni_here(test: &str) -> bool {
    isa_here(VNNI, test)
}

/// The tiled VNNI gemm on one shape against the scalar path (within
/// `dot_tolerance`) and against the per-call VNNI gemm (the same integer
/// sums and the same f32 steps per block, so bit for bit from 2 rows on).
fn check_shape(n: usize, k: usize, m: usize, seed: u64, wk: WeightKind, threads: usize) {
    let case = GemmCase::new(n, k, m, seed, wk);
    let (w, acts) = (&case.w, &case.acts);
    let pool = ThreadPool::new(threads);
    let tiled = TiledQ8_0::new(w, n, k);
    let mut got = vec![f32::NAN; m * n];
    gemm_tiled_with(VNNI, &pool, &tiled, acts, &mut got);
    case.assert_near_scalar("tiled vnni", &got);
    if m > 1 {
        let mut per_call = vec![f32::NAN; m * n];
        gemm_with(VNNI, &pool, w, n, k, acts, &mut per_call);
        for (i, (p, g)) in per_call.iter().zip(&got).enumerate() {
            assert_eq!(
                p.to_bits(),
                g.to_bits(),
                "tiled vnni {n}x{k} m {m}: y[{i}] = {g}, per-call gemm {p}"
            );
        }
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
        check_shape(n, k, m, seed, WeightKind::nth(wk), threads);
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

/// Integer-valued weights and activations (`common::extreme_case`): the
/// result must be exact, including the -128 weights that the top-bit flip
/// turns into 0.
#[test]
fn tiled_vnni_extreme_values_are_exact() {
    if !vnni_here("tiled_vnni_extreme_values_are_exact") {
        return;
    }
    let (n, k, m) = (18, 128, 13);
    for (wq, xq) in EXTREME_PAIRS {
        let (w, acts, exact) = extreme_case(n, k, m, wq, xq);
        let mut y = vec![0.0f32; m * n];
        let tiled = TiledQ8_0::new(&w, n, k);
        gemm_tiled_with(VNNI, &ThreadPool::new(2), &tiled, &acts, &mut y);
        assert!(
            y.iter().all(|&v| v == exact),
            "w {wq} x {xq}: {y:?} != {exact}"
        );
    }
}

/// Padding rows 20..32 of the last group are zero with scale 0 too.
#[test]
fn tiled_vnni_zero_scales_give_zero() {
    if !vnni_here("tiled_vnni_zero_scales_give_zero") {
        return;
    }
    let (n, k, m) = (20, 96, 11);
    for (what, w, acts) in zero_scale_cases(n, k, m) {
        let mut y = vec![f32::NAN; m * n];
        let tiled = TiledQ8_0::new(&w, n, k);
        gemm_tiled_with(VNNI, &ThreadPool::new(1), &tiled, &acts, &mut y);
        assert!(y.iter().all(|&v| v == 0.0), "{what}: {y:?}");
    }
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
