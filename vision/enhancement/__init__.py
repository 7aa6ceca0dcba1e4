"""Image enhancement: ``ImageEnhancer`` (denoising, x2 / x4 super-resolution)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "ImageEnhancer": "vision.enhancement.task",
    "ImageEnhancerConfig": "vision.enhancement.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
