"""TextGenerator: memorises a tiny corpus, seeded sampling, bad input, save/load, export, CLI."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from common.export import read_warmup_requests
from nlp.generation import TextGenerator
from nlp.generation.data import make_synthetic_text
from tests.conftest import run_fresh_tensorflow

CORPUS = "the quick brown fox jumps over the lazy dog.\n" * 40
TINY = dict(
    context_length=32,
    embed_dim=32,
    num_layers=1,
    num_heads=2,
    intermediate_dim=64,
    dropout=0.0,
    learning_rate=1e-2,
    batch_size=16,
    windows_per_epoch=256,
    max_length=20,
)
PROMPTS = ["the quick", "lazy", "x", "Ü☃ dog"]


@pytest.fixture(scope="module")
def generator():
    model = TextGenerator(**TINY)
    model.fit(CORPUS, epochs=4, verbose=0)
    return model


def test_memorises_a_tiny_corpus(generator):
    report = generator.evaluate(CORPUS)
    # uniform guessing over the 29 characters costs ln(29) = 3.37 nats per character
    assert report["loss_per_character"] < 0.3
    assert report["loss_per_token"] == report["loss_per_character"]
    assert report["perplexity"] == pytest.approx(math.exp(report["loss_per_token"]))
    assert report["bits_per_character"] == pytest.approx(report["loss_per_character"] / math.log(2))
    assert report["num_tokens"] == (len(CORPUS) - 1) // 32 * 32
    assert generator.generate("the quick", greedy=True) == " brown fox jumps ove"
    assert generator.generate("lazy", greedy=True, max_length=10) == " dog.\nthe "


def test_seeded_sampling_is_reproducible_and_batch_independent(generator):
    options = dict(temperature=2.0, max_length=20)
    first = generator.generate(PROMPTS, seed=7, **options)
    assert first == generator.generate(PROMPTS, seed=7, **options)
    assert first == [generator.generate(p, seed=7, **options) for p in PROMPTS]
    assert first == generator.generate(PROMPTS, seed=7, batch_size=2, **options)
    others = [generator.generate(PROMPTS, seed=s, **options) for s in range(1, 4)]
    assert any(o != first for o in others)  # the seed matters at temperature 2
    assert all(len(t) == 20 and "[" not in t for t in first)


def test_top_k_one_and_a_tiny_nucleus_are_greedy(generator):
    greedy = generator.generate(PROMPTS, greedy=True)
    assert generator.generate(PROMPTS, top_k=1, temperature=5.0, seed=3) == greedy
    assert generator.generate(PROMPTS, top_p=1e-6, temperature=5.0, seed=3) == greedy


def test_predict_returns_named_fields(generator):
    single = generator.predict("the quick", greedy=True)
    assert single["prompt"] == "the quick" and single["text"] == " brown fox jumps ove"
    assert -5.0 < single["log_prob"] <= 0.0  # memorised: the continuation is near certain
    listed = generator.predict(["the quick", "lazy"], greedy=True)
    assert [r["text"] for r in listed] == generator.generate(["the quick", "lazy"], greedy=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(prompt=""), "prompt 0 is empty"),
        (dict(prompt=["ok", ""]), "prompt 1 is empty"),
        (dict(prompt="a" * 13), "exceeds the context of 32 characters"),
        (dict(prompt="a" * 40, max_length=1), "prompt 0 has 40 characters"),
        (dict(prompt="the", temperature=0.0), "temperature must be > 0"),
        (dict(prompt="the", temperature=-1.0), "temperature must be > 0"),
        (dict(prompt="the", top_p=0.0), r"top_p must be in \(0, 1\]"),
        (dict(prompt="the", top_p=1.5), r"top_p must be in \(0, 1\]"),
        (dict(prompt="the", top_k=-1), "top_k must be >= 0"),
        (dict(prompt="the", max_length=0), r"max_length must be in \[1, 31\]"),
        (dict(prompt="the", max_length=32), r"max_length must be in \[1, 31\]"),
        (dict(prompt=[3]), "prompt 0 is int"),
        (dict(prompt=b"\xff\xfe"), "not valid UTF-8"),
        (dict(prompt=[]), "at least one prompt"),
    ],
)
def test_bad_input_is_refused(generator, options, message):
    prompt = options.pop("prompt")
    with pytest.raises(ValueError, match=message):
        generator.generate(prompt, **options)


def test_bad_config_and_unfitted_model():
    with pytest.raises(ValueError, match="not divisible"):
        TextGenerator(embed_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TextGenerator(temperature=0)
    with pytest.raises(ValueError, match="vocabulary must be one of"):
        TextGenerator(vocabulary="bytes")
    with pytest.raises(ValueError, match="no vocabulary yet"):
        TextGenerator().generate("hello")
    with pytest.raises(ValueError, match="needs at least context_length"):
        TextGenerator(**TINY).fit("too short", epochs=1, verbose=0)
    with pytest.raises(ValueError, match="the text is empty"):
        TextGenerator(**TINY).fit("   ", epochs=1, verbose=0)


def test_save_load_round_trip(generator, tmp_path):
    loaded = TextGenerator.load(generator.save(tmp_path / "generator.keras"))
    assert loaded.vocabulary == generator.vocabulary
    assert loaded.generate(PROMPTS, seed=5) == generator.generate(PROMPTS, seed=5)


_SERVE = """
import json
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry
path = {path!r}
proto = saved_model_pb2.SavedModel()
proto.ParseFromString(open(path + "/saved_model.pb", "rb").read())
ops = set()
for graph in proto.meta_graphs:
    ops.update(node.op for node in graph.graph_def.node)
    for function in graph.graph_def.library.function:
        ops.update(node.op for node in function.node_def)
model = tf.saved_model.load(path)
default = model.signatures["serving_default"](prompt=tf.constant({prompts!r}))
sample = model.signatures["sample"](
    prompt=tf.constant({prompts!r}), max_length=tf.constant(12), greedy=tf.constant(False),
    temperature=tf.constant(1.5), top_k=tf.constant(5), top_p=tf.constant(0.9),
    seed=tf.constant(11),
)
print(json.dumps({{
    "non_core_ops": sorted(op for op in ops if op_def_registry.get(op) is None),
    "default": [t.decode("utf-8") for t in default["text"].numpy()],
    "log_prob": default["log_prob"].numpy().tolist(),
    "sample": [t.decode("utf-8") for t in sample["text"].numpy()],
}}))
"""


@pytest.mark.slow  # 7.5 s alone, ~20 s on the loaded shared machine
def test_export_sampling_with_a_fixed_seed_equals_python(generator, tmp_path):
    options = dict(temperature=1.5, top_p=0.9, seed=42, max_length=15)
    version_dir = generator.export(tmp_path / "generator", **options)
    graph_only = ["", "y" * 100, "\n"]  # predict refuses the first two; the graph copes
    prompts = [p.encode("utf-8") for p in PROMPTS + graph_only]
    out = json.loads(
        run_fresh_tensorflow(_SERVE.format(path=str(version_dir), prompts=prompts)).splitlines()[-1]
    )
    assert out["non_core_ops"] == []
    expected = generator.predict(PROMPTS, **options)
    assert out["default"][: len(PROMPTS)] == [r["text"] for r in expected]
    np.testing.assert_allclose(
        out["log_prob"][: len(PROMPTS)], [r["log_prob"] for r in expected], atol=1e-4
    )
    assert all(len(t) == 15 for t in out["default"])
    sampled = generator.generate(
        PROMPTS, max_length=12, temperature=1.5, top_k=5, top_p=0.9, seed=11
    )
    assert out["sample"][: len(PROMPTS)] == sampled
    assert read_warmup_requests(version_dir)[0]["prompt"].shape == (1,)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generator.export(tmp_path / "bad", temperature=0.0)


@pytest.mark.slow
def test_cli_train_evaluate_sample_export(tmp_path, capsys):
    from nlp.generation.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="task", required=True))

    def run(*argv: str) -> str:
        args = parser.parse_args(list(argv))
        assert args.func(args) == 0
        return capsys.readouterr().out

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(make_synthetic_text(60, seed=3), encoding="utf-8")
    model = str(tmp_path / "g.keras")
    tiny = ["--embed-dim", "16", "--num-layers", "1", "--num-heads", "2"]
    out = run(
        "generate", "train", "--data", str(corpus), "--val-data", "builtin:synthetic",
        "--epochs", "1", "--context-length", "24", "--intermediate-dim", "32", *tiny,
        "--output", model,
    )  # fmt: skip
    assert f"saved {model}" in out and "nats/char" in out
    report = json.loads(run("generate", "evaluate", "--model", model, "--data", str(corpus)))
    assert report["num_tokens"] > 0 and report["bits_per_character"] > 0
    line = json.loads(
        run(
            "generate",
            "sample",
            "--model",
            model,
            "--json",
            "--max-length",
            "5",
            "--seed",
            "3",
            "the cat",
        ).splitlines()[0]  # fmt: skip
    )
    assert set(line) == {"prompt", "text", "log_prob"} and len(line["text"]) == 5
    assert "exported" in run(
        "generate", "export", "--model", model, "--output", str(tmp_path / "m"), "--greedy",
    )  # fmt: skip
    with pytest.raises(ValueError, match="temperature must be > 0"):
        run("generate", "sample", "--model", model, "--temperature", "0", "the")
