"""``NumpyQNetwork``: a NumPy copy of an MLP Q-network, for choosing actions inside ``learn``.

Why: with worker processes, ``DQNAgent.learn`` overlaps the gradient step with the env
simulation, so only acting sits on the critical path between two vector steps. Acting on a
``[num_envs, D]`` batch through TensorFlow is almost all dispatch overhead (~0.3 ms on an idle
machine, ~1.2 ms inside ``learn`` on 2 busy cores, per ~26-50 ms vector step); the same MLP
forward pass in NumPy takes ~20 us. The copy's weights are refreshed right after every
gradient step (the train step hands back the updated values, so this costs no extra
TensorFlow call), i.e. off the critical path.

Only the networks ``autonomy.q_network.build_q_network`` builds for flat observations are
supported: ``Dense`` layers with ReLU (or linear) activations and a bias, then a
``DuelingHead`` (dueling or plain), all in float32. ``from_network`` returns ``None`` for
anything else (the CNN for images, mixed precision, custom layers), and callers keep using
TensorFlow. Results agree with the Keras model to float32 rounding (~1e-7); the greedy action
can only differ where two Q-values tie to that precision.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from autonomy.q_network import DuelingHead

_ACTIVATIONS = ("relu", "linear")


def _activation_name(layer: keras.layers.Dense) -> str | None:
    """A Dense layer's activation as a Keras name (``None`` if it is no plain built-in)."""
    name = keras.activations.serialize(layer.activation)
    return name if isinstance(name, str) else None


class NumpyQNetwork:
    """Forward pass of an MLP (+ dueling) Q-network in NumPy, fed from the Keras variables."""

    def __init__(self, activations: Sequence[str], dueling: bool, variables: Sequence) -> None:
        """``variables``: each hidden layer's kernel and bias, then the advantage and value ones."""
        self.activations = tuple(activations)
        self.dueling = bool(dueling)
        self.variables = list(variables)
        expected = 2 * len(self.activations) + (4 if self.dueling else 2)
        if len(self.variables) != expected:
            raise ValueError(f"expected {expected} variables, got {len(self.variables)}")
        self.weights: list[np.ndarray] = []
        self.refresh()

    @classmethod
    def from_network(cls, network: keras.Model) -> NumpyQNetwork | None:
        """Mirror ``network`` if it is a flat-input MLP Q-network (see module doc), else None."""
        if len(network.inputs) != 1 or len(network.inputs[0].shape) != 2:
            return None
        layers = [
            layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)
        ]
        if not layers or not isinstance(layers[-1], DuelingHead):
            return None
        torso, head = layers[:-1], layers[-1]
        activations, variables = [], []
        for layer in torso:
            if type(layer) is not keras.layers.Dense or not layer.use_bias:
                return None
            if layer.lora_enabled or layer.quantization_mode:
                return None
            name = _activation_name(layer)
            if name not in _ACTIVATIONS:
                return None
            activations.append(name)
            variables += [layer.kernel, layer.bias]
        dense_head = [head.advantage] + ([head.value] if head.dueling else [])
        for layer in dense_head:
            if type(layer) is not keras.layers.Dense or not layer.use_bias:
                return None
            if _activation_name(layer) != "linear" or layer.lora_enabled or layer.quantization_mode:
                return None
            variables += [layer.kernel, layer.bias]
        if any(layer.compute_dtype != "float32" for layer in [*torso, head, *dense_head]):
            return None
        if any(v.dtype != "float32" for v in variables):
            return None
        mirror = cls(activations, head.dueling, variables)
        # the layer checks above do not see how layers are wired: confirm on a probe batch
        probe = np.random.default_rng(0).standard_normal((4, network.inputs[0].shape[1]))
        probe = probe.astype(np.float32)
        expected = keras.ops.convert_to_numpy(network(probe, training=False))
        if expected.shape != (4, head.num_actions) or not np.allclose(
            mirror(probe), expected, rtol=1e-4, atol=1e-4
        ):
            return None
        return mirror

    def refresh(self, values: Sequence | None = None) -> None:
        """Take current weights: ``values`` (e.g. the train step's read-back) or the variables'."""
        values = [v.numpy() for v in self.variables] if values is None else values
        if len(values) != len(self.variables):
            raise ValueError(f"expected {len(self.variables)} weight arrays, got {len(values)}")
        self.weights = [np.asarray(value, dtype=np.float32) for value in values]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Q-values ``[N, A]`` of a float32 batch ``[N, D]``."""
        x = np.asarray(batch, dtype=np.float32)
        weights = self.weights
        for i, activation in enumerate(self.activations):
            x = x @ weights[2 * i] + weights[2 * i + 1]
            if activation == "relu":
                np.maximum(x, 0.0, out=x)
        k = 2 * len(self.activations)
        advantages = x @ weights[k] + weights[k + 1]
        if not self.dueling:
            return advantages
        value = x @ weights[k + 2] + weights[k + 3]
        return value + advantages - np.mean(advantages, axis=-1, keepdims=True)
