"""Tokenisation that can live inside exported graphs: BERT basic split + WordPiece in core TF
ops."""

from nlp.tokenization.basic import BasicTokenizer, Words
from nlp.tokenization.wordpiece import (
    CLS,
    MASK,
    PAD,
    SEP,
    SPECIAL_TOKENS,
    UNK,
    Encoding,
    WordPieceTokenizer,
    load_vocabulary,
)

__all__ = [
    "BasicTokenizer",
    "CLS",
    "Encoding",
    "MASK",
    "PAD",
    "SEP",
    "SPECIAL_TOKENS",
    "UNK",
    "WordPieceTokenizer",
    "Words",
    "load_vocabulary",
]

from nlp.tokenization.training import train_tokenizer, train_vocabulary  # noqa: E402
from nlp.tokenization.vectorization import char_vectorizer, word_vectorizer  # noqa: E402

__all__ += ["char_vectorizer", "train_tokenizer", "train_vocabulary", "word_vectorizer"]
