"""Object detection: FCOS-style detector with in-graph NMS (``ObjectDetector``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "ObjectDetector": "vision.detection.task",
    "ObjectDetectorConfig": "vision.detection.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
