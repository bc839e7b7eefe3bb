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

from .export import gguf_arrays, matrices_q8, write_gguf
from .model_dec import DecConfig

ARCH = "llama"
MAX_BYTES = 64 * 1024 * 1024


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
    return write_gguf(w, path, gguf_arrays(params), matrices_q8(f32), MAX_BYTES)


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
