"""health.anomaly loaders, windowing and metrics: formats, bad input, per-point averaging."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from health.anomaly import data, metrics, windows


def test_ucr_text_and_gzip(tmp_path):
    rows = ["1 0.5 1.5 2.5", "2 -1 0 1", "1,3,4,5"]
    plain = tmp_path / "ecg.txt"
    plain.write_text("\n".join(rows) + "\n")
    packed = tmp_path / "ecg.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        signals = data.read_ucr(path)
        assert signals.samples.shape == (3, 3) and signals.samples.dtype == np.float32
        assert signals.labels.tolist() == [0, 1, 0]
        assert signals.classes.tolist() == [1, 2, 1]
    assert data.read_ucr(plain, normal_classes=(2,)).labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 0.5 abc 2\n", r"ecg.txt:1: 'abc' is not a number"),
        ("1 0.5 1\n1 2\n", "different lengths"),
        ("1 nan 1\n", "NaN or infinite"),
        ("\n\n", "no samples"),
    ],
)
def test_ucr_bad_input(tmp_path, text, message):
    path = tmp_path / "ecg.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        data.read_ucr(path)


def test_timestamp_csv_with_labels_and_errors(tmp_path):
    path = tmp_path / "s.csv"
    lines = ["timestamp,value,label"] + [
        f"2020-01-01 00:0{i}:00,{i * 1.5},{int(i in (3, 4))}" for i in range(8)
    ]
    path.write_text("\n".join(lines))
    series = data.read_timestamp_csv(path, label_column="label")
    assert series.values.tolist() == [i * 1.5 for i in range(8)]
    assert series.windows == [(3, 4)] and series.labelled
    assert series.timestamps[1] == np.datetime64("2020-01-01T00:01:00")
    assert series.point_labels.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    path.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:01:00,high\n")
    with pytest.raises(ValueError, match=r"s.csv:3: value 'high' is not a number"):
        data.read_timestamp_csv(path)
    with pytest.raises(ValueError, match="no 'reading' column"):
        data.read_timestamp_csv(path, value_column="reading")


def test_nab_windows_and_load_signals(tmp_path):
    folder = tmp_path / "nab" / "realKnownCause"
    folder.mkdir(parents=True)
    stamps = np.datetime64("2014-01-01T00:00") + np.arange(20) * np.timedelta64(5, "m")
    body = "timestamp,value\n" + "".join(
        f"{str(t).replace('T', ' ')},{i}\n" for i, t in enumerate(stamps)
    )
    (folder / "m.csv.gz").write_bytes(gzip.compress(body.encode()))
    labels = tmp_path / "nab" / "labels"
    labels.mkdir()
    window = ["2014-01-01 00:20:00.000000", "2014-01-01 00:35:00.000000"]
    (labels / "combined_windows.json").write_text(json.dumps({"realKnownCause/m.csv": [window]}))
    series = data.load_signals(folder / "m.csv.gz")
    assert isinstance(series, data.TimeSeries) and series.labelled
    assert series.windows == [(4, 7)] and series.name == "realKnownCause/m"
    part = series.slice(6, 12)
    assert part.windows == [(0, 1)] and part.values.tolist() == list(range(6, 12))
    np.save(tmp_path / "x.npy", np.ones((4, 5)))
    assert data.load_signals(tmp_path / "x.npy").samples.shape == (4, 5)
    np.save(tmp_path / "y.npy", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="1-D series or 2-D samples"):
        data.load_signals(tmp_path / "y.npy")
    with pytest.raises(ValueError, match="no such file"):
        data.load_signals(tmp_path / "missing.csv")


def test_as_float_array_rejects_text_and_nan():
    with pytest.raises(ValueError, match="not numeric"):
        data.as_float_array(["1", "x"])
    with pytest.raises(ValueError, match=r"NaN or infinite samples \(first at index \[1\]\)"):
        data.as_float_array([1.0, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        data.as_float_array([])


def test_windows_cover_every_point_and_average_back():
    values = np.arange(10.0)
    assert windows.window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert windows.window_starts(11, 4, 3).tolist() == [0, 3, 6, 7]
    cut = windows.frames(values, 4, 3)
    assert np.array_equal(windows.to_points(cut, 10, 3), values)  # each point's own value back
    ones = np.ones_like(windows.frames(np.arange(11.0), 4, 3))
    assert np.allclose(windows.to_points(ones, 11, 3), 1.0)
    with pytest.raises(ValueError, match="3 points, shorter than the window of 4"):
        windows.window_starts(3, 4, 1)


def test_runs_and_window_detection():
    flags = np.array([0, 1, 1, 0, 0, 1, 0, 0, 1, 1], bool)
    assert data.runs(flags) == [(1, 2), (5, 5), (8, 9)]
    found = windows.window_detection(flags, [(0, 3), (6, 7)])
    assert found["windows_detected"] == 1 and found["window_recall"] == 0.5
    assert found["events"] == 3 and found["false_alarm_events"] == 2


def test_best_f1_threshold_uses_strict_greater_than():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9], np.float32)
    labels = np.array([0, 0, 0, 1, 1])
    threshold = metrics.best_f1_threshold(scores, labels)
    assert 0.3 <= threshold < 0.8
    assert metrics.at_threshold(scores, labels, threshold)["f1"] == 1.0
    report = metrics.detection_report(scores, labels, threshold)
    assert report["roc_auc"] == 1.0 and report["anomalies"] == 2


def test_synthetic_sets_are_labelled():
    beats = data.synthetic_beats(50, 32, 0.4, seed=3)
    assert beats.samples.shape == (50, 32) and 0 < beats.labels.sum() < 50
    series = data.synthetic_series(600, 50, 3, seed=1, start=100)
    assert len(series.windows) == 3 and all(a >= 100 for a, _ in series.windows)
    assert series.point_labels.sum() == sum(b - a + 1 for a, b in series.windows)
