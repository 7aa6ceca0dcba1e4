"""Audio in, features out: WAV decoding, resampling, log-mel / MFCC, normalisation, SpecAugment.

Every transform is core TensorFlow (``tf.audio``, ``tf.signal``), so the exported graph and the
Python ``predict`` path run the very same ops. Only the Python side reads other formats (FLAC,
OGG, 24-bit WAV) through soundfile; tensorflow-io is not used (its ops do not load on TF 2.21).
"""

from __future__ import annotations

import io
import numbers
import os
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

FEATURE_TYPES = ("log_mel", "mfcc")
_LOG_OFFSET = 1e-6


# ---------------------------------------------------------------------------- decoding
def decode_wav(contents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """WAV bytes -> (mono float32 waveform ``[samples]`` in [-1, 1], sample rate int32).

    Multi-channel audio is downmixed by averaging the channels. Bytes that are not a WAV file
    raise ``InvalidArgumentError`` (a 400 answer from TF Serving).
    """
    audio, rate = tf.audio.decode_wav(contents, desired_channels=-1)
    return tf.reduce_mean(audio, axis=1), tf.cast(rate, tf.int32)


def sanitize(waveform: tf.Tensor) -> tf.Tensor:
    """Reject empty or non-finite audio, clip samples to [-1, 1] (clipped input stays usable)."""
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    waveform = tf.debugging.check_numerics(waveform, "audio contains NaN or Inf samples")
    with tf.control_dependencies(
        [tf.debugging.assert_positive(tf.size(waveform), message="audio is empty (no samples)")]
    ):
        return tf.clip_by_value(waveform, -1.0, 1.0)


# ---------------------------------------------------------------------------- resampling
def resample(
    waveform: tf.Tensor,
    rate_in: tf.Tensor | int,
    rate_out: int,
    half_width: int = 16,
    block: int = 4096,
) -> tf.Tensor:
    """Band-limited resampling of a 1-D waveform from ``rate_in`` to ``rate_out`` (any ratio).

    Windowed-sinc interpolation (Hann window, ``half_width`` zero crossings each side) with the
    cut-off at the lower Nyquist frequency, so downsampling does not alias. Output sample ``m``
    lies at input time ``m * rate_in / rate_out`` and there are ``ceil(n * rate_out / rate_in)``
    of them, as ``scipy.signal.resample_poly`` gives. Output is computed ``block`` samples at a
    time, so memory stays bounded for long recordings. Equal rates return the input unchanged.
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    rate_in = tf.cast(rate_in, tf.float64)
    rate_out_t = tf.constant(float(rate_out), tf.float64)
    return tf.cond(
        tf.equal(rate_in, rate_out_t),
        lambda: waveform,
        lambda: _sinc_resample(waveform, rate_in, rate_out_t, half_width, block),
    )


def _sinc_resample(
    x: tf.Tensor, rate_in: tf.Tensor, rate_out: tf.Tensor, half_width: int, block: int
):
    n = tf.shape(x, out_type=tf.int64)[0]
    ratio = rate_out / rate_in
    n_out = tf.cast(tf.math.ceil(tf.cast(n, tf.float64) * ratio), tf.int64)
    cutoff = tf.minimum(ratio, 1.0)  # fraction of the input Nyquist frequency that survives
    support = tf.cast(tf.math.ceil(half_width / cutoff), tf.int64)  # input samples each side
    offsets = tf.range(-support + 1, support + 1, dtype=tf.int64)
    cutoff32, support32 = tf.cast(cutoff, tf.float32), tf.cast(support, tf.float32)
    padded = tf.pad(x, [[1, 1]])  # index 0 and n + 1 are zeros for out-of-range taps
    num_blocks = (n_out + block - 1) // block

    def one_block(start: tf.Tensor) -> tf.Tensor:
        m = start + tf.range(block, dtype=tf.int64)
        t = tf.cast(m, tf.float64) * rate_in / rate_out  # position in input samples
        base = tf.cast(tf.floor(t), tf.int64)
        k = base[:, None] + offsets[None, :]
        d = tf.cast(
            t[:, None] - tf.cast(k, tf.float64), tf.float32
        )  # small: float32 is exact enough
        arg = cutoff32 * d
        sinc = tf.where(tf.abs(arg) < 1e-6, tf.ones_like(arg), tf.sin(np.pi * arg) / (np.pi * arg))
        window = 0.5 + 0.5 * tf.cos(d * (np.pi / support32))
        weights = cutoff32 * sinc * tf.where(tf.abs(d) < support32, window, 0.0)
        inside = (k >= 0) & (k < n)
        taps = tf.gather(padded, tf.where(inside, k + 1, tf.zeros_like(k)))
        return tf.reduce_sum(weights * taps, axis=1)

    starts = tf.range(num_blocks, dtype=tf.int64) * block
    blocks = tf.map_fn(one_block, starts, fn_output_signature=tf.TensorSpec([block], tf.float32))
    return tf.reshape(blocks, [-1])[:n_out]


# ---------------------------------------------------------------------------- features
def frame_sizes(
    sample_rate: int, frame_ms: float = 25.0, step_ms: float = 10.0
) -> tuple[int, int, int]:
    """(frame_length, frame_step, fft_length) in samples for a sample rate."""
    frame_length = int(round(sample_rate * frame_ms / 1000))
    frame_step = int(round(sample_rate * step_ms / 1000))
    fft_length = 1 << (frame_length - 1).bit_length()
    return frame_length, frame_step, fft_length


def log_mel_spectrogram(
    waveform: tf.Tensor, sample_rate: int, num_mel_bins: int = 80, fmin: float = 20.0
) -> tf.Tensor:
    """``[..., samples]`` -> log-mel energies ``[..., frames, num_mel_bins]`` (25 ms / 10 ms)."""
    frame_length, frame_step, fft_length = frame_sizes(sample_rate)
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    short = tf.maximum(frame_length - tf.shape(waveform)[-1], 0)  # at least one frame
    paddings = tf.concat([tf.zeros([tf.rank(waveform) - 1, 2], tf.int32), [[0, short]]], 0)
    waveform = tf.pad(waveform, paddings)
    stft = tf.signal.stft(
        waveform, frame_length, frame_step, fft_length, window_fn=tf.signal.hann_window
    )
    power = tf.math.square(tf.abs(stft))
    weights = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_length // 2 + 1, sample_rate, fmin, sample_rate / 2.0
    )
    return tf.math.log(tf.tensordot(power, weights, 1) + _LOG_OFFSET)


def mfcc(log_mel: tf.Tensor, num_coefficients: int = 13) -> tf.Tensor:
    """MFCCs (DCT-II of the log-mel energies), the first ``num_coefficients`` per frame."""
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :num_coefficients]


def normalize_per_utterance(features: tf.Tensor, epsilon: float = 1e-5) -> tf.Tensor:
    """Zero mean, unit variance per feature bin over the frames of one utterance ``[frames,
    bins]``."""
    mean, variance = tf.nn.moments(features, axes=[-2], keepdims=True)
    return (features - mean) * tf.math.rsqrt(variance + epsilon)


def waveform_to_features(
    waveform: tf.Tensor,
    rate: tf.Tensor | int,
    sample_rate: int,
    feature_type: str = "log_mel",
    num_bins: int = 80,
) -> tf.Tensor:
    """One mono waveform at any rate -> normalised features ``[frames, bins]`` at
    ``sample_rate``."""
    if feature_type not in FEATURE_TYPES:
        raise ValueError(f"feature_type must be one of {FEATURE_TYPES}, got {feature_type!r}")
    audio = resample(sanitize(waveform), rate, sample_rate)
    if feature_type == "mfcc":
        features = mfcc(log_mel_spectrogram(audio, sample_rate, max(40, num_bins)), num_bins)
    else:
        features = log_mel_spectrogram(audio, sample_rate, num_bins)
    return normalize_per_utterance(features)


def batch_features(
    waveforms: tf.RaggedTensor,
    rates: tf.Tensor,
    sample_rate: int,
    feature_type: str = "log_mel",
    num_bins: int = 80,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Ragged mono waveforms ``[batch, (samples)]`` at ``rates`` ``[batch]`` -> zero-padded
    features ``[batch, frames, bins]`` and each one's frame count (the graphs' front end)."""
    features = tf.map_fn(
        lambda item: waveform_to_features(item[0], item[1], sample_rate, feature_type, num_bins),
        (waveforms, tf.cast(rates, tf.int32)),
        fn_output_signature=tf.RaggedTensorSpec([None, num_bins], tf.float32, ragged_rank=0),
    )
    return features.to_tensor(), tf.cast(features.row_lengths(), tf.int32)


def num_frames(num_samples: int, sample_rate: int) -> int:
    """How many feature frames ``log_mel_spectrogram`` gives for ``num_samples`` samples."""
    frame_length, frame_step, _ = frame_sizes(sample_rate)
    return 1 + max(num_samples - frame_length, 0) // frame_step


# ---------------------------------------------------------------------------- augmentation
@keras.saving.register_keras_serializable(package="dlsuite")
class SpecAugment(keras.layers.Layer):
    """SpecAugment (Park et al., 2019) time and frequency masking on ``[batch, frames, bins]``.

    Each example gets ``freq_masks`` bands of up to ``freq_width`` bins and ``time_masks`` spans
    of up to ``time_width`` frames set to zero (the per-utterance mean). Only active in training.
    """

    def __init__(
        self, freq_masks=2, freq_width=8, time_masks=2, time_width=10, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.time_masks, self.time_width = int(time_masks), int(time_width)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def _mask(self, batch, size, count, width):
        ops = keras.ops
        widths = ops.floor(
            keras.random.uniform((batch, count, 1), 0, width + 1, seed=self._seed_generator)
        )
        starts = ops.floor(
            keras.random.uniform((batch, count, 1), seed=self._seed_generator)
            * ops.maximum(ops.cast(size, "float32") - widths, 1.0)
        )
        positions = ops.cast(ops.arange(size), "float32")[None, None, :]
        hit = (positions >= starts) & (positions < starts + widths)
        return ops.any(hit, axis=1)  # [batch, size]

    def call(self, features, training=None):
        if not training or (self.freq_masks == 0 and self.time_masks == 0):
            return features
        ops = keras.ops
        shape = ops.shape(features)
        keep = ops.ones_like(features, dtype="bool")
        if self.freq_masks:
            keep &= ~self._mask(shape[0], shape[2], self.freq_masks, self.freq_width)[:, None, :]
        if self.time_masks:
            keep &= ~self._mask(shape[0], shape[1], self.time_masks, self.time_width)[:, :, None]
        return ops.where(keep, features, ops.zeros_like(features))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "freq_masks": self.freq_masks,
            "freq_width": self.freq_width,
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "seed": self.seed,
        }


# ---------------------------------------------------------------------------- Python-side reading
AudioInput = Any  # a path, WAV/FLAC bytes, a NumPy waveform, or a (waveform, sample_rate) pair


def read_audio(item: AudioInput, default_rate: int) -> tuple[np.ndarray, int]:
    """Whatever a person has -> (mono float32 waveform, sample rate), with clear ``ValueError``s.

    WAV goes through ``tf.audio.decode_wav`` (the op the exported graph uses), other formats and
    WAV encodings it does not read (24-bit, float) through soundfile. Arrays are taken to be at
    ``default_rate`` unless given as ``(waveform, rate)``; int16 arrays are scaled to [-1, 1];
    ``[samples, channels]`` (or channels-first) audio is downmixed.
    """
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], numbers.Number):
        waveform, rate = as_waveform(item[0]), int(item[1])
    elif isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise ValueError(f"no such audio file: {path}")
        waveform, rate = decode_audio_bytes(path.read_bytes(), str(path))
    elif isinstance(item, (bytes, bytearray)):
        waveform, rate = decode_audio_bytes(bytes(item), "<bytes>")
    else:
        waveform, rate = as_waveform(item), default_rate
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    if waveform.size == 0:
        raise ValueError("audio is empty (no samples)")
    if not np.all(np.isfinite(waveform)):
        raise ValueError("audio contains NaN or Inf samples")
    return waveform, rate


def as_waveform(array: Any) -> np.ndarray:
    """A NumPy-like waveform -> mono float32; integers are scaled by their full range."""
    waveform = np.asarray(array)
    if waveform.dtype.kind not in "fiu":
        raise ValueError(f"a waveform must be numeric, got dtype {waveform.dtype}")
    if waveform.dtype.kind in "iu":
        info = np.iinfo(waveform.dtype)
        waveform = (waveform.astype(np.float64) - (info.max + 1 + info.min) / 2) / (info.max + 1)
    if waveform.ndim == 2:
        channel_axis = 0 if waveform.shape[0] <= 8 < waveform.shape[1] else 1
        waveform = waveform.mean(axis=channel_axis)
    if waveform.ndim != 1:
        raise ValueError(
            f"a waveform must be 1-D (samples) or 2-D (samples, channels), got {waveform.shape}"
        )
    return waveform.astype(np.float32)


def wav_shortfall(data: bytes) -> tuple[int, int] | None:
    """``(declared, present)`` audio bytes of a WAV whose ``data`` chunk is cut short, else None.

    Walks the RIFF chunks to the ``data`` chunk and compares the size its header declares with
    the bytes that follow it. A WAV written by a streaming encoder may declare 0 or 0xFFFFFFFF
    (size unknown); those are not reported.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = offset + 8
        if chunk_id == b"data":
            present = len(data) - body
            if size in (0, 0xFFFFFFFF) or present >= size:
                return None
            return size, present
        offset = body + size + (size & 1)  # chunks are word-aligned
    return None


def decode_audio_bytes(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """Encoded audio -> (mono float32 waveform, rate): WAV by TensorFlow, the rest by soundfile.

    A WAV whose audio data is shorter than its header declares (a truncated file) is read as
    far as it goes, with a ``UserWarning`` naming it.
    """
    if not data:
        raise ValueError(f"{name}: audio is empty (0 bytes)")
    shortfall = wav_shortfall(data)
    if shortfall is not None:
        declared, present = shortfall
        warnings.warn(
            f"{name}: truncated WAV file: its header declares {declared} bytes of audio but "
            f"only {present} are present; reading those",
            UserWarning,
            stacklevel=2,
        )
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            waveform, rate = decode_wav(tf.constant(data))
            return waveform.numpy(), int(rate)
        except tf.errors.InvalidArgumentError:
            pass  # e.g. 24-bit or float WAV: soundfile reads those
    try:
        import soundfile
    except ImportError as error:  # pragma: no cover - soundfile is a declared dependency
        raise ValueError(
            f"{name}: not a 16-bit PCM WAV file and soundfile is not installed"
        ) from error
    try:
        waveform, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"{name}: not a readable audio file (WAV, FLAC, OGG, ...)") from error
    return waveform.mean(axis=1).astype(np.float32), int(rate)


def encode_wav(waveform: np.ndarray, sample_rate: int) -> bytes:
    """Mono (or ``[samples, channels]``) float waveform -> 16-bit PCM WAV bytes."""
    audio = np.asarray(waveform, np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    return tf.audio.encode_wav(tf.constant(np.clip(audio, -1, 1)), sample_rate).numpy()
