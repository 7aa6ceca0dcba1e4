"""Training-time metrics for multi-task molecule labels with missing values (NaN)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlsuite")
class MaskedAUC(keras.metrics.AUC):
    """ROC-AUC per task averaged over tasks, counting only the labels that are present.

    Missing labels (NaN) get weight 0, so multi-task sets with gaps can drive early stopping
    on ``val_auc``. ``evaluate`` reports scikit-learn's exact AUCs instead of this estimate.
    """

    def __init__(self, num_labels: int = 1, name: str = "auc", **kwargs: Any):
        kwargs.pop("multi_label", None)
        super().__init__(name=name, multi_label=True, num_labels=num_labels, **kwargs)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        present = ops.logical_not(ops.isnan(y_true))
        weight = ops.cast(present, "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(ops.reshape(sample_weight, (-1, 1)), "float32")
        return super().update_state(ops.where(present, y_true, 0.0), y_pred, weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("multi_label", None)
        return config
