"""Image enhancement: ``ImageEnhancer`` (denoising, x2 / x4 super-resolution)."""

from vision.enhancement.task import ImageEnhancer, ImageEnhancerConfig

__all__ = ["ImageEnhancer", "ImageEnhancerConfig"]
