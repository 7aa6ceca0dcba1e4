"""vision.DBNClassifier: pretraining then fine-tuning on digits, save/load, export, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import serve_in_fresh_tensorflow


@pytest.fixture(scope="module")
def dbn_digits(digits_split):
    from vision import DBNClassifier

    classes, train, _ = digits_split
    task = DBNClassifier(classes=classes, hidden_units=[64, 32], pretrain_epochs=3)
    task.fit(train, epochs=12, verbose=0)
    return task


def test_pretraining_runs_first_and_lowers_reconstruction_error(dbn_digits):
    assert dbn_digits.pretraining is not None and len(dbn_digits.pretraining) == 2
    first = dbn_digits.pretraining[0]
    assert len(first) == 3 and first[-1] < first[0]


def test_dbn_classifier_learns_digits(dbn_digits, digits_split):
    _, _, test = digits_split
    assert dbn_digits.evaluate(test)["accuracy"] > 0.9
    result = dbn_digits.predict(test[0][0])
    assert result["label"] in dbn_digits.classes and 0 < result["score"] <= 1


def test_no_pretraining_is_the_same_mlp(digits_split):
    from vision import DBNClassifier

    classes, (x_train, y_train), _ = digits_split
    task = DBNClassifier(classes=classes, hidden_units=[8], pretrain_epochs=0)
    task.fit((x_train[:64], y_train[:64]), epochs=1, verbose=0)
    assert task.pretraining is None
    assert [layer.name for layer in task.model.layers if "rbm" in layer.name] == ["rbm_0"]


@pytest.mark.slow  # a fresh TensorFlow process
def test_save_load_and_export_match_predict(dbn_digits, digits_split, tmp_path):
    from vision import DBNClassifier
    from vision.images import encode_png

    _, _, (x_test, _) = digits_split
    loaded = DBNClassifier.load(dbn_digits.save(tmp_path / "dbn.keras"))
    assert loaded.pretraining == dbn_digits.pretraining
    np.testing.assert_allclose(
        loaded.predict_proba(x_test[:5]), dbn_digits.predict_proba(x_test[:5])
    )
    payload = np.array([encode_png(np.repeat(x_test[i], 3, -1)) for i in range(5)], bytes)
    served = serve_in_fresh_tensorflow(
        dbn_digits.export(tmp_path / "export"), {"image_bytes": payload}, tmp_path
    )
    np.testing.assert_allclose(
        served["probabilities"], dbn_digits.predict_proba(list(payload)), atol=1e-6
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hidden_units": []}, "at least one positive layer size"),
        ({"pretrain_epochs": -1}, "pretrain_epochs must be at least 0"),
        ({"cd_steps": 0}, "cd_steps must be at least 1"),
        ({"classes": []}, "classes"),
    ],
)
def test_bad_config_is_refused(options, message):
    from vision import DBNClassifier

    with pytest.raises(ValueError, match=message):
        DBNClassifier(**{"classes": ["a", "b"], **options})


def test_unknown_labels_are_refused():
    from vision import DBNClassifier

    task = DBNClassifier(classes=["a", "b"], hidden_units=[4])
    with pytest.raises(ValueError, match="unknown labels"):
        task.fit((np.zeros((2, 8, 8), np.uint8), np.array(["a", "c"])), epochs=1, verbose=0)
