"""Computer vision tasks: image classification, object detection and semantic segmentation.

Names are imported on first use, so ``import vision`` and ``dlsuite vision --help`` stay light.
"""

from common.lazy import lazy_exports

_EXPORTS = {
    "ImageClassifier": "vision.classification",
    "ImageClassifierConfig": "vision.classification",
    "DBNClassifier": "vision.dbn",
    "DBNClassifierConfig": "vision.dbn",
    "FaceRecognizer": "vision.faces.task",
    "FaceRecognizerConfig": "vision.faces.task",
    "FaceSet": "vision.faces.data",
    "load_face_folder": "vision.faces.data",
    "make_faces": "vision.faces.data",
    "load_digits": "vision.data",
    "load_image_folder": "vision.data",
    "load_tfds_images": "vision.data",
    "make_shapes": "vision.data",
    "pretrain_contrastive": "vision.pretraining.contrastive",
    "ObjectDetector": "vision.detection.task",
    "ObjectDetectorConfig": "vision.detection.task",
    "DetectionSet": "vision.detection.data",
    "load_coco": "vision.detection.data",
    "load_tfds_detection": "vision.detection.data",
    "load_voc": "vision.detection.data",
    "make_shape_scenes": "vision.detection.data",
    "draw_detections": "vision.draw",
    "overlay_mask": "vision.draw",
    "ImageSegmenter": "vision.segmentation.task",
    "ImageSegmenterConfig": "vision.segmentation.task",
    "SegmentationSet": "vision.segmentation.data",
    "load_mask_folder": "vision.segmentation.data",
    "load_tfds_segmentation": "vision.segmentation.data",
    "make_shape_masks": "vision.segmentation.data",
    "ImageGenerator": "vision.generation.task",
    "ImageGeneratorConfig": "vision.generation.task",
    "ImageEnhancer": "vision.enhancement.task",
    "ImageEnhancerConfig": "vision.enhancement.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
