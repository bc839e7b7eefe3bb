#!/usr/bin/env bash
# Runs every test of knob. Installs what the tests need first (idempotent), so
# on a fresh Debian/Ubuntu machine this one command is all the set-up there is.
#
#   1. system packages, the aarch64 cross toolchain, the train/ venv, the test model
#   2. cargo test for the whole workspace (native: scalar, AVX2, AVX-512 paths)
#   3. the kernels crate under qemu-aarch64, with and without dotprod
#   4. the training pipeline's smoke run and Python tests, and the Rust golden test
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "set-up"
bash scripts/setup-dev.sh
KNOB_TEST_MODEL="$(bash scripts/fetch-test-model.sh)"
export KNOB_TEST_MODEL

step "cargo test (workspace)"
cargo test --workspace --locked

if [ -f scripts/test-aarch64.sh ]; then
  step "kernels on aarch64 under qemu"
  bash scripts/test-aarch64.sh
fi

if [ -f train/run.sh ]; then
  step "training pipeline: smoke run, Python tests, golden test against the Rust engine"
  bash train/test.sh
fi

step "all tests passed"
