"""Byte-level BPE tokenizer trained on the corpus (queries and outputs).

Setting ids and preset names are added tokens written with their leading
space (" appearance.dark_mode"), so an id is always exactly one token in the
output. Digits are split one per token before the byte-level step. Special tokens: <pad>=0, <s>=1 (decoder start), </s>=2 (end of output).
"""
from __future__ import annotations

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from .catalog import Catalog

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIAL = [PAD, BOS, EOS]


def train_tokenizer(texts, cat: Catalog, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    # digits are single tokens, so the model copies numbers digit by digit
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    extra = [" " + s.id for s in cat.settings] + [" " + p.name for p in cat.presets]
    tok.add_tokens([AddedToken(t, single_word=False, lstrip=False, rstrip=False, normalized=False) for t in extra])
    assert tok.token_to_id(PAD) == 0 and tok.token_to_id(BOS) == 1 and tok.token_to_id(EOS) == 2
    return tok


def encode(tok: Tokenizer, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False).ids


def decode(tok: Tokenizer, ids) -> str:
    return tok.decode([int(i) for i in ids], skip_special_tokens=True)
