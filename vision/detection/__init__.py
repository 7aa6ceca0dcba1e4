"""Object detection: FCOS-style detector with in-graph NMS (``ObjectDetector``)."""

from vision.detection.task import ObjectDetector, ObjectDetectorConfig

__all__ = ["ObjectDetector", "ObjectDetectorConfig"]
