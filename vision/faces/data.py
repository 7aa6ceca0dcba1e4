"""Face images: folder-per-person loaders (LFW, Olivetti / AT&T ORL layouts) and synthetic
faces generated in code for tests and demos (never a quality claim).

LFW unpacks to ``lfw/<First_Last>/<First_Last>_0001.jpg``; the AT&T (ORL) set that holds the
Olivetti faces to ``orl_faces/s<k>/<n>.pgm``. Both are one folder per person, so one loader
reads them; PIL decodes PGM, which TensorFlow's decoders do not.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".gif")


@dataclasses.dataclass
class FaceSet:
    """Face images (N, size, size, 3) uint8 and the person each shows."""

    images: np.ndarray
    names: list[str]

    @property
    def identities(self) -> list[str]:
        """The distinct names, sorted."""
        return sorted(set(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def select(self, identities: list[str] | set[str]) -> FaceSet:
        """The images of the given people only (e.g. a split by identity)."""
        keep = [i for i, name in enumerate(self.names) if name in set(identities)]
        return FaceSet(self.images[keep], [self.names[i] for i in keep])


def load_face_folder(root: str | os.PathLike, image_size: int = 64, min_images: int = 1) -> FaceSet:
    """Read ``root/<person>/<image>`` (LFW, ORL / Olivetti, any folder per person), resized to
    ``image_size`` squares; people with fewer than ``min_images`` images are left out."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"face folder not found: {root}")
    images, names = [], []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in person.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < min_images:
            continue
        for file in files:
            try:
                with Image.open(file) as image:
                    rgb = image.convert("RGB").resize(
                        (image_size, image_size), Image.Resampling.BILINEAR
                    )
            except (UnidentifiedImageError, OSError) as error:
                raise ValueError(f"cannot read face image {file}: {error}") from error
            images.append(np.asarray(rgb, np.uint8))
            names.append(person.name)
    if not images:
        raise ValueError(
            f"no face images in {root}: expected one folder per person holding "
            f"{', '.join(IMAGE_SUFFIXES)} files (at least {min_images} each)"
        )
    return FaceSet(np.stack(images), names)


def make_faces(
    identities: int = 10, per_identity: int = 8, image_size: int = 32, seed: int = 0
) -> FaceSet:
    """Synthetic cartoon faces: each identity fixes face shape, skin and hair colour, eye
    spacing and size, nose and mouth; each image varies position, scale, lighting and noise."""
    if identities < 1 or per_identity < 1 or image_size < 16:
        raise ValueError("make_faces needs identities >= 1, per_identity >= 1, image_size >= 16")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:image_size, 0:image_size] / image_size
    images, names = [], []
    for person in range(identities):
        shape = rng.uniform([0.28, 0.34], [0.4, 0.46])  # face half-width, half-height
        skin, hair = rng.uniform(90, 240, 3), rng.uniform(0, 160, 3)
        eyes = rng.uniform([0.1, 0.03, -0.16], [0.2, 0.07, -0.06])  # spacing, radius, height
        nose, mouth = rng.uniform(0.04, 0.14), rng.uniform([0.08, -0.3], [0.2, 0.3])
        hairline = rng.uniform(0.05, 0.3)
        for _ in range(per_identity):
            cy, cx = 0.5 + rng.normal(0, 0.03, 2)
            scale = rng.uniform(0.92, 1.08)
            y, x = (yy - cy) / scale, (xx - cx) / scale
            canvas = np.full((image_size, image_size, 3), rng.uniform(20, 80, 3))
            face = (x / shape[0]) ** 2 + (y / shape[1]) ** 2 <= 1
            canvas[face] = skin
            canvas[face & (y < -shape[1] * (1 - hairline))] = hair
            for side in (-1, 1):
                eye = (x - side * eyes[0]) ** 2 + (y - eyes[2]) ** 2 <= eyes[1] ** 2
                canvas[eye] = (20, 20, 40)
            canvas[(np.abs(x) < 0.02) & (y > 0) & (y < nose)] *= 0.7
            curve = mouth[1] * (x / max(mouth[0], 1e-3)) ** 2
            canvas[(np.abs(x) < mouth[0]) & (np.abs(y - 0.2 - 0.05 * curve) < 0.02)] = (150, 40, 50)
            canvas = canvas * rng.uniform(0.75, 1.2) + rng.normal(0, 8, canvas.shape)
            images.append(np.clip(canvas, 0, 255).astype(np.uint8))
            names.append(f"person_{person:02d}")
    return FaceSet(np.stack(images), names)
