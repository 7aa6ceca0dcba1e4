"""Computer vision tasks: image classification (detection and segmentation follow)."""

from vision.classification import ImageClassifier, ImageClassifierConfig
from vision.data import load_digits, load_image_folder, load_tfds_images, make_shapes

__all__ = [
    "ImageClassifier",
    "ImageClassifierConfig",
    "load_digits",
    "load_image_folder",
    "load_tfds_images",
    "make_shapes",
]
