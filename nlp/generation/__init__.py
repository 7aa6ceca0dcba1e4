"""Language modelling and text generation: a decoder-only transformer (``TextGenerator``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "TextGenerator": "nlp.generation.task",
    "TextGeneratorConfig": "nlp.generation.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
