"""Image generation: ``ImageGenerator`` (VAE, WGAN-GP, DDIM) and offline quality metrics."""

from vision.generation.task import ImageGenerator, ImageGeneratorConfig

__all__ = ["ImageGenerator", "ImageGeneratorConfig"]
