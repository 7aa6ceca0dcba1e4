"""Model inputs: checks on what people pass to ``predict`` (strings only, not empty where it
matters, not huge) and length-bucketed training batches trimmed to their longest text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import tensorflow as tf

PIECE_KEYS = ("token_ids", "padding_mask", "segment_ids")


def as_text(item: Any, index: int, kind: str = "text") -> str:
    """One input as ``str`` (UTF-8 bytes decoded); ``ValueError`` naming ``kind`` and ``index``
    for undecodable bytes and anything that is not a string."""
    if isinstance(item, bytes):
        try:
            item = item.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{kind} {index} is not valid UTF-8") from error
    if not isinstance(item, str):
        raise ValueError(f"{kind} {index} is {type(item).__name__}, not a string")
    return item


def validate_texts(
    inputs: Any, max_chars: int, allow_empty: bool = False
) -> tuple[list[str], bool]:
    """``"text"`` or a list of texts -> (list of str, whether a single string was given).

    Raises ``ValueError`` naming the offending item for non-strings, ``None``, undecodable bytes,
    empty texts (unless ``allow_empty``) and texts over ``max_chars`` characters.
    """
    single = isinstance(inputs, (str, bytes))
    if single:
        items = [inputs]
    elif isinstance(inputs, Iterable):
        items = list(inputs)
    else:
        raise ValueError(f"expected a string or a list of strings, got {type(inputs).__name__}")
    if not items:
        raise ValueError("predict needs at least one text, got an empty list")
    texts = []
    for i, item in enumerate(items):
        item = as_text(item, i)
        if not allow_empty and not item.strip():
            raise ValueError(f"text {i} is empty; there is nothing to classify")
        if len(item) > max_chars:
            raise ValueError(
                f"text {i} has {len(item):,} characters, over the limit of {max_chars:,} "
                "(max_chars); split long documents before predicting"
            )
        texts.append(item)
    return texts, single


def trim_to_longest(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Cut padded word-piece inputs ``[B, T]`` to the longest text of the batch (other keys
    kept)."""
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), axis=1))
    return {k: v[:, :longest] if k in PIECE_KEYS else v for k, v in features.items()}


def length_bucketed_batches(
    dataset: tf.data.Dataset,
    batch_size: int,
    boundaries: Sequence[int] = (8, 12, 16, 24, 32, 48, 64, 96),
) -> tf.data.Dataset:
    """Batch ``(features, labels)`` pairs of similar length, then trim each batch's padding.

    Short texts no longer pay for the longest one: on SST-2 (9 words on average, padded to 64)
    this makes a pretrained backbone's training steps several times cheaper. Batches stay
    shuffled when ``dataset`` is; the number of batches does not depend on the order.
    """

    def length(features: dict[str, tf.Tensor], _labels: Any) -> tf.Tensor:
        return tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32))

    buckets = dataset.bucket_by_sequence_length(
        length, list(boundaries), [batch_size] * (len(boundaries) + 1)
    )
    batches = buckets.map(lambda x, y: (trim_to_longest(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    # Bucketing hides the epoch length from tf.data; count it once so Keras knows it from the start.
    count = int(batches.reduce(0, lambda n, _: n + 1))
    return batches.apply(tf.data.experimental.assert_cardinality(count))
