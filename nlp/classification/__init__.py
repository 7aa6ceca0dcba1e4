"""Text classification: raw strings in, labels and scores out (``TextClassifier``)."""

from nlp.classification.task import TextClassifier, TextClassifierConfig

__all__ = ["TextClassifier", "TextClassifierConfig"]
