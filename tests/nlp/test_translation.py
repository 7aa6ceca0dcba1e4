"""Translator: learns the synthetic corpus, beam vs greedy, bad input, save/load, export, CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from common.export import read_warmup_requests
from nlp.translation import Translator
from nlp.translation.data import make_synthetic_translation
from tests.nlp.parity import serve_in_fresh_process

SMALL = dict(
    source_language="en",
    target_language="de-synthetic",
    vocabulary_size=200,
    max_source_length=24,
    max_target_length=24,
    embed_dim=64,
    encoder_layers=1,
    decoder_layers=1,
    num_heads=2,
    intermediate_dim=128,
    dropout=0.0,
    learning_rate=3e-3,
    batch_size=32,
    beam_size=3,
)
SAMPLES = [
    "The old dog is running in the park.",
    "A happy girl is singing a song.",
    "x",
    "Éine  Straße 😀 ?",
]


@pytest.fixture(scope="module")
def data():
    return make_synthetic_translation(640, seed=0), make_synthetic_translation(60, seed=1)


@pytest.fixture(scope="module")
def translator(data):
    model = Translator(**SMALL)
    model.fit(data[0], epochs=5, verbose=0)
    return model


@pytest.mark.slow
def test_learns_the_template_corpus(translator, data):
    report = translator.evaluate(data[1], decoding="greedy", samples=3)
    # an untrained or copy-the-source model scores near 0 BLEU on these German targets
    assert report["bleu"] >= 90 and report["chrf"] >= 90
    assert report["num_examples"] == 60 and len(report["samples"]) == 3
    assert set(report["samples"][0]) == {"source", "reference", "translation"}
    assert "tok:13a" in report["bleu_signature"]


def test_beam_never_scores_below_greedy_and_beam_of_one_is_greedy(translator, data):
    texts = data[1].sources[:20] + SAMPLES
    greedy = translator.predict(texts, decoding="greedy")
    beam = translator.predict(texts, decoding="beam", beam_size=4)
    one = translator.predict(texts, decoding="beam", beam_size=1)
    assert all(b["score"] >= g["score"] - 1e-5 for b, g in zip(beam, greedy, strict=True))
    assert [r["translation"] for r in one] == [r["translation"] for r in greedy]
    np.testing.assert_allclose([r["score"] for r in one], [r["score"] for r in greedy], atol=1e-6)
    single = translator.predict(texts[0], decoding="greedy")  # one text in, one result out
    assert single["translation"] == greedy[0]["translation"]
    assert single["score"] == pytest.approx(greedy[0]["score"], abs=1e-5)
    (listed,) = translator.predict(texts[:1], decoding="greedy")  # a list in, a list out
    assert listed == single


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "text 0 is empty; there is nothing to translate"),
        (["fine", "   "], "text 1 is empty"),
        ("a" * 100_000, "100,000 characters, over the limit"),
        (b"\xff\xfe abc", "not valid UTF-8"),
        ([3], "text 0 is int"),
        ([], "at least one input"),
    ],
)
def test_bad_inputs(translator, bad, message):
    with pytest.raises(ValueError, match=message):
        translator.predict(bad)


def test_bad_options(translator):
    with pytest.raises(ValueError, match="decoding must be one of"):
        translator.predict("A dog.", decoding="sampling")
    with pytest.raises(ValueError, match="max_length must be in"):
        translator.predict("A dog.", max_length=500)
    with pytest.raises(ValueError, match="not divisible"):
        Translator(embed_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="no vocabulary yet"):
        Translator().predict("A dog.")


def test_separate_vocabularies(data):
    model = Translator(**{**SMALL, "shared_vocabulary": False, "vocabulary_size": 120})
    model.build_vocabularies(data[0])
    assert model.source_vocabulary != model.target_vocabulary
    assert any("ä" in t for t in model.target_vocabulary) and not any(
        "ä" in t for t in model.source_vocabulary
    )
    logits = model.model(
        {"source_ids": np.ones((2, 5), "int32"), "target_ids": np.ones((2, 3), "int32")}
    )
    assert tuple(logits.shape) == (2, 3, len(model.target_vocabulary))


def test_save_load_round_trip(translator, tmp_path):
    loaded = Translator.load(translator.save(tmp_path / "translator.keras"))
    assert loaded.source_vocabulary == translator.source_vocabulary
    assert loaded.predict(SAMPLES, decoding="greedy") == translator.predict(
        SAMPLES, decoding="greedy"
    )


@pytest.mark.slow
def test_export_matches_predict_in_fresh_process(translator, tmp_path):
    version_dir = translator.export(tmp_path / "translation")
    texts = [t.encode("utf-8") for t in SAMPLES] + [
        b"\xff\xfe not utf-8",
        b"",
        ("word " * 20_000).encode(),
    ]
    served, missing = serve_in_fresh_process(version_dir, texts)
    assert missing == []
    expected = translator.predict(SAMPLES)
    assert served["translation"][: len(SAMPLES)] == [r["translation"] for r in expected]
    np.testing.assert_allclose(
        served["score"][: len(SAMPLES)], [r["score"] for r in expected], atol=1e-4
    )
    # the graph copes with what predict refuses: bad bytes, empty text, a 100k-character text
    assert len(served["translation"]) == len(texts) and all(np.isfinite(served["score"]))
    assert read_warmup_requests(version_dir)[0]["text"].shape == (1,)


@pytest.mark.slow
def test_cli_actions(tmp_path, capsys):
    from nlp.translation.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="task", required=True))

    def run(*argv: str) -> str:
        args = parser.parse_args(list(argv))
        assert args.func(args) == 0
        return capsys.readouterr().out

    small = make_synthetic_translation(48, seed=2)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text(
        "".join(f"{s}\t{t}\n" for s, t in zip(small.sources, small.targets, strict=True)),
        encoding="utf-8",
    )
    model = str(tmp_path / "t.keras")
    out = run(
        "translate",
        "train",
        "--data",
        str(tsv),
        "--epochs",
        "1",
        "--embed-dim",
        "16",
        "--layers",
        "1",
        "--num-heads",
        "2",
        "--intermediate-dim",
        "32",
        "--vocabulary-size",
        "100",
        "--max-tokens",
        "24",
        "--output",
        model,
    )
    assert f"saved {model}" in out and (tmp_path / "t.keras").is_file()
    report = json.loads(
        run("translate", "evaluate", "--model", model, "--data", str(tsv), "--decoding", "greedy")
    )
    assert report["num_examples"] == 48 and report["decoding"] == "greedy"
    line = json.loads(
        run(
            "translate", "predict", "--model", model, "--decoding", "greedy", "--json", "The dog."
        ).splitlines()[0]
    )
    assert set(line) == {"text", "translation", "score"}
    assert "exported" in run(
        "translate",
        "export",
        "--model",
        model,
        "--output",
        str(tmp_path / "m"),
        "--decoding",
        "greedy",
    )
    assert (tmp_path / "m" / "1" / "saved_model.pb").is_file()
    with pytest.raises(FileExistsError, match="--overwrite"):
        run("translate", "train", "--data", "builtin:synthetic", "--output", model)
    with pytest.raises(ValueError, match="unknown built-in"):
        run("translate", "train", "--data", "builtin:nope", "--output", str(tmp_path / "x.keras"))


def test_scores_are_the_model_log_probabilities_of_the_output(translator, data):
    """The cached in-graph decoder agrees with a full teacher-forced pass of the Keras model."""
    import tensorflow as tf

    texts = data[1].sources[:4]
    text = translator.text
    result = translator.translate_graph(tf.constant(texts), "greedy", 1, 0.0, 23)
    ids = result["ids"].numpy()
    inputs = np.concatenate([np.full((len(ids), 1), text.bos_id), ids[:, :-1]], axis=1).astype(
        "int32"
    )
    logits = translator.model(
        {"source_ids": text.source_ids(tf.constant(texts)), "target_ids": tf.constant(inputs)}
    )
    log_probs = tf.nn.log_softmax(logits).numpy()
    picked = np.take_along_axis(log_probs, ids[..., None].astype(int), axis=-1)[..., 0]
    expected = (picked * (ids != text.pad_id)).sum(axis=1)
    np.testing.assert_allclose(result["score"].numpy(), expected, atol=1e-3)
    assert (ids == text.eos_id).any(axis=1).all()
