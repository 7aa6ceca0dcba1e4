"""Extractive question answering on SQuAD-style data (``QuestionAnswerer``)."""

from common.lazy import lazy_exports

_EXPORTS = {
    "QuestionAnswerer": "nlp.qa.task",
    "QuestionAnswererConfig": "nlp.qa.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
