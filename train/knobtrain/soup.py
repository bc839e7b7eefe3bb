"""A weighted average of v2 checkpoints of one lineage (a "model soup").

    python -m knobtrain.soup --out DIR/mu2.npz A.npz:0.7 B.npz:0.3
    python -m knobtrain.soup --out DIR/mu2.npz A.npz B.npz --grid 0,0.3,0.5,0.7,1 \
        --actions actions.json --catalog catalog.json

The second form chooses B's share: for each share of the grid it fits the
temperature on the hand-written calibration requests (train/calibration, never
trained on) and keeps the share whose fitted token NLL there is lowest. No
evaluation file takes part in the choice.

Every weight of the result is sum_i w_i * weight_i. The checkpoints must share
the configuration and every parameter's name and shape; the shares must be
positive and add up to 1. Averaging only makes sense for models fine-tuned from
one starting point (a shipped model and its continuation): they lie in one basin,
and the average there keeps what both learned while the noise of each run's own
batches cancels. Unrelated models average to nonsense, and nothing here can
tell: pick the shares (or let --grid pick them) on requests none of the models
trained on.

The result carries the first checkpoint's calibration only as a placeholder:
refit the temperature (`knobtrain.recalibrate`) before exporting.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import model_v2 as V


class SoupError(ValueError):
    pass


def parse_member(arg: str) -> tuple[Path, float]:
    """'PATH:SHARE' -> (PATH, SHARE); the share is after the last ':'."""
    path, sep, share = arg.rpartition(":")
    if not sep or not path:
        raise SoupError(f"{arg}: write each checkpoint as PATH:SHARE, e.g. mu2.npz:0.5")
    try:
        w = float(share)
    except ValueError:
        raise SoupError(f"{arg}: the share {share!r} is not a number") from None
    if not w > 0:
        raise SoupError(f"{arg}: the share must be above 0")
    return Path(path), w


def average(members: list[tuple[Path, float]]) -> tuple[dict[str, np.ndarray], dict]:
    """The averaged parameters and the config file of the result."""
    total = sum(w for _, w in members)
    if abs(total - 1.0) > 1e-6:
        raise SoupError(f"the shares add up to {total:g}, not 1")
    first_meta = V.load_meta(members[0][0])
    cfg = V.ConfigV2.from_dict(first_meta).to_dict()
    out: dict[str, np.ndarray] = {}
    for path, w in members:
        other = V.ConfigV2.from_dict(V.load_meta(path)).to_dict()
        if other != cfg:
            raise SoupError(f"{path}: its configuration differs from {members[0][0]}'s")
        with np.load(path) as z:
            if out and set(z.files) != set(out):
                raise SoupError(f"{path}: its parameters differ from {members[0][0]}'s "
                                f"({sorted(set(z.files) ^ set(out))[:3]}...)")
            for name in z.files:
                a = z[name].astype(np.float64)
                if name in out and out[name].shape != a.shape:
                    raise SoupError(f"{path}: {name} is {a.shape}, not {out[name].shape}")
                out[name] = out[name] + w * a if name in out else w * a
    params = {k: v.astype(np.float32) for k, v in out.items()}
    meta = cfg | {"calibration": first_meta.get("calibration", {}),
                  "soup": [{"ckpt": str(p), "share": w} for p, w in members]}
    return params, meta


def parse_grid(text: str) -> list[float]:
    try:
        grid = [float(x) for x in text.split(",")]
    except ValueError:
        raise SoupError(f"--grid {text}: write shares as numbers separated by commas, e.g. 0,0.5,1") from None
    if not grid or any(not 0 <= g <= 1 for g in grid):
        raise SoupError(f"--grid {text}: every share must lie in [0, 1]")
    return grid


def choose(a: Path, b: Path, grid: list[float], actions: str, catalog: str, cal_dir: str,
           minilm_dir: str | None) -> tuple[float, list[tuple[float, float, float]]]:
    """B's share with the lowest fitted token NLL on the calibration requests, and
    (share, NLL, temperature) for every share of the grid."""
    from tokenizers import Tokenizer

    from . import calibrate, minilm
    from .catalog import load_catalog
    from .phrases import load_phrases
    from .train_v2 import teacher_forced_logits

    rows = load_phrases(Path(cal_dir), load_catalog(catalog))
    if not rows:
        raise SoupError(f"no calibration requests in {cal_dir}/*.jsonl")
    wp = minilm.tokenizer(minilm.model_dir(minilm_dir))
    act = Tokenizer.from_file(actions)
    cfg = V.ConfigV2.from_dict(V.load_meta(a))
    table = []
    for share in grid:
        members = [(a, 1 - share), (b, share)]
        params, _ = average([m for m in members if m[1] > 0])
        lg, y = teacher_forced_logits(cfg, params, wp, act, rows)
        t = calibrate.fit_temperature(lg, y)
        table.append((share, calibrate.token_nll(lg, y, t), t))
        print(f"share {share:g} of {b.name}: fitted token NLL {table[-1][1]:.5f} at T={t:.4f} "
              f"on {len(rows)} calibration requests", flush=True)
    best = min(table, key=lambda r: r[1])[0]
    return best, table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the averaged checkpoint (.npz; its .config.json beside it)")
    ap.add_argument("members", nargs="+", metavar="CKPT[:SHARE]",
                    help="v2 checkpoints with their shares, or two without them and --grid")
    ap.add_argument("--grid", help="shares of the second checkpoint to try, e.g. 0,0.3,0.5,0.7,1")
    ap.add_argument("--actions", help="with --grid: the decoder's actions.json")
    ap.add_argument("--catalog", help="with --grid: output of `knob settings export --json`")
    ap.add_argument("--dir", default=None, help="with --grid: calibration requests (default train/calibration)")
    ap.add_argument("--minilm", default=None, help="with --grid: for the WordPiece tokenizer")
    a = ap.parse_args(argv)
    try:
        if a.grid is not None:
            if len(a.members) != 2 or any(":" in Path(m).name for m in a.members):
                raise SoupError("--grid takes exactly two checkpoints, without shares")
            if not (a.actions and a.catalog):
                raise SoupError("--grid needs --actions and --catalog")
            from .prepare import CALIBRATION
            first, second = Path(a.members[0]), Path(a.members[1])
            share, table = choose(first, second, parse_grid(a.grid), a.actions, a.catalog,
                                  a.dir or str(CALIBRATION), a.minilm)
            members = [(first, 1 - share), (second, share)]
            members = [m for m in members if m[1] > 0]
        else:
            if len(a.members) < 2:
                raise SoupError("a soup needs at least two checkpoints")
            members = [parse_member(m) for m in a.members]
            table = None
        params, meta = average(members)  # a chosen share of 0 or 1 leaves one model, unchanged
        if table is not None:
            meta["soup_grid"] = [{"share": s, "nll_fitted": round(n, 5), "temperature": round(t, 4)}
                                 for s, n, t in table]
    except (ValueError, OSError) as e:  # SoupError, a missing file, a config that is not JSON
        print(f"soup: {e}", file=sys.stderr)
        return 2
    out = Path(a.out)
    np.savez(out, **params)
    V.save_meta(out, meta)
    print(f"wrote {out}: " + " + ".join(f"{w:g} x {p}" for p, w in members))
    return 0


if __name__ == "__main__":
    sys.exit(main())
