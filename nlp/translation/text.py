"""Translation text in and out of the graph: case-preserving WordPiece ids with [BOS]/[EOS], and
back.

Wraps the shared core-op ``nlp.tokenization.WordPieceTokenizer`` (``lowercase=False``,
``strip_accents=False``: translation must keep case and accents) and adds what seq2seq needs:
end tokens on the source, ``[BOS] y`` / ``y [EOS]`` decoder inputs and labels, and a readable
detokenisation (no space before ``.,!?;:)``, none around word-internal ``-``/``'``) so sacrebleu
scores text that looks like the references.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from nlp.text_encoding import truncate_texts
from nlp.tokenization import PAD, UNK, WordPieceTokenizer, train_vocabulary

BOS, EOS = "[BOS]", "[EOS]"
TRANSLATION_SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
_LETTER = r"[\p{L}\p{N}]"
_DETOKENIZE_RULES = (
    (r" ([.,!?;:%)\]}])", r"\1"),  # no space before closing punctuation
    (r"([(\[{]) ", r"\1"),  # none after opening brackets
    (rf"({_LETTER}) ([-'’/]) ({_LETTER})", r"\1\2\3"),  # T - Shirt -> T-Shirt, man ' s -> man's
)


def train_translation_vocabulary(
    texts: Sequence[str], vocabulary_size: int, sample: int = 50000
) -> list[str]:
    """Case-preserving WordPiece vocabulary (``[PAD] [UNK] [BOS] [EOS]`` first) from up to
    ``sample`` texts."""
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("cannot train a vocabulary: no non-empty sentences")
    step = max(1, len(texts) // max(sample, 1))
    return train_vocabulary(
        texts[::step],
        vocabulary_size,
        lowercase=False,
        strip_accents=False,
        special_tokens=TRANSLATION_SPECIAL_TOKENS,
    )


class TranslationText(tf.Module):
    """Source/target tokenisers plus packing and readable detokenisation (export-safe)."""

    def __init__(
        self,
        source_vocabulary: Sequence[str],
        target_vocabulary: Sequence[str],
        max_source_length: int,
        max_target_length: int,
        max_chars: int,
        lowercase: bool = False,
    ) -> None:
        super().__init__()
        self.source = WordPieceTokenizer(
            source_vocabulary, lowercase=lowercase, strip_accents=lowercase
        )
        same = list(source_vocabulary) == list(target_vocabulary)
        self.target = (
            self.source
            if same
            else WordPieceTokenizer(target_vocabulary, lowercase=lowercase, strip_accents=lowercase)
        )
        for tokenizer, side in ((self.source, "source"), (self.target, "target")):
            for token in TRANSLATION_SPECIAL_TOKENS:
                if token not in tokenizer.vocabulary:
                    raise ValueError(f"the {side} vocabulary has no {token} token")
        self.max_source_length, self.max_target_length = max_source_length, max_target_length
        self.max_chars = max_chars
        self.pad_id = self.target.token_to_id(PAD)
        self.bos_id = self.target.token_to_id(BOS)
        self.eos_id = self.target.token_to_id(EOS)
        self.source_eos_id = self.source.token_to_id(EOS)
        self.source_pad_id = self.source.token_to_id(PAD)

    @property
    def source_vocabulary_size(self) -> int:
        return self.source.vocabulary_size()

    @property
    def target_vocabulary_size(self) -> int:
        return self.target.vocabulary_size()

    def source_ids(self, texts: tf.Tensor) -> tf.Tensor:
        """Texts ``[B]`` -> ``[B, S]`` int32: pieces (cut to fit) + ``[EOS]``, right-padded with 0.

        Text is first cut to ``max_chars`` characters, so huge requests stay cheap.
        """
        ids = self.source.tokenize(
            truncate_texts(tf.convert_to_tensor(texts, tf.string), self.max_chars)
        )
        ids = tf.cast(ids[:, : self.max_source_length - 1], tf.int32)
        eos = tf.fill(tf.stack([ids.nrows(), 1]), self.source_eos_id)
        return tf.concat([ids, eos], axis=1).to_tensor(default_value=self.source_pad_id)

    def target_pairs(self, texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Texts ``[B]`` -> decoder inputs ``[BOS] y`` and labels ``y [EOS]`` (``[B, T]``,
        0-padded)."""
        ids = self.target.tokenize(
            truncate_texts(tf.convert_to_tensor(texts, tf.string), self.max_chars)
        )
        ids = tf.cast(ids[:, : self.max_target_length - 1], tf.int32)
        rows = tf.stack([ids.nrows(), 1])
        inputs = tf.concat([tf.fill(rows, self.bos_id), ids], axis=1)
        labels = tf.concat([ids, tf.fill(rows, self.eos_id)], axis=1)
        return inputs.to_tensor(default_value=self.pad_id), labels.to_tensor(
            default_value=self.pad_id
        )

    def detokenize(self, ids: tf.Tensor) -> tf.Tensor:
        """Target ids ``[B, T]`` -> readable strings ``[B]`` (specials dropped, ``##`` glued)."""
        text = self.target.detokenize(tf.cast(ids, tf.int64))
        for pattern, rewrite in _DETOKENIZE_RULES:
            for _ in range(2):  # a second pass catches overlapping matches such as a - b - c
                text = tf.strings.regex_replace(text, pattern, rewrite)
        return text
