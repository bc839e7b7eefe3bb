//! `knob bench arch --compare FILE`: two settings models side by side in one
//! run (issue 19: Mu's claim that an encoder–decoder answers sooner and
//! decodes faster than a decoder-only model of the same size). Both run in
//! the same engine, under the same action grammar and beam width, on 1 and 2
//! threads:
//!
//! - time to the first action token's logits, prompt processing included
//!   (encoder + decoder start token, or prefill of query + separator), and
//!   decode tokens/s of one hypothesis, for queries of 8, 16, 32, 64 tokens;
//! - request latency (tokenize, encode, beam search, validate): per query
//!   length, and p50/p99 on the natural-request set;
//! - batch requests/s with 1 and 2 workers (one thread each);
//! - accuracy as `knob eval` computes it on the held-out files.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::ask::{agent_with, load_agent};
use super::settings_ui::catalog;
use super::Context;
use crate::agent::beam::{beam_search, BeamDecoder};
use crate::agent::grammar::{grammar_catalog, PrefixAutomaton};
use crate::agent::parallel::map_ordered;
use crate::agent::pipeline::Agent;
use crate::agent::settings_model::SettingsModel;
use crate::cli::BenchArchArgs;
use crate::exit::Exit;
use crate::gguf::Gguf;
use crate::settings::Catalog;
use knob_kernels::bench::percentile;

/// The natural-request set: realistic queries, none of them seen in training.
static NATURAL: &str = include_str!("../../tests/data/natural_requests.jsonl");

/// Accuracy files scored by default (relative to the repository root).
const ACCURACY_FILES: [&str; 3] = [
    "train/eval/heldout.jsonl",
    "train/eval/phrases-heldout.jsonl",
    "tests/data/natural_requests.jsonl",
];

/// Decoder steps timed after the first token, one hypothesis.
const DECODE_STEPS: usize = 16;
/// Different queries of each length (windows of the natural requests' tokens).
const WINDOWS: usize = 8;

/// `knob bench arch --json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BenchArchJson {
    /// The baseline (--settings-model, or the embedded model) and --compare.
    models: [ModelInfo; 2],
    beam_width: usize,
    reps: usize,
    /// One row per measurement; `values` follow `models`.
    rows: Vec<Row>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ModelInfo {
    name: String,
    file: String,
    architecture: String,
    parameters: u64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Row {
    /// What was measured, with its unit.
    metric: String,
    /// Query length in tokens, for the sweep.
    query_tokens: Option<usize>,
    /// Threads of each model (workers for batch rows).
    threads: Option<usize>,
    values: [f64; 2],
}

/// One model under test: its file and its label.
struct Subject {
    path: Option<PathBuf>,
    info: ModelInfo,
}

impl Subject {
    fn load(&self, threads: usize) -> Result<SettingsModel> {
        match &self.path {
            Some(p) => {
                let gguf = Gguf::open(p)
                    .with_context(|| format!("reading the settings model {}", p.display()))?;
                SettingsModel::from_gguf(gguf, threads)
                    .with_context(|| format!("loading the settings model {}", p.display()))
            }
            None => SettingsModel::embedded(threads).context("loading the embedded settings model"),
        }
    }

    fn agent(&self, ctx: &Context, cat: &Catalog, threads: usize) -> Result<Agent> {
        match &self.path {
            Some(_) => Ok(agent_with(ctx, cat, self.load(threads)?)),
            None => load_agent(ctx, cat, Some(threads)),
        }
    }
}

fn subject(path: Option<&Path>) -> Result<Subject> {
    let s = Subject {
        path: path.map(Path::to_path_buf),
        info: ModelInfo {
            name: String::new(),
            file: path.map_or_else(|| "embedded".into(), |p| p.display().to_string()),
            architecture: String::new(),
            parameters: 0,
        },
    };
    let m = s.load(1)?;
    Ok(Subject {
        info: ModelInfo {
            name: m.name.clone(),
            architecture: m.architecture().into(),
            parameters: m.parameters(),
            ..s.info
        },
        ..s
    })
}

fn natural_queries() -> Result<Vec<String>> {
    NATURAL
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["query"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// `WINDOWS` queries of exactly `len` tokens: windows of the natural
/// requests' tokens, joined with " and ".
fn windows(model: &SettingsModel, queries: &[String], len: usize) -> Result<Vec<Vec<u32>>> {
    let text = queries.join(" and ");
    let ids = model
        .tokenizer
        .encode(&text, false, false)
        .map_err(|e| anyhow::anyhow!("tokenizing the natural requests: {e}"))?;
    if ids.len() < len * WINDOWS {
        bail!("the natural requests have too few tokens for {WINDOWS} queries of {len}");
    }
    let stride = ids.len() / WINDOWS;
    Ok((0..WINDOWS)
        .map(|w| ids[w * stride..w * stride + len].to_vec())
        .collect())
}

/// Reads one timing of a [`Sweep`].
type SweepField = fn(&Sweep) -> f64;

/// Per-length timings of one model on one thread count.
struct Sweep {
    first_token_ms: f64,
    decode_tokens_per_s: f64,
    request_p50_ms: f64,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn sweep(
    model: &mut SettingsModel,
    automaton: &PrefixAutomaton,
    queries: &[Vec<u32>],
    width: usize,
    reps: usize,
) -> Result<Sweep> {
    let (mut first, mut decode, mut request) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..=reps {
        for ids in queries {
            // Time to the first action token: the prompt, then the step that
            // yields the first action token's logits.
            let t = Instant::now();
            model.encode(ids)?;
            let (mut dec, tokens) = model.decoder();
            let start = tokens.start;
            dec.start(1);
            let mut next = argmax(dec.step(&[start]));
            let t_first = ms(t);
            // Decode speed: one hypothesis, the model's own argmax, no grammar.
            let steps = DECODE_STEPS.min(dec.max_len().saturating_sub(1));
            let t = Instant::now();
            for _ in 0..steps {
                next = argmax(dec.step(&[next]));
            }
            let t_decode = t.elapsed().as_secs_f64();
            if let Some(e) = dec.failed.take() {
                return Err(e).context("decoding");
            }
            // A whole request on these ids: encode and constrained beam search.
            let t = Instant::now();
            model.encode(ids)?;
            let (mut dec, tokens) = model.decoder();
            let hyps = beam_search(&mut dec as &mut dyn BeamDecoder, tokens, automaton, width);
            let t_request = ms(t);
            if let Some(e) = dec.failed.take() {
                return Err(e).context("beam search");
            }
            std::hint::black_box(hyps);
            if rep > 0 {
                // rep 0 warms the caches up
                first.push(t_first);
                decode.push(steps as f64 / t_decode.max(1e-9));
                request.push(t_request);
            }
        }
    }
    Ok(Sweep {
        first_token_ms: percentile(&mut first, 50.0),
        decode_tokens_per_s: percentile(&mut decode, 50.0),
        request_p50_ms: percentile(&mut request, 50.0),
    })
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// p50 and p99 of whole requests (`knob ask`'s understanding step) over `qs`.
fn latency(agent: &mut Agent, qs: &[String], reps: usize) -> Result<(f64, f64)> {
    for q in qs {
        agent.understand(q)?; // warm-up
    }
    let mut times = Vec::with_capacity(qs.len() * reps);
    for _ in 0..reps {
        for q in qs {
            let t = Instant::now();
            agent.understand(q)?;
            times.push(ms(t));
        }
    }
    Ok((percentile(&mut times, 50.0), percentile(&mut times, 99.0)))
}

fn throughput(
    ctx: &Context,
    cat: &Catalog,
    s: &Subject,
    qs: &[String],
    reps: usize,
    workers: usize,
) -> Result<f64> {
    let items: Vec<&String> = (0..reps).flat_map(|_| qs.iter()).collect();
    let n = items.len();
    let t = Instant::now();
    map_ordered(
        items.into_iter(),
        workers,
        || s.agent(ctx, cat, 1),
        |agent: &mut Agent, q: &String| agent.understand(q).map(|_| ()),
        |r| r.map_err(anyhow::Error::from),
    )?;
    // Startup (loading each worker's model) is included, as in `knob bench agent`.
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

pub fn run(ctx: &Context, args: BenchArchArgs) -> Result<Exit> {
    let cat = catalog()?;
    let subjects = [
        subject(ctx.settings_model())?,
        subject(Some(&args.compare))?,
    ];
    let reps = args.reps.max(1);
    let width = args
        .beam_width
        .clamp(1, crate::agent::settings_model::MAX_BEAMS);
    let natural = natural_queries()?;
    let mut rows = Vec::new();
    let threads = if args.threads.is_empty() {
        vec![1, 2]
    } else {
        args.threads.clone()
    };
    let lengths = if args.lengths.is_empty() {
        vec![8, 16, 32, 64]
    } else {
        args.lengths.clone()
    };

    for &t in &threads {
        let mut per_len: Vec<[Option<Sweep>; 2]> = lengths.iter().map(|_| [None, None]).collect();
        let mut nat = [(0.0, 0.0); 2];
        for (i, s) in subjects.iter().enumerate() {
            let mut model = s.load(t)?;
            let mut grammar = grammar_catalog(&cat);
            grammar.questions = model.questions;
            let automaton = PrefixAutomaton::new(&grammar);
            for (j, &len) in lengths.iter().enumerate() {
                if len > model.query_limit() {
                    bail!(
                        "{} reads at most {} query tokens; --lengths asks for {len}",
                        s.info.file,
                        model.query_limit()
                    );
                }
                let qs = windows(&model, &natural, len)?;
                per_len[j][i] = Some(sweep(&mut model, &automaton, &qs, width, reps)?);
            }
            drop(model);
            let mut agent = s.agent(ctx, &cat, t)?;
            agent.beam_width = width;
            nat[i] = latency(&mut agent, &natural, reps)?;
        }
        let get = |j: usize, f: fn(&Sweep) -> f64| -> [f64; 2] {
            [0, 1].map(|i| per_len[j][i].as_ref().map_or(f64::NAN, f))
        };
        for (j, &len) in lengths.iter().enumerate() {
            let metrics: [(&str, SweepField); 3] = [
                ("time to first action token, ms", |s| s.first_token_ms),
                ("decode tokens/s, 1 hypothesis", |s| s.decode_tokens_per_s),
                ("request latency p50, ms", |s| s.request_p50_ms),
            ];
            for (metric, f) in metrics {
                rows.push(Row {
                    metric: metric.into(),
                    query_tokens: Some(len),
                    threads: Some(t),
                    values: get(j, f),
                });
            }
        }
        rows.push(Row {
            metric: "request latency p50, ms (natural requests)".into(),
            query_tokens: None,
            threads: Some(t),
            values: [nat[0].0, nat[1].0],
        });
        rows.push(Row {
            metric: "request latency p99, ms (natural requests)".into(),
            query_tokens: None,
            threads: Some(t),
            values: [nat[0].1, nat[1].1],
        });
    }
    for &w in &threads {
        let v = [
            throughput(ctx, &cat, &subjects[0], &natural, reps, w)?,
            throughput(ctx, &cat, &subjects[1], &natural, reps, w)?,
        ];
        rows.push(Row {
            metric: "batch requests/s (natural, 1 thread per worker)".into(),
            query_tokens: None,
            threads: Some(w),
            values: v,
        });
    }
    if !args.no_accuracy {
        let files: Vec<PathBuf> = if args.accuracy.is_empty() {
            ACCURACY_FILES.iter().map(PathBuf::from).collect()
        } else {
            args.accuracy.clone()
        };
        for f in &files {
            let mut v = [0.0; 2];
            for (i, s) in subjects.iter().enumerate() {
                let r = super::eval::evaluate(ctx, &cat, f, s.path.as_deref())
                    .with_context(|| format!("scoring {}", f.display()))?;
                v[i] = r.accuracy() * 100.0;
            }
            rows.push(Row {
                metric: format!("accuracy %, {}", f.display()),
                query_tokens: None,
                threads: None,
                values: v,
            });
        }
    }

    let report = BenchArchJson {
        models: subjects.map(|s| s.info),
        beam_width: width,
        reps,
        rows,
    };
    let mut out = crate::output::stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(Exit::Ok);
    }
    for (tag, m) in ["A", "B"].iter().zip(&report.models) {
        writeln!(
            out,
            "{tag}: {} ({}, {} parameters, {})",
            m.name, m.architecture, m.parameters, m.file
        )?;
    }
    writeln!(out, "beam width {width}, {reps} reps\n")?;
    writeln!(
        out,
        "{:<50} {:>6} {:>7} {:>11} {:>11} {:>7}",
        "metric", "tokens", "threads", "A", "B", "B/A"
    )?;
    for r in &report.rows {
        let dash = |v: Option<usize>| v.map_or("-".to_string(), |v| v.to_string());
        writeln!(
            out,
            "{:<50} {:>6} {:>7} {:>11.3} {:>11.3} {:>7.2}",
            r.metric,
            dash(r.query_tokens),
            dash(r.threads),
            r.values[0],
            r.values[1],
            r.values[1] / r.values[0]
        )?;
    }
    Ok(Exit::Ok)
}
