"""SignalAnomalyDetector: learns on synthetic signals, round-trips, exports what predict
answers (checked in a TensorFlow-only process) and refuses bad input clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.export import non_core_ops
from health import SignalAnomalyDetector
from health.anomaly.data import SignalSet, synthetic_beats, synthetic_series
from tests.conftest import run_fresh_tensorflow

SMALL = {"filters": [16, 8], "latent_dim": 8, "batch_size": 16, "dropout": 0.0}


@pytest.fixture(scope="module")
def beats():
    return (
        synthetic_beats(200, 64, 0.2, seed=0),
        synthetic_beats(80, 64, 0.3, seed=1),
        synthetic_beats(100, 64, 0.3, seed=2),
    )


@pytest.fixture(scope="module")
def beat_detector(beats):
    train, val, _ = beats
    detector = SignalAnomalyDetector(**SMALL)
    detector.fit(train, validation_data=val, epochs=30, verbose=0)
    return detector


@pytest.fixture(scope="module")
def stream_detector():
    detector = SignalAnomalyDetector(window=32, stride=8, **SMALL)
    train = synthetic_series(1500, 50, 1, seed=0)
    detector.fit(train, validation_data=synthetic_series(600, 50, 0, seed=1), epochs=10, verbose=0)
    return detector


def test_conv_autoencoder_learns_normal_beats(beat_detector, beats):
    *_, test = beats
    report = beat_detector.evaluate(test)
    assert report["roc_auc"] >= 0.9, report
    assert report["f1"] >= 0.7 and report["count"] == 100
    assert beat_detector.length == 64 and beat_detector.config.threshold_method == "auto"
    # auto on labelled validation = best F1 there; the stored threshold is what evaluate used
    assert report["threshold"] == beat_detector.threshold
    lower = beat_detector.evaluate(test, threshold=0.0)
    assert lower["recall"] == 1.0 and lower["threshold"] == 0.0


def test_training_uses_normal_samples_only(beats):
    train, *_ = beats
    detector = SignalAnomalyDetector(**SMALL)
    normal = detector.normal_windows(train)
    assert len(normal) == int((train.labels == 0).sum())
    with pytest.raises(ValueError, match="no normal samples"):
        detector.normal_windows(SignalSet(train.samples[:3], np.ones(3, np.int64)))


def test_predict_single_list_and_file(beat_detector, beats, tmp_path):
    *_, test = beats
    one = beat_detector.predict(test.samples[0])
    assert set(one) == {"score", "is_anomaly", "reconstruction"}
    assert one["reconstruction"].shape == (64,) and isinstance(one["is_anomaly"], bool)
    many = beat_detector.predict(test.samples[:5])
    assert len(many) == 5 and many[0]["score"] == pytest.approx(one["score"], rel=1e-5)
    as_list = beat_detector.predict(test.samples[0].tolist())
    assert as_list["score"] == pytest.approx(one["score"], rel=1e-5)
    np.save(tmp_path / "beats.npy", test.samples[:7])
    from_file = beat_detector.predict(tmp_path / "beats.npy")
    assert from_file["score"].shape == (7,)
    assert from_file["score"][0] == pytest.approx(one["score"], rel=1e-5)
    # the reconstruction is in the input's units and close to a normal beat
    normal = test.samples[test.labels == 0][0]
    assert np.mean((beat_detector.predict(normal)["reconstruction"] - normal) ** 2) < 0.1


def test_bad_samples_are_clear_errors(beat_detector):
    with pytest.raises(ValueError, match="has 50 points; this detector expects 64|50 points"):
        beat_detector.predict(np.zeros(50, np.float32))
    bad = np.zeros(64, np.float32)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        beat_detector.predict(bad)
    with pytest.raises(ValueError, match="not numeric"):
        beat_detector.predict([["a"] * 64])
    with pytest.raises(ValueError, match="fixed-length samples"):
        beat_detector.evaluate("not a set".split())
    with pytest.raises(ValueError, match="window > 0"):
        SignalAnomalyDetector(window=16).fit(synthetic_beats(10, 32, seed=0), epochs=1)


def test_config_validation():
    with pytest.raises(ValueError, match="architecture"):
        SignalAnomalyDetector(architecture="gru")
    with pytest.raises(ValueError, match="stride 40 is longer than the window"):
        SignalAnomalyDetector(window=32, stride=40)
    with pytest.raises(ValueError, match="threshold_method"):
        SignalAnomalyDetector(threshold_method="magic")
    with pytest.raises(ValueError, match="point_score"):
        SignalAnomalyDetector(window=8, point_score="max")


def test_stream_scores_points_and_finds_windows(stream_detector):
    test = synthetic_series(1200, 50, 3, seed=5)
    report = stream_detector.evaluate(test)
    assert report["roc_auc"] >= 0.85, report
    assert report["windows_detected"] >= 2 and report["windows"] == 3
    assert set(report["per_series"]) == {test.name}
    result = stream_detector.predict(test.values)
    assert result["score"].shape == result["reconstruction"].shape == (1200,)
    flagged = {p for a, b in result["events"] for p in range(a, b + 1)}
    assert flagged == set(np.flatnonzero(result["is_anomaly"]).tolist())
    with pytest.raises(ValueError, match="20 points, shorter than the window of 32"):
        stream_detector.predict(np.zeros(20, np.float32))
    # the threshold is the 99th percentile of the normal validation points
    assert stream_detector.config.window_stride == 8 and np.isfinite(stream_detector.threshold)


def test_lstm_autoencoder_learns_something():
    train, test = synthetic_beats(120, 32, 0.0, seed=0), synthetic_beats(60, 32, 0.5, seed=3)
    detector = SignalAnomalyDetector(architecture="lstm", lstm_units=16, batch_size=16)
    detector.fit(train, epochs=12, verbose=0)
    assert detector.evaluate(test)["roc_auc"] >= 0.75


def test_save_load_keeps_normaliser_and_threshold(beat_detector, beats, tmp_path):
    *_, test = beats
    path = beat_detector.save(tmp_path / "det.keras")
    loaded = SignalAnomalyDetector.load(path)
    assert loaded.get_state() == beat_detector.get_state()
    assert loaded.mean != 0.0 and loaded.std != 1.0
    a = loaded.predict(test.samples[:4])
    b = beat_detector.predict(test.samples[:4])
    assert [r["score"] for r in a] == pytest.approx([r["score"] for r in b], rel=1e-6)


@pytest.mark.slow
def test_exports_load_with_tensorflow_only_and_equal_predict(
    beat_detector, stream_detector, beats, tmp_path
):
    *_, test = beats
    samples = test.samples[:6]
    series = synthetic_series(400, 50, 1, seed=9).values
    beat_dir = beat_detector.export(tmp_path / "beats")
    stream_dir = stream_detector.export(tmp_path / "stream")
    assert non_core_ops(beat_dir) == [] and non_core_ops(stream_dir) == []
    np.save(tmp_path / "samples.npy", samples)
    np.save(tmp_path / "series.npy", series)
    out = run_fresh_tensorflow(f"""
        import json
        import numpy as np
        beats = tf.saved_model.load({str(beat_dir)!r}).signatures["serving_default"]
        stream = tf.saved_model.load({str(stream_dir)!r}).signatures["serving_default"]
        samples = np.load({str(tmp_path / "samples.npy")!r})
        series = np.load({str(tmp_path / "series.npy")!r})
        b = beats(series=tf.constant(samples))
        s = stream(series=tf.constant(series[None]))
        errors = []
        for bad in (series[None, :10], np.full((1, 40), np.nan, np.float32)):
            try:
                stream(series=tf.constant(bad))
                errors.append("")
            except tf.errors.InvalidArgumentError as error:
                errors.append(error.message)
        print(json.dumps({{
            "score": b["score"].numpy().tolist(),
            "flag": b["is_anomaly"].numpy().tolist(),
            "recon": b["reconstruction"].numpy()[0].tolist(),
            "point": s["score"].numpy()[0].tolist(),
            "point_flag": s["is_anomaly"].numpy()[0].tolist(),
            "errors": errors,
        }}))
    """)
    served = json.loads(out.strip().splitlines()[-1])
    expected = beat_detector.predict(samples)
    assert served["score"] == pytest.approx([r["score"] for r in expected], rel=1e-5, abs=1e-7)
    assert served["flag"] == [r["is_anomaly"] for r in expected]
    assert np.allclose(served["recon"], expected[0]["reconstruction"], atol=1e-5)
    points = stream_detector.predict(series)
    assert np.allclose(served["point"], points["score"], rtol=1e-5, atol=1e-7)
    assert served["point_flag"] == points["is_anomaly"].tolist()
    assert "shorter than the window of 32" in served["errors"][0]
    assert "NaN or infinite" in served["errors"][1]
