"""Named-entity recognition: BiLSTM + character CNN + CRF tagger (``EntityTagger``)."""

from nlp.ner.task import EntityTagger, EntityTaggerConfig

__all__ = ["EntityTagger", "EntityTaggerConfig"]
