"""SQuAD JSON reader (v1.1 / v2.0, .gz, misaligned answers), TFDS squad, official metrics,
synthetic set."""

from __future__ import annotations

import gzip
import json

import pytest

from nlp.qa.squad import (
    QAExample,
    f1_score,
    load_tfds_squad,
    make_synthetic_qa,
    normalize_answer,
    read_squad,
    squad_scores,
)

CONTEXT = "The Normans were in Normandy. Normandy is in France, and Rollo led the Normans."


def squad_payload(version: str = "1.1") -> dict:
    qas = [
        {
            "id": "q1",
            "question": "Where were the Normans?",
            "answers": [
                {"text": "Normandy", "answer_start": 20},  # correct
                {
                    "text": "Normandy",
                    "answer_start": 0,
                },  # wrong offset, text elsewhere: re-anchored
            ],
        },
        {
            "id": "q2",
            "question": "Who led them?",
            "answers": [
                {"text": "Rollo", "answer_start": 57},  # correct
                {"text": "William", "answer_start": 3},  # text nowhere in the context: unusable
            ],
        },
    ]
    if version == "v2.0":
        qas.append({"id": "q3", "question": "Who was king?", "answers": [], "is_impossible": True})
    return {
        "version": version,
        "data": [{"title": "Normans", "paragraphs": [{"context": CONTEXT, "qas": qas}]}],
    }


def test_reader_counts_and_reports_answers_not_at_answer_start(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(squad_payload()), encoding="utf-8")
    data = read_squad(path)
    assert len(data) == 2 and data.titles == ["Normans"]
    assert data.misaligned == 2 and data.unusable == 1
    first, second = data.examples
    assert first.answers == [
        ("Normandy", 20),
        ("Normandy", 20),
    ]  # re-anchored to the nearest occurrence
    assert second.answers == [("Rollo", 57), ("William", -1)]
    for example in data.examples:
        for text, start in example.answers:
            assert start == -1 or example.context[start : start + len(text)] == text
    report = data.report()
    assert report["answers_not_at_answer_start"] == 2 and report["answers_not_in_context"] == 1


def test_reader_reads_gzip_v2_with_unanswerable_questions(tmp_path):
    path = tmp_path / "dev-v2.0.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(squad_payload("v2.0"), handle)
    data = read_squad(path)
    assert data.version == "v2.0" and len(data) == 3
    assert [e.is_impossible for e in data.examples] == [False, False, True]
    assert data.report()["unanswerable"] == 1


def test_reader_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_squad(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not readable SQuAD JSON"):
        read_squad(bad)
    bad.write_text(json.dumps({"version": "1.1"}), encoding="utf-8")
    with pytest.raises(ValueError, match="'data' list"):
        read_squad(bad)
    payload = squad_payload()
    payload["data"][0]["paragraphs"][0]["qas"][0]["answers"] = []
    bad.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ValueError, match="no answers and is not marked is_impossible"):
        read_squad(bad)


def test_official_normalisation_and_scores():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert f1_score("the cat sat", "cat sat on mat") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert f1_score("", "") == 1.0 and f1_score("cat", "") == 0.0
    examples = [
        QAExample("q", CONTEXT, [("Normandy", 20), ("in Normandy", 17)]),
        QAExample("q", CONTEXT, [("Rollo", 57)]),
        QAExample("q", CONTEXT, []),  # unanswerable: only "" is right
        QAExample("q", CONTEXT, []),
    ]
    report = squad_scores(examples, ["in normandy.", "Rollo led", "", "Rollo"])
    assert report["exact_match"] == pytest.approx(100 * 2 / 4)
    assert report["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)
    assert report["has_answer"]["count"] == 2 and report["no_answer"]["exact_match"] == 50.0
    with pytest.raises(ValueError, match="2 predictions for 4 questions"):
        squad_scores(examples, ["a", "b"])


def test_tfds_squad_through_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        data = load_tfds_squad("squad/v1.1", split="validation")
    assert len(data) == 4 and all(isinstance(e.question, str) and e.context for e in data.examples)
    assert data.report()["questions"] == 4
    with pytest.raises(ValueError, match="'squad' dataset"):
        load_tfds_squad("imdb_reviews")


def test_synthetic_set_is_labelled_and_consistent():
    data = make_synthetic_qa(50, seed=3, unanswerable=0.3)
    assert data.source == "builtin:synthetic" and "synthetic" in data.version
    assert make_synthetic_qa(50, seed=3, unanswerable=0.3).examples == data.examples  # seeded
    assert 5 <= sum(e.is_impossible for e in data.examples) <= 25
    for example in data.examples:
        for text, start in example.answers:
            assert example.context[start : start + len(text)] == text
        if example.is_impossible:  # asks about a person the context never mentions
            name = example.question.split(" ")[-2:]
            assert " ".join(name).rstrip("?") not in example.context
