"""``nlp.TextClassifier``: raw strings in, labels with scores out (single- or multi-label).

Encoders: a small transformer (keras-hub ``TokenAndPositionEmbedding`` + ``TransformerEncoder``)
trained from scratch on a WordPiece vocabulary learned from the training texts, or a pretrained
BERT-family backbone (``preset="minilm"`` or a local folder). Tokenisation is the core-op
``nlp.tokenization.WordPieceTokenizer``, so the exported graph takes ``tf.string`` text.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval, class_names
from common.metrics import classification_report
from common.reports import write_evaluation_report
from common.task import Task, TaskConfig
from common.task_parts import NamedClasses, config_optimizer
from nlp import data as data_lib
from nlp.backbones import (
    MaskedMaxPooling,
    MaskedMeanPooling,
    WordPieceVocabulary,
    preset_tokenizer_options,
    sequence_encoder,
)
from nlp.inputs import length_bucketed_batches, trim_to_longest, validate_texts
from nlp.text_encoding import TextPacker

POOLINGS = ("mean", "mean_max")


@dataclasses.dataclass
class TextClassifierConfig(TaskConfig):
    """Options of ``TextClassifier``; every field is a keyword argument of the constructor."""

    classes: list[str] = dataclasses.field(default_factory=list)
    multi_label: bool = False
    preset: str | None = None  # None: transformer from scratch; "minilm" or a folder: pretrained
    vocabulary_size: int = 8000
    vocabulary_sample: int = (
        20000  # texts (spread over the data) the WordPiece vocabulary learns from
    )
    lowercase: bool = True
    sequence_length: int = 64
    embed_dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_dim: int = 128
    dropout: float = 0.1
    pooling: str = "mean"  # "mean" or "mean_max" (mean and max of the token vectors, concatenated)
    # training only: share of word pieces replaced by [UNK] (regulariser)
    token_dropout: float = 0.0
    learning_rate: float | None = None  # default: 1e-3 from scratch, 5e-5 pretrained
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    batch_size: int = 32
    threshold: float = 0.5
    max_chars: int = 20000
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(
            self.classes, "TextClassifier", "classes=['negative', 'positive']"
        )
        check_at_least(self, 3, "sequence_length")
        check_at_least(self, 10, "vocabulary_size")
        check_at_least(self, 1, "max_chars")
        check_interval("dropout", self.dropout, 0.0, 1.0)
        check_interval("token_dropout", self.token_dropout, 0.0, 1.0)
        check_interval("threshold", self.threshold, 0.0, 1.0, "()")
        check_choice("pooling", self.pooling, POOLINGS)


class TextClassifier(NamedClasses, WordPieceVocabulary, Task):
    """Text classification task following the dlsuite task contract (see docs/design.md)."""

    config_class = TextClassifierConfig
    config: TextClassifierConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.vocabulary: list[str] | None = None
        self._packer: TextPacker | None = None
        self.monitor = "val_loss"

    # ------------------------------------------------------------------ tokenisation
    def _tokenizer_options(self) -> dict[str, Any]:
        c = self.config
        if c.preset:
            return preset_tokenizer_options(c.preset)
        return {
            "vocabulary": self.vocabulary,
            "lowercase": c.lowercase,
            "strip_accents": c.lowercase,
        }

    @property
    def packer(self) -> TextPacker:
        if self._packer is None:
            c = self.config
            self._packer = TextPacker(self.wordpiece_tokenizer(), c.sequence_length, c.max_chars)
        return self._packer

    def set_state(self, state: dict[str, Any]) -> None:
        self.vocabulary = state.get("vocabulary")
        self._packer = None
        self.monitor = "val_loss"

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        self._ensure_vocabulary(None)
        keras.utils.set_random_seed(c.seed)
        inputs, sequence = sequence_encoder(
            preset=c.preset,
            vocabulary_size=len(self.vocabulary),
            sequence_length=c.sequence_length,
            embed_dim=c.embed_dim,
            num_layers=c.num_layers,
            num_heads=c.num_heads,
            intermediate_dim=c.intermediate_dim,
            dropout=c.dropout,
            variable_length=True,
        )
        pooled = MaskedMeanPooling(name="pool")(sequence, inputs["padding_mask"])
        if c.pooling == "mean_max":
            peak = MaskedMaxPooling(name="max_pool")(sequence, inputs["padding_mask"])
            pooled = keras.layers.Concatenate(name="pools")([pooled, peak])
        pooled = keras.layers.Dropout(c.dropout, name="head_dropout")(pooled)
        outputs = keras.layers.Dense(
            self.num_classes,
            activation="sigmoid" if c.multi_label else "softmax",
            dtype="float32",
            name="probabilities",
        )(pooled)
        return keras.Model(inputs, outputs, name="text_classifier")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        learning_rate = c.learning_rate or (5e-5 if c.preset else 1e-3)
        optimizer = config_optimizer(c, total_steps, learning_rate, clipnorm=1.0)
        if c.multi_label:
            loss = keras.losses.BinaryCrossentropy()
            metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=c.threshold)]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)

    # ------------------------------------------------------------------ data
    def _targets(self, labels: list[Any]) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.classes)}
        if self.config.multi_label:
            targets = np.zeros((len(labels), self.num_classes), np.float32)
            for row, item in enumerate(labels):
                names = [item] if isinstance(item, str) else list(item)
                unknown = sorted(set(map(str, names)) - set(index))
                if unknown:
                    raise ValueError(
                        f"unknown labels {unknown[:5]} in example {row}; the model's classes "
                        f"are {self.classes}"
                    )
                targets[row, [index[str(n)] for n in names]] = 1.0
            return targets
        values = np.asarray(labels)
        if values.dtype.kind in "iu":
            if values.size and (values.min() < 0 or values.max() >= self.num_classes):
                raise ValueError(f"label indices must be in [0, {self.num_classes - 1}]")
            return values.astype(np.int32)
        unknown = sorted({str(v) for v in labels} - set(index))
        if unknown:
            raise ValueError(
                f"unknown labels {unknown[:5]}; the model's classes are {self.classes}"
            )
        return np.array([index[str(v)] for v in labels], np.int32)

    def as_text_data(self, data: Any) -> tuple[list[str], list[Any]]:
        """(texts, labels) from ``TextData``, a pair of sequences, a CSV/TSV file or a folder."""
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            data = (
                data_lib.load_text_folder(path)
                if path.is_dir()
                else data_lib.load_text_csv(
                    path, label_separator="|" if self.config.multi_label else None
                )
            )
        if isinstance(data, data_lib.TextData):
            texts, labels = data.texts, data.labels
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            texts, labels = list(data[0]), list(data[1])
        else:
            raise ValueError(
                "data must be TextData, a (texts, labels) pair, a CSV/TSV path or a folder of "
                f"class sub-folders, got {type(data).__name__}"
            )
        if len(texts) != len(labels):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("the dataset is empty")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ValueError(f"text {bad[0]} is {type(texts[bad[0]]).__name__}, not a string")
        return texts, labels

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            raise ValueError(
                "pass TextData, (texts, labels), a CSV/TSV path or a folder; not a tf.data.Dataset"
            )
        texts, labels = self.as_text_data(data)
        self._ensure_vocabulary(texts)
        targets = self._targets(labels)
        packer = self.packer
        dataset = (
            tf.data.Dataset.from_tensor_slices((texts, targets))
            .batch(512)
            .map(lambda t, y: (packer(t), y), num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .cache()
        )
        if training:
            dataset = dataset.shuffle(
                min(len(texts), 20000), seed=self.config.seed, reshuffle_each_iteration=True
            )
            batches = length_bucketed_batches(dataset, batch_size)
            if self.config.token_dropout:
                batches = batches.map(self._drop_tokens, num_parallel_calls=tf.data.AUTOTUNE)
            return batches.prefetch(tf.data.AUTOTUNE)
        batches = dataset.batch(batch_size).map(lambda x, y: (trim_to_longest(x), y))
        return batches.prefetch(tf.data.AUTOTUNE)

    def _drop_tokens(
        self, inputs: dict[str, tf.Tensor], targets: tf.Tensor
    ) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """Word dropout: replace a random ``token_dropout`` share of the text's pieces by [UNK]."""
        packer, ids = self.packer, inputs["token_ids"]
        special = (
            tf.equal(ids, packer.cls_id)
            | tf.equal(ids, packer.sep_id)
            | tf.equal(inputs["padding_mask"], 0)
        )
        drop = (tf.random.uniform(tf.shape(ids)) < self.config.token_dropout) & ~special
        unknown = tf.cast(packer.tokenizer.oov_id, ids.dtype)
        return {**inputs, "token_ids": tf.where(drop, unknown, ids)}, targets

    # ------------------------------------------------------------------ inference
    def predict_proba(self, texts: Any, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, C)`` for raw texts (one text gives ``(1, C)``)."""
        texts, _ = validate_texts(texts, self.config.max_chars)
        outputs = []
        for i in range(0, len(texts), batch_size):
            inputs = trim_to_longest(self.packer(tf.constant(texts[i : i + batch_size])))
            outputs.append(self.model(inputs, training=False).numpy())
        return np.concatenate(outputs)

    def is_single_input(self, inputs: Any) -> bool:
        """One text is a ``str`` (or UTF-8 ``bytes``); any other iterable is a list of texts."""
        return isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable)

    def predict_batch(self, items: list[Any], batch_size: int = 64) -> list[dict[str, Any]]:
        """Texts -> ``{"label", "score", "scores": {class: p}}`` (+ ``labels`` if multi-label)."""
        results = []
        for row in self.predict_proba(items, batch_size):
            scores = {name: float(p) for name, p in zip(self.classes, row, strict=True)}
            best = int(np.argmax(row))
            result = {"label": self.classes[best], "score": float(row[best]), "scores": scores}
            if self.config.multi_label:
                result["labels"] = [n for n, p in scores.items() if p >= self.config.threshold]
            results.append(result)
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        data: Any,
        batch_size: int | None = None,
        report_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class report, confusion matrix; with ``report_dir`` the
        report files and the confusion-matrix PNG (``common.reports``).

        Multi-label: subset accuracy, micro/macro F1 and per-class P/R/F1 at ``threshold``.
        """
        texts, labels = self.as_text_data(data)
        targets = self._targets(labels)
        probabilities = self.predict_proba(texts, batch_size or 128)
        multi_label = self.config.multi_label
        report = (
            self._multi_label_report(targets, probabilities)
            if multi_label
            else classification_report(targets, probabilities, self.classes, top_k=2)
        )
        if report_dir is not None:
            write_evaluation_report(
                report_dir,
                report,
                confusion_classes=None if multi_label else self.classes,
                overwrite=overwrite,
            )
        return report

    def _multi_label_report(self, targets: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
        from sklearn import metrics as skm

        predicted = (probabilities >= self.config.threshold).astype(int)
        truth = targets.astype(int)
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            truth, predicted, zero_division=0
        )
        return {
            "subset_accuracy": float(skm.accuracy_score(truth, predicted)),
            "micro_f1": float(skm.f1_score(truth, predicted, average="micro", zero_division=0)),
            "macro_f1": float(np.mean(f1)),
            "per_class": {
                name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(
                    self.classes, precision, recall, f1, support, strict=True
                )
            },
            "num_examples": int(len(truth)),
        }

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        model, packer = self.model, self.packer
        class_names = tf.constant(self.classes)

        def serve(text: tf.Tensor) -> dict[str, tf.Tensor]:
            probabilities = model(trim_to_longest(packer(text)), training=False)
            top = tf.math.top_k(probabilities, k=len(self.classes))
            return {"scores": top.values, "classes": tf.gather(class_names, top.indices)}

        return {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="text")])}

    def warmup_inputs(self) -> dict[str, Any]:
        return {"text": np.array([b"a short example sentence."], dtype=object)}

    def export_trackables(self) -> list[Any]:
        """The tokenizer's lookup tables travel with the exported graph."""
        return [self.packer]
