"""Connectionist Temporal Classification: a Keras loss, a padded-frame mask layer and decoders.

Convention (TensorFlow's): the blank is the LAST class of the logits, labels are ``0..C-2`` and
padded label positions hold ``-1``. ``CTCFrameMask`` forces every frame past an utterance's
length to "certainly blank", so the loss over the padded batch equals the loss over the true
lengths and decoders can run on full-length logits. Every decoder is core TensorFlow ops only,
so it runs inside exported SavedModels.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

PAD_LABEL = -1
_CERTAIN = 1e4  # logit margin that makes a masked frame blank with probability 1 in float32


@keras.saving.register_keras_serializable(package="dlsuite")
class CTCLoss(keras.losses.Loss):
    """CTC negative log-likelihood per example for ``y_true`` label ids padded with -1.

    ``y_pred`` are logits ``[batch, frames, classes]`` with the blank as the last class. All
    frames count; mask padded frames with ``CTCFrameMask`` so they are certain blanks.
    """

    def __init__(self, name: str = "ctc", reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        label_length = ops.sum(ops.cast(labels != PAD_LABEL, "int32"), axis=-1)
        labels = ops.where(labels == PAD_LABEL, ops.zeros_like(labels), labels)
        shape = ops.shape(y_pred)
        logit_length = ops.full((shape[0],), shape[1], dtype="int32")
        return ops.ctc_loss(
            labels, ops.cast(y_pred, "float32"), label_length, logit_length, mask_index=shape[2] - 1
        )


def mask_padded_frames(logits: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Replace frames at or past ``lengths`` by logits that are blank (last class) for certain."""
    num_frames, num_classes = ops.shape(logits)[1], ops.shape(logits)[2]
    valid = ops.arange(num_frames)[None, :] < ops.expand_dims(ops.cast(lengths, "int32"), 1)
    blank = ops.one_hot(ops.full((1, 1), num_classes - 1, dtype="int32"), num_classes) * _CERTAIN
    return ops.where(valid[..., None], logits, ops.cast(blank, logits.dtype))


@keras.saving.register_keras_serializable(package="dlsuite")
class CTCFrameMask(keras.layers.Layer):
    """``(logits, lengths) -> logits`` with frames past each length made certain blanks.

    It consumes any Keras mask: after it, padded frames are valid CTC input (blanks).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, logits, lengths):
        return mask_padded_frames(logits, lengths)

    def compute_output_shape(self, logits_shape, lengths_shape=None):
        return logits_shape


# ---------------------------------------------------------------------------- decoding
def greedy_decode(logits: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Best-path decoding: argmax per frame, merge repeats, drop blanks.

    Returns ``(ids, log_prob)``: dense ``[batch, max_len]`` label ids padded with -1 and the
    log-probability of the best path per utterance.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    lengths = tf.cast(lengths, tf.int32)
    (decoded,), _ = tf.nn.ctc_greedy_decoder(
        tf.transpose(logits, [1, 0, 2]), lengths, merge_repeated=True, blank_index=-1
    )
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    valid = tf.sequence_mask(lengths, tf.shape(logits)[1], dtype=tf.float32)
    path_log_prob = tf.reduce_sum(tf.reduce_max(log_probs, axis=-1) * valid, axis=-1)
    return _dense_ids(decoded, tf.shape(logits)[0]), path_log_prob


def beam_search_decode(
    logits: tf.Tensor, lengths: tf.Tensor, beam_width: int = 8, top_paths: int = 1
) -> tuple[list[tf.Tensor], tf.Tensor]:
    """Prefix beam search; returns ``top_paths`` dense id tensors and log-probs ``[batch, top]``."""
    if beam_width < 1 or top_paths < 1 or top_paths > beam_width:
        raise ValueError(f"need 1 <= top_paths <= beam_width, got {top_paths} and {beam_width}")
    logits = tf.convert_to_tensor(logits, tf.float32)
    decoded, log_probs = tf.nn.ctc_beam_search_decoder(
        tf.transpose(tf.nn.log_softmax(logits, axis=-1), [1, 0, 2]),
        tf.cast(lengths, tf.int32),
        beam_width=beam_width,
        top_paths=top_paths,
    )
    batch = tf.shape(logits)[0]
    return [_dense_ids(d, batch) for d in decoded], log_probs


def _dense_ids(sparse: tf.SparseTensor, batch: tf.Tensor) -> tf.Tensor:
    width = tf.maximum(sparse.dense_shape[1], 1)
    sparse = tf.SparseTensor(
        sparse.indices, sparse.values, tf.stack([tf.cast(batch, tf.int64), width])
    )
    return tf.cast(tf.sparse.to_dense(sparse, default_value=PAD_LABEL), tf.int32)


def ids_to_text(ids: tf.Tensor, alphabet: Sequence[str] | tf.Tensor) -> tf.Tensor:
    """Dense label ids (padding -1) -> one string per row by looking up ``alphabet[id]``."""
    symbols = tf.concat(
        [tf.constant(list(alphabet)) if not tf.is_tensor(alphabet) else alphabet, [""]], 0
    )
    ids = tf.where(ids < 0, tf.shape(symbols)[0] - 1, ids)
    return tf.strings.reduce_join(tf.gather(symbols, ids), axis=-1)


def text_to_ids(texts: Sequence[str], alphabet: str) -> tf.RaggedTensor:
    """Strings -> ragged label ids; raises ``ValueError`` naming characters outside ``alphabet``."""
    index = {ch: i for i, ch in enumerate(alphabet)}
    unknown = sorted({ch for text in texts for ch in text} - set(index))
    if unknown:
        raise ValueError(f"characters {unknown} are not in the alphabet {alphabet!r}")
    return tf.ragged.constant(
        [[index[ch] for ch in text] for text in texts],
        dtype=tf.int32,
        ragged_rank=1,
        inner_shape=(),
    )


def phrase_log_likelihoods(logits: tf.Tensor, phrase_ids: tf.RaggedTensor) -> tf.Tensor:
    """``log p(phrase | audio)`` ``[batch, phrases]`` by CTC for every allowed phrase (a grammar).

    Exact scoring of a closed set of transcripts, as command-style recognisers need; frames past
    an utterance's length must already be masked as blanks.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    batch, frames = tf.shape(logits)[0], tf.shape(logits)[1]
    count = phrase_ids.nrows(out_type=tf.int32)
    tiled_logits = tf.repeat(logits, count, axis=0)  # [batch * phrases, T, C]
    labels = tf.tile(phrase_ids.to_tensor(default_value=0), [batch, 1])
    label_length = tf.tile(tf.cast(phrase_ids.row_lengths(), tf.int32), [batch])
    nll = tf.nn.ctc_loss(
        labels,
        tiled_logits,
        label_length,
        tf.fill([batch * count], frames),
        logits_time_major=False,
        blank_index=-1,
    )
    return -tf.reshape(nll, [batch, count])


def snap_words(texts: tf.Tensor, words: Sequence[str]) -> tf.Tensor:
    """Replace every word of each string by the closest word of ``words`` (character edits).

    A word list biases an open decoder toward a known vocabulary (command recognisers, digit
    strings) without needing a language model. Ties go to the earlier word in the list.
    """
    if not words:
        raise ValueError("snap_words needs a non-empty word list")
    texts = tf.convert_to_tensor(texts, tf.string)
    split = tf.strings.split(texts)  # ragged [batch, (words)]
    flat = split.flat_values
    count, vocab = tf.size(flat), len(words)
    hyp_chars = tf.strings.unicode_split(tf.repeat(flat, vocab), "UTF-8")
    ref_chars = tf.strings.unicode_split(tf.tile(tf.constant(list(words)), [count]), "UTF-8")
    distance = tf.edit_distance(hyp_chars.to_sparse(), ref_chars.to_sparse(), normalize=False)
    best = tf.argmin(tf.reshape(distance, [count, vocab]), axis=1, output_type=tf.int32)
    snapped = split.with_flat_values(tf.gather(tf.constant(list(words)), best))
    return tf.strings.reduce_join(snapped, axis=-1, separator=" ")
