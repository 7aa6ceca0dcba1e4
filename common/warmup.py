"""TF Serving warmup files (``assets.extra/tf_serving_warmup_requests``): one reader, one writer.

The file is a TFRecord of ``PredictionLog`` protos, each holding one ``predict_log.request``.
TF Serving (and dlsuite's embedded server) replays them after loading a version and before
serving it, so the first real request does not pay for graph tracing and a version that cannot
answer is never made available. Exports write it; the server and tests read it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

#: Where the warmup file lives, relative to a SavedModel (version) folder.
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def tensor_proto(value: Any) -> Any:
    """``TensorProto`` of an array-like; Python ``str`` items are written as UTF-8 bytes."""
    array = np.asarray(value)
    if array.dtype.kind == "U" or (array.dtype == object and array.size):
        array = np.vectorize(
            lambda s: s.encode("utf-8") if isinstance(s, str) else s, otypes=[object]
        )(array)
    return tf.make_tensor_proto(array)


def write_warmup_file(
    saved_model_dir: str | os.PathLike[str],
    requests: Sequence[Mapping[str, Any]],
    signature_name: str = "serving_default",
    model_name: str = "",
) -> Path:
    """Write ``requests`` (each ``{input name: array-like}``) as the folder's warmup file."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(saved_model_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_prediction_logs(
    saved_model_dir: str | os.PathLike[str], limit: int = 1000
) -> Iterator[Any]:
    """The ``PredictionLog`` records of a version's warmup file (none if it has none)."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = Path(saved_model_dir) / WARMUP_FILE
    if not path.is_file():
        return
    for record in tf.data.TFRecordDataset(str(path)).take(limit):
        yield prediction_log_pb2.PredictionLog.FromString(record.numpy())


def read_warmup_requests(
    saved_model_dir: str | os.PathLike[str], limit: int = 1000
) -> list[dict[str, np.ndarray]]:
    """The warmup file's predict requests as ``{input name: array}`` dicts."""
    return [
        {key: tf.make_ndarray(value) for key, value in log.predict_log.request.inputs.items()}
        for log in read_prediction_logs(saved_model_dir, limit)
        if log.WhichOneof("log_type") == "predict_log"
    ]
