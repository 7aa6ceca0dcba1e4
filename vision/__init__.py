"""Computer vision tasks: image classification, object detection and semantic segmentation."""

from vision.classification import ImageClassifier, ImageClassifierConfig
from vision.data import load_digits, load_image_folder, load_tfds_images, make_shapes
from vision.detection import ObjectDetector, ObjectDetectorConfig
from vision.detection.data import (
    DetectionSet,
    load_coco,
    load_tfds_detection,
    load_voc,
    make_shape_scenes,
)
from vision.draw import draw_detections, overlay_mask
from vision.segmentation import ImageSegmenter, ImageSegmenterConfig
from vision.segmentation.data import (
    SegmentationSet,
    load_mask_folder,
    load_tfds_segmentation,
    make_shape_masks,
)

__all__ = [
    "DetectionSet",
    "ImageClassifier",
    "ImageClassifierConfig",
    "ImageSegmenter",
    "ImageSegmenterConfig",
    "ObjectDetector",
    "ObjectDetectorConfig",
    "SegmentationSet",
    "draw_detections",
    "load_coco",
    "load_digits",
    "load_image_folder",
    "load_mask_folder",
    "load_tfds_detection",
    "load_tfds_images",
    "load_tfds_segmentation",
    "load_voc",
    "make_shape_masks",
    "make_shape_scenes",
    "make_shapes",
    "overlay_mask",
]
