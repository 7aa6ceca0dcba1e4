"""``nlp.EntityTagger``: named-entity recognition, raw text in, entities with character offsets out.

Two encoders: a BiLSTM over word embeddings + a character CNN (from scratch), or a pretrained
BERT-family backbone whose first word piece stands for each word. Both end in a linear-chain CRF
(``nlp.ner.crf``) decoded with Viterbi inside the graph. Tags are IOB2 internally (CoNLL files in
IOB1 / IOB2 / BIOES are converted on reading); evaluation is entity-level via seqeval.

Raw text is split into words the way CoNLL-2003 tokenises (``split_style="conll"``: hyphenated
words and numbers whole, "Germany's" -> "Germany" + "'s", the abbreviations seen in training keep
their period; see ``nlp.tokenization.BasicTokenizer``), in ``predict`` and in the export alike,
so the words served match the words trained on. The export's ``serving_default`` takes raw
``text``; its ``tokens`` signature takes pre-split words (``[batch, words]``, "" pads) and
returns per-word IOB2 ``tags`` plus entities with word-index offsets. ``evaluate(through=...)``
scores gold tokens (``"tokens"``), raw detokenised sentences through ``predict`` (``"text"``) or
through the loaded SavedModel (``"export"``), entities aligned back by character offsets.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval
from common.task import Task, TaskConfig, TrainingHistory
from common.task_parts import config_optimizer
from nlp import data as data_lib
from nlp.backbones import GatherTokens, preset_tokenizer_options, sequence_encoder
from nlp.inputs import length_bucketed_batches, trim_to_longest, validate_texts
from nlp.ner.crf import CRF, CRFLoss, crf_decode, crf_marginals
from nlp.ner.features import (
    CASE_CLASSES,
    PieceFeatures,
    WordFeatures,
    build_char_vocabulary,
    build_word_vocabulary,
)
from nlp.ner.raw_text import detokenize, tags_from_entities
from nlp.text_encoding import truncate_texts
from nlp.tokenization import BasicTokenizer, WordPieceTokenizer, Words
from nlp.tokenization.basic import SPLIT_STYLES

EVALUATION_PATHS = ("tokens", "text", "export")

OUTPUT_NAMES = (
    "entity_texts",
    "entity_labels",
    "entity_starts",
    "entity_ends",
    "entity_scores",
    "num_entities",
)


@dataclasses.dataclass
class EntityTaggerConfig(TaskConfig):
    """Options of ``EntityTagger``; every field is a keyword argument of the constructor."""

    entity_types: list[str] = dataclasses.field(default_factory=list)
    preset: str | None = None  # None: BiLSTM-CNN-CRF from scratch; "minilm" or a folder: pretrained
    max_words: int = 64
    sequence_length: int = 128  # word pieces, pretrained only
    case_dim: int = (
        16  # pretrained only: embedding of each word's casing (uncased backbones lose it); 0 = off
    )
    word_vocabulary_size: int = 30000
    # from scratch: a word seen fewer times maps to the unknown id (whose embedding then learns
    # unseen words); 1 keeps every training word
    min_word_count: int = 2
    # raw-text word split ("conll": CoNLL-2003 tokens, see nlp.tokenization.BasicTokenizer;
    # "bert": split at every punctuation character)
    split_style: str = "conll"
    max_chars_per_word: int = 16
    word_dim: int = 100
    char_dim: int = 32
    char_filters: int = 64
    lstm_units: int = 128
    dropout: float = 0.3
    learning_rate: float | None = None  # default: 3e-3 from scratch, 5e-5 pretrained
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05
    batch_size: int = 32
    max_chars: int = 20000
    seed: int = 0

    def validate(self) -> None:
        self.entity_types = [str(t) for t in self.entity_types]
        if not self.entity_types:
            raise ValueError(
                "EntityTagger needs entity_types, e.g. entity_types=['PER', 'LOC', 'ORG']"
            )
        if len(set(self.entity_types)) != len(self.entity_types):
            raise ValueError(f"entity types must be unique, got {self.entity_types}")
        bad = [t for t in self.entity_types if not t or " " in t or t == "O"]
        if bad:
            raise ValueError(f"invalid entity type names {bad}")
        check_at_least(self, 0, "case_dim")
        check_at_least(self, 1, "max_words", "max_chars_per_word", "min_word_count")
        check_choice("split_style", self.split_style, SPLIT_STYLES)
        check_interval("dropout", self.dropout, 0.0, 1.0)


class EntityTagger(Task):
    """Named-entity recognition task following the dlsuite task contract (see DESIGN.md)."""

    config_class = EntityTaggerConfig
    config: EntityTaggerConfig
    monitor = "val_loss"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.word_vocabulary: list[str] | None = None
        self.char_vocabulary: list[str] | None = None
        self.abbreviations: list[str] | None = None
        self._features: WordFeatures | PieceFeatures | None = None
        self._splitter: BasicTokenizer | None = None
        self._serve_fn = None

    @property
    def tags(self) -> list[str]:
        return ["O"] + [f"{p}-{t}" for t in self.config.entity_types for p in ("B", "I")]

    # ------------------------------------------------------------------ state and features
    def get_state(self) -> dict[str, Any]:
        return {
            "word_vocabulary": self.word_vocabulary,
            "char_vocabulary": self.char_vocabulary,
            "abbreviations": self.abbreviations,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.word_vocabulary = state.get("word_vocabulary")
        self.char_vocabulary = state.get("char_vocabulary")
        self.abbreviations = state.get("abbreviations")
        self._features, self._splitter, self._serve_fn = None, None, None

    def _ensure_vocabularies(self, sentences: data_lib.TaggedSentences | None) -> None:
        c = self.config
        if self.abbreviations is None and sentences is not None:
            self.abbreviations = learn_abbreviations(sentences.tokens)
        if c.preset:
            if self.word_vocabulary is None:
                options = preset_tokenizer_options(c.preset)
                self.word_vocabulary = options["vocabulary"]
                self.char_vocabulary = ["lowercase"] if options["lowercase"] else []
            return
        if self.word_vocabulary is not None:
            return
        if sentences is None:
            raise ValueError("the tagger has no vocabulary yet: fit it on tagged sentences first")
        # Words seen once map to the unknown id, so its embedding is trained for unseen words.
        self.word_vocabulary = build_word_vocabulary(
            sentences.tokens, c.word_vocabulary_size, min_count=c.min_word_count
        )
        self.char_vocabulary = build_char_vocabulary(sentences.tokens, c.max_chars_per_word)

    @property
    def features(self) -> WordFeatures | PieceFeatures:
        if self._features is None:
            self._ensure_vocabularies(None)
            c = self.config
            if c.preset:
                lowercase = bool(self.char_vocabulary)
                tokenizer = WordPieceTokenizer(
                    self.word_vocabulary, lowercase=lowercase, strip_accents=lowercase
                )
                self._features = PieceFeatures(
                    tokenizer, c.sequence_length, c.max_words, with_casing=c.case_dim > 0
                )
            else:
                self._features = WordFeatures(
                    self.word_vocabulary, self.char_vocabulary, c.max_words, c.max_chars_per_word
                )
        return self._features

    @property
    def splitter(self) -> BasicTokenizer:
        """Case- and accent-preserving word split of raw text (``split_style``, CoNLL by default).

        In the CoNLL style the abbreviations seen in the training tokens ("Mr.", "Inc.") keep
        their period.
        """
        if self._splitter is None:
            self._splitter = BasicTokenizer(
                lowercase=False,
                strip_accents=False,
                split_style=self.config.split_style,
                abbreviations=self.abbreviations or (),
            )
        return self._splitter

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        self._ensure_vocabularies(None)
        keras.utils.set_random_seed(c.seed)
        num_tags = len(self.tags)
        if c.preset:
            inputs, sequence = sequence_encoder(
                preset=c.preset,
                vocabulary_size=0,
                sequence_length=c.sequence_length,
                embed_dim=0,
                num_layers=0,
                num_heads=0,
                intermediate_dim=0,
                dropout=0.0,
                variable_length=True,
            )
            inputs["word_index"] = keras.Input((c.max_words,), dtype="int32", name="word_index")
            x = GatherTokens(name="first_pieces")(sequence, inputs["word_index"])
            if c.case_dim > 0:
                inputs["word_case"] = keras.Input((c.max_words,), dtype="int32", name="word_case")
                casing = keras.layers.Embedding(
                    len(CASE_CLASSES), c.case_dim, name="case_embedding"
                )(inputs["word_case"])
                x = keras.layers.Concatenate(name="word_features")([x, casing])
            x = keras.layers.Dropout(0.1, name="dropout")(x)
        else:
            word_ids = keras.Input((c.max_words,), dtype="int32", name="word_ids")
            char_ids = keras.Input(
                (c.max_words, c.max_chars_per_word), dtype="int32", name="char_ids"
            )
            inputs = {"word_ids": word_ids, "char_ids": char_ids}
            words = keras.layers.Embedding(
                len(self.word_vocabulary) + 2, c.word_dim, name="word_embedding"
            )(word_ids)
            chars = keras.layers.Embedding(
                len(self.char_vocabulary), c.char_dim, name="char_embedding"
            )(char_ids)
            chars = keras.layers.TimeDistributed(
                keras.layers.Conv1D(c.char_filters, 3, padding="same", activation="relu"),
                name="char_cnn",
            )(chars)
            chars = keras.layers.TimeDistributed(
                keras.layers.GlobalMaxPooling1D(), name="char_pool"
            )(chars)
            x = keras.layers.Concatenate(name="word_features")([words, chars])
            x = keras.layers.Dropout(c.dropout, name="dropout")(x)
            x = keras.layers.Bidirectional(
                keras.layers.LSTM(c.lstm_units, return_sequences=True), name="bilstm"
            )(x)
            x = keras.layers.Dropout(c.dropout, name="lstm_dropout")(x)
        emissions = keras.layers.Dense(num_tags, dtype="float32", name="emissions")(x)
        potentials = CRF(num_tags, dtype="float32", name="crf")(emissions)
        return keras.Model(inputs, potentials, name="entity_tagger")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        model.compile(
            optimizer=config_optimizer(
                c, total_steps, c.learning_rate or (5e-5 if c.preset else 3e-3), clipnorm=5.0
            ),
            loss=CRFLoss(),
        )

    def fit(self, *args: Any, **kwargs: Any) -> TrainingHistory:
        history = super().fit(*args, **kwargs)
        self._serve_fn = None  # the model may have been rebuilt under a strategy
        return history

    # ------------------------------------------------------------------ data
    def as_sentences(self, data: Any) -> data_lib.TaggedSentences:
        """``TaggedSentences``, a CoNLL file path or a ``(tokens, tags)`` pair of lists."""
        if isinstance(data, (str, os.PathLike)):
            data = data_lib.read_conll(data)
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            data = data_lib.TaggedSentences([list(s) for s in data[0]], [list(t) for t in data[1]])
        if not isinstance(data, data_lib.TaggedSentences):
            raise ValueError(
                "data must be TaggedSentences, a CoNLL file path or a (tokens, tags) pair, "
                f"got {type(data).__name__}"
            )
        if not len(data):
            raise ValueError("the dataset is empty")
        for i, (tokens, tags) in enumerate(zip(data.tokens, data.tags, strict=True)):
            if len(tokens) != len(tags):
                raise ValueError(f"sentence {i} has {len(tokens)} tokens but {len(tags)} tags")
        known = set(self.tags)
        unknown = sorted({t for s in data.tags for t in s} - known)
        if unknown:
            raise ValueError(
                f"unknown tags {unknown[:5]} in the data; the model's entity types are "
                f"{self.config.entity_types}"
            )
        return data

    def _tag_ids(self, sentences: data_lib.TaggedSentences) -> tf.RaggedTensor:
        index = {t: i for i, t in enumerate(self.tags)}
        return tf.ragged.constant([[index[t] for t in s] for s in sentences.tags], tf.int32)

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        sentences = self.as_sentences(data)
        self._ensure_vocabularies(sentences)
        features, max_words = self.features, self.config.max_words
        words = tf.ragged.constant(sentences.tokens, tf.string)
        tags = self._tag_ids(sentences)

        def featurize(w, t):
            inputs, lengths = features(w)
            labels = t[:, :max_words].to_tensor(-1, shape=[None, max_words])
            keep = tf.sequence_mask(lengths, max_words)
            return inputs, tf.where(keep, labels, -1)

        dataset = (
            tf.data.Dataset.from_tensor_slices((words, tags))
            .batch(512)
            .map(featurize, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .cache()
        )
        if training:
            dataset = dataset.shuffle(min(len(sentences), 20000), seed=self.config.seed)
        if not self.config.preset:
            return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        if training:  # word pieces: batch sentences of similar length, trim the padding
            return length_bucketed_batches(dataset, batch_size, (16, 24, 32, 48, 64, 96)).prefetch(
                tf.data.AUTOTUNE
            )
        return (
            dataset.batch(batch_size)
            .map(lambda x, y: (trim_to_longest(x), y))
            .prefetch(tf.data.AUTOTUNE)
        )

    # ------------------------------------------------------------------ decoding
    def _decode(
        self, inputs: dict[str, tf.Tensor], lengths: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        if (
            self.config.preset
        ):  # pieces padded to sequence_length: run the backbone on the longest only
            inputs = trim_to_longest(inputs)
        potentials = self.model(inputs, training=False)
        tags, _ = crf_decode(potentials, lengths)
        marginals = crf_marginals(potentials, lengths)
        confidence = tf.gather(marginals, tags, batch_dims=2)
        return tags, confidence

    def tag_tokens(self, tokens: list[list[str]], batch_size: int = 64) -> list[list[str]]:
        """IOB2 tags for already-split sentences (words past ``max_words`` are tagged ``O``)."""
        out: list[list[str]] = []
        for i in range(0, len(tokens), batch_size):
            chunk = tokens[i : i + batch_size]
            inputs, lengths = self.features(tf.ragged.constant(chunk, tf.string))
            tags, _ = self._decode(inputs, lengths)
            for sentence, row, length in zip(chunk, tags.numpy(), lengths.numpy(), strict=True):
                predicted = [self.tags[t] for t in row[:length]]
                out.append(predicted + ["O"] * (len(sentence) - len(predicted)))
        return out

    def _entities_in_graph(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        """The serving computation: raw texts -> padded entity fields (all core TF ops)."""
        texts = truncate_texts(texts, self.config.max_chars)
        return self._entities(self.splitter(texts), texts)

    def _tokens_in_graph(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        """Pre-split words ``[batch, max_words]`` ("" pads) -> IOB2 ``tags`` + entity fields.

        Entity ``starts`` / ``ends`` are word indices (``[start, end)``) and an entity's text is
        its words joined by one space.
        """
        words = tf.RaggedTensor.from_tensor(tokens, padding="")
        index = tf.ragged.range(words.row_lengths())
        out = self._entities(Words(words, index, index + 1), None)
        tags = out.pop("_tags")
        width = tf.shape(tokens)[1]
        tag_names = tf.gather(tf.constant(self.tags), tags)[:, :width]
        tag_names = tf.pad(
            tag_names, [[0, 0], [0, width - tf.shape(tag_names)[1]]], "CONSTANT", "O"
        )
        given = tf.sequence_mask(words.row_lengths(), width)
        out["tags"] = tf.where(given, tag_names, "")
        return out

    def _entities(self, words: Words, texts: tf.Tensor | None) -> dict[str, tf.Tensor]:
        """Words (with offsets) -> padded entity fields; entity text sliced from ``texts``."""
        inputs, lengths = self.features(words.words)
        tags, confidence = self._decode(inputs, lengths)
        num_types = len(self.config.entity_types)
        type_of_tag = tf.constant([0] + [i // 2 + 1 for i in range(2 * num_types)], tf.int32)
        is_begin_tag = tf.constant([False] + [i % 2 == 0 for i in range(2 * num_types)])
        valid = tf.sequence_mask(lengths, tf.shape(tags)[1])
        kind = tf.where(valid, tf.gather(type_of_tag, tags), 0)
        previous = tf.pad(kind[:, :-1], [[0, 0], [1, 0]])
        begins = (kind > 0) & (tf.gather(is_begin_tag, tags) | tf.not_equal(previous, kind))
        inside = tf.reshape(kind > 0, [-1])
        entity_of_word = tf.boolean_mask(
            tf.reshape(tf.cumsum(tf.cast(begins, tf.int32), axis=1), [-1]), inside
        )
        # make entity ids global: offset each row by the number of entities in earlier rows
        per_row = tf.reduce_sum(tf.cast(begins, tf.int32), axis=1)
        row_offset = tf.cumsum(per_row, exclusive=True)
        width = self.config.max_words
        rows = tf.boolean_mask(
            tf.reshape(tf.tile(tf.range(tf.shape(tags)[0])[:, None], [1, width]), [-1]), inside
        )
        entity_ids = entity_of_word - 1 + tf.gather(row_offset, rows)
        total = tf.reduce_sum(per_row)
        starts = tf.boolean_mask(
            tf.reshape(
                words.starts[:, : self.config.max_words].to_tensor(0, shape=[None, width]), [-1]
            ),
            inside,
        )
        ends = tf.boolean_mask(
            tf.reshape(
                words.ends[:, : self.config.max_words].to_tensor(0, shape=[None, width]), [-1]
            ),
            inside,
        )
        scores = tf.boolean_mask(tf.reshape(confidence, [-1]), inside)
        kinds = tf.boolean_mask(tf.reshape(kind, [-1]), inside)
        e_start = tf.math.unsorted_segment_min(starts, entity_ids, total)
        e_end = tf.math.unsorted_segment_max(ends, entity_ids, total)
        e_score = tf.math.unsorted_segment_mean(scores, entity_ids, total)
        e_kind = tf.math.unsorted_segment_max(kinds, entity_ids, total)
        e_row = tf.math.unsorted_segment_min(rows, entity_ids, total)
        if texts is None:  # pre-split words: the entity's words joined by a space
            flat_words = tf.boolean_mask(
                tf.reshape(words.words[:, :width].to_tensor("", shape=[None, width]), [-1]),
                inside,
            )
            e_text = tf.strings.unsorted_segment_join(flat_words, entity_ids, total, separator=" ")
        else:
            e_text = tf.strings.substr(
                tf.gather(texts, e_row), e_start, e_end - e_start, unit="UTF8_CHAR"
            )
        labels = tf.gather(tf.constant([""] + self.config.entity_types), e_kind)

        def padded(values: tf.Tensor, pad: Any) -> tf.Tensor:
            return tf.RaggedTensor.from_row_lengths(values, per_row).to_tensor(pad)

        valid_tags = tf.where(valid, tags, 0)
        out = {
            "entity_texts": padded(e_text, ""),
            "entity_labels": padded(labels, ""),
            "entity_starts": padded(tf.cast(e_start, tf.int32), -1),
            "entity_ends": padded(tf.cast(e_end, tf.int32), -1),
            "entity_scores": padded(e_score, 0.0),
            "num_entities": per_row,
        }
        if texts is None:
            out["_tags"] = valid_tags
        return out

    # ------------------------------------------------------------------ inference and evaluation
    def _serve_function(self):
        if self._serve_fn is None:
            self._serve_fn = tf.function(
                self._entities_in_graph,
                input_signature=[tf.TensorSpec([None], tf.string)],
                autograph=False,
            )
        return self._serve_fn

    def is_single_input(self, inputs: Any) -> bool:
        """One text is a ``str`` (or UTF-8 ``bytes``); any other iterable is a list of texts."""
        return isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable)

    def predict_batch(self, items: list[Any], batch_size: int = 64) -> list[list[dict[str, Any]]]:
        """Texts -> per text its entities ``{"text", "label", "start", "end", "score"}``.

        ``start`` and ``end`` are character offsets into the text.
        """
        items, _ = validate_texts(items, self.config.max_chars, allow_empty=True)
        return _run_batches(self._serve_function(), items, batch_size)

    def evaluate(
        self,
        data: Any,
        batch_size: int | None = None,
        through: str = "tokens",
        export_dir: str | os.PathLike | None = None,
    ) -> dict[str, Any]:
        """Entity-level precision / recall / F1 (micro) and per type, via seqeval.

        ``through="tokens"`` tags the gold tokens; ``"text"`` detokenises each sentence
        (``nlp.ner.raw_text.detokenize``), runs ``predict`` on the raw text and aligns the
        entities back to the gold tokens by character offsets; ``"export"`` does the same through
        a SavedModel loaded with ``tf.saved_model.load`` (``export_dir``, a version folder, or a
        fresh export of this task), which is what a served client gets.
        """
        if through not in EVALUATION_PATHS:
            raise ValueError(f"through must be one of {EVALUATION_PATHS}, got {through!r}")
        sentences = self.as_sentences(data)
        batch_size = batch_size or 128
        if through == "tokens":
            predicted = self.tag_tokens(sentences.tokens, batch_size)
        else:
            texts, spans = zip(*(detokenize(s) for s in sentences.tokens), strict=True)
            if through == "text":
                entities = self.predict(list(texts), batch_size=batch_size)
            else:
                entities = self._predict_through_export(list(texts), batch_size, export_dir)
            predicted = [tags_from_entities(s, e) for s, e in zip(spans, entities, strict=True)]
        report = score_tags(sentences.tags, predicted, self.config.entity_types)
        report["through"] = through
        return report

    def _predict_through_export(
        self, texts: list[str], batch_size: int, export_dir: str | os.PathLike | None
    ) -> list[list[dict[str, Any]]]:
        if export_dir is not None:
            served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
            return _run_batches(lambda t: served(text=t), texts, batch_size)
        with tempfile.TemporaryDirectory() as tmp:
            path = self.export(Path(tmp) / "ner")
            served = tf.saved_model.load(str(path)).signatures["serving_default"]
            return _run_batches(lambda t: served(text=t), texts, batch_size)

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        """``serving_default``: raw ``text``; ``tokens``: pre-split words, "" padded."""
        return {
            "serving_default": (
                self._entities_in_graph,
                [tf.TensorSpec([None], tf.string, name="text")],
            ),
            "tokens": (
                self._tokens_in_graph,
                [tf.TensorSpec([None, None], tf.string, name="tokens")],
            ),
        }

    def warmup_inputs(self) -> dict[str, Any]:
        return {"text": np.array(["Angela Merkel visited Paris."], dtype=object)}

    def export_trackables(self) -> list[Any]:
        """The word features' lookup tables and the splitter travel with the exported graph."""
        return [self.features, self.splitter]


def learn_abbreviations(sentences: Iterable[Iterable[str]], min_count: int = 2) -> list[str]:
    """Words that training tokens write with a closing period ("Mr.", "Inc."), without it."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for token in sentence:
            if len(token) > 1 and token.endswith(".") and token[:-1].isalpha():
                counts[token[:-1]] = counts.get(token[:-1], 0) + 1
    return sorted(w for w, n in counts.items() if n >= min_count)


def score_tags(
    truth: list[list[str]], predicted: list[list[str]], entity_types: list[str]
) -> dict[str, Any]:
    """Entity-level micro precision / recall / F1, per type (seqeval) and tag accuracy."""
    from seqeval.metrics import classification_report as seqeval_report
    from seqeval.metrics import f1_score, precision_score, recall_score

    per_type = seqeval_report(truth, predicted, output_dict=True, zero_division=0)
    return {
        "precision": float(precision_score(truth, predicted)),
        "recall": float(recall_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted)),
        "per_type": {
            k: {m: float(v) for m, v in values.items()}
            for k, values in per_type.items()
            if k in entity_types
        },
        "num_sentences": len(truth),
        "tag_accuracy": float(
            np.mean(
                [
                    p == t
                    for ps, ts in zip(predicted, truth, strict=True)
                    for p, t in zip(ps, ts, strict=True)
                ]
            )
        ),
    }


def _run_batches(serve: Any, texts: list[str], batch_size: int) -> list[list[dict[str, Any]]]:
    """Entity dicts per text from a serving function (Python graph or loaded signature)."""
    results = []
    for i in range(0, len(texts), batch_size):
        out = {k: v.numpy() for k, v in serve(tf.constant(texts[i : i + batch_size])).items()}
        for row in range(len(out["num_entities"])):
            results.append(
                [
                    {
                        "text": out["entity_texts"][row, j].decode("utf-8"),
                        "label": out["entity_labels"][row, j].decode("utf-8"),
                        "start": int(out["entity_starts"][row, j]),
                        "end": int(out["entity_ends"][row, j]),
                        "score": float(out["entity_scores"][row, j]),
                    }
                    for j in range(int(out["num_entities"][row]))
                ]
            )
    return results
