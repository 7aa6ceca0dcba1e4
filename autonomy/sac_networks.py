"""SAC networks: a Gaussian policy MLP, twin Q-value MLPs in one model, and a NumPy copy of the
policy for acting inside ``learn`` (TF dispatch would be most of an env step's cost there).

All layers are stock Keras (``Dense``, ``Concatenate``), so agent files load with
``safe_mode=True`` and exports use core TF ops only.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from autonomy.q_network import mlp_block


def build_actor(obs_dim: int, action_dim: int, hidden_units: Sequence[int]) -> keras.Model:
    """``observation [N, D] -> [N, 2A]``: the squashed Gaussian's mean and log-std."""
    inputs = keras.Input(shape=(int(obs_dim),), name="observation")
    x = mlp_block(inputs, hidden_units, name="actor")
    outputs = keras.layers.Dense(2 * int(action_dim), name="actor_gaussian")(x)
    return keras.Model(inputs, outputs, name="actor")


def build_twin_critic(
    obs_dim: int, action_dim: int, hidden_units: Sequence[int], name: str = "critic"
) -> keras.Model:
    """``(observation, action) -> [N, 2]``: two independent Q-value MLPs side by side."""
    observation = keras.Input(shape=(int(obs_dim),), name="observation")
    action = keras.Input(shape=(int(action_dim),), name="action")
    joined = keras.layers.Concatenate(name="state_action")([observation, action])
    heads = []
    for i in (1, 2):
        x = mlp_block(joined, hidden_units, name=f"q{i}")
        heads.append(keras.layers.Dense(1, name=f"q{i}_value")(x))
    outputs = keras.layers.Concatenate(name="twin_q")(heads)
    return keras.Model([observation, action], outputs, name=name)


def build_agent_model(actor: keras.Model, critic: keras.Model) -> keras.Model:
    """One model holding both (what the agent file stores): ``(obs, action) -> (policy, Q)``."""
    observation = keras.Input(shape=actor.inputs[0].shape[1:], name="observation")
    action = keras.Input(shape=critic.inputs[1].shape[1:], name="action")
    return keras.Model(
        [observation, action], [actor(observation), critic([observation, action])], name="sac"
    )


class NumpyActor:
    """The actor's forward pass in NumPy (Dense + ReLU layers, then a linear Dense)."""

    def __init__(self, actor: keras.Model) -> None:
        dense = [layer for layer in actor.layers if isinstance(layer, keras.layers.Dense)]
        for layer in dense[:-1]:
            if keras.activations.serialize(layer.activation) != "relu":
                raise ValueError("NumpyActor mirrors ReLU MLPs only")
        self.variables = [v for layer in dense for v in (layer.kernel, layer.bias)]
        self.weights: list[np.ndarray] = []
        self.refresh()

    def refresh(self, values: Sequence | None = None) -> None:
        """Take current weights: ``values`` (the train step's read-back) or the variables'."""
        values = [v.numpy() for v in self.variables] if values is None else values
        self.weights = [np.asarray(value, np.float32) for value in values]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``[N, 2A]`` policy outputs of a float32 batch ``[N, D]``."""
        x = np.asarray(batch, np.float32)
        count = len(self.weights) // 2
        for i in range(count):
            x = x @ self.weights[2 * i] + self.weights[2 * i + 1]
            if i < count - 1:
                np.maximum(x, 0.0, out=x)
        return x
