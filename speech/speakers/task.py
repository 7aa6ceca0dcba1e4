"""``speech.SpeakerRecognizer``: x-vector speaker embeddings, enrolment, identification and
verification, following the dlsuite task contract.

``fit`` trains the embedder (``speech.speakers.model``) with an additive-margin softmax over the
training speakers; ``enroll(name, recordings)`` adds a voice to the gallery
(``common.verification.Gallery``, saved with the task), ``identify`` / ``verify`` score against
it, ``evaluate`` reports identification accuracy, EER and minDCF. Audio goes through the ASR's
front end (``speech.features``: WAV decoding, resampling, normalised log-mel), in the graph, so
the export (WAV bytes -> ``embedding``, plus ``speaker`` and ``score`` when voices are enrolled)
answers what ``predict`` answers.

Bad input is a ``ValueError`` naming it: empty or 0-sample audio, bytes that are not audio,
NaN samples, an unknown enrolled name, an empty gallery. As in ``SpeechRecognizer``, stereo is
downmixed and other sample rates are resampled; a failed ``enroll`` changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.task import Task, TaskConfig
from common.task_parts import config_optimizer
from common.verification import (
    AdditiveMarginLoss,
    EnrolledGallery,
    Gallery,
    best_match,
    identification_accuracy,
    verification_report,
)
from speech.asr import audio_items, is_single_audio
from speech.features import FEATURE_TYPES, batch_features, encode_wav, read_audio
from speech.speakers.data import load_speaker_folder
from speech.speakers.model import EMBEDDER_NAME, build_embedder, build_training_model


@dataclasses.dataclass
class SpeakerRecognizerConfig(TaskConfig):
    """Options of ``SpeakerRecognizer``. ``speakers`` (the training identities) is filled by
    ``fit``; ``threshold`` is the cosine score ``verify`` accepts at (``evaluate`` reports the
    EER threshold to set it from)."""

    speakers: list[str] = dataclasses.field(default_factory=list)
    sample_rate: int = 16000
    feature_type: str = "log_mel"
    num_bins: int = 40
    channels: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 128])
    pool_channels: int = 256
    embedding_dim: int = 128
    dropout: float = 0.1
    margin: float = 0.2
    scale: float = 30.0
    threshold: float = 0.5
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    batch_size: int = 32
    seed: int = 0

    def validate(self) -> None:
        self.channels = [int(c) for c in self.channels]
        self.speakers = [str(s) for s in self.speakers]
        if len(set(self.speakers)) != len(self.speakers):
            raise ValueError(f"speaker names must be unique, got {self.speakers}")
        if not 4000 <= self.sample_rate <= 48000:
            raise ValueError(f"sample_rate must be 4000-48000 Hz, got {self.sample_rate}")
        if self.feature_type not in FEATURE_TYPES:
            raise ValueError(f"feature_type must be one of {FEATURE_TYPES}")
        if self.num_bins < 8 or not self.channels or min(self.channels) < 1:
            raise ValueError("num_bins must be at least 8 and channels positive widths")
        if self.pool_channels < 1 or self.embedding_dim < 2:
            raise ValueError("pool_channels must be positive and embedding_dim at least 2")
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold is a cosine score in [-1, 1], got {self.threshold}")
        AdditiveMarginLoss(self.margin, self.scale)  # validates margin and scale


class SpeakerRecognizer(EnrolledGallery, Task):
    """Speaker identification and verification (see the module docstring)."""

    config_class = SpeakerRecognizerConfig
    config: SpeakerRecognizerConfig
    monitor = "val_loss"

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        if len(c.speakers) < 2:
            raise ValueError("fit needs recordings of at least 2 speakers (config.speakers)")
        keras.utils.set_random_seed(c.seed)
        embedder = build_embedder(
            c.num_bins, tuple(c.channels), c.pool_channels, c.embedding_dim, c.dropout
        )
        return build_training_model(embedder, len(c.speakers))

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        model.compile(
            optimizer=config_optimizer(c, total_steps),
            loss=AdditiveMarginLoss(c.margin, c.scale),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    @property
    def embedder(self) -> keras.Model:
        """The embedding sub-model: ``{"features", "frames"} -> [batch, embedding_dim]``."""
        return self.model.get_layer(EMBEDDER_NAME)

    # ------------------------------------------------------------------ data
    @staticmethod
    def labelled(data: Any) -> tuple[list[Any], list[str]]:
        """A one-folder-per-speaker path or an ``(audio_items, speaker_names)`` pair."""
        if isinstance(data, (str, os.PathLike)):
            return load_speaker_folder(Path(data))
        if isinstance(data, (tuple, list)) and len(data) == 2:
            items, names = list(data[0]), [str(n) for n in data[1]]
            if len(items) != len(names):
                raise ValueError(f"{len(items)} recordings but {len(names)} speaker names")
            if not items:
                raise ValueError("the dataset is empty")
            return items, names
        raise ValueError(
            "data must be a folder with one sub-folder per speaker or an "
            f"(audio_items, speaker_names) pair, got {type(data).__name__}"
        )

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        c = self.config
        items, names = self.labelled(data)
        if training and not c.speakers:
            c.speakers = sorted(set(names))
            c.validate()
        unknown = sorted(set(names) - set(c.speakers))
        if unknown:
            raise ValueError(f"speakers {unknown} are not among the training speakers")
        index = {name: i for i, name in enumerate(c.speakers)}

        def generate():
            for item, name in zip(items, names, strict=True):
                waveform, rate = read_audio(item, c.sample_rate)
                yield waveform, rate, index[name]

        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec([None], tf.float32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
            ),
        )

        def to_example(waveform, rate, label):
            features, frames = batch_features(
                tf.RaggedTensor.from_tensor(waveform[None]),
                rate[None],
                c.sample_rate,
                c.feature_type,
                c.num_bins,
            )
            return {"features": features[0], "frames": frames[0]}, label

        dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE).cache()
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(items)))
        if training:
            dataset = dataset.shuffle(len(items), seed=c.seed, reshuffle_each_iteration=True)
        dataset = dataset.padded_batch(
            batch_size, padded_shapes=({"features": [None, c.num_bins], "frames": []}, [])
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ embeddings
    def _embed_graph(self):
        """Ragged waveforms + rates -> unit-length embeddings (compiled once per model)."""
        cached = getattr(self, "_graph_cache", None)
        if cached is None or cached[0] is not self.model:
            embed = self._embedding_fn()
            run = tf.function(
                embed,
                autograph=False,
                input_signature=[
                    tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1),
                    tf.TensorSpec([None], tf.int32),
                ],
            )
            cached = (self.model, run)
            self._graph_cache = cached
        return cached[1]

    def _embedding_fn(self):
        c, embedder = self.config, self.embedder

        def embed(waveforms: tf.RaggedTensor, rates: tf.Tensor) -> tf.Tensor:
            features, frames = batch_features(
                waveforms, rates, c.sample_rate, c.feature_type, c.num_bins
            )
            vectors = embedder({"features": features, "frames": frames}, training=False)
            return tf.math.l2_normalize(vectors, axis=-1)

        return embed

    def embed(self, inputs: Any, batch_size: int | None = None) -> np.ndarray:
        """Unit-length embeddings ``[count, embedding_dim]`` of one or more recordings."""
        arrays = [read_audio(item, self.config.sample_rate) for item in audio_items(inputs)]
        run, size, out = self._embed_graph(), batch_size or self.config.batch_size, []
        for start in range(0, len(arrays), size):
            chunk = arrays[start : start + size]
            waveforms = tf.RaggedTensor.from_row_lengths(
                np.concatenate([w for w, _ in chunk]), [len(w) for w, _ in chunk]
            )
            out.append(run(waveforms, tf.constant([r for _, r in chunk], tf.int32)).numpy())
        return np.concatenate(out)

    # ------------------------------------------------------------------ enrolment and scoring
    def enroll(self, name: str, recordings: Any) -> SpeakerRecognizer:
        """Add ``recordings`` of ``name`` to the gallery (averaged with earlier ones).

        The recordings are all read and embedded before the gallery changes, so bad audio
        leaves it as it was. ``save`` keeps the gallery.
        """
        embeddings = self.embed(recordings)
        self.gallery.enroll(name, embeddings)
        return self

    def identify(self, recording: Any) -> dict[str, Any]:
        """``{"speaker": closest enrolled name, "score": its cosine score}``."""
        name, score = self.gallery.identify(self._one_embedding(recording))
        return {"speaker": name, "score": score}

    def verify(self, recording: Any, name: str, threshold: float | None = None) -> dict[str, Any]:
        """``{"same": score >= threshold, "score": cosine score against name's voice}``."""
        if name not in self.gallery:
            raise ValueError(f"{name!r} is not enrolled; enrolled: {self.gallery.names}")
        limit = self.config.threshold if threshold is None else threshold
        same, score = self.gallery.verify(self._one_embedding(recording), name, limit)
        return {"same": same, "score": score}

    def _one_embedding(self, recording: Any) -> np.ndarray:
        if not is_single_audio(recording):
            raise ValueError("identify and verify take one recording")
        return self.embed(recording)[0]

    def is_single_input(self, inputs: Any) -> bool:
        """One audio input (``speech.asr.is_single_audio``): a list of numbers is a waveform."""
        return is_single_audio(inputs)

    def predict_batch(
        self, items: list[Any], batch_size: int | None = None, **_: Any
    ) -> list[dict]:
        """Each recording -> ``{"embedding"}``, plus ``"speaker"`` and ``"score"`` when voices
        are enrolled (what the export answers)."""
        embeddings = self.embed(items, batch_size)
        if not len(self.gallery):
            return [{"embedding": e} for e in embeddings]
        matches = self.gallery.best_matches(embeddings)
        return [
            {"embedding": e, "speaker": name, "score": score}
            for e, (name, score) in zip(embeddings, matches, strict=True)
        ]

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, data: Any, enrollment: Any = None, p_target: float = 0.01, **_: Any
    ) -> dict[str, Any]:
        """Identification accuracy, verification EER and minDCF on labelled recordings.

        Scored against a gallery enrolled from ``enrollment`` (labelled data like ``data``;
        the task's own gallery is left alone) or, without it, against the task's gallery.
        Every test recording is tried against every enrolled voice (target when the names
        match); identification is closed-set over the recordings of enrolled speakers.
        """
        items, names = self.labelled(data)
        gallery = self.gallery
        if enrollment is not None:
            gallery = Gallery()
            enroll_items, enroll_names = self.labelled(enrollment)
            embedded = self.embed(enroll_items)
            for name in dict.fromkeys(enroll_names):
                rows = [i for i, n in enumerate(enroll_names) if n == name]
                gallery.enroll(name, embedded[rows])
        if not len(gallery):
            raise ValueError("nothing is enrolled: enroll voices or pass enrollment=...")
        scores = gallery.scores(self.embed(items))
        known = [i for i, n in enumerate(names) if n in gallery]
        if not known:
            raise ValueError("none of the test speakers is enrolled")
        predicted = [gallery.names[int(np.argmax(scores[i]))] for i in known]
        same = np.array([[n == g for g in gallery.names] for n in names])
        return {
            "identification_accuracy": identification_accuracy(
                [names[i] for i in known], predicted
            ),
            **verification_report(same, scores, p_target),
            "p_target": p_target,
            "num_recordings": len(items),
            "num_enrolled": len(gallery),
            "num_trials": int(same.size),
        }

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        """``serving_default``: WAV bytes -> ``embedding`` (+ ``speaker``, ``score`` and
        ``scores`` over ``gallery.names`` when voices are enrolled: the gallery is baked in)."""
        from speech.decoding import decode_wav_batch

        embed = self._embedding_fn()
        enrolled = (self.gallery.matrix(), self.gallery.names) if len(self.gallery) else None

        def from_wav(audio_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            waveforms, rates = decode_wav_batch(audio_bytes)
            embeddings = embed(waveforms, rates)
            outputs = {"embedding": embeddings}
            if enrolled is not None:
                match = best_match(embeddings, *enrolled)
                outputs.update(speaker=match["label"], score=match["score"], scores=match["scores"])
            return outputs

        return {"serving_default": (from_wav, [tf.TensorSpec([None], tf.string, "audio_bytes")])}

    def warmup_inputs(self) -> dict[str, Any]:
        rate = self.config.sample_rate
        t = np.arange(rate // 2) / rate
        tone = 0.3 * np.sin(2 * np.pi * 150.0 * t).astype(np.float32)
        return {"audio_bytes": np.array([encode_wav(tone, rate)], dtype=object)}
