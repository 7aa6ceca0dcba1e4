"""Grad-CAM (Selvaraju et al., 2017) for ``MedicalImageClassifier`` (``health.explain``; the module
is not named explain so that the package attribute stays the function): which regions of the image
drove a score, as a heatmap and a PNG of it over the original image with a colour bar (clinicians
ask why); ``unique_output_paths`` names one PNG per input without overwriting anything."""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def _display_image(task, image: Any) -> np.ndarray:
    """The input at its own size, as grey (H, W) or RGB (H, W, 3) floats in [0, 1] for display."""
    from health import io as hio
    from health.volume import Volume

    if isinstance(image, (str, os.PathLike)):
        image = hio.read(image)
    array = np.asarray(image.array if isinstance(image, Volume) else image, np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    window = task.config.window
    if array.ndim == 2 and window is not None:
        from health.windowing import apply_window

        return apply_window(array, window)
    low, high = float(array.min()), float(array.max())
    array = (array - low) / max(high - low, 1e-6)
    return array[..., :3] if array.ndim == 3 else array


def plot_gradcam(
    image: np.ndarray,
    heatmap: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    alpha: float = 0.4,
) -> Path:
    """Heatmap (any size, values in [0, 1]) resized onto ``image`` at the image's own size, with a
    colour bar, written as a PNG; ``image`` is grey (H, W) or RGB (H, W, 3) in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.asarray(image, np.float32)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {image.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = image.shape[:2]
    heatmap = np.asarray(heatmap, np.float32)
    if heatmap.shape != (height, width):
        resized = tf.image.resize(heatmap[..., None], (height, width), method="bilinear")
        heatmap = np.clip(resized.numpy()[..., 0], 0.0, 1.0)
    scale = max(4.0 / max(height, width) * 100, 1.0)  # small images are drawn at least 4 inches
    figure_size = (width * scale / 100 + 1.4, height * scale / 100 + (0.5 if title else 0.2))
    fig, ax = plt.subplots(figsize=figure_size)
    try:
        ax.imshow(image, cmap=None if image.ndim == 3 else "gray", vmin=0.0, vmax=1.0)
        shown = ax.imshow(heatmap, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        colour_bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
        if colour_bar.solids is not None:
            colour_bar.solids.set_alpha(1.0)  # the bar in full colour, not the overlay's alpha
        colour_bar.set_label("Grad-CAM (relative importance)")
        ax.set_axis_off()
        if title:
            ax.set_title(title)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def explain(
    task,
    image: Any,
    path: str | os.PathLike | None = None,
    class_index: int | str | None = None,
    alpha: float = 0.4,
) -> dict[str, Any]:
    """Grad-CAM for one image: ``heatmap`` (model input size), the ``class`` explained and its
    ``score``; with ``path`` a PNG of the heatmap over the original image (its own size, windowed
    like the model sees it) with a colour bar is written there."""
    heatmap, index, model_input = grad_cam(task, image, class_index)
    score = float(task.probabilities(model_input[None])[0, index])
    result = {"heatmap": heatmap, "class": task.classes[index], "score": score}
    if path is not None:
        title = f"{task.classes[index]} {score:.3f}"
        result["path"] = plot_gradcam(_display_image(task, image), heatmap, path, title, alpha)
    return result


_DOUBLE_SUFFIXES = (".nii.gz", ".tar.gz")


def _stem(source: Any, index: int) -> str:
    if not isinstance(source, (str, os.PathLike)):
        return f"input_{index}"
    name = Path(source).name
    for double in _DOUBLE_SUFFIXES:
        if name.lower().endswith(double):
            return name[: -len(double)] or f"input_{index}"
    return Path(name).stem or f"input_{index}"


def unique_output_paths(
    inputs: Sequence[Any], suffix: str, out_dir: str | os.PathLike
) -> list[Path]:
    """One distinct output path in ``out_dir`` per input, none of them an existing file.

    The name is the input's stem plus ``suffix`` (``image.nii.gz`` -> ``image_gradcam.png``);
    when stems collide, parent folders are prefixed until the names differ
    (``case_000_image_gradcam.png``). A name whose file already exists gets ``-1``, ``-2``, ...
    before the extension, so earlier results are never overwritten. Non-path inputs (arrays)
    are named ``input_<i>``.
    """
    if not suffix or "/" in suffix or os.sep in suffix:
        raise ValueError(f"suffix must be a non-empty file-name ending, got {suffix!r}")
    out_dir = Path(out_dir)
    stems = [_stem(source, i) for i, source in enumerate(inputs)]
    parents = [
        list(reversed(Path(source).resolve().parent.parts[1:]))
        if isinstance(source, (str, os.PathLike))
        else []
        for source in inputs
    ]
    depth = [0] * len(stems)

    def name(i: int) -> str:
        return "_".join([*reversed(parents[i][: depth[i]]), stems[i]])

    while True:
        groups: dict[str, list[int]] = {}
        for i in range(len(stems)):
            groups.setdefault(name(i), []).append(i)
        deeper = [
            i
            for members in groups.values()
            if len(members) > 1 and len({tuple(parents[m]) for m in members}) > 1
            for i in members
            if depth[i] < len(parents[i])
        ]
        if not deeper:
            break
        for i in deeper:
            depth[i] += 1

    extension = Path(suffix).suffix
    body = suffix[: len(suffix) - len(extension)]
    taken: set[str] = set()
    paths = []
    for i in range(len(stems)):
        candidate, counter = f"{name(i)}{suffix}", 0
        while candidate in taken or (out_dir / candidate).exists():
            counter += 1
            candidate = f"{name(i)}{body}-{counter}{extension}"
        taken.add(candidate)
        paths.append(out_dir / candidate)
    return paths
