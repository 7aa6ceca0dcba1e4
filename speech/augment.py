"""Training-time augmentation for unseen voices: speed perturbation, VTLP, additive noise.

Voices differ in speaking rate, vocal-tract length (formant positions) and recording noise;
perturbing those while training makes a recogniser generalise to speakers it never heard.
All are core TensorFlow ops applied in the ``tf.data`` training pipeline only, so inference and
the exported graph are unchanged. Loudness needs no augmentation: features are normalised per
utterance (``speech.features.normalize_per_utterance``), which removes a constant gain.

- ``speed_perturb``: Kaldi-style speed perturbation (Ko et al., 2015): the waveform is
  resampled by a factor in ``[1 - max_change, 1 + max_change]`` and played at the original
  rate, changing tempo and pitch together.
- ``warp_frequency``: vocal-tract-length perturbation (Jaitly & Hinton, 2013) approximated on
  the feature matrix: the bin axis is stretched by a factor in ``[1 - max_warp, 1 + max_warp]``
  (formants move up or down) and cropped or edge-padded back to its size.
- ``add_noise``: white Gaussian noise at a signal-to-noise ratio drawn from ``[min_snr_db,
  min_snr_db + 20]`` dB.
"""

from __future__ import annotations

import tensorflow as tf

from speech.features import resample


def speed_perturb(waveform: tf.Tensor, sample_rate: int, max_change: float) -> tf.Tensor:
    """Resample by a random factor around 1 (``max_change`` 0.1: 0.9-1.1x speed)."""
    if max_change <= 0:
        return waveform
    factor = tf.random.uniform([], 1.0 - max_change, 1.0 + max_change)
    rate_in = tf.cast(tf.round(sample_rate * factor), tf.int32)
    return resample(waveform, rate_in, sample_rate)


def warp_frequency(features: tf.Tensor, max_warp: float) -> tf.Tensor:
    """Stretch ``[frames, bins]`` features along the bin axis by a random factor around 1."""
    if max_warp <= 0:
        return features
    bins = features.shape[-1]
    factor = tf.random.uniform([], 1.0 - max_warp, 1.0 + max_warp)
    warped_bins = tf.maximum(tf.cast(tf.round(bins * factor), tf.int32), 1)
    frames = tf.shape(features)[0]
    warped = tf.image.resize(features[:, :, None], [frames, warped_bins], method="bilinear")
    warped = warped[:, :bins, 0]
    short = bins - tf.shape(warped)[1]
    edge = tf.repeat(warped[:, -1:], tf.maximum(short, 0), axis=1)
    return tf.ensure_shape(tf.concat([warped, edge], axis=1), features.shape)


def add_noise(waveform: tf.Tensor, min_snr_db: float) -> tf.Tensor:
    """White noise at a random SNR in ``[min_snr_db, min_snr_db + 20]`` dB; None/<=0 is off."""
    if min_snr_db <= 0:
        return waveform
    snr_db = tf.random.uniform([], min_snr_db, min_snr_db + 20.0)
    power = tf.reduce_mean(tf.square(waveform)) + 1e-10
    noise_std = tf.sqrt(power / tf.pow(10.0, snr_db / 10.0))
    noise = tf.random.normal(tf.shape(waveform), stddev=noise_std)
    return tf.clip_by_value(waveform + noise, -1.0, 1.0)
