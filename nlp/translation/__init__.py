"""Machine translation: Transformer encoder-decoder with in-graph decoding (``Translator``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "DECODING_METHODS": "nlp.translation.task",
    "Translator": "nlp.translation.task",
    "TranslatorConfig": "nlp.translation.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
