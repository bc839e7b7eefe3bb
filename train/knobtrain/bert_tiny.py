"""A tiny random-weight BERT with all-MiniLM-L6-v2's real vocabulary, for
tests that must run everywhere without downloads.

    python -m knobtrain.bert_tiny MINILM_DIR OUT_DIR

writes OUT_DIR/{config.json, model.safetensors, tokenizer.json, ...} (2 layers,
width 32, 4 heads; every weight is an exact float16 value, so an F16 GGUF of
it holds exactly these numbers) and OUT_DIR/reference.json: token ids and
sentence vectors from knobtrain.bert_reference on the same weights.
Deterministic: the same seed gives the same bytes.

tests/fixtures/bert_tiny.gguf is OUT_DIR converted by llama.cpp's own
convert_hf_to_gguf.py --outtype f16 (vendored in the PyPI sdist
llama-cpp-python 0.3.36; it needs torch and transformers), and
tests/fixtures/bert_tiny_reference.json is OUT_DIR/reference.json.
`python -m knobtrain.bert_gguf OUT_DIR x.gguf --outtype f16` writes the same
tensors, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

from .bert_reference import SENTENCES, Bert

TINY = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_act": "gelu",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
    "pad_token_id": 0,
}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """A .safetensors file of f32 tensors (the format: u64 header length,
    JSON header with byte offsets, raw little-endian data)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def tiny_weights(vocab_size: int, seed: int = 16) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = TINY
    d, ff = c["hidden_size"], c["intermediate_size"]

    def f16(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float16).astype(np.float32)

    def mat(n: int, k: int) -> np.ndarray:
        return f16(rng.normal(0.0, 1.0 / np.sqrt(k), (n, k)))

    def vec(n: int, mean: float = 0.0, std: float = 0.1) -> np.ndarray:
        return f16(mean + rng.normal(0.0, std, n))

    w = {
        "embeddings.word_embeddings.weight": f16(rng.normal(0.0, 0.5, (vocab_size, d))),
        "embeddings.position_embeddings.weight": f16(rng.normal(0.0, 0.5, (c["max_position_embeddings"], d))),
        "embeddings.token_type_embeddings.weight": f16(rng.normal(0.0, 0.5, (2, d))),
        "embeddings.LayerNorm.weight": vec(d, 1.0),
        "embeddings.LayerNorm.bias": vec(d),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name, n, k in [
            ("attention.self.query", d, d),
            ("attention.self.key", d, d),
            ("attention.self.value", d, d),
            ("attention.output.dense", d, d),
            ("intermediate.dense", ff, d),
            ("output.dense", d, ff),
        ]:
            w[p + name + ".weight"] = mat(n, k)
            w[p + name + ".bias"] = vec(n)
        for name in ["attention.output.LayerNorm", "output.LayerNorm"]:
            w[p + name + ".weight"] = vec(d, 1.0)
            w[p + name + ".bias"] = vec(d)
    return w


def make_tiny(minilm_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # The vocabulary, and sentence-transformers' modules (mean pooling, then
    # Normalize) that llama.cpp's converter reads bert.pooling_type from.
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "modules.json"]:
        shutil.copy(minilm_dir / name, out_dir / name)
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    pooling = json.loads((minilm_dir / "1_Pooling" / "config.json").read_text())
    pooling["word_embedding_dimension"] = TINY["hidden_size"]
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=1))
    vocab_size = len(json.loads((out_dir / "tokenizer.json").read_text())["model"]["vocab"])
    (out_dir / "config.json").write_text(json.dumps({**TINY, "vocab_size": vocab_size}, indent=1))
    write_safetensors(out_dir / "model.safetensors", tiny_weights(vocab_size))
    bert = Bert(out_dir)
    sentences = []
    for text in SENTENCES:
        ids, v = bert.embed(text)
        sentences.append({"text": text, "ids": ids, "embedding": [round(float(x), 8) for x in v]})
    reference = {
        "model": "bert-tiny: random weights (knobtrain.bert_tiny, seed 16), all-MiniLM-L6-v2's vocabulary",
        "made_by": "python -m knobtrain.bert_tiny (numpy float64 reference, HF tokenizers)",
        "dimensions": TINY["hidden_size"],
        "sentences": sentences,
    }
    (out_dir / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("minilm_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args()
    make_tiny(args.minilm_dir, args.out_dir)


if __name__ == "__main__":
    main()
