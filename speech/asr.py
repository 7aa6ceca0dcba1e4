"""``speech.SpeechRecognizer``: WAV files / waveforms in, transcripts (+ score) out; CTC-trained.

A DeepSpeech2-style model (``speech.model``) on normalised log-mel (or MFCC) features. The
character alphabet comes from the training transcripts unless given. Decoding (greedy, beam
search, a closed phrase grammar or a word list) runs in the graph, so the exported SavedModel
takes WAV bytes or float waveforms and answers exactly what ``predict`` answers.

Bad input, Python API (``ValueError`` naming the problem) / exported graph (an op error, i.e.
HTTP 400 from TF Serving): bytes that are not audio, empty audio and NaN/Inf samples are
rejected; stereo is downmixed; any sample rate is resampled to ``sample_rate``; samples beyond
[-1, 1] are clipped; audio longer than ``chunk_seconds`` (e.g. 10 minutes) is processed in
overlapping chunks, one at a time, so the model's memory does not grow with the length.
The graph reads 16-bit PCM WAV; the Python side also reads FLAC/OGG/24-bit WAV via soundfile.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.task import Task, TaskConfig, as_list
from common.task_parts import config_optimizer
from speech import augment, decoding
from speech import data as data_lib
from speech.ctc import PAD_LABEL, CTCLoss
from speech.features import (
    FEATURE_TYPES,
    encode_wav,
    normalize_per_utterance,
    read_audio,
    resample,
    waveform_to_features,
)
from speech.model import RNN_TYPES, TIME_STRIDES, build_acoustic_model


@dataclasses.dataclass
class SpeechRecognizerConfig(TaskConfig):
    """Options of ``SpeechRecognizer``; every field is a keyword argument of the constructor.

    ``alphabet`` "" means "every character of the training transcripts". ``phrases`` restricts
    output to a closed list of transcripts (a command grammar); ``words`` snaps each decoded word
    to the nearest listed word. ``chunk_seconds`` is the longest stretch the model sees at once;
    longer audio is cut into chunks overlapping by ``chunk_overlap_seconds`` on each side.

    Training-only augmentation for unseen voices (``speech.augment``; 0 turns each off):
    ``speed_perturbation`` (max relative speed change), ``vtlp`` (max relative frequency warp),
    ``noise_snr_db`` (white noise at this to +20 dB SNR) and ``spec_augment_masks`` (time and
    frequency masks per utterance). Features are always normalised per utterance (CMVN).
    """

    alphabet: str = ""
    lowercase: bool = True
    sample_rate: int = 16000
    feature_type: str = "log_mel"
    num_bins: int = 80
    conv_filters: list[int] = dataclasses.field(default_factory=lambda: [32, 32])
    rnn_type: str = "gru"
    rnn_units: int = 128
    rnn_layers: int = 2
    dropout: float = 0.1
    time_stride: int = 4
    spec_augment: bool = True
    time_mask_width: int = 10
    freq_mask_width: int = 8
    spec_augment_masks: int = 2
    speed_perturbation: float = 0.0
    vtlp: float = 0.0
    noise_snr_db: float = 0.0
    decoder: str = "greedy"
    beam_width: int = 8
    phrases: list[str] = dataclasses.field(default_factory=list)
    words: list[str] = dataclasses.field(default_factory=list)
    chunk_seconds: float = 16.0
    chunk_overlap_seconds: float = 1.0
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    batch_size: int = 16
    seed: int = 0

    def validate(self) -> None:
        self.conv_filters = [int(f) for f in self.conv_filters]
        self.phrases = [data_lib.normalize_transcript(p, self.lowercase) for p in self.phrases]
        self.words = [data_lib.normalize_transcript(w, self.lowercase) for w in self.words]
        if len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError(f"alphabet characters must be unique, got {self.alphabet!r}")
        if not 4000 <= self.sample_rate <= 48000:
            raise ValueError(
                f"sample_rate must be between 4000 and 48000 Hz, got {self.sample_rate}"
            )
        if self.feature_type not in FEATURE_TYPES:
            raise ValueError(
                f"feature_type must be one of {FEATURE_TYPES}, got {self.feature_type!r}"
            )
        if self.num_bins < 8:
            raise ValueError(f"num_bins must be at least 8, got {self.num_bins}")
        if not self.conv_filters or min(self.conv_filters) < 1:
            raise ValueError(
                f"conv_filters needs at least one positive width, got {self.conv_filters}"
            )
        if self.time_stride not in TIME_STRIDES or 2 ** len(self.conv_filters) < self.time_stride:
            raise ValueError(
                f"time_stride must be one of {TIME_STRIDES} and at most 2 ** len(conv_filters), "
                f"got {self.time_stride}"
            )
        if self.time_mask_width < 0 or self.freq_mask_width < 0 or self.spec_augment_masks < 0:
            raise ValueError(
                "time_mask_width, freq_mask_width and spec_augment_masks must not be negative"
            )
        if not 0.0 <= self.speed_perturbation < 0.5 or not 0.0 <= self.vtlp < 0.5:
            raise ValueError(
                "speed_perturbation and vtlp must be in [0, 0.5), got "
                f"{self.speed_perturbation} and {self.vtlp}"
            )
        if self.noise_snr_db < 0:
            raise ValueError(f"noise_snr_db must not be negative, got {self.noise_snr_db}")
        if self.rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {RNN_TYPES}, got {self.rnn_type!r}")
        if self.rnn_units < 1 or self.rnn_layers < 1:
            raise ValueError("rnn_units and rnn_layers must be at least 1")
        if self.decoder not in decoding.DECODERS:
            raise ValueError(f"decoder must be one of {decoding.DECODERS}, got {self.decoder!r}")
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {self.beam_width}")
        if any(not p for p in self.phrases) or any(not w or " " in w for w in self.words):
            raise ValueError("phrases must be non-empty and words single non-empty words")
        if self.chunk_seconds < 2 or not 0 <= self.chunk_overlap_seconds <= self.chunk_seconds / 4:
            raise ValueError(
                "chunk_seconds must be at least 2 and chunk_overlap_seconds between 0 and a "
                f"quarter of it, got {self.chunk_seconds} and {self.chunk_overlap_seconds}"
            )
        if self.alphabet:
            self.check_text(self.phrases + self.words, "phrases/words")

    def check_text(self, texts: list[str], what: str) -> None:
        unknown = sorted({ch for text in texts for ch in text} - set(self.alphabet) - {" "})
        if unknown:
            raise ValueError(
                f"{what} use characters {unknown} outside the alphabet {self.alphabet!r}"
            )


def is_single_audio(inputs: Any) -> bool:
    """One audio input: a path, bytes, an array, a ``(waveform, rate)`` pair or a list of numbers.

    A plain list of numbers is one waveform; a list of anything else is a list of inputs.
    """
    if isinstance(inputs, (np.ndarray, str, bytes, bytearray, os.PathLike)):
        return True
    if not isinstance(inputs, (list, tuple)):
        return not isinstance(inputs, Iterable)
    if (
        isinstance(inputs, tuple)
        and len(inputs) == 2
        and isinstance(inputs[1], numbers.Number)
        and not isinstance(inputs[0], (str, bytes, os.PathLike))
    ):
        return True
    return bool(inputs) and all(
        isinstance(x, numbers.Number) and not isinstance(x, bool) for x in inputs
    )


def audio_items(inputs: Any) -> list[Any]:
    """One audio input (see ``is_single_audio``) or a list of them -> a non-empty list."""
    return [inputs] if is_single_audio(inputs) else as_list(inputs)


class SpeechRecognizer(Task):
    """CTC speech recognition following the dlsuite task contract (see docs/design.md)."""

    config_class = SpeechRecognizerConfig
    config: SpeechRecognizerConfig

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        if not c.alphabet:
            raise ValueError(
                "the alphabet is unknown: pass alphabet=... or fit on transcripts first"
            )
        keras.utils.set_random_seed(c.seed)
        return build_acoustic_model(
            c.num_bins,
            len(c.alphabet),
            conv_filters=tuple(c.conv_filters),
            rnn_type=c.rnn_type,
            rnn_units=c.rnn_units,
            rnn_layers=c.rnn_layers,
            dropout=c.dropout,
            spec_augment=c.spec_augment,
            time_mask_width=c.time_mask_width,
            freq_mask_width=c.freq_mask_width,
            masks=c.spec_augment_masks,
            time_stride=c.time_stride,
            seed=c.seed,
        )

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        model.compile(
            optimizer=config_optimizer(c, total_steps),
            loss=CTCLoss(),
        )

    # ------------------------------------------------------------------ data
    def to_utterances(self, data: Any) -> data_lib.Utterances:
        """Folder / manifest path, ``Utterances``, ``(audio_items, transcripts)`` or an unbatched
        ``tf.data.Dataset`` of ``(waveform[, sample_rate], transcript)`` -> ``Utterances``."""
        if isinstance(data, data_lib.Utterances):
            return data
        if isinstance(data, tf.data.Dataset):
            return data_lib.utterances_from_dataset(data, self.config.sample_rate)
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            return (
                data_lib.load_manifest(path) if path.is_file() else data_lib.load_audio_folder(path)
            )
        if isinstance(data, (tuple, list)) and len(data) == 2:
            audio, transcripts = list(data[0]), [str(t) for t in data[1]]
            rates = [
                None if isinstance(a, (str, os.PathLike, bytes)) else self.config.sample_rate
                for a in audio
            ]
            audio = [a if r is None else np.asarray(a) for a, r in zip(audio, rates, strict=True)]
            return data_lib.Utterances(audio, transcripts, rates)
        raise ValueError(
            "data must be a folder (manifest.csv or LibriSpeech layout), a manifest CSV, "
            "speech.Utterances, an (audio_items, transcripts) pair or a tf.data.Dataset, "
            f"got {type(data).__name__}"
        )

    def _normalized(self, utterances: data_lib.Utterances, training: bool) -> list[str]:
        texts = [
            data_lib.normalize_transcript(t, self.config.lowercase) for t in utterances.transcripts
        ]
        if not texts:
            raise ValueError("the dataset is empty")
        if training and not self.config.alphabet:
            self.config.alphabet = "".join(sorted({ch for text in texts for ch in text} | {" "}))
            self.config.check_text(self.config.phrases + self.config.words, "phrases/words")
        self.config.check_text(texts, "transcripts")
        return texts

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        c = self.config
        utterances = self.to_utterances(data)
        texts = self._normalized(utterances, training)
        index = {ch: i for i, ch in enumerate(c.alphabet)}
        labels = [np.array([index[ch] for ch in text], np.int32) for text in texts]

        def generate():
            for (waveform, rate, _), label in zip(
                data_lib.iter_examples(utterances, c.sample_rate), labels, strict=True
            ):
                yield waveform, rate, label

        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec([None], tf.float32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([None], tf.int32),
            ),
        )

        def to_example(waveform, rate, label):
            features = waveform_to_features(
                waveform, rate, c.sample_rate, c.feature_type, c.num_bins
            )
            return {"features": features, "frames": tf.shape(features)[0]}, label

        perturb = training and (c.speed_perturbation or c.vtlp or c.noise_snr_db)
        if perturb:  # cache waveforms at the model's rate; perturb them anew every epoch
            dataset = dataset.map(
                lambda waveform, rate, label: (resample(waveform, rate, c.sample_rate), label),
                num_parallel_calls=tf.data.AUTOTUNE,
            ).cache()
        else:
            dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE).cache()
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(utterances)))
        if training:
            dataset = dataset.shuffle(
                min(len(utterances), 4096), seed=c.seed, reshuffle_each_iteration=True
            )
        if perturb:
            dataset = dataset.map(self._augmented_example, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.padded_batch(
            batch_size,
            padded_shapes=({"features": [None, c.num_bins], "frames": []}, [None]),
            padding_values=({"features": 0.0, "frames": 0}, PAD_LABEL),
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _augmented_example(self, waveform: tf.Tensor, label: tf.Tensor):
        """A training waveform at the model's rate -> perturbed features (``speech.augment``)."""
        c = self.config
        waveform = augment.speed_perturb(waveform, c.sample_rate, c.speed_perturbation)
        waveform = augment.add_noise(waveform, c.noise_snr_db)
        features = waveform_to_features(
            waveform, c.sample_rate, c.sample_rate, c.feature_type, c.num_bins
        )
        if c.vtlp:
            features = normalize_per_utterance(augment.warp_frequency(features, c.vtlp))
        return {"features": features, "frames": tf.shape(features)[0]}, label

    # ------------------------------------------------------------------ inference
    DECODER_OPTIONS = (
        "decoder",
        "beam_width",
        "phrases",
        "words",
        "chunk_seconds",
        "chunk_overlap_seconds",
    )

    def configure_decoder(self, **options: Any) -> SpeechRecognizer:
        """Change decoding (greedy/beam, phrase grammar, word list, chunking) of a trained model."""
        unknown = sorted(set(options) - set(self.DECODER_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown decoder option(s) {unknown}; choose from {self.DECODER_OPTIONS}"
            )
        values = {**self.config.to_dict(), **options}
        self.config = self.config_class.from_dict(values)
        return self

    def decode_settings(self) -> decoding.DecodeSettings:
        c = self.config
        frames_per_second = 100  # 10 ms feature hop
        stride = c.time_stride  # windows and context are whole output frames
        context = stride * int(round(c.chunk_overlap_seconds * frames_per_second / stride))
        window = stride * int(round(c.chunk_seconds * frames_per_second / stride))
        return decoding.DecodeSettings(
            alphabet=c.alphabet,
            sample_rate=c.sample_rate,
            feature_type=c.feature_type,
            num_bins=c.num_bins,
            window_frames=window,
            context_frames=context,
            time_stride=stride,
            decoder=c.decoder,
            beam_width=c.beam_width,
            phrases=tuple(c.phrases),
            words=tuple(c.words),
        )

    def _graph(self):
        """The compiled ragged-waveforms -> transcripts function (rebuilt if the config changed)."""
        settings = self.decode_settings()
        cached = getattr(self, "_graph_cache", None)
        if cached is None or cached[0] != settings or cached[1] is not self.model:
            model = self.model

            @tf.function(
                autograph=False,  # explicit tf.cond / map_fn; nothing for AutoGraph to convert
                input_signature=[
                    tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1),
                    tf.TensorSpec([None], tf.int32),
                ],
            )
            def run(waveforms, rates):
                return decoding.transcribe(model, waveforms, rates, settings)

            cached = (settings, model, run)
            self._graph_cache = cached
        return cached[2]

    def is_single_input(self, inputs: Any) -> bool:
        """One audio input (see ``is_single_audio``): a list of numbers is one waveform."""
        return is_single_audio(inputs)

    def predict_batch(
        self, items: list[Any], batch_size: int | None = None
    ) -> list[dict[str, Any]]:
        """Audio (paths, WAV/FLAC bytes, waveforms at ``sample_rate``, ``(waveform, rate)``) ->
        for each ``{"transcript": str, "score": float}``."""
        arrays = [read_audio(item, self.config.sample_rate) for item in items]
        return self._transcribe_arrays(arrays, batch_size or self.config.batch_size)

    def extract_features(self, inputs: Any) -> list[np.ndarray]:
        """The normalised model features ``[frames, bins]`` of each input (the Python path)."""
        c = self.config
        return [
            waveform_to_features(w, r, c.sample_rate, c.feature_type, c.num_bins).numpy()
            for w, r in (read_audio(item, c.sample_rate) for item in audio_items(inputs))
        ]

    def _transcribe_arrays(
        self, items: list[tuple[np.ndarray, int]], batch_size: int
    ) -> list[dict[str, Any]]:
        run, results = self._graph(), []
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            waveforms = tf.RaggedTensor.from_row_lengths(
                np.concatenate([w for w, _ in chunk]), [len(w) for w, _ in chunk]
            )
            out = run(waveforms, tf.constant([r for _, r in chunk], tf.int32))
            for text, score in zip(out["transcript"].numpy(), out["score"].numpy(), strict=True):
                results.append({"transcript": text.decode("utf-8"), "score": float(score)})
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, data: Any, batch_size: int | None = None, examples: int = 5
    ) -> dict[str, Any]:
        """WER and CER (jiwer) against the normalised references, plus the real-time factor.

        RTF = seconds spent recognising (features, model and decoding, batched as ``batch_size``;
        graph tracing excluded) / seconds of audio.
        """
        import jiwer

        utterances = self.to_utterances(data)
        references = self._normalized(utterances, training=False)
        items = [(w, r) for w, r, _ in data_lib.iter_examples(utterances, self.config.sample_rate)]
        audio_seconds = sum(len(w) / r for w, r in items)
        self._transcribe_arrays(items[:1], 1)  # trace the graph first: RTF is the steady state
        started = time.perf_counter()
        results = self._transcribe_arrays(items, batch_size or self.config.batch_size)
        seconds = time.perf_counter() - started
        hypotheses = [r["transcript"] for r in results]
        return {
            "wer": float(jiwer.wer(references, hypotheses)),
            "cer": float(jiwer.cer(references, hypotheses)),
            "rtf": seconds / max(audio_seconds, 1e-9),
            "num_utterances": len(items),
            "audio_seconds": audio_seconds,
            "examples": [
                {"reference": ref, "hypothesis": hyp}
                for ref, hyp in list(zip(references, hypotheses, strict=True))[:examples]
            ],
        }

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        settings, model = self.decode_settings(), self.model

        def from_wav(audio_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            waveforms, rates = decoding.decode_wav_batch(audio_bytes)
            return decoding.transcribe(model, waveforms, rates, settings)

        def from_waveform(waveform: tf.Tensor, sample_rate: tf.Tensor) -> dict[str, tf.Tensor]:
            waveforms = tf.RaggedTensor.from_tensor(waveform)
            rates = tf.fill([tf.shape(waveform)[0]], tf.cast(sample_rate, tf.int32))
            return decoding.transcribe(model, waveforms, rates, settings)

        def features(audio_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            waveforms, rates = decoding.decode_wav_batch(audio_bytes)
            values, frames = decoding.features_batch(waveforms, rates, settings)
            return {"features": values, "frames": frames}

        wav_spec = [tf.TensorSpec([None], tf.string, name="audio_bytes")]
        return {
            "serving_default": (from_wav, wav_spec),
            "features": (features, wav_spec),
            "waveform": (
                from_waveform,
                [
                    tf.TensorSpec([None, None], tf.float32, name="waveform"),
                    tf.TensorSpec([], tf.int32, name="sample_rate"),
                ],
            ),
        }

    def warmup_inputs(self) -> dict[str, Any]:
        rate = self.config.sample_rate
        t = np.arange(rate // 2) / rate
        tone = 0.3 * np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
        return {"audio_bytes": np.array([encode_wav(tone, rate)], dtype=object)}
