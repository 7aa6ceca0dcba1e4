"""The tiny digits classifier the training-machinery tests (resume, multi-worker) run."""

from __future__ import annotations

from typing import Any


def tiny_digit_classifier(batch_size: int) -> Any:
    """A 16 px, two-stage ``ImageClassifier`` for the digits, no augmentation, seed 0."""
    from vision import ImageClassifier, load_digits

    return ImageClassifier(
        classes=load_digits().class_names,
        image_size=16,
        widths=[8, 16],
        flip=None,
        augment=False,
        batch_size=batch_size,
        seed=0,
    )
