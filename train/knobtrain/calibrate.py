"""Confidence that is a probability of being right: temperature scaling and a reliability table.

The model's confidence in an answer is the probability of its whole output,
exp(sum of log softmax(logits / T) over its tokens), as the engine computes it
for the best beam. T is fitted on a held-out split of the training
distribution (never on an evaluation file) by minimising the negative
log-likelihood of the correct outputs' tokens, the classic temperature scaling
of Guo et al. 2017; it changes no argmax, so accuracy is untouched.
"""
from __future__ import annotations

import numpy as np

BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def token_nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean NLL of `targets` [N, T] (0 = padding) under logits [N, T, V] / temperature."""
    lp = _log_softmax(logits.astype(np.float64) / temperature)
    m = targets != 0
    picked = np.take_along_axis(lp, targets[..., None], -1)[..., 0]
    return float(-(picked * m).sum() / max(1, m.sum()))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """argmin_T token NLL, by a log-spaced grid then golden-section refinement on [0.05, 20]."""
    m = targets != 0  # only the real tokens matter: drop padding once, not in each of ~100 evaluations
    logits, targets = logits[m][None], targets[m][None]
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 41))
    nll = [token_nll(logits, targets, t) for t in grid]
    i = int(np.argmin(nll))
    lo, hi = np.log(grid[max(0, i - 1)]), np.log(grid[min(len(grid) - 1, i + 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if token_nll(logits, targets, np.exp(a)) < token_nll(logits, targets, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def sequence_confidence(logits: np.ndarray, tokens: np.ndarray, eos: int, temperature: float) -> np.ndarray:
    """Probability of each greedy output: tokens [N, T] up to and including the first `eos`."""
    lp = _log_softmax(logits.astype(np.float64) / temperature)
    picked = np.take_along_axis(lp, tokens[..., None], -1)[..., 0]
    # positions after the first eos do not count
    is_eos = tokens == eos
    after = np.cumsum(is_eos, 1) - is_eos > 0
    return np.exp(np.where(after, 0.0, picked).sum(1))


def reliability(conf: np.ndarray, correct: np.ndarray, bins=BINS) -> dict:
    """Confidence bins against accuracy, and the expected calibration error."""
    rows = []
    ece = 0.0
    n = len(conf)
    for lo, hi in zip(bins[:-1], bins[1:]):
        m = (conf >= lo) & ((conf < hi) if hi < 1.0 else (conf <= hi))
        k = int(m.sum())
        if k:
            acc, mc = float(correct[m].mean()), float(conf[m].mean())
            ece += k / max(1, n) * abs(acc - mc)
            rows.append({"bin": f"[{lo:.2f}, {hi:.2f}{']' if hi >= 1.0 else ')'}", "n": k,
                         "mean_confidence": round(mc, 4), "accuracy": round(acc, 4)})
        else:
            rows.append({"bin": f"[{lo:.2f}, {hi:.2f}{']' if hi >= 1.0 else ')'}", "n": 0,
                         "mean_confidence": None, "accuracy": None})
    return {"bins": rows, "ece": round(ece, 4), "n": n}


def at_threshold(conf: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    """What a confidence threshold does: how many answers are planned, and how many of those are right."""
    m = conf >= threshold
    return {"threshold": threshold, "planned": round(float(m.mean()) if len(m) else 0.0, 4),
            "right_when_planned": round(float(correct[m].mean()) if m.any() else 0.0, 4)}


def format_table(rel: dict) -> str:
    lines = ["confidence      n   mean conf  accuracy"]
    for r in rel["bins"]:
        if r["n"]:
            lines.append(f"{r['bin']:<14}{r['n']:>5}   {r['mean_confidence']:.4f}     {r['accuracy']:.4f}")
        else:
            lines.append(f"{r['bin']:<14}{0:>5}")
    lines.append(f"ECE {rel['ece']:.4f} over {rel['n']} answers")
    return "\n".join(lines)
