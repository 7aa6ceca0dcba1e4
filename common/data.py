"""tf.data conventions shared by every task: splitting, batching, caching, TFDS loading."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
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


def augmented_batches(
    dataset: tf.data.Dataset,
    batch_size: int,
    training: bool,
    resize: Callable[[Any], Any],
    to_model: Callable[[Any], Any],
    augment: Callable[[Any, tf.Tensor], Any] | None = None,
    seed: int = 0,
    shuffle_buffer: int = 1024,
) -> tf.data.Dataset:
    """Unbatched examples -> ``resize`` -> cache -> (training) shuffle and ``augment(example,
    seed)`` with a stateless seed pair of its own -> ``to_model`` -> batch -> prefetch.

    For tasks whose augmentation must move labels with the pixels (boxes, masks), so it runs
    in the input pipeline after the cache, reproducibly for a given ``seed``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    dataset = dataset.map(resize, num_parallel_calls=AUTOTUNE).cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if augment is not None:
            seeds = tf.data.Dataset.random(seed=seed).batch(2)
            dataset = tf.data.Dataset.zip(dataset, seeds).map(augment, num_parallel_calls=AUTOTUNE)
    dataset = dataset.map(to_model, num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def is_batched(dataset: tf.data.Dataset) -> bool:
    """Heuristic to accept batched and unbatched user datasets: every part has a leading None.

    Scalar labels make (image, label) datasets unambiguous even when images vary in size.
    """
    leaves = tf.nest.flatten(dataset.element_spec)
    return bool(leaves) and all(
        getattr(leaf, "shape", None) is not None
        and leaf.shape.rank is not None
        and leaf.shape.rank > 0
        and leaf.shape[0] is None
        for leaf in leaves
    )


TFDS_PROBE_HOST = ("storage.googleapis.com", 443)  # where TFDS downloads most sets from


def is_online(timeout: float = 3.0) -> bool:
    """True when TFDS' download host answers within ``timeout`` seconds (DNS + TCP connect).

    Checked before a download so an offline machine gets a clear error at once instead of
    minutes of retries inside TFDS.
    """
    import socket

    try:
        with socket.create_connection(TFDS_PROBE_HOST, timeout=timeout):
            return True
    except OSError:
        return False


DOWNLOAD_ENV = "DLSUITE_TFDS_DOWNLOAD"  # "0" / "false" / "no" turns downloads off by default


def downloads_allowed(download: bool | None = None) -> bool:
    """``download`` when given, else the ``DLSUITE_TFDS_DOWNLOAD`` setting (on unless 0/false/no).

    The test suite and CI set it to 0, so a test expecting a missing dataset never starts a
    multi-gigabyte download on an online runner.
    """
    if download is not None:
        return bool(download)
    return os.environ.get(DOWNLOAD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _not_on_disk(name: str, where: str, reason: str) -> DatasetNotOnDiskError:
    return DatasetNotOnDiskError(
        f"TFDS dataset {name!r} is not prepared in {where} and {reason}: run "
        f"`tfds build {name} --data_dir DIR` on a machine with network access, copy DIR here "
        "and pass data_dir=DIR (on the command line: --data-dir DIR)"
    )


def load_tfds(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    as_supervised: bool = True,
    download: bool | None = None,
    with_info: bool = False,
) -> Any:
    """Load a TFDS dataset by name, downloading and preparing it first when it is not on disk.

    ``download=False`` (or ``DLSUITE_TFDS_DOWNLOAD=0``) never touches the network; the default
    downloads. A missing dataset that cannot be fetched
    (offline, download refused or failed) raises ``DatasetNotOnDiskError`` naming ``tfds build``
    and ``data_dir``; unknown names raise ``ValueError``. ``with_info`` also returns the
    ``tfds.core.DatasetInfo`` (feature names, class names).
    """
    import tensorflow_datasets as tfds

    where = str(data_dir) if data_dir else "the default TFDS folder (~/tensorflow_datasets)"
    arguments = {
        "split": split,
        "data_dir": None if data_dir is None else str(data_dir),
        "as_supervised": as_supervised,
        "with_info": with_info,
    }
    try:
        return tfds.load(name, download=False, **arguments)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS has no dataset named {name!r}") from error
    except (AssertionError, FileNotFoundError) as error:
        if not downloads_allowed(download):
            reason = f"downloads are off (download=False or {DOWNLOAD_ENV}=0)"
            raise _not_on_disk(name, where, reason) from error
        if not is_online():
            raise _not_on_disk(name, where, "this machine cannot reach the internet") from error
    try:
        return tfds.load(name, download=True, **arguments)
    except Exception as error:  # network, checksum, manual-download and disk errors alike
        raise _not_on_disk(
            name, where, f"downloading it failed ({type(error).__name__}: {error})"
        ) from error


def tfds_text_examples(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    text_key: str | None = None,
    label_key: str | None = None,
    limit: int | None = None,
    download: bool | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(texts, label names, class names) from any TFDS text-classification set.

    The text and label features are found from the dataset's features (one ``Text`` and one
    ``ClassLabel``) unless ``text_key`` / ``label_key`` name them; class names come from the
    ``ClassLabel``. Unlabelled examples (label -1, e.g. GLUE test splits) raise ``ValueError``.
    """
    import tensorflow_datasets as tfds

    dataset, info = load_tfds(
        name, split, data_dir, as_supervised=False, download=download, with_info=True
    )
    features = dict(info.features)

    def pick(key: str | None, kind: type, what: str) -> str:
        found = [k for k, feature in features.items() if isinstance(feature, kind)]
        if key is not None:
            if key not in features:
                raise ValueError(f"{name} has no feature {key!r}; its features: {list(features)}")
            if key not in found:
                raise ValueError(f"{name} feature {key!r} is not a {what} feature")
            return key
        if len(found) != 1:
            choice = f"several ({', '.join(found)})" if found else "none"
            raise ValueError(
                f"{name} has {choice} {what} features; name the one to use with "
                f"{what}_key=... (its features: {', '.join(features)})"
            )
        return found[0]

    text = pick(text_key, tfds.features.Text, "text")
    label = pick(label_key, tfds.features.ClassLabel, "label")
    classes = list(features[label].names)
    if limit:
        dataset = dataset.take(limit)
    texts, labels = [], []
    for example in dataset.as_numpy_iterator():
        index = int(example[label])
        if not 0 <= index < len(classes):
            raise ValueError(
                f"{name} split {split!r} holds unlabelled examples (label {index}); "
                "use a labelled split"
            )
        texts.append(example[text].decode("utf-8"))
        labels.append(classes[index])
    return texts, labels, classes


# ------------------------------------------------------------------ TFRecord shards
SPEC_FILE_SUFFIX = ".spec.json"


def _spec_to_json(spec: Any) -> Any:
    flat = tf.nest.flatten(spec)
    return {
        "structure": tf.nest.map_structure(lambda _: None, spec)
        if not isinstance(spec, tf.TensorSpec)
        else None,
        "leaves": [{"dtype": s.dtype.name, "shape": s.shape.as_list()} for s in flat],
    }


def write_tfrecords(
    dataset: tf.data.Dataset,
    prefix: str | os.PathLike,
    num_shards: int = 4,
) -> list[str]:
    """Write an unbatched dataset as ``prefix-0000i-of-0000N.tfrecord`` shards plus a spec file.

    Every element (any nest of tensors: images + labels, token ids, waveforms, strings) is
    stored with ``tf.io.serialize_tensor``, so one format serves every task; the element spec
    goes to ``prefix.spec.json`` so ``read_tfrecords(prefix)`` needs nothing else. Each shard is
    written to a temporary name and renamed when complete.
    """
    if num_shards < 1:
        raise ValueError(f"num_shards must be at least 1, got {num_shards}")
    spec = dataset.element_spec
    flat_spec = tf.nest.flatten(spec)
    if any(not isinstance(s, tf.TensorSpec) for s in flat_spec):
        raise ValueError("write_tfrecords takes datasets of dense tensors (no ragged/sparse parts)")
    if is_batched(dataset):
        raise ValueError("write_tfrecords takes an unbatched dataset; call dataset.unbatch() first")
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    staging = [f"{p}.tmp" for p in paths]
    writers = [tf.io.TFRecordWriter(p) for p in staging]
    count = 0
    try:
        for index, element in enumerate(dataset):
            count += 1
            features = {
                f"t{j}": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(t).numpy()])
                )
                for j, t in enumerate(tf.nest.flatten(element))
            }
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writers[index % num_shards].write(example.SerializeToString())
    finally:
        for writer in writers:
            writer.close()
    for tmp, final in zip(staging, paths, strict=True):
        os.replace(tmp, final)
    Path(f"{prefix}{SPEC_FILE_SUFFIX}").write_text(
        json.dumps(_spec_to_json(spec) | {"count": count})
    )
    return paths


def read_tfrecords(
    prefix: str | os.PathLike,
    cycle_length: int | None = None,
    deterministic: bool = True,
) -> tf.data.Dataset:
    """Stream shards written by ``write_tfrecords`` with parallel interleave (larger than memory).

    Shards are listed as files, so under a multi-worker strategy TF's FILE auto-sharding hands
    each worker its own shards.
    """
    spec_path = Path(f"{prefix}{SPEC_FILE_SUFFIX}")
    if not spec_path.is_file():
        raise ValueError(
            f"no TFRecord spec file {spec_path}; was the data written by write_tfrecords?"
        )
    spec = json.loads(spec_path.read_text())
    leaves = [tf.TensorSpec(leaf["shape"], tf.as_dtype(leaf["dtype"])) for leaf in spec["leaves"]]
    files = sorted(str(p) for p in Path(prefix).parent.glob(f"{Path(prefix).name}-*-of-*.tfrecord"))
    if not files:
        raise ValueError(f"no TFRecord shards found for {prefix}")
    description = {f"t{j}": tf.io.FixedLenFeature([], tf.string) for j in range(len(leaves))}
    structure = spec["structure"]

    def parse(record: tf.Tensor) -> Any:
        parsed = tf.io.parse_single_example(record, description)
        tensors = []
        for j, leaf in enumerate(leaves):
            tensor = tf.io.parse_tensor(parsed[f"t{j}"], leaf.dtype)
            tensor.set_shape(leaf.shape)
            tensors.append(tensor)
        return tensors[0] if structure is None else tf.nest.pack_sequence_as(structure, tensors)

    dataset = (
        tf.data.Dataset.from_tensor_slices(files)
        .interleave(
            tf.data.TFRecordDataset,
            cycle_length=cycle_length or min(len(files), 8),
            num_parallel_calls=AUTOTUNE,
            deterministic=deterministic,
        )
        .map(parse, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    )
    # The example count is known from writing: keep it so fit() knows the epoch length.
    return dataset.apply(tf.data.experimental.assert_cardinality(spec["count"]))
