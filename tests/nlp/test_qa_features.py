"""In-graph QA features: windows, span labels, span decoding and offsets, checked with oracle
logits."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nlp.qa.features import QAFeaturizer, decode_answers, span_labels
from nlp.tokenization import WordPieceTokenizer, train_vocabulary

TEXTS = [
    "Zoë Müller was born in São Paulo and moved to Kraków in 1990.",
    "Ada Lovelace works as a chemist at Helix Bank.",
    "Where was Zoë born? What does Ada do? filler words appear here again and again.",
]


@pytest.fixture(scope="module")
def featurizer():
    tokenizer = WordPieceTokenizer(train_vocabulary(TEXTS * 5, vocabulary_size=200))
    return QAFeaturizer(
        tokenizer,
        sequence_length=32,
        doc_stride=8,
        max_question_tokens=8,
        max_question_chars=200,
        max_context_chars=100_000,
    )


def oracle_logits(
    features, target_starts: list[int], target_ends: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Logits peaking on the tokens whose character span starts / ends at the given offsets."""
    token_starts, token_ends = features.token_starts.numpy(), features.token_ends.numpy()
    starts = np.where(np.isin(token_starts, target_starts), 10.0, -10.0).astype(np.float32)
    ends = np.where(np.isin(token_ends, target_ends), 10.0, -10.0).astype(np.float32)
    return starts, ends


def decode(featurizer, questions, contexts, starts, ends, **options):
    features = featurizer(tf.constant(questions), tf.constant(contexts))
    start_logits, end_logits = oracle_logits(features, starts, ends)
    options = {
        "max_answer_length": 10,
        "allow_no_answer": False,
        "no_answer_threshold": 0.0,
        **options,
    }
    return features, decode_answers(features, start_logits, end_logits, **options)


def test_pairs_are_packed_with_segments_and_offsets(featurizer):
    features = featurizer(tf.constant(["Where was Zoë born?"]), tf.constant([TEXTS[0]]))
    ids = features.inputs["token_ids"].numpy()[0]
    segments = features.inputs["segment_ids"].numpy()[0]
    starts, ends = features.token_starts.numpy()[0], features.token_ends.numpy()[0]
    tokenizer = featurizer.tokenizer
    assert ids[0] == tokenizer.token_to_id("[CLS]")
    first_context = int(np.argmax(segments))
    assert ids[first_context - 1] == tokenizer.token_to_id("[SEP]")
    assert (starts[:first_context] == -1).all() and starts[first_context] == 0
    context_tokens = [TEXTS[0][s:e] for s, e in zip(starts, ends, strict=True) if s >= 0]
    assert "".join(context_tokens) == TEXTS[0].replace(" ", "")[: len("".join(context_tokens))]


def test_long_context_windows_overlap_and_cover_every_token(featurizer):
    context = " ".join(["filler words appear here again and again."] * 20)
    features = featurizer(tf.constant(["Where?"]), tf.constant([context]))
    starts = features.token_starts.numpy()
    assert len(starts) > 5
    covered = sorted({int(s) for s in starts.ravel() if s >= 0})
    total = len(featurizer.tokenizer.encode(tf.constant([context])).starts[0])
    assert len(covered) == total  # every context token is in some window
    first, second = (set(row[row >= 0].tolist()) for row in starts[:2])
    assert first & second  # consecutive windows overlap (stride < window)


def test_needle_at_the_end_of_a_100k_character_context(featurizer):
    needle = "Ada Lovelace works as a chemist."
    context = ("filler words appear here again and again.  " * 3000)[
        : 100_000 - len(needle)
    ] + needle
    assert len(context) == 100_000
    answer_start = context.rindex("chemist")
    features, answers = decode(
        featurizer, ["What does Ada do?"], [context], [answer_start], [answer_start + 7]
    )
    assert answers.answer.numpy()[0].decode() == "chemist"
    assert int(answers.start[0]) == answer_start and int(answers.end[0]) == answer_start + 7
    start_labels, end_labels = span_labels(
        features, tf.constant([answer_start]), tf.constant([answer_start + 7])
    )
    labelled = np.flatnonzero(start_labels.numpy())
    assert (
        len(labelled) >= 1 and labelled.min() > len(start_labels) - 5
    )  # only the last windows hold it
    assert (end_labels.numpy()[labelled] >= start_labels.numpy()[labelled]).all()


def test_offsets_slice_unicode_and_repeated_spaces(featurizer):
    context = "Zoë  Müller   was born in  São   Paulo ,  in 1990."
    start, end = context.index("São"), context.index("Paulo") + len("Paulo")
    _, answers = decode(featurizer, ["Where was Zoë born?"], [context], [start], [end])
    assert (
        answers.answer.numpy()[0].decode()
        == "São   Paulo"
        == context[int(answers.start[0]) : int(answers.end[0])]
    )
    start_labels, end_labels = span_labels(
        featurizer(tf.constant(["Where was Zoë born?"]), tf.constant([context])),
        tf.constant([start]),
        tf.constant([end]),
    )
    assert end_labels.numpy()[0] > start_labels.numpy()[0] > 0


def test_max_answer_length_and_no_answer_rules(featurizer):
    context = TEXTS[0]
    start, end = 0, len(context)
    _, answers = decode(featurizer, ["q"], [context], [start], [end], max_answer_length=3)
    assert len(answers.answer.numpy()[0].decode().split()) <= 3
    # No-answer: the [CLS] logits win once allowed and the threshold is low enough.
    features = featurizer(tf.constant(["q"]), tf.constant([context]))
    logits = np.full(features.token_starts.shape, -5.0, np.float32)
    logits[:, 0] = 5.0
    logits[0, 12] = 4.0
    for allow, threshold, expected in ((False, 0.0, False), (True, 0.0, True), (True, 20.0, False)):
        answers = decode_answers(features, logits, logits, 5, allow, threshold)
        assert bool(answers.no_answer[0]) is expected
        # Null score 5 + 5 against the best span (token 12 to itself) 4 + 4, whatever the rule.
        assert float(answers.no_answer_margin[0]) == 2.0
        if expected:
            assert answers.answer.numpy()[0] == b"" and int(answers.start[0]) == -1


def test_empty_context_and_invalid_utf8_do_not_fail(featurizer):
    features = featurizer(
        tf.constant([b"Where?", b"Where \xff?"]), tf.constant([b"", b"S\xc3o Paulo \xfe"])
    )
    assert features.contexts.numpy()[1].decode("utf-8") == "S\ufffdo Paulo \ufffd"
    logits = np.zeros(features.token_starts.shape, np.float32)
    answers = decode_answers(features, logits, logits, 5, False, 0.0)
    assert bool(answers.no_answer[0]) and int(answers.start[0]) == -1
    assert float(answers.no_answer_margin[0]) == np.finfo(np.float32).max  # nothing to answer from
    assert not bool(answers.no_answer[1])
    context = features.contexts.numpy()[1].decode("utf-8")
    assert (
        context[int(answers.start[1]) : int(answers.end[1])] == answers.answer.numpy()[1].decode()
    )


def test_window_configuration_errors():
    tokenizer = WordPieceTokenizer(train_vocabulary(TEXTS, vocabulary_size=100))
    with pytest.raises(ValueError, match="fewer than 8 context tokens"):
        QAFeaturizer(tokenizer, 16, 8, 8, 100, 100)
    with pytest.raises(ValueError, match="doc_stride"):
        QAFeaturizer(tokenizer, 64, 0, 8, 100, 100)
