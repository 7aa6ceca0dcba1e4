"""Focal losses built on Keras' own, plus what Keras lacks or only half-provides: soft Dice for
segmentation and label-smoothed cross-entropy that also takes sparse integer labels.

All take probabilities by default (``from_logits=False``), return one value per example and
are registered under the ``dlsuite`` package so compiled `.keras` files load in safe mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


def _one_hot_labels(y_true, num_classes: int, pred_rank: int):
    """Turn integer labels shaped like y_pred without (or with a size-1) class axis to one-hot."""
    labels = ops.convert_to_tensor(y_true)
    if len(labels.shape) == pred_rank:
        labels = ops.squeeze(labels, axis=-1)
    return ops.one_hot(ops.cast(labels, "int32"), num_classes)


def _num_classes(y_pred) -> int:
    num_classes = y_pred.shape[-1]
    if num_classes is None:
        raise ValueError("The class (last) dimension of y_pred must be known.")
    return int(num_classes)


def _log_probs(y_pred, from_logits: bool):
    """Return (probabilities, log-probabilities) over the last axis, clipped when from probs."""
    if from_logits:
        log_p = ops.log_softmax(y_pred, axis=-1)
        return ops.exp(log_p), log_p
    eps = keras.config.epsilon()
    probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    probs = ops.clip(probs, eps, 1.0 - eps)
    return probs, ops.log(probs)


class _DlsuiteLoss(keras.losses.Loss):
    """Shared constructor defaults: per-example values reduced with "sum_over_batch_size"."""

    def __init__(self, name: str, reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


def _dense_targets(y_true: Any, y_pred: Any, sparse: bool) -> tuple[Any, Any, int]:
    """(one-hot ``y_true`` in ``y_pred``'s dtype, ``y_pred`` as a tensor, the class count)."""
    y_pred = ops.convert_to_tensor(y_pred)
    num_classes = _num_classes(y_pred)
    if sparse:
        y_true = _one_hot_labels(y_true, num_classes, len(y_pred.shape))
    return ops.cast(y_true, y_pred.dtype), y_pred, num_classes


def _loss_config(loss: keras.losses.Loss, *names: str) -> dict:
    """The base ``Loss`` config (name, reduction, dtype) plus the named constructor arguments."""
    config = keras.losses.Loss.get_config(loss)
    config.update({name: getattr(loss, name) for name in names})
    return config


def _focal_arguments(gamma: float, from_logits: bool, label_smoothing: float) -> dict[str, Any]:
    """The checked ``gamma``, ``from_logits`` and ``label_smoothing`` both focal losses hand to
    their Keras base class."""
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}.")
    return {
        "gamma": float(gamma),
        "from_logits": bool(from_logits),
        "label_smoothing": _check_smoothing(label_smoothing),
    }


def _check_smoothing(label_smoothing: float) -> float:
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
    return float(label_smoothing)


@keras.saving.register_keras_serializable(package="dlsuite")
class BinaryFocalLoss(keras.losses.BinaryFocalCrossentropy):
    """Keras' ``BinaryFocalCrossentropy`` under its dlsuite name (older `.keras` files use it).

    ``-alpha_t * (1 - p_t) ** gamma * log(p_t)`` averaged over the last axis; ``alpha=None``
    turns class balancing off. Values and gradients equal the built-in's, logits included
    (Keras' TensorFlow backend recovers the logits behind its sigmoid, so no saturation).
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | None = 0.25,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_focal_loss",
        dtype=None,
    ):
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha!r}.")
        super().__init__(
            apply_class_balancing=alpha is not None,
            alpha=0.25 if alpha is None else float(alpha),
            **_focal_arguments(gamma, from_logits, label_smoothing),
            reduction=reduction,
            name=name,
            dtype=dtype,
        )

    def get_config(self) -> dict:
        config = keras.losses.Loss.get_config(self)
        config.update(
            gamma=self.gamma,
            alpha=self.alpha if self.apply_class_balancing else None,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
        )
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class CategoricalFocalLoss(keras.losses.CategoricalFocalCrossentropy):
    """Keras' ``CategoricalFocalCrossentropy`` plus sparse labels, ``alpha=None`` and a stable
    logits path: ``-sum_c alpha_c * y_c * (1 - p_c) ** gamma * log(p_c)``.

    ``alpha`` is None (no weighting), one float, or one weight per class; ``sparse=True``
    takes integer labels (Keras has no sparse focal loss). Probabilities go through the
    built-in unchanged. With ``gamma=0, alpha=None`` it is plain categorical cross-entropy.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        from_logits: bool = False,
        sparse: bool = False,
        label_smoothing: float = 0.0,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_focal_loss",
        dtype=None,
    ):
        if alpha is None or isinstance(alpha, (int, float)):
            weights = None if alpha is None else float(alpha)
        else:
            weights = [float(a) for a in alpha]
        super().__init__(
            alpha=1.0 if weights is None else weights,
            **_focal_arguments(gamma, from_logits, label_smoothing),
            reduction=reduction,
            name=name,
            dtype=dtype,
        )
        self.alpha = weights
        self.sparse = bool(sparse)

    def call(self, y_true, y_pred):
        y_true, y_pred, num_classes = _dense_targets(y_true, y_pred, self.sparse)
        if isinstance(self.alpha, list) and len(self.alpha) != num_classes:
            raise ValueError(
                f"alpha has {len(self.alpha)} weights but y_pred has {num_classes} classes."
            )
        if not self.from_logits:
            return super().call(y_true, y_pred)
        # Kept: Keras' logits path takes softmax, then clips at epsilon, so it saturates. For
        # logits [20, 0, 0] and true class 1 (alpha 0.25) it gives 4.03 and a zero gradient;
        # log-softmax gives the exact 5.0 and gradient (0.25, -0.25, 0).
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        probs, log_p = _log_probs(y_pred, from_logits=True)
        loss = -y_true * ops.power(1.0 - probs, self.gamma) * log_p
        if self.alpha is not None:
            loss = ops.convert_to_tensor(self.alpha, dtype=y_pred.dtype) * loss
        return ops.sum(loss, axis=-1)

    def get_config(self) -> dict:
        return _loss_config(self, "gamma", "alpha", "from_logits", "sparse", "label_smoothing")


@keras.saving.register_keras_serializable(package="dlsuite")
class DiceLoss(_DlsuiteLoss):
    """Soft Dice loss for channels-last segmentation (2-D or 3-D), one value per example.

    Per class ``(2 * sum(y * p) + smooth) / (sum(y) + sum(p) + smooth)`` over the spatial axes,
    averaged over classes, subtracted from 1; robust to class imbalance where CE is not.
    ``sparse=True`` takes integer label maps; ``exclude_background`` drops class 0.
    """

    # Kept instead of keras.losses.Dice, which has no smoothing term: per class
    # (axis=(1, 2)) a class absent from both truth and prediction scores loss 1, so a perfect
    # 3-class prediction with one absent class gives 0.333 (ours 0.0); pooled over classes
    # (axis=(1, 2, 3)) the large background decides (0.707 vs per-class 0.714 on random
    # maps). It also lacks sparse labels, logits and exclude_background.

    def __init__(
        self,
        smooth: float = 1e-6,
        from_logits: bool = False,
        sparse: bool = False,
        num_classes: int | None = None,
        exclude_background: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "dice_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth!r}.")
        self.smooth = float(smooth)
        self.from_logits = bool(from_logits)
        self.sparse = bool(sparse)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.exclude_background = bool(exclude_background)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        rank = len(y_pred.shape)
        if rank < 3:
            raise ValueError(
                f"DiceLoss expects (batch, *spatial, classes) predictions, got rank {rank}."
            )
        num_classes = self.num_classes or _num_classes(y_pred)
        if self.from_logits:
            y_pred = ops.sigmoid(y_pred) if num_classes == 1 else ops.softmax(y_pred, axis=-1)
        if self.sparse:
            y_true = _one_hot_labels(y_true, num_classes, rank)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.exclude_background:
            if num_classes < 2:
                raise ValueError("exclude_background needs at least two classes.")
            y_true, y_pred = y_true[..., 1:], y_pred[..., 1:]
        spatial_axes = tuple(range(1, rank - 1))
        intersection = ops.sum(y_true * y_pred, axis=spatial_axes)
        denominator = ops.sum(y_true, axis=spatial_axes) + ops.sum(y_pred, axis=spatial_axes)
        dice = (2.0 * intersection + self.smooth) / (denominator + self.smooth)
        return 1.0 - ops.mean(dice, axis=-1)

    def get_config(self) -> dict:
        return _loss_config(
            self, "smooth", "from_logits", "sparse", "num_classes", "exclude_background"
        )


@keras.saving.register_keras_serializable(package="dlsuite")
class LabelSmoothedCrossEntropy(_DlsuiteLoss):
    """Cross-entropy against ``(1 - s) * one_hot + s / C`` that also accepts sparse labels.

    Exists because Keras' SparseCategoricalCrossentropy has no ``label_smoothing`` (checked
    in Keras 3.15); with dense labels it equals ``CategoricalCrossentropy(label_smoothing)``.
    """

    def __init__(
        self,
        label_smoothing: float = 0.1,
        from_logits: bool = False,
        sparse: bool = True,
        reduction: str = "sum_over_batch_size",
        name: str = "label_smoothed_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.from_logits = bool(from_logits)
        self.sparse = bool(sparse)

    def call(self, y_true, y_pred):
        y_true, y_pred, num_classes = _dense_targets(y_true, y_pred, self.sparse)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        _, log_p = _log_probs(y_pred, self.from_logits)
        return -ops.sum(y_true * log_p, axis=-1)

    def get_config(self) -> dict:
        return _loss_config(self, "label_smoothing", "from_logits", "sparse")


@keras.saving.register_keras_serializable(package="dlsuite")
class NTXentLoss(_DlsuiteLoss):
    """SimCLR's normalised temperature-scaled cross-entropy over a batch of positive pairs.

    ``y_pred`` is ``[B, 2, D]``: the projections of two views of each example (``y_true`` is
    ignored). Each of the 2B vectors must pick its partner among the other 2B - 1 by cosine
    similarity / ``temperature``; the value per example is the mean of its two views' losses.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        reduction: str = "sum_over_batch_size",
        name: str = "nt_xent",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 3 or y_pred.shape[1] != 2:
            raise ValueError(f"NTXentLoss expects y_pred of shape [B, 2, D], got {y_pred.shape}")
        batch = ops.shape(y_pred)[0]
        z = ops.concatenate([y_pred[:, 0], y_pred[:, 1]], axis=0)
        z = z / ops.maximum(ops.norm(z, axis=-1, keepdims=True), 1e-12)
        logits = ops.matmul(z, ops.transpose(z)) / self.temperature
        logits = logits - ops.eye(2 * batch, dtype=logits.dtype) * 1e9  # never pick yourself
        partners = ops.concatenate([ops.arange(batch) + batch, ops.arange(batch)], axis=0)
        log_p = ops.log_softmax(logits, axis=-1)
        picked = ops.take_along_axis(log_p, ops.expand_dims(partners, -1), axis=-1)[:, 0]
        return -(picked[:batch] + picked[batch:]) / 2.0

    def get_config(self) -> dict:
        return _loss_config(self, "temperature")
