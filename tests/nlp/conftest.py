"""Small NLP models trained once per session on the built-in synthetic sets."""

from __future__ import annotations

import pytest

from tests.conftest import trained_on

#: The small from-scratch transformer the text-classification tests train (fast on CPU).
SMALL_TRANSFORMER = {
    "embed_dim": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_dim": 64,
    "learning_rate": 5e-3,
    "batch_size": 16,
}

#: The small BiLSTM-CNN-CRF tagger the NER tests train (fast on CPU).
SMALL_TAGGER = {
    "max_words": 20,
    "word_dim": 32,
    "char_dim": 16,
    "char_filters": 32,
    "lstm_units": 32,
    "learning_rate": 1e-2,
    "batch_size": 16,
}


@pytest.fixture(scope="session")
def sentiment_data():
    from nlp.data import make_sentiment

    return make_sentiment(320, seed=0), make_sentiment(80, seed=1)


@pytest.fixture(scope="session")
def trained_classifier(sentiment_data):
    from nlp import TextClassifier

    train, val = sentiment_data
    options = {"vocabulary_size": 200, "sequence_length": 20, **SMALL_TRANSFORMER}
    return trained_on(train, TextClassifier, 4, **options)


@pytest.fixture(scope="session")
def ner_data():
    from nlp.data import make_ner

    return make_ner(320, seed=0), make_ner(80, seed=1)


@pytest.fixture(scope="session")
def trained_tagger(ner_data):
    from nlp import EntityTagger

    train, _ = ner_data
    tagger = EntityTagger(entity_types=train.entity_types, **SMALL_TAGGER)
    tagger.fit(train, epochs=5, verbose=0)
    return tagger


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory, sentiment_data, ner_data):
    """A 1-layer random BertBackbone saved as a local keras-hub preset (exercises the pretrained
    path)."""
    import keras_hub

    from nlp.tokenization import train_vocabulary

    texts = sentiment_data[0].texts + [" ".join(t) for t in ner_data[0].tokens]
    vocabulary = train_vocabulary(texts, vocabulary_size=300)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=64,
    )
    folder = tmp_path_factory.mktemp("tiny_bert")
    backbone.save_to_preset(str(folder))
    (folder / "assets" / "tokenizer").mkdir(parents=True, exist_ok=True)
    (folder / "assets" / "tokenizer" / "vocabulary.txt").write_text(
        "\n".join(vocabulary) + "\n", encoding="utf-8"
    )
    return str(folder)


@pytest.fixture(params=["tiny", "minilm"])
def pretrained_preset(request, tiny_preset):
    """Each pretrained backbone the export parity tests cover: the tiny random BERT, and the real
    MiniLM where it is installed and slow tests are on (``minilm_or_skip``)."""
    from tests.nlp.parity import minilm_or_skip

    return tiny_preset if request.param == "tiny" else minilm_or_skip()
