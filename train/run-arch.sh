#!/usr/bin/env bash
# Issue 19: train the encoder–decoder (mu) and a decoder-only model (llama) of the
# same parameter count from scratch, on the same data and tokenizer, with the same
# steps, batch, schedule, optimizer and seed; export both for `knob bench arch`.
#
#   bash train/run-arch.sh --size 2m           v1's shape (~2M parameters)
#   bash train/run-arch.sh --size 20m          ~20M parameters
#   bash train/run-arch.sh --smoke             tiny pair, few steps (CI); also writes the
#                                              F32 decoder-only GGUF and golden-dec.json
#   --steps N         training steps for both (default 4000, smoke 40)
#   --untrained       export randomly initialised models (real shapes, for speed only)
#   --out DIR         output directory (default train/out-arch/<size>)
#   --data DIR        reuse prepared data (train.jsonl, eval.jsonl, tokenizer.json)
#
# Accuracy is not scored here (`knob bench arch` scores both, as `knob eval` does).
# Writes DIR/encdec.gguf and DIR/dec.gguf, then prints the comparison command:
#   knob bench arch --settings-model DIR/encdec.gguf --compare DIR/dec.gguf
#
# Environment: KNOB_BIN (knob binary for the catalog and label checks; default
# target/release/knob), KNOB_CATALOG_JSON (catalog JSON instead of `knob settings export`).
set -euo pipefail
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
smoke=0 size=2m steps="" untrained=0 out="" data=""
while [ $# -gt 0 ]; do
    a="$1"; shift
    case "$a" in
        --smoke) smoke=1; size=smoke ;;
        --size) size="${1:?--size needs 2m or 20m}"; shift ;;
        --steps) steps="${1:?--steps needs a number}"; shift ;;
        --untrained) untrained=1 ;;
        --out) out="${1:?--out needs a directory}"; shift ;;
        --data) data="${1:?--data needs a directory}"; shift ;;
        -h|--help) sed -n '2,20p' "$self"; exit 0 ;;
        *) echo "run-arch.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done
# The encoder–decoder's shape; the decoder-only one is fitted to its parameter
# count by knobtrain.model_dec.matched (same width and heads, more layers).
case "$size" in
    smoke) shape=(--d-model 64 --d-ff 128 --n-enc 2 --n-dec 1 --n-head 4 --n-head-kv 2); steps="${steps:-40}"; batch=32 ;;
    2m) shape=(--d-model 128 --d-ff 512 --n-enc 4 --n-dec 2 --n-head 4 --n-head-kv 2); batch=128 ;;
    20m) shape=(--d-model 384 --d-ff 1024 --n-enc 8 --n-dec 4 --n-head 6 --n-head-kv 2); batch=128 ;;
    *) echo "run-arch.sh: --size is 2m or 20m, not $size" >&2; exit 2 ;;
esac
steps="${steps:-4000}"
out="${out:-train/out-arch/$size}"
mkdir -p "$out"
bash train/setup.sh
py="$root/train/.venv/bin/python"
export PYTHONPATH="$root/train${PYTHONPATH:+:$PYTHONPATH}"
export JAX_PLATFORMS=cpu
export KNOB_BIN="${KNOB_BIN:-$root/target/release/knob}"
[ -x "$KNOB_BIN" ] || cargo build --release --locked --bin knob

if [ -z "$data" ]; then
    data="$out/data"
    echo "== catalog, data + tokenizer"
    if [ -n "${KNOB_CATALOG_JSON:-}" ]; then cp "$KNOB_CATALOG_JSON" "$out/catalog.json"
    else "$KNOB_BIN" settings export --json > "$out/catalog.json"; fi
    if [ "$smoke" = 1 ]; then
        "$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$data" --per-setting 40 \
            --eval-per-setting 4 --vocab 800 --max-settings 24
    else
        "$py" -m knobtrain.prepare --catalog "$out/catalog.json" --out "$data"
    fi
fi

init=()
[ "$untrained" = 1 ] && init=(--init-only)
for arch in encdec dec; do
    if [ "$untrained" = 1 ]; then echo "== initialise $arch ($size, untrained)"
    else echo "== train $arch ($size, $steps steps, batch $batch)"; fi
    rm -f "$out/$arch-log.jsonl"
    "$py" -m knobtrain.train --arch "$arch" --data "$data" --out "$out/$arch.npz" --steps "$steps" \
        --batch "$batch" --eval-every "$steps" --eval-n 0 "${shape[@]}" --seed 0 \
        --log "$out/$arch-log.jsonl" "${init[@]}"
done

echo "== export"
label=""
[ "$untrained" = 1 ] && label="-untrained"
"$py" -m knobtrain.export --ckpt "$out/encdec.npz" --tokenizer "$data/tokenizer.json" \
    --out "$out/encdec.gguf" --name "knob-arch-encdec-$size$label" --no-size-limit
"$py" -m knobtrain.export_dec --ckpt "$out/dec.npz" --tokenizer "$data/tokenizer.json" \
    --out "$out/dec.gguf" --name "knob-arch-dec-$size$label"
if [ "$smoke" = 1 ]; then
    "$py" -m knobtrain.export_dec --ckpt "$out/dec.npz" --tokenizer "$data/tokenizer.json" \
        --out "$out/dec-f32.gguf" --name "knob-arch-dec-smoke-f32" --f32
    echo "== golden (decoder-only in the llama engine)"
    "$py" -m knobtrain.golden_dec --ckpt "$out/dec.npz" --tokenizer "$data/tokenizer.json" \
        --out "$out/golden-dec.json" --gguf-q8 dec.gguf --gguf-f32 dec-f32.gguf
fi
echo "done: $out/encdec.gguf and $out/dec.gguf; compare them with"
echo "  knob bench arch --settings-model $out/encdec.gguf --compare $out/dec.gguf"
