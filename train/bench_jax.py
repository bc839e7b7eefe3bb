"""Per-request latency of knob's settings model in JAX (jit, f32, CPU): the
baseline `knob bench agent` measures side by side with knob's engine.

The weights come from the same GGUF knob embeds (Q8_0 tensors dequantized to
f32), so both engines run the very same model: v1 (`knobtrain.model`) or v2,
the BERT encoder under the mu decoder (`knobtrain.model_v2`, when the file says
`mu.encoder.kind = "bert"`). Greedy decoding, jit-compiled once per padded
query length; queries are padded to a multiple of 8 tokens. Prints one JSON
object.

    python train/bench_jax.py --gguf assets/knob-mu.gguf --queries FILE [--reps N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from knobtrain import minilm  # noqa: E402
from knobtrain import model_v2 as V  # noqa: E402
from knobtrain.export import v2_is_linear  # noqa: E402
from knobtrain.model import Config, greedy  # noqa: E402


def field(reader: GGUFReader, key: str):
    f = reader.fields[key]
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types[0].name == "STRING" else v.tolist()[0]


def read_params(r: GGUFReader, is_linear) -> dict:
    """Every tensor in f32 (Q8_0 dequantized); linear maps transposed, since the
    JAX models multiply x @ W with W as [in, out] and GGUF stores [out, in]."""
    params = {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape(tuple(int(d) for d in reversed(t.shape)))  # GGUF lists dims fastest first
        params[t.name] = jnp.asarray(w.T if is_linear(t.name, w.ndim) else w)
    return params


def load(path: str):
    r = GGUFReader(path)
    if "mu.encoder.kind" in r.fields and field(r, "mu.encoder.kind") == "bert":
        return load_v2(r)
    params = read_params(r, lambda name, ndim: ndim == 2 and name != "token_embd.weight")
    cfg = Config(
        n_vocab=params["token_embd.weight"].shape[0],
        d_model=field(r, "mu.embedding_length"),
        d_ff=field(r, "mu.feed_forward_length"),
        n_enc=field(r, "mu.encoder.block_count"),
        n_dec=field(r, "mu.decoder.block_count"),
        n_head=field(r, "mu.attention.head_count"),
        n_head_kv=field(r, "mu.attention.head_count_kv"),
        enc_ctx=field(r, "mu.context_length"),
        dec_ctx=field(r, "mu.decoder.context_length"),
        eps=field(r, "mu.attention.layer_norm_epsilon"),
        rope_base=field(r, "mu.rope.freq_base"),
    )
    tok = Tokenizer.from_str(field(r, "tokenizer.huggingface.json"))
    start = field(r, "mu.decoder_start_token_id")
    eos = field(r, "tokenizer.ggml.eos_token_id")

    def run(cfg, params, ids, max_len):
        return greedy(cfg, params, ids, start, eos, max_len)

    return cfg, params, tok, run, lambda q: tok.encode(q, add_special_tokens=False).ids, eos


def load_v2(r: GGUFReader):
    """A settings model v2 file: [CLS] wordpieces [SEP] in, action tokens out."""
    params = read_params(r, v2_is_linear)
    bert = minilm.BertConfig(
        n_vocab=params["token_embd.weight"].shape[0],
        d_model=field(r, "bert.embedding_length"),
        d_ff=field(r, "bert.feed_forward_length"),
        n_layer=field(r, "bert.block_count"),
        n_head=field(r, "bert.attention.head_count"),
        n_ctx=field(r, "bert.context_length"),
        n_type=params["token_types.weight"].shape[0],
        eps=field(r, "bert.attention.layer_norm_epsilon"),
    )
    dec = Config(
        n_vocab=params[V.DEC_EMBD].shape[0],
        d_model=field(r, "mu.embedding_length"),
        d_ff=field(r, "mu.feed_forward_length"),
        n_enc=0,
        n_dec=field(r, "mu.decoder.block_count"),
        n_head=field(r, "mu.attention.head_count"),
        n_head_kv=field(r, "mu.attention.head_count_kv"),
        enc_ctx=field(r, "mu.context_length"),
        dec_ctx=field(r, "mu.decoder.context_length"),
        eps=field(r, "mu.attention.layer_norm_epsilon"),
        rope_base=field(r, "mu.rope.freq_base"),
    )
    cfg = V.ConfigV2(bert, dec)
    tok = Tokenizer.from_str(field(r, "tokenizer.huggingface.json"))
    start = field(r, "mu.decoder_start_token_id")
    eos = field(r, "mu.decoder.eos_token_id")

    def run(_dec_cfg, params, ids, max_len):
        # main() passes the decoder's config (for enc_ctx and dec_ctx); greedy needs both halves
        return V.greedy(cfg, params, ids, start, eos, max_len)[0]

    def encode(q: str) -> list[int]:
        return minilm.encode_text(tok, q, dec.enc_ctx)

    return dec, params, tok, run, encode, eos


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--queries", required=True, help="one query per line")
    ap.add_argument("--reps", type=int, default=1, help="passes over the queries")
    a = ap.parse_args(argv)
    jax.config.update("jax_platforms", "cpu")
    cfg, params, tok, decode, encode, eos = load(a.gguf)
    queries = [q for q in Path(a.queries).read_text().splitlines() if q.strip()]
    compiled = {}

    def run(q: str):
        ids = encode(q)[: cfg.enc_ctx] or [eos]
        width = min(cfg.enc_ctx, -(-len(ids) // 8) * 8)
        arr = np.zeros((1, width), np.int32)
        arr[0, : len(ids)] = ids
        f = compiled.get(width)
        if f is None:
            f = compiled[width] = jax.jit(lambda x: decode(cfg, params, x, cfg.dec_ctx - 1))
        out = np.asarray(f(jnp.asarray(arr)))
        return out

    for q in queries:  # compile every length once before timing
        run(q)
    times = []
    for _ in range(a.reps):
        for q in queries:
            t = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(json.dumps({
        "engine": f"jax {jax.__version__} (jit, f32, cpu)",
        "requests": len(times),
        "p50_ms": statistics.median(times),
        "p99_ms": p99,
        "mean_ms": statistics.fmean(times),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
