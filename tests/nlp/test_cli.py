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
    text = "Angela Merkel visited Paris ."
    assert _run(["nlp", "ner", "predict", "--model", str(model), "--json", text]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["text"] == text and line["entities"][0]["text"] == "Angela Merkel"
    assert _run(["nlp", "ner", "predict", "--model", str(model), text]) == 0
    assert capsys.readouterr().out.startswith(f"{text!r}: Angela Merkel (")  # readable line
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


def test_validation_csv_may_name_its_columns_differently(tmp_path):
    """SST-2 style: the train file calls its text 'sentence', the dev file 'text'."""
    from nlp.cli import resolve_text_data

    train_csv, dev_csv = tmp_path / "train.csv", tmp_path / "dev.csv"
    train_csv.write_text("sentence,label\ngreat,positive\nbad,negative\n")
    dev_csv.write_text("text,gold\nfine,positive\n")
    parser = argparse.ArgumentParser(prog="dlsuite")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["nlp", "classify", "train", "--data", str(train_csv), "--val-data", str(dev_csv)]
        + ["--output", "x.keras", "--text-column", "sentence", "--val-text-column", "text"]
        + ["--val-label-column", "gold"]
    )
    assert resolve_text_data(args, args.data, "train").texts == ["great", "bad"]
    val = resolve_text_data(args, args.val_data, "val")
    assert val.texts == ["fine"] and val.labels == ["positive"]
    args.val_text_column = None  # default: the --text-column name, which dev.csv lacks
    with pytest.raises(ValueError, match="no column 'sentence'"):
        resolve_text_data(args, args.val_data, "val")


def test_translate_layers_is_a_shortcut_and_encoder_layers_the_python_name():
    from nlp.translation.cli import translator_options
    from nlp.translation.task import TranslatorConfig

    parser = argparse.ArgumentParser(prog="dlsuite")
    register(parser.add_subparsers(dest="command", required=True))
    base = ["nlp", "translate", "train", "--data", "builtin:synthetic", "--output", "t.keras"]
    args = parser.parse_args([*base, "--layers", "1", "--max-tokens", "24"])
    assert translator_options(args, TranslatorConfig) == {
        "encoder_layers": 1,
        "decoder_layers": 1,
        "max_source_length": 24,
        "max_target_length": 24,
    }
    args = parser.parse_args([*base, "--layers", "2", "--encoder-layers", "4"])
    assert translator_options(args, TranslatorConfig) == {"encoder_layers": 4, "decoder_layers": 2}
    args = parser.parse_args([*base, "--separate-vocabularies"])
    assert translator_options(args, TranslatorConfig) == {"shared_vocabulary": False}
    assert translator_options(parser.parse_args(base), TranslatorConfig) == {}
