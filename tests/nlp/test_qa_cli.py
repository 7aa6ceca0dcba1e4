"""``dlsuite nlp qa train|evaluate|predict|export`` through a parser built like ``nlp.cli``."""

from __future__ import annotations

import json
import re

import pytest

from nlp.qa.cli import add_commands, resolve_squad_data
from nlp.qa.task import QuestionAnswerer
from tests.cli_helpers import check_export, domain_runner

_run = domain_runner(add_commands, dest="nlp_task")


def _write_squad(path, context: str, question: str, answer: str, start: int) -> None:
    """A SQuAD v1.1 file of one paragraph with one question."""
    qa = {"id": "1", "question": question, "answers": [{"text": answer, "answer_start": start}]}
    paragraph = {"context": context, "qas": [qa]}
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [paragraph]}]}
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.slow
def test_qa_train_evaluate_predict_export(tmp_path, capsys):
    model = tmp_path / "qa.keras"
    squad = tmp_path / "dev.json"
    context = "Ada Lovelace was born in Lyon. Ada Lovelace works as a pilot."
    _write_squad(squad, context, "Where was Ada Lovelace born?", "Lyon", 3)
    assert (
        _run(
            "qa train --data",
            squad,
            "--epochs 2 --sequence-length 32 --vocabulary-size 100 --output",
            model,
        )
        == 0
    )
    assert f"saved {model}" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        _run("qa train --data builtin:synthetic --output", model)

    assert _run("qa evaluate --model", model, "--data", squad) == 0
    out = capsys.readouterr().out
    assert "1 answer(s) not at their answer_start" in out  # misaligned answers are reported
    report = json.loads(out[out.index("{") :])
    assert report["count"] == 1 and 0.0 <= report["f1"] <= 100.0

    assert (
        _run(
            "qa predict --model",
            model,
            "--context",
            [context],
            "--json 'Where was Ada Lovelace born?'",
        )
        == 0
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["question"] == "Where was Ada Lovelace born?"
    assert context[line["start"] : line["end"]] == line["answer"]
    assert _run("qa predict --model", model, "--context", [context], "'Where was Ada born?'") == 0
    assert capsys.readouterr().out.startswith("'Where was Ada born?': ")  # one readable line
    with pytest.raises(ValueError, match="--context"):
        _run("qa predict --model", model, "'Where?'")

    check_export(_run, "qa", model, tmp_path / "served")


def test_qa_data_errors(tmp_path):
    assert len(resolve_squad_data("builtin:synthetic", "train")) == 400
    v2 = resolve_squad_data("builtin:synthetic-v2", "val")
    assert len(v2) == 100 and any(e.is_impossible for e in v2.examples)
    with pytest.raises(ValueError, match="unknown built-in dataset"):
        _run("qa train --data builtin:nope --output", tmp_path / "x.keras")
    with pytest.raises(ValueError, match="not a file"):
        resolve_squad_data(str(tmp_path / "missing.json"), "val")
    with pytest.raises(ValueError, match="no such task file"):
        _run("qa evaluate --model", tmp_path / "x.keras", "--data builtin:synthetic")


@pytest.mark.slow
def test_qa_train_tunes_the_no_answer_threshold_on_validation_data(tmp_path, capsys):
    model = tmp_path / "qa2.keras"
    assert (
        _run(
            "qa train --data builtin:synthetic-v2 --tune-threshold --epochs 1 "
            "--sequence-length 48 --doc-stride 16 --vocabulary-size 200 --output",
            model,
        )
        == 0
    )
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("no-answer threshold"))
    threshold, tuned, was = (
        float(x)
        for x in re.match(
            r"no-answer threshold (-?[\d.]+): validation F1 ([\d.]+) \(was ([\d.]+)\)", line
        ).groups()
    )
    assert tuned >= was
    assert QuestionAnswerer.load(model).config.no_answer_threshold == pytest.approx(
        threshold, abs=1e-3
    )
    squad = tmp_path / "v1.json"
    _write_squad(squad, "Ada was born in Lyon.", "Where?", "Lyon", 16)
    with pytest.raises(ValueError, match="--tune-threshold needs validation data"):
        _run("qa train --data", squad, "--tune-threshold --output", tmp_path / "x.keras")
