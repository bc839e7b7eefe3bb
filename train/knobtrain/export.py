"""Export a trained checkpoint to GGUF per docs/mu-gguf.md (gguf package, llama.cpp's writer).

Linear weights (and the tied token embedding) are Q8_0 by default, norms F32;
`--f32` writes every tensor as F32 (for tight golden comparisons).

v1 checkpoints (model.py) give the `mu` encoder kind; v2 checkpoints
(model_v2.py) give `mu.encoder.kind = "bert"`: the MiniLM encoder under
llama.cpp's BERT tensor names, the decoder under the mu names, the WordPiece
vocabulary for the encoder and the action vocabulary for the decoder.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import gguf
import numpy as np

from .model import Config

Q8_0 = gguf.GGMLQuantizationType.Q8_0
ARCH = "mu"
MAX_BYTES = 16 * 1024 * 1024
MAX_BYTES_V2 = 32 * 1024 * 1024


def gguf_arrays(params: dict) -> dict[str, np.ndarray]:
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
    q = gguf.quants.quantize(a.astype(np.float32), Q8_0)
    return gguf.quants.dequantize(q, Q8_0).reshape(a.shape).astype(np.float32)


def matrices_q8(f32: bool):
    """The v1 and decoder-only rule for which tensors are Q8_0: every matrix, unless `f32`."""
    def is_q8(tname: str, a: np.ndarray) -> bool:
        if a.ndim != 2 or f32:
            return False
        assert a.shape[1] % 32 == 0, f"{tname}: k={a.shape[1]} is not a multiple of 32"
        return True
    return is_q8


def write_gguf(w: gguf.GGUFWriter, path: Path, arrays: dict[str, np.ndarray], is_q8, max_bytes: int | None,
               limit_name: str = "") -> int:
    """Adds `arrays` to `w` (Q8_0 where `is_q8(name, array)`, else F32), writes the file and
    checks its size against `max_bytes`; returns the size."""
    for tname, a in sorted(arrays.items()):
        if is_q8(tname, a):
            w.add_tensor(tname, gguf.quants.quantize(a, Q8_0), raw_dtype=Q8_0)
        else:
            w.add_tensor(tname, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise SystemExit(f"{path}: {size} bytes is over the {max_bytes >> 20} MiB limit{limit_name}")
    return size


def export(cfg: Config, params: dict, tokenizer_json: str, path: Path, name: str, f32: bool = False,
           bos: int = 1, eos: int = 2, pad: int = 0, max_bytes: int | None = MAX_BYTES) -> int:
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
    return write_gguf(w, path, gguf_arrays(params), matrices_q8(f32), max_bytes)


def read_back(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, dequantized tensors in GGUF row-major layout) via gguf's own reader."""
    r = gguf.GGUFReader(str(path))
    meta = {}
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        if f.types and f.types[0] == gguf.GGUFValueType.STRING:
            meta[f.name] = bytes(f.parts[f.data[0]]).decode("utf-8")
        elif f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
            if f.types[-1] == gguf.GGUFValueType.STRING:
                meta[f.name] = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            else:
                meta[f.name] = [f.parts[i].tolist()[0] for i in f.data]
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


# ------------------------------------------------------------------ v2: BERT encoder + mu decoder
def v2_arrays(params: dict) -> dict[str, np.ndarray]:
    """v2 tensors in GGUF's row-major layout: linear maps (out, in), embedding tables (rows, d), 1-D as they are."""
    out = {}
    for name, v in params.items():
        a = np.asarray(v, dtype=np.float32)
        out[name] = np.ascontiguousarray(a.T) if v2_is_linear(name, a.ndim) else a
    return out


def v2_is_linear(name: str, ndim: int) -> bool:
    """A linear map's weight, stored [in, out] in the checkpoint and (out, in) in the file."""
    from . import minilm
    from .model_v2 import DEC_EMBD

    return minilm.is_linear(name) or (name.startswith("dec.") and ndim == 2 and name != DEC_EMBD)


def v2_is_q8(name: str, a: np.ndarray) -> bool:
    """Which v2 tensors are Q8_0: every 2-D matrix except the small additive tables
    (position_embd, token_types: added to the input, kept F32 as llama.cpp's converter does)."""
    return a.ndim == 2 and name not in ("position_embd.weight", "token_types.weight") and a.shape[1] % 32 == 0


def bert_vocab_tokens(wordpiece_json: str) -> list[str]:
    """The WordPiece vocabulary as llama.cpp's BERT GGUFs list it (tokenizer.ggml.tokens):
    a word-initial piece gets the phantom-space prefix U+2581, a "##" continuation loses its
    "##", and [bracketed] special tokens stay as they are."""
    vocab = json.loads(wordpiece_json)["model"]["vocab"]
    toks = [None] * len(vocab)
    for t, i in vocab.items():
        toks[i] = t
    out = []
    for t in toks:
        if t.startswith("[") and t.endswith("]"):
            out.append(t)
        elif t.startswith("##"):
            out.append(t[2:])
        else:
            out.append("\u2581" + t)
    return out


def _plain_tokenizer_json(text: str) -> str:
    """tokenizer.json without the fixed padding/truncation the MiniLM file carries (128 tokens)."""
    d = json.loads(text)
    d["padding"] = None
    d["truncation"] = None
    return json.dumps(d, ensure_ascii=False)


def export_v2(cfg, params: dict, wordpiece_json: str, actions_json: str, path: Path, name: str,
              temperature: float = 1.0, f32: bool = False) -> int:
    b, c = cfg.bert, cfg.dec
    act = json.loads(actions_json)
    special = {t["content"]: t["id"] for t in act["added_tokens"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_string("general.name", name)
    w.add_string("mu.encoder.kind", "bert")
    # the encoder: llama.cpp's BERT keys, so one BERT loader reads this file and an all-MiniLM GGUF
    w.add_uint32("bert.context_length", b.n_ctx)
    w.add_uint32("bert.embedding_length", b.d_model)
    w.add_uint32("bert.feed_forward_length", b.d_ff)
    w.add_uint32("bert.block_count", b.n_layer)
    w.add_uint32("bert.attention.head_count", b.n_head)
    w.add_float32("bert.attention.layer_norm_epsilon", b.eps)
    w.add_bool("bert.attention.causal", False)
    w.add_uint32("bert.pooling_type", 1)  # llama.cpp's LLAMA_POOLING_TYPE_MEAN
    w.add_string("tokenizer.ggml.model", "bert")
    toks = bert_vocab_tokens(wordpiece_json)
    w.add_array("tokenizer.ggml.tokens", toks)
    w.add_array("tokenizer.ggml.token_type", [3 if t.startswith("[") and t.endswith("]") else 1 for t in toks])
    w.add_uint32("tokenizer.ggml.token_type_count", b.n_type)
    vocab = json.loads(wordpiece_json)["model"]["vocab"]
    for key, tok in (("unknown", "[UNK]"), ("seperator", "[SEP]"), ("padding", "[PAD]"), ("cls", "[CLS]"),
                     ("mask", "[MASK]")):
        w.add_uint32(f"tokenizer.ggml.{key}_token_id", vocab[tok])
    w.add_string("tokenizer.huggingface.json", _plain_tokenizer_json(wordpiece_json))
    # the decoder: the mu keys of v1, plus the encoder width its cross-attention reads
    w.add_uint32("mu.context_length", c.enc_ctx)
    w.add_uint32("mu.decoder.context_length", c.dec_ctx)
    w.add_uint32("mu.embedding_length", c.d_model)
    w.add_uint32("mu.feed_forward_length", c.d_ff)
    w.add_uint32("mu.encoder.block_count", b.n_layer)
    w.add_uint32("mu.encoder.embedding_length", b.d_model)
    w.add_uint32("mu.decoder.block_count", c.n_dec)
    w.add_uint32("mu.attention.head_count", c.n_head)
    w.add_uint32("mu.attention.head_count_kv", c.n_head_kv)
    w.add_float32("mu.attention.layer_norm_epsilon", c.eps)
    w.add_float32("mu.rope.freq_base", c.rope_base)
    w.add_uint32("mu.decoder.vocab_size", c.n_vocab)
    w.add_uint32("mu.decoder_start_token_id", special["<s>"])
    w.add_uint32("mu.decoder.eos_token_id", special["</s>"])
    w.add_uint32("mu.decoder.padding_token_id", special["<pad>"])
    w.add_string("mu.decoder.tokenizer.huggingface.json", actions_json)
    w.add_float32("mu.calibration.temperature", float(temperature))
    # v2 is trained on `get <id>` and `chat` (data.py), so the engine lets its decoder write them
    w.add_bool("mu.grammar.questions", True)
    # (the all-F32 file is a test fixture, never shipped: no size limit)
    return write_gguf(w, path, v2_arrays(params), lambda tname, a: not f32 and v2_is_q8(tname, a),
                      None if f32 else MAX_BYTES_V2, " of a v2 model")


def main(argv=None):
    from .train import load_params

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="knob-mu")
    ap.add_argument("--f32", action="store_true")
    ap.add_argument("--no-size-limit", action="store_true",
                    help="allow a v1 file over 16 MiB (the ~20M model of train/run-arch.sh, never embedded)")
    ap.add_argument("--actions", help="v2: the decoder's action vocabulary (actions.json); --tokenizer is then the WordPiece tokenizer.json")
    a = ap.parse_args(argv)
    from . import model_v2

    if model_v2.is_v2(Path(a.ckpt)):
        if not a.actions:
            raise SystemExit("a v2 checkpoint needs --actions (the decoder vocabulary)")
        cfg, params, meta = model_v2.load(Path(a.ckpt))
        t = meta.get("calibration", {}).get("temperature", 1.0)
        size = export_v2(cfg, params, Path(a.tokenizer).read_text(encoding="utf-8"),
                         Path(a.actions).read_text(encoding="utf-8"), Path(a.out), a.name, t, a.f32)
        print(f"wrote {a.out}: {size} bytes ({size / 2**20:.2f} MiB), v2 (bert encoder), temperature {t}")
        return
    cfg, params = load_params(Path(a.ckpt))
    size = export(cfg, params, Path(a.tokenizer).read_text(encoding="utf-8"), Path(a.out), a.name, a.f32,
                  max_bytes=None if a.no_size_limit else MAX_BYTES)
    print(f"wrote {a.out}: {size} bytes ({size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
