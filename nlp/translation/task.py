"""``nlp.Translator``: raw sentences in, translated sentences out (transformer encoder-decoder).

keras-hub ``TokenAndPositionEmbedding`` + ``TransformerEncoder`` / ``TransformerDecoder`` trained
with label-smoothed cross-entropy and a warmup + cosine schedule, on case-preserving WordPiece
vocabularies learned from the corpus (shared by both languages or one each). Decoding is
in-graph greedy or beam search (``nlp.translation.decoding``); ``predict`` runs the very function
the SavedModel exports, so TF Serving answers exactly what Python answers.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval
from common.losses import LabelSmoothedCrossEntropy
from common.task import Task, TaskConfig
from common.task_parts import config_optimizer
from nlp.inputs import validate_texts
from nlp.translation import decoding as decoding_lib
from nlp.translation.cached_decoder_step import CachedDecoderStep
from nlp.translation.data import ParallelText, load_parallel_files, load_parallel_tsv
from nlp.translation.text import TranslationText, train_translation_vocabulary

DECODING_METHODS = ("greedy", "beam")


@dataclasses.dataclass
class TranslatorConfig(TaskConfig):
    """Options of ``Translator``; every field is a keyword argument of the constructor."""

    source_language: str = "src"
    target_language: str = "tgt"
    shared_vocabulary: bool = True
    vocabulary_size: int = 8000  # per vocabulary (the shared one, or each of the two)
    vocabulary_sample: int = 50000  # sentences per language the vocabulary learns from
    max_source_length: int = 64  # tokens, [EOS] included; longer sources are cut
    max_target_length: int = 64  # tokens, [BOS]/[EOS] included; also the decoding limit
    embed_dim: int = 256
    encoder_layers: int = 3
    decoder_layers: int = 3
    num_heads: int = 4
    intermediate_dim: int = 1024
    dropout: float = 0.1
    label_smoothing: float = 0.1
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    batch_size: int = 64
    decoding: str = "beam"  # default of predict / export: "greedy" or "beam"
    beam_size: int = 4
    length_penalty: float = 0.6  # GNMT alpha; 0 ranks by the plain sum of log-probabilities
    max_chars: int = 2000  # predict refuses longer texts; the export cuts them
    seed: int = 0

    def validate(self) -> None:
        check_choice("decoding", self.decoding, DECODING_METHODS)
        check_at_least(self, 1, "beam_size", "max_chars")
        check_at_least(self, 0, "length_penalty")
        check_at_least(self, 2, "max_source_length", "max_target_length")
        check_at_least(self, 10, "vocabulary_size")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}"
            )
        check_interval("dropout", self.dropout, 0.0, 1.0)


class Translator(Task):
    """Sequence-to-sequence translation following the dlsuite task contract (see docs/design.md)."""

    config_class = TranslatorConfig
    config: TranslatorConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.source_vocabulary: list[str] | None = None
        self.target_vocabulary: list[str] | None = None
        self._text: TranslationText | None = None
        self._translate_fns: dict[tuple, Any] = {}

    # ------------------------------------------------------------------ vocabularies and text
    def build_vocabularies(self, data: ParallelText | None) -> None:
        """Learn the WordPiece vocabularies from ``data`` (``fit`` does this on first use)."""
        if self.source_vocabulary is not None:
            return
        if data is None:
            raise ValueError("the translator has no vocabulary yet: fit it on parallel text first")
        c = self.config
        if c.shared_vocabulary:
            half = max(1, c.vocabulary_sample)
            shared = train_translation_vocabulary(
                data.sources[:half] + data.targets[:half], c.vocabulary_size, 2 * half
            )
            self.source_vocabulary = self.target_vocabulary = shared
        else:
            self.source_vocabulary = train_translation_vocabulary(
                data.sources, c.vocabulary_size, c.vocabulary_sample
            )
            self.target_vocabulary = train_translation_vocabulary(
                data.targets, c.vocabulary_size, c.vocabulary_sample
            )

    @property
    def text(self) -> TranslationText:
        """The in-graph tokenisers (built from the vocabularies on first use)."""
        if self._text is None:
            self.build_vocabularies(None)
            c = self.config
            self._text = TranslationText(
                self.source_vocabulary,
                self.target_vocabulary,
                c.max_source_length,
                c.max_target_length,
                c.max_chars,
            )
        return self._text

    def get_state(self) -> dict[str, Any]:
        return {
            "source_vocabulary": self.source_vocabulary,
            "target_vocabulary": self.target_vocabulary,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.source_vocabulary = state.get("source_vocabulary")
        self.target_vocabulary = state.get("target_vocabulary")
        self._text = None
        self._translate_fns = {}

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        """``{source_ids, target_ids}`` -> next-token logits; sub-models encoder and decoder."""
        c = self.config
        text = self.text
        keras.utils.set_random_seed(c.seed)
        source_ids = keras.Input((None,), dtype="int32", name="source_ids")
        target_ids = keras.Input((None,), dtype="int32", name="target_ids")

        hidden = keras_hub.layers.TokenAndPositionEmbedding(
            text.source_vocabulary_size, c.max_source_length, c.embed_dim, name="source_embedding"
        )(source_ids)
        source_mask = keras.ops.not_equal(source_ids, 0)
        for i in range(c.encoder_layers):
            hidden = keras_hub.layers.TransformerEncoder(
                c.intermediate_dim,
                c.num_heads,
                dropout=c.dropout,
                normalize_first=True,
                name=f"encoder_layer_{i}",
            )(hidden, padding_mask=source_mask)
        hidden = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(hidden)
        encoder = keras.Model(source_ids, hidden, name="encoder")

        decoder_ids = keras.Input((None,), dtype="int32", name="target_ids")
        encoder_states = keras.Input((None, c.embed_dim), name="encoder_states")
        encoder_ids = keras.Input((None,), dtype="int32", name="source_ids")
        x = keras_hub.layers.TokenAndPositionEmbedding(
            text.target_vocabulary_size, c.max_target_length, c.embed_dim, name="target_embedding"
        )(decoder_ids)
        encoder_mask = keras.ops.not_equal(encoder_ids, 0)
        for i in range(c.decoder_layers):
            x = keras_hub.layers.TransformerDecoder(
                c.intermediate_dim,
                c.num_heads,
                dropout=c.dropout,
                normalize_first=True,
                name=f"decoder_layer_{i}",
            )(x, encoder_states, encoder_padding_mask=encoder_mask)
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(x)
        decoder = keras.Model([decoder_ids, encoder_states, encoder_ids], x, name="decoder")

        states = encoder(source_ids)
        logits = keras.layers.Dense(text.target_vocabulary_size, dtype="float32", name="logits")(
            decoder([target_ids, states, source_ids])
        )
        return keras.Model(
            {"source_ids": source_ids, "target_ids": target_ids}, logits, name="translator"
        )

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        optimizer = config_optimizer(c, total_steps, clipnorm=1.0)
        loss = LabelSmoothedCrossEntropy(
            c.label_smoothing, from_logits=True, reduction="mean_with_sample_weight"
        )
        model.compile(
            optimizer=optimizer,
            loss=loss,
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        )

    # ------------------------------------------------------------------ data
    @staticmethod
    def as_parallel(data: Any) -> ParallelText:
        """``ParallelText``, a ``(sources, targets)`` pair of sentence lists, a pair of line-aligned
        file paths or a TSV path -> ``ParallelText``."""
        if isinstance(data, (str, os.PathLike)):
            data = load_parallel_tsv(Path(data))
        if (
            isinstance(data, (tuple, list))
            and len(data) == 2
            and all(isinstance(p, (str, os.PathLike)) for p in data)
        ):
            data = load_parallel_files(
                *data
            )  # two file paths, never two sentences split into characters
        if isinstance(data, (tuple, list)) and len(data) == 2:
            data = ParallelText([*data[0]], [*data[1]])
        if not isinstance(data, ParallelText):
            raise ValueError(
                "data must be ParallelText, a (sources, targets) pair or a TSV path, got "
                f"{type(data).__name__}"
            )
        if not len(data):
            raise ValueError("the parallel data is empty")
        for side, texts in (("source", data.sources), ("target", data.targets)):
            bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
            if bad is not None:
                raise ValueError(
                    f"{side} sentence {bad} is {type(texts[bad]).__name__}, not a string"
                )
        return data

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            raise ValueError(
                "pass ParallelText, (sources, targets) or a TSV path; not a tf.data.Dataset"
            )
        data = self.as_parallel(data)
        self.build_vocabularies(data)
        text = self.text

        def encode(sources: tf.Tensor, targets: tf.Tensor):
            inputs, labels = text.target_pairs(targets)
            return text.source_ids(sources), inputs, labels

        def unpadded(
            *columns: tf.Tensor,
        ) -> tuple[tf.Tensor, ...]:  # padding is trailing zeros only
            return tuple(x[: tf.math.count_nonzero(x, dtype=tf.int32)] for x in columns)

        dataset = (
            tf.data.Dataset.from_tensor_slices((data.sources, data.targets))
            .batch(1024)
            .map(encode, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .apply(tf.data.experimental.assert_cardinality(len(data)))
            .map(unpadded, num_parallel_calls=tf.data.AUTOTUNE)
            .cache()
        )
        if training:
            dataset = dataset.shuffle(
                min(len(data), 50000), seed=self.config.seed, reshuffle_each_iteration=True
            )
        dataset = dataset.padded_batch(batch_size).map(
            lambda s, i, y: (
                {"source_ids": s, "target_ids": i},
                y,
                tf.cast(tf.not_equal(y, 0), tf.float32),
            )
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------ decoding (one graph for predict and export)
    def _decoding_options(
        self,
        decoding: str | None,
        beam_size: int | None,
        length_penalty: float | None,
        max_length: int | None,
    ) -> tuple[str, int, float, int]:
        c = self.config
        decoding = decoding or c.decoding
        if decoding not in DECODING_METHODS:
            raise ValueError(f"decoding must be one of {DECODING_METHODS}, got {decoding!r}")
        beam_size = int(beam_size or c.beam_size)
        alpha = float(c.length_penalty if length_penalty is None else length_penalty)
        limit = c.max_target_length - 1
        max_length = int(max_length or limit)
        if not 1 <= max_length <= limit:
            raise ValueError(
                f"max_length must be in [1, {limit}] (max_target_length - 1), got {max_length}"
            )
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        return decoding, beam_size, alpha, max_length

    def translate_graph(
        self, texts: tf.Tensor, decoding: str, beam_size: int, alpha: float, max_length: int
    ) -> dict[str, tf.Tensor]:
        """Raw strings ``[B]`` -> ``translation`` strings, ``score``, ``ids`` (traceable, core ops).

        Beam search also decodes greedily and keeps, per sentence, the higher-scoring of the two,
        so a beam result never scores below greedy under the same length penalty.
        """
        model, text, c = self.model, self.text, self.config
        source_ids = text.source_ids(texts)
        states = model.get_layer("encoder")(source_ids, training=False)
        batch = tf.shape(source_ids)[0]
        steps = CachedDecoderStep(model, c.decoder_layers, c.num_heads, c.embed_dim)
        ids = dict(
            bos_id=text.bos_id,
            eos_id=text.eos_id,
            max_length=max_length,
            alpha=alpha,
            pad_id=text.pad_id,
        )
        step, state = steps.build(states, source_ids, 1, max_length, text.bos_id)
        result = decoding_lib.greedy_search(step, batch, state=state, **ids)
        if decoding == "beam" and beam_size > 1:
            step, state = steps.build(states, source_ids, beam_size, max_length, text.bos_id)
            beam = decoding_lib.beam_search(step, batch, beam_size, state=state, **ids)
            result = decoding_lib.best_of(beam, result, text.pad_id)
        return {
            "translation": text.detokenize(result.ids),
            "score": result.scores,
            "ids": result.ids,
        }

    def _translate_fn(self, decoding: str, beam_size: int, alpha: float, max_length: int):
        key = (decoding, beam_size, alpha, max_length)
        if key not in self._translate_fns:

            def serve(text: tf.Tensor) -> dict[str, tf.Tensor]:
                outputs = self.translate_graph(text, decoding, beam_size, alpha, max_length)
                return {"translation": outputs["translation"], "score": outputs["score"]}

            self._translate_fns[key] = tf.function(
                serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
            )
        return self._translate_fns[key]

    # ------------------------------------------------------------------ inference
    @staticmethod
    def _validate(texts: Any, max_chars: int) -> tuple[list[str], bool]:
        items, single = validate_texts(texts, max_chars, allow_empty=True)
        empty = next((i for i, t in enumerate(items) if not t.strip()), None)
        if empty is not None:
            raise ValueError(f"text {empty} is empty; there is nothing to translate")
        return items, single

    def translate(
        self,
        texts: Any,
        decoding: str | None = None,
        beam_size: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
    ) -> tuple[list[str], np.ndarray]:
        """(translations, scores) for a list of raw texts, decoded with the export's graph."""
        items, _ = self._validate(texts, self.config.max_chars)
        fn = self._translate_fn(
            *self._decoding_options(decoding, beam_size, length_penalty, max_length)
        )
        translations, scores = [], []
        for i in range(0, len(items), batch_size):
            outputs = fn(tf.constant(items[i : i + batch_size]))
            translations += [t.decode("utf-8") for t in outputs["translation"].numpy()]
            scores.append(outputs["score"].numpy())
        return translations, np.concatenate(scores)

    def is_single_input(self, inputs: Any) -> bool:
        """One text is a ``str`` (or UTF-8 ``bytes``); any other iterable is a list of texts."""
        return isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable)

    def predict_batch(self, items: list[Any], **decoding: Any) -> list[dict[str, Any]]:
        """Texts -> ``{"translation", "score"}`` each.

        ``decoding``, ``beam_size``, ``length_penalty``, ``max_length`` override the config;
        ``batch_size`` sets how many texts are decoded at once.
        """
        translations, scores = self.translate(items, **decoding)
        return [
            {"translation": t, "score": float(s)} for t, s in zip(translations, scores, strict=True)
        ]

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, data: Any, samples: int = 5, batch_size: int = 64, **decoding: Any
    ) -> dict[str, Any]:
        """Corpus BLEU and chrF (sacrebleu, on detokenised output) and a few sample translations."""
        import sacrebleu

        data = self.as_parallel(data)
        translations, scores = self.translate(data.sources, batch_size=batch_size, **decoding)
        bleu_metric, chrf_metric = sacrebleu.BLEU(), sacrebleu.CHRF()
        bleu = bleu_metric.corpus_score(translations, [data.targets])
        chrf = chrf_metric.corpus_score(translations, [data.targets])
        method, beam_size, alpha, _ = self._decoding_options(
            decoding.get("decoding"),
            decoding.get("beam_size"),
            decoding.get("length_penalty"),
            None,
        )
        return {
            "bleu": float(bleu.score),
            "chrf": float(chrf.score),
            "bleu_signature": str(bleu_metric.get_signature()),
            "decoding": method,
            "beam_size": beam_size if method == "beam" else 1,
            "length_penalty": alpha,
            "mean_score": float(np.mean(scores)),
            "num_examples": len(translations),
            "samples": [
                {"source": s, "reference": r, "translation": t}
                for s, r, t in list(zip(data.sources, data.targets, translations, strict=True))[
                    :samples
                ]
            ],
        }

    # ------------------------------------------------------------------ export
    def serving_endpoints(
        self,
        decoding: str | None = None,
        beam_size: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
    ) -> dict[str, Any]:
        """``text`` (tf.string ``[B]``) -> ``translation`` and ``score``.

        The decoding options (default: the config's; ``Task.export`` passes its keyword
        options here) are fixed in the exported graph.
        """
        fn = self._translate_fn(
            *self._decoding_options(decoding, beam_size, length_penalty, max_length)
        )
        return {
            "serving_default": (fn.python_function, [tf.TensorSpec([None], tf.string, name="text")])
        }

    def warmup_inputs(self) -> dict[str, Any]:
        return {"text": np.array([b"A short example sentence."], dtype=object)}

    def export_trackables(self) -> list[Any]:
        """The vocabularies' lookup tables travel with the exported graph."""
        return [self.text]
