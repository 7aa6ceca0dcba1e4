"""Extractive question answering on SQuAD-style data (``QuestionAnswerer``)."""

from nlp.qa.task import QuestionAnswerer, QuestionAnswererConfig

__all__ = ["QuestionAnswerer", "QuestionAnswererConfig"]
