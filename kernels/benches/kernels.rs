//! Criterion benches of the int8 kernels on knob's shapes (see
//! `knob_kernels::bench::default_shapes`): gemv (throughput in weight bytes)
//! and gemm with m = 64 (throughput in operations, 2 * n * k * m) on every
//! path this CPU has, with 1 and 2 threads, next to ggml's `vec_dot` looped
//! over the same matrix, a streaming read of the same number of bytes, and
//! 64 separate gemv calls. `knob bench kernels` prints the same comparison as
//! one table with ratios.
//!
//! `cargo bench -p knob-kernels --bench kernels [-- FILTER]`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use knob_kernels::bench::{default_shapes, make_acts, make_weights, stream_read_pool, GEMM_M};
use knob_kernels::*;

const THREADS: [usize; 2] = [1, 2];

fn kernels(c: &mut Criterion) {
    let pools: Vec<ThreadPool> = THREADS.iter().map(|&t| ThreadPool::new(t)).collect();
    for shape in default_shapes() {
        let (n, k) = (shape.n, shape.k);
        let bytes = shape.weight_bytes();
        let in_cache = bytes < 4 << 20;
        let w = make_weights(n, k, 1);
        let xf = make_acts(GEMM_M, k, 2);
        let buf = vec![1u8; bytes];
        let mut y = vec![0.0f32; n * GEMM_M];

        let mut g = c.benchmark_group(format!("gemv/{}", shape.name));
        g.throughput(Throughput::Bytes(bytes as u64));
        for pool in &pools {
            let t = pool.threads();
            g.bench_function(BenchmarkId::new("stream read", format!("{t}t")), |b| {
                b.iter(|| black_box(stream_read_pool(pool, black_box(&buf))))
            });
            #[cfg(target_arch = "x86_64")]
            if k % 64 == 0 {
                use knob_kernels::ggml_ref::{self, GgmlBlockQ8_0};
                let gw: Vec<GgmlBlockQ8_0> = w.iter().map(GgmlBlockQ8_0::from_gguf).collect();
                let mut gx = vec![GgmlBlockQ8_0::ZERO; k / 32];
                ggml_ref::quantize_row(&xf[..k], &mut gx);
                let per = n.div_ceil(t);
                g.bench_function(
                    BenchmarkId::new("ggml vec_dot loop", format!("{t}t")),
                    |b| {
                        b.iter(|| {
                            pool.run(t, &|i| {
                                let (j0, j1) = ((i * per).min(n), ((i + 1) * per).min(n));
                                for row in gw[j0 * k / 32..j1 * k / 32].chunks_exact(k / 32) {
                                    black_box(ggml_ref::vec_dot(row, &gx));
                                }
                            })
                        })
                    },
                );
            }
            for isa in available_isas() {
                if isa == Isa::Scalar && !in_cache {
                    continue;
                }
                let mut x = QuantizedActs::new();
                x.quantize_with(isa, &xf[..k], 1, k);
                g.bench_function(BenchmarkId::new(isa.name(), format!("{t}t")), |b| {
                    b.iter(|| gemv_with(isa, pool, black_box(&w), n, k, &x, &mut y[..n]))
                });
            }
        }
        g.finish();

        let mut g = c.benchmark_group(format!("gemm_m{GEMM_M}/{}", shape.name));
        g.throughput(Throughput::Elements(2 * (n * k * GEMM_M) as u64));
        for pool in &pools {
            let t = pool.threads();
            for isa in available_isas().into_iter().filter(|&i| i != Isa::Scalar) {
                let mut xm = QuantizedActs::new();
                xm.quantize_with(isa, &xf, GEMM_M, k);
                g.bench_function(
                    BenchmarkId::new(format!("{} gemm", isa.name()), format!("{t}t")),
                    |b| b.iter(|| gemm_with(isa, pool, black_box(&w), n, k, &xm, &mut y)),
                );
                let mut x1 = QuantizedActs::new();
                x1.quantize_with(isa, &xf[..k], 1, k);
                g.bench_function(
                    BenchmarkId::new(format!("{} {GEMM_M} gemvs", isa.name()), format!("{t}t")),
                    |b| {
                        b.iter(|| {
                            for _ in 0..GEMM_M {
                                gemv_with(isa, pool, black_box(&w), n, k, &x1, &mut y[..n]);
                            }
                        })
                    },
                );
            }
        }
        g.finish();
    }

    // Quantizing an activation row is a kernel too.
    let mut g = c.benchmark_group("quantize_acts");
    let xf = make_acts(1, 1536, 3);
    g.throughput(Throughput::Elements(1536));
    for isa in available_isas() {
        let mut x = QuantizedActs::new();
        g.bench_function(isa.name(), |b| {
            b.iter(|| x.quantize_with(isa, black_box(&xf), 1, 1536))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = kernels
}
criterion_main!(benches);
