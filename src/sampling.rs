//! Choosing the next token from the logits: greedy, temperature, top-k, top-p,
//! min-p and repetition penalty, seeded and reproducible.
//!
//! The filters run in llama.cpp's default order: repetition penalty, top-k,
//! top-p, min-p, then temperature and a draw. Temperature 0 (or below) is
//! greedy: the highest logit, the lowest id on ties, and no random number is
//! drawn.
//!
//! Randomness comes from our own xoshiro256** seeded through SplitMix64 (a
//! dozen lines, the published reference algorithms) rather than the `rand`
//! crate, whose `StdRng` is documented as free to change its algorithm between
//! versions: a seed given to `knob generate --seed` must reproduce the same
//! text on every build, forever.

/// Sampling settings. The neutral value of each filter turns it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// 0 = greedy; otherwise logits are divided by this before the draw
    pub temperature: f32,
    /// keep the k most likely tokens; 0 = off
    pub top_k: usize,
    /// keep the smallest set whose probability reaches p; 1.0 = off
    pub top_p: f32,
    /// drop tokens less likely than min_p times the most likely one; 0.0 = off
    pub min_p: f32,
    /// above 1, discourages tokens seen in the last `repeat_last_n` tokens
    /// (a positive logit is divided by it, a negative one multiplied, as in llama.cpp); 1.0 = off
    pub repeat_penalty: f32,
    /// how many recent tokens the repetition penalty looks at
    pub repeat_last_n: usize,
    /// PRNG seed
    pub seed: u64,
}

impl Default for SamplerConfig {
    /// llama.cpp's defaults.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }
}

/// xoshiro256** (Blackman and Vigna), seeded with SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
    /// Uniform in [0, 1), 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A sampler with its own buffers (sized once, to the vocabulary) and PRNG.
pub struct Sampler {
    pub config: SamplerConfig,
    rng: Rng,
    /// (token, logit, later probability) candidates, reused every call
    cand: Vec<(u32, f32)>,
    /// penalized copy of the logits, reused every call
    work: Vec<f32>,
}

impl Sampler {
    pub fn new(config: SamplerConfig, vocab_size: usize) -> Self {
        Self {
            rng: Rng::new(config.seed),
            config,
            cand: Vec::with_capacity(vocab_size),
            work: Vec::with_capacity(vocab_size),
        }
    }

    /// Picks the next token. `history` is every token so far (prompt and reply);
    /// the repetition penalty reads its last `repeat_last_n`.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let c = self.config;
        self.work.clear();
        self.work.extend_from_slice(logits);
        let logits = &mut self.work;

        // --- repetition penalty ----------------------------------------------
        if c.repeat_penalty != 1.0 && c.repeat_penalty > 0.0 {
            let recent = &history[history.len().saturating_sub(c.repeat_last_n)..];
            for (i, &t) in recent.iter().enumerate() {
                // each distinct token once, as llama.cpp does
                if recent[..i].contains(&t) {
                    continue;
                }
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 {
                        *l / c.repeat_penalty
                    } else {
                        *l * c.repeat_penalty
                    };
                }
            }
        }

        // --- greedy ------------------------------------------------------------
        if c.temperature <= 0.0 {
            return argmax(logits);
        }

        // --- candidates, most likely first --------------------------------------
        let cand = &mut self.cand;
        cand.clear();
        cand.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.is_nan())
                .map(|(i, &l)| (i as u32, l)),
        );
        if cand.is_empty() {
            return 0;
        }
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let k = if c.top_k > 0 {
            c.top_k.min(cand.len())
        } else {
            cand.len()
        };
        if k < cand.len() {
            cand.select_nth_unstable_by(k - 1, by_logit);
            cand.truncate(k);
        }
        cand.sort_unstable_by(by_logit);

        // probabilities at temperature 1 for top-p and min-p (llama.cpp's order)
        let max = cand[0].1;
        let mut sum = 0f64;
        for x in cand.iter_mut() {
            x.1 = (x.1 - max).exp();
            sum += x.1 as f64;
        }

        // --- top-p -------------------------------------------------------------
        if c.top_p < 1.0 {
            let mut acc = 0f64;
            let mut keep = cand.len();
            for (i, x) in cand.iter().enumerate() {
                acc += x.1 as f64 / sum;
                if acc >= c.top_p as f64 {
                    keep = i + 1;
                    break;
                }
            }
            cand.truncate(keep.max(1));
        }

        // --- min-p (relative to the most likely token, whose weight is 1) ------
        if c.min_p > 0.0 {
            let keep = cand.iter().take_while(|x| x.1 >= c.min_p).count();
            cand.truncate(keep.max(1));
        }

        // --- temperature and the draw -----------------------------------------
        // exp(l/T) relative to the max is w^(1/T) for w = exp(l - max).
        let inv_t = 1.0 / c.temperature as f64;
        let mut total = 0f64;
        for x in cand.iter_mut() {
            let w = (x.1 as f64).powf(inv_t);
            x.1 = w as f32;
            total += w;
        }
        let mut r = self.rng.next_f64() * total;
        for x in cand.iter() {
            r -= x.1 as f64;
            if r < 0.0 {
                return x.0;
            }
        }
        cand[cand.len() - 1].0
    }
}

/// Index of the largest logit; the lowest index wins ties and NaN never wins.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(temperature: f32) -> SamplerConfig {
        SamplerConfig {
            temperature,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 7,
        }
    }

    /// Draw `n` tokens and count each.
    fn histogram(c: SamplerConfig, logits: &[f32], n: usize) -> Vec<usize> {
        let mut s = Sampler::new(c, logits.len());
        let mut h = vec![0; logits.len()];
        for _ in 0..n {
            h[s.sample(logits, &[]) as usize] += 1;
        }
        h
    }

    #[test]
    fn rng_matches_reference_vectors() {
        // SplitMix64 from seed 0 gives these first outputs (reference C code).
        let mut z = 0u64;
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        assert_eq!(x ^ (x >> 31), 0xe220_a839_7b1d_cdaf);
        // and the generator is a pure function of the seed
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(42);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(42);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(43);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn greedy_takes_the_highest_logit_lowest_id_on_ties() {
        let mut s = Sampler::new(SamplerConfig::greedy(), 5);
        assert_eq!(s.sample(&[0.1, 3.0, -2.0, 3.0, f32::NAN], &[]), 1);
        assert_eq!(s.sample(&[f32::NAN, -1.0, -0.5], &[]), 2);
    }

    #[test]
    fn same_seed_same_tokens_different_seed_different_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplerConfig { seed, ..cfg(1.0) }, logits.len());
            (0..50).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn temperature_one_follows_the_softmax() {
        let logits = [0.0f32, 1.0, 2.0];
        let n = 30_000;
        let h = histogram(cfg(1.0), &logits, n);
        let z: f32 = logits.iter().map(|l| l.exp()).sum();
        for (i, &l) in logits.iter().enumerate() {
            let p = l.exp() / z;
            let got = h[i] as f32 / n as f32;
            assert!((got - p).abs() < 0.015, "token {i}: {got} vs {p}");
        }
    }

    #[test]
    fn low_temperature_sharpens_high_temperature_flattens() {
        let logits = [0.0f32, 1.0];
        let cold = histogram(cfg(0.25), &logits, 10_000);
        let hot = histogram(cfg(4.0), &logits, 10_000);
        // p(1) = 1/(1+e^-4) = 0.982 cold, 1/(1+e^-0.25) = 0.562 hot
        assert!(cold[1] > 9_700, "{cold:?}");
        assert!(hot[1] > 5_300 && hot[1] < 5_950, "{hot:?}");
    }

    #[test]
    fn top_k_keeps_only_the_k_best() {
        let logits = [5.0f32, 4.0, 3.0, 2.0, 1.0];
        let h = histogram(
            SamplerConfig {
                top_k: 2,
                ..cfg(10.0)
            },
            &logits,
            5_000,
        );
        assert_eq!(h[2..].iter().sum::<usize>(), 0, "{h:?}");
        assert!(h[0] > 0 && h[1] > 0);
        let h = histogram(
            SamplerConfig {
                top_k: 1,
                ..cfg(10.0)
            },
            &logits,
            100,
        );
        assert_eq!(h[0], 100);
    }

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_p() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (logits are log2 steps)
        let l2 = std::f32::consts::LN_2;
        let logits = [3.0 * l2, 2.0 * l2, l2, l2];
        let h = histogram(
            SamplerConfig {
                top_p: 0.7,
                ..cfg(1.0)
            },
            &logits,
            5_000,
        );
        assert_eq!(h[2] + h[3], 0, "{h:?}");
        assert!(h[1] > 1_300, "{h:?}");
        let h = histogram(
            SamplerConfig {
                top_p: 0.4,
                ..cfg(1.0)
            },
            &logits,
            500,
        );
        assert_eq!(h[0], 500);
    }

    #[test]
    fn min_p_drops_tokens_far_below_the_best() {
        // weights relative to the best: 1, 0.5, 0.04
        let logits = [0.0f32, 0.5f32.ln(), 0.04f32.ln()];
        let h = histogram(
            SamplerConfig {
                min_p: 0.05,
                ..cfg(1.0)
            },
            &logits,
            5_000,
        );
        assert_eq!(h[2], 0, "{h:?}");
        assert!(h[1] > 1_300);
        let h = histogram(
            SamplerConfig {
                min_p: 0.03,
                ..cfg(1.0)
            },
            &logits,
            20_000,
        );
        assert!(h[2] > 0, "{h:?}");
    }

    #[test]
    fn repetition_penalty_pushes_recent_tokens_down() {
        let mut s = Sampler::new(
            SamplerConfig {
                repeat_penalty: 1.5,
                ..SamplerConfig::greedy()
            },
            3,
        );
        // token 0 leads, but was just produced: 2.0/1.5 = 1.33 < 1.5
        assert_eq!(s.sample(&[2.0, 1.5, -1.0], &[0]), 1);
        // negative logits get multiplied: -1*1.5 = -1.5 < -1.2
        assert_eq!(s.sample(&[-3.0, -1.0, -1.2], &[1]), 2);
        // outside the window nothing changes
        let mut s = Sampler::new(
            SamplerConfig {
                repeat_penalty: 1.5,
                repeat_last_n: 1,
                ..SamplerConfig::greedy()
            },
            3,
        );
        assert_eq!(s.sample(&[2.0, 1.5, -1.0], &[0, 2]), 0);
    }
}
