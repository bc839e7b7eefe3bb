//! `knob bench model`: prefill and decode speed of a GGUF model, with 1 and 2
//! threads, as llama-bench measures them (pp64, pp512, tg128). Reports medians
//! and the peak resident memory.
//!
//! Built with the cargo feature `llama-cpp` (the llama-cpp-2 crate; needs cmake
//! and libclang), it runs llama.cpp on the same file too, interleaved run by
//! run behind the small `Runner` trait (this machine's bandwidth drifts by up
//! to 25% between runs; llama.cpp runs on a thread of its own, see
//! `llama_cpp::LlamaCpp`), and reports from llama.cpp's loader log where it
//! keeps the weights: `AMX` holds those it repacked for the AMX unit.
//!
//! The baseline must use the CPU's features, AMX included, as llama-bench
//! built with GGML_NATIVE does. llama-cpp-sys-2 turns GGML_NATIVE off unless
//! rustc gets `-C target-cpu=native` (which would change knob's own code too),
//! but hands GGML_* and CMAKE_* environment variables to cmake. So name the
//! features the CPU has (`grep -o 'avx512[a-z_]*\|amx[a-z_]*' /proc/cpuinfo`)
//! and add `-march=native` as GGML_NATIVE would, e.g. on a Xeon with AMX:
//!
//! ```text
//! export GGML_SSE42=ON GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON \
//!   GGML_BMI2=ON GGML_AVX_VNNI=ON GGML_AVX512=ON GGML_AVX512_VBMI=ON \
//!   GGML_AVX512_VNNI=ON GGML_AVX512_BF16=ON GGML_AMX_TILE=ON \
//!   GGML_AMX_INT8=ON GGML_AMX_BF16=ON
//! export CMAKE_C_FLAGS="-ffunction-sections -fdata-sections -fPIC -m64 -march=native -w"
//! export CMAKE_CXX_FLAGS="$CMAKE_C_FLAGS -include $PWD/scripts/llamacpp-gcc-amx-tilecfg.h"
//! cargo clean --release -p llama-cpp-sys-2   # cargo does not track CMAKE_*
//! cargo build --release --locked --features llama-cpp -vv
//! ```
//!
//! The CMAKE_* flags replace cmake-rs's own (`... -march=x86-64 -w`), hence
//! those repeated. The header fixes GCC 12's `_tile_loadconfig`, which makes
//! GCC drop ggml's tile shapes, so that llama.cpp's first AMX gemm dies with
//! SIGILL (see the header). With `-vv` cargo shows ggml's "Adding CPU backend
//! variant ggml-cpu:" line with `-mamx-int8`. A later build without the
//! GGML_* variables rebuilds llama.cpp without them. On SmolLM2 Q8_0 the
//! report then ends "llama.cpp keeps the weights in AMX 152.3 MiB, CPU_Mapped
//! 136.4 MiB" (the file stays mapped; without AMX there is no `AMX` buffer).
//! scripts/bench_vs_llamacpp.py did the comparison process by process with
//! llama-cpp-python, whose AMX path crashed here too.
//!
//! Decode rows also say how close each engine comes to the bandwidth limit:
//! the bytes one decode step reads (weights, plus the cached keys and values
//! at the test's average context) against the rate at which the machine
//! reads a buffer as large as those bytes again and again, as decode reads
//! its weights once per token (`knob_kernels::bench::read_bandwidth`, with
//! 512-bit loads where the CPU has them, as the gemv kernels read). It is
//! measured with as many threads after every decode run, once the engines'
//! workers have parked, so that drift hits both alike.
//!
//! `--profile` instead times each section of knob's decode (see
//! `crate::model::profile`), the sampling and the thread pool's wake-ups.
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use knob_kernels::bench::percentile;

use crate::cli::BenchModelArgs;
use crate::exit::Exit;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::SessionOptions;
use crate::model::LanguageModel;

/// How long the engines' idle workers get to stop spinning before a timed
/// run or the bandwidth probe (knob's spin 2 ms, llama.cpp's poll for work
/// longer; 50 ms was enough for the probe, and each pause now gets more).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// One engine under test, driven step by step by `Test::run`.
trait Engine {
    fn reset(&mut self) -> Result<()>;
    fn prefill(&mut self, tokens: &[u32]) -> Result<()>;
    fn decode(&mut self, token: u32) -> Result<()>;
}

/// Runs the tests of one engine, on the calling thread or on its own.
trait Runner {
    fn name(&self) -> &'static str;
    /// Runs `test` once; returns tokens per second.
    fn run(&mut self, test: Test, toks: &[u32]) -> Result<f64>;
}

struct Knob(Box<dyn LanguageModel>);

impl Runner for Knob {
    fn name(&self) -> &'static str {
        "knob"
    }
    fn run(&mut self, test: Test, toks: &[u32]) -> Result<f64> {
        test.run(self, toks)
    }
}

impl Engine for Knob {
    fn reset(&mut self) -> Result<()> {
        self.0.reset();
        Ok(())
    }
    fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
        self.0.prefill(tokens)?;
        Ok(())
    }
    fn decode(&mut self, token: u32) -> Result<()> {
        self.0.decode(token)?;
        Ok(())
    }
}

/// The tests of llama-bench: pp64, pp512 and tg128.
#[derive(Debug, Clone, Copy, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Test {
    Prefill64,
    Prefill512,
    Decode128,
}

impl Test {
    const ALL: [Test; 3] = [Test::Prefill64, Test::Prefill512, Test::Decode128];
    fn label(self) -> &'static str {
        match self {
            Test::Prefill64 => "prefill 64",
            Test::Prefill512 => "prefill 512",
            Test::Decode128 => "decode 128",
        }
    }
    fn tokens(self) -> usize {
        match self {
            Test::Prefill64 => 64,
            Test::Prefill512 => 512,
            Test::Decode128 => 128,
        }
    }
    /// Runs the test once; returns tokens per second.
    fn run(self, e: &mut dyn Engine, toks: &[u32]) -> Result<f64> {
        e.reset()?;
        let n = self.tokens();
        let secs = match self {
            Test::Prefill64 | Test::Prefill512 => {
                let t = Instant::now();
                e.prefill(&toks[..n])?;
                t.elapsed().as_secs_f64()
            }
            Test::Decode128 => {
                // decode from a one-token context, as llama-bench's tg does
                e.prefill(&toks[..1])?;
                let t = Instant::now();
                for &tok in &toks[1..=n] {
                    e.decode(tok)?;
                }
                t.elapsed().as_secs_f64()
            }
        };
        Ok(n as f64 / secs)
    }
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct Row {
    test: Test,
    threads: usize,
    knob_tokens_per_sec: f64,
    llama_cpp_tokens_per_sec: Option<f64>,
    ratio: Option<f64>,
    /// decode only: streaming read bandwidth on `threads` threads over the
    /// bytes one decode step reads (median of the runs), in tokens per second
    bandwidth_limit_tokens_per_sec: Option<f64>,
    /// decode only: knob's tokens per second over the bandwidth limit
    knob_bandwidth_fraction: Option<f64>,
    /// decode only: llama.cpp's tokens per second over the bandwidth limit
    llama_cpp_bandwidth_fraction: Option<f64>,
}

/// `knob bench model --json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    model: String,
    repetitions: usize,
    /// whether llama.cpp ran too (cargo feature llama-cpp)
    llama_cpp: bool,
    /// where llama.cpp keeps the weights, from its loader's log: `AMX`
    /// holds the ones it repacked for the AMX unit (empty without llama.cpp)
    llama_cpp_weight_buffers: Vec<WeightBuffer>,
    weight_bytes: usize,
    kv_cache_bytes: usize,
    /// peak resident memory of this process, less the bandwidth probe's buffer
    peak_rss_bytes: Option<u64>,
    /// bytes knob reads per decode token in the decode test: weights and the
    /// KV cache at its average context
    decode_bytes_per_token: usize,
    /// streaming read bandwidth per thread count, bytes per second (median)
    read_bandwidth: Vec<ReadBandwidth>,
    rows: Vec<Row>,
}

/// One of llama.cpp's weight buffers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
struct WeightBuffer {
    /// ggml's buffer type: `CPU_Mapped` (the file as it is), `AMX`,
    /// `CPU_REPACK`, ...
    buffer_type: String,
    /// its size in MiB, as llama.cpp logs it
    mib: f64,
}

/// Reads one line of llama.cpp's loader log,
/// `load_tensors:          AMX model buffer size =   152.30 MiB`.
#[cfg(any(test, feature = "llama-cpp"))]
fn weight_buffer(line: &str) -> Option<WeightBuffer> {
    let (head, size) = line.split_once(" model buffer size =")?;
    let buffer_type = head.split_whitespace().last()?;
    let mib = size.trim().strip_suffix("MiB")?.trim().parse().ok()?;
    Some(WeightBuffer {
        buffer_type: buffer_type.to_owned(),
        mib,
    })
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct ReadBandwidth {
    threads: usize,
    bytes_per_sec: f64,
}

/// VmHWM from /proc/self/status (Linux), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn run(ctx: &super::Context, args: BenchModelArgs) -> Result<Exit> {
    let path = ctx.required_model("bench model")?;
    // `--threads N` measures N alone; the config's threads do not count here.
    let thread_counts = match ctx.threads_flag() {
        Some(n) => vec![n],
        // the profile is of one thread unless --threads says otherwise
        None if args.profile => vec![1],
        None => vec![1, 2],
    };
    let file =
        crate::gguf::Gguf::open(path).with_context(|| format!("opening {}", path.display()))?;
    let src = GgufSource::new(file);
    let reps = args.reps.max(1);
    // Pseudo-random token ids, the same for both engines.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut toks = Vec::with_capacity(513);
    let mut weight_bytes = 0;
    let mut kv_cache_bytes = 0;
    let mut decode_bytes = 0;
    // The bandwidth probe's buffer, resident while the engines run: taken
    // out of the peak RSS, which reports the engines' memory.
    let mut probe_bytes = 0u64;
    let mut read_bandwidth = Vec::new();
    let mut rows = Vec::new();
    #[allow(unused_mut)]
    let mut llama_cpp = false;
    #[allow(unused_mut)]
    let mut llama_cpp_weight_buffers = Vec::new();

    for &threads in &thread_counts {
        let opts = SessionOptions {
            threads,
            context: Some(640),
            max_batch: 512,
            kv: ctx.kv(),
        };
        let model = crate::model::load(&src, opts)
            .with_context(|| format!("loading {}", path.display()))?;
        if toks.is_empty() {
            let vocab = model.vocab_size() as u64;
            for _ in 0..513 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                toks.push((state % vocab) as u32);
            }
        }
        let mem = model.memory();
        weight_bytes = mem.weights;
        kv_cache_bytes = mem.kv_cache;
        // decode 128 from a one-token context: 2..=129 keys, 65.5 on average
        decode_bytes = (model.decode_bytes(65) + model.decode_bytes(66)) / 2;
        if args.profile {
            return profile(ctx, model, threads, reps, &toks, args.prefill, args.json);
        }
        // The bandwidth probe: as many bytes as a decode step reads, paged in.
        let bw_pool = knob_kernels::ThreadPool::new(threads);
        let bw_buf: Vec<u8> = (0..decode_bytes).map(|i| i as u8 | 1).collect();
        probe_bytes = probe_bytes.max(bw_buf.len() as u64);
        let mut bw_samples = Vec::new();
        #[allow(unused_mut)]
        let mut engines: Vec<Box<dyn Runner>> = vec![Box::new(Knob(model))];
        #[cfg(feature = "llama-cpp")]
        if !args.no_llama_cpp {
            let engine = llama_cpp::LlamaCpp::new(path, threads)?;
            llama_cpp_weight_buffers = engine.weight_buffers.clone();
            engines.push(Box::new(engine));
            llama_cpp = true;
        }
        for test in Test::ALL {
            // warm-up run of each engine (page in the weights, grow buffers)
            for e in engines.iter_mut() {
                e.run(test, &toks)?;
            }
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
            let decode = matches!(test, Test::Decode128);
            for _ in 0..reps {
                for (i, e) in engines.iter_mut().enumerate() {
                    // Each timed run starts on quiet cores: both engines'
                    // workers spin a while after a run (llama.cpp's longer),
                    // and would otherwise share the cores with the next run.
                    std::thread::sleep(SETTLE);
                    samples[i].push(
                        e.run(test, &toks)
                            .with_context(|| format!("{} {}", e.name(), test.label()))?,
                    );
                }
                if decode {
                    // Let the engines' spinning workers park first (llama.cpp's
                    // poll for work), so that the probe has the cores to itself.
                    std::thread::sleep(SETTLE);
                    bw_samples.push(knob_kernels::bench::read_bandwidth(&bw_pool, &bw_buf, 5));
                }
            }
            let knob = percentile(&mut samples[0], 50.0);
            let other = samples.get_mut(1).map(|s| percentile(s, 50.0));
            let limit = decode.then(|| {
                let bw = percentile(&mut bw_samples, 50.0);
                read_bandwidth.push(ReadBandwidth {
                    threads,
                    bytes_per_sec: bw,
                });
                bw / decode_bytes.max(1) as f64
            });
            rows.push(Row {
                test,
                threads,
                knob_tokens_per_sec: knob,
                llama_cpp_tokens_per_sec: other,
                ratio: other.map(|o| knob / o),
                bandwidth_limit_tokens_per_sec: limit,
                knob_bandwidth_fraction: limit.map(|l| knob / l),
                llama_cpp_bandwidth_fraction: limit.and_then(|l| other.map(|o| o / l)),
            });
            if !args.json {
                let r = rows.last().expect("just pushed");
                let mut line = format!("{:<12} {threads} thr  knob {knob:8.1} tok/s", test.label());
                if let (Some(o), Some(ratio)) = (r.llama_cpp_tokens_per_sec, r.ratio) {
                    line += &format!("  llama.cpp {o:8.1} tok/s  x{ratio:.2}");
                }
                if let (Some(l), Some(f)) = (limit, r.knob_bandwidth_fraction) {
                    line += &format!("  {:.0}% of the bandwidth limit {l:.0} tok/s", 100.0 * f);
                    if let Some(of) = r.llama_cpp_bandwidth_fraction {
                        line += &format!(" (llama.cpp {:.0}%)", 100.0 * of);
                    }
                }
                outln!("{line}");
            }
        }
    }
    let report = Report {
        model: display_name(path),
        repetitions: reps,
        llama_cpp,
        llama_cpp_weight_buffers,
        weight_bytes,
        kv_cache_bytes,
        peak_rss_bytes: peak_rss_bytes().map(|p| p.saturating_sub(probe_bytes)),
        decode_bytes_per_token: decode_bytes,
        read_bandwidth,
        rows,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
        outln!(
            "weights {:.1} MiB, KV cache {:.1} MiB, peak RSS {}",
            mib(weight_bytes),
            mib(kv_cache_bytes),
            report
                .peak_rss_bytes
                .map_or("unknown".into(), |b| format!("{:.1} MiB", mib(b as usize)))
        );
        let bws: Vec<String> = report
            .read_bandwidth
            .iter()
            .map(|b| format!("{:.1} GB/s on {} thr", b.bytes_per_sec / 1e9, b.threads))
            .collect();
        outln!(
            "decode reads {:.1} MB per token; streaming read {}",
            decode_bytes as f64 / 1e6,
            bws.join(", ")
        );
        if !report.llama_cpp_weight_buffers.is_empty() {
            let bufs: Vec<String> = report
                .llama_cpp_weight_buffers
                .iter()
                .map(|b| format!("{} {:.1} MiB", b.buffer_type, b.mib))
                .collect();
            outln!("llama.cpp keeps the weights in {}", bufs.join(", "));
        }
    }
    Ok(Exit::Ok)
}

/// `knob bench model --profile`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ProfileReport {
    model: String,
    threads: usize,
    /// prompt tokens per prefill when the profile is of prefill
    /// (`--prefill N`); absent for decode
    #[serde(skip_serializing_if = "Option::is_none")]
    prefill: Option<usize>,
    /// tokens profiled: `reps` runs of 128 decode steps, or of an N-token prefill
    tokens: usize,
    /// mean microseconds per token, all rows together
    total_us_per_token: f64,
    rows: Vec<ProfileRow>,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct ProfileRow {
    /// a section of the forward pass, `sampling` or `thread_wakeups`
    op: String,
    us_per_token: f64,
    /// of the total
    share: f64,
}

/// Decodes 128 tokens `reps` times with the per-op profile on, times greedy
/// sampling over the logits after each step, and estimates the thread pool's
/// wake-ups (an empty job's median cost times the jobs per token; zero on
/// one thread, where the pool runs inline). With `prefill`, runs an N-token
/// prefill `reps` times instead (no sampling).
fn profile(
    ctx: &super::Context,
    mut model: Box<dyn LanguageModel>,
    threads: usize,
    reps: usize,
    toks: &[u32],
    prefill: Option<usize>,
    json: bool,
) -> Result<Exit> {
    let path = ctx.required_model("bench model")?;
    if !model.set_profiling(false) {
        anyhow::bail!("--profile: this model has no per-op profile (llama models do)");
    }
    let mut sampling_ns = 0u128;
    let mut steps = 0usize;
    let run = |model: &mut Box<dyn LanguageModel>, sampling: &mut u128| -> Result<()> {
        model.reset();
        if let Some(n) = prefill {
            model.prefill(&toks[..n])?;
            return Ok(());
        }
        model.prefill(&toks[..1])?;
        for &tok in &toks[1..=128] {
            let logits = model.decode(tok)?;
            let t = Instant::now();
            std::hint::black_box(crate::sampling::argmax(logits));
            *sampling += t.elapsed().as_nanos();
        }
        Ok(())
    };
    run(&mut model, &mut 0)?; // warm-up
    model.set_profiling(true);
    let jobs0 = model.pool_jobs();
    for _ in 0..reps {
        run(&mut model, &mut sampling_ns)?;
        steps += prefill.unwrap_or(128);
    }
    let totals = model.profile();
    let jobs = model.pool_jobs().wrapping_sub(jobs0) & 0xffff_ffff;
    model.set_profiling(false);
    // Each job the pool hands to its workers wakes them once.
    let wake_ns = if threads > 1 {
        let pool = knob_kernels::ThreadPool::new(threads);
        let mut t: Vec<f64> = (0..2001)
            .map(|_| {
                let s = Instant::now();
                pool.run(threads, &|_| {});
                s.elapsed().as_nanos() as f64
            })
            .collect();
        percentile(&mut t, 50.0) * jobs as f64 / steps.max(1) as f64
    } else {
        0.0
    };
    let per = |ns: f64| ns / steps.max(1) as f64 / 1000.0;
    let mut rows: Vec<ProfileRow> = totals
        .iter()
        .map(|&(op, ns)| ProfileRow {
            op: op.label().to_string(),
            us_per_token: per(ns as f64),
            share: 0.0,
        })
        .collect();
    if prefill.is_none() {
        rows.push(ProfileRow {
            op: "sampling (argmax over the vocabulary)".into(),
            us_per_token: per(sampling_ns as f64),
            share: 0.0,
        });
    }
    rows.push(ProfileRow {
        op: "thread wake-ups (estimated, inside the matvecs)".into(),
        us_per_token: wake_ns / 1000.0,
        share: 0.0,
    });
    // The wake-up estimate is already inside the matvec rows' time.
    let total: f64 = rows[..rows.len() - 1].iter().map(|r| r.us_per_token).sum();
    for r in &mut rows {
        r.share = r.us_per_token / total.max(1e-9);
    }
    let report = ProfileReport {
        model: display_name(path),
        threads,
        prefill,
        tokens: steps,
        total_us_per_token: total,
        rows,
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let pass = match prefill {
            Some(n) => format!("prefill profile ({n}-token prompts)"),
            None => "decode profile".to_string(),
        };
        outln!(
            "{pass}, {} thread(s), {} tokens: {:.1} us per token ({:.1} tok/s)",
            threads,
            steps,
            total,
            1e6 / total.max(1e-9)
        );
        outln!("{:<48} {:>10} {:>7}", "section", "us/token", "share");
        for r in &report.rows {
            outln!(
                "{:<48} {:>10.1} {:>6.1}%",
                r.op,
                r.us_per_token,
                100.0 * r.share
            );
        }
    }
    Ok(Exit::Ok)
}

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

// llama.cpp's ggml and ggml-sys's older ggml define the same C symbols.
#[cfg(all(feature = "llama-cpp", feature = "ggml-reference"))]
compile_error!("features `llama-cpp` and `ggml-reference` cannot link into one binary: enable one");

#[cfg(feature = "llama-cpp")]
mod llama_cpp {
    //! llama.cpp through the llama-cpp-2 crate (opt-in: it builds llama.cpp
    //! from source with cmake).
    use std::num::NonZeroU32;
    use std::path::Path;
    use std::sync::{mpsc, Arc, Mutex};

    use anyhow::{Context, Result};
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::context::LlamaContext;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::model::LlamaModel;
    use llama_cpp_2::token::LlamaToken;
    use llama_cpp_2::LogOptions;
    use tracing::field::{Field, Visit};
    use tracing::span;

    use super::{Test, WeightBuffer};

    /// llama.cpp on a thread of its own. ggml loads its AMX tile
    /// configuration once per thread and trusts it from then on, while knob's
    /// AMX kernels load their own and release it on every thread they run
    /// on, the caller's included: sharing a thread, llama.cpp's next tile
    /// load would find the tiles unconfigured (SIGILL).
    pub struct LlamaCpp {
        requests: Option<mpsc::Sender<(Test, Vec<u32>)>>,
        results: mpsc::Receiver<Result<f64>>,
        worker: Option<std::thread::JoinHandle<()>>,
        pub weight_buffers: Vec<WeightBuffer>,
    }

    impl LlamaCpp {
        pub fn new(path: &Path, threads: usize) -> Result<Self> {
            let (requests, inbox) = mpsc::channel::<(Test, Vec<u32>)>();
            let (outbox, results) = mpsc::channel();
            let (ready, started) = mpsc::channel();
            let path = path.to_owned();
            let worker = std::thread::Builder::new()
                .name("llama.cpp".into())
                .spawn(move || {
                    let mut session = match Session::new(&path, threads) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    if ready.send(Ok(session.weight_buffers.clone())).is_err() {
                        return;
                    }
                    for (test, toks) in inbox {
                        if outbox.send(test.run(&mut session, &toks)).is_err() {
                            return;
                        }
                    }
                })
                .context("starting the llama.cpp thread")?;
            let weight_buffers = started
                .recv()
                .context("the llama.cpp thread ended while loading")??;
            Ok(Self {
                requests: Some(requests),
                results,
                worker: Some(worker),
                weight_buffers,
            })
        }
    }

    impl super::Runner for LlamaCpp {
        fn name(&self) -> &'static str {
            "llama.cpp"
        }
        fn run(&mut self, test: Test, toks: &[u32]) -> Result<f64> {
            let ended = || anyhow::anyhow!("the llama.cpp thread ended");
            self.requests
                .as_ref()
                .ok_or_else(ended)?
                .send((test, toks.to_vec()))
                .map_err(|_| ended())?;
            self.results.recv().map_err(|_| ended())?
        }
    }

    impl Drop for LlamaCpp {
        fn drop(&mut self) {
            // closing the channel ends the thread, which frees llama.cpp's context
            self.requests = None;
            if let Some(w) = self.worker.take() {
                let _ = w.join();
            }
        }
    }

    /// llama.cpp's model and context, on the thread that made them.
    struct Session {
        // field order: the context borrows the model, which needs the backend
        ctx: LlamaContext<'static>,
        batch: LlamaBatch<'static>,
        pos: i32,
        weight_buffers: Vec<WeightBuffer>,
    }

    fn backend() -> &'static LlamaBackend {
        static BACKEND: std::sync::OnceLock<LlamaBackend> = std::sync::OnceLock::new();
        BACKEND.get_or_init(|| {
            let b = LlamaBackend::init().expect("llama.cpp backend initializes once");
            // To tracing, which has no subscriber but `LogLines` while a
            // model loads: the log stays quiet.
            llama_cpp_2::send_logs_to_tracing(LogOptions::default());
            b
        })
    }

    /// The messages llama.cpp logs on this thread while it is the default
    /// subscriber.
    #[derive(Default)]
    struct LogLines(Mutex<Vec<String>>);

    struct Message(Option<String>);

    impl Visit for Message {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.0 = Some(value.to_owned());
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = Some(format!("{value:?}"));
            }
        }
    }

    impl tracing::Subscriber for LogLines {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut m = Message(None);
            event.record(&mut m);
            if let Some(m) = m.0 {
                self.0.lock().unwrap_or_else(|e| e.into_inner()).push(m);
            }
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }

    impl Session {
        fn new(path: &Path, threads: usize) -> Result<Self> {
            let backend = backend();
            let log = Arc::new(LogLines::default());
            let dispatch = tracing::Dispatch::new(Arc::clone(&log));
            let model = tracing::dispatcher::with_default(&dispatch, || {
                LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            })
            .with_context(|| format!("llama.cpp loading {}", path.display()))?;
            let weight_buffers = log
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter_map(|l| super::weight_buffer(l))
                .collect();
            // The benchmark keeps one model per thread count for the whole run.
            let model: &'static LlamaModel = Box::leak(Box::new(model));
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(640))
                .with_n_batch(512)
                .with_n_ubatch(512)
                .with_n_threads(threads as i32)
                .with_n_threads_batch(threads as i32);
            let ctx = model
                .new_context(backend, params)
                .context("llama.cpp context")?;
            Ok(Self {
                ctx,
                batch: LlamaBatch::new(512, 1),
                pos: 0,
                weight_buffers,
            })
        }
    }

    impl super::Engine for Session {
        fn reset(&mut self) -> Result<()> {
            self.ctx.clear_kv_cache();
            self.pos = 0;
            Ok(())
        }
        fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
            self.batch.clear();
            for (i, &t) in tokens.iter().enumerate() {
                self.batch.add(
                    LlamaToken::new(t as i32),
                    self.pos + i as i32,
                    &[0],
                    i + 1 == tokens.len(),
                )?;
            }
            self.ctx.decode(&mut self.batch)?;
            self.pos += tokens.len() as i32;
            Ok(())
        }
        fn decode(&mut self, token: u32) -> Result<()> {
            self.prefill(&[token])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_buffer_reads_the_loader_log_lines_of_llama_cpp() {
        // as llama-cpp-2 passes them on: the "load_tensors: " prefix taken off
        let amx = weight_buffer("         AMX model buffer size =   152.30 MiB\n");
        assert_eq!(
            amx,
            Some(WeightBuffer {
                buffer_type: "AMX".into(),
                mib: 152.3
            })
        );
        let mapped = weight_buffer("load_tensors:   CPU_Mapped model buffer size =   138.10 MiB");
        assert_eq!(mapped.map(|b| b.buffer_type), Some("CPU_Mapped".into()));
        // other buffers and other lines are not weights
        for line in [
            "        CPU compute buffer size =    20.01 MiB\n",
            "        CPU KV buffer size =    15.00 MiB\n",
            "AMX model buffer size = lots\n",
            " model buffer size = 1.00 MiB\n",
            "",
        ] {
            assert_eq!(weight_buffer(line), None, "{line:?}");
        }
    }
}
