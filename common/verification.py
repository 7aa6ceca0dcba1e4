"""Modality-free identification and verification: speakers today, faces tomorrow.

An embedding model maps one recording (or image) to a vector; people are told apart by the
cosine of L2-normalised vectors. This module holds everything that does not care what the
vector came from:

- training: ``CosineClassifier`` (a Keras layer: cosines between the normalised embedding and
  one normalised weight vector per training identity) and ``AdditiveMarginLoss`` (AM-softmax /
  CosFace: ``-log softmax(s * (cos - m * onehot))``), so embeddings of one identity cluster by
  angle with a margin;
- scoring: ``l2_normalize`` and ``cosine_scores`` (NumPy);
- ``Gallery``: enrolled identities. ``enroll(name, embeddings)`` averages the normalised
  embeddings (enrolling a name again adds to its average), ``identify(embedding)`` ->
  ``(name, score)``, ``verify(embedding, name, threshold)`` -> ``(same, score)``; an unknown
  name or a bad embedding is a ``ValueError`` and a failed ``enroll`` leaves the gallery as it
  was; ``save`` / ``load`` write a ``.npz`` file atomically (``common.atomic.staged``) and
  ``to_state`` / ``from_state`` embed it in a task's saved state;
- metrics: ``identification_accuracy``, ``equal_error_rate`` and ``min_dcf`` (the normalised
  minimum detection cost of the NIST speaker recognition evaluations, defaults
  ``p_target=0.01, c_miss=1, c_fa=1``), both from ``sklearn.metrics.roc_curve``, and
  ``verification_report`` (the two together, as a task's evaluation reports them);
- tasks: ``EnrolledGallery``, a mix-in that keeps a task's ``gallery`` in its saved state;
- export: ``best_match`` scores embeddings against a gallery baked into the graph as constants
  (core TensorFlow ops only), for a SavedModel signature embedding -> ``label``, ``score``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from sklearn.metrics import roc_curve

from common.atomic import staged

__all__ = [
    "AdditiveMarginLoss",
    "CosineClassifier",
    "EnrolledGallery",
    "Gallery",
    "best_match",
    "cosine_scores",
    "equal_error_rate",
    "identification_accuracy",
    "l2_normalize",
    "min_dcf",
    "verification_report",
]


# --------------------------------------------------------------------------- training


@keras.saving.register_keras_serializable(package="dlsuite")
class CosineClassifier(keras.layers.Layer):
    """Cosine similarity of each (normalised) embedding to one learned unit vector per class.

    Output values lie in [-1, 1]; ``AdditiveMarginLoss`` turns them into margin logits.
    """

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes!r}.")
        self.num_classes = int(num_classes)

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(input_shape[-1]), self.num_classes),
            initializer="glorot_uniform",
        )

    def call(self, inputs: Any) -> Any:
        embeddings = ops.normalize(inputs, axis=-1)
        centres = ops.normalize(self.kernel, axis=0)
        return ops.matmul(embeddings, centres)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*input_shape[:-1], self.num_classes)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="dlsuite")
class AdditiveMarginLoss(keras.losses.Loss):
    """AM-softmax / CosFace loss on cosines: ``-log softmax(scale * (cos - margin * onehot))``.

    ``y_true`` holds integer class labels, ``y_pred`` the cosines of ``CosineClassifier``.
    ``margin=0`` is plain softmax cross-entropy on scaled cosines (normalised softmax).
    """

    def __init__(
        self,
        margin: float = 0.2,
        scale: float = 30.0,
        reduction: str = "sum_over_batch_size",
        name: str = "additive_margin_loss",
        dtype: Any = None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= float(margin) < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}.")
        if float(scale) <= 0.0:
            raise ValueError(f"scale must be positive, got {scale!r}.")
        self.margin = float(margin)
        self.scale = float(scale)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        onehot = ops.one_hot(labels, int(y_pred.shape[-1]), dtype=y_pred.dtype)
        logits = self.scale * (y_pred - self.margin * onehot)
        return -ops.sum(onehot * ops.log_softmax(logits, axis=-1), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "margin": self.margin, "scale": self.scale}


# --------------------------------------------------------------------------- scoring


def l2_normalize(embeddings: Any) -> np.ndarray:
    """Rows scaled to unit length (float32); an all-zero row is a ``ValueError``."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(
            f"embeddings must be one vector or a non-empty (count, dim) array, "
            f"got shape {np.shape(embeddings)}."
        )
    if not np.all(np.isfinite(vectors)):
        raise ValueError("embeddings contain NaN or infinite values.")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise ValueError("an embedding is all zeros and has no direction.")
    return vectors / norms


def cosine_scores(embeddings: Any, references: Any) -> np.ndarray:
    """Cosine similarity matrix ``(len(embeddings), len(references))``."""
    return l2_normalize(embeddings) @ l2_normalize(references).T


# --------------------------------------------------------------------------- gallery


class Gallery:
    """Enrolled identities: one averaged unit vector per name (see the module docstring)."""

    def __init__(self, dim: int | None = None):
        self.dim = dim
        self._sums: dict[str, np.ndarray] = {}
        self._counts: dict[str, int] = {}

    @property
    def names(self) -> list[str]:
        """Enrolled names, in enrolment order."""
        return list(self._sums)

    def __len__(self) -> int:
        return len(self._sums)

    def __contains__(self, name: object) -> bool:
        return name in self._sums

    def _vectors(self, embeddings: Any) -> np.ndarray:
        vectors = l2_normalize(embeddings)
        if self.dim is not None and vectors.shape[1] != self.dim:
            raise ValueError(
                f"embeddings have {vectors.shape[1]} dimensions, the gallery holds {self.dim}."
            )
        return vectors

    def enroll(self, name: str, embeddings: Any) -> None:
        """Add ``embeddings`` (one vector or a (count, dim) array) to ``name``'s average.

        Everything is checked before the gallery changes, so a failed call changes nothing.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"an enrolled name must be a non-empty string, got {name!r}.")
        vectors = self._vectors(embeddings)
        self.dim = vectors.shape[1]
        self._sums[name] = self._sums.get(name, 0.0) + vectors.sum(axis=0)
        self._counts[name] = self._counts.get(name, 0) + len(vectors)

    def remove(self, name: str) -> None:
        """Forget ``name`` (``ValueError`` when it is not enrolled)."""
        self._check_name(name)
        del self._sums[name], self._counts[name]

    def count(self, name: str) -> int:
        """How many embeddings ``name``'s average holds."""
        self._check_name(name)
        return self._counts[name]

    def _check_name(self, name: str) -> None:
        if name not in self._sums:
            raise ValueError(f"{name!r} is not enrolled; enrolled: {self.names}.")

    def matrix(self) -> np.ndarray:
        """``(len(self), dim)`` float32 unit vectors, one row per name in ``names`` order."""
        if not self._sums:
            raise ValueError("the gallery is empty: enroll someone first.")
        return l2_normalize(np.stack(list(self._sums.values())))

    def scores(self, embeddings: Any) -> np.ndarray:
        """Cosine scores ``(count, len(self))`` of each embedding against every name."""
        return self._vectors(embeddings) @ self.matrix().T

    def identify(self, embedding: Any) -> tuple[str, float]:
        """The closest enrolled name and its cosine score."""
        return self.best_matches(embedding)[0]

    def best_matches(self, embeddings: Any) -> list[tuple[str, float]]:
        """For each embedding, the closest enrolled name and its cosine score."""
        scores, names = self.scores(embeddings), self.names
        best = np.argmax(scores, axis=1)
        return [(names[int(b)], float(row[b])) for row, b in zip(scores, best, strict=True)]

    def verify(self, embedding: Any, name: str, threshold: float) -> tuple[bool, float]:
        """Whether ``embedding`` is ``name`` (cosine score >= ``threshold``), and the score."""
        self._check_name(name)
        score = float(self.scores(embedding)[0, self.names.index(name)])
        return score >= threshold, score

    def to_state(self) -> dict:
        """JSON-ready contents (for a task's saved state)."""
        return {
            "dim": self.dim,
            "names": self.names,
            "counts": [self._counts[n] for n in self.names],
            "sums": [self._sums[n].tolist() for n in self.names],
        }

    @classmethod
    def from_state(cls, state: dict) -> Gallery:
        """The gallery ``to_state`` described."""
        gallery = cls(state.get("dim"))
        for name, count, total in zip(state["names"], state["counts"], state["sums"], strict=True):
            gallery._sums[name] = np.asarray(total, dtype=np.float32)
            gallery._counts[name] = int(count)
        return gallery

    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``.npz`` file atomically (a failed write keeps the previous file)."""
        path = Path(path)
        names = self.names
        dim = self.dim or 0
        with staged(path) as staging:
            with open(staging, "wb") as handle:
                np.savez(
                    handle,
                    names=np.asarray(names, dtype=str),
                    counts=np.asarray([self._counts[n] for n in names], dtype=np.int64),
                    sums=np.asarray([self._sums[n] for n in names], dtype=np.float32).reshape(
                        len(names), dim
                    ),
                )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Gallery:
        """Read a gallery ``save`` wrote."""
        with np.load(Path(path), allow_pickle=False) as data:
            sums = data["sums"]
            state = {
                "dim": int(sums.shape[1]) if sums.shape[0] else None,
                "names": [str(n) for n in data["names"]],
                "counts": data["counts"].tolist(),
                "sums": sums,
            }
        return cls.from_state(state)


# --------------------------------------------------------------------------- metrics


def identification_accuracy(true_names: Sequence[Any], predicted_names: Sequence[Any]) -> float:
    """Fraction of closed-set identifications that name the right identity."""
    if len(true_names) != len(predicted_names):
        raise ValueError(f"{len(true_names)} true names but {len(predicted_names)} predictions.")
    if not len(true_names):
        raise ValueError("cannot score an empty set of identifications.")
    return float(np.mean([t == p for t, p in zip(true_names, predicted_names, strict=True)]))


def _trial_rates(same: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(miss rate, false-alarm rate, threshold) at every distinct score threshold."""
    same = np.asarray(same).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if same.shape != scores.shape:
        raise ValueError(f"{same.size} trial labels but {scores.size} scores.")
    if same.all() or not same.any():
        raise ValueError("verification needs both target (same) and non-target trials.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values.")
    false_alarm, hit, thresholds = roc_curve(same, scores, drop_intermediate=False)
    return 1.0 - hit, false_alarm, thresholds


def equal_error_rate(same: Any, scores: Any) -> tuple[float, float]:
    """(EER, threshold): where the miss and false-alarm rates of "score >= threshold" meet.

    Taken at the ROC point where the two rates are closest, as their mean.
    """
    miss, false_alarm, thresholds = _trial_rates(same, scores)
    best = int(np.argmin(np.abs(miss - false_alarm)))
    return float((miss[best] + false_alarm[best]) / 2.0), float(thresholds[best])


def min_dcf(
    same: Any,
    scores: Any,
    p_target: float = 0.01,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
) -> tuple[float, float]:
    """(normalised minimum detection cost, its threshold), NIST SRE style.

    ``DCF = c_miss * P_miss * p_target + c_fa * P_fa * (1 - p_target)``, divided by the cost of
    the best trivial system, ``min(c_miss * p_target, c_fa * (1 - p_target))``, and minimised
    over thresholds: 1.0 is no better than always accepting or always rejecting.
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target!r}.")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"costs must be positive, got c_miss={c_miss!r}, c_fa={c_fa!r}.")
    miss, false_alarm, thresholds = _trial_rates(same, scores)
    cost = c_miss * miss * p_target + c_fa * false_alarm * (1.0 - p_target)
    cost /= min(c_miss * p_target, c_fa * (1.0 - p_target))
    best = int(np.argmin(cost))
    return float(cost[best]), float(thresholds[best])


def verification_report(same: Any, scores: Any, p_target: float = 0.01) -> dict[str, float]:
    """``eer``, ``eer_threshold`` and ``min_dcf`` (at ``p_target``) of verification trials."""
    eer, threshold = equal_error_rate(same, scores)
    return {
        "eer": eer,
        "eer_threshold": threshold,
        "min_dcf": min_dcf(same, scores, p_target=p_target)[0],
    }


# --------------------------------------------------------------------------- tasks


class EnrolledGallery:
    """Mix-in (before ``Task``) for a task with a ``Gallery`` of enrolled identities: an empty
    one on construction, kept in the task's saved state (``get_state`` / ``set_state``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.gallery = Gallery()

    def get_state(self) -> dict[str, Any]:
        return {"gallery": self.gallery.to_state()}

    def set_state(self, state: Any) -> None:
        self.gallery = Gallery.from_state(state["gallery"]) if "gallery" in state else Gallery()


# --------------------------------------------------------------------------- export


def best_match(
    embeddings: tf.Tensor, matrix: np.ndarray, names: Sequence[str]
) -> dict[str, tf.Tensor]:
    """Core-op scoring of ``[batch, dim]`` embeddings against a baked-in gallery.

    ``matrix`` and ``names`` (from ``Gallery.matrix()`` / ``Gallery.names``) become graph
    constants. Returns ``label`` (string), ``score`` (cosine) and ``scores`` (every name).
    """
    if len(names) != len(matrix):
        raise ValueError(f"{len(names)} names but {len(matrix)} gallery rows.")
    centres = tf.constant(np.asarray(matrix, dtype=np.float32))
    labels = tf.constant(list(names), dtype=tf.string)
    unit = tf.math.l2_normalize(tf.cast(embeddings, tf.float32), axis=-1)
    scores = tf.matmul(unit, centres, transpose_b=True)
    best = tf.argmax(scores, axis=-1, output_type=tf.int32)
    return {
        "label": tf.gather(labels, best),
        "score": tf.reduce_max(scores, axis=-1),
        "scores": scores,
    }
