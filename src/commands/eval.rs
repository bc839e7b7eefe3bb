//! `knob eval FILE`: exact-action accuracy of the settings model on a JSONL
//! file of {"query": ..., "expect": [actions]}, a per-setting summary and the
//! failures. The model's best valid program is compared, whatever its
//! confidence; the report also says how many answers fell under the threshold,
//! how many reversed an expected action, and how many of those knob would
//! still plan (the rest fall under the threshold or the polarity guard).
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use serde::Serialize;
use serde_json::Value as Json;

use super::ask::{agent_with, load_agent};
use super::settings_ui::catalog;
use super::Context;
use crate::agent::grammar::{self, GrammarCatalog, Program};
use crate::agent::parallel::map_ordered;
use crate::agent::pipeline::Agent;
use crate::agent::polarity;
use crate::agent::settings_model::SettingsModel;
use crate::cli::EvalArgs;
use crate::exit::Exit;
use crate::gguf::Gguf;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Failure {
    line: usize,
    query: String,
    expected: String,
    got: String,
    confidence: f32,
}

#[derive(Debug, Default, Clone, Serialize, schemars::JsonSchema)]
pub struct PerSetting {
    total: usize,
    correct: usize,
    /// Wrong answers given for this setting's requests, by how often.
    confused_with: BTreeMap<String, usize>,
}

/// `knob eval --json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    file: String,
    /// The model scored: "embedded", or the --settings-model path.
    model: String,
    total: usize,
    correct: usize,
    accuracy: f64,
    below_threshold: usize,
    threshold: f32,
    /// Answers that reverse an expected action: the right setting, the
    /// opposite value or direction (`polarity::reverses`).
    reversed: usize,
    /// Of those, the ones knob would plan: at or above the threshold and
    /// not held back by the polarity guard.
    reversed_planned: usize,
    /// Answers the polarity guard turned into a question (right or wrong).
    held_back_by_polarity_guard: usize,
    per_setting: BTreeMap<String, PerSetting>,
    /// How each candidate threshold would sort answers (for choosing it).
    calibration: Vec<Calibration>,
    /// Whether confidence is a probability of being right: answers binned
    /// by confidence, each bin's accuracy beside its mean confidence.
    reliability: Vec<ReliabilityBin>,
    /// Expected calibration error: the answer-weighted mean of
    /// |accuracy - mean confidence| over the bins (0 is perfect).
    expected_calibration_error: f64,
    failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReliabilityBin {
    /// Confidence range [low, high); the last bin includes 1.
    low: f32,
    high: f32,
    answers: usize,
    /// Mean confidence of the bin's answers (0 when empty).
    mean_confidence: f64,
    /// Fraction of the bin's answers that were right (0 when empty).
    accuracy: f64,
}

/// Bins of width 0.1 over (confidence, correct) pairs, and the expected
/// calibration error.
fn reliability(scored: &[(f32, bool)]) -> (Vec<ReliabilityBin>, f64) {
    const BINS: usize = 10;
    let mut bins: Vec<ReliabilityBin> = (0..BINS)
        .map(|i| ReliabilityBin {
            low: i as f32 / BINS as f32,
            high: (i + 1) as f32 / BINS as f32,
            answers: 0,
            mean_confidence: 0.0,
            accuracy: 0.0,
        })
        .collect();
    for &(c, ok) in scored {
        let i = ((c.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1);
        let b = &mut bins[i];
        b.answers += 1;
        b.mean_confidence += f64::from(c);
        b.accuracy += f64::from(u8::from(ok));
    }
    let mut ece = 0.0;
    for b in bins.iter_mut().filter(|b| b.answers > 0) {
        b.mean_confidence /= b.answers as f64;
        b.accuracy /= b.answers as f64;
        ece += b.answers as f64 * (b.accuracy - b.mean_confidence).abs();
    }
    (bins, ece / scored.len().max(1) as f64)
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Calibration {
    threshold: f32,
    /// Answers at or above the threshold (planned), as a fraction of all.
    planned: f64,
    /// Accuracy among the planned answers.
    planned_accuracy: f64,
    /// Wrong answers kept from becoming plans, as a fraction of all wrong ones.
    wrong_caught: f64,
}

/// Threshold sweep over (confidence, correct) pairs.
fn calibrate(scored: &[(f32, bool)]) -> Vec<Calibration> {
    let wrong = scored.iter().filter(|(_, ok)| !ok).count().max(1) as f64;
    (1..20)
        .map(|i| {
            let t = i as f32 * 0.05;
            let planned: Vec<_> = scored.iter().filter(|(c, _)| *c >= t).collect();
            let right = planned.iter().filter(|(_, ok)| *ok).count();
            let caught = scored.iter().filter(|(c, ok)| !ok && *c < t).count();
            Calibration {
                threshold: t,
                planned: planned.len() as f64 / scored.len().max(1) as f64,
                planned_accuracy: right as f64 / planned.len().max(1) as f64,
                wrong_caught: caught as f64 / wrong,
            }
        })
        .collect()
}

/// A program in canonical text, with actions sorted so order does not count.
fn canonical(p: &Program) -> String {
    match p {
        Program::None => "none".into(),
        Program::Chat => "chat".into(),
        Program::Actions(actions) => {
            let mut parts: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
            parts.sort();
            parts.join(grammar::SEPARATOR)
        }
    }
}

/// The expected program; `expect` may be a list of actions or one string.
fn expected(v: &Json, g: &GrammarCatalog) -> Result<Program> {
    let text = match v {
        Json::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .ok_or_else(|| anyhow!("\"expect\" items must be strings"))
            })
            .collect::<Result<Vec<_>>>()?
            .join(grammar::SEPARATOR),
        Json::String(s) => s.clone(),
        _ => return Err(anyhow!("\"expect\" must be a list of actions")),
    };
    grammar::parse(&text, g).map_err(|e| anyhow!("bad expected program '{text}': {e}"))
}

/// Settings a program is about (for the per-setting summary).
fn settings_of(p: &Program) -> Vec<String> {
    match p {
        Program::None => vec!["none".into()],
        Program::Chat => vec!["chat".into()],
        Program::Actions(actions) => actions.iter().map(grammar::Action::target).collect(),
    }
}

pub fn run(ctx: &Context, args: EvalArgs) -> Result<Exit> {
    let catalog = catalog()?;
    let report = evaluate(ctx, &catalog, &args.file, ctx.settings_model())?;
    print_report(&report, &args)
}

impl Report {
    /// Exact-action accuracy (0 for an empty file).
    pub fn accuracy(&self) -> f64 {
        self.accuracy
    }
    /// Requests scored.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// Scores the settings model (`settings_model`, or the embedded one) on
/// `file`, as `knob eval` does; `knob bench arch` reports the same numbers.
pub(crate) fn evaluate(
    ctx: &Context,
    catalog: &crate::settings::Catalog,
    path: &Path,
    settings_model: Option<&Path>,
) -> Result<Report> {
    let g = crate::agent::grammar::grammar_catalog(catalog);
    let threshold = ctx
        .config
        .confidence_threshold
        .unwrap_or(crate::agent::pipeline::DEFAULT_CONFIDENCE_THRESHOLD);
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: bad JSON", path.display(), i + 1))?;
        let query = v
            .get("query")
            .and_then(Json::as_str)
            .ok_or_else(|| anyhow!("{}:{}: missing \"query\"", path.display(), i + 1))?
            .to_string();
        let want = expected(v.get("expect").unwrap_or(&Json::Null), &g)
            .with_context(|| format!("{}:{}", path.display(), i + 1))?;
        cases.push((i + 1, query, want));
    }
    let threads = ctx
        .threads()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut report = Report {
        file: path.display().to_string(),
        model: settings_model.map_or_else(|| "embedded".to_string(), |p| p.display().to_string()),
        total: 0,
        correct: 0,
        accuracy: 0.0,
        below_threshold: 0,
        threshold,
        reversed: 0,
        reversed_planned: 0,
        held_back_by_polarity_guard: 0,
        per_setting: BTreeMap::new(),
        calibration: Vec::new(),
        reliability: Vec::new(),
        expected_calibration_error: 0.0,
        failures: Vec::new(),
    };
    let mut scored = Vec::new();
    map_ordered(
        cases.into_iter(),
        threads,
        || match settings_model {
            Some(path) => {
                let gguf = Gguf::open(path)
                    .with_context(|| format!("reading the settings model {}", path.display()))?;
                let model = SettingsModel::from_gguf(gguf, 1)
                    .with_context(|| format!("loading the settings model {}", path.display()))?;
                Ok(agent_with(ctx, catalog, model))
            }
            None => load_agent(ctx, catalog, Some(1)),
        },
        |agent: &mut Agent, (line, query, want): (usize, String, Program)| {
            let got = agent.understand(&query).ok();
            (line, query, want, got)
        },
        |(line, query, want, got)| -> Result<()> {
            let (got_program, confidence, held_back) = match &got {
                Some(u) => (
                    u.candidates
                        .iter()
                        .find_map(|c| grammar::parse(&c.program, &g).ok()),
                    u.confidence,
                    u.asks_which_way,
                ),
                None => (None, 0.0, false),
            };
            let ok = got_program.as_ref().map(canonical) == Some(canonical(&want));
            report.total += 1;
            report.correct += usize::from(ok);
            scored.push((confidence, ok));
            report.below_threshold += usize::from(confidence < threshold);
            report.held_back_by_polarity_guard += usize::from(held_back);
            let reversed = !ok
                && got_program
                    .as_ref()
                    .is_some_and(|p| polarity::reverses(&want, p));
            report.reversed += usize::from(reversed);
            report.reversed_planned +=
                usize::from(reversed && confidence >= threshold && !held_back);
            for s in settings_of(&want) {
                let e = report.per_setting.entry(s).or_default();
                e.total += 1;
                if ok {
                    e.correct += 1;
                } else {
                    let wrong = got_program
                        .as_ref()
                        .map_or("(nothing)".to_string(), |p| p.to_string());
                    *e.confused_with.entry(wrong).or_default() += 1;
                }
            }
            if !ok {
                report.failures.push(Failure {
                    line,
                    query,
                    expected: want.to_string(),
                    got: got_program.map_or("(no valid program)".to_string(), |p| p.to_string()),
                    confidence,
                });
            }
            Ok(())
        },
    )?;
    report.calibration = calibrate(&scored);
    (report.reliability, report.expected_calibration_error) = reliability(&scored);
    report.accuracy = if report.total == 0 {
        0.0
    } else {
        report.correct as f64 / report.total as f64
    };
    Ok(report)
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn print_report(report: &Report, args: &EvalArgs) -> Result<Exit> {
    let mut out = crate::output::stdout();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{}: {}/{} exact ({:.2}%); {} answers under the confidence threshold {}",
        report.file,
        report.correct,
        report.total,
        report.accuracy * 100.0,
        report.below_threshold,
        report.threshold
    )?;
    writeln!(
        out,
        "reversed (right setting, opposite value or direction): {} ({:.2}%), {} of them planned ({:.2}%); {} answers held back by the polarity guard",
        report.reversed,
        percent(report.reversed, report.total),
        report.reversed_planned,
        percent(report.reversed_planned, report.total),
        report.held_back_by_polarity_guard
    )?;
    writeln!(
        out,
        "\nthreshold  planned  accuracy of planned  wrong answers caught"
    )?;
    for c in report
        .calibration
        .iter()
        .filter(|c| (c.threshold * 20.0).round() as i32 % 2 == 0)
    {
        let mark = if (c.threshold - report.threshold).abs() < 1e-6 {
            "  <- in use"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:>5.2}    {:>6.1}%  {:>18.1}%  {:>19.1}%{mark}",
            c.threshold,
            c.planned * 100.0,
            c.planned_accuracy * 100.0,
            c.wrong_caught * 100.0
        )?;
    }
    writeln!(
        out,
        "\nreliability (is confidence the chance of being right?): expected calibration error {:.3}",
        report.expected_calibration_error
    )?;
    writeln!(out, "confidence  answers  mean confidence  accuracy")?;
    for b in report.reliability.iter().filter(|b| b.answers > 0) {
        writeln!(
            out,
            "  {:.1}-{:.1}  {:>7}  {:>14.1}%  {:>7.1}%",
            b.low,
            b.high,
            b.answers,
            b.mean_confidence * 100.0,
            b.accuracy * 100.0
        )?;
    }
    let mut worst: Vec<(&String, &PerSetting)> = report
        .per_setting
        .iter()
        .filter(|(_, s)| s.correct < s.total)
        .collect();
    worst.sort_by(|a, b| {
        let ra = a.1.correct as f64 / a.1.total as f64;
        let rb = b.1.correct as f64 / b.1.total as f64;
        ra.total_cmp(&rb).then(b.1.total.cmp(&a.1.total))
    });
    if !worst.is_empty() {
        writeln!(
            out,
            "\nsettings with misses (correct/total, most common wrong answer):"
        )?;
        for (id, s) in worst.iter().take(args.show) {
            let top = s
                .confused_with
                .iter()
                .max_by_key(|(_, n)| **n)
                .map_or(String::new(), |(p, n)| format!("{p} ×{n}"));
            writeln!(out, "  {:<36} {:>3}/{:<3} {top}", id, s.correct, s.total)?;
        }
    }
    if !report.failures.is_empty() {
        writeln!(
            out,
            "\nfailures (first {}):",
            args.show.min(report.failures.len())
        )?;
        for f in report.failures.iter().take(args.show) {
            writeln!(
                out,
                "  {}: {:?}\n      expected {}\n      got      {} ({:.0}%)",
                f.line,
                f.query,
                f.expected,
                f.got,
                f.confidence * 100.0
            )?;
        }
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_bins_answers_by_confidence_and_measures_the_gap() {
        let scored = [
            (0.95, true),
            (0.99, true),
            (1.0, false), // confidence 1 falls in the last bin
            (0.55, true),
            (0.52, false),
            (0.05, false),
        ];
        let (bins, ece) = reliability(&scored);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins.iter().map(|b| b.answers).sum::<usize>(), 6);
        let top = &bins[9];
        assert_eq!(top.answers, 3);
        assert!((top.accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!((top.mean_confidence - (0.95 + 0.99 + 1.0) / 3.0).abs() < 1e-6);
        assert_eq!((bins[5].answers, bins[5].accuracy), (2, 0.5));
        assert_eq!((bins[0].answers, bins[0].accuracy), (1, 0.0));
        assert_eq!(bins[3].answers, 0);
        // ECE by hand: (3 |2/3 - 0.98| + 2 |0.5 - 0.535| + 1 |0 - 0.05|) / 6
        let want = (3.0 * (2.0f64 / 3.0 - 0.98).abs() + 2.0 * 0.035 + 0.05) / 6.0;
        assert!((ece - want).abs() < 1e-6, "{ece} vs {want}");
    }

    #[test]
    fn a_perfectly_calibrated_model_has_no_calibration_error() {
        // In the 0.8 bin, 4 of 5 right at confidence 0.8.
        let scored = [
            (0.8, true),
            (0.8, true),
            (0.8, true),
            (0.8, true),
            (0.8, false),
        ];
        let (_, ece) = reliability(&scored);
        assert!(ece < 1e-6);
    }
}
