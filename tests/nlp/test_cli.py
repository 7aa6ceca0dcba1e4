"""``dlsuite nlp ...`` commands through argparse + ``register`` (no console script needed)."""

from __future__ import annotations

import argparse
import json

import pytest

from nlp.cli import register
from tests.cli_helpers import check_export, domain_runner

_run = domain_runner(register, dest="command")


@pytest.mark.slow
def test_classify_train_evaluate_predict_export(tmp_path, capsys):
    model = tmp_path / "sentiment.keras"
    assert (
        _run(
            "nlp classify train --data builtin:sentiment --epochs 1 --sequence-length 16 --output",
            model,
        )
        == 0
    )
    assert "validation accuracy" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        _run("nlp classify train --data builtin:sentiment --output", model)
    csv_path = tmp_path / "eval.csv"
    csv_path.write_text("review,stars\nsuperb film,positive\nawful plot,negative\n")
    assert (
        _run(
            "nlp classify evaluate --model",
            model,
            "--data",
            csv_path,
            "--text-column review --label-column stars",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["num_examples"] == 2
    assert _run("nlp classify predict --model", model, "'what a lovely film'") == 0
    assert "'what a lovely film': " in capsys.readouterr().out
    check_export(_run, "nlp classify", model, tmp_path / "m")


@pytest.mark.slow
def test_ner_commands_and_errors(trained_tagger, tmp_path, capsys):
    model = trained_tagger.save(tmp_path / "ner.keras")
    text = "Angela Merkel visited Paris ."
    assert _run("nlp ner predict --model", model, "--json", [text]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["text"] == text and line["entities"][0]["text"] == "Angela Merkel"
    assert _run("nlp ner predict --model", model, [text]) == 0
    assert capsys.readouterr().out.startswith(f"{text!r}: Angela Merkel (")  # readable line
    conll = tmp_path / "val.conll"
    conll.write_text("Marie B-PER\nCurie I-PER\nvisited O\nOslo B-LOC\n. O\n")
    assert _run("nlp ner evaluate --model", model, "--data", conll) == 0
    assert "f1" in json.loads(capsys.readouterr().out)
    conll.write_text("Marie B-PER\nCurie\n")
    with pytest.raises(ValueError, match="line 2"):
        _run("nlp ner evaluate --model", model, "--data", conll)
    with pytest.raises(ValueError, match="not a TextClassifier"):
        _run("nlp classify predict --model", model, "hello")
    with pytest.raises(ValueError, match="unknown built-in"):
        _run("nlp classify train --data builtin:nope --output", tmp_path / "x.keras")


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


def test_tfds_text_sets_get_explicit_columns_only_and_glue_scores_on_validation(monkeypatch):
    """Any TFDS text set: --text-column / --label-column reach it only when given (the CSV
    defaults would break ag_news), and every glue/* set is scored on its validation split."""
    from nlp import cli as nlp_cli
    from nlp import data as data_lib

    calls = []
    monkeypatch.setattr(
        data_lib, "load_tfds_text", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    parser = argparse.ArgumentParser(prog="dlsuite")
    register(parser.add_subparsers(dest="command", required=True))
    base = ["nlp", "classify", "evaluate", "--model", "m.keras", "--data"]
    for spec, extra in [("tfds:ag_news_subset", []), ("tfds:glue/cola", ["--text-column", "s"])]:
        args = parser.parse_args([*base, spec, *extra])
        nlp_cli.resolve_text_data(args, args.data, "test")
    (ag_args, ag_kwargs), (glue_args, glue_kwargs) = calls
    assert ag_args[:2] == ("ag_news_subset", "test")
    assert ag_kwargs == {"text_key": None, "label_key": None}
    assert glue_args[:2] == ("glue/cola", "validation")
    assert glue_kwargs == {"text_key": "s", "label_key": None}
    args = parser.parse_args([*base, "tfds:imdb_reviews"])
    nlp_cli.resolve_text_data(args, args.data, "train")
    assert calls[-1][0][:2] == ("imdb_reviews", "train")


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
