//! `knob bench agent`: how fast a request becomes a validated action on the
//! embedded settings model — per-request latency on one thread (p50, p99),
//! batch throughput on 1 and 2 threads — and, side by side in the same run,
//! the same model in JAX (jit, f32, CPU) when train/'s venv is present.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::ask::load_agent;
use super::settings_ui::catalog;
use super::Context;
use crate::agent::parallel::map_ordered;
use crate::agent::pipeline::Agent;
use crate::agent::settings_model::EMBEDDED_MODEL;
use crate::cli::BenchAgentArgs;
use crate::exit::Exit;
use knob_kernels::bench::percentile;

/// The natural-request set: realistic queries, none of them seen in training.
static DEFAULT_QUERIES: &str = include_str!("../../tests/data/natural_requests.jsonl");

/// `knob bench agent --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BenchAgentJson {
    /// The same model in JAX; null when it was not run.
    jax: Option<Latency>,
    /// JAX's p50 over knob's greedy p50.
    jax_over_knob_p50: Option<f64>,
    /// Beam search, then greedy, one thread each.
    latency: Vec<Latency>,
    model: String,
    queries: usize,
    reps: usize,
    throughput: Vec<Throughput>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Latency {
    engine: String,
    p50_ms: f64,
    p99_ms: f64,
    requests: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Throughput {
    requests: usize,
    requests_per_s: f64,
    threads: usize,
}

fn queries(path: Option<&Path>) -> Result<Vec<String>> {
    let text = match path {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => DEFAULT_QUERIES.to_string(),
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.trim_start().starts_with('{') {
            let v: serde_json::Value =
                serde_json::from_str(line).context("bad JSON line in the query file")?;
            if let Some(q) = v.get("query").and_then(|q| q.as_str()) {
                out.push(q.to_string());
            }
        } else {
            out.push(line.trim().to_string());
        }
    }
    if out.is_empty() {
        bail!("no queries to run");
    }
    Ok(out)
}

fn latency(agent: &mut Agent, qs: &[String], reps: usize, label: String) -> Result<Latency> {
    let mut times = Vec::with_capacity(qs.len() * reps);
    for _ in 0..reps {
        for q in qs {
            let t = Instant::now();
            agent.understand(q)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(Latency {
        engine: label,
        requests: times.len(),
        p50_ms: percentile(&mut times, 50.0),
        p99_ms: percentile(&mut times, 99.0),
    })
}

fn throughput(
    ctx: &Context,
    cat: &crate::settings::Catalog,
    qs: &[String],
    reps: usize,
    threads: usize,
) -> Result<Throughput> {
    let items: Vec<&String> = (0..reps).flat_map(|_| qs.iter()).collect();
    let n = items.len();
    let t = Instant::now();
    map_ordered(
        items.into_iter(),
        threads,
        || load_agent(ctx, cat, Some(1)),
        |agent: &mut Agent, q: &String| agent.understand(q).map(|_| ()),
        |r| r.map_err(anyhow::Error::from),
    )?;
    // Startup (loading each worker's model) is included: it is part of a batch.
    let secs = t.elapsed().as_secs_f64();
    Ok(Throughput {
        threads,
        requests: n,
        requests_per_s: n as f64 / secs,
    })
}

/// Runs train/bench_jax.py on the same model (`--settings-model`, else the
/// embedded one) and queries; None when the venv is absent.
fn jax_baseline(
    python: &Path,
    settings_model: Option<&Path>,
    qs: &[String],
    reps: usize,
) -> Result<Option<Latency>> {
    let script = Path::new("train/bench_jax.py");
    if !python.exists() || !script.exists() {
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("knob-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let model = match settings_model {
        Some(path) => path.to_path_buf(),
        None => {
            let copy = dir.join("knob-mu2.gguf");
            std::fs::write(&copy, EMBEDDED_MODEL)?;
            copy
        }
    };
    let list = dir.join("queries.txt");
    std::fs::write(&list, qs.join("\n"))?;
    let out = std::process::Command::new(python)
        .arg(script)
        .arg("--gguf")
        .arg(&model)
        .arg("--queries")
        .arg(&list)
        .arg("--reps")
        .arg(reps.to_string())
        .env("PYTHONPATH", "train")
        .env("JAX_PLATFORMS", "cpu")
        .output()
        .with_context(|| format!("running {}", python.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    if !out.status.success() {
        bail!(
            "the JAX baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("the JAX baseline's output")?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    Ok(Some(Latency {
        engine: v
            .get("engine")
            .and_then(|e| e.as_str())
            .unwrap_or("jax")
            .to_string(),
        requests: v.get("requests").and_then(|x| x.as_u64()).unwrap_or(0) as usize,
        p50_ms: get("p50_ms"),
        p99_ms: get("p99_ms"),
    }))
}

pub fn run(ctx: &Context, args: BenchAgentArgs) -> Result<Exit> {
    let cat = catalog()?;
    let qs = queries(args.queries.as_deref())?;
    let reps = args.reps.max(1);
    let mut agent = load_agent(ctx, &cat, Some(1))?;
    let model = agent.model_name().to_string();
    latency(&mut agent, &qs, 1, String::new())?; // warm-up
    let beam_width = agent.beam_width;
    let beam = latency(
        &mut agent,
        &qs,
        reps,
        format!("knob, beam {beam_width}, 1 thread"),
    )?;
    agent.beam_width = 1;
    let greedy = latency(&mut agent, &qs, reps, "knob, greedy, 1 thread".into())?;
    drop(agent);
    let batches = [1, 2]
        .iter()
        .map(|&t| throughput(ctx, &cat, &qs, reps, t))
        .collect::<Result<Vec<_>>>()?;
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("train/.venv/bin/python"));
    let jax = if args.no_jax {
        None
    } else {
        jax_baseline(&python, ctx.settings_model(), &qs, reps)?
    };

    let mut out = crate::output::stdout();
    if args.json {
        let v = BenchAgentJson {
            jax_over_knob_p50: jax.as_ref().map(|j| j.p50_ms / greedy.p50_ms),
            jax,
            latency: vec![beam, greedy],
            model,
            queries: qs.len(),
            reps,
            throughput: batches,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(Exit::Ok);
    }
    writeln!(out, "settings model {model}: {} queries x {reps}", qs.len())?;
    writeln!(
        out,
        "\n{:<40} {:>10} {:>10}",
        "per request (tokenize+encode+decode+validate)", "p50 ms", "p99 ms"
    )?;
    for l in [&beam, &greedy] {
        writeln!(
            out,
            "{:<40} {:>10.3} {:>10.3}",
            l.engine, l.p50_ms, l.p99_ms
        )?;
    }
    match &jax {
        Some(j) => {
            writeln!(out, "{:<40} {:>10.3} {:>10.3}", j.engine, j.p50_ms, j.p99_ms)?;
            writeln!(out, "JAX / knob (greedy, p50): {:.1}x", j.p50_ms / greedy.p50_ms)?;
        }
        None if args.no_jax => writeln!(out, "JAX baseline: not run (--no-jax)")?,
        None => writeln!(
            out,
            "JAX baseline: not run ({} or train/bench_jax.py not found; run `bash train/setup.sh` in the repository root)",
            python.display()
        )?,
    }
    writeln!(
        out,
        "\n{:<40} {:>10}",
        "batch (beam search, startup included)", "req/s"
    )?;
    for b in &batches {
        writeln!(
            out,
            "{:<40} {:>10.0}",
            format!(
                "{} thread{}",
                b.threads,
                if b.threads == 1 { "" } else { "s" }
            ),
            b.requests_per_s
        )?;
    }
    Ok(Exit::Ok)
}
