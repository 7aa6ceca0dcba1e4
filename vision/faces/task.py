"""``vision.FaceRecognizer``: face images in, embeddings out; enroll / identify / verify people.

The network is the ``ImageClassifier`` trunk (same backbones, augmentation and inputs) up to
pooling, then a linear ``embedding`` layer. Training puts ``common.verification``'s
``CosineClassifier`` over the training identities and its AM-softmax ``AdditiveMarginLoss`` on
top, so faces of one person cluster by angle with a margin; people never seen in training are
then told apart by the cosine of their embeddings. The ``Gallery`` of enrolled people is saved
with the task; the export maps image bytes to ``embedding`` (and, with a gallery, to the
closest enrolled ``identity`` and its ``score``) in core TensorFlow ops.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_interval
from common.reports import write_evaluation_report
from common.task_parts import config_optimizer
from common.verification import (
    AdditiveMarginLoss,
    CosineClassifier,
    EnrolledGallery,
    Gallery,
    best_match,
    identification_accuracy,
    verification_report,
)
from vision import images as images_lib
from vision.classification import ImageClassifier, ImageClassifierConfig
from vision.faces.data import FaceSet, load_face_folder


@dataclasses.dataclass
class FaceRecognizerConfig(ImageClassifierConfig):
    """``ImageClassifier`` options (``classes`` are the training identities) plus the embedding
    size, the AM-softmax margin and scale, and the default verification threshold."""

    image_size: int = 32
    embedding_dim: int = 64
    margin: float = 0.2
    scale: float = 30.0
    threshold: float = 0.5
    dropout: float = 0.0
    label_smoothing: float = 0.0

    def validate(self) -> None:
        super().validate()
        check_at_least(self, 2, "embedding_dim")
        check_interval("margin", self.margin, 0.0, 1.0)
        check_interval("threshold", self.threshold, -1.0, 1.0, "[]")


class FaceRecognizer(EnrolledGallery, ImageClassifier):
    """Face embeddings with a gallery of enrolled people (see the module docstring)."""

    config_class = FaceRecognizerConfig
    config: FaceRecognizerConfig

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        trunk = super().build_model()  # ... pooling, dropout, softmax: keep up to the features
        features = trunk.get_layer("dropout" if self.config.dropout else "pool").output
        embedding = keras.layers.Dense(
            self.config.embedding_dim, dtype="float32", name="embedding"
        )(features)
        cosines = CosineClassifier(self.num_classes, name="cosines")(embedding)
        return keras.Model(trunk.input, cosines, name="face_recognizer")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        model.compile(
            optimizer=config_optimizer(self.config, total_steps),
            loss=AdditiveMarginLoss(margin=self.config.margin, scale=self.config.scale),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    @property
    def embedder(self) -> keras.Model:
        """image (float, [0, 255]) -> embedding: the model without its training head."""
        return keras.Model(self.model.input, self.model.get_layer("embedding").output)

    def embed(self, images: Any, batch_size: int = 64) -> np.ndarray:
        """(N, embedding_dim) embeddings of images (paths, bytes, PIL, arrays, a list of them)."""
        batch = self._batch_from_inputs(images)
        embedder = self.embedder
        return np.concatenate(
            [
                np.asarray(embedder(batch[i : i + batch_size], training=False))
                for i in range(0, int(batch.shape[0]), batch_size)
            ]
        )

    # ------------------------------------------------------------------ people
    def enroll(self, name: str, images: Any) -> None:
        """Add a person (or more images of one) to the gallery."""
        self.gallery.enroll(name, self.embed(images))

    def identify(self, images: Any) -> list[dict[str, Any]]:
        """For each image, the closest enrolled ``identity`` and its cosine ``score``."""
        if not len(self.gallery):
            raise ValueError("the gallery is empty: enroll someone first")
        matches = self.gallery.best_matches(self.embed(images))
        return [{"identity": name, "score": score} for name, score in matches]

    def verify(self, image: Any, name: str, threshold: float | None = None) -> dict[str, Any]:
        """Whether ``image`` shows the enrolled ``name``: ``same`` and the cosine ``score``."""
        limit = self.config.threshold if threshold is None else float(threshold)
        same, score = self.gallery.verify(self.embed(image), name, limit)
        return {"same": bool(same), "score": score}

    # ------------------------------------------------------------------ evaluation
    def evaluate(  # type: ignore[override]
        self,
        data: Any,
        batch_size: int | None = None,
        report_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
        enroll_per_identity: int = 1,
    ) -> dict[str, Any]:
        """Verification and identification on faces of (usually unseen) people.

        ``data``: a face folder, a ``FaceSet`` or ``(images, names)``. Every pair of images is a
        trial (same person or not): equal error rate, its threshold and min DCF. The first
        ``enroll_per_identity`` images of each person are enrolled in a scratch gallery and the
        rest identified among everyone: identification accuracy. ``report_dir``: the report files.
        """
        faces = self._faces(data)
        embeddings = self.embed(list(faces.images), batch_size or self.config.batch_size)
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        pairs = np.array(list(itertools.combinations(range(len(faces)), 2)))
        if not len(pairs):
            raise ValueError("evaluation needs at least two face images")
        names = np.array(faces.names)
        same = names[pairs[:, 0]] == names[pairs[:, 1]]
        scores = np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)
        report: dict[str, Any] = {
            **verification_report(same, scores),
            "trials": int(len(pairs)),
            "target_trials": int(same.sum()),
        }
        gallery, probes = Gallery(), []
        for name in faces.identities:
            where = np.flatnonzero(names == name)
            if len(where) > enroll_per_identity:
                gallery.enroll(name, embeddings[where[:enroll_per_identity]])
                probes += list(where[enroll_per_identity:])
        if probes and len(gallery) > 1:
            predicted = [name for name, _ in gallery.best_matches(embeddings[probes])]
            report["identification_accuracy"] = identification_accuracy(
                list(names[probes]), predicted
            )
        if report_dir is not None:
            write_evaluation_report(report_dir, report, overwrite=overwrite)
        return report

    @staticmethod
    def _faces(data: Any) -> FaceSet:
        if isinstance(data, FaceSet):
            return data
        if isinstance(data, (str, os.PathLike)):
            return load_face_folder(data)
        if isinstance(data, (tuple, list)) and len(data) == 2:
            return FaceSet(np.asarray(data[0]), [str(n) for n in data[1]])
        raise ValueError(
            "face data must be a face folder, a FaceSet or an (images, names) pair, got "
            f"{type(data).__name__}"
        )

    def _source_dataset(self, data: Any) -> tf.data.Dataset:
        if isinstance(data, FaceSet):
            data = (data.images, data.names)
        return super()._source_dataset(data)

    # ------------------------------------------------------------------ inference
    def predict_batch(  # type: ignore[override]
        self, items: list[Any], top_k: int | None = None
    ) -> list[dict[str, Any]]:
        """Images -> for each: ``embedding`` and, with a gallery, ``identity`` and ``score``
        (``top_k`` is not used: one closest identity)."""
        embeddings = self.embed(items)
        results: list[dict[str, Any]] = [{"embedding": e} for e in embeddings]
        if len(self.gallery):
            matches = self.gallery.best_matches(embeddings)
            for result, (name, score) in zip(results, matches, strict=True):
                result.update(identity=name, score=score)
        return results

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        size, embedder = self.config.image_size, self.embedder
        matrix = self.gallery.matrix() if len(self.gallery) else None
        names = self.gallery.names

        def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            embedding = embedder(images_lib.decode_batch(image_bytes, size), training=False)
            outputs = {"embedding": embedding}
            if matrix is not None:
                match = best_match(embedding, matrix, names)
                outputs.update(identity=match["label"], score=match["score"])
            return outputs

        return self.image_bytes_endpoint(serve)
