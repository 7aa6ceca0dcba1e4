"""``nlp.pretrain_masked_lm``: a small BERT encoder pretrained on unlabelled texts.

The same recipe as BERT (Devlin et al., 2019) at the size of the tasks' from-scratch encoder: a
WordPiece vocabulary learned from the texts, keras-hub's ``MaskedLMMaskGenerator`` (15 % of the
pieces chosen; 80 % of those become [MASK], 10 % a random piece, 10 % stay) and ``BertMaskedLM``
(a ``BertBackbone`` plus ``MaskedLMHead`` tied to the token embedding). The result is written as
a local keras-hub preset folder, the form every text task already takes as ``preset=``:
``TextClassifier`` / ``EntityTagger`` / ``QuestionAnswerer(preset=folder)`` fine-tune it and keep
its weights in their saved files and exports. Tokenisation is the core-op ``TextPacker``, the
same the tasks use, so pretraining and fine-tuning see identical pieces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from nlp.inputs import validate_texts
from nlp.text_encoding import TextPacker
from nlp.tokenization import WordPieceTokenizer, train_vocabulary
from nlp.tokenization.wordpiece import MASK


def mask_generator(packer: TextPacker, vocabulary_size: int, mask_rate: float = 0.15) -> Any:
    """keras-hub's BERT masking over packed ids; [PAD], [CLS] and [SEP] are never chosen."""
    import keras_hub

    return keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=vocabulary_size,
        mask_selection_rate=mask_rate,
        mask_token_id=packer.tokenizer.special_token_id(MASK),
        mask_selection_length=max(1, round(packer.sequence_length * mask_rate * 2)),
        unselectable_token_ids=[packer.pad_id, packer.cls_id, packer.sep_id],
    )


def masked_lm_dataset(
    texts: list[str], packer: TextPacker, masker: Any, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Batches of ``(BertMaskedLM inputs, masked-out ids, mask weights)``, freshly masked each
    epoch."""

    def mask(inputs: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        masked = masker(inputs["token_ids"])
        features = {**inputs, "token_ids": masked["token_ids"]}
        features["mask_positions"] = masked["mask_positions"]
        return features, masked["mask_ids"], masked["mask_weights"]

    packed = (
        tf.data.Dataset.from_tensor_slices(texts)
        .batch(512)
        .map(packer, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .cache()
    )
    return (
        packed.shuffle(min(len(texts), 50000), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(mask, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def pretrain_masked_lm(
    texts: Sequence[str],
    output_dir: str | os.PathLike,
    *,
    vocabulary_size: int = 8000,
    lowercase: bool = True,
    sequence_length: int = 64,
    embed_dim: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_dim: int = 128,
    dropout: float = 0.1,
    mask_rate: float = 0.15,
    epochs: int = 3,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
) -> Path:
    """Pretrain a BERT encoder with masked language modelling on ``texts`` (no labels) and write
    it as a keras-hub preset folder (``output_dir``, which must not hold files yet); returns the
    folder, to pass as ``preset=`` to a text task (set its ``sequence_length`` <= this one)."""
    import keras_hub

    texts, _ = validate_texts(list(texts), max_chars=100000)
    if not 0 < mask_rate < 1:
        raise ValueError(f"mask_rate must be in (0, 1), got {mask_rate}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    folder = Path(output_dir)
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty: give a new folder for the preset")
    keras.utils.set_random_seed(seed)
    step = max(1, len(texts) // 20000)
    vocabulary = train_vocabulary(texts[::step], vocabulary_size, lowercase, lowercase)
    tokenizer = WordPieceTokenizer(vocabulary, lowercase=lowercase, strip_accents=lowercase)
    packer = TextPacker(tokenizer, sequence_length, max_chars=100000)
    masker = mask_generator(packer, len(vocabulary), mask_rate)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=embed_dim,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        max_sequence_length=sequence_length,
    )
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    dataset = masked_lm_dataset(texts, packer, masker, batch_size, seed)
    steps = -(-len(texts) // batch_size) * epochs
    model.compile(
        optimizer=keras.optimizers.AdamW(
            keras.optimizers.schedules.CosineDecay(
                0.0, steps, alpha=0.01, warmup_target=learning_rate, warmup_steps=steps // 20
            ),
            weight_decay=0.01,
            clipnorm=1.0,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="masked_accuracy")],
    )
    model.fit(dataset, epochs=epochs, callbacks=list(callbacks), verbose=verbose)
    folder.mkdir(parents=True, exist_ok=True)
    backbone.save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase).save_to_preset(
        str(folder)
    )
    return folder
