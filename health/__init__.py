"""Medical imaging: DICOM / NIfTI in, diagnosis (``MedicalImageClassifier``) and segmentation
(``MedicalSegmenter``) out, with Grad-CAM (``explain``) and ``health.io`` for files.

The tasks are imported lazily, so ``import health.io`` stays light (no TensorFlow).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MedicalImageClassifier", "MedicalSegmenter", "explain"]


def __getattr__(name: str) -> Any:
    if name == "MedicalImageClassifier":
        from health.classification import MedicalImageClassifier

        return MedicalImageClassifier
    if name == "MedicalSegmenter":
        from health.segmentation import MedicalSegmenter

        return MedicalSegmenter
    if name == "explain":
        from health.gradcam import explain

        return explain
    raise AttributeError(f"module 'health' has no attribute {name!r}")
