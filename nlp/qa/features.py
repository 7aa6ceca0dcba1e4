"""Question + context strings -> windowed model inputs with character offsets, and spans -> answers.

Everything here is core TensorFlow (``tf.strings``, ragged and lookup ops through the shared
``nlp.tokenization.WordPieceTokenizer``), so the same code runs in ``QuestionAnswerer.predict``
and inside the exported serving graph. A context longer than one window is split into windows
that advance ``doc_stride`` context tokens (BERT's ``run_squad`` convention); every context
token remembers the character span of the ORIGINAL context it covers, so a predicted token span
becomes ``context[start:end]`` (Python code-point offsets).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from nlp.tokenization import CLS, PAD, SEP, WordPieceTokenizer

NEG_INF = -1e9


class QAFeatures(NamedTuple):
    """Model-ready windows of a batch of (question, context) pairs.

    ``inputs`` holds ``token_ids``/``padding_mask``/``segment_ids`` (int32 ``[N, T]``, one row a
    window); ``example_index`` ``[N]`` says which pair a window comes from; ``token_starts`` /
    ``token_ends`` (int32 ``[N, T]``) are character offsets into the context, -1 for tokens that
    are not context tokens ([CLS], question, [SEP], padding). ``contexts`` are the (sanitised,
    length-capped) contexts the offsets refer to.
    """

    inputs: dict[str, tf.Tensor]
    example_index: tf.Tensor
    token_starts: tf.Tensor
    token_ends: tf.Tensor
    contexts: tf.Tensor


def sanitize(texts: tf.Tensor, max_chars: int) -> tf.Tensor:
    """Replace invalid UTF-8 with U+FFFD and keep at most ``max_chars`` characters (serving
    guard)."""
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    return tf.strings.substr(texts, 0, max_chars, unit="UTF8_CHAR")


class QAFeaturizer(tf.Module):
    """``(questions [B], contexts [B]) -> QAFeatures``: ``[CLS] question [SEP] context-window
    [SEP]``."""

    def __init__(
        self,
        tokenizer: WordPieceTokenizer,
        sequence_length: int,
        doc_stride: int,
        max_question_tokens: int,
        max_question_chars: int,
        max_context_chars: int,
    ) -> None:
        super().__init__()
        if sequence_length - 3 - max_question_tokens < 8:
            raise ValueError(
                f"sequence_length {sequence_length} leaves fewer than 8 context tokens after "
                f"max_question_tokens {max_question_tokens}; "
                "raise sequence_length or lower max_question_tokens"
            )
        if doc_stride < 1:
            raise ValueError(f"doc_stride must be positive, got {doc_stride}")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.doc_stride = doc_stride
        self.max_question_tokens = max_question_tokens
        self.max_question_chars = max_question_chars
        self.max_context_chars = max_context_chars
        self.cls_id = tokenizer.special_token_id(CLS)
        self.sep_id = tokenizer.special_token_id(SEP)
        self.pad_id = tokenizer.special_token_id(PAD, default=0)

    def __call__(self, questions: tf.Tensor, contexts: tf.Tensor) -> QAFeatures:
        questions = sanitize(tf.convert_to_tensor(questions, tf.string), self.max_question_chars)
        contexts = sanitize(tf.convert_to_tensor(contexts, tf.string), self.max_context_chars)
        question_ids = tf.cast(
            self.tokenizer.encode(questions).ids[:, : self.max_question_tokens], tf.int32
        )
        context = self.tokenizer.encode(contexts)

        # Windows: each pair gets 1 + ceil((context_len - room) / step) of them.
        question_len = tf.cast(question_ids.row_lengths(), tf.int32)
        context_len = tf.cast(context.ids.row_lengths(), tf.int32)
        room = self.sequence_length - 3 - question_len
        step = tf.minimum(self.doc_stride, room)
        extra = tf.maximum(context_len - room, 0)
        num_windows = 1 + (extra + step - 1) // step
        example_index = tf.repeat(tf.range(tf.size(num_windows)), num_windows)
        window_number = tf.ragged.range(num_windows).flat_values
        window_start = window_number * tf.gather(step, example_index)
        window_len = tf.clip_by_value(
            tf.gather(context_len, example_index) - window_start, 0, tf.gather(room, example_index)
        )
        offset = tf.gather(tf.cast(context.ids.row_splits[:-1], tf.int32), example_index)
        positions = tf.ragged.range(window_start + offset, window_start + offset + window_len)

        def window(values: tf.RaggedTensor) -> tf.RaggedTensor:
            flat = tf.cast(values.flat_values, tf.int32)
            return positions.with_flat_values(tf.gather(flat, positions.flat_values))

        context_ids, starts, ends = (
            window(context.ids),
            window(context.starts),
            window(context.ends),
        )
        question_rows = tf.gather(question_ids, example_index)
        count = tf.size(example_index)

        def column(value: int) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_tensor(tf.fill([count, 1], value))

        token_ids = tf.concat(
            [
                column(self.cls_id),
                question_rows,
                column(self.sep_id),
                context_ids,
                column(self.sep_id),
            ],
            axis=1,
        )
        first_part = tf.concat([column(0), tf.zeros_like(question_rows), column(0)], axis=1)
        segment_ids = tf.concat([first_part, tf.ones_like(context_ids), column(1)], axis=1)
        not_context = first_part - 1
        token_starts = tf.concat([not_context, starts, column(-1)], axis=1)
        token_ends = tf.concat([not_context, ends, column(-1)], axis=1)
        shape = [None, self.sequence_length]
        inputs = {
            "token_ids": token_ids.to_tensor(self.pad_id, shape=shape),
            "padding_mask": tf.ones_like(token_ids).to_tensor(0, shape=shape),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
        }
        return QAFeatures(
            inputs,
            example_index,
            token_starts.to_tensor(-1, shape=shape),
            token_ends.to_tensor(-1, shape=shape),
            contexts,
        )


def span_labels(
    features: QAFeatures, answer_starts: tf.Tensor, answer_ends: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Token positions (int32 ``[N]``) of each window's answer; 0 ([CLS]) when the window lacks it.

    ``answer_starts``/``answer_ends`` are character offsets per pair (``[B]``; -1 = no answer).
    """
    char_start = tf.gather(tf.cast(answer_starts, tf.int32), features.example_index)[:, None]
    char_end = tf.gather(tf.cast(answer_ends, tf.int32), features.example_index)[:, None]
    is_context = features.token_starts >= 0
    covers_start = is_context & (features.token_starts <= char_start)
    covers_end = is_context & (features.token_ends >= char_end)
    inside = tf.reduce_any(covers_start, 1) & tf.reduce_any(covers_end, 1) & (char_start[:, 0] >= 0)
    # The start token is the last context token starting at or before the answer start; the end
    # token the first one ending at or after the answer end.
    positions = tf.range(tf.shape(features.token_starts)[1])[None, :]
    start = tf.reduce_max(tf.where(covers_start, positions, -1), axis=1)
    big = tf.shape(features.token_starts)[1]
    end = tf.reduce_min(tf.where(covers_end, positions, big), axis=1)
    inside &= end >= start
    return tf.where(inside, start, 0), tf.where(inside, end, 0)


class Answers(NamedTuple):
    """Decoded answers per pair: text, character start/end (-1 when none), score, no_answer flag.

    ``no_answer_margin`` is the pair's null score minus its best span score (logits): the answer is
    empty when it exceeds the threshold, so it is what a threshold is tuned on.
    """

    answer: tf.Tensor
    start: tf.Tensor
    end: tf.Tensor
    score: tf.Tensor
    no_answer: tf.Tensor
    no_answer_margin: tf.Tensor


def decode_answers(
    features: QAFeatures,
    start_logits: tf.Tensor,
    end_logits: tf.Tensor,
    max_answer_length: int,
    allow_no_answer: bool,
    no_answer_threshold: float,
) -> Answers:
    """Best span over all windows of each pair (start <= end < start + max_answer_length).

    The no-answer score of a pair is its lowest [CLS] score over windows (as in BERT's SQuAD 2.0
    recipe); with ``allow_no_answer`` the pair gets no answer when that score beats the best span
    by more than ``no_answer_threshold``. ``score`` is the span's start x end probability in its
    window (the no-answer probability for no-answer results).
    """
    start_logits = tf.cast(start_logits, tf.float32)
    end_logits = tf.cast(end_logits, tf.float32)
    length = tf.shape(start_logits)[1]
    is_context = features.token_starts >= 0
    masked_start = tf.where(is_context, start_logits, NEG_INF)
    masked_end = tf.where(is_context, end_logits, NEG_INF)
    # [N, T, K]: span (i, i + k) for k < max_answer_length.
    ends = tf.range(length)[:, None] + tf.range(max_answer_length)[None, :]
    in_range = ends < length
    ends = tf.minimum(ends, length - 1)
    pair = masked_start[:, :, None] + tf.gather(masked_end, ends, axis=1)
    pair = tf.where(in_range[None], pair, 2 * NEG_INF)
    flat = tf.reshape(pair, [tf.shape(pair)[0], -1])
    best_flat = tf.argmax(flat, axis=1, output_type=tf.int32)
    best_score = tf.reduce_max(flat, axis=1)
    best_start = best_flat // max_answer_length
    best_end = best_start + best_flat % max_answer_length
    null_score = start_logits[:, 0] + end_logits[:, 0]

    num_pairs = tf.shape(features.contexts)[0]
    index = features.example_index
    window_has_context = tf.reduce_any(is_context, axis=1)
    best_score = tf.where(window_has_context, best_score, 2 * NEG_INF)
    pair_best = tf.math.unsorted_segment_max(best_score, index, num_pairs)
    pair_null = tf.math.unsorted_segment_min(null_score, index, num_pairs)
    window_ids = tf.range(tf.size(index))
    is_best = tf.equal(best_score, tf.gather(pair_best, index))
    best_window = tf.math.unsorted_segment_min(
        tf.where(is_best, window_ids, tf.int32.max), index, num_pairs
    )
    has_context = (
        tf.math.unsorted_segment_max(tf.cast(window_has_context, tf.int32), index, num_pairs) > 0
    )
    no_answer = tf.logical_not(has_context)
    margin = tf.where(has_context, pair_null - pair_best, tf.float32.max)
    if allow_no_answer:
        no_answer |= margin > no_answer_threshold

    best_window = tf.minimum(best_window, tf.size(index) - 1)
    token_start = tf.gather(best_start, best_window)
    token_end = tf.gather(best_end, best_window)
    char_start = tf.gather_nd(features.token_starts, tf.stack([best_window, token_start], 1))
    char_end = tf.gather_nd(features.token_ends, tf.stack([best_window, token_end], 1))
    no_answer |= char_start < 0  # only when nothing was decodable; keeps substr in range
    char_start = tf.maximum(char_start, 0)
    char_end = tf.maximum(char_end, char_start)
    text = tf.strings.substr(features.contexts, char_start, char_end - char_start, unit="UTF8_CHAR")

    # Probabilities over [CLS] + context tokens of the winning window.
    allowed = is_context | tf.equal(tf.range(length), 0)[None, :]
    start_probs = tf.nn.softmax(tf.where(allowed, start_logits, NEG_INF), axis=1)
    end_probs = tf.nn.softmax(tf.where(allowed, end_logits, NEG_INF), axis=1)
    span_prob = tf.gather_nd(start_probs, tf.stack([best_window, token_start], 1)) * tf.gather_nd(
        end_probs, tf.stack([best_window, token_end], 1)
    )
    null_prob = tf.gather(start_probs[:, 0] * end_probs[:, 0], best_window)
    return Answers(
        answer=tf.where(no_answer, tf.constant(""), text),
        start=tf.where(no_answer, -1, char_start),
        end=tf.where(no_answer, -1, char_end),
        score=tf.where(no_answer, tf.where(has_context, null_prob, 1.0), span_prob),
        no_answer=no_answer,
        no_answer_margin=margin,
    )
