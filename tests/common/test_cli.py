"""The dlsuite command line: help everywhere, one-sentence errors with exit code 2, a full cycle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_helpers import check_export, dlsuite
from vision.images import encode_png


def test_help_is_available_everywhere(capsys):
    for argv in ([], ["vision"], ["vision", "classify"], ["vision", "classify", "train"]):
        with pytest.raises(SystemExit) as exit_info:
            dlsuite(argv, "--help")
        assert exit_info.value.code == 0
    assert "usage: dlsuite vision classify train" in capsys.readouterr().out


def test_user_mistakes_end_in_one_sentence_and_exit_code_2(tmp_path, capsys):
    assert (
        dlsuite("vision classify evaluate --model", tmp_path / "x.keras", "--data builtin:digits")
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("dlsuite: error: no such task file") and "Traceback" not in err
    assert (
        dlsuite("vision classify train --data builtin:nothing --output", tmp_path / "m.keras") == 2
    )
    assert "unknown built-in dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        dlsuite("vision classify train")  # missing required arguments
    assert exit_info.value.code == 2


def test_train_evaluate_predict_export_cycle(tmp_path, capsys):
    model = tmp_path / "shapes.keras"
    assert (
        dlsuite(
            "vision classify train --data builtin:shapes --epochs 1 --image-size 16 "
            "--batch-size 64 --output",
            model,
        )
        == 0
    )
    assert model.is_file()
    assert (
        dlsuite("vision classify train --data builtin:shapes --epochs 1 --output", model) == 2
    )  # never overwrites without --overwrite
    capsys.readouterr()
    assert (
        dlsuite(
            "vision classify evaluate --model",
            model,
            "--data builtin:shapes --report-dir",
            tmp_path / "report",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (
        0.0 <= report["accuracy"] <= 1.0 and (tmp_path / "report" / "confusion_matrix.png").exists()
    )
    image = tmp_path / "one.png"
    image.write_bytes(encode_png(np.zeros((20, 20, 3), np.uint8)))
    assert dlsuite("vision classify predict --model", model, image) == 0
    assert capsys.readouterr().out.startswith(f"{image}: ")
    check_export(dlsuite, "vision classify", model, tmp_path / "models" / "shapes")


def test_demo_rejects_unknown_domains_and_tables_print_every_column(capsys):
    from common.demo import print_table

    assert dlsuite("demo --only astrology") == 2
    assert "known demos: autonomy, health, nlp, speech, vision" in capsys.readouterr().err
    print_table("results", [{"task": "a", "accuracy": 0.98765}, {"task": "b", "mIoU": 0.5}])
    out = capsys.readouterr().out
    assert all(word in out for word in ("task", "accuracy", "mIoU", "0.9877", "0.5"))


def test_abbreviations_are_refused_and_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        dlsuite("vision classify train --data builtin:digits --epoch 1")
    assert exit_info.value.code == 2 and "--epoch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        dlsuite("vision classify train --help")
    out = " ".join(capsys.readouterr().out.split())
    assert "square model input in pixels (default: 64)" in out  # ImageClassifierConfig's
    assert "--augment, --no-augment" in out and "--seed INT" in out and "--log-dir" in out
    with pytest.raises(SystemExit):
        dlsuite("vision detect evaluate --help")
    assert "--report-dir" in capsys.readouterr().out


def test_a_training_folder_is_read_once(tmp_path, monkeypatch):
    import tensorflow as tf

    from vision import cli as vision_cli
    from vision import data as vision_data

    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        (tmp_path / "pets" / name / "a.png").write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8)))
    calls = []
    real = vision_data.load_image_folder
    monkeypatch.setattr(
        vision_data, "load_image_folder", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    data, names = vision_cli.resolve_data(str(tmp_path / "pets"), 16, "train")
    assert names == ["cat", "dog"] and isinstance(data, tf.data.Dataset) and len(calls) == 1
    with pytest.raises(ValueError, match="neither a folder"):
        vision_cli.resolve_data(str(tmp_path / "nothing"), 16, "train")
