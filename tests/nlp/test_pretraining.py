"""Masked-language-model pretraining: BERT masking statistics, the preset folder it writes and the
text tasks fine-tuning it (save / load / fresh-process export parity)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import nlp
from nlp.pretraining.masked_lm import mask_generator
from nlp.text_encoding import TextPacker
from nlp.tokenization import WordPieceTokenizer, train_vocabulary
from tests.nlp.conftest import SMALL_TRANSFORMER
from tests.nlp.parity import serve_in_fresh_process

TINY_BERT = {"embed_dim": 32, "num_layers": 1, "num_heads": 2, "intermediate_dim": 64}


class MaskedAccuracy(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(float(logs["masked_accuracy"]))


@pytest.fixture(scope="module")
def pretrained(sentiment_data, tmp_path_factory):
    """(preset folder, masked-piece accuracy per epoch) from the unlabelled training texts."""
    accuracy = MaskedAccuracy()
    folder = nlp.pretrain_masked_lm(
        sentiment_data[0].texts,
        tmp_path_factory.mktemp("mlm") / "preset",
        vocabulary_size=200,
        sequence_length=24,
        epochs=5,
        batch_size=32,
        learning_rate=5e-3,
        callbacks=[accuracy],
        verbose=0,
        **TINY_BERT,
    )
    return folder, accuracy.values


def test_masking_follows_bert_statistics(sentiment_data):
    texts = sentiment_data[0].texts
    vocabulary = train_vocabulary(texts, vocabulary_size=200)
    packer = TextPacker(WordPieceTokenizer(vocabulary), sequence_length=24, max_chars=1000)
    inputs = packer(np.array(texts))
    masked = mask_generator(packer, len(vocabulary))(inputs["token_ids"])
    original = inputs["token_ids"].numpy()
    positions = masked["mask_positions"].numpy()
    weights = masked["mask_weights"].numpy().astype(bool)
    rows = np.repeat(np.arange(len(texts))[:, None], positions.shape[1], 1)
    chosen_original = original[rows[weights], positions[weights]]
    chosen_now = masked["token_ids"].numpy()[rows[weights], positions[weights]]
    selectable = (inputs["padding_mask"].numpy() == 1) & ~np.isin(
        original, [packer.cls_id, packer.sep_id, packer.pad_id]
    )
    assert weights.sum() / selectable.sum() == pytest.approx(0.15, abs=0.02)
    # Never [CLS], [SEP] or padding; mask_ids are the original pieces.
    assert not np.isin(chosen_original, [packer.cls_id, packer.sep_id, packer.pad_id]).any()
    np.testing.assert_array_equal(masked["mask_ids"].numpy()[weights], chosen_original)
    mask_id = vocabulary.index("[MASK]")
    assert np.mean(chosen_now == mask_id) == pytest.approx(0.8, abs=0.06)
    assert np.mean(chosen_now == chosen_original) == pytest.approx(0.1, abs=0.05)
    unchosen = np.ones_like(original, bool)
    unchosen[rows[weights], positions[weights]] = False
    np.testing.assert_array_equal(masked["token_ids"].numpy()[unchosen], original[unchosen])


def test_pretraining_learns_to_fill_masks(pretrained):
    _, accuracy = pretrained
    # Template sentences: masked pieces become predictable from their context (the first epoch,
    # mostly frequent-piece guessing, is the reference).
    assert max(accuracy[-2:]) > accuracy[0] + 0.1, accuracy


def backbone_of(model, backbone_class):
    """The model's one backbone layer, found by type: Keras numbers layer names per process
    ("bert_backbone_1" when another test built one first), so a name lookup is fragile."""
    (backbone,) = [layer for layer in model.layers if isinstance(layer, backbone_class)]
    return backbone


def test_text_tasks_fine_tune_the_pretrained_encoder(pretrained, sentiment_data, tmp_path):
    folder, _ = pretrained
    train, val = sentiment_data
    options = {k: SMALL_TRANSFORMER[k] for k in ("learning_rate", "batch_size")}
    classifier = nlp.TextClassifier(
        classes=train.class_names, preset=str(folder), sequence_length=24, **options
    )
    from keras_hub.models import BertBackbone

    encoder = backbone_of(classifier.model, BertBackbone)

    reference = BertBackbone.from_preset(str(folder))
    for mine, theirs in zip(encoder.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    classifier.fit(train, epochs=2, verbose=0)
    assert classifier.evaluate(val)["accuracy"] >= 0.8

    texts = val.texts[:3]
    expected = classifier.predict(texts)
    loaded = nlp.TextClassifier.load(classifier.save(tmp_path / "clf.keras"))
    np.testing.assert_allclose(
        loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-5
    )
    served, missing = serve_in_fresh_process(loaded.export(tmp_path / "export"), texts)
    assert missing == []
    for row, result in enumerate(expected):
        assert served["classes"][row][0] == result["label"]
        assert served["scores"][row][0] == pytest.approx(result["score"], abs=1e-4)

    # The other text tasks build on the same folder (its vocabulary and weights).
    tagger = nlp.EntityTagger(entity_types=["PER"], preset=str(folder), max_words=8)
    assert backbone_of(tagger.model, BertBackbone).count_params() == reference.count_params()
    reader = nlp.QuestionAnswerer(preset=str(folder), sequence_length=24)
    assert reader.model.count_params() > reference.count_params()


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        nlp.pretrain_masked_lm([], tmp_path / "a")
    with pytest.raises(ValueError, match="mask_rate"):
        nlp.pretrain_masked_lm(["a text"], tmp_path / "b", mask_rate=1.5)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        nlp.pretrain_masked_lm(["a text"], tmp_path / "c")
    with pytest.raises(ValueError, match="not a string|str"):
        nlp.pretrain_masked_lm(["a text", 3], tmp_path / "d")
