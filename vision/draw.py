"""Pictures of results: detections as labelled boxes, segmentation masks as colour overlays (PNG)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vision.images import as_image_array


def palette(count: int) -> np.ndarray:
    """``count`` well-separated RGB colours (golden-angle hues), uint8 (count, 3)."""
    import colorsys

    hues = (np.arange(count) * 0.618033988749895) % 1.0
    colours = np.array([colorsys.hsv_to_rgb(h, 0.85, 1.0) for h in hues]).reshape(-1, 3)
    return (colours * 255).astype(np.uint8)


def _rgb(image: Any) -> np.ndarray:
    array = as_image_array(image)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.clip(array[..., :3], 0, 255).astype(np.uint8)


def _png(picture: Any, path: str | os.PathLike | None) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    data = buffer.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def draw_detections(
    image: Any,
    result: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    min_score: float = 0.0,
    width: int = 2,
) -> bytes:
    """Draw ``ObjectDetector.predict`` output (pixel ``boxes``, ``labels``, ``scores``) on the
    image; returns the PNG bytes (also written to ``path`` when given)."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(_rgb(image))
    draw = ImageDraw.Draw(picture)
    boxes = np.asarray(result.get("boxes", np.zeros((0, 4))), np.float64).reshape(-1, 4)
    labels = list(result.get("labels", [""] * len(boxes)))
    scores = np.asarray(result.get("scores", np.ones(len(boxes))), np.float64)
    if not (len(boxes) == len(labels) == len(scores)):
        raise ValueError(
            f"result has {len(boxes)} boxes, {len(labels)} labels and {len(scores)} scores"
        )
    names = sorted(set(map(str, labels)))
    colours = {
        name: tuple(int(v) for v in c) for name, c in zip(names, palette(len(names)), strict=True)
    }
    for (ymin, xmin, ymax, xmax), label, score in zip(boxes, labels, scores, strict=True):
        if score < min_score:
            continue
        colour = colours[str(label)]
        draw.rectangle([xmin, ymin, xmax, ymax], outline=colour, width=width)
        text = f"{label} {score:.2f}"
        left, top, right, bottom = draw.textbbox((xmin, ymin), text)
        top_y = max(0.0, ymin - (bottom - top) - 2)
        draw.rectangle(
            [xmin, top_y, xmin + (right - left) + 4, top_y + (bottom - top) + 2], fill=colour
        )
        draw.text((xmin + 2, top_y), text, fill=(0, 0, 0))
    return _png(picture, path)


def overlay_mask(
    image: Any,
    mask: Any,
    path: str | os.PathLike | None = None,
    alpha: float = 0.5,
    background: int | None = 0,
) -> bytes:
    """Blend a class-index mask (H, W) over its image in one colour per class; class
    ``background`` stays uncoloured. Returns PNG bytes (also written to ``path`` when given)."""
    from PIL import Image

    picture = _rgb(image).astype(np.float32)
    mask = np.asarray(mask)
    if mask.shape != picture.shape[:2]:
        raise ValueError(f"mask size {mask.shape} differs from the image {picture.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colours = palette(int(mask.max()) + 1 if mask.size else 1).astype(np.float32)
    coloured = colours[np.clip(mask, 0, None)]
    blend = (1 - alpha) * picture + alpha * coloured
    if background is not None:
        blend = np.where((mask == background)[..., None], picture, blend)
    return _png(Image.fromarray(np.clip(blend, 0, 255).astype(np.uint8)), path)
