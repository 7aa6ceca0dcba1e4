"""Text classification: raw strings in, labels and scores out (``TextClassifier``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "TextClassifier": "nlp.classification.task",
    "TextClassifierConfig": "nlp.classification.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
