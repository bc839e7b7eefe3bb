#!/usr/bin/env python3
"""Makes the llama.cpp reference fixtures for knob's real-model tests.

Run once, by hand (not in CI):

    python3 -m venv /work/llamacpp-venv
    CMAKE_ARGS="-DGGML_NATIVE=ON" /work/llamacpp-venv/bin/pip install llama-cpp-python==0.3.36 gguf
    /work/llamacpp-venv/bin/python scripts/make_llamacpp_refs.py \
        /work/models/SmolLM2-135M-Instruct.Q4_1.gguf tests/fixtures/smollm2_llamacpp_refs.json

With a third argument `f16` it records only the chats' greedy steps, with
llama.cpp's default f16 KV cache, into a separate fixture
(tests/fixtures/smollm2_llamacpp_refs_f16kv.json: knob's default cache is
f16 too):

    .../python scripts/make_llamacpp_refs.py MODEL.Q4_1.gguf \
        tests/fixtures/smollm2_llamacpp_refs_f16kv.json f16

It re-quantizes the Q4_1 file to Q8_0 with llama.cpp's own quantizer
(llama-quantize --allow-requantize, which knob's load-time re-quantization
matches bit for bit), then with llama.cpp on that Q8_0 file records:
- token ids of a dozen varied strings (with and without the tokenizer's
  automatic special tokens, special-token text parsed);
- for several chat prompts (rendered with the file's chat template): the
  greedy continuation, and at every step the top-5 logits and the gap between
  the best two (a gap under 0.1 is a near-tie that may legitimately flip).
The KV cache is f32, as knob's is.
"""
import hashlib
import json
import os
import sys

import gguf
import llama_cpp
import numpy as np
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

STRINGS = [
    "Hello, world!",
    "  leading spaces and\ttabs\nnewlines\n\n",
    "Café crème brûlée à la française — naïve",
    "ÀÉÎÕÜ ñ ß ø å Œ",
    "日本語のテキストと中文字符",
    "Emoji: 🦀🚀👩‍💻 done 🎉",
    'fn main() {\n    println!("{}", 42);\n}',
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "Numbers 1234567890 and 3.14159, -42",
    "URL https://example.com/path?q=1&r=2#frag",
    "don't won't I'm you're they'll",
    "Mixed: naïve café 東京 🎉 <|im_end|> end",
]

CHATS = [
    (None, "What is the capital of France?"),
    (None, "Write a haiku about the sea."),
    (None, "How do I make my screen brighter on Linux?"),
    (None, "List three fruits."),
    ("You are a terse assistant.", "Explain what a CPU does in one sentence."),
    (None, "Translate 'good morning' to Spanish."),
]

MAX_NEW = 40

# LLAMA_NO_EXTRA_BUFTS=1 loads models without llama.cpp's extra buffer types
# (weight repacking, AMX): llama-cpp-python 0.3.36's AMX mul_mat crashes on
# this model (SIGSEGV in ggml_backend_amx_mul_mat, seen on a Xeon with
# AMX-INT8), and the f16-KV fixture was made this way.
if os.environ.get("LLAMA_NO_EXTRA_BUFTS"):
    _default_params = llama_cpp.llama_model_default_params

    def _no_extra_bufts():
        p = _default_params()
        p.use_extra_bufts = False
        return p

    # llama_cpp.Llama calls it through the llama_cpp.llama_cpp module
    llama_cpp.llama_model_default_params = _no_extra_bufts
    llama_cpp.llama_cpp.llama_model_default_params = _no_extra_bufts


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checksum(data: bytes) -> str:
    """sum(byte[i] * (i % 65521 + 1)) mod 2^64, as hex: any single changed
    byte changes it (tests/integration/real_model.rs computes the same)."""
    b = np.frombuffer(data, dtype=np.uint8).astype(np.uint64)
    w = (np.arange(len(b), dtype=np.uint64) % np.uint64(65521)) + np.uint64(1)
    return format(int(np.sum(b * w, dtype=np.uint64)), "016x")


def greedy_chats(llm, vocab):
    """Greedy steps (token, top-5 logits, top-2 gap) for every chat in CHATS."""
    template = llm.metadata.get("tokenizer.chat_template")
    eos = llm.token_eos()
    fmt = Jinja2ChatFormatter(template=template, eos_token=llm.detokenize([eos]).decode(), bos_token="")
    chats = []
    for system, user in CHATS:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        prompt = fmt(messages=messages).prompt
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        steps = []
        for _ in range(MAX_NEW):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).copy()
            order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[:5]
            tok = order[0]
            steps.append(
                {
                    "token": tok,
                    "top5": [[i, float(logits[i])] for i in order],
                    "gap": float(logits[order[0]] - logits[order[1]]),
                }
            )
            if llama_cpp.llama_vocab_is_eog(vocab, tok):
                break
            llm.eval([tok])
        text = llm.detokenize([s["token"] for s in steps if not llama_cpp.llama_vocab_is_eog(vocab, s["token"])])
        chats.append(
            {
                "system": system,
                "user": user,
                "prompt": prompt,
                "prompt_ids": ids,
                "steps": steps,
                "text": text.decode("utf-8", "replace"),
            }
        )
    return chats


def f16_kv_refs(q8, out):
    """The chats with llama.cpp's default f16 KV cache (no flash attention)."""
    llm = llama_cpp.Llama(
        model_path=q8,
        n_ctx=1024,
        n_batch=512,
        n_threads=2,
        n_threads_batch=2,
        type_k=1,  # GGML_TYPE_F16
        type_v=1,
        flash_attn=False,
        verbose=False,
    )
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    doc = {
        "about": "llama.cpp references with an f16 KV cache for tests/integration/real_model.rs, made by scripts/make_llamacpp_refs.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode(),
        "q8_0_model_sha256": sha256(q8),
        "kv_cache": "f16",
        "extra_buffer_types": not os.environ.get("LLAMA_NO_EXTRA_BUFTS"),
        "chats": greedy_chats(llm, vocab),
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(doc['chats'])} chats with an f16 KV cache")


def main():
    src, out = sys.argv[1], sys.argv[2]
    q8 = src.replace(".Q4_1.gguf", ".Q8_0.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), q8.encode(), params)
    assert rc == 0, f"llama_model_quantize failed: {rc}"
    if len(sys.argv) > 3 and sys.argv[3] == "f16":
        f16_kv_refs(q8, out)
        return

    llm = llama_cpp.Llama(
        model_path=q8,
        n_ctx=1024,
        n_batch=512,
        n_threads=2,
        n_threads_batch=2,
        type_k=0,  # GGML_TYPE_F32
        type_v=0,
        flash_attn=False,
        verbose=False,
    )
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    tokenize = []
    for s in STRINGS:
        tokenize.append(
            {
                "text": s,
                "ids": llm.tokenize(s.encode(), add_bos=False, special=True),
                "ids_with_special": llm.tokenize(s.encode(), add_bos=True, special=True),
            }
        )

    chats = greedy_chats(llm, vocab)

    # The same weights dequantized to F32: llama.cpp then keeps activations in
    # f32 too, so this checks the model's math with no quantization noise.
    f32 = src.replace(".Q4_1.gguf", ".F32.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = 2
    assert llama_cpp.llama_model_quantize(q8.encode(), f32.encode(), params) == 0
    del llm
    llm = llama_cpp.Llama(
        model_path=f32, n_ctx=1024, n_batch=512, n_threads=2, n_threads_batch=2,
        type_k=0, type_v=0, flash_attn=False, verbose=False,
    )
    for chat in chats:
        llm.reset()
        llm.eval(chat["prompt_ids"])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).copy()
        chat["f32_weights_top5"] = [[i, float(logits[i])] for i, _ in chat["steps"][0]["top5"]]

    # Per-tensor checksums of the Q8_0 file's data, to show that knob's
    # load-time re-quantization of the Q4_1 file gives the same bytes.
    reader = gguf.GGUFReader(q8)
    checksums = {t.name: checksum(bytes(t.data.tobytes())) for t in reader.tensors}

    doc = {
        "about": "llama.cpp references for tests/integration/real_model.rs, made by scripts/make_llamacpp_refs.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode(),
        "source_model": src.rsplit("/", 1)[-1],
        "source_sha256": sha256(src),
        "q8_0_model_sha256": sha256(q8),
        "kv_cache": "f32",
        "tensor_checksums": checksums,
        "tokenize": tokenize,
        "chats": chats,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(tokenize)} strings, {len(chats)} chats; Q8_0 model at {q8}")


if __name__ == "__main__":
    main()
