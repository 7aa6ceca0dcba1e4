"""The parts of text generation: logit filters and sampling, the character vocabulary, text data."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nlp.generation.data import join_documents, load_text, split_tail
from nlp.generation.vocabulary import CharVocabulary, learn_characters
from nlp.translation.decoding import NEG_INF, filter_logits, sample_tokens

LOGITS = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]]))


def kept(logits: tf.Tensor) -> list[bool]:
    return (logits.numpy()[0] > NEG_INF / 2).tolist()


def test_filter_logits_top_k_top_p_temperature():
    assert kept(filter_logits(LOGITS, 1.0, 0, 1.0)) == [True] * 4
    assert kept(filter_logits(LOGITS, 1.0, 2, 1.0)) == [True, True, False, False]
    assert kept(filter_logits(LOGITS, 1.0, 1, 1.0)) == [True, False, False, False]
    assert kept(filter_logits(LOGITS, 1.0, 0, 0.5)) == [True, False, False, False]
    assert kept(filter_logits(LOGITS, 1.0, 0, 0.8)) == [True, True, False, False]
    assert kept(filter_logits(LOGITS, 1.0, 0, 0.81)) == [True, True, True, False]
    assert kept(filter_logits(LOGITS, 1.0, 2, 0.9)) == [True, True, False, False]  # k first
    assert kept(filter_logits(LOGITS, 1.0, 99, 1e-9)) == [True, False, False, False]
    np.testing.assert_allclose(filter_logits(LOGITS, 2.0, 0, 1.0), LOGITS / 2.0, rtol=1e-6)


def test_sampling_follows_the_filtered_distribution():
    """Gumbel-max samples over many positions match softmax(logits / T) on the kept tokens."""
    logits = tf.tile(LOGITS, [1, 1])

    def frequencies(temperature, top_k, top_p):
        @tf.function
        def draw():
            return tf.map_fn(
                lambda p: sample_tokens(logits, p, False, temperature, top_k, top_p, 3)[0],
                tf.range(3000),
            )

        return np.bincount(draw().numpy(), minlength=4) / 3000

    np.testing.assert_allclose(frequencies(1.0, 0, 1.0), [0.5, 0.3, 0.15, 0.05], atol=0.03)
    np.testing.assert_allclose(frequencies(1.0, 2, 1.0), [0.625, 0.375, 0, 0], atol=0.03)
    hot = np.array([0.5, 0.3, 0.15, 0.05]) ** 0.5
    np.testing.assert_allclose(frequencies(2.0, 0, 1.0), hot / hot.sum(), atol=0.03)
    greedy = sample_tokens(logits, tf.constant(0), True, 1.0, 0, 1.0, 0)
    assert int(greedy[0]) == 0


def test_char_vocabulary_round_trip():
    vocabulary = learn_characters(["abba\ncab ", "é"])
    assert vocabulary[:2] == ["[PAD]", "[UNK]"] and vocabulary[2] == "a"  # most frequent first
    characters = CharVocabulary(vocabulary)
    ids = characters.encode(tf.constant(["abc\n", "zé", ""]))
    assert ids.to_list()[1][0] == characters.unk_id and ids.to_list()[2] == []
    decoded = characters.decode(ids.to_tensor()).numpy().tolist()
    assert decoded == [b"abc\n", "é".encode(), b""]  # [UNK] and [PAD] decode to nothing
    assert learn_characters(["aaab"], max_size=3) == ["[PAD]", "[UNK]", "a"]
    with pytest.raises(ValueError, match="distinct single characters"):
        CharVocabulary(["[PAD]", "[UNK]", "ab"])
    with pytest.raises(ValueError, match="text is empty"):
        learn_characters([""])


def test_text_data(tmp_path):
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.md").write_text("first", encoding="utf-8")
    (tmp_path / "skip.csv").write_text("not text", encoding="utf-8")
    assert load_text(tmp_path) == "first\n\nsecond"
    assert load_text(tmp_path / "b.txt") == "second"
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_text(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="neither a text file nor a folder"):
        load_text(tmp_path / "missing")
    assert join_documents(["a", "b"]) == "a\n\nb"
    text = "".join(f"passage {i}\n\n" for i in range(20))
    head, tail = split_tail(text, 0.1)
    assert head + tail == text and tail == "passage 19\n\n" and head.endswith("\n\n")
    with pytest.raises(ValueError, match="fraction"):
        split_tail(text, 1.5)
