"""``vision.DBNClassifier``: a deep belief network, an MLP on grey pixels whose hidden layers are
first pretrained greedily as Bernoulli RBMs (``common.rbm``) and then fine-tuned together with
a softmax layer by backpropagation.

It is an ``ImageClassifier`` with another model: the same inputs (paths, bytes, PIL, arrays,
folders), outputs, evaluation report and ``image_bytes`` export. ``pretrain_epochs=0`` gives the
same MLP without pretraining, the baseline the pretraining is measured against.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from common.config_checks import check_at_least, check_interval, class_names
from common.rbm import BernoulliRBM, pretrain_dbn
from common.task import TaskConfig
from common.task_parts import config_optimizer
from vision.classification import ImageClassifier


@dataclasses.dataclass
class DBNClassifierConfig(TaskConfig):
    """Options of ``DBNClassifier``; every field is a keyword argument of the constructor."""

    classes: list[str] = dataclasses.field(default_factory=list)
    image_size: int = 8
    hidden_units: list[int] = dataclasses.field(default_factory=lambda: [256, 128])
    pretrain_epochs: int = 10
    pretrain_learning_rate: float = 0.05
    pretrain_batch_size: int = 16
    cd_steps: int = 1
    dropout: float = 0.1
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.0
    batch_size: int = 32
    top_k: int = 5
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(self.classes, "DBNClassifier", "classes=['0', '1']")
        self.hidden_units = [int(u) for u in self.hidden_units]
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(
                f"hidden_units must list at least one positive layer size, got {self.hidden_units}"
            )
        check_at_least(self, 2, "image_size")
        check_at_least(self, 0, "pretrain_epochs")
        check_at_least(self, 1, "cd_steps", "pretrain_batch_size", "batch_size", "top_k")
        check_interval("dropout", self.dropout, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="dlsuite")
class GreyPixels(keras.layers.Layer):
    """(N, H, W, C) float images in [0, 255] -> (N, H * W) grey levels in [0, 1]: the visible
    units of the first RBM."""

    def call(self, inputs):
        grey = keras.ops.mean(inputs, axis=-1) / 255.0
        return keras.ops.reshape(grey, (keras.ops.shape(inputs)[0], -1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * input_shape[2])


class DBNClassifier(ImageClassifier):
    """Greedy layer-wise RBM pretraining, then supervised fine-tuning (see the module doc)."""

    config_class = DBNClassifierConfig  # type: ignore[assignment]
    config: DBNClassifierConfig  # type: ignore[assignment]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Reconstruction error per epoch of each RBM; None until pretraining has run.
        self.pretraining: list[list[float]] | None = None

    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        inputs = keras.Input((c.image_size, c.image_size, 3), name="image")
        x = GreyPixels(name="grey_pixels")(inputs)
        for index, units in enumerate(c.hidden_units):
            x = BernoulliRBM(units, name=f"rbm_{index}")(x)
            if c.dropout:
                x = keras.layers.Dropout(c.dropout, name=f"dropout_{index}")(x)
        outputs = keras.layers.Dense(
            self.num_classes, activation="softmax", dtype="float32", name="probabilities"
        )(x)
        return keras.Model(inputs, outputs, name="dbn_classifier")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        k = min(self.config.top_k, self.num_classes)
        model.compile(
            optimizer=config_optimizer(self.config, total_steps),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=k, name=f"top_{k}_accuracy"),
            ],
        )

    def visible_units(self, data: Any) -> np.ndarray:
        """The first RBM's input (N, image_size**2) for training data in any accepted form."""
        grey = self.model.get_layer("grey_pixels")
        batches = self.make_dataset(data, self.config.batch_size, training=False)
        return np.concatenate([np.asarray(grey(images)) for images, _ in batches])

    def pretrain(self, data: Any) -> list[list[float]]:
        """Greedy layer-wise CD-k pretraining of the hidden layers on ``data``'s images (labels
        are not used); returns and keeps each RBM's reconstruction error per epoch."""
        c = self.config
        rbms, histories = pretrain_dbn(
            self.visible_units(data),
            c.hidden_units,
            epochs=max(c.pretrain_epochs, 1),
            batch_size=c.pretrain_batch_size,
            learning_rate=c.pretrain_learning_rate,
            cd_steps=c.cd_steps,
            seed=c.seed,
        )
        for index, rbm in enumerate(rbms):
            self.model.get_layer(f"rbm_{index}").set_weights(rbm.get_weights())
        self.pretraining = histories
        return histories

    def before_fit(self, data: Any, resume: bool) -> None:
        """Pretrain before ``Task.fit`` fine-tunes: on the first call only, unless
        ``pretrain_epochs=0`` or resuming."""
        if self.config.pretrain_epochs and self.pretraining is None and not resume:
            self.pretrain(data)

    def get_state(self) -> dict[str, Any]:
        return {"pretraining": self.pretraining}

    def set_state(self, state: Any) -> None:
        self.pretraining = state.get("pretraining")
