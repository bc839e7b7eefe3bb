//! `knob bench model`: prefill and decode speed of a GGUF model, with 1 and 2
//! threads, as llama-bench measures them (pp64, pp512, tg128). Reports medians
//! and the peak resident memory.
//!
//! Built with the cargo feature `llama-cpp` (the llama-cpp-2 crate; needs cmake
//! and libclang), it runs llama.cpp on the same file too, interleaved run by
//! run behind the small `Engine` trait (this machine's bandwidth drifts by up
//! to 25% between runs). llama-cpp-sys-2 builds llama.cpp for the baseline
//! x86-64 unless told otherwise; for a fair comparison enable the CPU's
//! instructions, e.g. `GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON
//! GGML_AVX512=ON GGML_AVX512_VNNI=ON cargo build --release --features llama-cpp`.
//! scripts/bench_vs_llamacpp.py does the same process by process with
//! llama-cpp-python.
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use knob_kernels::bench::percentile;

use crate::cli::BenchModelArgs;
use crate::exit::Exit;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::SessionOptions;
use crate::model::LanguageModel;

/// One engine under test.
trait Engine {
    fn name(&self) -> &'static str;
    fn reset(&mut self) -> Result<()>;
    fn prefill(&mut self, tokens: &[u32]) -> Result<()>;
    fn decode(&mut self, token: u32) -> Result<()>;
}

struct Knob(Box<dyn LanguageModel>);

impl Engine for Knob {
    fn name(&self) -> &'static str {
        "knob"
    }
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
}

/// `knob bench model --json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    model: String,
    repetitions: usize,
    /// whether llama.cpp ran too (cargo feature llama-cpp)
    llama_cpp: bool,
    weight_bytes: usize,
    kv_cache_bytes: usize,
    /// peak resident memory of this process
    peak_rss_bytes: Option<u64>,
    rows: Vec<Row>,
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
    let thread_counts = ctx.threads_flag().map_or(vec![1, 2], |n| vec![n]);
    let file =
        crate::gguf::Gguf::open(path).with_context(|| format!("opening {}", path.display()))?;
    let src = GgufSource::new(file);
    let reps = args.reps.max(1);
    // Pseudo-random token ids, the same for both engines.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut toks = Vec::with_capacity(513);
    let mut weight_bytes = 0;
    let mut kv_cache_bytes = 0;
    let mut rows = Vec::new();
    #[allow(unused_mut)]
    let mut llama_cpp = false;

    for &threads in &thread_counts {
        let opts = SessionOptions {
            threads,
            context: Some(640),
            max_batch: 512,
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
        #[allow(unused_mut)]
        let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(Knob(model))];
        #[cfg(feature = "llama-cpp")]
        if !args.no_llama_cpp {
            engines.push(Box::new(llama_cpp::LlamaCpp::new(path, threads)?));
            llama_cpp = true;
        }
        for test in Test::ALL {
            // warm-up run of each engine (page in the weights, grow buffers)
            for e in engines.iter_mut() {
                test.run(e.as_mut(), &toks)?;
            }
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
            for _ in 0..reps {
                for (i, e) in engines.iter_mut().enumerate() {
                    samples[i].push(
                        test.run(e.as_mut(), &toks)
                            .with_context(|| format!("{} {}", e.name(), test.label()))?,
                    );
                }
            }
            let knob = percentile(&mut samples[0], 50.0);
            let other = samples.get_mut(1).map(|s| percentile(s, 50.0));
            rows.push(Row {
                test,
                threads,
                knob_tokens_per_sec: knob,
                llama_cpp_tokens_per_sec: other,
                ratio: other.map(|o| knob / o),
            });
            if !args.json {
                let r = rows.last().expect("just pushed");
                match (r.llama_cpp_tokens_per_sec, r.ratio) {
                    (Some(o), Some(ratio)) => {
                        outln!("{:<12} {threads} thr  knob {knob:8.1} tok/s  llama.cpp {o:8.1} tok/s  x{ratio:.2}", test.label())
                    }
                    _ => outln!("{:<12} {threads} thr  knob {knob:8.1} tok/s", test.label()),
                }
            }
        }
    }
    let report = Report {
        model: display_name(path),
        repetitions: reps,
        llama_cpp,
        weight_bytes,
        kv_cache_bytes,
        peak_rss_bytes: peak_rss_bytes(),
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

    use anyhow::{Context, Result};
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::context::LlamaContext;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::model::LlamaModel;
    use llama_cpp_2::token::LlamaToken;

    pub struct LlamaCpp {
        // field order: the context borrows the model, which needs the backend
        ctx: LlamaContext<'static>,
        batch: LlamaBatch<'static>,
        pos: i32,
    }

    fn backend() -> &'static LlamaBackend {
        static BACKEND: std::sync::OnceLock<LlamaBackend> = std::sync::OnceLock::new();
        BACKEND.get_or_init(|| {
            let mut b = LlamaBackend::init().expect("llama.cpp backend initializes once");
            b.void_logs();
            b
        })
    }

    impl LlamaCpp {
        pub fn new(path: &Path, threads: usize) -> Result<Self> {
            let backend = backend();
            let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
                .with_context(|| format!("llama.cpp loading {}", path.display()))?;
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
            })
        }
    }

    impl super::Engine for LlamaCpp {
        fn name(&self) -> &'static str {
            "llama.cpp"
        }
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
