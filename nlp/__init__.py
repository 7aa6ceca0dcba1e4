"""Natural-language processing tasks: text classification and named-entity recognition.

Raw strings in, named results out; tokenisation (``nlp.tokenization``) uses core TF ops only,
so exported SavedModels take ``tf.string`` text and load in stock TensorFlow Serving.
"""

from nlp.ner import EntityTagger
from nlp.text_classification import TextClassifier

__all__ = ["EntityTagger", "TextClassifier"]
