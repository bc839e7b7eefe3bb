//! `knob bench model`: prefill and decode speed of a GGUF model, with 1 and 2
//! threads, as llama-bench measures them (pp64, pp512, tg128). Reports medians
//! and the peak resident memory.
//!
//! The tests run behind a small `Engine` trait so that a second engine can run
//! the same tests interleaved, run by run (this machine's bandwidth drifts by
//! up to 25% between runs). Until llama.cpp is linked in (an opt-in feature
//! with the llama-cpp-2 crate needs cmake, libclang and a second llama.cpp
//! build), scripts/bench_vs_llamacpp.py interleaves `knob bench model` with
//! llama.cpp from llama-cpp-python, process by process.
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

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
#[derive(Debug, Clone, Copy, serde::Serialize)]
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

#[derive(Debug, serde::Serialize)]
struct Row {
    test: Test,
    threads: usize,
    knob_tokens_per_sec: f64,
    llama_cpp_tokens_per_sec: Option<f64>,
    ratio: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
struct Report {
    model: String,
    repetitions: usize,
    weight_bytes: usize,
    kv_cache_bytes: usize,
    /// peak resident memory of this process
    peak_rss_bytes: Option<u64>,
    rows: Vec<Row>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// VmHWM from /proc/self/status (Linux), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn run(args: BenchModelArgs) -> Result<Exit> {
    let path = &args.model;
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

    for &threads in &args.threads {
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
        let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(Knob(model))];
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
            let knob = median(&mut samples[0]);
            let other = samples.get_mut(1).map(|s| median(s));
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
                        println!("{:<12} {threads} thr  knob {knob:8.1} tok/s  llama.cpp {o:8.1} tok/s  x{ratio:.2}", test.label())
                    }
                    _ => println!("{:<12} {threads} thr  knob {knob:8.1} tok/s", test.label()),
                }
            }
        }
    }
    let report = Report {
        model: display_name(path),
        repetitions: reps,
        weight_bytes,
        kv_cache_bytes,
        peak_rss_bytes: peak_rss_bytes(),
        rows,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
        println!(
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
