//! `knob ask QUERY...`: one request, from the arguments or standard input, to
//! a plan (shown, or applied with --apply), suggestions, or a chat answer.
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, Result};

use super::settings_ui::{catalog, execute, lock_for_apply};
use super::Context;
use crate::agent::pipeline::{Agent, Intent, Understanding};
use crate::agent::request::MAX_REQUEST_BYTES;
use crate::agent::respond::{ChatAnswer, Response};
use crate::agent::settings_model::SettingsModel;
use crate::agent::AgentError;
use crate::chat::ChatModel;
use crate::chat_template::Message;
use crate::cli::AskArgs;
use crate::exit::{Exit, UsageError};
use crate::gguf::Gguf;
use crate::settings::Catalog;

/// Loads the settings model (`--settings-model`, else the embedded one) with
/// the config's threshold. `threads` overrides `--threads` and the config (a
/// batch worker runs one thread each); by default the settings model runs on 1.
pub fn load_agent(ctx: &Context, catalog: &Catalog, threads: Option<usize>) -> Result<Agent> {
    let threads = threads.or(ctx.threads()).unwrap_or(1);
    Ok(agent_with(ctx, catalog, load_settings_model(ctx, threads)?))
}

/// The settings model: `--settings-model`, else the embedded one.
pub fn load_settings_model(ctx: &Context, threads: usize) -> Result<SettingsModel> {
    match ctx.settings_model() {
        Some(path) => {
            let gguf = Gguf::open(path)
                .with_context(|| format!("reading the settings model {}", path.display()))?;
            SettingsModel::from_gguf(gguf, threads)
                .with_context(|| format!("loading the settings model {}", path.display()))
        }
        None => SettingsModel::embedded(threads).context("loading the embedded settings model"),
    }
}

/// An agent over `model`, with the configured confidence threshold.
pub fn agent_with(ctx: &Context, catalog: &Catalog, model: SettingsModel) -> Agent {
    let mut agent = Agent::new(catalog, model);
    if let Some(t) = ctx.config.confidence_threshold {
        agent.threshold = t;
    }
    agent
}

/// The query from the arguments, or else from standard input (up to the
/// request limit plus one byte, so an over-long one is still reported).
fn read_query(words: &[String]) -> Result<String> {
    if !words.is_empty() {
        return Ok(words.join(" "));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(UsageError(
            "no request: give it as arguments or on standard input".to_string(),
        )
        .into());
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .context("reading the request from standard input")?;
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(UsageError(format!(
            "the request on standard input is longer than the limit of {MAX_REQUEST_BYTES} bytes"
        ))
        .into());
    }
    // Exit status 2, as for an argument that is not UTF-8 (clap's check).
    String::from_utf8(bytes).map_err(|_| {
        UsageError("the request on standard input is not valid UTF-8".to_string()).into()
    })
}

pub fn run(ctx: &Context, args: AskArgs) -> Result<Exit> {
    let query = read_query(&args.query)?;
    let catalog = catalog()?;
    let mut agent = load_agent(ctx, &catalog, None)?;
    let u = match agent.understand(&query) {
        Ok(u) => u,
        // An empty or over-long request: the user's input, not knob, is at fault.
        Err(AgentError::Request(e)) => return Err(UsageError(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    for n in &u.notices {
        errln!("knob: note: {n}");
    }
    if args.explain && !args.flags.json {
        print_explain(&u)?;
    }
    let intent = u.intent;
    let which_way = u.asks_which_way;
    let mut response = Response::understood(u);
    if response.program().is_some() {
        return plan_and_execute(ctx, &args, &catalog, response);
    }
    match intent {
        Intent::Change | Intent::Preset | Intent::Get | Intent::Search => {
            let headline = if which_way {
                "nothing planned until you say which way (see the note above); settings that match:"
            } else {
                "no clear change was understood; settings that match:"
            };
            report_unplanned(&args, &response, headline)?;
            Ok(Exit::NotUnderstood)
        }
        // A model that knows chat from the rest says `none` only for what
        // knob cannot do ("reboot"): that goes to no chat model.
        Intent::None if agent.knows_questions() => {
            report_unplanned(
                &args,
                &response,
                "knob cannot do that: it reads and changes settings, and none it knows matches. Settings that come close:",
            )?;
            Ok(Exit::NotUnderstood)
        }
        Intent::None | Intent::Chat => {
            let chat_model = ctx.chat_model();
            match chat_model {
                Some(path) => chat(&args, &mut response, &path, ctx),
                None => {
                    let headline = if intent == Intent::Chat {
                        "this is a request for a chat model, and none is loaded: pass --model FILE.gguf (or set chat_model in the config)."
                    } else {
                        "this is not about a setting knob knows. To ask a chat model, pass --model FILE.gguf (or set chat_model in the config)."
                    };
                    report_unplanned(&args, &response, headline)?;
                    Ok(Exit::NotUnderstood)
                }
            }
        }
    }
}

fn print_response(response: &Response, explain: bool) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(&response.json(explain))?);
    Ok(())
}

fn plan_and_execute(
    ctx: &Context,
    args: &AskArgs,
    catalog: &Catalog,
    mut response: Response,
) -> Result<Exit> {
    let platform = ctx.platform();
    // Before the plan reads the current values.
    let _lock = lock_for_apply(ctx, &args.flags)?;
    response.plan_in(&ctx.env(catalog, platform));
    if let Some(e) = response.error.take() {
        return Err(e.into());
    }
    let (Some(program), Some(u)) = (response.program(), response.understanding.as_ref()) else {
        return Ok(Exit::NotUnderstood);
    };
    let header = format!("understood: {program} ({:.0}% sure)", u.confidence * 100.0);
    let summary = format!("ask: {}", u.query);
    if !args.flags.json {
        // A question is answered, never planned.
        for a in &response.answers {
            outln!("{}", a.sentence());
        }
    }
    if response.plan.is_none() && response.error.is_none() && !response.answers.is_empty() {
        if args.flags.json {
            print_response(&response, args.explain)?;
        }
        return Ok(Exit::Ok);
    }
    if !args.flags.json {
        let paint = super::paint::Paint::new(ctx.style.stdout_color());
        outln!("{}", paint.bold(&header));
        for n in &response.notes {
            outln!("  note: {n}");
        }
    }
    if response.nothing_planned() {
        // Every action was relative to a value that could not be read.
        if args.flags.json {
            print_response(&response, args.explain)?;
        }
        return Ok(Exit::NotUnderstood);
    }
    execute(ctx, &mut response, &args.flags, &summary, args.explain)
}

/// Suggestions (and the n-best list with --explain) when no plan is made.
fn report_unplanned(args: &AskArgs, response: &Response, headline: &str) -> Result<()> {
    if args.flags.json {
        return print_response(response, args.explain);
    }
    let mut out = crate::output::stdout();
    let suggestions = response
        .understanding
        .as_ref()
        .map_or(&[][..], |u| u.suggestions.as_slice());
    writeln!(out, "{headline}")?;
    // A chat request is not a search: no settings to look at.
    if response.intent() == Some(Intent::Chat) {
        return Ok(());
    }
    if suggestions.is_empty() {
        writeln!(
            out,
            "  (nothing in the catalog matches; `knob settings list` shows every setting)"
        )?;
    }
    for s in suggestions {
        writeln!(out, "  {:<34} {}", s.setting, s.title)?;
    }
    Ok(())
}

fn print_explain(u: &Understanding) -> Result<()> {
    let mut out = crate::output::stdout();
    writeln!(out, "n-best ({} hypotheses):", u.candidates.len())?;
    for c in &u.candidates {
        writeln!(out, "  {:>6.2}%  {}", c.probability * 100.0, c.program)?;
    }
    writeln!(
        out,
        "intent {} · encode {:.2} ms · decode {:.2} ms · {} tokens",
        u.intent.name(),
        u.timing.encode_ms,
        u.timing.decode_ms,
        u.timing.tokens
    )?;
    Ok(())
}

fn chat(
    args: &AskArgs,
    response: &mut Response,
    path: &std::path::Path,
    ctx: &Context,
) -> Result<Exit> {
    let threads = ctx
        .threads()
        .unwrap_or_else(super::generate::default_threads);
    let mut model = ChatModel::load(path, threads, ctx.kv())?;
    let cancel = AtomicBool::new(false);
    let json = args.flags.json;
    let mut writer = super::generate::PieceWriter::new(json, &cancel);
    let query = response
        .understanding
        .as_ref()
        .map_or(String::new(), |u| u.query.clone());
    let g = model.reply(&[Message::new("user", &query)], &cancel, &mut |piece, _| {
        writer.write(piece)
    });
    let g = g?;
    if json {
        response.chat = Some(ChatAnswer {
            answer: g.text,
            chat_model: model.name.clone(),
            stats: g.stats,
        });
        print_response(response, args.explain)?;
    } else {
        outln!();
        errln!(
            "[{}: {} tokens, {:.1} tokens/s]",
            model.name,
            g.stats.generated_tokens,
            g.stats.decode_tokens_per_sec()
        );
    }
    Ok(Exit::Ok)
}
