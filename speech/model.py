"""The DeepSpeech2-style acoustic model: 2-D conv front end, bidirectional RNN stack, CTC logits.

Inputs are normalised features ``[batch, frames, bins]`` plus each utterance's frame count; the
conv front end pads explicitly (so an utterance's outputs do not depend on how much padding its
batch has), the RNNs are masked, and frames past the end are forced to the CTC blank.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from speech.ctc import CTCFrameMask
from speech.features import SpecAugment

TIME_STRIDES = (1, 2, 4)  # 10 ms feature frames per output frame (one stride-2 conv per factor 2)
RNN_TYPES = ("gru", "lstm")


@keras.saving.register_keras_serializable(package="dlsuite")
class DownsampledLengths(layers.Layer):
    """Frame counts -> output-frame counts after a ``stride`` time downsampling: ceil(n /
    stride)."""

    def __init__(self, stride: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, frames):
        frames = ops.cast(frames, "int32")
        return (frames + self.stride - 1) // self.stride

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="dlsuite")
class LengthMask(layers.Layer):
    """``(sequence [batch, T, ...], lengths [batch]) -> bool mask [batch, T]`` for masked RNNs."""

    def call(self, sequence, lengths):
        steps = ops.arange(ops.shape(sequence)[1])
        return steps[None, :] < ops.expand_dims(ops.cast(lengths, "int32"), 1)

    def compute_output_shape(self, sequence_shape, lengths_shape=None):
        return tuple(sequence_shape[:2])


def _conv_block(x, filters: int, kernel: tuple[int, int], strides: tuple[int, int], name: str):
    pad_t, pad_f = kernel[0] // 2, kernel[1] // 2
    x = layers.ZeroPadding2D(((pad_t, pad_t), (pad_f, pad_f)), name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=strides, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_acoustic_model(
    num_bins: int,
    num_symbols: int,
    conv_filters: tuple[int, ...] = (32, 32),
    rnn_type: str = "gru",
    rnn_units: int = 128,
    rnn_layers: int = 2,
    dropout: float = 0.1,
    spec_augment: bool = True,
    time_mask_width: int = 10,
    freq_mask_width: int = 8,
    time_stride: int = 4,
    seed: int = 0,
    masks: int = 2,
) -> keras.Model:
    """``{"features", "frames"} -> logits [batch, ceil(frames / stride), num_symbols + 1]``, blank
    last.

    ``stride`` is ``time_stride``: 4 (40 ms per output) is fast; 2 suits fast, short speech
    whose characters can be shorter than 40 ms.
    """
    strided_blocks = {1: 0, 2: 1, 4: 2}.get(time_stride)
    if strided_blocks is None or strided_blocks > len(conv_filters):
        raise ValueError(
            f"time_stride must be one of {TIME_STRIDES} and at most 2 ** len(conv_filters), "
            f"got {time_stride}"
        )
    if rnn_type not in RNN_TYPES:
        raise ValueError(f"rnn_type must be one of {RNN_TYPES}, got {rnn_type!r}")
    features = keras.Input((None, num_bins), name="features")
    frames = keras.Input((), dtype="int32", name="frames")
    if spec_augment:
        augment = SpecAugment(
            freq_masks=masks,
            freq_width=freq_mask_width,
            time_masks=masks,
            time_width=time_mask_width,
            seed=seed,
            name="spec_augment",
        )
        x = augment(features)
    else:
        x = features
    x = layers.Reshape((-1, num_bins, 1), name="add_channel")(x)
    bins = num_bins
    for i, filters in enumerate(conv_filters):
        # DeepSpeech2: wide kernels, stride 2 in frequency every block, in time as time_stride asks.
        strides = (2 if i < strided_blocks else 1, 2)
        x = _conv_block(x, filters, (5, 11), strides, name=f"conv{i + 1}")
        bins = (bins + 1) // 2
    x = layers.Reshape((-1, bins * conv_filters[-1]), name="flatten_bins")(x)
    lengths = DownsampledLengths(time_stride, name="output_frames")(frames)
    mask = LengthMask(name="frame_mask")(x, lengths)
    cell = {"gru": layers.GRU, "lstm": layers.LSTM}[rnn_type]
    for i in range(rnn_layers):
        x = layers.Bidirectional(
            cell(rnn_units, return_sequences=True), name=f"bi{rnn_type}{i + 1}"
        )(x, mask=mask)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
    logits = layers.Dense(num_symbols + 1, dtype="float32", name="logits")(x)
    logits = CTCFrameMask(name="blank_padding")(logits, lengths)
    return keras.Model({"features": features, "frames": frames}, logits, name="speech_recognizer")
