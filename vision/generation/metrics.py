"""Sample-quality metrics that work offline: FID and KID on the features of any extractor,
the classification accuracy score (CAS) and a nearest-neighbour memorisation check.

FID (Heusel et al., 2017) and KID (Binkowski et al., 2018) are defined on InceptionV3 pool
features; those weights cannot be downloaded here, so the extractor is a parameter
(``FeatureFn``: images ``[n, H, W, C]`` in [0, 1] -> ``[n, d]``). ``classifier_features`` turns a
dlsuite ``ImageClassifier`` trained on the same real data into one; ``pixel_features`` is the
fallback. Numbers are comparable only between runs that use the same extractor; a user with
Inception weights passes an Inception extractor and gets the standard FID.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import linalg

FeatureFn = Callable[[np.ndarray], np.ndarray]


def pixel_features(images: np.ndarray) -> np.ndarray:
    """The raw pixels as features (no trained extractor; not comparable to published FIDs)."""
    images = np.asarray(images, np.float32)
    return images.reshape(len(images), -1)


def classifier_features(classifier: Any, batch_size: int = 256) -> FeatureFn:
    """The pooled features (the layer named ``pool``, before the class head) of a dlsuite
    ``ImageClassifier``; images in [0, 1] are scaled to its [0, 255] RGB input size."""
    import keras
    import tensorflow as tf

    from vision.images import to_model_input

    model = classifier.model
    extractor = keras.Model(model.inputs, model.get_layer("pool").output)
    size = int(classifier.config.image_size)

    def features(images: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(images), batch_size):
            batch = tf.convert_to_tensor(np.asarray(images[start : start + batch_size]) * 255.0)
            batch = tf.map_fn(lambda im: to_model_input(im, size), batch)
            out.append(np.asarray(extractor(batch, training=False)))
        return np.concatenate(out).astype(np.float64)

    return features


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """Matrix square root (SciPy's result, whichever return form its version uses)."""
    result = linalg.sqrtm(matrix)
    return np.asarray(result[0] if isinstance(result, tuple) else result)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two feature sets: ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least two feature vectors on each side")
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r, cov_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    cov_r, cov_f = np.atleast_2d(cov_r), np.atleast_2d(cov_f)
    root = _sqrtm(cov_r @ cov_f)
    if not np.isfinite(root).all():  # near-singular product: regularise as the reference code
        offset = np.eye(len(cov_r)) * 1e-6
        root = _sqrtm((cov_r + offset) @ (cov_f + offset))
    root = np.real(root)
    distance = np.sum((mu_r - mu_f) ** 2) + np.trace(cov_r) + np.trace(cov_f) - 2 * np.trace(root)
    return float(max(distance, 0.0))


def kernel_inception_distance(
    real: np.ndarray, fake: np.ndarray, subsets: int = 10, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: the unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over
    random subsets; returns (mean, standard deviation over subsets)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs at least two feature vectors on each side")
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def nearest_neighbour_report(
    generated: np.ndarray, train: np.ndarray, held_out: np.ndarray
) -> dict[str, float]:
    """Memorisation check in pixel space: each generated image's distance to its nearest
    training image, against the same for real held-out images (which were never trained on).

    ``memorised_fraction`` is the share of generated images closer to a training image than
    the 1st percentile of held-out images are: a copying generator drives it towards 1, a
    generator of new images keeps it near 0.01.
    """
    from sklearn.neighbors import NearestNeighbors

    flat = [pixel_features(a) for a in (generated, train, held_out)]
    index = NearestNeighbors(n_neighbors=1).fit(flat[1])
    generated_d = index.kneighbors(flat[0])[0][:, 0]
    held_out_d = index.kneighbors(flat[2])[0][:, 0]
    floor = np.percentile(held_out_d, 1)
    return {
        "nn_distance_generated": float(np.median(generated_d)),
        "nn_distance_held_out": float(np.median(held_out_d)),
        "memorised_fraction": float(np.mean(generated_d < floor)),
    }


def classification_accuracy_score(
    generated: np.ndarray,
    generated_labels: np.ndarray,
    real: np.ndarray,
    real_labels: np.ndarray,
    classes: list[str],
    epochs: int = 10,
    **classifier_options: Any,
) -> float:
    """CAS (Ravuri & Vinyals, 2019): accuracy on real images of a classifier trained only on
    generated labelled images (a dlsuite ``ImageClassifier``; options go to its constructor)."""
    from vision.classification import ImageClassifier

    options = {"image_size": 32, "widths": [16, 32, 64], "flip": None, "augment": False}
    options.update(classifier_options)
    classifier = ImageClassifier(classes=classes, **options)
    to_uint8 = lambda a: np.round(np.asarray(a) * 255).astype(np.uint8)  # noqa: E731
    classifier.fit((to_uint8(generated), np.asarray(generated_labels)), epochs=epochs, verbose=0)
    return float(classifier.evaluate((to_uint8(real), np.asarray(real_labels)))["accuracy"])
