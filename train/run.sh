#!/usr/bin/env bash
# Reproduce knob's settings model: data, tokenizer, training, export, evaluation.
#
#   bash train/run.sh           full run; writes assets/knob-mu.gguf and train/out/
#   bash train/run.sh --smoke   small slice, few steps (CI); writes the smoke GGUFs
#                               (Q8_0 and F32), tokenizer and golden.json
#   --out DIR                   output directory (overrides KNOB_TRAIN_OUT)
#
# Environment:
#   KNOB_TRAIN_OUT     output directory (default train/out, or train/out-smoke with --smoke)
#   KNOB_CATALOG_JSON  catalog JSON to use instead of `knob settings export --json`
#   KNOB_TRAIN_STEPS   override the number of training steps
#   KNOB_TRAIN_MINUTES wall-clock budget for training (the schedule follows elapsed time; 0 = steps only)
#   KNOB_BIN           knob binary for the export, label checks and `knob eval` (default: cargo build, target/debug/knob)
set -euo pipefail
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
smoke=0
out_flag=""
while [ $# -gt 0 ]; do
    a="$1"; shift
    case "$a" in
        --smoke) smoke=1 ;;
        --out) out_flag="${1:?--out needs a directory}"; shift ;;
        --out=*) out_flag="${a#--out=}" ;;
        -h|--help) sed -n '2,16p' "$self"; exit 0 ;;
        *) echo "run.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done
if [ -n "$out_flag" ]; then out="$out_flag"
elif [ "$smoke" = 1 ]; then out="${KNOB_TRAIN_OUT:-train/out-smoke}"; else out="${KNOB_TRAIN_OUT:-train/out}"; fi
mkdir -p "$out"
bash train/setup.sh
py="$root/train/.venv/bin/python"
export PYTHONPATH="$root/train${PYTHONPATH:+:$PYTHONPATH}"
export JAX_PLATFORMS=cpu

knob_bin() {
    if [ -n "${KNOB_BIN:-}" ]; then echo "$KNOB_BIN"; return; fi
    cargo build -q --bin knob >&2
    echo "$root/target/debug/knob"
}

# knobtrain.grammar checks every label with `knob settings check-program`.
KNOB_BIN="$(knob_bin)"
export KNOB_BIN

echo "== catalog"
if [ -n "${KNOB_CATALOG_JSON:-}" ]; then
    cp "$KNOB_CATALOG_JSON" "$out/catalog.json"
else
    "$KNOB_BIN" settings export --json > "$out/catalog.json"
fi

if [ "$smoke" = 1 ]; then
    steps="${KNOB_TRAIN_STEPS:-40}"
    echo "== data + tokenizer (smoke slice)"
    "$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$out/data" --per-setting 40 \
        --eval-per-setting 4 --vocab 800 --max-settings 24
    echo "== train ($steps steps)"
    "$py" -m knobtrain.train --data "$out/data" --out "$out/mu-smoke.npz" --steps "$steps" --batch 32 \
        --eval-every "$steps" --eval-n 64 --d-model 64 --d-ff 128 --n-enc 2 --n-dec 1 --n-head 4 --n-head-kv 2 \
        --log "$out/train-log.jsonl"
    echo "== export"
    "$py" -m knobtrain.export --ckpt "$out/mu-smoke.npz" --tokenizer "$out/data/tokenizer.json" --out "$out/mu-smoke.gguf" --name knob-mu-smoke
    "$py" -m knobtrain.export --ckpt "$out/mu-smoke.npz" --tokenizer "$out/data/tokenizer.json" --out "$out/mu-smoke-f32.gguf" --name knob-mu-smoke-f32 --f32
    cp "$out/data/tokenizer.json" "$out/tokenizer.json"
    echo "== golden"
    "$py" -m knobtrain.golden --ckpt "$out/mu-smoke.npz" --tokenizer "$out/data/tokenizer.json" --out "$out/golden.json"
    echo "== evaluate"
    "$py" -m knobtrain.evaluate --ckpt "$out/mu-smoke.npz" --tokenizer "$out/data/tokenizer.json" \
        --data "$out/data/eval.jsonl" --out "$out/eval-report.json" --q8
    echo "smoke outputs in $out"
    exit 0
fi

steps="${KNOB_TRAIN_STEPS:-4000}"
minutes="${KNOB_TRAIN_MINUTES:-0}"
echo "== data + tokenizer"
"$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$out/data"
echo "== train ($steps steps)"
"$py" -m knobtrain.train --data "$out/data" --out "$out/mu.npz" --steps "$steps" --minutes "$minutes" \
    --eval-every 500 --eval-n 384 --log "$out/train-log.jsonl"
echo "== export"
"$py" -m knobtrain.export --ckpt "$out/mu.npz" --tokenizer "$out/data/tokenizer.json" --out assets/knob-mu.gguf --name knob-mu
mkdir -p train/eval && cp "$out/data/heldout.jsonl" train/eval/heldout.jsonl
cp "$out/data/phrases-eval.jsonl" train/eval/phrases-heldout.jsonl
echo "== evaluate (f32 JAX and Q8_0 weights in JAX)"
"$py" -m knobtrain.evaluate --ckpt "$out/mu.npz" --tokenizer "$out/data/tokenizer.json" \
    --data "$out/data/eval.jsonl" --out "$out/eval-report.json" --q8
"$py" -m knobtrain.evaluate --ckpt "$out/mu.npz" --tokenizer "$out/data/tokenizer.json" \
    --data "$out/data/phrases-eval.jsonl" --out "$out/eval-phrases.json"
if [ -f tests/data/natural_requests.jsonl ]; then
    "$py" -m knobtrain.evaluate --ckpt "$out/mu.npz" --tokenizer "$out/data/tokenizer.json" \
        --data tests/data/natural_requests.jsonl --out "$out/eval-natural.json"
fi
if "$(knob_bin)" eval --help 2>/dev/null | grep -q -- --settings-model; then
    echo "== knob eval (int8 engine)"
    # the fresh file, not the model built into this binary
    "$(knob_bin)" eval --settings-model assets/knob-mu.gguf train/eval/heldout.jsonl --json > "$out/knob-eval.json" || true
    "$(knob_bin)" eval --settings-model assets/knob-mu.gguf train/eval/phrases-heldout.jsonl --json > "$out/knob-eval-phrases.json" || true
fi
"$py" -m knobtrain.report --out "$out" --gguf assets/knob-mu.gguf --report train/REPORT.md
echo "done: assets/knob-mu.gguf, train/REPORT.md, reports in $out"
