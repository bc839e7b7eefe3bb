//! Grammar-constrained beam search over a sequence-to-sequence decoder.
//!
//! Every hypothesis carries its position in the grammar's prefix automaton;
//! a token is only considered if its text keeps the hypothesis a prefix of a
//! valid program, and end-of-output only where a program may end. Candidates
//! are checked lazily in logit order, so a confident model costs one check
//! per beam and step.
use knob_kernels::ops;

use super::grammar::{PrefixAutomaton, PrefixState};

/// A decoder that advances several hypotheses at once.
pub trait BeamDecoder {
    /// Vocabulary size; every logits row has this many entries.
    fn vocab_size(&self) -> usize;
    /// Longest output, in tokens (the decoder's context).
    fn max_len(&self) -> usize;
    /// Starts `beams` empty hypotheses (after the query was encoded).
    fn start(&mut self, beams: usize);
    /// Feeds one token to each live hypothesis `0..tokens.len()`, returning
    /// `tokens.len()` rows of logits.
    fn step(&mut self, tokens: &[u32]) -> &[f32];
    /// Rearranges the hypotheses: new hypothesis `i` continues old `from[i]`.
    fn reorder(&mut self, from: &[usize]);
    /// The calibration temperature: logits are divided by it before the
    /// softmax, so that a hypothesis' probability is the chance it is right
    /// (docs/mu-gguf.md, "Confidence").
    fn temperature(&self) -> f32 {
        1.0
    }
}

/// Token facts the search needs, computed once per tokenizer.
#[derive(Debug, Clone)]
pub struct TokenTable {
    /// The text each token id adds to the output.
    pub text: Vec<String>,
    /// First decoder input.
    pub start: u32,
    /// End of output.
    pub eos: u32,
}

/// One finished hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Sum of the model's log-probabilities of every token, end included.
    pub logprob: f32,
}

#[derive(Debug, Clone)]
struct Live {
    text: String,
    tokens: Vec<u32>,
    logprob: f32,
    state: PrefixState,
}

/// How many candidates per hypothesis are looked at before giving up on it
/// in one step: plenty, since the grammar rarely rules out the top tokens.
const MAX_CHECKS_PER_BEAM: usize = 512;

/// Runs beam search with `width` hypotheses; returns up to `width` finished
/// hypotheses, best first. An empty result means no valid program was found.
pub fn beam_search(
    decoder: &mut dyn BeamDecoder,
    tokens: &TokenTable,
    grammar: &PrefixAutomaton,
    width: usize,
) -> Vec<Hypothesis> {
    let width = width.max(1);
    let vocab = decoder.vocab_size();
    decoder.start(1);
    let mut live = vec![Live {
        text: String::new(),
        tokens: Vec::new(),
        logprob: 0.0,
        state: grammar.start(),
    }];
    let mut finished: Vec<Hypothesis> = Vec::new();
    let mut feed = vec![tokens.start];
    let mut ranking = Ranking::default();
    let mut logp = vec![0.0f32; vocab];
    // Model loaders check that the temperature is positive; anything else
    // would reverse or void the ranking, so it counts as 1.
    let inv_temperature = match 1.0 / decoder.temperature() {
        s if s > 0.0 && s.is_finite() => s,
        _ => 1.0,
    };

    for _ in 0..decoder.max_len() {
        if live.is_empty() {
            break;
        }
        let logits = decoder.step(&feed);
        if logits.len() < live.len() * vocab {
            // The decoder could not take the step (its context is full, or it failed).
            break;
        }
        // (score, parent, token, next state)
        let mut candidates: Vec<(f32, usize, u32, Option<PrefixState>)> = Vec::new();
        for (b, hyp) in live.iter().enumerate() {
            ops::log_softmax(
                &logits[b * vocab..(b + 1) * vocab],
                inv_temperature,
                &mut logp,
            );
            // Only the best few need ordering; the rest are reached rarely.
            ranking.rank_head(&logp, width * 4);
            let mut taken = 0;
            let mut checked = 0;
            while taken < width && checked < MAX_CHECKS_PER_BEAM.min(vocab) {
                let t = ranking.token(checked);
                checked += 1;
                let score = hyp.logprob + logp[t as usize];
                if t == tokens.eos {
                    if grammar.can_end(hyp.state) && !hyp.tokens.is_empty() {
                        candidates.push((score, b, t, None));
                        taken += 1;
                    }
                    continue;
                }
                let Some(text) = tokens.text.get(t as usize) else {
                    continue;
                };
                if text.is_empty() {
                    continue;
                }
                if let Some(next) = grammar.advance(hyp.state, text) {
                    candidates.push((score, b, t, Some(next)));
                    taken += 1;
                }
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));

        let mut next_live = Vec::with_capacity(width);
        let mut from = Vec::with_capacity(width);
        feed.clear();
        for (score, parent, token, state) in candidates {
            let hyp = &live[parent];
            match state {
                None => finished.push(Hypothesis {
                    text: hyp.text.clone(),
                    tokens: hyp.tokens.clone(),
                    logprob: score,
                }),
                Some(state) if next_live.len() < width => {
                    let mut text = hyp.text.clone();
                    text.push_str(&tokens.text[token as usize]);
                    let mut toks = hyp.tokens.clone();
                    toks.push(token);
                    next_live.push(Live {
                        text,
                        tokens: toks,
                        logprob: score,
                        state,
                    });
                    from.push(parent);
                    feed.push(token);
                }
                Some(_) => {}
            }
        }
        live = next_live;
        // Scores only fall as hypotheses grow: once the worst kept finished
        // hypothesis beats every live one, nothing live can enter the list.
        finished.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
        finished.truncate(width);
        let best_live = live
            .iter()
            .map(|h| h.logprob)
            .fold(f32::NEG_INFINITY, f32::max);
        if finished.len() >= width && finished[width - 1].logprob >= best_live {
            break;
        }
        if !live.is_empty() {
            decoder.reorder(&from);
        }
    }
    finished.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
    finished.truncate(width);
    finished
}

/// The tokens of one logits row in rank order: higher log-probability
/// first, the lower id first among equals (a total order, so the search is
/// deterministic). Each token is one `u64` key, rank bits above id bits, so
/// ranking is a plain integer sort; only the head is ranked at first, the
/// rest once the search looks past it.
#[derive(Default)]
struct Ranking {
    /// One key per token ([`rank_key`]); `keys[..ranked]` in rank order.
    keys: Vec<u64>,
    ranked: usize,
}

impl Ranking {
    /// Ranks the `head` best tokens of `logp`.
    fn rank_head(&mut self, logp: &[f32], head: usize) {
        self.keys.clear();
        self.keys
            .extend(logp.iter().enumerate().map(|(t, &l)| rank_key(l, t as u32)));
        let head = head.min(self.keys.len());
        if head > 0 && head < self.keys.len() {
            self.keys.select_nth_unstable(head - 1);
        }
        self.keys[..head].sort_unstable();
        self.ranked = head;
    }

    /// The token at rank `i` (`i` below the vocabulary size).
    fn token(&mut self, i: usize) -> u32 {
        if i >= self.ranked {
            // Past the head: rank the rest once.
            self.keys[self.ranked..].sort_unstable();
            self.ranked = self.keys.len();
        }
        self.keys[i] as u32
    }
}

/// Sorts ascending in rank order: `logp` descending by `f32::total_cmp`,
/// then `token` ascending.
fn rank_key(logp: f32, token: u32) -> u64 {
    // total_cmp's integer image (negative values' magnitude bits flipped),
    // moved to unsigned order, then reversed so the highest comes first.
    let bits = logp.to_bits() as i32;
    let ordered = bits ^ ((((bits >> 31) as u32) >> 1) as i32);
    let ascending = (ordered as u32) ^ 0x8000_0000;
    (u64::from(!ascending) << 32) | u64::from(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::grammar::{GrammarCatalog, ValueKind};
    use std::collections::BTreeMap;

    /// Vocabulary of whole words, so test scripts read naturally.
    const VOCAB: &[&str] = &[
        "<s>", "</s>", "set", " a.x", " true", " false", "toggle", " ;", " b.y", " 5", "oops",
        "none",
    ];

    fn table() -> TokenTable {
        TokenTable {
            text: VOCAB.iter().map(|s| s.to_string()).collect(),
            start: 0,
            eos: 1,
        }
    }

    fn grammar() -> PrefixAutomaton {
        let mut settings = BTreeMap::new();
        settings.insert("a.x".to_string(), ValueKind::Bool);
        settings.insert("b.y".to_string(), ValueKind::Int { min: 0, max: 10 });
        PrefixAutomaton::new(&GrammarCatalog {
            settings,
            presets: vec![],
            questions: false,
        })
    }

    /// A decoder whose logits depend only on the previous token, from a table
    /// of preferences; it records the hypotheses so reorder can be checked.
    struct TableDecoder {
        prefs: Vec<Vec<(usize, f32)>>,
        rows: Vec<f32>,
        history: Vec<Vec<u32>>,
        temperature: f32,
    }

    impl TableDecoder {
        fn new(prefs: &[(&str, &[(&str, f32)])]) -> Self {
            let id = |w: &str| VOCAB.iter().position(|v| *v == w).unwrap();
            let mut table = vec![Vec::new(); VOCAB.len()];
            for (prev, next) in prefs {
                table[id(prev)] = next.iter().map(|(w, l)| (id(w), *l)).collect();
            }
            TableDecoder {
                prefs: table,
                rows: Vec::new(),
                history: Vec::new(),
                temperature: 1.0,
            }
        }
    }

    impl BeamDecoder for TableDecoder {
        fn vocab_size(&self) -> usize {
            VOCAB.len()
        }
        fn max_len(&self) -> usize {
            8
        }
        fn start(&mut self, beams: usize) {
            self.history = vec![Vec::new(); beams];
        }
        fn step(&mut self, tokens: &[u32]) -> &[f32] {
            self.history.resize(tokens.len(), Vec::new());
            self.rows = vec![-10.0; tokens.len() * VOCAB.len()];
            for (b, &t) in tokens.iter().enumerate() {
                self.history[b].push(t);
                for &(next, logit) in &self.prefs[t as usize] {
                    self.rows[b * VOCAB.len() + next] = logit;
                }
            }
            &self.rows
        }
        fn reorder(&mut self, from: &[usize]) {
            self.history = from.iter().map(|&i| self.history[i].clone()).collect();
        }
        fn temperature(&self) -> f32 {
            self.temperature
        }
    }

    /// Token ids in rank order by a comparison sort: the reference for `Ranking`.
    fn ranked(logp: &[f32]) -> Vec<u32> {
        let mut all: Vec<u32> = (0..logp.len() as u32).collect();
        all.sort_by(|&a, &b| {
            logp[b as usize]
                .total_cmp(&logp[a as usize])
                .then(a.cmp(&b))
        });
        all
    }

    #[test]
    fn the_ranking_is_by_log_probability_then_token_id() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut ranking = Ranking::default();
        for case in 0..300 {
            let vocab = 1 + (next() % 1000) as usize;
            // Few distinct values, so ties are everywhere; a masked token
            // (-inf), both zeros, NaN and extremes now and then.
            let logp: Vec<f32> = (0..vocab)
                .map(|_| match next() % 12 {
                    0 => f32::NEG_INFINITY,
                    1 => -0.0,
                    2 => 0.0,
                    3 => f32::NAN,
                    4 => f32::MAX,
                    5 => -f32::MIN_POSITIVE,
                    v => -(v as f32) * 0.5,
                })
                .collect();
            let want = ranked(&logp);
            for head in [0, 1, 4, 16, vocab / 2, vocab + 3] {
                ranking.rank_head(&logp, head);
                // The head alone, then (past it) every token.
                for (i, &w) in want.iter().enumerate() {
                    assert_eq!(ranking.token(i), w, "case {case} head {head} rank {i}");
                }
            }
        }
        // Equal log-probabilities: the lower id first, wherever they sit.
        let logp = [-1.0f32, -0.5, -1.0, -0.5, -2.0, -0.5];
        ranking.rank_head(&logp, 4);
        let order: Vec<u32> = (0..6).map(|i| ranking.token(i)).collect();
        assert_eq!(order, [1, 3, 5, 0, 2, 4]);
    }

    #[test]
    fn tied_candidates_resolve_by_token_id_every_time() {
        // Every token but the script's is at -10: the search reaches past
        // its sorted head into ties, and must pick the same hypotheses.
        let prefs: &[(&str, &[(&str, f32)])] =
            &[("<s>", &[("oops", 5.0)]), ("oops", &[("oops", 5.0)])];
        let first = beam_search(&mut TableDecoder::new(prefs), &table(), &grammar(), 3);
        assert!(!first.is_empty());
        for _ in 0..5 {
            let again = beam_search(&mut TableDecoder::new(prefs), &table(), &grammar(), 3);
            assert_eq!(again, first);
        }
        // Among tied tokens the lower id leads: " a.x" (3) before " b.y"
        // (8), " true" (4) before " false" (5).
        let texts: Vec<&str> = first.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, ["none", "toggle a.x", "set a.x true"]);
    }

    #[test]
    fn the_calibration_temperature_softens_probabilities_but_keeps_the_ranking() {
        let prefs: &[(&str, &[(&str, f32)])] = &[
            ("<s>", &[("set", 8.0)]),
            ("set", &[(" a.x", 8.0)]),
            (" a.x", &[(" true", 6.0), (" false", 4.0)]),
            (" true", &[("</s>", 8.0)]),
            (" false", &[("</s>", 8.0)]),
        ];
        let run = |t: f32| {
            let mut dec = TableDecoder::new(prefs);
            dec.temperature = t;
            beam_search(&mut dec, &table(), &grammar(), 2)
        };
        let (cold, warm) = (run(1.0), run(2.0));
        let texts = |h: &[Hypothesis]| h.iter().map(|h| h.text.clone()).collect::<Vec<_>>();
        assert_eq!(texts(&cold), texts(&warm));
        assert_eq!(cold[0].text, "set a.x true");
        // The choice between " true" and " false" alone: at T = 2 the gap of 2
        // logits becomes 1, so p(true) = 1 / (1 + e^-1) instead of 1 / (1 + e^-2).
        let p_true = |h: &[Hypothesis]| (h[0].logprob - h[1].logprob).exp();
        assert!((p_true(&cold) - 2.0f32.exp()).abs() < 0.05 * 2.0f32.exp());
        assert!((p_true(&warm) - 1.0f32.exp()).abs() < 0.05 * 1.0f32.exp());
        assert!(warm[0].logprob < cold[0].logprob);
    }

    #[test]
    fn the_most_likely_valid_program_wins_over_a_likelier_invalid_token() {
        // "oops" is the model's favourite first token but is not in the grammar.
        let mut dec = TableDecoder::new(&[
            ("<s>", &[("oops", 5.0), ("set", 3.0), ("toggle", 1.0)]),
            ("set", &[(" a.x", 4.0)]),
            (" a.x", &[(" true", 3.0), (" false", 2.0), ("</s>", 2.5)]),
            (" true", &[("</s>", 5.0)]),
            (" false", &[("</s>", 5.0)]),
            ("toggle", &[(" a.x", 4.0)]),
        ]);
        let hyps = beam_search(&mut dec, &table(), &grammar(), 3);
        let texts: Vec<_> = hyps.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts[0], "set a.x true");
        assert!(texts.contains(&"set a.x false"));
        // `toggle a.x` ends where the grammar allows; `set a.x` alone never does.
        assert!(texts.contains(&"toggle a.x"), "{texts:?}");
        assert!(!texts.contains(&"set a.x"));
        // Best first, and probabilities are proper.
        assert!(hyps.windows(2).all(|w| w[0].logprob >= w[1].logprob));
        assert!(hyps.iter().all(|h| h.logprob < 0.0));
    }

    #[test]
    fn multi_action_programs_and_numbers_decode() {
        let mut dec = TableDecoder::new(&[
            ("<s>", &[("set", 3.0)]),
            ("set", &[(" b.y", 2.0), (" a.x", 0.0)]),
            (" b.y", &[(" 5", 3.0)]),
            (" 5", &[(" ;", 2.0), ("</s>", 1.0)]),
            (" ;", &[(" b.y", 0.5), (" a.x", 0.4)]),
            (" a.x", &[(" true", 3.0)]),
            (" true", &[("</s>", 3.0)]),
        ]);
        let hyps = beam_search(&mut dec, &table(), &grammar(), 2);
        // " ;" alone is not a separator (" ; " needs its trailing space), so
        // the search must end "set b.y 5" rather than continue.
        assert_eq!(hyps[0].text, "set b.y 5");
        // The decoder saw exactly the tokens of each hypothesis it was asked to extend.
        assert!(dec.history.iter().all(|h| h[0] == 0));
    }

    #[test]
    fn an_impossible_grammar_gives_no_hypothesis() {
        let mut dec = TableDecoder::new(&[("<s>", &[("oops", 5.0)]), ("oops", &[("oops", 5.0)])]);
        // All other tokens are at -10 but still valid: the search must find them.
        let hyps = beam_search(&mut dec, &table(), &grammar(), 2);
        assert!(hyps.iter().all(|h| crate::agent::grammar::parse(
            &h.text,
            &GrammarCatalog {
                settings: [
                    ("a.x".to_string(), ValueKind::Bool),
                    ("b.y".to_string(), ValueKind::Int { min: 0, max: 10 })
                ]
                .into_iter()
                .collect(),
                presets: vec![],
                questions: false,
            }
        )
        .is_ok()));
        let empty = PrefixAutomaton::new(&GrammarCatalog::default());
        let mut dec = TableDecoder::new(&[("<s>", &[("set", 5.0)])]);
        let hyps = beam_search(&mut dec, &table(), &empty, 2);
        // Only "none" is possible in an empty catalog, and "none" is one token.
        assert!(hyps.iter().all(|h| h.text == "none"), "{hyps:?}");
    }
}
