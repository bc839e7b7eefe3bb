//! Typo-tolerant BM25 search over the catalog, for short keyword queries
//! ("bluetooth", "mouse") and for requests the model is unsure about. It is
//! what a settings search box does: ranked suggestions, never a change.
//! With a sentence encoder, [`SearchIndex::search_hybrid`] fuses this ranking
//! with the semantic one (semantic.rs).
use std::collections::HashMap;

use super::semantic;

/// One searchable document: a setting or a preset.
#[derive(Debug, Clone)]
pub struct SearchDoc {
    /// Setting id or preset name.
    pub id: String,
    pub title: String,
    /// Text fields with their weights (title words count more than examples).
    pub fields: Vec<(String, f32)>,
    /// Short texts that each say what the document is (title, synonyms,
    /// examples), embedded one by one for semantic search.
    pub phrases: Vec<String>,
}

/// A ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub score: f32,
}

// BM25 constants, the usual defaults.
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A term matched only through a typo or a prefix counts this much.
const FUZZY_WEIGHT: f32 = 0.6;
/// Shortest query term that may match a longer word by prefix ("blue" -> "bluetooth").
const MIN_PREFIX_LEN: usize = 3;

#[derive(Debug)]
pub struct SearchIndex {
    docs: Vec<SearchDoc>,
    /// term -> (doc index, weighted term frequency)
    postings: HashMap<String, Vec<(usize, f32)>>,
    doc_len: Vec<f32>,
    avg_len: f32,
}

/// Lowercase alphanumeric words; everything else separates.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words too common in requests to tell settings apart.
fn is_stopword(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "to"
            | "of"
            | "and"
            | "or"
            | "my"
            | "is"
            | "it"
            | "in"
            | "on"
            | "off"
            | "for"
            | "me"
            | "i"
            | "can"
            | "you"
            | "please"
            | "set"
            | "turn"
            | "make"
            | "how"
            | "do"
            | "with"
            | "too"
            | "be"
            | "this"
            | "that"
            | "at"
            | "when"
    )
}

impl SearchIndex {
    pub fn new(docs: Vec<SearchDoc>) -> Self {
        let mut postings: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(docs.len());
        for (i, doc) in docs.iter().enumerate() {
            let mut tf: HashMap<String, f32> = HashMap::new();
            let mut len = 0.0;
            for (text, weight) in &doc.fields {
                for word in tokenize(text) {
                    if is_stopword(&word) {
                        continue;
                    }
                    *tf.entry(word).or_default() += weight;
                    len += weight;
                }
            }
            for (word, f) in tf {
                postings.entry(word).or_default().push((i, f));
            }
            doc_len.push(len);
        }
        let avg_len = if docs.is_empty() {
            1.0
        } else {
            doc_len.iter().sum::<f32>() / docs.len() as f32
        };
        SearchIndex {
            docs,
            postings,
            doc_len,
            avg_len: avg_len.max(1.0),
        }
    }

    /// The title of the document with this id.
    pub fn title_of(&self, id: &str) -> Option<&str> {
        self.docs
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.title.as_str())
    }

    /// Each document's phrases, in the documents' order.
    pub fn phrases(&self) -> Vec<Vec<String>> {
        self.docs.iter().map(|d| d.phrases.clone()).collect()
    }

    /// The best `limit` documents for `query`, best first; empty when nothing matches.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let scores = self.scores(query);
        let mut hits: Vec<Hit> = scores
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 0.0)
            .map(|(i, &score)| self.hit(i, score))
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(limit);
        hits
    }

    /// The best `limit` documents for `query` by BM25 and meaning together:
    /// `similarity` holds each document's similarity to the query (see
    /// [`semantic::fuse`]). A hit's score is the fused one.
    pub fn search_hybrid(&self, query: &str, similarity: &[f32], limit: usize) -> Vec<Hit> {
        semantic::fuse(&self.scores(query), similarity, limit)
            .into_iter()
            .map(|(i, score)| self.hit(i, score))
            .collect()
    }

    fn hit(&self, doc: usize, score: f32) -> Hit {
        Hit {
            id: self.docs[doc].id.clone(),
            title: self.docs[doc].title.clone(),
            score,
        }
    }

    /// Each document's BM25 score for `query`; 0 where no term matches.
    fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.docs.len()];
        let n = self.docs.len() as f32;
        for term in tokenize(query) {
            if is_stopword(&term) {
                continue;
            }
            for (word, weight) in self.expand(&term) {
                let Some(list) = self.postings.get(word) else {
                    continue;
                };
                let df = list.len() as f32;
                let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                for &(doc, tf) in list {
                    let norm = K1 * (1.0 - B + B * self.doc_len[doc] / self.avg_len);
                    scores[doc] += weight * idf * tf * (K1 + 1.0) / (tf + norm);
                }
            }
        }
        scores
    }

    /// The indexed words a query term stands for: itself, or else its
    /// near misses (one edit, two for long words) and completions.
    fn expand<'a>(&'a self, term: &str) -> Vec<(&'a str, f32)> {
        if let Some((word, _)) = self.postings.get_key_value(term) {
            return vec![(word.as_str(), 1.0)];
        }
        let max_edits = if term.chars().count() >= 8 { 2 } else { 1 };
        let term_len = term.chars().count();
        self.postings
            .keys()
            .filter(|word| {
                let wl = word.chars().count();
                (term_len >= 4
                    && wl.abs_diff(term_len) <= max_edits
                    && edit_distance(term, word) <= max_edits)
                    || (term_len >= MIN_PREFIX_LEN && word.starts_with(term))
            })
            .map(|w| (w.as_str(), FUZZY_WEIGHT))
            .collect()
    }
}

/// Damerau–Levenshtein distance (optimal string alignment), on chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, synonyms: &str, description: &str) -> SearchDoc {
        SearchDoc {
            id: id.into(),
            title: title.into(),
            fields: vec![
                (title.into(), 3.0),
                (synonyms.into(), 2.0),
                (description.into(), 1.0),
            ],
            phrases: vec![title.into()],
        }
    }

    fn index() -> SearchIndex {
        SearchIndex::new(vec![
            doc(
                "bluetooth.enabled",
                "Bluetooth",
                "bluetooth radio wireless headphones",
                "Turn the Bluetooth radio on or off.",
            ),
            doc(
                "mouse.speed",
                "Mouse speed",
                "pointer speed cursor sensitivity",
                "How fast the pointer moves with the mouse.",
            ),
            doc(
                "a11y.cursor_size",
                "Pointer size",
                "cursor size big mouse pointer",
                "Make the mouse pointer larger.",
            ),
            doc(
                "network.wifi",
                "Wi-Fi",
                "wifi wireless internet network",
                "Turn Wi-Fi on or off.",
            ),
            doc(
                "sound.volume",
                "Volume",
                "loudness speaker sound level",
                "Change the speaker volume.",
            ),
        ])
    }

    #[test]
    fn exact_keyword_ranks_its_setting_first() {
        let hits = index().search("bluetooth", 3);
        assert_eq!(hits[0].id, "bluetooth.enabled");
        let hits = index().search("mouse", 5);
        let ids: Vec<_> = hits.iter().map(|h| h.id.as_str()).collect();
        assert!(
            ids.starts_with(&["mouse.speed"]) || ids.starts_with(&["a11y.cursor_size"]),
            "{ids:?}"
        );
        assert!(ids.contains(&"mouse.speed") && ids.contains(&"a11y.cursor_size"));
        assert!(!ids.contains(&"sound.volume"));
    }

    #[test]
    fn typos_and_prefixes_still_find_the_setting() {
        assert_eq!(index().search("blutooth", 1)[0].id, "bluetooth.enabled");
        assert_eq!(index().search("volumme", 1)[0].id, "sound.volume");
        assert_eq!(index().search("blue", 1)[0].id, "bluetooth.enabled");
        assert_eq!(index().search("poitner size", 1)[0].id, "a11y.cursor_size");
    }

    #[test]
    fn unrelated_or_empty_queries_find_nothing() {
        assert!(index().search("capital of france", 5).is_empty());
        assert!(index().search("", 5).is_empty());
        assert!(index().search("the of to", 5).is_empty());
    }

    /// Each document's similarity to `query` under the fake encoder.
    fn similarities(index: &SearchIndex, query: &str) -> Vec<f32> {
        use crate::agent::semantic::{testing::FakeEmbedder, DocVectors, Embedder};
        let mut fake = FakeEmbedder { calls: 0 };
        let (vectors, _) = DocVectors::load_or_build(&index.phrases(), &[], &mut fake, &[], None)
            .unwrap()
            .unwrap();
        vectors.similarities(&fake.embed(query).unwrap().unwrap())
    }

    #[test]
    fn hybrid_search_finds_a_setting_through_meaning_alone() {
        let index = index();
        let query = "my earbuds won't pair";
        assert!(index.search(query, 5).is_empty(), "no word in common");
        let hits = index.search_hybrid(query, &similarities(&index, query), 5);
        let ids: Vec<_> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["bluetooth.enabled"]);
    }

    #[test]
    fn hybrid_search_keeps_bm25s_order_where_meaning_adds_nothing() {
        let index = index();
        for query in ["blutooth", "poitner size", "wifi network"] {
            let none = vec![0.0; 5];
            let ids = |hits: Vec<Hit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
            assert_eq!(
                ids(index.search_hybrid(query, &none, 5)),
                ids(index.search(query, 5)),
                "{query}"
            );
        }
        let query = "capital of france";
        assert!(index
            .search_hybrid(query, &similarities(&index, query), 5)
            .is_empty());
    }

    #[test]
    fn edit_distance_counts_transpositions_as_one() {
        assert_eq!(edit_distance("poitner", "pointer"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
