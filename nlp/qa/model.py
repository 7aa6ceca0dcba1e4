"""The span-extraction model of ``nlp.QuestionAnswerer`` and its training recipe, in Keras alone.

No TensorFlow import: the same heads, loss and optimizer run on any Keras backend, so a
benchmark can train the model on an accelerator machine that has JAX but no TensorFlow
(``bench/nlp_qa_gpu_train.py``) with exactly the recipe ``QuestionAnswerer.fit`` uses.
"""

from __future__ import annotations

from typing import Any

import keras

from common.optimizers import make_optimizer


@keras.saving.register_keras_serializable(package="dlsuite")
class SpanLogits(keras.layers.Layer):
    """Token vectors ``[B, T, D]`` -> start and end logits ``[B, T]`` (padding pushed to -1e4)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, name="span_dense", dtype="float32")

    def build(self, sequence_shape, padding_mask_shape=None) -> None:
        self.dense.build(sequence_shape)

    def call(self, sequence, padding_mask):
        logits = self.dense(keras.ops.cast(sequence, "float32"))
        keep = keras.ops.cast(padding_mask, "bool")
        start = keras.ops.where(keep, logits[..., 0], -1e4)
        end = keras.ops.where(keep, logits[..., 1], -1e4)
        return start, end

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[:2], sequence_shape[:2])


def span_model(inputs: dict[str, keras.KerasTensor], sequence: keras.KerasTensor) -> keras.Model:
    """Encoder inputs + its ``[B, T, D]`` output -> model with ``start_logits`` / ``end_logits``."""
    start, end = SpanLogits(name="span_logits")(sequence, inputs["padding_mask"])
    start = keras.layers.Identity(name="start_logits")(start)
    end = keras.layers.Identity(name="end_logits")(end)
    return keras.Model(inputs, {"start_logits": start, "end_logits": end}, name="question_answerer")


def compile_span_model(
    model: keras.Model,
    learning_rate: float,
    weight_decay: float,
    total_steps: int,
    warmup_fraction: float,
) -> None:
    """AdamW with warmup + cosine decay and clipping; cross-entropy over start and end positions."""
    optimizer = make_optimizer(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        total_steps=total_steps,
        warmup_steps=int(warmup_fraction * total_steps),
        clipnorm=1.0,
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=optimizer,
        loss={"start_logits": loss, "end_logits": loss},
        metrics={"start_logits": ["accuracy"], "end_logits": ["accuracy"]},
    )
