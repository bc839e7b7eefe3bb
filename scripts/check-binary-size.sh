#!/usr/bin/env bash
# The release binary, stripped, must stay at most 45 MB (issue 16: the
# settings model v2 is embedded in it). Prints the size either way.
#
#   bash scripts/check-binary-size.sh [BINARY]     default target/release/knob
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/release/knob}"
limit=45000000
[ -x "$bin" ] || { echo "check-binary-size: no binary at $bin (cargo build --release first)" >&2; exit 2; }
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
strip -o "$tmp" "$bin"
size=$(stat -c %s "$tmp")
echo "release binary stripped: $size bytes ($(( size / 1000000 )) MB; limit $(( limit / 1000000 )) MB)"
if [ "$size" -gt "$limit" ]; then
    echo "check-binary-size: $bin is over the limit" >&2
    exit 1
fi
