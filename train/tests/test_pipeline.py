"""Tests of the Python side: data determinism, grammar validity, split disjointness, export round trip."""
from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

from knobtrain.catalog import load_catalog, parse_catalog
from knobtrain.data import Generator, Split, generate, infer_example, lex_for, target_text, words
from knobtrain.grammar import GrammarError, check_programs, knob_bin, validate, validate_all

FIXTURE = Path(__file__).parent / "fixtures" / "catalog.json"


@pytest.fixture(scope="module")
def cat():
    return load_catalog(FIXTURE)


@pytest.fixture(scope="module")
def real_cat(tmp_path_factory):
    """The catalog the knob binary ships, exported as the training run reads it."""
    doc = subprocess.run([knob_bin(), "settings", "export", "--json"], capture_output=True, text=True, check=True)
    path = tmp_path_factory.mktemp("catalog") / "catalog.json"
    path.write_text(doc.stdout)
    return load_catalog(path)


@pytest.fixture(scope="module")
def splits(cat):
    return generate(cat, seed=7, n_train_per_setting=60, n_eval_per_setting=12)


def test_reader_ignores_unknown_fields_and_sorts(cat):
    assert [s.id for s in cat.settings] == sorted(s.id for s in cat.settings)
    s = cat.by_id()["display.brightness"]
    assert (s.type, s.min, s.max, s.unit) == ("int", 1.0, 100.0, "percent")
    odd = parse_catalog({"settings": [{"id": "a.b", "value": {"type": "string_list"}, "new": 1}], "later": {}})
    assert odd.settings[0].type == "string" and odd.presets == ()


def test_generation_is_deterministic(cat):
    a = generate(cat, seed=3, n_train_per_setting=20, n_eval_per_setting=4)
    b = generate(cat, seed=3, n_train_per_setting=20, n_eval_per_setting=4)
    c = generate(cat, seed=4, n_train_per_setting=20, n_eval_per_setting=4)
    assert a == b
    assert a != c


def test_every_target_is_in_the_grammar(cat, splits):
    train, ev = splits
    assert len(train) > 300 and len(ev) > 50
    validate_all([target_text(r["expect"]) for r in train + ev], cat)


def test_data_covers_every_setting_preset_and_negatives(cat, splits):
    train, _ = splits
    outs = " ; ".join(target_text(r["expect"]) for r in train)
    for s in cat.settings:
        assert f" {s.id}" in outs, s.id
    for p in cat.presets:
        assert f"preset {p.name}" in outs
    assert any(r["expect"] == ["none"] for r in train)
    assert any(len(r["expect"]) == 2 for r in train)  # two requests in one


def test_split_is_disjoint_by_family_and_synonym(cat, splits):
    train, ev = splits
    split = Split(7)
    gen = Generator(cat, 7)
    for r in train:
        for fam in r["family"].split("+"):
            assert not split.family_held(fam), (r, fam)
        for nm in r["name"].split("+"):
            owner, name = nm.split("|")
            if owner.startswith("preset:"):
                names = gen.pnames[owner[len("preset:"):]]
            elif owner in gen.names:
                names = gen.names[owner]
            else:
                continue
            assert not split.name_held(owner, name, names), (r, nm)
    train_q = {r["query"].lower() for r in train}
    for r in ev:
        assert r["query"].lower() not in train_q
        fam0 = r["family"].split("+")[0]
        nm0 = r["name"].split("+")[0]
        owner, name = nm0.split("|")
        if fam0.startswith("neg:"):
            continue
        names = gen.pnames[owner[7:]] if owner.startswith("preset:") else gen.names[owner]
        assert split.family_held(fam0) or split.name_held(owner, name, names), r


def test_split_keeps_meaning_carrying_symbols_in_training():
    # "+" and "-" are the only sign of the direction in "{n} +{a}": a template
    # that alone uses them cannot be held out, or the model never learns them
    from knobtrain.data import T

    split = Split(0)
    for intent in ("inc", "dec", "inc_by", "dec_by"):
        for i, tpl in enumerate(T[intent]):
            if "+" in tpl or "-" in tpl:
                assert not split.family_held(f"{intent}:{i}"), tpl
    assert Split._pick([0, 1], [{"+", "a"}, {"a"}], 1) == {1}


def test_string_values_are_literal_as_knobs_parser_reads_them():
    """knob's parser takes a quoted value literally (no escapes), so a Windows path in a
    target keeps the single backslashes its request shows, in the generated data and in
    the committed phrases alike."""
    from knobtrain.grammar import quote
    from knobtrain.phrases import DEFAULT_DIR

    assert quote(r"C:\Users\ana\cat.png") == '"C:\\Users\\ana\\cat.png"'
    with pytest.raises(GrammarError):
        quote('say "hi"')
    doc = json.loads(FIXTURE.read_text())
    wallpaper = dict(next(s for s in doc["settings"] if s["value"]["type"] == "string"),
                     id="appearance.wallpaper", title="Wallpaper picture", synonyms=["wallpaper"])
    doc["settings"].append(wallpaper)
    train, ev = generate(parse_catalog(doc), seed=7, n_train_per_setting=60, n_eval_per_setting=12)
    paths = [(r["query"], a) for r in train + ev for a in r["expect"] if "\\" in a]
    assert paths, "the generator should write some Windows paths"
    for query, action in paths:
        value = action.split('"')[1]
        assert "\\\\" not in value and value in query, (query, action)
    for f in sorted(DEFAULT_DIR.glob("*.jsonl")):
        for n, line in enumerate(open(f), 1):
            row = json.loads(line)
            for a in row["expect"]:
                assert "\\\\" not in a or "\\\\" in row["query"], f"{f.name}:{n}: {a}"


def test_grammar_rejects_bad_outputs(cat):
    for bad in ["set nope.x true", "set appearance.dark_mode maybe", "set display.brightness 101",
                "inc appearance.dark_mode", "toggle display.brightness", "preset nope", "set dock.position middle",
                "set time.timezone Europe/Berlin", "dec sound.volume -5", "", "set appearance.dark_mode true ;",
                "set sound.volume 20 ; inc sound.volume", "preset night ; preset night"]:
        with pytest.raises(GrammarError):
            validate(bad, cat)
    assert validate('set time.timezone "Europe/Berlin" ; inc sound.volume 5', cat) == [
        ("set", "time.timezone", '"Europe/Berlin"'), ("inc", "sound.volume", "5")]
    assert validate("none", cat) == []


def test_get_and_chat_are_the_binarys_to_judge(cat):
    # issue 16's intents: `get <id>` (one or more, distinct, existing ids) and `chat`,
    # judged by the binary like every other program (chat has no actions, as none)
    assert validate("chat", cat) == []
    assert validate("get appearance.dark_mode ; get sound.volume", cat) == [
        ("get", "appearance.dark_mode"), ("get", "sound.volume")]
    for bad in ["get nope.x", "get appearance.dark_mode true", "get sound.volume ; get sound.volume",
                "chat ; chat", "get sound.volume ; set sound.mute true", "chat ; get sound.volume", "get"]:
        with pytest.raises(GrammarError):
            validate(bad, cat)
    programs = ["set sound.volume 30", "chat", "toggle display.brightness", "get sound.volume"]
    verdicts = check_programs(programs, cat)
    assert [v["valid"] for v in verdicts] == [True, True, False, True]
    assert [v["program"] for v in verdicts] == programs
    assert verdicts[1] == {"program": "chat", "valid": True, "error": None, "actions": [], "targets": []}


def test_get_and_chat_programs_go_to_the_binary(cat, tmp_path, monkeypatch):
    # A stand-in binary that rejects everything: no program is judged in Python.
    stub = tmp_path / "knob"
    stub.write_text("#!/bin/sh\nwhile read -r line; do\n"
                    "echo '{\"program\":\"x\",\"valid\":false,\"error\":\"stub says no\",\"actions\":[],\"targets\":[]}'\n"
                    "done\nexit 1\n")
    stub.chmod(0o755)
    monkeypatch.setenv("KNOB_BIN", str(stub))
    for program in ["chat", "get sound.volume", "get appearance.dark_mode ; get sound.volume"]:
        with pytest.raises(GrammarError, match="^stub says no$"):
            validate(program, cat)
    verdicts = check_programs(["chat", "none", "get sound.volume"], cat)
    assert [v["error"] for v in verdicts] == ["stub says no"] * 3


def test_grammar_errors_are_the_binarys_own(cat):
    # The Python side has no grammar of its own: its verdicts are exactly those of
    # `knob settings check-program` on the same catalog.
    bad = ["set display.brightness 101", "toggle display.brightness", "preset night ; preset night", ""]
    fixture = str(FIXTURE)
    r = subprocess.run([knob_bin(), "settings", "check-program", "--json", "--catalog", fixture],
                       input="".join(b + "\n" for b in bad), capture_output=True, text=True, check=False)
    assert r.returncode == 1, r.stderr
    want = [json.loads(line)["error"] for line in r.stdout.splitlines()]
    assert len(want) == len(bad) and all(want)
    for program, error in zip(bad, want):
        with pytest.raises(GrammarError) as e:
            validate(program, cat)
        assert str(e.value) == error
    assert [v["error"] for v in check_programs(bad, cat)] == want


def test_validation_runs_the_knob_binary(cat, tmp_path, monkeypatch):
    # A stand-in binary that rejects everything proves which program decides.
    stub = tmp_path / "knob"
    stub.write_text("#!/bin/sh\ncat >/dev/null\n"
                    "echo '{\"program\":\"none\",\"valid\":false,\"error\":\"stub says no\",\"actions\":[],\"targets\":[]}'\n"
                    "exit 1\n")
    stub.chmod(0o755)
    monkeypatch.setenv("KNOB_BIN", str(stub))
    with pytest.raises(GrammarError, match="^stub says no$"):
        validate("none", cat)


def test_example_labels(cat):
    ids = cat.by_id()
    assert infer_example(ids["display.brightness"], "the screen is too dark", lex_for(ids["display.brightness"])) == "inc display.brightness"
    assert infer_example(ids["display.brightness"], "set the brightness to 70%", None) == "set display.brightness 70"
    assert infer_example(ids["night_light.start_time"], "start night light at 9 pm", None) == "set night_light.start_time 21"
    assert infer_example(ids["text.size"], "increase font size by 25%", None) == "inc text.size 0.25"
    assert infer_example(ids["appearance.dark_mode"], "is dark mode on?", None) == "get appearance.dark_mode"  # a read, not a change
    assert words(42) == "forty-two" and words(1500) == "one thousand five hundred"


def test_export_round_trip(tmp_path, cat):
    import gguf
    import jax

    from knobtrain.export import export, gguf_arrays, q8_0_roundtrip, read_back
    from knobtrain.model import Config, init_params

    cfg = Config(n_vocab=50, d_model=64, d_ff=96, n_enc=2, n_dec=1, n_head=4, n_head_kv=2)
    params = init_params(cfg, jax.random.PRNGKey(0))
    tok_json = json.dumps({"version": "1.0", "model": {"type": "BPE"}})
    for f32 in (False, True):
        path = tmp_path / f"m{int(f32)}.gguf"
        export(cfg, params, tok_json, path, "t", f32=f32)
        meta, tensors = read_back(path)
        assert meta["general.architecture"] == "mu"
        assert meta["mu.embedding_length"] == 64 and meta["mu.encoder.block_count"] == 2
        assert meta["mu.attention.head_count_kv"] == 2 and meta["tokenizer.huggingface.json"] == tok_json
        ga = gguf_arrays(params)
        assert set(tensors) == set(ga)
        assert len(tensors) == 1 + 2 * (7 + 8) + 1 * (11 + 12) + 4
        for name, a in ga.items():
            got, typ = tensors[name]
            assert got.shape == a.shape, name
            if a.ndim == 1 or f32:
                assert typ == gguf.GGMLQuantizationType.F32
                np.testing.assert_array_equal(got, a)
            else:
                assert typ == gguf.GGMLQuantizationType.Q8_0
                np.testing.assert_allclose(got, q8_0_roundtrip(a), atol=1e-6)
                assert np.max(np.abs(got - a)) <= np.max(np.abs(a)) / 127 + 1e-6
        # linear weights are stored as (out, in): attn_q maps d_model -> n_head * d_head
        assert tensors["enc.blk.0.ffn_down.weight"][0].shape == (64, 96)


def test_wsd_schedule_shape():
    from knobtrain.train import wsd

    assert wsd(1.0, 0.0) == 0.0
    assert wsd(1.0, 0.025) == pytest.approx(0.5)
    assert wsd(1.0, 0.05) == 1.0 and wsd(1.0, 0.79) == 1.0
    assert wsd(1.0, 0.9) == pytest.approx(0.02 + 0.98 * 0.5)
    assert wsd(1.0, 1.0) == pytest.approx(0.02)


def test_golden_file_matches_the_model(tmp_path, cat):
    import jax

    from knobtrain import model as M
    from knobtrain.golden import make_golden
    from knobtrain.tokenizer import train_tokenizer
    from knobtrain.train import save_params

    train, _ = generate(cat, seed=2, n_train_per_setting=10, n_eval_per_setting=1)
    tok = train_tokenizer([r["query"] for r in train] + [target_text(r["expect"]) for r in train], cat, 400)
    tok.save(str(tmp_path / "tokenizer.json"))
    cfg = M.Config(n_vocab=tok.get_vocab_size(), d_model=64, d_ff=96, n_enc=2, n_dec=1, n_head=4, n_head_kv=2)
    params = M.init_params(cfg, jax.random.PRNGKey(1))
    save_params(tmp_path / "m.npz", cfg, params)
    g = make_golden(tmp_path / "m.npz", tmp_path / "tokenizer.json", tmp_path / "golden.json", "a.gguf", "b.gguf")
    assert json.loads((tmp_path / "golden.json").read_text())["config"]["d_model"] == 64
    c = g["cases"][0]
    assert c["dec_ids"][0] == tok.token_to_id("<s>")
    lf = np.array(c["logits_f32"])
    assert lf.shape == (len(c["dec_ids"]), tok.get_vocab_size())
    assert len(c["enc_layers_f32"]) == 2 and np.array(c["enc_out_f32"]).shape == (len(c["enc_ids"]), 64)
    want = np.asarray(M.forward(cfg, params, np.array([c["enc_ids"]]), np.array([c["dec_ids"]]))[0])
    np.testing.assert_allclose(lf, want, atol=1e-5)
    lq = np.array(c["logits_q8"])
    diff = np.max(np.abs(lq - lf))
    assert 0 < diff <= g["tolerance"]["q8_0_gguf_vs_logits_f32"]["max_abs"]


def test_dropout_is_identity_at_inference_and_scaled_in_training():
    import jax
    import jax.numpy as jnp

    from knobtrain import model as M

    x = jnp.ones((64, 128))
    assert M.NO_DROPOUT(x) is x
    assert M.Dropout(0.0, jax.random.PRNGKey(0))(x) is x
    d = M.Dropout(0.25, jax.random.PRNGKey(0))
    y, y2 = np.asarray(d(x)), np.asarray(d(x))
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8  # about 1 - rate kept
    np.testing.assert_allclose(y[kept], 1 / 0.75)  # inverted dropout keeps the expectation
    assert (y != y2).any()  # each call draws a fresh mask
    cfg = M.Config(n_vocab=50, d_model=32, d_ff=48, n_enc=1, n_dec=1, n_head=4, n_head_kv=2)
    p = M.init_params(cfg, jax.random.PRNGKey(1))
    enc, dec = jnp.array([[5, 6, 7, 0]]), jnp.array([[1, 8, 9]])
    plain = np.asarray(M.forward(cfg, p, enc, dec))
    np.testing.assert_array_equal(plain, np.asarray(M.forward(cfg, p, enc, dec, M.Dropout(0.0, jax.random.PRNGKey(3)))))
    assert not np.allclose(plain, np.asarray(M.forward(cfg, p, enc, dec, M.Dropout(0.3, jax.random.PRNGKey(3)))))


def _write_phrases(tmp_path, lines):
    d = tmp_path / "phrases"
    d.mkdir(exist_ok=True)
    (d / "a.jsonl").write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    return d


def test_phrases_are_checked_with_file_and_line(tmp_path, cat):
    from knobtrain.phrases import PhraseError, load_phrases

    good = {"query": "my screen is blinding", "expect": ["dec display.brightness"]}
    cases = [
        ("{not json", "a.jsonl:2: bad JSON"),
        ({"query": "x", "expect": ["set display.brightness 500"]}, "a.jsonl:2: '500' is not a valid value for display.brightness: out of range 1..=100"),
        ({"query": "x", "expect": ["set nope.nothing true"]}, "a.jsonl:2: unknown setting 'nope.nothing'"),
        ({"query": "", "expect": ["none"]}, "a.jsonl:2: 'query' must be"),
        ({"query": "x", "expect": "none"}, "a.jsonl:2: 'expect' must be"),
        ({"query": "MY SCREEN IS BLINDING", "expect": ["none"]}, "a.jsonl:2: duplicate query (first in a.jsonl:1)"),
        ({"query": "x", "expect": ["set appearance.dark_mode true ; inc display.brightness"]},
         "a.jsonl:2: 2 actions in 1 item(s) of 'expect': write each action as its own string"),
    ]
    for bad, msg in cases:
        d = _write_phrases(tmp_path, [good, bad])
        with pytest.raises(PhraseError) as e:
            load_phrases(d, cat)
        assert str(e.value).startswith(msg), (str(e.value), msg)
    # a catalog slice skips phrases about settings it does not have
    d = _write_phrases(tmp_path, [good, {"query": "x", "expect": ["set nope.nothing true"]}])
    assert load_phrases(d, cat, only_known=True) == [good]


def test_phrases_are_trained_on_noised_and_paired(cat):
    from knobtrain.phrases import held_out

    ph = [{"query": "my screen is blinding", "expect": ["dec display.brightness"]},
          {"query": "i can barely hear anything", "expect": ["inc sound.volume"]},
          {"query": "I moved, Use America/Sao_Paulo Time Please", "expect": ['set time.timezone "America/Sao_Paulo"']}]
    train, _ = generate(cat, seed=5, n_train_per_setting=10, n_eval_per_setting=2, phrases=ph)
    rows = [r for r in train if r["family"].startswith("phrase")]
    for p in ph:
        assert any(r["query"] == p["query"] for r in rows), p  # as written
        assert sum(r["expect"] == p["expect"] for r in rows) >= 2, p  # and noised copies
    assert any(r["family"] == "phrase:pair" and len(r["expect"]) == 2 for r in rows)
    for r in rows:  # a value to copy is never re-cased or typo'd
        for a in r["expect"]:
            if '"' in a:
                assert a.split('"')[1] in r["query"], r
    # the held-out eighth is a fixed function of the text
    assert held_out("abc") == held_out(" ABC ") and any(held_out(f"q{i}") for i in range(20))


def test_one_verb_over_several_settings_gives_each_the_same_action(cat):
    # "turn off wifi and bluetooth" switches both off; the old pairs always repeated the verb
    gen = Generator(cat, 3)
    rng = random.Random(3)
    rows = [r for r in (gen.shared(rng, "train") for _ in range(300)) if r]
    assert len(rows) > 200
    ids = cat.by_id()
    for r in rows:
        verbs = {a.split(" ")[0] + (" " + a.split(" ")[2] if a.startswith("set ") else "") for a in r["expect"]}
        assert len(verbs) == 1, r
        assert len(r["expect"]) in (2, 3) and len({a.split(" ")[1] for a in r["expect"]}) == len(r["expect"]), r
        for a in r["expect"]:
            want = ("bool",) if a.startswith("set ") else ("int", "float")
            assert ids[a.split(" ")[1]].type in want, r
    assert any(len(r["expect"]) == 3 for r in rows)


def test_a_reason_clause_adds_no_action_and_is_held_out_by_sentence(cat):
    from knobtrain.data import REASONS

    gen = Generator(cat, 5)
    rng = random.Random(5)
    train = [r for r in (gen.with_reason(rng, "train") for _ in range(200)) if r]
    ev = [r for r in (gen.with_reason(rng, "eval") for _ in range(200)) if r]
    held = {i for i in range(len(REASONS)) if gen.split.family_held(f"reason:{i}")}
    assert 0 < len(held) < len(REASONS)
    for rows, want_held in ((train, False), (ev, True)):
        for r in rows:
            i = int(r["family"].split(":")[1])
            assert REASONS[i] in r["query"]
            assert (i in held) == want_held, r
            assert len(r["expect"]) == 1, r


def test_blind_requests_are_never_trained_on():
    from knobtrain.prepare import BLIND, drop_excluded

    rows = [{"query": "Turn on sticky keys!"}, {"query": "turn on sticky keys please"}, {"query": "vol 30"}]
    kept = drop_excluded(rows, ["turn on sticky keys", "Vol 30."])
    assert [r["query"] for r in kept] == ["turn on sticky keys please"]
    assert [p.name for p in BLIND] == ["natural_requests.jsonl", "hard_requests.jsonl", "natural_requests_2.jsonl"]
    assert all(p.exists() for p in BLIND)  # the default exclusion points at the real sets


def test_calibration_requests_are_never_trained_on():
    from knobtrain.prepare import BLIND, CALIBRATION, default_excludes

    calib = sorted(str(p) for p in CALIBRATION.glob("*.jsonl"))
    assert calib, f"no calibration requests in {CALIBRATION}"
    assert default_excludes() == [str(p) for p in BLIND] + calib


def test_prepare_keeps_a_given_action_vocabulary_and_never_trains_on_held_out_phrases(tmp_path):
    """`--actions` copies the vocabulary byte for byte (a continued model's token ids must not
    move), and a held-out phrase is not trained on, not even as another phrase that differs
    from it only in case and punctuation."""
    from knobtrain.phrases import held_out
    from knobtrain.prepare import _words_of, main as prepare

    queries = [f"turn on dark mode {w}" for w in ("now", "please", "today", "asap", "thanks", "again", "quickly",
                                                   "right away", "for me", "soon", "at once", "if you can")]
    held = next(q for q in queries if held_out(q))
    twin = next(t for t in (held.upper() + suffix for suffix in ("!", "!!", ".", "?!", "...")) if not held_out(t))
    phrases = tmp_path / "phrases"
    phrases.mkdir()
    (phrases / "p.jsonl").write_text("".join(json.dumps({"query": q, "expect": ["set appearance.dark_mode true"]}) + "\n"
                                             for q in queries + [twin]))
    (tmp_path / "none.jsonl").write_text("")
    common = ["--catalog", str(FIXTURE), "--per-setting", "4", "--eval-per-setting", "2", "--vocab", "300",
              "--phrases", str(phrases), "--exclude", str(tmp_path / "none.jsonl")]
    prepare(common + ["--out", str(tmp_path / "a"), "--decoder-vocab", "300"])
    vocab = (tmp_path / "a" / "actions.json").read_bytes()
    prepare(common + ["--out", str(tmp_path / "b"), "--actions", str(tmp_path / "a" / "actions.json")])
    assert (tmp_path / "b" / "actions.json").read_bytes() == vocab
    trained = {_words_of(json.loads(line)["query"]) for line in open(tmp_path / "b" / "train.jsonl")}
    assert _words_of(held) not in trained
    assert any(_words_of(q) in trained for q in queries if not held_out(q))  # the others are trained on


def test_the_shipped_phrases_and_calibration_requests_pass_their_checks(real_cat):
    """Every committed phrase and calibration request is valid against the real catalog (the full
    run would stop on the first bad one), and no calibration request repeats a phrase's words."""
    from knobtrain.phrases import DEFAULT_DIR, load_phrases
    from knobtrain.prepare import CALIBRATION, _words_of

    phrases = load_phrases(DEFAULT_DIR, real_cat)
    calib = load_phrases(CALIBRATION, real_cat)
    assert len(phrases) > 15000 and len(calib) >= 500
    assert not {_words_of(r["query"]) for r in calib} & {_words_of(r["query"]) for r in phrases}


def test_names_of_the_opposite_turn_the_direction_around(real_cat):
    """ "turn on am/pm" is the 12-hour clock and "more warmth" a lower colour temperature: the
    catalog synonyms that name the opposite of a setting's value never stand for the setting as
    plain names, and when used, flip the action (a value given outright stays). Checked on the
    real catalog, so a renamed synonym cannot make the list silently empty."""
    from knobtrain.data import FLIPPED, INVERSE_NAMES, clean_names

    ids = real_cat.by_id()
    gen = Generator(real_cat, 11)
    for sid, inverse in INVERSE_NAMES.items():
        assert ids[sid].type in ("bool", "int", "float"), sid
        # each is a name the generator would otherwise have used as the setting's own
        assert set(inverse) <= set(clean_names(ids[sid])), (sid, inverse)
        assert gen.inverse[sid] == list(inverse) and not set(inverse) & set(gen.names[sid]), sid

    def does(sid, r):
        a = r["expect"][0].split(" ")
        if a[0] == "set" and ids[sid].type == "bool":
            return "on" if a[2] == "true" else "off"
        if a[0] == "set":
            v = float(a[2])
            return "max" if v == ids[sid].max else "min" if v == ids[sid].min else "set"
        return a[0] + ("_by" if len(a) == 3 else "")

    flipped = {sid: 0 for sid in INVERSE_NAMES}
    rng = random.Random(11)
    for sid in INVERSE_NAMES:
        for _ in range(1500):
            r = gen.single(rng, ids[sid], "train")
            intent = r["family"].split(":")[0]
            if not any(n in r["query"] for n in INVERSE_NAMES[sid]) or intent not in FLIPPED:
                continue
            flipped[sid] += 1
            assert len(r["expect"]) == 1 and does(sid, r) == FLIPPED[intent], r
    assert all(n >= 10 for n in flipped.values()), flipped
    # the other generators never pair them with a literal direction
    for _ in range(300):
        for r in (gen.shared(rng, "train"), gen.polarity(rng, ids["clock.24_hour"], "train")):
            assert r is None or "am/pm" not in r["query"], r


def test_run_v2_refuses_flags_that_do_not_go_together():
    """run-v2.sh checks its arguments before it installs or trains anything."""
    script = Path(__file__).resolve().parents[1] / "run-v2.sh"
    for args, msg in ((["--soup"], "--soup averages a continued model"),
                      (["--continue-from", "x.gguf", "--smoke"], "--continue-from is a full run"),
                      (["--grow-decoder", "4"], "--grow-decoder N (a block count) deepens"),
                      (["--continue-from", "x.gguf", "--grow-decoder", "four"], "--grow-decoder N (a block count) deepens"),
                      (["--bogus"], "unknown argument --bogus")):
        r = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
