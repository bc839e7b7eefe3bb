#!/usr/bin/env bash
# Runs the README's set-up commands verbatim from a clean clone: the first
# (build and run knob) inside a real terminal (tmux), where it must open the
# chat interface and quit cleanly on /quit; then `knob ask` from a directory
# outside the repository, which must plan on the embedded model alone.
# The second README command is the test suite itself: it is checked to be
# the command this script runs under, not run again.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

# The commands follow the "# 1." and "# 2." comment lines of the set-up block.
run_cmd=$(awk '/^# 1\./{getline; print; exit}' README.md)
test_cmd=$(awk '/^# 2\./{getline; print; exit}' README.md)
[ -n "$run_cmd" ] || { echo "check-readme: no '# 1.' command in README.md" >&2; exit 1; }
[ "$test_cmd" = "bash scripts/test.sh" ] || { echo "check-readme: the README's test command is '$test_cmd', not 'bash scripts/test.sh'" >&2; exit 1; }
echo "README run command: $run_cmd"

tmp="$(mktemp -d)"
sock="knob-readme-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
git clone -q "$repo" "$tmp/knob"
# A target directory of its own: cargo keys workspace members by relative
# path, so a shared one would mix the two checkouts' build-script outputs.
export CARGO_TARGET_DIR="$tmp/target"

tmux -L "$sock" new-session -d -x 110 -y 32 -c "$tmp/knob" \
  "env -u XDG_CURRENT_DESKTOP KNOB_DATA_DIR=$tmp/data bash -c '$run_cmd; echo exit=\$? > $tmp/exit'"
for _ in $(seq 1 900); do
  if tmux -L "$sock" capture-pane -p | grep -q "threads"; then break; fi
  [ -f "$tmp/exit" ] && { echo "check-readme: '$run_cmd' ended early ($(cat "$tmp/exit"))" >&2; exit 1; }
  sleep 1
done
tmux -L "$sock" capture-pane -p | grep -q "threads" || { echo "check-readme: the chat interface did not open" >&2; tmux -L "$sock" capture-pane -p >&2; exit 1; }
tmux -L "$sock" send-keys "/quit" Enter
for _ in $(seq 1 30); do [ -f "$tmp/exit" ] && break; sleep 1; done
[ "$(cat "$tmp/exit" 2>/dev/null)" = "exit=0" ] || { echo "check-readme: knob did not exit 0 after /quit" >&2; exit 1; }
echo "README run command: the chat interface opened and /quit exited 0"

# knob needs nothing from the repository at run time.
mkdir -p "$tmp/elsewhere"
cd "$tmp/elsewhere"
KNOB_DATA_DIR="$tmp/data" "$CARGO_TARGET_DIR/release/knob" ask "turn on dark mode" --platform gnome --json > plan.json
python3 - plan.json <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["intent"] == "change", plan
assert plan["platform"] == "gnome", plan
assert plan["actions"][0]["setting"] == "appearance.dark_mode", plan
assert plan["actions"][0]["argv"][:2] == ["gsettings", "set"], plan
print("knob ask from outside the repository planned:", plan["actions"][0]["argv"])
PY

# The README's one-shot and batch examples, as written (those that only plan:
# no --apply), on a machine without a desktop session: knob must detect or
# assume a platform and plan, never stop at "which desktop is this?". Exit 3
# (understood, but only suggestions, or a value this machine cannot read) is
# allowed for every line, and required where the README says so.
examples=$(cd "$tmp/knob" && {
  awk '/^\*\*One-shot\.\*\*/{f=1} f&&/^```sh/{g=1;next} g&&/^```/{exit} g' README.md
  awk '/^\*\*Batch\.\*\*/{f=1} f&&/^```sh/{g=1;next} g&&/^```/{exit} g' README.md | grep -F '| knob batch'
} | grep -v -e '--apply')
[ "$(printf '%s\n' "$examples" | grep -c .)" -ge 5 ] || { echo "check-readme: too few one-shot examples found in README.md" >&2; exit 1; }
while IFS= read -r line; do
  want="0 or 3"
  case "$line" in *"exit 3"*) want=3 ;; esac
  status=0
  env -u XDG_CURRENT_DESKTOP -u XDG_SESSION_DESKTOP -u DESKTOP_SESSION -u KDE_FULL_SESSION \
    -u GNOME_DESKTOP_SESSION_ID GSETTINGS_BACKEND=keyfile XDG_CONFIG_HOME="$tmp/config" \
    KNOB_DATA_DIR="$tmp/data" PATH="$CARGO_TARGET_DIR/release:$PATH" \
    bash -c "$line" > "$tmp/example.out" 2> "$tmp/example.err" || status=$?
  case "$want" in *"$status"*) ok=yes ;; *) ok=no ;; esac
  if [ "$ok" = no ] || grep -q '"error"' "$tmp/example.out"; then
    echo "check-readme: '$line' exited $status (want $want):" >&2
    cat "$tmp/example.out" "$tmp/example.err" >&2
    exit 1
  fi
  echo "README example without a desktop session, exit $status: $line"
done <<< "$examples"
