"""Raw strings -> packed model inputs (``[CLS] pieces [SEP] [PAD]...``), in graph, export-safe."""

from __future__ import annotations

import tensorflow as tf

from nlp.tokenization import CLS, PAD, SEP, Encoding, WordPieceTokenizer


def truncate_texts(texts: tf.Tensor, max_chars: int) -> tf.Tensor:
    """Keep the first ``max_chars`` characters (serving guard against huge requests)."""
    return tf.strings.substr(texts, 0, max_chars, unit="UTF8_CHAR")


class TextPacker(tf.Module):
    """Tokenise with a ``WordPieceTokenizer`` and pack to fixed-length model inputs."""

    def __init__(self, tokenizer: WordPieceTokenizer, sequence_length: int, max_chars: int) -> None:
        super().__init__()
        if sequence_length < 3:
            raise ValueError(f"sequence_length must be at least 3, got {sequence_length}")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.max_chars = max_chars
        self.cls_id = tokenizer.special_token_id(CLS)
        self.sep_id = tokenizer.special_token_id(SEP)
        self.pad_id = tokenizer.special_token_id(PAD, default=0)

    def pack_ids(self, ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Ragged piece ids -> ``token_ids``, ``padding_mask``, ``segment_ids`` (int32 ``[B,
        L]``)."""
        ids = tf.cast(ids[:, : self.sequence_length - 2], tf.int32)
        batch = ids.nrows()
        cls = tf.fill([batch, 1], self.cls_id)
        sep = tf.fill([batch, 1], self.sep_id)
        packed = tf.concat([cls, ids, sep], axis=1)
        mask = tf.ones_like(packed)
        shape = [None, self.sequence_length]
        token_ids = packed.to_tensor(default_value=self.pad_id, shape=shape)
        padding_mask = mask.to_tensor(default_value=0, shape=shape)
        return {
            "token_ids": token_ids,
            "padding_mask": padding_mask,
            "segment_ids": tf.zeros_like(token_ids),
        }

    def encode(self, texts: tf.Tensor) -> tuple[dict[str, tf.Tensor], Encoding]:
        encoding = self.tokenizer.encode(truncate_texts(texts, self.max_chars))
        return self.pack_ids(encoding.ids), encoding

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.encode(texts)[0]
