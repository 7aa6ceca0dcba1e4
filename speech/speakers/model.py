"""The x-vector embedding model (Snyder et al., 2018), small: frame-level dilated 1-D
convolutions (a TDNN) over normalised log-mel features, masked statistics pooling (mean and
standard deviation over an utterance's frames) and a dense embedding layer.

Training adds ``common.verification.CosineClassifier`` on top (additive-margin softmax); the
embedding sub-model is what enrolment, identification, verification and the export use.
"""

from __future__ import annotations

import keras
from keras import layers, ops

EMBEDDER_NAME = "speaker_embedder"


@keras.saving.register_keras_serializable(package="dlsuite")
class StatisticsPooling(layers.Layer):
    """``(frames [batch, T, C], counts [batch]) -> [batch, 2C]``: mean and standard deviation
    over each utterance's first ``count`` frames (padding frames are ignored)."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, frames, counts):
        steps = ops.arange(ops.shape(frames)[1])
        valid = steps[None, :] < ops.expand_dims(ops.cast(counts, "int32"), 1)
        weights = ops.expand_dims(ops.cast(valid, frames.dtype), -1)
        total = ops.maximum(ops.sum(weights, axis=1), 1.0)
        mean = ops.sum(frames * weights, axis=1) / total
        variance = ops.sum(ops.square(frames - mean[:, None, :]) * weights, axis=1) / total
        return ops.concatenate([mean, ops.sqrt(variance + self.epsilon)], axis=-1)

    def compute_output_shape(self, frames_shape, counts_shape=None):
        return (frames_shape[0], 2 * frames_shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def build_embedder(
    num_bins: int,
    channels: tuple[int, ...] = (128, 128, 128),
    pool_channels: int = 256,
    embedding_dim: int = 128,
    dropout: float = 0.0,
) -> keras.Model:
    """``{"features" [batch, frames, bins], "frames" [batch]} -> embedding [batch, dim]``.

    TDNN layers: kernel 5 then 3s with dilations 1, 2, 3, ... (a growing context), a 1x1 layer
    of ``pool_channels`` before pooling; convolutions keep the frame count ("same" padding), so
    the pooled frames are exactly the utterance's.
    """
    features = keras.Input((None, num_bins), name="features")
    frames = keras.Input((), dtype="int32", name="frames")
    x = features
    for i, width in enumerate(channels):
        kernel, dilation = (5, 1) if i == 0 else (3, i + 1)
        x = layers.Conv1D(
            width, kernel, dilation_rate=dilation, padding="same", name=f"tdnn{i + 1}"
        )(x)
        x = layers.ReLU(name=f"tdnn{i + 1}_relu")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"tdnn{i + 1}_bn")(x)
    x = layers.Conv1D(pool_channels, 1, name="frame_projection")(x)
    x = layers.ReLU(name="frame_projection_relu")(x)
    x = StatisticsPooling(name="statistics_pooling")(x, frames)
    if dropout:
        x = layers.Dropout(dropout, name="pooled_dropout")(x)
    embedding = layers.Dense(embedding_dim, name="embedding")(x)
    return keras.Model({"features": features, "frames": frames}, embedding, name=EMBEDDER_NAME)


def build_training_model(embedder: keras.Model, num_speakers: int) -> keras.Model:
    """The embedder plus cosine scores against one learned centre per training speaker."""
    from common.verification import CosineClassifier

    inputs = {
        "features": keras.Input((None, embedder.input["features"].shape[-1]), name="features"),
        "frames": keras.Input((), dtype="int32", name="frames"),
    }
    cosines = CosineClassifier(num_speakers, name="speaker_cosines")(embedder(inputs))
    return keras.Model(inputs, cosines, name="speaker_recognizer")
