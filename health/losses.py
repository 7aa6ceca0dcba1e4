"""Dice + cross-entropy, the default loss of medical segmentation (nnU-Net, MONAI DiceCELoss):
cross-entropy gives smooth per-voxel gradients, Dice keeps small structures from being ignored.

Keras has no Dice + CE loss; the CE half is Keras' own ``SparseCategoricalCrossentropy``, the Dice
half ``common.losses.DiceLoss`` (kept over ``keras.losses.Dice`` for the measured reason given
there: Keras scores a class absent from truth and prediction as a full miss).
"""

from __future__ import annotations

import keras

from common.losses import DiceLoss


@keras.saving.register_keras_serializable(package="dlsuite_health")
class DiceCrossEntropyLoss(keras.losses.Loss):
    """``dice_weight * soft Dice + ce_weight * sparse cross-entropy`` on softmax probabilities
    and integer label maps (2-D or 3-D)."""

    def __init__(
        self,
        num_classes: int,
        dice_weight: float = 1.0,
        ce_weight: float = 1.0,
        exclude_background: bool = False,
        name: str = "dice_ce",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.dice_weight, self.ce_weight = float(dice_weight), float(ce_weight)
        self.exclude_background = bool(exclude_background)
        self.dice = DiceLoss(
            sparse=True,
            num_classes=self.num_classes,
            exclude_background=self.exclude_background,
            reduction=None,
        )
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def call(self, y_true, y_pred):
        rank = len(y_pred.shape)
        ce = keras.ops.mean(self.cross_entropy(y_true, y_pred), axis=tuple(range(1, rank - 1)))
        return self.dice_weight * self.dice(y_true, y_pred) + self.ce_weight * ce

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            dice_weight=self.dice_weight,
            ce_weight=self.ce_weight,
            exclude_background=self.exclude_background,
        )
        return config
