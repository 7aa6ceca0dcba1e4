"""TF Serving warmup files, as the server reads them; the format is owned by ``common.warmup``.

A TFRecord file of ``PredictionLog`` protos, each with a ``predict_log.request``. TF Serving
(and the embedded server) replays them after loading a version and before serving it.
"""

from __future__ import annotations

from common.warmup import WARMUP_FILE, read_prediction_logs, tensor_proto, write_warmup_file

#: The server's historical name: yields ``PredictionLog`` protos, unlike
#: ``common.warmup.read_warmup_requests`` (input dicts). New code: ``read_prediction_logs``.
read_warmup_requests = read_prediction_logs

__all__ = [
    "WARMUP_FILE",
    "read_prediction_logs",
    "read_warmup_requests",
    "tensor_proto",
    "write_warmup_file",
]
