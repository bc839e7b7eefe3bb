"""Export a trained checkpoint to GGUF per docs/mu-gguf.md (gguf package, llama.cpp's writer).

Linear weights (and the tied token embedding) are Q8_0 by default, norms F32;
`--f32` writes every tensor as F32 (for tight golden comparisons).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gguf
import numpy as np

from .model import Config

ARCH = "mu"
MAX_BYTES = 16 * 1024 * 1024


def gguf_arrays(cfg: Config, params: dict) -> dict[str, np.ndarray]:
    """Tensors in GGUF's row-major layout: a linear map with n outputs and k inputs is (n, k)."""
    out = {}
    for name, v in params.items():
        a = np.asarray(v, dtype=np.float32)
        if name == "token_embd.weight":
            out[name] = a  # (n_vocab, d_model) -> ne = [d_model, n_vocab]
        elif a.ndim == 2:
            out[name] = np.ascontiguousarray(a.T)  # stored [in, out] -> (out, in) -> ne = [in, out]
        else:
            out[name] = a
    return out


def q8_0_roundtrip(a: np.ndarray) -> np.ndarray:
    """What the engine sees for a Q8_0 tensor (quantize then dequantize, gguf's reference code)."""
    q = gguf.quants.quantize(a.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    return gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0).reshape(a.shape).astype(np.float32)


def export(cfg: Config, params: dict, tokenizer_json: str, path: Path, name: str, f32: bool = False,
           bos: int = 1, eos: int = 2, pad: int = 0) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_string("general.name", name)
    w.add_uint32("mu.context_length", cfg.enc_ctx)
    w.add_uint32("mu.decoder.context_length", cfg.dec_ctx)
    w.add_uint32("mu.embedding_length", cfg.d_model)
    w.add_uint32("mu.feed_forward_length", cfg.d_ff)
    w.add_uint32("mu.encoder.block_count", cfg.n_enc)
    w.add_uint32("mu.decoder.block_count", cfg.n_dec)
    w.add_uint32("mu.attention.head_count", cfg.n_head)
    w.add_uint32("mu.attention.head_count_kv", cfg.n_head_kv)
    w.add_float32("mu.attention.layer_norm_epsilon", cfg.eps)
    w.add_float32("mu.rope.freq_base", cfg.rope_base)
    w.add_uint32("mu.decoder_start_token_id", bos)
    w.add_uint32("tokenizer.ggml.eos_token_id", eos)
    w.add_uint32("tokenizer.ggml.padding_token_id", pad)
    w.add_string("tokenizer.huggingface.json", tokenizer_json)
    for tname, a in sorted(gguf_arrays(cfg, params).items()):
        if a.ndim == 2 and not f32:
            assert a.shape[1] % 32 == 0, f"{tname}: k={a.shape[1]} is not a multiple of 32"
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(tname, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(tname, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes is over the 16 MiB limit")
    return size


def read_back(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, dequantized tensors in GGUF row-major layout) via gguf's own reader."""
    r = gguf.GGUFReader(str(path))
    meta = {}
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        if f.types and f.types[0] == gguf.GGUFValueType.STRING:
            meta[f.name] = bytes(f.parts[f.data[0]]).decode("utf-8")
        elif f.data:
            meta[f.name] = f.parts[f.data[0]].tolist()[0]
    tensors = {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            a = np.array(t.data, dtype=np.float32).reshape(shape)
        else:
            a = gguf.quants.dequantize(np.array(t.data), t.tensor_type).reshape(shape)
        tensors[t.name] = (a, t.tensor_type)
    return meta, tensors


def main(argv=None):
    from .train import load_params

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="knob-mu")
    ap.add_argument("--f32", action="store_true")
    a = ap.parse_args(argv)
    cfg, params = load_params(Path(a.ckpt))
    size = export(cfg, params, Path(a.tokenizer).read_text(encoding="utf-8"), Path(a.out), a.name, a.f32)
    print(f"wrote {a.out}: {size} bytes ({size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
