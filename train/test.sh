#!/usr/bin/env bash
# The training pipeline's tests: the Python suite, a smoke run of the whole
# pipeline (data, tokenizer, a few training steps, export, golden logits), and
# the Rust golden test of the mu forward pass against that fresh smoke model.
#
#   KNOB_BIN   knob binary the pipeline uses (default: target/release/knob)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash train/setup.sh
export KNOB_BIN="${KNOB_BIN:-$root/target/release/knob}"
[ -x "$KNOB_BIN" ] || cargo build --release --locked --bin knob

echo "== train: pytest"
JAX_PLATFORMS=cpu PYTHONPATH="$root/train" train/.venv/bin/python -m pytest -q train/tests

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "== train: smoke run into $out"
KNOB_TRAIN_OUT="$out" bash train/run.sh --smoke

echo "== train: golden test of the Rust mu engine against the fresh smoke model"
KNOB_MU_GOLDEN_DIR="$out" cargo test --release --locked --test integration mu_golden::
