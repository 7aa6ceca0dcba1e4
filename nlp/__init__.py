"""Natural-language processing tasks: classification, entities, translation and question answering.

Raw strings in, named results out; tokenisation (``nlp.tokenization``) uses core TF ops only,
so exported SavedModels take ``tf.string`` text and load in stock TensorFlow Serving.
"""

from nlp.classification.task import TextClassifier
from nlp.ner import EntityTagger
from nlp.qa.task import QuestionAnswerer
from nlp.translation import Translator

__all__ = ["EntityTagger", "QuestionAnswerer", "TextClassifier", "Translator"]
