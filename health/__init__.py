"""Medical imaging: DICOM / NIfTI in, diagnosis (``MedicalImageClassifier``) and segmentation
(``MedicalSegmenter``) out, with Grad-CAM (``explain``) and ``health.io`` for files.

The public names are imported lazily, so ``import health.io`` stays light (no TensorFlow);
``dir(health)`` still lists them.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it (imported on first access).
_LAZY = {
    "MedicalImageClassifier": "health.classification",
    "MedicalImageClassifierConfig": "health.classification",
    "MedicalSegmenter": "health.segmentation",
    "MedicalSegmenterConfig": "health.segmentation",
    "explain": "health.gradcam",
    "grad_cam": "health.gradcam",
    "unique_output_paths": "health.gradcam",
    "load_case_folder": "health.data",
    "load_tfds_medical": "health.tfds_sets",
    "make_phantoms": "health.phantoms",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'health' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
