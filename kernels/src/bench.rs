//! The kernel benchmark behind `knob bench kernels`: gemv and gemm on the
//! shapes knob runs, on every path this CPU has, with 1 and 2 threads,
//! next to ggml's `vec_dot` looped over the same matrix (when built with the
//! `ggml-reference` feature) and next to a streaming read of a buffer as
//! large as the matrix. Each number is the median of several timed samples.
//!
//! The criterion benches in `kernels/benches/` measure the same kernels with
//! criterion's statistics; this module is the quick table for a terminal.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::{
    available_isas, gemm_tiled_with, gemm_with, gemv_with, quantize_row_q8_0, BlockQ8_0, Isa,
    QuantizedActs, ThreadPool, TiledQ8_0, QK8_0,
};

/// One weight matrix shape: `n` rows of `k` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub n: usize,
    pub k: usize,
}

impl Shape {
    /// Bytes of Q8_0 weights.
    pub fn weight_bytes(&self) -> usize {
        self.n * self.k / QK8_0 * std::mem::size_of::<BlockQ8_0>()
    }
}

/// The shapes knob runs: SmolLM2-135M's projections (hidden 576,
/// intermediate 1536, vocabulary 49152) and one DRAM-bound matrix
/// (68 MiB of weights, beyond any cache here).
pub fn default_shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "smollm2 attn 576x576",
            n: 576,
            k: 576,
        },
        Shape {
            name: "smollm2 down 576x1536",
            n: 576,
            k: 1536,
        },
        Shape {
            name: "smollm2 up 1536x576",
            n: 1536,
            k: 576,
        },
        Shape {
            name: "smollm2 lm_head 49152x576",
            n: 49152,
            k: 576,
        },
        Shape {
            name: "dram 32768x2048",
            n: 32768,
            k: 2048,
        },
    ]
}

/// Rows of the gemm comparison (m activation rows against m gemv calls).
pub const GEMM_M: usize = 64;

/// Activation rows of the tiled rows: the gemm over weights repacked once
/// (AMX, and AVX-512 VNNI) against the AVX-512 VNNI gemm that repacks them
/// per call, timed alternately.
pub const AMX_M: [usize; 5] = [4, 16, 64, 128, 512];

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub shapes: Vec<Shape>,
    pub isas: Vec<Isa>,
    pub threads: Vec<usize>,
    /// Fewer, shorter samples (for a quick look and for tests).
    pub quick: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            shapes: default_shapes(),
            isas: available_isas(),
            threads: vec![1, 2],
            quick: false,
        }
    }
}

/// A timing or ratio over the samples: the median, and the best sample (the
/// minimum time, or the ratio of the two best times). On a shared machine
/// the best sample is the closest to the undisturbed speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub best: f64,
}

/// One measured kernel.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub shape: String,
    pub n: usize,
    pub k: usize,
    /// "gemv", "gemm m=64", "64 x gemv" or "ggml vec_dot loop".
    pub op: String,
    /// The path ("ggml" for ggml's own code).
    pub path: String,
    pub threads: usize,
    /// Seconds per call.
    pub seconds: Stat,
    /// Weight bytes streamed per second (GB/s, 1e9), at the median time.
    pub gb_per_s: f64,
    /// Multiply-adds x 2 per second (GOP/s, 1e9).
    pub gop_per_s: f64,
    /// Activation rows per second (m / seconds).
    pub rows_per_s: f64,
    /// ggml's time over ours, for the same shape and threads (gemv only).
    pub vs_ggml: Option<Stat>,
    /// gb_per_s over the streaming read bandwidth of a same-size buffer.
    pub of_read_bw: Option<Stat>,
    /// gemm's rows/s over 64 gemv calls' rows/s.
    pub vs_gemvs: Option<Stat>,
    /// The AVX-512 VNNI gemm's time over this one's, same m, timed
    /// alternately (tiled gemm rows only).
    pub vs_vnni: Option<Stat>,
}

/// Streaming read bandwidth of a buffer as large as a shape's weights.
#[derive(Clone, Debug)]
pub struct ReadBandwidth {
    pub shape: String,
    pub bytes: usize,
    pub threads: usize,
    /// At the median time.
    pub gb_per_s: f64,
    /// At the best time.
    pub best_gb_per_s: f64,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub cpu_paths: Vec<Isa>,
    pub ggml: bool,
    pub read_bw: Vec<ReadBandwidth>,
    pub rows: Vec<Measurement>,
}

fn sampling(quick: bool) -> (usize, Duration) {
    // Many short samples: on a shared machine a short sample is more often
    // uninterrupted, so the median and the best track the undisturbed speed.
    if quick {
        (11, Duration::from_millis(1))
    } else {
        (41, Duration::from_millis(1))
    }
}

/// At most about this much time per measurement (fewer samples for slow
/// kernels, but never fewer than 5).
fn budget(quick: bool) -> Duration {
    if quick {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(1500)
    }
}

/// How many samples of `per_sample` seconds fit the budget.
fn samples_for(quick: bool, per_sample: f64) -> usize {
    let (max, _) = sampling(quick);
    ((budget(quick).as_secs_f64() / per_sample.max(1e-9)) as usize).clamp(5, max)
}

/// Calls of `f` per sample so a sample lasts at least `min_sample` (this also
/// warms caches and the thread pool up).
fn batch_size(min_sample: Duration, f: &mut impl FnMut()) -> u32 {
    let mut iters = 1u32;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        let e = t.elapsed();
        if e >= min_sample || iters >= 1 << 20 {
            return iters;
        }
        let scale = (min_sample.as_secs_f64() / e.as_secs_f64().max(1e-9)).clamp(1.5, 100.0);
        iters = ((iters as f64) * scale).ceil() as u32;
    }
}

fn sample(iters: u32, f: &mut impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

/// The nearest-rank `p`th percentile (0 < p <= 100) of `values`, which it
/// sorts; 0 for none. Always one of the values, so a median time is a time
/// that was measured. knob's one percentile: `knob bench kernels`, `bench
/// model` and `bench agent`, and `knob batch`'s latency summary use it.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn median(mut v: Vec<f64>) -> f64 {
    percentile(&mut v, 50.0)
}

fn stat(v: Vec<f64>) -> Stat {
    let best = v.iter().copied().fold(f64::INFINITY, f64::min);
    Stat {
        median: median(v),
        best,
    }
}

/// Seconds per call of `f`.
pub fn time_median(quick: bool, mut f: impl FnMut()) -> Stat {
    let (_, min_sample) = sampling(quick);
    let iters = batch_size(min_sample, &mut f);
    let first = sample(iters, &mut f);
    let samples = samples_for(quick, first * iters as f64);
    stat((0..samples).map(|_| sample(iters, &mut f)).collect())
}

/// Seconds per call of `f` and of `g`, sampled alternately, and the ratio
/// `time(g) / time(f)`: its median is the median of the per-round ratios (two
/// kernels that saw the same machine conditions), its best is the ratio of
/// the best times.
pub fn time_pair(quick: bool, mut f: impl FnMut(), mut g: impl FnMut()) -> (Stat, Stat, Stat) {
    let (_, min_sample) = sampling(quick);
    let (fi, gi) = (
        batch_size(min_sample, &mut f),
        batch_size(min_sample, &mut g),
    );
    let round = sample(fi, &mut f) * fi as f64 + sample(gi, &mut g) * gi as f64;
    let samples = samples_for(quick, round);
    let mut ts = Vec::new();
    for _ in 0..samples {
        let a = sample(fi, &mut f);
        let b = sample(gi, &mut g);
        ts.push((a, b));
    }
    let (fs, gs) = (
        stat(ts.iter().map(|t| t.0).collect()),
        stat(ts.iter().map(|t| t.1).collect()),
    );
    let ratio = Stat {
        median: median(ts.iter().map(|(a, b)| b / a).collect()),
        best: gs.best / fs.best,
    };
    (fs, gs, ratio)
}

/// Deterministic pseudo-random weights for a shape (quantized from f32 with
/// the reference quantizer, as a converted model's would be).
pub fn make_weights(n: usize, k: usize, seed: u64) -> Vec<BlockQ8_0> {
    let mut s = seed | 1;
    let mut row = vec![0.0f32; k];
    let mut w = vec![BlockQ8_0::ZERO; n * k / QK8_0];
    for (j, blocks) in w.chunks_exact_mut(k / QK8_0).enumerate() {
        for v in row.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *v = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * (1.0 + (j % 7) as f32);
        }
        quantize_row_q8_0(&row, blocks);
    }
    w
}

/// Deterministic activations, `m` rows of `k`.
pub fn make_acts(m: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..m * k)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Reads every byte of `buf` as fast as this core can (the bandwidth probe):
/// AVX-512 or AVX2 loads with software prefetch where the CPU has them, else
/// 8-byte words into independent accumulators. Returns a checksum that every path
/// computes alike: the wrapping sum of the little-endian u64 words of the
/// longest prefix that is a multiple of 128 bytes, plus the bytes after it.
pub fn stream_read(buf: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = crate::x86::avx512vnni::Avx512Vnni::new() {
        return t.stream_sum(buf);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = crate::x86::avx2::Avx2::new() {
        return t.stream_sum(buf);
    }
    stream_read_scalar(buf)
}

/// The portable path of [`stream_read`].
fn stream_read_scalar(buf: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let chunks = buf.chunks_exact(128);
    let tail = chunks.remainder();
    for c in chunks {
        for (i, a) in acc.iter_mut().enumerate() {
            let lo = u64::from_le_bytes(c[8 * i..8 * i + 8].try_into().expect("8 bytes"));
            let hi = u64::from_le_bytes(c[64 + 8 * i..72 + 8 * i].try_into().expect("8 bytes"));
            *a = a.wrapping_add(lo).wrapping_add(hi);
        }
    }
    acc.iter().fold(0u64, |a, &b| a.wrapping_add(b))
        + tail.iter().map(|&b| u64::from(b)).sum::<u64>()
}

/// Streaming read over the pool's threads (each thread reads its share).
pub fn stream_read_pool(pool: &ThreadPool, buf: &[u8]) -> u64 {
    let t = pool.threads();
    let per = buf.len().div_ceil(t);
    let total = std::sync::atomic::AtomicU64::new(0);
    pool.run(t, &|i| {
        let part = &buf[(i * per).min(buf.len())..((i + 1) * per).min(buf.len())];
        total.fetch_add(stream_read(part), std::sync::atomic::Ordering::Relaxed);
    });
    total.into_inner()
}

/// Bytes per second at which the pool's threads read `buf` again and again,
/// as decode reads its weights once per token: one pass to warm up, then the
/// median of `passes` passes. `knob bench model` sizes `buf` as the bytes one
/// decode step reads.
pub fn read_bandwidth(pool: &ThreadPool, buf: &[u8], passes: usize) -> f64 {
    std::hint::black_box(stream_read_pool(pool, std::hint::black_box(buf)));
    median(
        (0..passes.max(1))
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(stream_read_pool(pool, std::hint::black_box(buf)));
                buf.len() as f64 / t.elapsed().as_secs_f64().max(1e-12)
            })
            .collect(),
    )
}

/// Runs the benchmark; `progress` gets a line per measurement.
pub fn run(opts: &BenchOptions, mut progress: impl FnMut(&str)) -> Report {
    let mut report = Report {
        cpu_paths: available_isas(),
        ggml: ggml::AVAILABLE,
        ..Report::default()
    };
    let pools: Vec<ThreadPool> = opts.threads.iter().map(|&t| ThreadPool::new(t)).collect();
    let max_m = AMX_M[AMX_M.len() - 1];
    let tiled_isas: Vec<Isa> = [Isa::Amx, Isa::Avx512Vnni]
        .into_iter()
        .filter(|i| opts.isas.contains(i))
        .collect();
    let xf_tiled: Vec<Vec<f32>> = if !tiled_isas.is_empty() {
        (0..opts.shapes.len())
            .map(|si| make_acts(max_m, opts.shapes[si].k, 0xa3c + si as u64))
            .collect()
    } else {
        Vec::new()
    };
    for (si, shape) in opts.shapes.iter().enumerate() {
        let (n, k) = (shape.n, shape.k);
        let w = make_weights(n, k, 0x5eed + si as u64);
        let xf = make_acts(GEMM_M, k, 0xac75 + si as u64);
        let bytes = shape.weight_bytes();
        let mut one = QuantizedActs::new();
        let mut many = QuantizedActs::new();
        let mut y = vec![0.0f32; n * GEMM_M];
        let mut y1 = vec![0.0f32; n];
        let buf = vec![1u8; bytes];
        for pool in &pools {
            let threads = pool.threads();
            let read = |p: &ThreadPool| {
                black_box(stream_read_pool(p, black_box(&buf)));
            };
            let bw_s = time_median(opts.quick, || read(pool));
            let bw = bytes as f64 / bw_s.median / 1e9;
            report.read_bw.push(ReadBandwidth {
                shape: shape.name.to_string(),
                bytes,
                threads,
                gb_per_s: bw,
                best_gb_per_s: bytes as f64 / bw_s.best / 1e9,
            });
            progress(&format!(
                "{}: read {:.1} GB/s ({} threads)",
                shape.name, bw, threads
            ));

            let ggml_gemv = ggml::Gemv::new(&w, n, k, &xf[..k]);
            let mk = |op: &str, path: &str, secs: Stat, m: usize| Measurement {
                shape: shape.name.to_string(),
                n,
                k,
                op: op.to_string(),
                path: path.to_string(),
                threads,
                seconds: secs,
                gb_per_s: bytes as f64 / secs.median / 1e9,
                gop_per_s: 2.0 * (n * k * m) as f64 / secs.median / 1e9,
                rows_per_s: m as f64 / secs.median,
                vs_ggml: None,
                of_read_bw: None,
                vs_gemvs: None,
                vs_vnni: None,
            };
            if let Some(g) = &ggml_gemv {
                let (gs, _, frac) = time_pair(opts.quick, || g.run(pool), || read(pool));
                let mut r = mk("ggml vec_dot loop", "ggml", gs, 1);
                r.of_read_bw = Some(frac);
                r.vs_ggml = Some(Stat {
                    median: 1.0,
                    best: 1.0,
                });
                progress(&line(&r));
                report.rows.push(r);
            }
            for &isa in &opts.isas {
                one.quantize_with(isa, &xf[..k], 1, k);
                // gemv is timed alternately with the streaming read of a
                // same-size buffer; its fraction of the read bandwidth is the
                // median of the per-round ratios.
                let (gemv_s, _, frac) = time_pair(
                    opts.quick,
                    || gemv_with(isa, pool, black_box(&w), n, k, &one, &mut y[..n]),
                    || read(pool),
                );
                let mut r = mk("gemv", isa.name(), gemv_s, 1);
                // Timed alternately with ggml's loop, like the read above.
                r.vs_ggml = ggml_gemv.as_ref().map(|g| {
                    time_pair(
                        opts.quick,
                        || gemv_with(isa, pool, black_box(&w), n, k, &one, &mut y[..n]),
                        || g.run(pool),
                    )
                    .2
                });
                r.of_read_bw = Some(frac);
                progress(&line(&r));
                report.rows.push(r);
                // The scalar path is the spec, not a contender: its gemm on
                // the large shapes would take minutes.
                if isa == Isa::Scalar {
                    continue;
                }
                many.quantize_with(isa, &xf, GEMM_M, k);
                // gemm and 64 gemv calls, timed alternately.
                let (gemm_s, gemvs_s, ratio) = time_pair(
                    opts.quick,
                    || gemm_with(isa, pool, black_box(&w), n, k, &many, &mut y),
                    || {
                        for _ in 0..GEMM_M {
                            gemv_with(isa, pool, black_box(&w), n, k, &one, &mut y1);
                        }
                    },
                );
                let r = mk(&format!("{GEMM_M} x gemv"), isa.name(), gemvs_s, GEMM_M);
                progress(&line(&r));
                report.rows.push(r);
                let mut r = mk(&format!("gemm m={GEMM_M}"), isa.name(), gemm_s, GEMM_M);
                r.vs_gemvs = Some(ratio);
                progress(&line(&r));
                report.rows.push(r);
            }
            for &isa in &tiled_isas {
                for r in tiled_rows(isa, opts.quick, pool, &w, n, k, &xf_tiled[si], &mk) {
                    progress(&line(&r));
                    report.rows.push(r);
                }
            }
        }
    }
    report
}

/// The tiled rows of one shape on `isa` (AMX or AVX-512 VNNI): for each m
/// of [`AMX_M`] (up to 64 in quick mode), the AVX-512 VNNI gemm (weights
/// repacked per call) and `isa`'s gemm over weights repacked once, timed
/// alternately; the tiled row carries the ratio.
#[allow(clippy::too_many_arguments)]
fn tiled_rows(
    isa: Isa,
    quick: bool,
    pool: &ThreadPool,
    w: &[BlockQ8_0],
    n: usize,
    k: usize,
    xf: &[f32],
    mk: &dyn Fn(&str, &str, Stat, usize) -> Measurement,
) -> Vec<Measurement> {
    let tiled = TiledQ8_0::new(w, n, k);
    let mut rows = Vec::new();
    let mut acts = QuantizedActs::new();
    for m in AMX_M.into_iter().filter(|&m| !quick || m <= 64) {
        acts.quantize_with(isa, &xf[..m * k], m, k);
        let (mut y, mut y2) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
        let (vnni_s, tiled_s, ratio) = time_pair(
            quick,
            || gemm_with(Isa::Avx512Vnni, pool, black_box(w), n, k, &acts, &mut y),
            || gemm_tiled_with(isa, pool, black_box(&tiled), &acts, &mut y2),
        );
        rows.push(mk(
            &format!("gemm m={m}"),
            Isa::Avx512Vnni.name(),
            vnni_s,
            m,
        ));
        let mut r = mk(&format!("tiled gemm m={m}"), isa.name(), tiled_s, m);
        // time_pair's ratio is time(tiled) / time(vnni): invert it.
        r.vs_vnni = Some(Stat {
            median: 1.0 / ratio.median,
            best: 1.0 / ratio.best,
        });
        rows.push(r);
    }
    rows
}

fn line(r: &Measurement) -> String {
    format!(
        "{} {:<10} {:<18} {}t {:>10.1} us (best {:.1}) {:>7.1} GB/s {:>7.1} GOP/s{}{}{}",
        r.shape,
        r.path,
        r.op,
        r.threads,
        r.seconds.median * 1e6,
        r.seconds.best * 1e6,
        r.gb_per_s,
        r.gop_per_s,
        r.vs_ggml
            .map(|v| format!("  {}x ggml", ratio(v, 2)))
            .unwrap_or_default(),
        r.of_read_bw
            .map(|v| format!("  {} of read bw", percent(v)))
            .unwrap_or_default(),
        r.vs_gemvs
            .map(|v| format!("  {}x rows/s of {GEMM_M} gemvs", ratio(v, 1)))
            .unwrap_or_default(),
    ) + &r
        .vs_vnni
        .map(|v| format!("  {}x avx512vnni", ratio(v, 2)))
        .unwrap_or_default()
}

/// "median (best)" with `digits` decimals.
/// Whether the "vs ggml" column is filled, and if not, how to get it: the
/// comparison is opt-in because it compiles ggml's C code.
fn ggml_reference_note(available: bool) -> &'static str {
    if available {
        "yes"
    } else if cfg!(target_arch = "x86_64") {
        "no (the \"vs ggml\" column needs a build with `--features ggml-reference`)"
    } else {
        "no (ggml-sys builds on x86-64 only)"
    }
}

fn ratio(v: Stat, digits: usize) -> String {
    format!("{:.*} ({:.*})", digits, v.median, digits, v.best)
}

fn percent(v: Stat) -> String {
    format!("{:.0}% ({:.0}%)", v.median * 100.0, v.best * 100.0)
}

impl Report {
    /// The results as a plain-text table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let paths: Vec<&str> = self.cpu_paths.iter().map(|i| i.name()).collect();
        let _ = writeln!(
            s,
            "paths on this CPU: {}; ggml reference: {}",
            paths.join(", "),
            ggml_reference_note(self.ggml)
        );
        let _ = writeln!(
            s,
            "times: median of samples, and the best sample; ratios: median of per-round ratios of kernels timed \
             alternately (best: ratio of best times); GB/s = weight bytes per second, GOP/s = 2 n k m per second, \
             both at the median; \"tiled gemm\" (amx, avx512vnni): weights repacked once into tile \
             layout, \"vs vnni\" its speed over the avx512vnni gemm (repacking per call) at the same m"
        );
        let mut last = String::new();
        for r in &self.rows {
            if r.shape != last {
                let _ = writeln!(
                    s,
                    "\n{} (n={}, k={}, {:.1} MiB of Q8_0 weights)",
                    r.shape,
                    r.n,
                    r.k,
                    (r.n * r.k / 32 * 34) as f64 / 1048576.0
                );
                for b in self.read_bw.iter().filter(|b| b.shape == r.shape) {
                    let _ = writeln!(
                        s,
                        "  streaming read, {} thread(s): {:.1} GB/s (best {:.1})",
                        b.threads, b.gb_per_s, b.best_gb_per_s
                    );
                }
                let _ = writeln!(
                    s,
                    "  {:<18} {:<10} {:>3} {:>11} {:>11} {:>7} {:>7} {:>13} {:>11} {:>11} {:>11}",
                    "op",
                    "path",
                    "thr",
                    "median",
                    "best",
                    "GB/s",
                    "GOP/s",
                    "vs ggml",
                    "of read bw",
                    "vs gemvs",
                    "vs vnni"
                );
                last = r.shape.clone();
            }
            let _ = writeln!(
                s,
                "  {:<18} {:<10} {:>3} {:>8.1} us {:>8.1} us {:>7.1} {:>7.1} {:>13} {:>11} {:>11} {:>11}",
                r.op,
                r.path,
                r.threads,
                r.seconds.median * 1e6,
                r.seconds.best * 1e6,
                r.gb_per_s,
                r.gop_per_s,
                r.vs_ggml.map(|v| ratio(v, 2)).unwrap_or_default(),
                r.of_read_bw.map(percent).unwrap_or_default(),
                r.vs_gemvs.map(|v| ratio(v, 1)).unwrap_or_default(),
                r.vs_vnni.map(|v| ratio(v, 2)).unwrap_or_default(),
            );
        }
        s
    }
}

/// ggml's side of the comparison (absent without the feature).
mod ggml {
    use super::*;

    #[cfg(all(feature = "ggml-reference", target_arch = "x86_64"))]
    pub const AVAILABLE: bool = true;
    #[cfg(not(all(feature = "ggml-reference", target_arch = "x86_64")))]
    pub const AVAILABLE: bool = false;

    /// A matrix and activation row in ggml-sys's layout, ready for
    /// `vec_dot_q8_0_q8_0` over every row.
    #[cfg(all(feature = "ggml-reference", target_arch = "x86_64"))]
    pub struct Gemv {
        w: Vec<crate::ggml_ref::GgmlBlockQ8_0>,
        x: Vec<crate::ggml_ref::GgmlBlockQ8_0>,
        n: usize,
    }

    #[cfg(all(feature = "ggml-reference", target_arch = "x86_64"))]
    impl Gemv {
        /// None when k is not a multiple of 64 (ggml needs an even block count).
        pub fn new(w: &[BlockQ8_0], n: usize, k: usize, x: &[f32]) -> Option<Gemv> {
            use crate::ggml_ref::{self, GgmlBlockQ8_0};
            if !k.is_multiple_of(64) {
                return None;
            }
            let w: Vec<GgmlBlockQ8_0> = w.iter().map(GgmlBlockQ8_0::from_gguf).collect();
            let mut gx = vec![GgmlBlockQ8_0::ZERO; k / QK8_0];
            // Activations are quantized outside the timing, as for our kernels.
            ggml_ref::quantize_row(x, &mut gx);
            Some(Gemv { w, x: gx, n })
        }

        /// `vec_dot` over every row, rows split over the pool's threads like ours.
        pub fn run(&self, pool: &ThreadPool) {
            let nb = self.x.len();
            let tasks = pool.threads();
            let per = self.n.div_ceil(tasks);
            pool.run(tasks, &|t| {
                let (j0, j1) = ((t * per).min(self.n), ((t + 1) * per).min(self.n));
                for row in self.w[j0 * nb..j1 * nb].chunks_exact(nb) {
                    black_box(crate::ggml_ref::vec_dot(row, &self.x));
                }
            });
        }
    }

    #[cfg(not(all(feature = "ggml-reference", target_arch = "x86_64")))]
    pub struct Gemv;

    #[cfg(not(all(feature = "ggml-reference", target_arch = "x86_64")))]
    impl Gemv {
        pub fn new(_: &[BlockQ8_0], _: usize, _: usize, _: &[f32]) -> Option<Gemv> {
            None
        }
        pub fn run(&self, _: &ThreadPool) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ggml: bool) -> String {
        let report = Report {
            cpu_paths: vec![Isa::Scalar],
            ggml,
            read_bw: Vec::new(),
            rows: Vec::new(),
        };
        report.to_table().lines().next().unwrap().to_string()
    }

    /// The checksum by its definition, one word at a time.
    fn checksum_spec(buf: &[u8]) -> u64 {
        let body = buf.len() - buf.len() % 128;
        let words = buf[..body]
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
            .fold(0u64, u64::wrapping_add);
        buf[body..]
            .iter()
            .fold(words, |a, &b| a.wrapping_add(u64::from(b)))
    }

    #[test]
    fn every_stream_read_path_gives_the_specified_checksum() {
        let data: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        // Odd starts (unaligned loads) and lengths around the 128-byte body.
        for start in [0, 1, 7, 33] {
            for len in [
                0, 1, 63, 64, 127, 128, 129, 255, 256, 383, 384, 385, 4095, 4096, 4097, 19_000,
            ] {
                let buf = &data[start..start + len];
                let want = checksum_spec(buf);
                assert_eq!(stream_read_scalar(buf), want, "scalar {start} {len}");
                assert_eq!(stream_read(buf), want, "dispatched {start} {len}");
                #[cfg(target_arch = "x86_64")]
                if let Some(t) = crate::x86::avx2::Avx2::new() {
                    assert_eq!(t.stream_sum(buf), want, "avx2 {start} {len}");
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(t) = crate::x86::avx512vnni::Avx512Vnni::new() {
                    assert_eq!(t.stream_sum(buf), want, "avx512 {start} {len}");
                }
            }
        }
        let pool = ThreadPool::new(2);
        // Each thread sums its half.
        let per = data.len().div_ceil(2);
        let halves = checksum_spec(&data[..per]).wrapping_add(checksum_spec(&data[per..]));
        assert_eq!(stream_read_pool(&pool, &data), halves);
        assert!(read_bandwidth(&pool, &data, 3) > 0.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        assert_eq!(percentile(&mut [3.0], 99.0), 3.0);
        assert_eq!(percentile(&mut [], 50.0), 0.0);
        // An even count's median is the lower middle value, not a mean.
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile(&mut [5.0, 1.0, 3.0], 50.0), 3.0);
    }

    #[test]
    fn the_table_says_how_to_get_the_ggml_column() {
        assert_eq!(
            header(true),
            "paths on this CPU: scalar; ggml reference: yes"
        );
        let without = header(false);
        if cfg!(target_arch = "x86_64") {
            assert!(without.contains("--features ggml-reference"), "{without}");
        } else {
            assert!(without.contains("x86-64 only"), "{without}");
        }
    }
}
