"""Box-regression losses for object detection: GIoU (boxes or point-to-edge distances), smooth L1,
and the combined dense-detection loss (focal + GIoU + centre-ness) of FCOS-style heads.

Domain-free: tensors in, tensors out, no knowledge of images. Registered under ``dlsuite`` so
compiled `.keras` files load in safe mode.
"""

from __future__ import annotations

import keras
from keras import ops

from common.losses import BinaryFocalLoss


def giou_boxes(y_true, y_pred):
    """Generalised IoU (Rezatofighi et al., 2019) of matching ``[ymin, xmin, ymax, xmax]`` boxes.

    Both (..., 4); returns (...,) in [-1, 1]. ``1 - giou`` is the loss.
    """
    eps = keras.config.epsilon()
    t_area = (y_true[..., 2] - y_true[..., 0]) * (y_true[..., 3] - y_true[..., 1])
    p_area = (y_pred[..., 2] - y_pred[..., 0]) * (y_pred[..., 3] - y_pred[..., 1])
    inter_h = ops.relu(
        ops.minimum(y_true[..., 2], y_pred[..., 2]) - ops.maximum(y_true[..., 0], y_pred[..., 0])
    )
    inter_w = ops.relu(
        ops.minimum(y_true[..., 3], y_pred[..., 3]) - ops.maximum(y_true[..., 1], y_pred[..., 1])
    )
    inter = inter_h * inter_w
    union = t_area + p_area - inter
    hull_h = ops.maximum(y_true[..., 2], y_pred[..., 2]) - ops.minimum(
        y_true[..., 0], y_pred[..., 0]
    )
    hull_w = ops.maximum(y_true[..., 3], y_pred[..., 3]) - ops.minimum(
        y_true[..., 1], y_pred[..., 1]
    )
    hull = hull_h * hull_w
    iou = inter / (union + eps)
    return iou - (hull - union) / (hull + eps)


def giou_distances(y_true, y_pred):
    """GIoU of two boxes given as non-negative (left, top, right, bottom) distances from one point.

    Both boxes contain the point, so overlap and hull follow from element-wise min / max
    (the FCOS formulation); no coordinates are needed. (..., 4) -> (...,).
    """
    eps = keras.config.epsilon()
    t_area = (y_true[..., 0] + y_true[..., 2]) * (y_true[..., 1] + y_true[..., 3])
    p_area = (y_pred[..., 0] + y_pred[..., 2]) * (y_pred[..., 1] + y_pred[..., 3])
    low = ops.minimum(y_true, y_pred)
    high = ops.maximum(y_true, y_pred)
    inter = (low[..., 0] + low[..., 2]) * (low[..., 1] + low[..., 3])
    hull = (high[..., 0] + high[..., 2]) * (high[..., 1] + high[..., 3])
    union = t_area + p_area - inter
    return inter / (union + eps) - (hull - union) / (hull + eps)


def smooth_l1(y_true, y_pred, beta: float = 1.0):
    """Huber-style smooth L1 summed over the last axis: quadratic below ``beta``, linear above."""
    diff = ops.abs(ops.convert_to_tensor(y_pred) - ops.cast(y_true, "float32"))
    loss = ops.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    return ops.sum(loss, axis=-1)


@keras.saving.register_keras_serializable(package="dlsuite")
class DenseDetectionLoss(keras.losses.Loss):
    """FCOS-style loss over packed per-point tensors (batch, points, num_classes + 5).

    Columns of both ``y_true`` and ``y_pred``: class (one-hot targets / logits), four box
    distances (ltrb in stride units; predictions already non-negative), centre-ness (target in
    [0, 1] / logit). Classification uses sigmoid focal loss over every point, normalised by the
    number of positive points in the batch; box regression (``"giou"`` or ``"smooth_l1"``) and
    centre-ness BCE only count positive points.
    """

    def __init__(
        self,
        num_classes: int,
        box_loss: str = "giou",
        box_weight: float = 1.0,
        gamma: float = 2.0,
        alpha: float = 0.25,
        reduction: str = "sum_over_batch_size",
        name: str = "dense_detection_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes!r}.")
        if box_loss not in ("giou", "smooth_l1"):
            raise ValueError(f"box_loss must be 'giou' or 'smooth_l1', got {box_loss!r}.")
        self.num_classes = int(num_classes)
        self.box_loss = box_loss
        self.box_weight = float(box_weight)
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self._focal = BinaryFocalLoss(gamma=gamma, alpha=alpha, from_logits=True, reduction=None)

    def call(self, y_true, y_pred):
        c = self.num_classes
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        class_true, class_pred = y_true[..., :c], y_pred[..., :c]
        box_true, box_pred = y_true[..., c : c + 4], y_pred[..., c : c + 4]
        centre_true, centre_pred = y_true[..., c + 4], y_pred[..., c + 4]
        positive = ops.cast(ops.sum(class_true, axis=-1) > 0, "float32")  # (B, N)
        batch = ops.cast(ops.shape(y_true)[0], "float32")
        per_image_positives = ops.maximum(ops.sum(positive) / batch, 1.0)

        focal = self._focal(class_true, class_pred) * c  # mean over classes -> sum
        classification = ops.sum(focal, axis=-1)
        if self.box_loss == "giou":
            box = 1.0 - giou_distances(box_true, box_pred)
        else:
            box = smooth_l1(box_true, box_pred)
        # Weight boxes by target centre-ness (FCOS): off-centre points regress less reliably.
        box_weights = positive * centre_true
        box_norm = ops.maximum(ops.sum(box_weights) / batch, 1e-6)
        regression = ops.sum(box * box_weights, axis=-1) / box_norm
        centre_bce = ops.binary_crossentropy(centre_true, centre_pred, from_logits=True)
        centre_loss = ops.sum(centre_bce * positive, axis=-1)
        return (classification + centre_loss) / per_image_positives + self.box_weight * regression

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            box_loss=self.box_loss,
            box_weight=self.box_weight,
            gamma=self.gamma,
            alpha=self.alpha,
        )
        return config
