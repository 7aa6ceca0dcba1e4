"""Image generation: ``ImageGenerator`` (VAE, WGAN-GP, DDIM) and offline quality metrics."""

from common.lazy import lazy_exports

_EXPORTS = {
    "ImageGenerator": "vision.generation.task",
    "ImageGeneratorConfig": "vision.generation.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
