//! From a request to an understanding: clean it, encode it once, beam-search
//! the action grammar, and decide what kind of answer it gets.
//!
//! | case | intent |
//! | --- | --- |
//! | the best program is `none` | `none` (the caller may hand it to a chat model) |
//! | a short keyword query ("bluetooth") | `search` |
//! | the best program's probability is under the threshold | `search` |
//! | its mirror image (a boolean flipped, `dec` for `inc`) is close behind | `search`, asking which way |
//! | only presets | `preset` |
//! | otherwise | `change` |
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::beam::{beam_search, BeamDecoder, Hypothesis};
use super::grammar::{self, Action, GrammarCatalog, PrefixAutomaton, Program};
// Where callers outside the grammar have always found it.
use super::grammar::grammar_catalog;
use super::keyword::KeywordRule;
use super::polarity;
use super::provenance::{unsaid_value, UnsaidValue};
use super::request::{self, RequestError};
use super::search::{SearchDoc, SearchIndex};
use super::semantic::{BuildStats, DocVectors, Embedder, SemanticError};
use super::settings_model::{SettingsModel, SettingsModelError, MAX_BEAMS};
use crate::settings::Catalog;

/// Below this probability the best program is shown as a suggestion, not a
/// plan. The lowest of 0.5-0.8 at which, on the held-out phrases, 97% of
/// plans are right, 85% of answers are plans and batch gets 88% (docs/agent.md).
pub const DEFAULT_CONFIDENCE_THRESHOLD: f32 = 0.8;
/// Hypotheses kept by beam search.
pub const DEFAULT_BEAM_WIDTH: usize = 4;
/// Suggestions shown for a search.
const MAX_SUGGESTIONS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Change,
    Preset,
    Search,
    /// A question about current values: read them, plan nothing.
    Get,
    Chat,
    None,
}

impl Intent {
    pub fn name(self) -> &'static str {
        match self {
            Intent::Change => "change",
            Intent::Preset => "preset",
            Intent::Search => "search",
            Intent::Get => "get",
            Intent::Chat => "chat",
            Intent::None => "none",
        }
    }
}

/// One hypothesis of the n-best list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Candidate {
    pub program: String,
    pub probability: f32,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Suggestion {
    /// A setting id, or `preset:NAME`.
    pub setting: String,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Timing {
    pub total_ms: f64,
    pub encode_ms: f64,
    pub decode_ms: f64,
    /// Decoder tokens of the best hypothesis, end included.
    pub tokens: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Understanding {
    /// The request after cleaning.
    pub query: String,
    pub intent: Intent,
    /// The best program, parsed (change and preset intents only).
    #[serde(skip)]
    pub program: Option<Program>,
    /// Probability of the best program.
    pub confidence: f32,
    pub candidates: Vec<Candidate>,
    pub suggestions: Vec<Suggestion>,
    /// Things the user should know: the query was cut, control characters.
    pub notices: Vec<String>,
    /// The polarity guard held the best program back and asks which way.
    #[serde(skip)]
    pub asks_which_way: bool,
    pub timing: Timing,
}

/// The understanding as `--json` shows it: `knob ask`'s object and each
/// `knob batch` line carry these fields, typed here once rather than built
/// key by key in each command.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UnderstandingJson<'a> {
    pub query: &'a str,
    pub intent: Intent,
    pub confidence: f32,
    pub suggestions: &'a [Suggestion],
    pub timing: &'a Timing,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notices: &'a [String],
    /// The n-best list, with `--explain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<&'a [Candidate]>,
}

impl Understanding {
    /// The `--json` view. `intent` is the one reported (a chat answer to a
    /// request of no intent reports `chat`).
    pub fn json(&self, intent: Intent, explain: bool) -> UnderstandingJson<'_> {
        UnderstandingJson {
            query: &self.query,
            intent,
            confidence: self.confidence,
            suggestions: &self.suggestions,
            timing: &self.timing,
            notices: &self.notices,
            candidates: explain.then_some(self.candidates.as_slice()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Model(#[from] SettingsModelError),
    #[error("semantic search: {0}")]
    Semantic(#[from] SemanticError),
}

/// Semantic search's state: the catalog's vectors are made (or read from
/// the cache) the first time a search needs them, not at start-up.
enum Semantic {
    NotBuilt,
    /// The model has no sentence encoder (v1): BM25 alone.
    Unavailable,
    Ready(DocVectors, BuildStats),
}

pub struct Agent {
    model: SettingsModel,
    grammar: GrammarCatalog,
    automaton: PrefixAutomaton,
    search: SearchIndex,
    semantic: Semantic,
    /// Where the catalog's vectors are cached; `None`: not cached.
    vector_cache_dir: Option<PathBuf>,
    /// Makes the sentence vectors instead of the model (tests).
    embedder: Option<Box<dyn Embedder + Send>>,
    keywords: KeywordRule,
    /// The user's home directory, for `~` in a request's paths.
    home: Option<String>,
    pub threshold: f32,
    /// The share of the probability a program needs against its mirror
    /// image (`polarity`) to be planned.
    pub polarity_margin: f32,
    pub beam_width: usize,
}

/// The search index over settings and presets.
pub fn search_index(catalog: &Catalog) -> SearchIndex {
    let mut docs: Vec<SearchDoc> = catalog
        .settings()
        .iter()
        .map(|s| SearchDoc {
            id: s.id.clone(),
            title: s.title.clone(),
            fields: vec![
                (s.title.clone(), 3.0),
                (s.id.replace(['.', '_'], " "), 2.0),
                (s.synonyms.join(" . "), 2.0),
                (s.description.clone(), 1.0),
                (s.examples.join(" . "), 0.5),
            ],
            phrases: phrases(&s.title, &s.synonyms, &s.examples),
        })
        .collect();
    docs.extend(catalog.presets().iter().map(|p| SearchDoc {
        id: format!("preset:{}", p.name),
        title: p.title.clone(),
        fields: vec![
            (
                format!("{} preset {}", p.title, p.name.replace('-', " ")),
                3.0,
            ),
            (p.synonyms.join(" . "), 2.0),
            (p.description.clone(), 1.0),
        ],
        phrases: phrases(&p.title, &p.synonyms, &p.examples),
    }));
    SearchIndex::new(docs)
}

/// What semantic search embeds of a setting or preset: its title, each
/// synonym and each example, one vector each (a request is compared with
/// the closest one).
fn phrases(title: &str, synonyms: &[String], examples: &[String]) -> Vec<String> {
    std::iter::once(title)
        .chain(synonyms.iter().map(String::as_str))
        .chain(examples.iter().map(String::as_str))
        .map(str::to_string)
        .collect()
}

impl Agent {
    pub fn new(catalog: &Catalog, model: SettingsModel) -> Agent {
        let mut grammar = grammar_catalog(catalog);
        grammar.questions = model.questions;
        let automaton = PrefixAutomaton::new(&grammar);
        Agent {
            model,
            grammar,
            automaton,
            search: search_index(catalog),
            semantic: Semantic::NotBuilt,
            vector_cache_dir: crate::settings::paths::cache_dir().map(|d| d.join("search-vectors")),
            embedder: None,
            keywords: KeywordRule::new(catalog),
            home: directories::BaseDirs::new()
                .and_then(|d| d.home_dir().to_str().map(str::to_string)),
            threshold: DEFAULT_CONFIDENCE_THRESHOLD,
            polarity_margin: polarity::DEFAULT_POLARITY_MARGIN,
            beam_width: DEFAULT_BEAM_WIDTH,
        }
    }

    pub fn model_name(&self) -> &str {
        &self.model.name
    }

    /// Whether the model tells questions (`get`) and chat (`chat`) from
    /// requests knob cannot do (`none`); an older model says `none` for all.
    pub fn knows_questions(&self) -> bool {
        self.grammar.questions
    }

    pub fn grammar(&self) -> &GrammarCatalog {
        &self.grammar
    }

    /// Caches the catalog's sentence vectors in `dir` (`None`: nowhere)
    /// instead of the user's cache directory.
    pub fn set_vector_cache_dir(&mut self, dir: Option<PathBuf>) {
        self.vector_cache_dir = dir;
        self.semantic = Semantic::NotBuilt;
    }

    /// Makes semantic search's vectors with `embedder` instead of the
    /// settings model's encoder (tests, and other encoders).
    pub fn set_embedder(&mut self, embedder: Box<dyn Embedder + Send>) {
        self.embedder = Some(embedder);
        self.semantic = Semantic::NotBuilt;
    }

    /// Ranked catalog entries for a free-text query: BM25 fused with
    /// semantic similarity when the model has a sentence encoder, BM25
    /// alone otherwise, and for a keyword query ("bluetooth", "dark mode"):
    /// its words only name settings, so they are the best evidence, while
    /// meaning adds the neighbours of its word pieces ("blue ##tooth" is
    /// close to "blue light": night light).
    pub fn suggest(&mut self, query: &str, limit: usize) -> Result<Vec<Suggestion>, AgentError> {
        let similarity = if self.keywords.is_keyword(query) {
            None
        } else {
            self.similarities(query)?
        };
        let hits = match similarity {
            Some(similarity) => self.search.search_hybrid(query, &similarity, limit),
            None => self.search.search(query, limit),
        };
        Ok(hits
            .into_iter()
            .map(|h| Suggestion {
                setting: h.id,
                title: h.title,
                score: h.score,
            })
            .collect())
    }

    /// Where semantic search's catalog vectors came from, once a search has
    /// needed them; `None` before, and without a sentence encoder.
    pub fn search_vector_stats(&self) -> Option<BuildStats> {
        match &self.semantic {
            Semantic::Ready(_, stats) => Some(*stats),
            _ => None,
        }
    }

    /// Each search document's similarity to `query`; `None` without a
    /// sentence encoder. Builds the documents' vectors on first use.
    fn similarities(&mut self, query: &str) -> Result<Option<Vec<f32>>, AgentError> {
        let embedder: &mut dyn Embedder = match self.embedder.as_mut() {
            Some(e) => e.as_mut(),
            None => &mut self.model,
        };
        if let Semantic::NotBuilt = self.semantic {
            let built = DocVectors::load_or_build(
                &self.search.phrases(),
                super::semantic::OFF_CATALOG,
                embedder,
                super::semantic::SHIPPED_VECTORS,
                self.vector_cache_dir.as_deref(),
            )?;
            self.semantic = match built {
                Some((vectors, stats)) => Semantic::Ready(vectors, stats),
                None => Semantic::Unavailable,
            };
        }
        let Semantic::Ready(vectors, _) = &self.semantic else {
            return Ok(None);
        };
        Ok(embedder.embed(query)?.map(|q| vectors.similarities(&q)))
    }

    /// Understands one request. Never reads or changes a setting.
    pub fn understand(&mut self, raw: &str) -> Result<Understanding, AgentError> {
        let t0 = Instant::now();
        let clean = request::clean(raw)?;
        let mut notices = Vec::new();
        if clean.had_control_chars {
            notices.push("control characters in the request were replaced by spaces".to_string());
        }
        let (ids, cut) = self.model.encode_query(&clean.text)?;
        if cut {
            notices.push(format!(
                "the request was cut to its first {} tokens",
                ids.len()
            ));
        }
        let mut timing = Timing::default();
        let mut hyps = Vec::new();
        if !ids.is_empty() {
            self.model.encode(&ids)?;
            let t1 = Instant::now();
            timing.encode_ms = ms(t1 - t0);
            let width = self.beam_width.clamp(1, MAX_BEAMS);
            let (mut decoder, tokens) = self.model.decoder();
            hyps = beam_search(
                &mut decoder as &mut dyn BeamDecoder,
                tokens,
                &self.automaton,
                width,
            );
            if let Some(e) = decoder.failed.take() {
                return Err(SettingsModelError::Model(e).into());
            }
            timing.decode_ms = ms(t1.elapsed());
        }
        let merged = merge_equal_programs(&hyps, &self.grammar);
        let mut candidates = Vec::new();
        let mut best: Option<Program> = None;
        let mut confidence = 0.0;
        // The other parsed programs, for the polarity guard.
        let mut others: Vec<(Program, f32)> = Vec::new();
        for m in merged {
            match (&best, m.parsed) {
                (None, Some(p)) => {
                    best = Some(p);
                    confidence = m.probability;
                    timing.tokens = m.tokens;
                }
                (Some(_), Some(p)) => others.push((p, m.probability)),
                _ => {}
            }
            candidates.push(Candidate {
                program: m.text,
                probability: m.probability,
            });
        }

        let keyword = self.keywords.is_keyword(&clean.text);
        let (intent, program) = match best {
            None => (Intent::Search, None),
            Some(Program::None) if confidence >= self.threshold => (Intent::None, None),
            Some(Program::Chat) if confidence >= self.threshold => (Intent::Chat, None),
            Some(_) if keyword || confidence < self.threshold => (Intent::Search, None),
            Some(Program::Actions(actions)) => {
                let only = |f: fn(&Action) -> bool| actions.iter().all(f);
                let intent = if only(|a| matches!(a, Action::Preset { .. })) {
                    Intent::Preset
                } else if only(|a| matches!(a, Action::Get { .. })) {
                    Intent::Get
                } else {
                    Intent::Change
                };
                (intent, Some(Program::Actions(actions)))
            }
            Some(Program::None | Program::Chat) => (Intent::Search, None),
        };
        // A string value the user never said is not planned (provenance.rs).
        let unsaid = program
            .as_ref()
            .and_then(|p| unsaid_value(p, &clean.text, self.home.as_deref()));
        let (intent, program) = match unsaid {
            Some(u) => {
                notices.push(self.unsaid_notice(&u));
                (Intent::Search, None)
            }
            None => (intent, program),
        };
        // Its mirror image close behind: ask which way rather than act.
        let doubt = match (&intent, &program) {
            (Intent::Change, Some(Program::Actions(actions))) => {
                polarity::doubt(actions, confidence, others.iter().map(|(p, q)| (p, *q)))
                    .filter(|d| d.share < self.polarity_margin)
            }
            _ => None,
        };
        let asks_which_way = doubt.is_some();
        let (intent, program) = match doubt {
            Some(d) => {
                notices.push(polarity::question(
                    &d,
                    &self.search_title(d.action.setting().unwrap_or_default()),
                ));
                (Intent::Search, None)
            }
            None => (intent, program),
        };
        let suggestions = match intent {
            // A chat request gets an answer, never settings to look at.
            Intent::Change | Intent::Preset | Intent::Get | Intent::Chat => Vec::new(),
            _ => self.suggestions_for(&clean.text, &candidates)?,
        };
        timing.total_ms = ms(t0.elapsed());
        Ok(Understanding {
            query: clean.text,
            intent,
            program,
            confidence,
            candidates,
            suggestions,
            notices,
            asks_which_way,
            timing,
        })
    }

    /// Search results, with the settings the model was considering first.
    fn suggestions_for(
        &mut self,
        query: &str,
        candidates: &[Candidate],
    ) -> Result<Vec<Suggestion>, AgentError> {
        let mut out: Vec<Suggestion> = Vec::new();
        for c in candidates {
            let Ok(Program::Actions(actions)) = grammar::parse(&c.program, &self.grammar) else {
                continue;
            };
            for a in actions {
                let id = a.target();
                if c.probability >= 0.05 && !out.iter().any(|s| s.setting == id) {
                    let title = self.search_title(&id);
                    out.push(Suggestion {
                        setting: id,
                        title,
                        score: c.probability,
                    });
                }
            }
        }
        for s in self.suggest(query, MAX_SUGGESTIONS)? {
            if !out.iter().any(|o| o.setting == s.setting) {
                out.push(s);
            }
        }
        out.truncate(MAX_SUGGESTIONS);
        Ok(out)
    }

    fn unsaid_notice(&self, u: &UnsaidValue) -> String {
        format!(
            "not planned: the model proposed the {} '{}' ({}), which is not in your request; write the value as you want it set",
            self.search_title(&u.setting).to_lowercase(),
            u.value,
            u.setting
        )
    }

    fn search_title(&self, id: &str) -> String {
        self.search.title_of(id).unwrap_or(id).to_string()
    }
}

/// Drops repeated identical actions, keeping the first.
/// Keeps the first action on each setting or preset. The same action twice
/// means it once. A later, different action on the same setting ("set x false
/// ; set x true") contradicts the first; no request means that, and the small
/// decoder writes such a tail when it fails to stop, so the tail goes.
fn first_action_per_setting(p: Program) -> Program {
    match p {
        Program::Actions(actions) => {
            let mut seen = std::collections::HashSet::new();
            let mut out: Vec<Action> = Vec::with_capacity(actions.len());
            for a in actions {
                if seen.insert(a.target()) {
                    out.push(a);
                }
            }
            Program::Actions(out)
        }
        none => none,
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One distinct program of the n-best list.
struct MergedHypothesis {
    /// The canonical program, or the raw text where it does not parse.
    text: String,
    parsed: Option<Program>,
    probability: f32,
    /// Output tokens of its likeliest spelling, end included.
    tokens: usize,
}

/// The n-best list as distinct programs, likeliest first.
///
/// Beam search only yields well-formed programs, but values can still be out
/// of range (numbers are open-ended): those keep their text and no parse. One
/// program can come out of several token sequences ("true" or "t"+"rue"), or
/// differ only in an action that `first_action_per_setting` drops; its
/// probability is the sum over them.
fn merge_equal_programs(hyps: &[Hypothesis], catalog: &GrammarCatalog) -> Vec<MergedHypothesis> {
    let mut merged: Vec<MergedHypothesis> = Vec::new();
    for h in hyps {
        let parsed = grammar::parse(&h.text, catalog)
            .map(first_action_per_setting)
            .ok();
        let text = parsed
            .as_ref()
            .map_or_else(|| h.text.trim().to_string(), |p| p.to_string());
        let probability = h.logprob.exp();
        match merged.iter_mut().find(|m| m.text == text) {
            Some(m) => m.probability += probability,
            None => merged.push(MergedHypothesis {
                text,
                parsed,
                probability,
                tokens: h.tokens.len() + 1,
            }),
        }
    }
    merged.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_keeps_the_first_action_on_each_setting() {
        let catalog = crate::settings::load_catalog().unwrap();
        let g = grammar_catalog(&catalog);
        let first =
            |text: &str| first_action_per_setting(grammar::parse(text, &g).unwrap()).to_string();
        assert_eq!(
            first("set touchpad.tap_and_drag false ; set touchpad.tap_and_drag true"),
            "set touchpad.tap_and_drag false"
        );
        assert_eq!(
            first("set sound.volume 20 ; set appearance.dark_mode true ; inc sound.volume ; set sound.volume 20"),
            "set sound.volume 20 ; set appearance.dark_mode true"
        );
        assert_eq!(
            first("preset night ; set appearance.dark_mode true ; preset night"),
            "preset night ; set appearance.dark_mode true"
        );
        assert_eq!(first("none"), "none");
    }

    /// The guard sits in `understand` too. "turn off bluetooth" has its
    /// mirror image in the n-best list at a tiny probability: planned at the
    /// shipped margin, held back with a question when the margin asks for
    /// more than the best program's share.
    #[test]
    fn a_program_whose_mirror_image_is_close_behind_becomes_a_question() {
        let catalog = crate::settings::load_catalog().unwrap();
        let model = SettingsModel::embedded(1).expect("the embedded model loads");
        let mut agent = Agent::new(&catalog, model);
        let u = agent.understand("turn off bluetooth").unwrap();
        assert_eq!(u.intent, Intent::Change);
        assert!(u
            .candidates
            .iter()
            .any(|c| c.program == "set bluetooth.enabled true"));
        agent.polarity_margin = 1.0;
        let u = agent.understand("turn off bluetooth").unwrap();
        assert_eq!(u.intent, Intent::Search);
        assert!(u.program.is_none());
        assert!(
            u.notices.iter().any(|n| n.starts_with(
                "not planned: knob cannot tell whether you want bluetooth radio on or off ("
            ) && n.ends_with("% off); say which")),
            "{:?}",
            u.notices
        );
    }

    /// The check sits in `understand`, which ask, batch and the TUI's
    /// assistant all call: none of them gets a plan with the model's value.
    #[test]
    fn understand_turns_an_unsaid_string_value_into_suggestions_with_a_reason() {
        let catalog = crate::settings::load_catalog().unwrap();
        let model = SettingsModel::embedded(1).expect("the embedded model loads");
        let mut agent = Agent::new(&catalog, model);
        // Whatever the model's confidence: the check must stop the value even
        // from a program that would otherwise become a plan.
        agent.threshold = 0.0;
        let u = agent.understand("set timezone to Europe/Zurich").unwrap();
        assert!(
            u.candidates[0].program.starts_with("set time.timezone")
                && !u.candidates[0].program.contains("Europe/Zurich"),
            "the test needs the model to write a time zone that was not asked for: {:?}",
            u.candidates
        );
        assert_eq!(u.intent, Intent::Search, "{u:?}");
        assert!(u.program.is_none());
        assert!(
            u.notices.iter().any(
                |n| n.contains("(time.timezone)") && n.contains("which is not in your request")
            ),
            "{:?}",
            u.notices
        );
        assert_eq!(u.suggestions[0].setting, "time.timezone");
        let u = agent
            .understand("Use Noto Sans 11 as the interface font")
            .unwrap();
        assert_eq!(u.intent, Intent::Change, "{u:?}");
        assert!(u.notices.is_empty(), "{:?}", u.notices);
    }

    /// Counts the calls of the fake encoder it wraps.
    struct Counting {
        fake: crate::agent::semantic::testing::FakeEmbedder,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Embedder for Counting {
        fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.fake.embed(text)
        }
    }

    /// An agent over the shipped catalog whose search embeds with the fake
    /// encoder and caches in `cache`; the counter counts its calls.
    fn agent_with_fake_encoder(
        cache: &std::path::Path,
    ) -> (Agent, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let catalog = crate::settings::load::load_with_user_dir(None).unwrap();
        let mut agent = Agent::new(&catalog, v1_model());
        let calls = std::sync::Arc::default();
        agent.set_vector_cache_dir(Some(cache.to_path_buf()));
        agent.set_embedder(Box::new(Counting {
            fake: crate::agent::semantic::testing::FakeEmbedder { calls: 0 },
            calls: std::sync::Arc::clone(&calls),
        }));
        (agent, calls)
    }

    fn ids(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|s| s.setting.as_str()).collect()
    }

    /// The v1 model (no sentence encoder), from its file in assets/.
    fn v1_model() -> SettingsModel {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/knob-mu.gguf");
        SettingsModel::from_gguf(crate::gguf::Gguf::open(path).unwrap(), 1).unwrap()
    }

    #[test]
    fn without_a_sentence_encoder_search_is_bm25_as_before() {
        let catalog = crate::settings::load::load_with_user_dir(None).unwrap();
        let mut agent = Agent::new(&catalog, v1_model());
        let cache = tempfile::tempdir().unwrap();
        agent.set_vector_cache_dir(Some(cache.path().to_path_buf()));
        let index = search_index(&catalog);
        for query in [
            "bluetooth",
            "blutooth",
            "my eyes hurt from the blue light",
            "capital of france",
        ] {
            let got = agent.suggest(query, 5).unwrap();
            let want = index.search(query, 5);
            assert_eq!(
                ids(&got),
                want.iter().map(|h| h.id.as_str()).collect::<Vec<_>>()
            );
            assert_eq!(
                got.iter().map(|s| s.score).collect::<Vec<_>>(),
                want.iter().map(|h| h.score).collect::<Vec<_>>()
            );
        }
        assert_eq!(
            std::fs::read_dir(cache.path()).unwrap().count(),
            0,
            "nothing cached"
        );
    }

    #[test]
    fn with_a_sentence_encoder_a_request_finds_a_setting_it_shares_no_word_with() {
        let cache = tempfile::tempdir().unwrap();
        let (mut agent, _) = agent_with_fake_encoder(cache.path());
        // "melatonin" is in no catalog text; to the fake encoder it means
        // "night light".
        let query = "melatonin";
        assert!(search_index(&catalog()).search(query, 5).is_empty());
        let got = agent.suggest(query, 5).unwrap();
        assert_eq!(ids(&got)[0], "night_light.enabled", "{:?}", ids(&got));
    }

    fn catalog() -> Catalog {
        crate::settings::load::load_with_user_dir(None).unwrap()
    }

    #[test]
    fn the_catalogs_vectors_are_made_once_then_read_from_the_cache() {
        let cache = tempfile::tempdir().unwrap();
        let (mut agent, calls) = agent_with_fake_encoder(cache.path());
        let load = |c: &std::sync::Arc<std::sync::atomic::AtomicUsize>| {
            c.load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(load(&calls), 0, "nothing is embedded before a search");
        let first = agent.suggest("melatonin", 5).unwrap();
        let cold = load(&calls);
        assert!(cold > 100, "the catalog's phrases: {cold}");
        // (A query that is itself a catalog phrase would come from the cache.)
        agent.suggest("zebra crossing", 5).unwrap();
        assert_eq!(load(&calls), cold + 1, "only the query");

        // A new process: the probe and the query, the rest from the cache.
        let (mut agent, calls) = agent_with_fake_encoder(cache.path());
        assert_eq!(ids(&agent.suggest("melatonin", 5).unwrap()), ids(&first));
        assert_eq!(load(&calls), 2);
    }

    #[test]
    fn a_keyword_query_is_ranked_by_its_words_alone() {
        let cache = tempfile::tempdir().unwrap();
        let (mut agent, calls) = agent_with_fake_encoder(cache.path());
        let index = search_index(&catalog());
        for query in ["bluetooth", "blutooth", "dark mode", "night light"] {
            let got = agent.suggest(query, 5).unwrap();
            let want = index.search(query, 5);
            assert_eq!(
                ids(&got),
                want.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
                "{query}"
            );
            assert_eq!(
                got.iter().map(|s| s.score).collect::<Vec<_>>(),
                want.iter().map(|h| h.score).collect::<Vec<_>>(),
                "{query}: BM25's scores, not fused ones"
            );
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "nothing embedded"
        );
    }

    /// ask, batch and the TUI's assistant get their suggestions from
    /// `understand`: with an encoder, its search is the hybrid one.
    #[test]
    fn understand_searches_with_the_sentence_encoder() {
        let cache = tempfile::tempdir().unwrap();
        let (mut agent, calls) = agent_with_fake_encoder(cache.path());
        // Every answer is under the threshold, so every request is a search.
        agent.threshold = 2.0;
        let u = agent.understand("melatonin").unwrap();
        assert_eq!(u.intent, Intent::Search);
        assert!(calls.load(std::sync::atomic::Ordering::Relaxed) > 100);
        assert_eq!(
            std::fs::read_dir(cache.path()).unwrap().count(),
            1,
            "cached"
        );
        assert!(
            u.suggestions
                .iter()
                .any(|s| s.setting == "night_light.enabled"),
            "{:?}",
            u.suggestions
        );
    }

    #[test]
    fn spellings_of_one_program_add_up_and_can_overtake_another() {
        let catalog = crate::settings::load_catalog().unwrap();
        let g = grammar_catalog(&catalog);
        let hyp = |text: &str, p: f32, n: usize| Hypothesis {
            text: text.to_string(),
            tokens: vec![0; n],
            logprob: p.ln(),
        };
        let merged = merge_equal_programs(
            &[
                hyp("set bluetooth.enabled false", 0.40, 4),
                hyp("set bluetooth.enabled true", 0.30, 4),
                hyp("set bluetooth.enabled true", 0.25, 5),
                hyp("set sound.volume 900", 0.05, 4),
            ],
            &g,
        );
        let got: Vec<(&str, f32)> = merged
            .iter()
            .map(|m| (m.text.as_str(), m.probability))
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "set bluetooth.enabled true");
        assert!((got[0].1 - 0.55).abs() < 1e-5, "{got:?}");
        assert_eq!(
            merged[0].tokens, 5,
            "the likeliest spelling: 4 tokens and the end"
        );
        assert_eq!(got[1].0, "set bluetooth.enabled false");
        // out of range: kept as text, never chosen as a program
        assert_eq!(got[2].0, "set sound.volume 900");
        assert!(merged[2].parsed.is_none());
    }
}
