"""The message-passing network, in Keras 3 ops: D-MPNN edge messages, a readout, task heads.

Directed message passing (Yang et al. 2019, chemprop's D-MPNN): hidden states live on directed
bonds. ``h0(v->w) = relu(W_i [x_v, e_vw])``; each step a bond gathers the messages arriving at
its source atom except the one coming back from its target,
``m(v->w) = sum_{k->v} h(k->v) - h(w->v)``, and updates with a residual to its first state,
``h(v->w) = relu(h0(v->w) + W_m m(v->w))``. Atoms then read their incoming messages,
``a_v = relu(W_o [x_v, sum_{k->v} h(k->v)])``, and a readout pools atoms into one molecule
vector (mean, sum, or attention: the mean next to an attention-weighted sum), which is joined
by the molecule's RDKit descriptors before the feed-forward head: the 16 fixed-scale ones
always, and optionally (``rdkit_2d_features``) all ~200 RDKit 2D descriptors, scaled in the
model by ``DescriptorScaler`` with statistics fitted on the training molecules.

Graphs are padded dense tensors (``health.molecules.graphs``); gathers and scatters are
one-hot matrix products, so the graph uses only core TensorFlow ops (export-safe).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from health.molecules.graphs import (
    ATOM_FEATURES,
    BOND_FEATURES,
    GRAPH_INPUTS,
    MOLECULE_FEATURES,
    RDKIT_2D_CLIP,
    RDKIT_2D_INPUT,
)

READOUTS = ("mean", "sum", "attention")


@keras.saving.register_keras_serializable(package="dlsuite")
class DirectedMessagePassing(keras.layers.Layer):
    """Padded molecular graphs (a dict of GRAPH_INPUTS) -> atom embeddings ``[B, N, hidden]``."""

    def __init__(self, hidden: int = 128, depth: int = 3, dropout: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.hidden, self.depth, self.dropout = int(hidden), int(depth), float(dropout)
        self.w_in = keras.layers.Dense(self.hidden, use_bias=False, name="w_in")
        self.w_message = keras.layers.Dense(self.hidden, use_bias=False, name="w_message")
        self.w_out = keras.layers.Dense(self.hidden, name="w_out")
        self.drop = keras.layers.Dropout(self.dropout)

    def build(self, input_shape: Any) -> None:
        self.w_in.build((None, None, ATOM_FEATURES + BOND_FEATURES))
        self.w_message.build((None, None, self.hidden))
        self.w_out.build((None, None, ATOM_FEATURES + self.hidden))
        self.built = True

    def _reverse(self, h: Any) -> Any:
        """The state of each edge's reverse (edges come in pairs 2k, 2k + 1)."""
        pairs = ops.reshape(h, (-1, 2, self.hidden))
        return ops.reshape(ops.flip(pairs, axis=1), ops.shape(h))

    def call(self, inputs: dict[str, Any], training: bool | None = None) -> Any:
        x = inputs["atom_features"]
        bond_mask = ops.expand_dims(inputs["bond_mask"], -1)
        atom_mask = ops.expand_dims(inputs["atom_mask"], -1)
        index = ops.cast(inputs["edge_index"], "int32")
        atoms = ops.shape(x)[1]
        source = ops.one_hot(index[..., 0], atoms, dtype=x.dtype) * bond_mask  # [B, E, N]
        target = ops.one_hot(index[..., 1], atoms, dtype=x.dtype) * bond_mask
        x_source = ops.einsum("ben,bnf->bef", source, x)
        h0 = ops.relu(self.w_in(ops.concatenate([x_source, inputs["bond_features"]], -1)))
        h = h0 * bond_mask
        for _ in range(self.depth - 1):
            arriving = ops.einsum("ben,bed->bnd", target, h)  # sum of messages into each atom
            message = ops.einsum("ben,bnd->bed", source, arriving) - self._reverse(h)
            h = self.drop(ops.relu(h0 + self.w_message(message)), training=training) * bond_mask
        arriving = ops.einsum("ben,bed->bnd", target, h)
        return ops.relu(self.w_out(ops.concatenate([x, arriving], -1))) * atom_mask

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = input_shape["atom_features"]
        return (shape[0], shape[1], self.hidden)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "hidden": self.hidden,
            "depth": self.depth,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="dlsuite")
class GraphReadout(keras.layers.Layer):
    """Atom embeddings ``[B, N, H]`` and the atom mask -> one vector per molecule.

    ``mean`` / ``sum`` over real atoms; ``attention`` concatenates the mean with a sum weighted
    by a learned softmax over the molecule's atoms (``[B, 2H]``).
    """

    def __init__(self, mode: str = "attention", **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {mode!r}")
        self.mode = mode
        self.score = keras.layers.Dense(1, name="attention_score") if mode == "attention" else None

    def build(self, input_shape: Any) -> None:
        if self.score is not None:
            self.score.build((None, None, input_shape[0][-1]))
        self.built = True

    def call(self, inputs: Any) -> Any:
        atoms, mask = inputs
        total = ops.sum(atoms, axis=1)
        if self.mode == "sum":
            return total
        count = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        mean = total / count
        if self.score is None:
            return mean
        logits = ops.squeeze(self.score(atoms), -1) + (mask - 1.0) * 1e9
        weights = ops.softmax(logits, axis=-1) * mask
        return ops.concatenate([mean, ops.einsum("bn,bnh->bh", weights, atoms)], -1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        width = input_shape[0][-1] * (2 if self.mode == "attention" else 1)
        return (input_shape[0][0], width)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="dlsuite")
class DescriptorScaler(keras.layers.Layer):
    """Raw descriptors ``[B, D]`` -> ``(clip(x, low, high) - mean) / std``, per descriptor.

    The four vectors are non-trainable weights (saved with the model, part of the export) set
    by ``set_statistics`` from the training molecules; until then the layer clips at
    ``RDKIT_2D_CLIP`` and leaves values unscaled.
    """

    def __init__(self, features: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.features = int(features)

    def build(self, input_shape: Any) -> None:
        def weight(name: str, value: float) -> Any:
            return self.add_weight(
                name=name,
                shape=(self.features,),
                initializer=keras.initializers.Constant(value),
                trainable=False,
            )

        self.low, self.high = weight("low", -RDKIT_2D_CLIP), weight("high", RDKIT_2D_CLIP)
        self.mean, self.std = weight("mean", 0.0), weight("std", 1.0)
        self.built = True

    def set_statistics(self, statistics: dict[str, Any]) -> None:
        """Take ``low``, ``high``, ``mean`` and ``std`` (sequences of ``features`` floats)."""
        for name in ("low", "high", "mean", "std"):
            getattr(self, name).assign(ops.convert_to_tensor(statistics[name], "float32"))

    def call(self, inputs: Any) -> Any:
        return (ops.clip(inputs, self.low, self.high) - self.mean) / self.std

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "features": self.features}


def graph_inputs(rdkit_2d_features: int = 0) -> dict[str, keras.KerasTensor]:
    """Keras inputs for the six graph tensors (any batch, atom and edge count), and the raw
    RDKit 2D descriptors when ``rdkit_2d_features`` > 0."""
    shapes = {
        "atom_features": (None, ATOM_FEATURES),
        "bond_features": (None, BOND_FEATURES),
        "edge_index": (None, 2),
        "atom_mask": (None,),
        "bond_mask": (None,),
        "molecule_features": (MOLECULE_FEATURES,),
    }
    names = list(GRAPH_INPUTS)
    if rdkit_2d_features:
        shapes[RDKIT_2D_INPUT] = (rdkit_2d_features,)
        names.append(RDKIT_2D_INPUT)
    return {
        name: keras.Input(shapes[name], dtype="int32" if name == "edge_index" else "float32",
                          name=name)
        for name in names
    }  # fmt: skip


def build_mpnn(
    outputs: int,
    hidden: int = 128,
    depth: int = 3,
    readout: str = "attention",
    ffn_hidden: int = 128,
    dropout: float = 0.1,
    activation: str | None = "sigmoid",
    rdkit_2d_features: int = 0,
    name: str = "mpnn",
) -> keras.Model:
    """Graph tensors -> ``outputs`` values per molecule (sigmoid probabilities or raw values).

    ``rdkit_2d_features`` > 0 adds the ``rdkit_2d_features`` input (raw RDKit 2D descriptors,
    scaled by a ``DescriptorScaler`` named ``rdkit_2d_scaler``) to the readout's descriptors.
    """
    inputs = graph_inputs(rdkit_2d_features)
    graph = {name: inputs[name] for name in GRAPH_INPUTS}
    atoms = DirectedMessagePassing(hidden, depth, dropout, name="message_passing")(graph)
    x = GraphReadout(readout, name="readout")([atoms, inputs["atom_mask"]])
    # whole-molecule descriptors join the pooled atoms, as chemprop's extra features do
    extra = [inputs["molecule_features"]]
    if rdkit_2d_features:
        scaler = DescriptorScaler(rdkit_2d_features, name="rdkit_2d_scaler")
        extra.append(scaler(inputs[RDKIT_2D_INPUT]))
    x = keras.layers.Concatenate(name="with_descriptors")([x, *extra])
    x = keras.layers.Dropout(dropout, name="readout_dropout")(x)
    x = keras.layers.Dense(ffn_hidden, activation="relu", name="ffn")(x)
    x = keras.layers.Dropout(dropout, name="ffn_dropout")(x)
    y = keras.layers.Dense(outputs, activation=activation, dtype="float32", name="head")(x)
    return keras.Model(inputs, y, name=name)


def build_ensemble(members: list[keras.Model], rdkit_2d_features: int = 0) -> keras.Model:
    """One model whose output is the mean of its members' outputs (``member_0``, ...), all
    called on the same graph inputs: an ensemble in one graph (and one export)."""
    inputs = graph_inputs(rdkit_2d_features)
    outputs = [member(inputs) for member in members]
    return keras.Model(inputs, keras.layers.Average(name="ensemble_mean")(outputs), name="ensemble")


def descriptor_scalers(model: keras.Layer) -> list[DescriptorScaler]:
    """Every DescriptorScaler in a model, members of an ensemble included."""
    found = [model] if isinstance(model, DescriptorScaler) else []
    for layer in getattr(model, "layers", []):
        found += descriptor_scalers(layer)
    return found


@keras.saving.register_keras_serializable(package="dlsuite")
class MaskedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy over the labels that are present; NaN labels (missing) are ignored."""

    def __init__(self, name: str = "masked_binary_crossentropy", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        present = ops.logical_not(ops.isnan(y_true))
        y = ops.where(present, y_true, 0.0)
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        loss = -(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))
        return _masked_mean(loss, present)


@keras.saving.register_keras_serializable(package="dlsuite")
class MaskedMeanSquaredError(keras.losses.Loss):
    """Mean squared error over the labels that are present; NaN labels are ignored."""

    def __init__(self, name: str = "masked_mean_squared_error", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        present = ops.logical_not(ops.isnan(y_true))
        return _masked_mean(ops.square(ops.where(present, y_true, 0.0) - y_pred), present)


def _masked_mean(loss: Any, present: Any) -> Any:
    weight = ops.cast(present, loss.dtype)
    return ops.sum(loss * weight, -1) / ops.maximum(ops.sum(weight, -1), 1.0)
