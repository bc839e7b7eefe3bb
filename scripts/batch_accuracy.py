#!/usr/bin/env python3
"""Exact-action accuracy of the whole agent pipeline, through `knob batch --json`.

    python3 scripts/batch_accuracy.py FILE.jsonl [--knob target/release/knob] [--platform windows]

FILE holds {"query": ..., "expect": [actions]} lines (`knob eval`'s format).
A request counts as right when the pipeline's plan is what was expected: the
same program for a change, preset or get (a question about a current value),
`chat` for a chat answer, and no plan at all (intent none or search) for an
expected ["none"]. Unlike `knob eval`, which scores the
model's best answer whatever its confidence, this scores what a user gets:
answers under the confidence threshold become suggestions, not plans.
"""
import argparse
import collections
import json
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--knob", default="target/release/knob")
    ap.add_argument("--platform", default="windows", help="plan for this OS (no backend reads)")
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.file, encoding="utf-8") if line.strip()]
    lines = "".join(json.dumps({"id": i, "query": r["query"]}) + "\n" for i, r in enumerate(rows))
    out = subprocess.run([a.knob, "batch", "--json", "--platform", a.platform, "-"], input=lines,
                         capture_output=True, text=True, check=False)
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if len(answers) != len(rows):
        print(f"error: {len(rows)} requests but {len(answers)} answers\n{out.stderr}", file=sys.stderr)
        return 1
    right, by_intent, wrong = 0, collections.Counter(), []
    for r, ans in zip(rows, answers):
        want = " ; ".join(r["expect"])
        intent = ans.get("intent")
        if intent in ("change", "preset", "get"):
            got = ans.get("program")
        elif intent == "chat":
            got = "chat"
        else:
            got = "none"
        by_intent[ans.get("intent")] += 1
        if got == want:
            right += 1
        else:
            wrong.append((r["query"], want, got, ans.get("intent")))
    print(f"{a.file}: {right}/{len(rows)} = {100 * right / len(rows):.2f}% through knob batch "
          f"(intents: {dict(sorted(by_intent.items()))})")
    print(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "")
    for q, want, got, intent in wrong[:15]:
        print(f"  {q!r}\n      expected {want}\n      got      {got} [{intent}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
