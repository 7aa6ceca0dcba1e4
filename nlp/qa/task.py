"""``nlp.QuestionAnswerer``: extractive QA, raw question + context strings in, answer span out.

An encoder reads ``[CLS] question [SEP] context-window [SEP]`` (segment ids 0 / 1): a small
transformer trained from scratch on a WordPiece vocabulary learned from the data, or a
pretrained BERT-family backbone (``preset="minilm"`` or a local folder). Two linear heads score
every token as answer start / end. Long contexts are split into overlapping windows and the best
span over all windows wins (``nlp.qa.features``); with ``allow_no_answer`` (SQuAD 2.0 style) the
[CLS] "null" score can beat the best span by ``no_answer_threshold`` and the answer is empty.

Long inputs: ``predict`` handles contexts up to ``max_context_chars`` (default 100,000) through
windows and raises ``ValueError`` above that; the exported graph keeps the first
``max_context_chars`` characters instead of failing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_interval
from common.task import Task, TaskConfig
from nlp.backbones import WordPieceVocabulary, pretrained_backbone
from nlp.inputs import as_text
from nlp.qa.features import QAFeatures, QAFeaturizer, decode_answers, span_labels
from nlp.qa.model import compile_span_model, span_model
from nlp.qa.squad import QAExample, SquadData, f1_score, gold_answers, read_squad, squad_scores
from nlp.qa.threshold import best_no_answer_threshold, f1_at_threshold

INPUT_NAMES = ("token_ids", "padding_mask", "segment_ids")


@dataclasses.dataclass
class QuestionAnswererConfig(TaskConfig):
    """Options of ``QuestionAnswerer``; every field is a keyword argument of the constructor."""

    preset: str | None = None  # None: transformer from scratch; "minilm" or a folder: pretrained
    vocabulary_size: int = 8000
    vocabulary_sample: int = 20000
    lowercase: bool = True
    sequence_length: int = 256  # tokens per window: [CLS] question [SEP] context [SEP]
    doc_stride: int = 128  # context tokens a window advances over the previous one
    max_question_tokens: int | None = None  # default: min(64, sequence_length // 4)
    max_answer_length: int = 30  # tokens
    allow_no_answer: bool = False  # SQuAD 2.0: may answer "" when the [CLS] score wins
    no_answer_threshold: float = 0.0  # null score must beat the best span by more than this
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_dim: int = 256
    dropout: float = 0.1
    learning_rate: float | None = None  # default: 1e-3 from scratch, 5e-5 pretrained
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    batch_size: int = 16
    max_question_chars: int = 1000
    max_context_chars: int = 100_000
    seed: int = 0

    def validate(self) -> None:
        if self.max_question_tokens is None:
            self.max_question_tokens = min(64, self.sequence_length // 4)
        if self.sequence_length - 3 - self.max_question_tokens < 8:
            raise ValueError(
                f"sequence_length ({self.sequence_length}) must leave at least 8 context tokens "
                f"after max_question_tokens ({self.max_question_tokens}) and 3 special tokens"
            )
        names = ("doc_stride", "max_answer_length", "max_question_tokens", "max_question_chars")
        check_at_least(self, 1, *names, "max_context_chars", "batch_size")
        check_at_least(self, 10, "vocabulary_size")
        check_interval("dropout", self.dropout, 0.0, 1.0)


def _trim(features: QAFeatures) -> QAFeatures:
    """Drop padding columns no window uses (batches of short contexts run faster)."""
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(features.inputs["padding_mask"], axis=1)), 1)
    inputs = {k: v[:, :length] for k, v in features.inputs.items()}
    return features._replace(
        inputs=inputs,
        token_starts=features.token_starts[:, :length],
        token_ends=features.token_ends[:, :length],
    )


def training_span(example: QAExample) -> tuple[int, int, bool]:
    """(char start, char end, usable) of the answer training uses: the first one found in the
    context; (-1, -1) for an unanswerable question; usable False when no answer text is in the
    context."""
    found = [(text, start) for text, start in example.answers if start >= 0]
    if example.answers and not found:
        return -1, -1, False
    if not found:
        return -1, -1, True
    text, start = found[0]
    return start, start + len(text), True


def _as_list(value: Any, kind: str) -> list[Any]:
    """A string or an iterable of them -> list; anything else is a clear ``ValueError``."""
    if isinstance(value, (str, bytes)):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise ValueError(f"{kind} must be a string or a list of strings, got {type(value).__name__}")


class QuestionAnswerer(WordPieceVocabulary, Task):
    """Extractive question answering following the dlsuite task contract (see docs/design.md)."""

    config_class = QuestionAnswererConfig
    config: QuestionAnswererConfig
    vocabulary_source = "question/context pairs"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.vocabulary: list[str] | None = None
        self._featurizer: QAFeaturizer | None = None
        self._predict_fns: dict[bool, Any] = {}
        self.monitor = "val_loss"

    # ------------------------------------------------------------------ tokenisation
    @property
    def featurizer(self) -> QAFeaturizer:
        if self._featurizer is None:
            c = self.config
            self._featurizer = QAFeaturizer(
                self.wordpiece_tokenizer(),
                c.sequence_length,
                c.doc_stride,
                c.max_question_tokens,
                c.max_question_chars,
                c.max_context_chars,
            )
        return self._featurizer

    def set_state(self, state: dict[str, Any]) -> None:
        self.vocabulary = state.get("vocabulary")
        self._featurizer = None
        self._predict_fns = {}
        self.monitor = "val_loss"

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        self._ensure_vocabulary(None)
        keras.utils.set_random_seed(c.seed)
        inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in INPUT_NAMES}
        if c.preset:
            sequence = pretrained_backbone(c.preset)(inputs)["sequence_output"]
        else:
            sequence = self._scratch_encoder(inputs)
        return span_model(inputs, sequence)

    def _scratch_encoder(self, inputs: dict[str, keras.KerasTensor]) -> keras.KerasTensor:
        """keras-hub token + position embeddings, a segment embedding, transformer encoders."""
        import keras_hub

        c = self.config
        x = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=len(self.vocabulary),
            sequence_length=c.sequence_length,
            embedding_dim=c.embed_dim,
            name="embedding",
        )(inputs["token_ids"])
        x = x + keras.layers.Embedding(2, c.embed_dim, name="segment_embedding")(
            inputs["segment_ids"]
        )
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="embedding_norm")(x)
        x = keras.layers.Dropout(c.dropout, name="embedding_dropout")(x)
        for i in range(c.num_layers):
            x = keras_hub.layers.TransformerEncoder(
                intermediate_dim=c.intermediate_dim,
                num_heads=c.num_heads,
                dropout=c.dropout,
                name=f"encoder_{i}",
            )(x, padding_mask=inputs["padding_mask"])
        return x

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        learning_rate = c.learning_rate or (5e-5 if c.preset else 1e-3)
        compile_span_model(model, learning_rate, c.weight_decay, total_steps, c.warmup_fraction)

    # ------------------------------------------------------------------ data
    @staticmethod
    def as_examples(data: Any) -> list[QAExample]:
        """QA examples from ``SquadData``, a list of ``QAExample`` or a SQuAD JSON path."""
        if isinstance(data, (str, os.PathLike)):
            data = read_squad(data)
        if isinstance(data, SquadData):
            data = data.examples
        if not isinstance(data, (list, tuple)) or not all(isinstance(e, QAExample) for e in data):
            raise ValueError(
                "data must be SquadData, a list of QAExample or a SQuAD JSON path, "
                f"got {type(data).__name__}"
            )
        if not data:
            raise ValueError("the dataset is empty")
        return list(data)

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            raise ValueError(
                "pass SquadData, a list of QAExample or a SQuAD JSON path; not a tf.data.Dataset"
            )
        questions, contexts, starts, ends = [], [], [], []
        for example in self.as_examples(data):
            start, end, usable = training_span(example)
            if not usable:
                continue  # answer text nowhere in the context (counted by the SQuAD reader)
            questions.append(example.question)
            contexts.append(example.context)
            starts.append(start)
            ends.append(end)
        if not questions:
            raise ValueError(
                "no usable training examples (every answer is missing from its context)"
            )
        self._ensure_vocabulary(sorted(set(contexts)) + questions)
        featurizer = self.featurizer

        def featurize(question, context, start, end):
            features = featurizer(question, context)
            start_token, end_token = span_labels(features, start, end)
            return features.inputs, {"start_logits": start_token, "end_logits": end_token}

        dataset = (
            tf.data.Dataset.from_tensor_slices((questions, contexts, starts, ends))
            .batch(256)
            .map(featurize, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .cache()
        )
        if training:
            # Shuffle, then batch windows of similar length together: trimmed batches of short
            # contexts cost a fraction of full-length ones (most SQuAD windows are short).
            length = self.config.sequence_length
            boundaries = sorted({max(2, length * k // 8) for k in range(1, 8)})
            dataset = dataset.shuffle(20000, seed=self.config.seed, reshuffle_each_iteration=True)
            dataset = dataset.bucket_by_sequence_length(
                lambda inputs, _: tf.reduce_sum(inputs["padding_mask"]),
                bucket_boundaries=[b + 1 for b in boundaries],
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            )
        else:
            dataset = dataset.batch(batch_size)

        def trim(inputs, labels):
            length = tf.reduce_max(tf.reduce_sum(inputs["padding_mask"], axis=1))
            return {k: v[:, :length] for k, v in inputs.items()}, labels

        return dataset.map(trim).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ inference
    def _answer_graph(
        self, questions: tf.Tensor, contexts: tf.Tensor, abstain: bool = True
    ) -> dict[str, tf.Tensor]:
        """Raw strings -> decoded answers; ``abstain=False`` always returns the best span."""
        c = self.config
        features = _trim(self.featurizer(questions, contexts))
        outputs = self._span_logits(features.inputs)
        answers = decode_answers(
            features,
            outputs["start_logits"],
            outputs["end_logits"],
            c.max_answer_length,
            c.allow_no_answer and abstain,
            c.no_answer_threshold,
        )
        return answers._asdict()

    def _span_logits(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Window inputs -> ``start_logits`` / ``end_logits``: where inference runs the model."""
        return self.model(inputs, training=False)

    def _validate_pairs(self, question: Any, context: Any) -> tuple[list[str], list[str], bool]:
        single = isinstance(question, (str, bytes)) and isinstance(context, (str, bytes))
        questions, contexts = _as_list(question, "question"), _as_list(context, "context")
        if len(questions) == 1 and len(contexts) > 1:
            questions = questions * len(contexts)
        if len(contexts) == 1 and len(questions) > 1:
            contexts = contexts * len(questions)
        if len(questions) != len(contexts):
            raise ValueError(f"got {len(questions)} questions but {len(contexts)} contexts")
        if not questions:
            raise ValueError("predict needs at least one question and context, got empty lists")
        limits = {
            "question": self.config.max_question_chars,
            "context": self.config.max_context_chars,
        }
        checked: dict[str, list[str]] = {"question": [], "context": []}
        for kind, items in (("question", questions), ("context", contexts)):
            for i, item in enumerate(items):
                item = as_text(item, i, kind)
                if not item.strip():
                    raise ValueError(
                        f"{kind} {i} is empty; a question needs a non-empty context to answer from"
                    )
                if len(item) > limits[kind]:
                    raise ValueError(
                        f"{kind} {i} has {len(item):,} characters, over the limit of "
                        f"{limits[kind]:,} (max_{kind}_chars); split it or raise the limit"
                    )
                checked[kind].append(item)
        return checked["question"], checked["context"], single

    def is_single_input(self, inputs: Any) -> bool:
        """One input is a ``{"question", "context"}`` mapping or a ``(question, context)`` pair."""
        if isinstance(inputs, Mapping):
            return True
        return (
            isinstance(inputs, tuple)
            and len(inputs) == 2
            and all(isinstance(part, (str, bytes)) for part in inputs)
        )

    def predict(
        self, question: Any = None, context: Any = None, batch_size: int = 32
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """``question=``, ``context=`` strings (or lists; one side may be a single string) or
        inputs (a ``{"question", "context"}`` mapping, a pair, or a list of them) -> answers.

        One question and context give one answer dict; lists give a list of them. Each dict has
        ``answer`` (text), ``start``/``end`` (character offsets, ``context[start:end] ==
        answer``; -1 when there is no answer), ``score`` (span probability), ``no_answer`` and
        ``no_answer_margin`` (null score minus best span score; empty answer above the threshold).
        """
        if context is None and question is not None and not isinstance(question, (str, bytes)):
            return super().predict(question, batch_size=batch_size)
        questions, contexts, single = self._validate_pairs(question, context)
        pairs = list(zip(questions, contexts, strict=True))
        return super().predict(pairs[0] if single else pairs, batch_size=batch_size)

    def predict_batch(self, items: list[Any], batch_size: int = 32) -> list[dict[str, Any]]:
        """``(question, context)`` pairs or ``{"question", "context"}`` mappings -> answers."""
        questions, contexts = [], []
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                item = (item.get("question"), item.get("context"))
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(
                    f"input {i} must be a (question, context) pair or a mapping with 'question' "
                    f"and 'context', got {type(item).__name__}"
                )
            questions.append(item[0])
            contexts.append(item[1])
        questions, contexts, _ = self._validate_pairs(questions, contexts)
        return self._answers(questions, contexts, batch_size, abstain=True)

    def _answers(
        self, questions: list[str], contexts: list[str], batch_size: int, abstain: bool
    ) -> list[dict[str, Any]]:
        if abstain not in self._predict_fns:
            _ = (
                self.featurizer
            )  # built eagerly: its lookup tables must outlive any one traced graph
            spec = tf.TensorSpec([None], tf.string)
            self._predict_fns[abstain] = tf.function(
                lambda q, c: self._answer_graph(q, c, abstain), input_signature=[spec, spec]
            )
        results = []
        for i in range(0, len(questions), batch_size):
            out = self._predict_fns[abstain](
                tf.constant(questions[i : i + batch_size]),
                tf.constant(contexts[i : i + batch_size]),
            )
            out = {k: v.numpy() for k, v in out.items()}
            for j in range(len(out["answer"])):
                results.append(
                    {
                        "answer": out["answer"][j].decode("utf-8"),
                        "start": int(out["start"][j]),
                        "end": int(out["end"][j]),
                        "score": float(out["score"][j]),
                        "no_answer": bool(out["no_answer"][j]),
                        "no_answer_margin": float(out["no_answer_margin"][j]),
                    }
                )
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, data: Any, batch_size: int = 32, return_predictions: bool = False
    ) -> dict[str, Any]:
        """SQuAD exact match and F1 (percent, official normalisation; v2.0 no-answer handling)."""
        examples = self.as_examples(data)
        results = self.predict(
            [e.question for e in examples], [e.context for e in examples], batch_size
        )
        report = squad_scores(examples, [r["answer"] for r in results])
        report["no_answer_rate"] = float(np.mean([r["no_answer"] for r in results]))
        if return_predictions:
            report["predictions"] = {
                e.id or str(i): r["answer"]
                for i, (e, r) in enumerate(zip(examples, results, strict=True))
            }
        return report

    def no_answer_evidence(self, data: Any, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Per labelled question: ``margin``, ``span_f1`` (best span), ``empty_f1`` (no answer).

        The inputs of ``nlp.qa.threshold``: enough to score any no-answer threshold without
        rerunning the model (e.g. a threshold chosen on other cross-validation folds).
        """
        examples = self.as_examples(data)
        questions, contexts, _ = self._validate_pairs(
            [e.question for e in examples], [e.context for e in examples]
        )
        results = self._answers(questions, contexts, batch_size, abstain=False)
        span_f1, empty_f1 = [], []
        for example, result in zip(examples, results, strict=True):
            golds = gold_answers(example)
            span_f1.append(max(f1_score(result["answer"], g) for g in golds))
            empty_f1.append(float(golds == [""]))
        return {
            "margin": np.array([r["no_answer_margin"] for r in results], dtype=np.float64),
            "span_f1": np.array(span_f1),
            "empty_f1": np.array(empty_f1),
        }

    def tune_no_answer_threshold(self, data: Any, batch_size: int = 32) -> dict[str, float]:
        """Set ``no_answer_threshold`` to the best-F1 value on labelled ``data`` (SQuAD 2.0).

        Tune on held-out questions, not on the ones you report. Returns the threshold, the F1 it
        reaches on ``data`` and the F1 of the threshold it replaces. Saved and exported models
        keep it.
        """
        if not self.config.allow_no_answer:
            raise ValueError(
                "tune_no_answer_threshold needs allow_no_answer=True (SQuAD 2.0-style answers)"
            )
        evidence = self.no_answer_evidence(data, batch_size)
        previous = f1_at_threshold(
            evidence["margin"],
            evidence["span_f1"],
            evidence["empty_f1"],
            self.config.no_answer_threshold,
        )
        threshold, f1 = best_no_answer_threshold(
            evidence["margin"], evidence["span_f1"], evidence["empty_f1"]
        )
        self.config.no_answer_threshold = threshold
        self._predict_fns = {}
        return {"threshold": threshold, "f1": f1, "previous_threshold_f1": previous}

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        def serve(question: tf.Tensor, context: tf.Tensor) -> dict[str, tf.Tensor]:
            return self._answer_graph(question, context)

        spec = [
            tf.TensorSpec([None], tf.string, name="question"),
            tf.TensorSpec([None], tf.string, name="context"),
        ]
        return {"serving_default": (serve, spec)}

    def warmup_inputs(self) -> dict[str, Any]:
        return {
            "question": np.array([b"Where was Ada born?"], dtype=object),
            "context": np.array([b"Ada was born in London in 1815."], dtype=object),
        }

    def export_trackables(self) -> list[Any]:
        """The featurizer's lookup tables travel with the exported graph."""
        return [self.featurizer]
