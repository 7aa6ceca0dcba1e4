"""Pick a ``tf.distribute`` strategy from a name, the way Keras users pass one to ``fit``."""

from __future__ import annotations

import tensorflow as tf

STRATEGY_NAMES = ("auto", "default", "mirrored", "multi_worker")


def resolve_strategy(strategy: str | tf.distribute.Strategy | None = None) -> tf.distribute.Strategy:
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
