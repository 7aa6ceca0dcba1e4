"""Machine translation: Transformer encoder-decoder with in-graph decoding (``Translator``)."""

from nlp.translation.task import DECODING_METHODS, Translator, TranslatorConfig

__all__ = ["DECODING_METHODS", "Translator", "TranslatorConfig"]
