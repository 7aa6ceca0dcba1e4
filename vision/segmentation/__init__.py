"""Semantic segmentation: U-Net / DeepLabV3+ (``ImageSegmenter``)."""

from vision.segmentation.task import ImageSegmenter, ImageSegmenterConfig

__all__ = ["ImageSegmenter", "ImageSegmenterConfig"]
