"""TextClassifier: learns on synthetic data, predict format, bad input, save/load, export parity."""

from __future__ import annotations

import numpy as np
import pytest

from common.export import read_warmup_requests
from nlp import TextClassifier
from nlp.backbones import preset_tokenizer_options
from nlp.data import make_topics
from tests.common.report_checks import check_evaluation_report
from tests.conftest import trained_on
from tests.nlp.conftest import SMALL_TRANSFORMER
from tests.nlp.parity import serve_in_fresh_process

SAMPLES = [
    "What a wonderful film!",
    "the plot was dreadful.",
    "  Naïve   café review: superb acting 😀 ",
    "x",
]


@pytest.mark.slow
def test_learns_sentiment_and_reports(trained_classifier, sentiment_data, tmp_path):
    _, val = sentiment_data
    other = (val.texts[:8], val.labels[:8])
    pictures = ["confusion_matrix.png"]
    report = check_evaluation_report(trained_classifier, val, other, tmp_path, pictures)
    assert report["accuracy"] >= 0.9
    assert set(report["per_class"]) == {"negative", "positive"}
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    assert np.array(report["confusion_matrix"]).sum() == len(val)


def test_predict_format(trained_classifier):
    one = trained_classifier.predict("what a brilliant and lovely movie!")
    assert one["label"] == "positive" and 0.5 < one["score"] <= 1.0
    assert set(one["scores"]) == {"negative", "positive"}
    assert abs(sum(one["scores"].values()) - 1.0) < 1e-5
    many = trained_classifier.predict(SAMPLES)
    assert [r["label"] for r in many[:2]] == ["positive", "negative"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (42, "not a string|list of strings"),
        ([None], "text 0 is NoneType"),
        (["ok", 3.5], "text 1 is float"),
        ([""], "text 0 is empty"),
        (["   "], "text 0 is empty"),
        (["a" * 1_048_576], "over the limit"),
        ([], "at least one input"),
        ([b"\xff\xfe"], "not valid UTF-8"),
    ],
)
def test_bad_predict_inputs(trained_classifier, bad, message):
    with pytest.raises(ValueError, match=message):
        trained_classifier.predict(bad)


def test_bad_training_and_evaluation_data(trained_classifier):
    with pytest.raises(ValueError, match="unknown labels"):
        trained_classifier.evaluate((["fine text"], ["neutral"]))
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        trained_classifier.evaluate((["a", "b"], ["positive"]))
    with pytest.raises(ValueError, match="at least two classes"):
        TextClassifier(classes=["only"])
    with pytest.raises(ValueError, match="unknown option"):
        TextClassifier(classes=["a", "b"], colour="red")
    with pytest.raises(ValueError, match="pooling must be one of"):
        TextClassifier(classes=["a", "b"], pooling="median")
    with pytest.raises(ValueError, match="token_dropout"):
        TextClassifier(classes=["a", "b"], token_dropout=1.5)


def test_save_load_round_trip(trained_classifier, tmp_path):
    path = trained_classifier.save(tmp_path / "clf.keras")
    loaded = TextClassifier.load(path)
    np.testing.assert_allclose(
        loaded.predict_proba(SAMPLES),
        trained_classifier.predict_proba(SAMPLES),
        rtol=1e-5,
        atol=1e-6,
    )


def test_csv_and_folder_inputs(trained_classifier, tmp_path):
    csv_path = tmp_path / "reviews.tsv"
    csv_path.write_text("sentence\tsentiment\nwhat a superb film\tpositive\nawful plot\tnegative\n")
    from nlp.data import load_text_csv

    data = load_text_csv(csv_path, text_column="sentence", label_column="sentiment")
    assert trained_classifier.evaluate(data)["num_examples"] == 2
    for name, text in (("positive", "lovely cast"), ("negative", "dull ending")):
        (tmp_path / "folder" / name).mkdir(parents=True)
        (tmp_path / "folder" / name / "1.txt").write_text(text)
    assert trained_classifier.evaluate(tmp_path / "folder")["num_examples"] == 2


def test_export_matches_predict_in_fresh_process(trained_classifier, tmp_path):
    version_dir = trained_classifier.export(tmp_path / "sentiment")
    served, missing = serve_in_fresh_process(version_dir, SAMPLES)
    assert missing == []
    expected = trained_classifier.predict(SAMPLES)
    for row, result in enumerate(expected):
        assert served["classes"][row][0] == result["label"]
        served_scores = dict(zip(served["classes"][row], served["scores"][row], strict=True))
        for name, score in result["scores"].items():
            assert served_scores[name] == pytest.approx(score, abs=1e-5)
    assert read_warmup_requests(version_dir)[0]["text"].shape == (1,)


@pytest.mark.slow
def test_multi_label_learns():
    train, val = (
        make_topics(240, seed=0, multi_label=True),
        make_topics(60, seed=1, multi_label=True),
    )
    options = {"vocabulary_size": 200, "sequence_length": 16, **SMALL_TRANSFORMER}
    classifier = trained_on(
        train, TextClassifier, 8, multi_label=True, pooling="mean_max", **options
    )
    report = classifier.evaluate(val)
    assert report["micro_f1"] >= 0.75
    result = classifier.predict("the election and the striker made headlines today.")
    assert set(result["labels"]) <= set(train.class_names) and result["labels"]


@pytest.mark.slow
def test_pretrained_backbone_export_parity(pretrained_preset, tmp_path, sentiment_data):
    preset = pretrained_preset
    train, _ = sentiment_data
    classifier = TextClassifier(
        classes=train.class_names, preset=preset, sequence_length=16, learning_rate=1e-4
    )
    classifier.fit((train.texts[:32], train.labels[:32]), epochs=1, batch_size=16, verbose=0)
    assert classifier.vocabulary == preset_tokenizer_options(preset)["vocabulary"]
    version_dir = classifier.export(tmp_path / "pretrained")
    served, missing = serve_in_fresh_process(version_dir, SAMPLES[:2])
    assert missing == []
    expected = classifier.predict(SAMPLES[:2])
    for row, result in enumerate(expected):
        assert served["classes"][row][0] == result["label"]
        assert served["scores"][row][0] == pytest.approx(result["score"], abs=1e-4)


def test_token_dropout_replaces_only_text_pieces(trained_classifier):
    import tensorflow as tf

    dropping = TextClassifier(
        classes=trained_classifier.classes, sequence_length=20, token_dropout=0.5
    )
    dropping.vocabulary = trained_classifier.vocabulary
    inputs = dropping.packer(tf.constant(["the plot was dreadful and the acting dull"] * 20))
    dropped, _ = dropping._drop_tokens(inputs, None)
    before, after = inputs["token_ids"].numpy(), dropped["token_ids"].numpy()
    changed = before != after
    text = (
        (inputs["padding_mask"].numpy() == 1)
        & (before != dropping.packer.cls_id)
        & (before != dropping.packer.sep_id)
    )
    assert not changed[~text].any()  # [CLS], [SEP] and padding untouched
    assert (after[changed] == dropping.packer.tokenizer.oov_id).all()
    assert 0.3 < changed.sum() / text.sum() < 0.7
