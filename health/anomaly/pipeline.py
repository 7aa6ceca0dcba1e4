"""Anomaly detection pipeline, readable top to bottom: a synthetic sensor series (a noisy
sine with injected spikes, flat stretches and inversions) -> train a conv autoencoder on the
normal stretch -> threshold on validation -> evaluate (point and window detection) -> plot ->
export (checked against ``predict``). ``dlsuite demo`` runs the quick version
(``models/health_anomaly/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.pipelines import export_and_load, timed_fit
from health.anomaly.data import synthetic_series
from health.anomaly.plots import plot_series_scores
from health.anomaly.task import SignalAnomalyDetector


def anomaly(
    quick: bool = False,
    models_dir: str | Path = "models",
    reports_dir: str | Path = "reports",
    epochs: int | None = None,
) -> dict[str, Any]:
    """Anomalies in a sensor series: a conv autoencoder on windows, per-point scores."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "health_anomaly"

    # 1. Data: the train stretch may hold one event (its windows are left out of training);
    #    validation is normal only (the threshold: 99th percentile of its point scores).
    train = synthetic_series(3000 if quick else 8000, period=50, anomalies=1, seed=0)
    val = synthetic_series(1000, period=50, anomalies=0, seed=1)
    test = synthetic_series(2000, period=50, anomalies=4, seed=2)

    # 2. Model: windows of 48 points every 6, a conv autoencoder with a 16-d bottleneck.
    detector = SignalAnomalyDetector(window=48, stride=6, filters=[16, 8], latent_dim=16)

    # 3. Train on the normal windows, then choose the threshold on validation.
    train_seconds = timed_fit(
        detector,
        reports_dir,
        train,
        validation_data=val,
        epochs=epochs or (8 if quick else 30),
        verbose=2,
    )

    # 4. Evaluate: point ROC-AUC / PR-AUC / F1 and NAB-style window detection.
    report = detector.evaluate(test)

    # 5. Plot the test series with its scores and detected events.
    result = detector.predict(test.values)
    plot_series_scores(
        test.values,
        result["score"],
        detector.threshold,
        reports_dir / "scores.png",
        labelled=test.windows,
        detected=result["events"],
        title="synthetic sensor (test)",
    )

    # 6. Export and check the served scores against predict.
    version_dir, served = export_and_load(detector, models_dir / "health_anomaly")
    served_score = served(series=tf.constant(test.values[None]))["score"].numpy()[0]
    return {
        "task": "health/anomaly (synthetic sensor series)",
        "roc_auc": report["roc_auc"],
        "f1": report["f1"],
        "windows_detected": f"{report['windows_detected']}/{report['windows']}",
        "train_s": train_seconds,
        "export": str(version_dir),
        "export_agrees": float(np.mean(np.abs(served_score - result["score"]) < 1e-4)),
        "request": {"series": [test.values[:200].tolist()]},
    }
