#!/usr/bin/env python3
"""knob against llama.cpp on the same Q8_0 GGUF, interleaved.

    /work/llamacpp-venv/bin/python scripts/bench_vs_llamacpp.py \
        target/release/knob /work/models/SmolLM2-135M-Instruct.Q8_0.gguf [ROUNDS]

Each round runs `knob bench model --reps 1 --json` for one thread count and
then the same tests (prefill 64 and 512 tokens, decode 128 tokens from a
one-token context, as llama-bench's pp/tg) in llama.cpp (llama-cpp-python,
the build that made tests/fixtures/smollm2_llamacpp_refs.json), so that
drift in memory bandwidth hits both alike. Prints medians and the ratios.

Superseded for issue 18's comparison by `knob bench model` built with
`--features llama-cpp` and the GGML_* and CMAKE_* variables that turn on
AVX-512 and AMX (see the module doc of src/commands/bench_model.rs):
llama.cpp then runs in the same process, with its AMX path, and the report
names the buffer that holds the weights. llama-cpp-python 0.3.36's AMX mul_mat segfaulted on
SmolLM2 on the AMX Xeon, so this script can only compare against llama.cpp
without AMX (LLAMA_NO_EXTRA_BUFTS=1), which is not the baseline issue 18 asks
for.
"""
import json
import random
import statistics
import subprocess
import sys
import time

import os

import llama_cpp
import numpy as np  # noqa: F401  (llama_cpp needs it; imported here to fail early)

# LLAMA_NO_EXTRA_BUFTS=1: no weight repacking or AMX buffer types in llama.cpp
# (llama-cpp-python 0.3.36's AMX mul_mat segfaults on SmolLM2 here; see
# scripts/make_llamacpp_refs.py).
if os.environ.get("LLAMA_NO_EXTRA_BUFTS"):
    _default_params = llama_cpp.llama_model_default_params

    def _no_extra_bufts():
        p = _default_params()
        p.use_extra_bufts = False
        return p

    llama_cpp.llama_model_default_params = _no_extra_bufts
    llama_cpp.llama_cpp.llama_model_default_params = _no_extra_bufts

TESTS = [("prefill_64", 64), ("prefill_512", 512), ("decode_128", 128)]


def llama_cpp_round(llm, toks):
    out = {}
    for name, n in TESTS:
        llm.reset()
        if name.startswith("prefill"):
            t = time.perf_counter()
            llm.eval(toks[:n])
            out[name] = n / (time.perf_counter() - t)
        else:
            llm.eval(toks[:1])
            t = time.perf_counter()
            for tok in toks[1 : n + 1]:
                llm.eval([tok])
            out[name] = n / (time.perf_counter() - t)
    return out


def knob_round(knob, model, threads):
    r = subprocess.run(
        [knob, "bench", "model", "--model", model, "--reps", "1", "--threads", str(threads), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    rep = json.loads(r.stdout)
    # knob names the tests prefill64, prefill512, decode128
    got = {row["test"]: row["knob_tokens_per_sec"] for row in rep["rows"]}
    out = {n: got[n.replace("_", "")] for n, _ in TESTS}
    # the bandwidth limit of decode measured in the same run (newer knob)
    limits = [r.get("bandwidth_limit_tokens_per_sec") for r in rep["rows"] if r["test"] == "decode128"]
    out["limit"] = limits[0] if limits and limits[0] else None
    return out, rep


def main():
    knob, model = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    random.seed(1)
    toks = [random.randrange(1000, 40000) for _ in range(600)]
    table = []
    for threads in (1, 2):
        llm = llama_cpp.Llama(
            model_path=model, n_ctx=640, n_batch=512, n_ubatch=512, n_threads=threads,
            n_threads_batch=threads, flash_attn=False, verbose=False,
        )
        llama_cpp_round(llm, toks)  # warm-up
        ks, ls = {n: [] for n, _ in TESTS}, {n: [] for n, _ in TESTS}
        limits = []
        for _ in range(rounds):
            k, rep = knob_round(knob, model, threads)
            l = llama_cpp_round(llm, toks)
            for n, _ in TESTS:
                ks[n].append(k[n])
                ls[n].append(l[n])
            if k["limit"]:
                limits.append(k["limit"])
        del llm
        limit = statistics.median(limits) if limits else None
        for n, _ in TESTS:
            km, lm = statistics.median(ks[n]), statistics.median(ls[n])
            bw = f"{km / limit:.0%} / {lm / limit:.0%}" if limit and n.startswith("decode") else ""
            table.append((n, threads, km, lm, km / lm, bw))
    print(f"llama-cpp-python {llama_cpp.__version__}; medians of {rounds} interleaved rounds")
    print(f"{'test':<12} {'thr':>3} {'knob tok/s':>11} {'llama.cpp':>10} {'ratio':>6}  of bandwidth limit (knob / llama.cpp)")
    for n, t, km, lm, r, bw in table:
        print(f"{n:<12} {t:>3} {km:>11.1f} {lm:>10.1f} {r:>6.2f}  {bw}")
    mib = 1024 * 1024
    print(
        f"knob: weights {rep['weight_bytes'] / mib:.1f} MiB, KV cache {rep['kv_cache_bytes'] / mib:.1f} MiB, "
        f"peak RSS {rep['peak_rss_bytes'] / mib:.1f} MiB "
        f"({rep['peak_rss_bytes'] / (rep['weight_bytes'] + rep['kv_cache_bytes']):.2f}x weights + KV)"
    )


if __name__ == "__main__":
    main()
