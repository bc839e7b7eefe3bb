"""Export a decoder-only checkpoint (model_dec.py) as a `llama` GGUF that knob's engine runs.

The llama keys and tensor names are llama.cpp's; linear weights and the tied
token embedding are Q8_0 (as the encoder–decoder's export), norms F32; `--f32`
writes every tensor as F32. The `knob.settings_model.*` keys tell knob that the
file is a settings model (`knob eval --settings-model`, `knob bench arch`):
the query, the separator token, then the action program.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gguf
import numpy as np

from .model_dec import DecConfig

ARCH = "llama"
MAX_BYTES = 64 * 1024 * 1024


def gguf_arrays(params: dict) -> dict[str, np.ndarray]:
    """Tensors in GGUF's row-major layout: a linear map with n outputs and k inputs is (n, k)."""
    out = {}
    for name, v in params.items():
        a = np.asarray(v, dtype=np.float32)
        if a.ndim == 2 and name != "token_embd.weight":
            a = np.ascontiguousarray(a.T)  # stored [in, out]
        out[name] = a
    return out


def export(cfg: DecConfig, params: dict, tokenizer_json: str, path: Path, name: str, f32: bool = False,
           bos: int = 1, eos: int = 2, pad: int = 0) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_string("general.name", name)
    w.add_uint32("llama.context_length", cfg.n_ctx)
    w.add_uint32("llama.embedding_length", cfg.d_model)
    w.add_uint32("llama.feed_forward_length", cfg.d_ff)
    w.add_uint32("llama.block_count", cfg.n_layer)
    w.add_uint32("llama.attention.head_count", cfg.n_head)
    w.add_uint32("llama.attention.head_count_kv", cfg.n_head_kv)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", cfg.eps)
    w.add_float32("llama.rope.freq_base", cfg.rope_base)
    w.add_uint32("tokenizer.ggml.bos_token_id", bos)
    w.add_uint32("tokenizer.ggml.eos_token_id", eos)
    w.add_uint32("tokenizer.ggml.padding_token_id", pad)
    w.add_string("tokenizer.huggingface.json", tokenizer_json)
    # What makes it a settings model: query, separator, program (docs/arch-comparison.md).
    w.add_uint32("knob.settings_model.separator_token_id", bos)
    w.add_uint32("knob.settings_model.query_length", cfg.enc_ctx)
    w.add_uint32("knob.settings_model.program_length", cfg.dec_ctx)
    for tname, a in sorted(gguf_arrays(params).items()):
        if a.ndim == 2 and not f32:
            assert a.shape[1] % 32 == 0, f"{tname}: k={a.shape[1]} is not a multiple of 32"
            w.add_tensor(tname, gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(tname, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes is over the {MAX_BYTES >> 20} MiB limit")
    return size


def main(argv=None):
    from . import model_dec
    from .train import load_params

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="knob-dec")
    ap.add_argument("--f32", action="store_true")
    a = ap.parse_args(argv)
    cfg, params = load_params(Path(a.ckpt))
    if not isinstance(cfg, model_dec.DecConfig):
        raise SystemExit(f"{a.ckpt} is not a decoder-only checkpoint (use knobtrain.export)")
    size = export(cfg, params, Path(a.tokenizer).read_text(encoding="utf-8"), Path(a.out), a.name, a.f32)
    print(f"wrote {a.out}: {size} bytes ({size / 2**20:.2f} MiB), llama, {model_dec.n_params(params):,} parameters")


if __name__ == "__main__":
    main()
