"""knobtrain.bert_gguf against the safetensors it converts, and the committed
all-MiniLM reference fixture against the HF tokenizer.

The MiniLM tests need KNOB_MINILM_GGUF (scripts/fetch-minilm.sh prints it; the
extracted model folder sits next to it). Under CI=true a missing file fails;
elsewhere those tests are skipped with the reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

import gguf
from knobtrain.bert_gguf import convert, gguf_name, phantom_vocab, read_safetensors
from knobtrain.bert_reference import TOKENIZER_CASES
from knobtrain.bert_tiny import TINY, tiny_weights, write_safetensors

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "minilm_reference.json"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "#", "##", "###"]


def tiny_model_dir(tmp: Path) -> Path:
    """A 2-layer BERT with a 12-token WordPiece vocabulary."""
    vocab = {t: i for i, t in enumerate(VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.save(str(tmp / "tokenizer.json"))
    (tmp / "config.json").write_text(json.dumps({**TINY, "vocab_size": len(VOCAB)}))
    write_safetensors(tmp / "model.safetensors", tiny_weights(len(VOCAB)))
    return tmp


def gguf_tensors(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        if t.tensor_type == gguf.GGMLQuantizationType.Q8_0:
            data = gguf.quants.dequantize(t.data, t.tensor_type)
        else:
            data = np.asarray(t.data, dtype=np.float32)
        shape = [int(d) for d in reversed(t.shape)]
        out[t.name] = (t.tensor_type.name, data.reshape(shape))
    return out


def gguf_fields(path: Path) -> dict:
    r = gguf.GGUFReader(str(path))
    return {f.name: f.contents() for f in r.fields.values() if not f.name.startswith("GGUF.")}


@pytest.mark.parametrize("outtype", ["f32", "f16", "q8_0"])
def test_converter_writes_every_tensor_in_llamacpp_layout(tmp_path, outtype):
    model = tiny_model_dir(tmp_path)
    out = tmp_path / "tiny.gguf"
    convert(model, out, outtype)
    src = read_safetensors(model / "model.safetensors")
    got = gguf_tensors(out)
    assert len(got) == 5 + 16 * TINY["num_hidden_layers"]
    assert set(got) == {gguf_name(n) for n in src}
    for hf_name, want in src.items():
        kind, data = got[gguf_name(hf_name)]
        assert data.shape == want.shape, hf_name
        # 1-D tensors, positions and token types stay f32, as llama.cpp keeps them.
        if want.ndim == 1 or "position" in hf_name or "token_type" in hf_name or outtype == "f32":
            assert kind == "F32", hf_name
            np.testing.assert_array_equal(data, want, err_msg=hf_name)
        elif outtype == "f16":
            assert kind == "F16", hf_name
            np.testing.assert_array_equal(data, want.astype(np.float16).astype(np.float32))
        else:
            assert kind == "Q8_0", hf_name
            # Q8_0: 8 bits per value with one f16 scale per 32 values: error
            # <= scale / 2 from rounding, plus 127 times the scale's f16
            # rounding (2^-11 relative).
            scale = np.abs(want).reshape(-1, 32).max(axis=1) / 127
            err = np.abs(data - want).reshape(-1, 32).max(axis=1)
            assert np.all(err <= scale * (0.5 + 127 / 2048)), hf_name


def test_converter_writes_llamacpp_metadata_and_phantom_vocab(tmp_path):
    model = tiny_model_dir(tmp_path)
    out = tmp_path / "tiny.gguf"
    convert(model, out, "f32")
    f = gguf_fields(out)
    assert f["general.architecture"] == "bert"
    assert f["bert.embedding_length"] == 32
    assert f["bert.feed_forward_length"] == 64
    assert f["bert.block_count"] == 2
    assert f["bert.attention.head_count"] == 4
    assert f["bert.context_length"] == 512
    assert f["bert.attention.causal"] is False
    assert f["bert.pooling_type"] == 1
    assert f["tokenizer.ggml.model"] == "bert"
    assert f["tokenizer.ggml.tokens"] == [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        "\u2581hello", "\u2581world", "s", "\u2581!", "\u2581#", "", "#",
    ]
    assert f["tokenizer.ggml.token_type"] == [3] * 5 + [1] * 7
    assert f["tokenizer.ggml.bos_token_id"] == 2
    assert f["tokenizer.ggml.eos_token_id"] == 3
    assert f["tokenizer.ggml.seperator_token_id"] == 3
    assert f["tokenizer.ggml.unknown_token_id"] == 1
    assert f["tokenizer.ggml.padding_token_id"] == 0
    assert f["tokenizer.ggml.normalizer.lowercase"] is True


def test_phantom_vocab_round_trips():
    control = {0, 1, 2, 3, 4}
    marked = phantom_vocab(VOCAB, control)
    back = [t if i in control else (t[1:] if t.startswith("\u2581") else "##" + t) for i, t in enumerate(marked)]
    assert back == VOCAB


def minilm_gguf() -> Path:
    path = os.environ.get("KNOB_MINILM_GGUF")
    if not path:
        why = "KNOB_MINILM_GGUF is not set (scripts/fetch-minilm.sh prints it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return Path(path)


def test_minilm_gguf_holds_the_safetensors_weights():
    path = minilm_gguf()
    src = read_safetensors(path.parent / "all-MiniLM-L6-v2" / "model.safetensors")
    got = gguf_tensors(path)
    used = {gguf_name(n): a for n, a in src.items() if gguf_name(n) is not None}
    assert set(got) == set(used)
    for name, want in used.items():
        np.testing.assert_array_equal(got[name][1], want, err_msg=name)


def test_minilm_fixture_token_ids_are_the_hf_tokenizers():
    path = minilm_gguf()
    tok = Tokenizer.from_file(str(path.parent / "all-MiniLM-L6-v2" / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert [c["text"] for c in fixture["tokenizer"]] == TOKENIZER_CASES
    for case in fixture["tokenizer"] + fixture["sentences"]:
        assert tok.encode(case["text"]).ids == case["ids"], case["text"]
