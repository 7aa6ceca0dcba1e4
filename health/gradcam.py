"""Grad-CAM (Selvaraju et al., 2017) for ``MedicalImageClassifier`` (``health.explain``; the module
is not named explain so that the package attribute stays the function): which regions of the image
drove a score, as a heatmap and an overlay PNG on the windowed image (clinicians ask why)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf


def grad_cam(
    task, image: Any, class_index: int | str | None = None
) -> tuple[np.ndarray, int, np.ndarray]:
    """(heatmap in [0, 1] at the model's input size, class index explained, model input (S, S, C)).

    The heatmap is ReLU(sum_k alpha_k A_k) over the backbone's last feature maps A_k, with
    alpha_k the spatial mean of d score / d A_k, upsampled bilinearly to the input size.
    """
    model = task.model
    x = tf.constant(task._image(image)[None])
    backbone = model.get_layer("backbone")
    if isinstance(class_index, str):
        if class_index not in task.classes:
            raise ValueError(f"unknown class {class_index!r}; classes are {task.classes}")
        class_index = task.classes.index(class_index)
    layers = model.layers[1:]  # the classifier is a chain: input -> ... -> backbone -> head
    split = layers.index(backbone) + 1
    features = x
    for layer in layers[:split]:  # outside the tape: no gradients through the backbone needed
        features = layer(features, training=False)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(features)
        scores = features
        for layer in layers[split:]:
            scores = layer(scores, training=False)
        if class_index is None:
            class_index = int(tf.argmax(scores[0]))
        if not 0 <= int(class_index) < scores.shape[-1]:
            raise ValueError(f"class_index {class_index} outside 0..{scores.shape[-1] - 1}")
        target = scores[0, int(class_index)]
    gradients = tape.gradient(target, features)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[0]
    cam = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).astype(np.float32), int(class_index), x.numpy()[0]


def explain(
    task,
    image: Any,
    path: str | os.PathLike | None = None,
    class_index: int | str | None = None,
    alpha: float = 0.4,
) -> dict[str, Any]:
    """Grad-CAM for one image: ``heatmap``, the ``class`` explained and its ``score``; with
    ``path`` an overlay PNG (windowed grey image + jet heatmap) is written there."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import colormaps
    from PIL import Image

    heatmap, index, model_input = grad_cam(task, image, class_index)
    score = float(task.probabilities(model_input[None])[0, index])
    result = {"heatmap": heatmap, "class": task.classes[index], "score": score}
    if path is not None:
        c = task.config
        grey = model_input[..., 0]
        if c.window is not None:
            from health.windowing import apply_window

            grey = apply_window(grey, c.window)
        else:
            grey = (grey - grey.min()) / max(float(np.ptp(grey)), 1e-6)
        colour = colormaps["jet"](heatmap)[..., :3]
        overlay = (1 - alpha) * np.repeat(grey[..., None], 3, -1) + alpha * colour
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(overlay, 0, 1) * 255).astype(np.uint8)).save(path)
        result["path"] = path
    return result
