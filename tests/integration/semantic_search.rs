//! Semantic search over the shipped catalog with the real all-MiniLM-L6-v2
//! (KNOB_MINILM_GGUF), through `Agent::suggest`: everyday phrasings that
//! share few or no words with the setting they mean find it in the first
//! three suggestions. The phrasings were written for this test without
//! looking at the training phrases or the evaluation sets.
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use knob::agent::pipeline::Suggestion;
use knob::agent::semantic::Embedder;
use knob::agent::settings_model::{SettingsModel, SettingsModelError};
use knob::agent::Agent;
use knob::gguf::Gguf;
use knob::model::bert::Bert;
use knob::model::gguf_source::GgufSource;
use knob::settings::load::load_with_user_dir;
use knob::tokenizer::Tokenizer;

use crate::support::minilm_path;

/// all-MiniLM-L6-v2 as `knob embed` runs it: [CLS] text [SEP], mean-pooled,
/// unit length.
struct MiniLm {
    model: Bert,
    tokenizer: Tokenizer,
}

impl MiniLm {
    fn load(path: &Path) -> MiniLm {
        let file = Gguf::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let tokenizer = Tokenizer::from_gguf(&file).expect("tokenizer");
        let model = Bert::load(&GgufSource::new(file), 2).expect("model");
        MiniLm { model, tokenizer }
    }
}

impl Embedder for MiniLm {
    fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
        let ids = self
            .tokenizer
            .encode(text, true, true)
            .map_err(|e| SettingsModelError::Tokenizer(e.to_string()))?;
        Ok(Some(self.model.sentence_embedding(&ids, true)?))
    }
}

/// Requests and the settings any of which answers them.
const EVERYDAY: &[(&str, &[&str])] = &[
    ("my eyes hurt from the blue light", &["night_light.enabled"]),
    (
        "I can barely read the words, they're tiny",
        &[
            "text.size",
            "a11y.large_text",
            "display.scale",
            "a11y.magnifier",
        ],
    ),
    (
        "I can't find my cursor on the screen",
        &["a11y.cursor_size", "a11y.locate_pointer"],
    ),
    (
        "the laptop dies too quickly when unplugged",
        &[
            "power.power_mode",
            "preset:battery-saver",
            "power.sleep_timeout_battery",
            "display.brightness",
        ],
    ),
    (
        "I keep getting interrupted by pop-ups during meetings",
        &[
            "notifications.do_not_disturb",
            "preset:presentation",
            "preset:focus",
            "notifications.tips",
        ],
    ),
    (
        "when I hold down a letter it types it many times",
        &[
            "keyboard.repeat_enabled",
            "keyboard.repeat_delay",
            "keyboard.repeat_rate",
        ],
    ),
    (
        "my palm moves the pointer while I write",
        &["touchpad.disable_while_typing", "touchpad.enabled"],
    ),
    (
        "the display goes black while I'm reading an article",
        &[
            "power.screen_off_timeout",
            "power.dim_when_idle",
            "lock.idle_lock_timeout",
            "lock.auto_lock",
        ],
    ),
    ("I'm on a plane", &["network.airplane_mode"]),
    (
        "apps shouldn't know where I am",
        &["privacy.location_services"],
    ),
    (
        "people on my video call can't hear me",
        &[
            "sound.input_mute",
            "sound.input_volume",
            "privacy.microphone_access",
        ],
    ),
    (
        "wireless earbuds won't pair",
        &["bluetooth.enabled", "sound.output_device"],
    ),
    (
        "scrolling goes the wrong way",
        &["mouse.natural_scroll", "touchpad.natural_scroll"],
    ),
    (
        "everything on screen is too glaring and white",
        &[
            "appearance.dark_mode",
            "display.brightness",
            "night_light.enabled",
        ],
    ),
    (
        "the computer makes annoying beeps",
        &["sound.system_sounds", "a11y.toggle_keys", "sound.mute"],
    ),
];

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The v1 settings model, which has no sentence encoder (search is BM25).
fn v1_model() -> SettingsModel {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/knob-mu.gguf");
    SettingsModel::from_gguf(Gguf::open(path).expect("assets/knob-mu.gguf"), 1).expect("v1")
}

/// An agent over the shipped catalog whose search embeds with MiniLM and
/// caches in `cache`.
fn agent(cache: &Path) -> Agent {
    let catalog = load_with_user_dir(None).expect("the shipped catalog");
    let mut agent = Agent::new(&catalog, v1_model());
    agent.set_vector_cache_dir(Some(cache.to_path_buf()));
    agent.set_embedder(Box::new(MiniLm::load(&minilm_path())));
    agent
}

#[test]
fn everyday_phrasings_find_their_setting_and_unrelated_ones_no_meaning() {
    let cache = tempfile::tempdir().unwrap();
    let mut agent = agent(cache.path());
    let t0 = Instant::now();
    agent.suggest("bluetooth", 5).expect("suggest");
    report(&format!(
        "semantic search, cold (every phrase embedded, cache written): {:.0} ms",
        t0.elapsed().as_secs_f64() * 1000.0
    ));
    let mut agent = self::agent(cache.path());
    let t0 = Instant::now();
    agent.suggest("bluetooth", 5).expect("suggest");
    report(&format!(
        "semantic search, warm (vectors from the cache): {:.0} ms",
        t0.elapsed().as_secs_f64() * 1000.0
    ));

    let mut missed = Vec::new();
    for (query, wanted) in EVERYDAY {
        let t0 = Instant::now();
        let got = agent.suggest(query, 5).expect("suggest");
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let ids: Vec<&str> = got.iter().map(|s| s.setting.as_str()).collect();
        let rank = ids.iter().position(|id| wanted.contains(id));
        report(&format!("{query:?}: rank {rank:?}, {ms:.1} ms, {ids:?}"));
        if rank.is_none_or(|r| r >= 3) {
            missed.push(format!("{query:?} -> {ids:?}, wanted one of {wanted:?}"));
        }
    }
    assert!(
        missed.is_empty(),
        "not in the top 3:\n{}",
        missed.join("\n")
    );
    // The similarity floor keeps meaning out of requests about nothing in
    // the catalog: their suggestions are BM25's alone (words such as "what"
    // match catalog examples), as without a sentence encoder. (Here rather
    // than in a test of its own: each new cache embeds the whole catalog.)
    let catalog = load_with_user_dir(None).expect("the shipped catalog");
    let mut bm25_only = Agent::new(&catalog, v1_model());
    bm25_only.set_vector_cache_dir(None);
    for query in [
        "what is the capital of france",
        "write a poem about cheese",
        "who won the football match yesterday",
    ] {
        let ids = |s: Vec<Suggestion>| s.into_iter().map(|s| s.setting).collect::<Vec<_>>();
        assert_eq!(
            ids(agent.suggest(query, 5).expect("suggest")),
            ids(bm25_only.suggest(query, 5).expect("suggest")),
            "{query:?}"
        );
    }
}
