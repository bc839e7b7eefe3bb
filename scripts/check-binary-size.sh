#!/usr/bin/env bash
# The release binary, stripped, must stay at most 45 MB (issue 16: the
# settings model v2 is embedded in it). Prints the size either way.
# It must also carry no debug info, as `cargo install` ships it (issue 17:
# debug = 1 made a 77 MB binary of a 13 MB one); `cargo build --profile
# profiling` keeps line tables for perf.
#
#   bash scripts/check-binary-size.sh [BINARY]     default target/release/knob
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/release/knob}"
limit=45000000
[ -x "$bin" ] || { echo "check-binary-size: no binary at $bin (cargo build --release first)" >&2; exit 2; }
echo "release binary as built: $(stat -c %s "$bin") bytes"
if readelf -S --wide "$bin" | grep -q '\.debug_info'; then
    echo "check-binary-size: $bin carries debug info (.debug_info): the release profile must not have debug set; profile with --profile profiling" >&2
    exit 1
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
strip -o "$tmp" "$bin"
size=$(stat -c %s "$tmp")
echo "release binary stripped: $size bytes ($(( size / 1000000 )) MB; limit $(( limit / 1000000 )) MB)"
if [ "$size" -gt "$limit" ]; then
    echo "check-binary-size: $bin is over the limit" >&2
    exit 1
fi
