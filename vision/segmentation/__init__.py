"""Semantic segmentation: U-Net / DeepLabV3+ (``ImageSegmenter``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "ImageSegmenter": "vision.segmentation.task",
    "ImageSegmenterConfig": "vision.segmentation.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
