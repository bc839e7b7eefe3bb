#!/usr/bin/env bash
# Cross-compiles knob-kernels to aarch64 and runs its tests under qemu twice:
# with -cpu max (has dotprod: the NEON and dotprod paths run) and with
# -cpu cortex-a53 (no dotprod: the plain NEON path, and dotprod must be
# reported unavailable). Needs the Debian toolchain (scripts/setup-dev.sh):
# rustc-web/cargo-web 1.96 with libstd-rust-web-dev:arm64,
# gcc-aarch64-linux-gnu and qemu-user. Do not pass -L to qemu: the cross
# glibc under /usr/aarch64-linux-gnu is older than libc6:arm64 and threaded
# test binaries hang with it.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC=/usr/bin/rustc
export RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/aarch64-cross}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# rustup's proxies come first on PATH and have no aarch64 std; use Debian's cargo.
CARGO=/usr/bin/cargo

for cpu in max cortex-a53; do
  echo "== knob-kernels tests on qemu-aarch64 -cpu $cpu"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu $cpu" \
  KNOB_EXPECT_ISAS="$([ "$cpu" = max ] && echo scalar,neon,dotprod || echo scalar,neon)" \
    "$CARGO" test -p knob-kernels --target aarch64-unknown-linux-gnu "$@"
done
