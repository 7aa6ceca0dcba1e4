"""Anomaly detection on signals and time series: autoencoders trained on normal data only.

``SignalAnomalyDetector`` (``health.anomaly.task``) scores fixed-length samples (ECG beats) or
long series cut into windows (NAB), with loaders (``data``), windowing and per-point scores
(``windows``), the models (``model``), plots (``plots``) and the CLI (``cli``).
"""
