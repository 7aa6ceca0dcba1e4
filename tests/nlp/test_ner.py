"""EntityTagger: learns synthetic data, character offsets, bad input, save/load, export parity."""

from __future__ import annotations

import pytest

from nlp import EntityTagger
from tests.nlp.parity import check_served_entities

TEXTS = [
    "Angela Merkel visited Paris last week .",
    "Yesterday   José  Álvarez met Li Wei in São Paulo .",
    "😀 Søren Kierkegaard works for Nokia in Zürich .",
    "",
    "nothing to see here",
]


def test_learns_entities(trained_tagger, ner_data):
    _, val = ner_data
    report = trained_tagger.evaluate(val)
    assert report["f1"] >= 0.9
    assert set(report["per_type"]) == {"LOC", "ORG", "PER"}
    assert report["per_type"]["PER"]["support"] > 0


def test_predict_offsets_slice_the_original_text(trained_tagger):
    results = trained_tagger.predict(TEXTS)
    assert len(results) == len(TEXTS)
    for text, entities in zip(TEXTS, results, strict=True):
        for entity in entities:
            assert text[entity["start"] : entity["end"]] == entity["text"]
            assert entity["label"] in {"PER", "LOC", "ORG"} and 0.0 < entity["score"] <= 1.0
    first = {(e["text"], e["label"]) for e in results[0]}
    assert ("Angela Merkel", "PER") in first and ("Paris", "LOC") in first
    assert results[0][0]["start"] == 0 and results[0][0]["end"] == 13
    assert ("José  Álvarez", "PER") in {(e["text"], e["label"]) for e in results[1]}
    assert results[3] == []
    single = trained_tagger.predict("Angela Merkel visited Paris.")
    assert isinstance(single, list) and single[0]["text"] == "Angela Merkel"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "not a string|list of strings"),
        ([None], "text 0 is NoneType"),
        ([7], "text 0 is int"),
        (["a" * 1_048_576], "over the limit"),
    ],
)
def test_bad_predict_inputs(trained_tagger, bad, message):
    with pytest.raises(ValueError, match=message):
        trained_tagger.predict(bad)


def test_bad_evaluation_data(trained_tagger, tmp_path):
    with pytest.raises(ValueError, match="unknown tags"):
        trained_tagger.evaluate(([["Bob", "ran"]], [["B-ANIMAL", "O"]]))
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        trained_tagger.evaluate(([["Bob", "ran"]], [["B-PER"]]))
    bad = tmp_path / "bad.conll"
    bad.write_text("Bob B-PER\nran O\n\nhello\n")
    with pytest.raises(ValueError, match="line 4"):
        trained_tagger.evaluate(bad)
    with pytest.raises(ValueError, match="entity_types"):
        EntityTagger(entity_types=[])


def test_save_load_round_trip(trained_tagger, tmp_path):
    loaded = EntityTagger.load(trained_tagger.save(tmp_path / "ner.keras"))
    assert loaded.predict(TEXTS) == trained_tagger.predict(TEXTS)


def test_export_matches_predict_in_fresh_process(trained_tagger, tmp_path):
    check_served_entities(trained_tagger, trained_tagger.export(tmp_path / "ner"), TEXTS)


@pytest.mark.slow
def test_pretrained_tagger_export_parity(pretrained_preset, ner_data, tmp_path):
    train, _ = ner_data
    tagger = EntityTagger(
        entity_types=train.entity_types,
        preset=pretrained_preset,
        max_words=20,
        sequence_length=32,
        learning_rate=1e-4,
    )
    tagger.fit((train.tokens[:32], train.tags[:32]), epochs=1, batch_size=16, verbose=0)
    check_served_entities(tagger, tagger.export(tmp_path / "ner_pretrained"), TEXTS)


def test_word_casing_classes():
    import tensorflow as tf

    from nlp.ner.features import CASE_CLASSES, word_casing

    words = ["paris", "Paris", "EU", "U.S.", "1996", "A4", "Ärger", "ÖSTERREICH", "-", "iPhone"]
    expected = [
        "lower",
        "capitalised",
        "upper",
        "upper",
        "has_digit",
        "has_digit",
        "capitalised",
        "upper",
        "other",
        "lower",
    ]
    assert [CASE_CLASSES[i] for i in word_casing(tf.constant(words)).numpy()] == expected
