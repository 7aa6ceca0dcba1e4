"""Natural-language processing tasks: classification, entities, translation and question answering.

Raw strings in, named results out; tokenisation (``nlp.tokenization``) uses core TF ops only,
so exported SavedModels take ``tf.string`` text and load in stock TensorFlow Serving. Names are
imported on first use, so ``import nlp`` stays light.
"""

from common.lazy import lazy_exports

_EXPORTS = {
    "EntityTagger": "nlp.ner.task",
    "pretrain_masked_lm": "nlp.pretraining.masked_lm",
    "QuestionAnswerer": "nlp.qa.task",
    "TextGenerator": "nlp.generation.task",
    "TextClassifier": "nlp.classification.task",
    "Translator": "nlp.translation.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
