#!/usr/bin/env bash
# Installs everything the full test suite needs on a Debian 12 machine:
# system packages (gsettings schemas, kconfig tools, tmux), the aarch64 cross
# toolchain with qemu, the Python venv for train/, and the SmolLM2 test model.
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_pkgs=(
  # real settings backends for the settings-engine tests
  libglib2.0-bin gsettings-desktop-schemas gnome-settings-daemon-common
  mutter-common gnome-shell-common nautilus-data libkf5config-bin
  # end-to-end TUI test
  tmux
  # aarch64 cross build + emulation for the NEON kernels
  rustc-web cargo-web gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  libstd-rust-web-dev:arm64
  python3-venv
  # readelf and strip: scripts/check-binary-size.sh
  binutils
)
missing=()
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  need_update=1
fi
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ -n "${need_update:-}" ]; then
  $SUDO apt-get update -qq
  [ ${#missing[@]} -gt 0 ] && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# compile the gsettings schemas (the packages' triggers do this, but be sure)
if [ -d /usr/share/glib-2.0/schemas ] && [ ! -f /usr/share/glib-2.0/schemas/gschemas.compiled ]; then
  $SUDO glib-compile-schemas /usr/share/glib-2.0/schemas
fi
# clippy checks the workspace lints (scripts/test.sh); a minimal rustup profile lacks it
if ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup component add clippy
  else
    echo "setup-dev: cargo clippy is missing and there is no rustup to add it" >&2
    exit 1
  fi
fi
echo "setup-dev: system packages ok"
