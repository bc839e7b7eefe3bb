//! `knob batch [FILE|-]`: one JSON object per input line, in input order,
//! flushed as it goes; a summary (counts, requests/s, p50/p99 latency) on
//! stderr. A bad line gets an error object and the batch goes on.
//!
//! The model runs on many threads. With --apply, each line is resolved,
//! planned and applied in input order, after the lines before it, under the
//! journal lock: "make the text bigger" plans against the size the line
//! before it set, and its journal entry records that size as `before`.
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::time::Instant;

use anyhow::{Context as _, Result};
use knob_kernels::bench::percentile;
use serde_json::{json, Map, Value as Json};

use super::ask::{json_object, load_agent};
use super::settings_ui::{catalog, dry_run, lock_journal};
use super::Context;
use crate::agent::batch_input::{BadLine, BatchItem, BatchReader};
use crate::agent::grammar::Program;
use crate::agent::parallel::map_ordered;
use crate::agent::pipeline::{Agent, Intent};
use crate::agent::resolve::resolve;
use crate::cli::BatchArgs;
use crate::exit::Exit;
use crate::settings::apply::{self, Outcome};
use crate::settings::{plan, Catalog, Plan, Platform};

/// What one line turned into.
struct LineResult {
    json: Map<String, Json>,
    /// With --apply: the program to resolve, plan and apply in input order.
    program: Option<Program>,
    latency_ms: f64,
    outcome: &'static str,
}

pub fn run(ctx: &Context, args: BatchArgs) -> Result<Exit> {
    let catalog = catalog()?;
    let platform = ctx.platform(args.platform)?;
    let threads = args
        .threads
        .or(ctx.config.threads)
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
    map_ordered(
        items,
        threads,
        || load_agent(ctx, &catalog, Some(1)),
        |agent: &mut Agent, item| process(ctx, agent, &catalog, platform, item, args.apply),
        |mut r: LineResult| -> Result<()> {
            // The reader is gone: apply no more lines, and read no more.
            if crate::output::closed() {
                return Err(crate::output::Closed.into());
            }
            // Here, in input order, after every earlier line was applied.
            let t0 = Instant::now();
            let plan = r
                .program
                .take()
                .and_then(|program| plan_line(ctx, &mut r, &program, &catalog, platform, false));
            r.latency_ms += ms(t0);
            if let (Some(mut plan), Some(journal)) = (plan, journal.as_ref()) {
                let summary = format!("batch: {}", query_of(&r.json));
                let applied = match apply::apply(&plan, ctx.system(), Some(journal), &summary) {
                    Ok(Outcome::Applied { journal_id, .. }) => {
                        plan.applied = true;
                        json!({"applied": true, "journal_id": journal_id})
                    }
                    Ok(Outcome::NothingToDo) => json!({"applied": false}),
                    Ok(Outcome::RolledBack {
                        failed,
                        rolled_back,
                        ..
                    }) => {
                        apply_failed = true;
                        json!({"applied": false, "failed": failed, "rolled_back": rolled_back})
                    }
                    Err(e) => {
                        apply_failed = true;
                        json!({"applied": false, "error": e.to_string()})
                    }
                };
                if let Json::Object(fields) = applied {
                    r.json.extend(fields);
                }
            }
            latencies.push(r.latency_ms);
            *counts.entry(r.outcome).or_default() += 1;
            serde_json::to_writer(&mut out, &r.json)?;
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

/// Resolves and plans `program` into `r.json`; returns the plan when it can
/// be applied. With `dry`, the plan also goes through the dry run, whose
/// recorded writes `dry_run_writes` lists.
fn plan_line(
    ctx: &Context,
    r: &mut LineResult,
    program: &Program,
    catalog: &Catalog,
    platform: Platform,
    dry: bool,
) -> Option<Plan> {
    let json = &mut r.json;
    let resolved = resolve(program, catalog, platform, ctx.system());
    if !resolved.notes.is_empty() {
        json.insert("notes".into(), json!(resolved.notes));
    }
    match plan(catalog, &resolved.requests, platform, ctx.system()) {
        Ok(p) => {
            if let Ok(Json::Object(fields)) = serde_json::to_value(p.to_json()) {
                json.extend(fields);
            }
            if dry {
                // A refused plan records no writes, as in `knob ask`.
                let summary = format!("batch: {}", query_of(json));
                let writes = dry_run(&p, ctx.system(), &summary)
                    .map(|d| d.writes)
                    .unwrap_or_default();
                json.insert("dry_run_writes".into(), json!(writes));
            }
            p.refusal().is_none().then_some(p)
        }
        Err(e) => {
            json.insert("error".into(), json!(e.to_string()));
            r.outcome = "error";
            None
        }
    }
}

/// Understands one line on a worker thread. Without `apply` it also plans
/// it (reading only); with `apply` the program is left for the ordered sink.
fn process(
    ctx: &Context,
    agent: &mut Agent,
    catalog: &Catalog,
    platform: Platform,
    item: Result<BatchItem, BadLine>,
    apply: bool,
) -> LineResult {
    let t0 = Instant::now();
    let mut json = Map::new();
    let item = match item {
        Ok(item) => item,
        Err(bad) => {
            json.insert("line".into(), json!(bad.line));
            if let Some(id) = bad.id {
                json.insert("id".into(), id);
            }
            json.insert("error".into(), json!(bad.error.to_string()));
            return LineResult {
                json,
                program: None,
                latency_ms: ms(t0),
                outcome: "error",
            };
        }
    };
    json.insert("line".into(), json!(item.line));
    if let Some(id) = item.id {
        json.insert("id".into(), id);
    }
    let u = match agent.understand(&item.query) {
        Ok(u) => u,
        Err(e) => {
            json.insert("query".into(), json!(item.query));
            json.insert("error".into(), json!(e.to_string()));
            return LineResult {
                json,
                program: None,
                latency_ms: ms(t0),
                outcome: "error",
            };
        }
    };
    json.insert("platform".into(), json!(platform.name()));
    json.insert("actions".into(), json!([]));
    json.insert("applied".into(), json!(false));
    json.extend(json_object(&u.json(u.intent, false)));
    let mut r = LineResult {
        json,
        program: None,
        latency_ms: 0.0,
        outcome: u.intent.name(),
    };
    if let (Intent::Change | Intent::Preset, Some(program)) = (u.intent, u.program) {
        r.json.insert("program".into(), json!(program.to_string()));
        if apply {
            r.program = Some(program);
        } else {
            // A dry run reads only, so lines may plan in any order.
            plan_line(ctx, &mut r, &program, catalog, platform, true);
        }
    }
    r.latency_ms = ms(t0);
    r
}

/// The line's query, as its JSON holds it.
fn query_of(json: &Map<String, Json>) -> &str {
    json.get("query").and_then(Json::as_str).unwrap_or("")
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
