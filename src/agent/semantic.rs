//! Semantic search: the catalog's phrases (each setting's title, synonyms and
//! examples) as sentence vectors, a request's similarity to each setting, and
//! the fusion of that ranking with BM25's.
//!
//! BM25 finds the words a setting is described with ("bluetooth", a typo of
//! it); the sentence vectors find what a request means when it shares no word
//! with the setting ("my eyes hurt from the blue light" -> night light). The
//! vectors come from the settings model's own encoder (v2's BERT, mean-pooled),
//! through the [`Embedder`] trait, so tests can use a fake one. A model
//! without a sentence encoder (v1) gives no vectors, and search stays BM25.
use std::collections::HashSet;
use std::path::Path;

use super::settings_model::{SettingsModel, SettingsModelError};
use super::vector_cache;

/// Sentence vectors for semantic search.
pub trait Embedder {
    /// The unit-length vector of `text`, or `None` when there is no sentence
    /// encoder (then search is BM25 alone).
    fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError>;

    /// What names this encoder's weights in precomputed vectors (the shipped
    /// ones, [`SHIPPED_VECTORS`]); `None`: no precomputed vectors apply.
    fn model_fingerprint(&self) -> Option<String> {
        None
    }
}

impl Embedder for SettingsModel {
    fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
        self.sentence_embedding(text)
    }

    fn model_fingerprint(&self) -> Option<String> {
        self.file_fingerprint().map(str::to_string)
    }
}

/// The catalog's phrases embedded ahead of time with the settings model
/// (`knob settings vectors --write assets/search-vectors.bin`, which
/// train/run-v2.sh runs after the export), so that the first search does not
/// embed ~2,000 phrases (7 s of CPU with v2). The file is keyed by the
/// model file's SHA-256 and its entries by exact text: with another model
/// it is ignored, and a phrase it lacks (an edited catalog, the user's own
/// presets) is embedded and cached as before. Never wrong vectors, at worst
/// the old cold cost. tests/integration/semantic_search.rs checks that it
/// matches the model and the catalog.
pub static SHIPPED_VECTORS: &[u8] = include_bytes!("../../assets/search-vectors.bin");

/// Embedded first: whether there is an encoder at all, and its fingerprint
/// for the cache (vectors of another encoder must never be reused).
const PROBE: &str = "knob: which setting does this request mean?";

/// Ranks fused (reciprocal-rank fusion's k). 60 is the value of Cormack et
/// al. (2009), which the usual hybrid-search engines keep: it lets a
/// setting that both rankings place well beat one that only one of them puts
/// first, so neither BM25's lexical accidents ("blue" -> bluetooth) nor the
/// encoder's loose neighbours win alone.
const RRF_K: f32 = 60.0;

/// A setting the request shares no word with is suggested only when its
/// closest phrase is at least this similar (cosine), and closer than every
/// [`OFF_CATALOG`] text. The off-catalog texts do the real work with the
/// fine-tuned encoder of settings model v2; this floor is the guard for an
/// encoder that does not gather chat in one region. Measured over the shipped
/// catalog: with the pretrained all-MiniLM-L6-v2, the right setting's
/// similarity to the 15 everyday requests of
/// tests/integration/semantic_search.rs is 0.59 to 1.0 and the best match of
/// chat and trivia 0.25 to 0.42; with knob-mu2 (second stage) 0.63 to 1.0
/// against 0.71 to 0.81 (the floor cannot separate those; the off-catalog
/// texts do). Re-measure for a new encoder: the test prints the similarities
/// (`cargo test --release --test integration semantic_search -- --nocapture`).
pub const MIN_SIMILARITY: f32 = 0.5;

/// Only this many of the closest settings take part in the fusion: deeper
/// ranks are noise, and each one would add a little to the fused scores.
const SEMANTIC_DEPTH: usize = 20;

/// Requests about nothing in the catalog, written for this list (none is a
/// test request): chat, trivia, greetings, and things knob cannot do. A
/// setting takes part in the semantic ranking only when the request is
/// closer to it than to all of these. The fine-tuned encoder of settings
/// model v2 gathers chat and such requests in one region, where some
/// catalog phrase always lies close by ("hello" is 0.79 from a phrase of
/// night_light.temperature, more than "I'm on a plane" is from airplane
/// mode, 0.63), so no fixed similarity floor can tell them apart; their
/// closeness to these texts can: measured with knob-mu2 (second stage),
/// 15 everyday requests are at most 0.36 from any of them, 20 chat, trivia
/// and knob-cannot requests at least 0.78.
pub const OFF_CATALOG: &[&str] = &[
    "write me a short story",
    "what does this word mean",
    "how do I cook pasta",
    "who was the first president",
    "give me a recipe for bread",
    "summarize this article",
    "compose an email to my boss",
    "what year did the war end",
    "can you help me with my homework",
    "tell me something interesting",
    "how are you today",
    "good morning",
    // Greetings and thanks, as a class: one greeting was not enough to hold
    // every greeting off the catalog with the encoder of commit 3de5aa8.
    "hi there",
    "hey",
    "good evening",
    "nice to meet you",
    "thank you very much",
    "bye for now",
    "translate this sentence",
    "solve this equation",
    "recommend a good book",
    "uninstall this program",
    "open my email",
    "close this tab",
    "download this file",
    "log me out",
    "format the disk",
    "rename this file",
    "delete this folder",
    "restart my pc now",
];

/// The catalog's phrases as vectors, for one encoder.
#[derive(Debug)]
pub struct DocVectors {
    dim: usize,
    /// The phrases' vectors, `dim` values each, row after row.
    rows: Vec<f32>,
    /// Per document, the range of its rows.
    docs: Vec<std::ops::Range<usize>>,
    /// The rows of the off-catalog texts ([`OFF_CATALOG`]).
    off_catalog: std::ops::Range<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    #[error(transparent)]
    Model(#[from] SettingsModelError),
    #[error("the sentence encoder gave {got} for {text:?}, expected {dim} finite values")]
    BadVector {
        text: String,
        got: String,
        dim: usize,
    },
}

/// What building the document vectors cost, for measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Distinct phrases.
    pub phrases: usize,
    /// Phrases found in the precomputed (shipped) vectors.
    pub shipped: usize,
    /// Phrases that were embedded (the rest came from the shipped vectors or
    /// the cache).
    pub embedded: usize,
}

impl DocVectors {
    /// The vectors of every document's `phrases`: from `shipped` (the bytes
    /// of a [`vector_cache`] file keyed by the embedder's
    /// [`Embedder::model_fingerprint`]) where they are there, else from the
    /// cache file of this encoder in `cache_dir`, else embedded (and the
    /// cache rewritten). `None` when the embedder has no sentence encoder.
    /// Shipped vectors of another model, and a missing, unreadable or
    /// corrupt cache, are ignored; only the encoder's own errors are errors.
    pub fn load_or_build(
        phrases: &[Vec<String>],
        off_catalog: &[&str],
        embedder: &mut dyn Embedder,
        shipped: &[u8],
        cache_dir: Option<&Path>,
    ) -> Result<Option<(DocVectors, BuildStats)>, SemanticError> {
        // One short text (a few ms): whether there is an encoder, its
        // dimension, and the name of its cache.
        let Some(probe) = embedder.embed(PROBE)? else {
            return Ok(None);
        };
        let dim = probe.len();
        let mut known = embedder
            .model_fingerprint()
            .and_then(|key| vector_cache::decode(shipped, &key).ok())
            .filter(|(d, _)| *d == dim)
            .map(|(_, v)| v)
            .unwrap_or_default();
        let mut stats = BuildStats::default();
        let mut seen = HashSet::new();
        let mut missing = Vec::new();
        for text in all_texts(phrases, off_catalog) {
            if seen.insert(text) {
                stats.phrases += 1;
                if known.contains_key(text) {
                    stats.shipped += 1;
                } else {
                    missing.push(text);
                }
            }
        }
        if !missing.is_empty() {
            let key = vector_cache::fingerprint(&probe);
            let path = cache_dir.map(|d| vector_cache::file_in(d, &key));
            let cached = path
                .as_deref()
                .and_then(|p| vector_cache::read(p, &key, dim).ok())
                .unwrap_or_default();
            let mut fresh = 0;
            let mut entries = Vec::with_capacity(missing.len());
            for text in &missing {
                let v = match cached.get(*text) {
                    Some(v) => v.clone(),
                    None => {
                        fresh += 1;
                        embed_as(embedder, text, dim)?
                    }
                };
                entries.push((*text, v));
            }
            stats.embedded = fresh;
            if let (Some(path), true) = (&path, fresh > 0) {
                // Only the phrases the shipped vectors lack, of today's
                // catalog: the cache does not grow with every edit. A cache
                // that cannot be written costs only time.
                let refs: Vec<(&str, &[f32])> =
                    entries.iter().map(|(t, v)| (*t, v.as_slice())).collect();
                let _ = vector_cache::write(path, &key, dim, &refs);
            }
            known.extend(entries.into_iter().map(|(t, v)| (t.to_string(), v)));
        }
        let mut rows = Vec::new();
        let mut docs = Vec::with_capacity(phrases.len());
        for doc in phrases {
            let start = rows.len() / dim.max(1);
            for text in doc {
                rows.extend_from_slice(&known[text]);
            }
            docs.push(start..rows.len() / dim.max(1));
        }
        let start = rows.len() / dim.max(1);
        for text in off_catalog {
            rows.extend_from_slice(&known[*text]);
        }
        let off_catalog = start..rows.len() / dim.max(1);
        Ok(Some((
            DocVectors {
                dim,
                rows,
                docs,
                off_catalog,
            },
            stats,
        )))
    }

    /// Every distinct phrase's vector, in first-seen order, keyed by the
    /// embedder's model fingerprint: the bytes of [`SHIPPED_VECTORS`]
    /// (`knob settings vectors --write`). `None` without a sentence encoder
    /// or a fingerprint.
    pub fn precompute(
        phrases: &[Vec<String>],
        off_catalog: &[&str],
        embedder: &mut dyn Embedder,
    ) -> Result<Option<Vec<u8>>, SemanticError> {
        let Some(key) = embedder.model_fingerprint() else {
            return Ok(None);
        };
        let Some(probe) = embedder.embed(PROBE)? else {
            return Ok(None);
        };
        let dim = probe.len();
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for text in all_texts(phrases, off_catalog) {
            if seen.insert(text) {
                entries.push((text, embed_as(embedder, text, dim)?));
            }
        }
        let refs: Vec<(&str, &[f32])> = entries.iter().map(|(t, v)| (*t, v.as_slice())).collect();
        Ok(Some(vector_cache::encode(&key, dim, &refs)))
    }

    /// Per document, the cosine similarity of its closest phrase to `query`
    /// (a unit vector; the phrases are unit vectors too, so it is a dot
    /// product), or 0 where the query is at least as close to one of the
    /// off-catalog texts (see [`OFF_CATALOG`]); 0 for a document with no
    /// phrases or a query of another size.
    pub fn similarities(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dim {
            return vec![0.0; self.docs.len()];
        }
        let closest = |range: &std::ops::Range<usize>, start: f32| {
            range
                .clone()
                .map(|r| dot(&self.rows[r * self.dim..(r + 1) * self.dim], query))
                .fold(start, f32::max)
        };
        let off_catalog = closest(&self.off_catalog, f32::NEG_INFINITY);
        self.docs
            .iter()
            .map(|range| closest(range, 0.0))
            .map(|s| if s > off_catalog { s } else { 0.0 })
            .collect()
    }
}

/// The catalog's phrases, then the off-catalog texts.
fn all_texts<'a>(
    phrases: &'a [Vec<String>],
    off_catalog: &'a [&'a str],
) -> impl Iterator<Item = &'a str> {
    phrases
        .iter()
        .flatten()
        .map(String::as_str)
        .chain(off_catalog.iter().copied())
}

/// One phrase's vector, which must exist and have `dim` values.
fn embed_as(
    embedder: &mut dyn Embedder,
    text: &str,
    dim: usize,
) -> Result<Vec<f32>, SemanticError> {
    match embedder.embed(text)? {
        Some(v) if v.len() == dim && v.iter().all(|x| x.is_finite()) => Ok(v),
        other => Err(SemanticError::BadVector {
            text: text.to_string(),
            got: other.map_or("no vector".to_string(), |v| {
                format!("{} values (finite or not)", v.len())
            }),
            dim,
        }),
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fuses BM25 scores and similarities (one of each per document) into one
/// ranking: documents with their fused score, best first, at most `limit`.
///
/// Reciprocal-rank fusion rather than a weighted sum of scores: BM25 scores
/// are unbounded and grow with the query's length, and the spread of cosine
/// similarities is the encoder's own (a fine-tuned encoder's differs from the
/// pretrained one's), so any fixed weighting would need retuning for every
/// model; ranks mean the same for both. A document enters BM25's ranking
/// when one of its words matches, and the semantic ranking when its closest
/// phrase reaches [`MIN_SIMILARITY`] (and is among the [`SEMANTIC_DEPTH`]
/// closest), so an unrelated request still finds nothing.
pub fn fuse(bm25: &[f32], similarity: &[f32], limit: usize) -> Vec<(usize, f32)> {
    let n = bm25.len().min(similarity.len());
    let mut fused = vec![0.0f32; n];
    let mut lexical: Vec<usize> = (0..n).filter(|&i| bm25[i] > 0.0).collect();
    lexical.sort_by(|&a, &b| bm25[b].total_cmp(&bm25[a]).then(a.cmp(&b)));
    let mut semantic: Vec<usize> = (0..n)
        .filter(|&i| similarity[i] >= MIN_SIMILARITY)
        .collect();
    semantic.sort_by(|&a, &b| similarity[b].total_cmp(&similarity[a]).then(a.cmp(&b)));
    semantic.truncate(SEMANTIC_DEPTH);
    for ranking in [&lexical, &semantic] {
        for (rank, &doc) in ranking.iter().enumerate() {
            fused[doc] += 1.0 / (RRF_K + 1.0 + rank as f32);
        }
    }
    let mut out: Vec<(usize, f32)> = fused
        .into_iter()
        .enumerate()
        .filter(|&(_, s)| s > 0.0)
        .collect();
    // Ties (one rank in one list each) go to the closer meaning, then to
    // the catalog's order, so results never depend on hashing.
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(similarity[b.0].total_cmp(&similarity[a.0]))
            .then(a.0.cmp(&b.0))
    });
    out.truncate(limit);
    out
}

/// A fake encoder for tests of semantic search here and in the pipeline.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A fake encoder: a bag of words hashed into a few dimensions,
    /// normalized, where some words first stand for others (the "meaning"
    /// BM25 cannot know: "melatonin" means "night light"). Words of three
    /// letters or fewer are dropped; a text with no word left gets a
    /// dimension of its own.
    pub(crate) struct FakeEmbedder {
        pub calls: usize,
    }

    const DIM: usize = 512;

    const MEANS: &[(&str, &str)] = &[
        ("melatonin", "night light"),
        ("earbuds", "bluetooth"),
        ("loudness", "volume"),
    ];

    fn slot(word: &str) -> usize {
        // FNV-1a: stable across runs and platforms.
        let h = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        (h % (DIM as u64 - 1)) as usize
    }

    impl Embedder for FakeEmbedder {
        fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
            self.calls += 1;
            let mut v = vec![0.0f32; DIM];
            let lower = text.to_lowercase();
            for word in lower.split(|c: char| !c.is_alphanumeric()) {
                let meant = MEANS.iter().find(|(w, _)| *w == word).map_or(word, |m| m.1);
                for w in meant.split(' ').filter(|w| w.len() > 3) {
                    v[slot(w)] += 1.0;
                }
            }
            if v.iter().all(|&x| x == 0.0) {
                v[DIM - 1] = 1.0;
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            Ok(Some(v.iter().map(|x| x / norm).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FakeEmbedder;
    use super::*;

    /// An encoder that is not there (v1).
    struct NoEncoder;

    impl Embedder for NoEncoder {
        fn embed(&mut self, _: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
            Ok(None)
        }
    }

    fn phrases() -> Vec<Vec<String>> {
        let doc = |p: &[&str]| p.iter().map(|s| s.to_string()).collect();
        vec![
            doc(&["Night light", "warm tint", "less blue light at night"]),
            doc(&["Volume", "make it louder"]),
            doc(&["Bluetooth radio", "wireless headphones"]),
            doc(&[]),
        ]
    }

    fn vectors(cache: Option<&Path>) -> (DocVectors, BuildStats, usize) {
        let mut e = FakeEmbedder { calls: 0 };
        let (v, stats) = DocVectors::load_or_build(&phrases(), &[], &mut e, &[], cache)
            .unwrap()
            .unwrap();
        (v, stats, e.calls)
    }

    #[test]
    fn each_document_scores_its_closest_phrase() {
        let (v, stats, calls) = vectors(None);
        assert_eq!(
            stats,
            BuildStats {
                phrases: 7,
                shipped: 0,
                embedded: 7
            }
        );
        assert_eq!(calls, 8, "the probe, then each phrase once");
        let q = FakeEmbedder { calls: 0 }
            .embed("melatonin")
            .unwrap()
            .unwrap();
        let s = v.similarities(&q);
        assert_eq!(s.len(), 4);
        assert!((s[0] - 1.0).abs() < 1e-6, "{s:?}");
        assert_eq!(&s[1..], &[0.0, 0.0, 0.0]);
        // A query vector of another size matches nothing.
        assert_eq!(v.similarities(&[1.0]), vec![0.0; 4]);
    }

    #[test]
    fn a_request_closer_to_an_off_catalog_text_than_to_a_setting_matches_nothing() {
        let off = ["write a short story about dragons"];
        let mut e = FakeEmbedder { calls: 0 };
        let (v, stats) = DocVectors::load_or_build(&phrases(), &off, &mut e, &[], None)
            .unwrap()
            .unwrap();
        assert_eq!(stats.phrases, 8, "the catalog's 7 and the off-catalog text");
        // Closer to the story than to "less blue light at night": nothing.
        let q = e.embed("write a short story about night").unwrap().unwrap();
        assert_eq!(v.similarities(&q), vec![0.0; 4]);
        // Closer to night light than to the story: as without the text.
        let q = e.embed("night light story").unwrap().unwrap();
        let s = v.similarities(&q);
        assert!(s[0] > 0.5, "{s:?}");
        let (plain, _, _) = vectors(None);
        assert_eq!(s, plain.similarities(&q));
    }

    #[test]
    fn no_sentence_encoder_means_no_vectors() {
        let got = DocVectors::load_or_build(&phrases(), &[], &mut NoEncoder, &[], None).unwrap();
        assert!(got.is_none());
    }

    #[test]
    fn the_second_build_reads_every_vector_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (cold, stats, _) = vectors(Some(dir.path()));
        assert_eq!(stats.embedded, 7);
        let (warm, stats, calls) = vectors(Some(dir.path()));
        assert_eq!(stats.embedded, 0);
        assert_eq!(calls, 1, "only the probe");
        assert_eq!(cold.rows, warm.rows);
        assert_eq!(cold.docs, warm.docs);
    }

    #[test]
    fn a_corrupt_cache_is_rebuilt_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (cold, _, _) = vectors(Some(dir.path()));
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        for garbage in [vec![], vec![0u8; 7], vec![0xff; len]] {
            std::fs::write(&file, &garbage).unwrap();
            let (rebuilt, stats, _) = vectors(Some(dir.path()));
            assert_eq!(stats.embedded, 7, "rebuilt from nothing");
            assert_eq!(rebuilt.rows, cold.rows);
            // ...and written back whole.
            assert_eq!(vectors(Some(dir.path())).1.embedded, 0);
        }
    }

    #[test]
    fn a_changed_phrase_is_embedded_alone() {
        let dir = tempfile::tempdir().unwrap();
        vectors(Some(dir.path()));
        let mut changed = phrases();
        changed[1].push("turn the sound up".into());
        let mut e = FakeEmbedder { calls: 0 };
        let (_, stats) = DocVectors::load_or_build(&changed, &[], &mut e, &[], Some(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!(
            stats,
            BuildStats {
                phrases: 8,
                shipped: 0,
                embedded: 1
            }
        );
    }

    #[test]
    fn an_unwritable_cache_directory_costs_only_time() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, b"").unwrap();
        let (_, stats, _) = vectors(Some(&blocked));
        assert_eq!(stats.embedded, 7);
    }

    /// The fake encoder under a model fingerprint, as the settings model is.
    struct Named(FakeEmbedder, &'static str);

    impl Embedder for Named {
        fn embed(&mut self, text: &str) -> Result<Option<Vec<f32>>, SettingsModelError> {
            self.0.embed(text)
        }
        fn model_fingerprint(&self) -> Option<String> {
            Some(self.1.to_string())
        }
    }

    #[test]
    fn shipped_vectors_of_the_same_model_replace_embedding_the_catalog() {
        let mut maker = Named(FakeEmbedder { calls: 0 }, "model-a");
        let shipped = DocVectors::precompute(&phrases(), &[], &mut maker)
            .unwrap()
            .unwrap();
        let (fresh, _, _) = vectors(None);
        let dir = tempfile::tempdir().unwrap();
        let mut e = Named(FakeEmbedder { calls: 0 }, "model-a");
        let (v, stats) =
            DocVectors::load_or_build(&phrases(), &[], &mut e, &shipped, Some(dir.path()))
                .unwrap()
                .unwrap();
        assert_eq!(
            stats,
            BuildStats {
                phrases: 7,
                shipped: 7,
                embedded: 0
            }
        );
        assert_eq!(e.0.calls, 1, "only the probe");
        assert_eq!(v.rows, fresh.rows);
        assert_eq!(v.docs, fresh.docs);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing to cache"
        );

        // A phrase the shipped vectors lack (the user's own preset) is
        // embedded alone, and cached.
        let mut more = phrases();
        more[3].push("my own preset".into());
        let mut e = Named(FakeEmbedder { calls: 0 }, "model-a");
        let (_, stats) = DocVectors::load_or_build(&more, &[], &mut e, &shipped, Some(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!((stats.shipped, stats.embedded), (7, 1));
        let mut e = Named(FakeEmbedder { calls: 0 }, "model-a");
        let (_, stats) = DocVectors::load_or_build(&more, &[], &mut e, &shipped, Some(dir.path()))
            .unwrap()
            .unwrap();
        assert_eq!((stats.shipped, stats.embedded), (7, 0), "from the cache");
    }

    #[test]
    fn shipped_vectors_of_another_model_or_damaged_are_never_used() {
        let mut maker = Named(FakeEmbedder { calls: 0 }, "model-a");
        let shipped = DocVectors::precompute(&phrases(), &[], &mut maker)
            .unwrap()
            .unwrap();
        let mut cut = shipped.clone();
        cut.truncate(shipped.len() - 1);
        for (model, bytes) in [("model-b", &shipped), ("model-a", &cut)] {
            let mut e = Named(FakeEmbedder { calls: 0 }, model);
            let (_, stats) = DocVectors::load_or_build(&phrases(), &[], &mut e, bytes, None)
                .unwrap()
                .unwrap();
            assert_eq!((stats.shipped, stats.embedded), (0, 7), "{model}");
        }
        // An embedder without a fingerprint (the fake alone) never uses them.
        let mut e = FakeEmbedder { calls: 0 };
        let (_, stats) = DocVectors::load_or_build(&phrases(), &[], &mut e, &shipped, None)
            .unwrap()
            .unwrap();
        assert_eq!(stats.shipped, 0);
        assert!(DocVectors::precompute(&phrases(), &[], &mut e)
            .unwrap()
            .is_none());
    }

    #[test]
    fn fusion_finds_a_document_through_meaning_alone() {
        // No BM25 match at all: the ranking is the semantic one, gated.
        let bm25 = [0.0, 0.0, 0.0, 0.0];
        let sim = [0.9, 0.2, MIN_SIMILARITY, 0.0];
        assert_eq!(
            fuse(&bm25, &sim, 5).iter().map(|h| h.0).collect::<Vec<_>>(),
            [0, 2]
        );
    }

    #[test]
    fn fusion_prefers_what_both_rankings_agree_on() {
        // BM25 puts doc 2 first by a word accident; the encoder puts it
        // nowhere. Doc 0 is second by words and first by meaning.
        let bm25 = [3.0, 0.0, 4.0, 1.0];
        let sim = [0.8, 0.1, 0.2, MIN_SIMILARITY];
        let order: Vec<usize> = fuse(&bm25, &sim, 5).iter().map(|h| h.0).collect();
        assert_eq!(order, [0, 3, 2]);
    }

    #[test]
    fn fusion_of_nothing_is_nothing() {
        assert!(fuse(&[0.0, 0.0], &[0.1, 0.3], 5).is_empty());
        assert!(fuse(&[], &[], 5).is_empty());
        assert_eq!(
            fuse(&[1.0, 2.0], &[0.0, 0.0], 1),
            [(1, 1.0 / (RRF_K + 1.0))]
        );
    }
}
