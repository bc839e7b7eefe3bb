#!/usr/bin/env bash
# Runs every test of knob. Installs what the tests need first (idempotent), so
# on a fresh Debian/Ubuntu machine this one command is all the set-up there is.
#
#   1. system packages, the aarch64 cross toolchain, the train/ venv, the test model
#   2. cargo test for the whole workspace, in release mode (real-model tests
#      run thousands of tokens), on every x86 kernel path the CPU has
#   3. the kernels crate under qemu-aarch64, with and without dotprod
#   4. the settings catalog against the real gsettings/kconfig tools, and the
#      natural-request set's checker
#   5. the training pipeline: Python tests, smoke run, golden test of the engine
#   6. the README's commands, run verbatim from a clean clone
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "set-up"
bash scripts/setup-dev.sh
bash train/setup.sh
KNOB_TEST_MODEL="$(bash scripts/fetch-test-model.sh)"
export KNOB_TEST_MODEL
KNOB_MINILM_GGUF="$(bash scripts/fetch-minilm.sh)"
export KNOB_MINILM_GGUF
# insta must compare snapshots, never write them.
export INSTA_UPDATE=no

step "cargo test (workspace, release)"
# ggml-reference is opt-in (it compiles ggml's C code); the tests enable it so
# that the kernels are cross-checked against ggml and `knob bench kernels`
# fills its "vs ggml" column.
cargo test --workspace --release --locked --features ggml-reference

step "release binary size (stripped, embedded model included)"
bash scripts/check-binary-size.sh

step "clippy (workspace lints: every unsafe block documented)"
cargo clippy --workspace --all-targets --release --locked --features ggml-reference -- -D warnings

step "kernels on aarch64 under qemu"
bash scripts/test-aarch64.sh

step "catalog against the real tools; natural-request set"
reference=()
[ -f ../shared/settings-catalog.toml ] && reference=(--reference ../shared/settings-catalog.toml)
python3 scripts/check_catalog.py --fetch-schemas "${reference[@]}"
python3 scripts/check_natural_requests.py
python3 scripts/check_natural_requests.py tests/data/hard_requests.jsonl
python3 scripts/check_natural_requests.py tests/data/natural_requests_2.jsonl

step "training pipeline"
KNOB_BIN="$PWD/target/release/knob" bash train/test.sh

step "README commands from a clean clone"
bash scripts/check-readme.sh

step "all tests passed"
