"""``dlsuite nlp ...`` commands through argparse + ``register`` (no console script needed)."""

from __future__ import annotations

import argparse
import json

import pytest

from nlp.cli import register


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dlsuite")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_classify_train_evaluate_predict_export(tmp_path, capsys):
    model = tmp_path / "sentiment.keras"
    assert (
        _run(
            [
                "nlp",
                "classify",
                "train",
                "--data",
                "builtin:sentiment",
                "--epochs",
                "1",
                "--sequence-length",
                "16",
                "--output",
                str(model),
            ]
        )
        == 0
    )
    assert "validation accuracy" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        _run(["nlp", "classify", "train", "--data", "builtin:sentiment", "--output", str(model)])
    csv_path = tmp_path / "eval.csv"
    csv_path.write_text("review,stars\nsuperb film,positive\nawful plot,negative\n")
    assert (
        _run(
            [
                "nlp",
                "classify",
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(csv_path),
                "--text-column",
                "review",
                "--label-column",
                "stars",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["num_examples"] == 2
    assert _run(["nlp", "classify", "predict", "--model", str(model), "what a lovely film"]) == 0
    assert "'what a lovely film': " in capsys.readouterr().out
    assert (
        _run(["nlp", "classify", "export", "--model", str(model), "--output", str(tmp_path / "m")])
        == 0
    )
    assert (tmp_path / "m" / "1" / "saved_model.pb").is_file()


def test_ner_commands_and_errors(trained_tagger, tmp_path, capsys):
    model = trained_tagger.save(tmp_path / "ner.keras")
    assert (
        _run(["nlp", "ner", "predict", "--model", str(model), "Angela Merkel visited Paris ."]) == 0
    )
    line = json.loads(capsys.readouterr().out.strip())
    assert line["entities"][0]["text"] == "Angela Merkel"
    conll = tmp_path / "val.conll"
    conll.write_text("Marie B-PER\nCurie I-PER\nvisited O\nOslo B-LOC\n. O\n")
    assert _run(["nlp", "ner", "evaluate", "--model", str(model), "--data", str(conll)]) == 0
    assert "f1" in json.loads(capsys.readouterr().out)
    conll.write_text("Marie B-PER\nCurie\n")
    with pytest.raises(ValueError, match="line 2"):
        _run(["nlp", "ner", "evaluate", "--model", str(model), "--data", str(conll)])
    with pytest.raises(ValueError, match="not a TextClassifier"):
        _run(["nlp", "classify", "predict", "--model", str(model), "hello"])
    with pytest.raises(ValueError, match="unknown built-in"):
        _run(
            [
                "nlp",
                "classify",
                "train",
                "--data",
                "builtin:nope",
                "--output",
                str(tmp_path / "x.keras"),
            ]
        )
