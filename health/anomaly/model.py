"""Autoencoders for 1-D signals: ``[batch, length, 1]`` in, its reconstruction out.

- ``conv``: strided ``Conv1D`` encoder and ``Conv1DTranspose`` decoder (as in the keras-io
  "timeseries anomaly detection" example); the input is zero-padded to a multiple of
  ``2 ** len(filters)`` inside the model and cropped back, so any length works. With
  ``latent_dim`` > 0 the encoded sequence passes through a ``Dense`` bottleneck of that size,
  so only shapes seen in training are reconstructed well (a fully convolutional autoencoder
  learns to copy smooth input, anomalous or not).
- ``lstm``: an LSTM encoder to one latent vector, repeated over time, an LSTM decoder and a
  per-step ``Dense`` (the "LSTM autoencoder" of Malhotra et al., 2016).

Only stock Keras layers, so the ``.keras`` file loads with ``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

ARCHITECTURES = ("conv", "lstm")


def build_autoencoder(
    length: int,
    architecture: str = "conv",
    filters: Sequence[int] = (32, 16),
    kernel_size: int = 7,
    lstm_units: int = 64,
    dropout: float = 0.1,
    latent_dim: int = 16,
) -> keras.Model:
    """An autoencoder for samples of ``length`` points (one channel)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    inputs = keras.Input((length, 1), name="series")
    if architecture == "conv":
        outputs = _conv(inputs, length, list(filters), kernel_size, dropout, latent_dim)
    else:
        outputs = _lstm(inputs, length, lstm_units, dropout)
    return keras.Model(inputs, outputs, name=f"{architecture}_autoencoder")


def _conv(
    x: keras.KerasTensor,
    length: int,
    filters: list[int],
    kernel: int,
    dropout: float,
    latent_dim: int,
) -> keras.KerasTensor:
    factor = 2 ** len(filters)
    pad = -length % factor
    if pad:
        x = keras.layers.ZeroPadding1D((0, pad))(x)
    for i, width in enumerate(filters):
        x = keras.layers.Conv1D(width, kernel, strides=2, padding="same", activation="relu")(x)
        if i == 0 and dropout:
            x = keras.layers.Dropout(dropout)(x)
    if latent_dim:
        steps, width = (length + pad) // factor, filters[-1]
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(latent_dim, activation="relu", name="latent")(x)
        x = keras.layers.Dense(steps * width, activation="relu")(x)
        x = keras.layers.Reshape((steps, width))(x)
    for i, width in enumerate(reversed(filters)):
        x = keras.layers.Conv1DTranspose(
            width, kernel, strides=2, padding="same", activation="relu"
        )(x)
        if i == 0 and dropout:
            x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Conv1D(1, kernel, padding="same", name="reconstruction")(x)
    if pad:
        x = keras.layers.Cropping1D((0, pad))(x)
    return x


def _lstm(x: keras.KerasTensor, length: int, units: int, dropout: float) -> keras.KerasTensor:
    latent = keras.layers.LSTM(units, dropout=dropout, name="encoder")(x)
    x = keras.layers.RepeatVector(length)(latent)
    x = keras.layers.LSTM(units, return_sequences=True, name="decoder")(x)
    return keras.layers.TimeDistributed(keras.layers.Dense(1), name="reconstruction")(x)
