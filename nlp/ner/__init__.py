"""Named-entity recognition: BiLSTM + character CNN + CRF tagger (``EntityTagger``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "EntityTagger": "nlp.ner.task",
    "EntityTaggerConfig": "nlp.ner.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
