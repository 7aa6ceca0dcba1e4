"""tf.data conventions shared by every task: splitting, batching, caching, TFDS loading."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


class DatasetNotOnDiskError(ValueError):
    """A TFDS dataset was asked for by name but its prepared files are not on this machine."""


def train_val_split(
    features: np.ndarray,
    labels: np.ndarray,
    val_fraction: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split arrays into (train, validation), stratified by label by default (scikit-learn)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    x_train, x_val, y_train, y_val = train_test_split(
        features,
        labels,
        test_size=val_fraction,
        random_state=seed,
        stratify=labels if stratify else None,
    )
    return (x_train, y_train), (x_val, y_val)


def prepare(
    dataset: tf.data.Dataset,
    batch_size: int,
    training: bool,
    preprocess: Callable[..., Any] | None = None,
    cache: bool = True,
    shuffle_buffer: int = 2048,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Unbatched examples -> map (parallel) -> cache -> shuffle (training) -> batch -> prefetch.

    Decoding and resizing run once (before the cache); augmentation belongs to the model so the
    cached tensors stay deterministic and serving never sees it.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if preprocess is not None:
        dataset = dataset.map(preprocess, num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(AUTOTUNE)


def is_batched(dataset: tf.data.Dataset) -> bool:
    """Heuristic used to accept both batched and unbatched user datasets: a leading None dim."""
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    if isinstance(first, dict):
        first = next(iter(first.values()))
    shape = getattr(first, "shape", None)
    return shape is not None and shape.rank is not None and shape.rank > 0 and shape[0] is None


def load_tfds(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    as_supervised: bool = True,
) -> tf.data.Dataset:
    """Load a prepared TFDS dataset by name without downloading anything.

    Raises ``DatasetNotOnDiskError`` naming ``tfds build`` and ``data_dir`` when the prepared
    files are missing, and ``ValueError`` listing nothing but the problem for unknown names.
    """
    import tensorflow_datasets as tfds

    where = str(data_dir) if data_dir else "the default TFDS folder (~/tensorflow_datasets)"
    try:
        return tfds.load(
            name,
            split=split,
            data_dir=None if data_dir is None else str(data_dir),
            download=False,
            as_supervised=as_supervised,
        )
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS has no dataset named {name!r}") from error
    except (AssertionError, FileNotFoundError) as error:
        raise DatasetNotOnDiskError(
            f"TFDS dataset {name!r} is not prepared in {where}; this machine cannot download it: "
            f"run `tfds build {name} --data_dir DIR` on a machine with network access, copy DIR "
            "here and pass data_dir=DIR"
        ) from error
