"""Pick a ``tf.distribute`` strategy from a name, the way Keras users pass one to ``fit``."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import tensorflow as tf

STRATEGY_NAMES = ("auto", "default", "mirrored", "multi_worker")


def resolve_strategy(
    strategy: str | tf.distribute.Strategy | None = None,
) -> tf.distribute.Strategy:
    """Return a strategy object for ``None``/"auto", "mirrored", "multi_worker" or an instance.

    "auto" keeps whatever strategy is in scope (the default one outside any scope);
    "multi_worker" reads the cluster from the ``TF_CONFIG`` environment variable as TensorFlow
    documents it.
    """
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy is None or strategy in ("auto", "default"):
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGY_NAMES)} "
        "or a tf.distribute.Strategy instance"
    )


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that should write exports and reports (always true on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None):
        return True
    spec = resolver.cluster_spec().as_dict()
    if not spec:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if "chief" in spec:
        return task_type == "chief"
    return task_type in (None, "worker") and (task_id or 0) == 0


def loopback_cluster_envs(workers: int, pythonpath: str | os.PathLike) -> list[dict[str, str]]:
    """Environments for ``workers`` local processes that form one multi-worker cluster.

    Each is this process's environment plus a ``TF_CONFIG`` naming free loopback ports (worker
    0 is the chief), quiet TensorFlow logs and ``PYTHONPATH=pythonpath``: how the multi-worker
    test and ``bench.scaling`` run ``strategy="multi_worker"`` on one machine.
    """
    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:  # all bound before any is closed, so the ports differ
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    return [
        dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONPATH=str(pythonpath),
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        for index in range(workers)
    ]


def run_loopback_cluster(
    worker_code: Callable[[int], str],
    workers: int,
    pythonpath: str | os.PathLike,
    timeout: float,
) -> None:
    """Run ``python -c worker_code(index)`` in ``workers`` processes forming one local cluster.

    The processes get ``loopback_cluster_envs``; all are waited for (killed past ``timeout``
    seconds) and a ``RuntimeError`` carrying the stderr tail of the first failed worker is raised.
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", worker_code(index)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, env in enumerate(loopback_cluster_envs(workers, pythonpath))
    ]
    try:
        errors = [proc.communicate(timeout=timeout)[1] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for index, (proc, err) in enumerate(zip(procs, errors, strict=True)):
        if proc.returncode != 0:
            raise RuntimeError(f"worker {index} failed (exit {proc.returncode}):\n{err[-3000:]}")


@contextlib.contextmanager
def keras_multi_worker_fix(strategy: tf.distribute.Strategy) -> Iterator[None]:
    """Work around Keras 3 failing ``fit`` under MultiWorkerMirroredStrategy (keras#20585).

    Two spots in Keras' TensorFlow trainer break with the collective strategy: (1) before the
    first step it builds the model from one batch obtained by ``strategy.reduce`` over the whole
    nested batch, which that strategy cannot reduce; building needs only shapes, so the first
    local replica's values are used; (2) step outputs (scalar losses/metrics) are reduced with
    ``axis=0``, invalid for scalars; they are averaged with ``axis=None`` instead. Patched only
    while this context is active and only for that strategy.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                batch = next(batches)
                data_batch = tf.nest.map_structure(
                    lambda value: (
                        strategy.experimental_local_results(value)[0]
                        if isinstance(value, tf.distribute.DistributedValues)
                        else value
                    ),
                    batch,
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original_reduce(values, strategy, reduction)

        def mean(value):
            if not isinstance(value, tf.distribute.DistributedValues):
                return value
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tf.nest.map_structure(mean, values)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = original
        tf_trainer.reduce_per_replica = original_reduce
