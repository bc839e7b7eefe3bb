//! Reading the golden files the training pipeline writes (train/knobtrain/
//! golden.py, golden_v2.py): token id lists and rows of logits.
use knob::model::mu::Mu;
use serde_json::Value;

/// A JSON array of token ids.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A JSON array of arrays of numbers (one row of logits per position).
pub fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// Feeds one golden case's decoder input to `model` (already encoded) a
/// token at a time and compares every step's logits with `want`, padding
/// left out (the engine never produces it: its logit must be -inf). Returns
/// the largest difference; `what` names the case in a failure.
pub fn compare_decoder(
    model: &mut Mu,
    dec: &[u32],
    want: &[Vec<f32>],
    tolerance: f32,
    what: &str,
) -> f32 {
    assert_eq!(
        want.len(),
        dec.len(),
        "{what}: one row of logits per input token"
    );
    let pad = model.config.pad_token.map(|p| p as usize);
    let mut worst = 0.0f32;
    for (pos, (&token, want)) in dec.iter().zip(want).enumerate() {
        let got = model.decode_step(token).unwrap();
        assert_eq!(got.len(), want.len(), "{what}: the decoder's vocabulary");
        if let Some(p) = pad {
            assert_eq!(got[p], f32::NEG_INFINITY, "padding is never produced");
        }
        let diff = got
            .iter()
            .zip(want)
            .enumerate()
            .filter(|(i, _)| Some(*i) != pad)
            .map(|(_, (a, b))| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            diff <= tolerance,
            "{what} position {pos}: max |logit diff| {diff} > {tolerance}"
        );
        worst = worst.max(diff);
    }
    worst
}
