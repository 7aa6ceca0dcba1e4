"""Q-network building blocks: dueling aggregation, the Q-value head and MLP / CNN Q-networks.

``DuelingHead`` is registered under the ``dlsuite`` package so agent files load with
``safe_mode=True`` and no ``custom_objects``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np


def dueling_aggregate(value, advantages):
    """Dueling aggregation (Wang et al., 2016): ``Q = V + A - mean(A)`` over the action axis.

    Subtracting the mean advantage makes V and A identifiable without changing the greedy action.
    """
    return value + advantages - keras.ops.mean(advantages, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="dlsuite")
class DuelingHead(keras.layers.Layer):
    """Q-value head: one linear output per action, or a dueling value + advantage pair."""

    def __init__(self, num_actions: int, dueling: bool = True, **kwargs):
        super().__init__(**kwargs)
        if int(num_actions) < 1:
            raise ValueError(f"num_actions must be >= 1, got {num_actions!r}.")
        self.num_actions = int(num_actions)
        self.dueling = bool(dueling)
        self.advantage = keras.layers.Dense(self.num_actions, name="advantage")
        self.value = keras.layers.Dense(1, name="value") if self.dueling else None

    def build(self, input_shape):
        self.advantage.build(input_shape)
        if self.value is not None:
            self.value.build(input_shape)
        self.built = True

    def call(self, inputs):
        advantages = self.advantage(inputs)
        if self.value is None:
            return advantages
        return dueling_aggregate(self.value(inputs), advantages)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_actions,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_actions=self.num_actions, dueling=self.dueling)
        return config


def mlp_block(x, units: Sequence[int], activation: str = "relu", name: str = "mlp"):
    """Stack of Dense + activation layers (the torso of a Q-network on vector observations)."""
    for i, width in enumerate(units):
        if int(width) < 1:
            raise ValueError(f"hidden layer widths must be >= 1, got {width!r}.")
        x = keras.layers.Dense(int(width), activation=activation, name=f"{name}_dense{i + 1}")(x)
    return x


def build_q_network(
    input_shape: Sequence[int],
    num_actions: int,
    hidden_units: Sequence[int] = (256, 256),
    dueling: bool = True,
    conv_filters: Sequence[int] = (32, 64, 64),
    name: str = "q_network",
    vehicles_shape: Sequence[int] | None = None,
) -> keras.Model:
    """A Q-network: MLP for flat observations (D,), Nature-DQN CNN for image stacks (H, W, C).

    Images are expected as floats in [0, 1]; no BatchNormalization (it destabilises TD targets).
    With ``vehicles_shape`` ``(V, F)`` the flat input is read as V vehicles of F features and
    encoded by ego attention (``autonomy.ego_attention``) before the MLP.
    """
    input_shape = tuple(int(d) for d in input_shape)
    inputs = keras.Input(shape=input_shape, name="observation")
    x = inputs
    if vehicles_shape is not None:
        from autonomy.ego_attention import EgoAttention

        vehicles = tuple(int(d) for d in vehicles_shape)
        if len(vehicles) != 2 or vehicles[0] * vehicles[1] != int(np.prod(input_shape)):
            raise ValueError(
                f"ego attention needs (vehicles, features) observations, got {vehicles} "
                f"for inputs of shape {input_shape}"
            )
        x = keras.layers.Reshape(vehicles, name="vehicles")(x)
        x = EgoAttention(name="ego_attention")(x)
    elif len(input_shape) == 3:
        kernels, strides = (8, 4, 3), (4, 2, 1)
        for i, filters in enumerate(conv_filters):
            x = keras.layers.Conv2D(
                int(filters),
                kernels[min(i, 2)],
                strides=strides[min(i, 2)],
                padding="same",
                activation="relu",
                name=f"conv{i + 1}",
            )(x)
        x = keras.layers.Flatten(name="flatten")(x)
    elif len(input_shape) != 1:
        raise ValueError(
            f"Q-network observations must be flat vectors (D,) or image stacks (H, W, C), "
            f"got shape {input_shape}."
        )
    x = mlp_block(x, hidden_units, name="mlp")
    outputs = DuelingHead(num_actions, dueling=dueling, name="q_head")(x)
    return keras.Model(inputs, outputs, name=name)
