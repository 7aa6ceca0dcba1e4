"""Ego-attention encoder (Leurent & Mercat, 2019, "social attention" in rl-agents).

Vehicles are a set: each row of a Kinematics observation ``[V, F]`` (row 0 the ego vehicle,
feature 0 its ``presence`` flag) is encoded by the same MLP, and the ego vehicle's encoding
queries all of them with multi-head attention. Absent vehicles (presence 0) are masked out, and
the result does not depend on the order of the other vehicles, unlike a flattened MLP input.
``EgoAttention`` is registered under ``dlsuite`` so agent files load with ``safe_mode=True``.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class EgoAttention(keras.layers.Layer):
    """``[N, V, F]`` vehicle features -> ``[N, units]``: the ego vehicle's attention summary
    plus its own encoding (residual)."""

    def __init__(self, units: int = 64, heads: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        if int(units) < 1 or int(heads) < 1 or int(units) % int(heads):
            raise ValueError(f"units ({units}) must be a positive multiple of heads ({heads})")
        self.units, self.heads = int(units), int(heads)
        self.encoder_1 = keras.layers.Dense(self.units, activation="relu", name="vehicle_dense1")
        self.encoder_2 = keras.layers.Dense(self.units, activation="relu", name="vehicle_dense2")
        self.attention = keras.layers.MultiHeadAttention(
            self.heads, self.units // self.heads, name="ego_attention"
        )

    def build(self, input_shape):
        vehicles_shape = tuple(input_shape)
        self.encoder_1.build(vehicles_shape)
        encoded = (*vehicles_shape[:-1], self.units)
        self.encoder_2.build(encoded)
        ego = (vehicles_shape[0], 1, self.units)
        self.attention.build(ego, encoded, encoded)
        self.built = True

    def call(self, vehicles):
        encoded = self.encoder_2(self.encoder_1(vehicles))
        ego = encoded[:, :1, :]
        present = keras.ops.greater(vehicles[:, :, 0], 0.5)  # feature 0: presence
        present = keras.ops.logical_or(present, keras.ops.arange(keras.ops.shape(vehicles)[1]) == 0)
        mask = keras.ops.expand_dims(present, 1)  # [N, 1 (query), V (keys)]
        attended = self.attention(ego, encoded, encoded, attention_mask=mask)
        return keras.ops.squeeze(attended + ego, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, heads=self.heads)
        return config
