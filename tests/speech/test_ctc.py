"""speech.ctc: the loss, padded-frame masking and the decoders, on hand-made logits."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from speech import ctc

BLANK = 3  # three labels (0, 1, 2) and the blank last


def _logits(path: list[int], classes: int = 4, sharp: float = 10.0) -> np.ndarray:
    return (np.eye(classes)[path] * sharp).astype(np.float32)


def test_greedy_collapses_repeats_and_drops_blanks():
    logits = np.stack(
        [
            _logits([0, 0, BLANK, 0, 1, 1, BLANK, 2]),
            _logits([BLANK, 2, 2, 2, BLANK, BLANK, 1, 1]),
        ]
    )
    ids, log_prob = ctc.greedy_decode(logits, tf.constant([8, 5]))
    texts = ctc.ids_to_text(ids, "abc").numpy().tolist()
    assert texts == [b"aabc", b"c"]  # second row: frames past length 5 are ignored
    assert log_prob.shape == (2,) and np.all(log_prob.numpy() <= 0)


def test_beam_search_width_one_equals_greedy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 20, 5)).astype(np.float32) * 3
    lengths = tf.constant([20, 17, 12, 20, 5, 1])
    greedy, greedy_lp = ctc.greedy_decode(logits, lengths)
    (beam,), beam_lp = ctc.beam_search_decode(logits, lengths, beam_width=1)
    np.testing.assert_array_equal(greedy.numpy(), beam.numpy())
    # The beam scores a prefix (summed over its alignments): never below the single best path.
    assert np.all(beam_lp.numpy()[:, 0] >= greedy_lp.numpy() - 1e-4)
    with pytest.raises(ValueError, match="top_paths"):
        ctc.beam_search_decode(logits, lengths, beam_width=1, top_paths=2)


def test_masked_loss_equals_loss_on_true_lengths():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 12, 4)).astype(np.float32)
    lengths = np.array([12, 7])
    labels = np.array([[0, 1, 2], [2, 2, -1]])
    masked = ctc.CTCFrameMask()(tf.constant(logits), tf.constant(lengths))
    loss = ctc.CTCLoss(reduction=None)(labels, masked).numpy()
    reference = tf.nn.ctc_loss(
        tf.constant([[0, 1, 2], [2, 2, 0]]),
        logits,
        tf.constant([3, 2]),
        tf.constant(lengths),
        logits_time_major=False,
        blank_index=-1,
    ).numpy()
    np.testing.assert_allclose(loss, reference, rtol=1e-4)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(ctc.CTCLoss())
    )
    assert isinstance(restored, ctc.CTCLoss)


def test_phrase_grammar_and_word_list():
    logits = np.stack([_logits([0, BLANK, 1, 1]), _logits([2, 2, BLANK, 0])])
    ids = ctc.text_to_ids(["ab", "ca", "bc"], "abc")
    likelihoods = ctc.phrase_log_likelihoods(logits, ids).numpy()
    assert likelihoods.argmax(axis=1).tolist() == [0, 1]
    snapped = ctc.snap_words(tf.constant(["yse n0", "", "stp go"]), ["yes", "no", "stop", "go"])
    assert snapped.numpy().tolist() == [b"yes no", b"", b"stop go"]
    with pytest.raises(ValueError, match="not in the alphabet"):
        ctc.text_to_ids(["abz"], "abc")
