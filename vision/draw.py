"""Pictures of results: detections as labelled boxes, segmentation masks as colour overlays (PNG),
drawn on the image at its own size, with a legend band below naming each colour."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from vision.images import as_image_array

Colour = tuple[int, int, int]


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
    array = array[..., :3]
    if np.issubdtype(array.dtype, np.floating) and array.size and float(array.max()) <= 1.0:
        array = array * 255.0  # float images in [0, 1]
    return np.clip(array, 0, 255).astype(np.uint8)


def _png(picture: Any, path: str | os.PathLike | None) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    data = buffer.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def _font(picture: Any) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(11, round(min(picture.size) / 40)))


def _with_legend(picture: Any, entries: Sequence[tuple[str, Colour]]) -> Any:
    """The picture unchanged on top, a white band below with one colour swatch + name each."""
    from PIL import Image, ImageDraw

    if not entries:
        return picture
    font = _font(picture)
    measure = ImageDraw.Draw(picture)
    line = int(max(measure.textbbox((0, 0), name, font=font)[3] for name, _ in entries)) + 6
    swatch, gap = line - 6, line // 2
    rows: list[list[tuple[str, Colour, int]]] = [[]]
    x = gap
    for name, colour in entries:  # wrap entries into rows that fit the image width
        width = swatch + 4 + int(measure.textbbox((0, 0), name, font=font)[2]) + gap
        if x + width > picture.width and rows[-1]:
            rows.append([])
            x = gap
        rows[-1].append((name, colour, x))
        x += width
    band = Image.new("RGB", (picture.width, line * len(rows) + 6), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    for r, row in enumerate(rows):
        top = 3 + r * line
        for name, colour, left in row:
            draw.rectangle([left, top + 3, left + swatch, top + 3 + swatch], fill=colour)
            draw.text((left + swatch + 4, top + 1), name, fill=(0, 0, 0), font=font)
    out = Image.new("RGB", (picture.width, picture.height + band.height), (255, 255, 255))
    out.paste(picture, (0, 0))
    out.paste(band, (0, picture.height))
    return out


def _colour(values: Sequence[Any]) -> Colour:
    return int(values[0]), int(values[1]), int(values[2])


def _colour_table(names: Sequence[str]) -> dict[str, Colour]:
    return {name: _colour(c) for name, c in zip(names, palette(len(names)), strict=True)}


def draw_detections(
    image: Any,
    result: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    min_score: float = 0.0,
    width: int | None = None,
    class_names: Sequence[str] | None = None,
    legend: bool = True,
) -> bytes:
    """Draw ``ObjectDetector.predict`` output (pixel ``boxes``, ``labels``, ``scores``) on the
    image at its own size; returns the PNG bytes (also written to ``path`` when given).

    ``class_names`` fixes one colour per class across pictures (else colours follow the labels
    drawn); ``legend`` adds a band below naming each colour. Line width and text scale with the
    image unless ``width`` is given.
    """
    from PIL import Image, ImageDraw

    picture = Image.fromarray(_rgb(image))
    draw = ImageDraw.Draw(picture)
    font = _font(picture)
    width = int(width) if width else max(2, round(min(picture.size) / 200))
    boxes = np.asarray(result.get("boxes", np.zeros((0, 4))), np.float64).reshape(-1, 4)
    labels = [str(label) for label in result.get("labels", [""] * len(boxes))]
    scores = np.asarray(result.get("scores", np.ones(len(boxes))), np.float64)
    if not (len(boxes) == len(labels) == len(scores)):
        raise ValueError(
            f"result has {len(boxes)} boxes, {len(labels)} labels and {len(scores)} scores"
        )
    names = [str(n) for n in class_names] if class_names is not None else sorted(set(labels))
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ValueError(f"labels {unknown} are not in class_names {names}")
    colours = _colour_table(names)
    drawn: list[str] = []
    for (ymin, xmin, ymax, xmax), label, score in zip(boxes, labels, scores, strict=True):
        if score < min_score:
            continue
        colour = colours[label]
        drawn.append(label)
        draw.rectangle([xmin, ymin, xmax, ymax], outline=colour, width=width)
        text = f"{label} {score:.2f}"
        left, top, right, bottom = draw.textbbox((xmin, ymin), text, font=font)
        top_y = max(0.0, ymin - (bottom - top) - 2)
        draw.rectangle(
            [xmin, top_y, xmin + (right - left) + 4, top_y + (bottom - top) + 2], fill=colour
        )
        draw.text((xmin + 2, top_y - (top - ymin)), text, fill=(0, 0, 0), font=font)
    if legend:
        picture = _with_legend(picture, [(n, colours[n]) for n in names if n in drawn])
    return _png(picture, path)


def _mask_at(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The mask at the image's (H, W): nearest-neighbour resize when only the scale differs."""
    if mask.shape == size:
        return mask
    if mask.ndim != 2 or not mask.size:
        raise ValueError(f"mask size {mask.shape} differs from the image {size}")
    if abs(mask.shape[0] / mask.shape[1] - size[0] / size[1]) > 0.01 * size[0] / size[1]:
        raise ValueError(
            f"mask size {mask.shape} differs from the image {size} (and its aspect ratio)"
        )
    rows = np.minimum((np.arange(size[0]) * mask.shape[0]) // size[0], mask.shape[0] - 1)
    cols = np.minimum((np.arange(size[1]) * mask.shape[1]) // size[1], mask.shape[1] - 1)
    return mask[rows][:, cols]


def overlay_mask(
    image: Any,
    mask: Any,
    path: str | os.PathLike | None = None,
    alpha: float = 0.5,
    background: int | None = 0,
    class_names: Sequence[str] | None = None,
    legend: bool = True,
) -> bytes:
    """Blend a class-index mask over its image at the image's own size, one colour per class;
    class ``background`` stays uncoloured. Returns PNG bytes (also written to ``path``).

    A mask at another scale of the same picture (e.g. the model's input size) is resized with
    nearest neighbours. ``legend`` adds a band below naming the classes shown (``class_names``
    or ``class <k>``); with ``class_names`` colours are the same in every picture.
    """
    from PIL import Image

    picture = _rgb(image).astype(np.float32)
    mask = _mask_at(np.asarray(mask), picture.shape[:2])
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if mask.size and mask.min() < 0:
        raise ValueError(f"mask holds negative class indices ({int(mask.min())})")
    count = int(mask.max()) + 1 if mask.size else 1
    if class_names is not None:
        if count > len(class_names):
            raise ValueError(f"mask holds class {count - 1} but only {len(class_names)} names")
        count = len(class_names)
    colours = palette(count).astype(np.float32)
    blend = (1 - alpha) * picture + alpha * colours[mask]
    if background is not None:
        blend = np.where((mask == background)[..., None], picture, blend)
    result = Image.fromarray(np.clip(blend, 0, 255).astype(np.uint8))
    if legend:
        present = [int(k) for k in np.unique(mask) if background is None or k != background]
        names = [str(class_names[k]) if class_names else f"class {k}" for k in present]
        shown = [_colour(colours[k]) for k in present]
        result = _with_legend(result, list(zip(names, shown, strict=True)))
    return _png(result, path)


def sample_pictures(
    task: Any,
    examples: Any,
    draw: Callable[..., bytes],
    name: str,
    key: str | None = None,
    count: int = 4,
    **predict_options: Any,
) -> dict[str, Callable[[Path], bytes]]:
    """``{"<name>_<i>.png": picture}`` for an evaluation report: the first ``count`` images of
    ``examples`` (a tf.data.Dataset of ``{"image": ...}``) with ``task``'s predictions, drawn on
    call by ``draw(image, output, path, class_names=task.classes)`` (``draw_detections`` with
    whole results; ``overlay_mask`` with ``key="mask"``)."""
    images = [example["image"].numpy() for example in examples.take(count)]
    results = task.predict_batch(images, **predict_options)
    outputs = [result[key] for result in results] if key else results
    return {
        f"{name}_{i}.png": partial(draw, image, output, class_names=task.classes)
        for i, (image, output) in enumerate(zip(images, outputs, strict=True))
    }
