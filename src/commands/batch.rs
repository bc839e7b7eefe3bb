//! `knob batch [FILE|-]`: one JSON object per input line, in input order,
//! flushed as it goes; a summary (counts, requests/s, p50/p99 latency) on
//! stderr. A bad line gets an error object and the batch goes on.
//!
//! The model runs on many threads. With --apply, each line is resolved,
//! planned and applied in input order, after the lines before it, under the
//! journal lock: "make the text bigger" plans against the size the line
//! before it set, and its journal entry records that size as `before`.
//!
//! Current values are read through one [`CachedReads`] for the whole batch:
//! a GSettings schema is listed once and shared by every thread, not read
//! with a process per key and line, and an apply makes the lines after it
//! read what it wrote.
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::time::Instant;

use anyhow::{Context as _, Result};
use knob_kernels::bench::percentile;
use serde::Serialize;
use serde_json::Value as Json;

use super::ask::load_agent;
use super::settings_ui::{catalog, lock_journal};
use super::Context;
use crate::agent::batch_input::{BadLine, BatchItem, BatchReader};
use crate::agent::parallel::map_ordered;
use crate::agent::pipeline::{Agent, AgentError};
use crate::agent::respond::{Env, Execution, Response, ResponseJson};
use crate::cli::BatchArgs;
use crate::exit::Exit;
use crate::settings::apply::{self, Outcome};
use crate::settings::CachedReads;

/// What one line turned into.
struct LineResult {
    line: u64,
    id: Option<Json>,
    /// The line's request, when it could not be understood.
    query: Option<String>,
    response: Option<Response>,
    /// A bad line, or a request that could not be understood.
    error: Option<String>,
    latency_ms: f64,
    outcome: &'static str,
}

/// A line's output: its number and id, then the response's fields.
#[derive(Serialize, schemars::JsonSchema)]
pub struct LineJson<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    #[serde(flatten)]
    response: Option<ResponseJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl LineResult {
    fn json(&self, explain: bool) -> LineJson<'_> {
        LineJson {
            line: self.line,
            id: self.id.as_ref(),
            query: self.query.as_deref(),
            response: self.response.as_ref().map(|r| r.json(explain)),
            error: self.error.as_deref(),
        }
    }
}

pub fn run(ctx: &Context, args: BatchArgs) -> Result<Exit> {
    let catalog = catalog()?;
    let platform = ctx.platform();
    let threads = ctx
        .threads()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let input: Box<dyn BufRead + Send> = match args.input.as_deref() {
        None => Box::new(BufReader::new(io::stdin())),
        Some(p) if p.as_os_str() == "-" => Box::new(BufReader::new(io::stdin())),
        Some(p) => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
    };
    // A read error ends the input; it is reported after the lines before it.
    let read_error: std::sync::Mutex<Option<io::Error>> = std::sync::Mutex::new(None);
    let items = BatchReader::new(input).map_while(|r| match r {
        Ok(item) => Some(item),
        Err(e) => {
            *read_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            None
        }
    });

    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let journal = if args.apply {
        Some(ctx.journal()?)
    } else {
        None
    };
    // Held until the last line's journal write.
    let _lock = match &journal {
        Some(j) => Some(lock_journal(j, args.no_wait)?),
        None => None,
    };
    let mut out = crate::output::stdout();
    let mut apply_failed = false;
    let reads = CachedReads::new(ctx.system());
    map_ordered(
        items,
        threads,
        || load_agent(ctx, &catalog, Some(1)),
        |agent: &mut Agent, item| {
            let env = Env {
                catalog: &catalog,
                platform,
                system: &reads,
            };
            process(agent, &env, item, args.apply)
        },
        |mut r: LineResult| -> Result<()> {
            // The reader is gone: apply no more lines, and read no more.
            if crate::output::closed() {
                return Err(crate::output::Closed.into());
            }
            // Here, in input order, after every earlier line was applied.
            let t0 = Instant::now();
            if let (Some(response), Some(journal)) = (r.response.as_mut(), journal.as_ref()) {
                let env = Env {
                    catalog: &catalog,
                    platform,
                    system: &reads,
                };
                response.plan_in(&env);
                if response.error.is_some() {
                    r.outcome = "error";
                }
                let summary = format!("batch: {}", query_of(response));
                if let Some(plan) = response.plan.as_mut().filter(|p| p.refusal().is_none()) {
                    // Through the cache, which forgets what the apply changes.
                    let outcome = apply::apply(plan, &reads, Some(journal), &summary);
                    match &outcome {
                        Ok(Outcome::Applied { .. }) => plan.applied = true,
                        Ok(Outcome::NothingToDo) => {}
                        Ok(Outcome::RolledBack { .. }) | Err(_) => apply_failed = true,
                    }
                    response.execution = Some(match outcome {
                        Ok(outcome) => Execution::Applied(outcome),
                        Err(e) => Execution::Failed(e.to_string()),
                    });
                }
            }
            r.latency_ms += ms(t0);
            latencies.push(r.latency_ms);
            *counts.entry(r.outcome).or_default() += 1;
            serde_json::to_writer(&mut out, &r.json(args.explain))?;
            out.write_all(b"\n")?;
            out.flush()?;
            Ok(())
        },
    )
    .or_else(|e| match e.downcast::<crate::output::Closed>() {
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    })?;
    if let Some(e) = read_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e).context("reading the batch input");
    }
    summarize(
        &counts,
        &mut latencies,
        started.elapsed().as_secs_f64(),
        threads,
    );
    let errors = counts.get("error").copied().unwrap_or(0);
    Ok(if apply_failed {
        Exit::ApplyRefused
    } else if errors > 0 {
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// Understands one line on a worker thread, as [`understand_line`] does.
fn process(
    agent: &mut Agent,
    env: &Env,
    item: Result<BatchItem, BadLine>,
    apply: bool,
) -> LineResult {
    let t0 = Instant::now();
    let mut r = LineResult {
        line: 0,
        id: None,
        query: None,
        response: None,
        error: None,
        latency_ms: 0.0,
        outcome: "error",
    };
    let item = match item {
        Ok(item) => item,
        Err(bad) => {
            r.line = bad.line;
            r.id = bad.id;
            r.error = Some(bad.error.to_string());
            r.latency_ms = ms(t0);
            return r;
        }
    };
    r.line = item.line;
    r.id = item.id;
    match understand_line(agent, env, &item.query, apply) {
        Ok(response) => {
            r.outcome = match (&response.understanding, &response.error) {
                (_, Some(_)) | (None, _) => "error",
                (Some(u), None) => u.intent.name(),
            };
            r.response = Some(response);
        }
        Err(e) => {
            r.query = Some(item.query);
            r.error = Some(e.to_string());
        }
    }
    r.latency_ms = ms(t0);
    r
}

/// A batch line's work on a worker thread (`knob bench agent` measures the
/// same): understand `query`, and without `apply` also plan it on `env`
/// and run the plan through the dry run (reading only, so lines may plan in
/// any order). With `apply` planning is left for the ordered sink.
pub(crate) fn understand_line(
    agent: &mut Agent,
    env: &Env,
    query: &str,
    apply: bool,
) -> Result<Response, AgentError> {
    let mut response = Response::understood(agent.understand(query)?);
    response.platform = Some(env.platform);
    if !apply {
        response.plan_in(env);
        if let Some(plan) = &response.plan {
            let summary = format!("batch: {}", query_of(&response));
            // A refused plan records no writes, as in `knob ask`.
            response.execution = Some(Execution::DryRun(
                apply::dry_run(plan, env.system, &summary).map_err(|e| e.to_string()),
            ));
        }
    }
    Ok(response)
}

/// The response's query, as understood.
fn query_of(response: &Response) -> &str {
    response
        .understanding
        .as_ref()
        .map_or("", |u| u.query.as_str())
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

fn summarize(
    counts: &std::collections::BTreeMap<&'static str, usize>,
    latencies: &mut [f64],
    secs: f64,
    threads: usize,
) {
    let n = latencies.len();
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    errln!(
        "knob batch: {n} requests ({}) in {:.2} s on {threads} thread{}: {:.0} requests/s, latency p50 {:.2} ms, p99 {:.2} ms",
        if parts.is_empty() { "none".to_string() } else { parts.join(", ") },
        secs,
        if threads == 1 { "" } else { "s" },
        if secs > 0.0 { n as f64 / secs } else { 0.0 },
        percentile(latencies, 50.0),
        percentile(latencies, 99.0),
    );
}
