"""TF Serving warmup files: ``assets.extra/tf_serving_warmup_requests``.

A TFRecord file of ``PredictionLog`` protos, each with a ``predict_log.request``. TF Serving
(and the embedded server) replays them after loading a version and before serving it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def write_warmup_file(
    saved_model_dir: str | os.PathLike[str],
    requests: Sequence[Mapping[str, Any]],
    signature_name: str = "serving_default",
    model_name: str = "",
) -> Path:
    """Write ``requests`` (each ``{input name: array-like}``) as the warmup file."""
    path = Path(saved_model_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature_name
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(
    saved_model_dir: str | os.PathLike[str], limit: int = 1000
) -> Iterator[prediction_log_pb2.PredictionLog]:
    """The ``PredictionLog`` records of a version's warmup file (none if it has none)."""
    path = Path(saved_model_dir) / WARMUP_FILE
    if not path.is_file():
        return
    for record in tf.data.TFRecordDataset(str(path)).take(limit):
        yield prediction_log_pb2.PredictionLog.FromString(record.numpy())
