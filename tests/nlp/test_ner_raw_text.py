"""EntityTagger on raw text: CoNLL-style word split, tokens signature, scoring through the
export."""

from __future__ import annotations

import random

import pytest

from nlp.data import TaggedSentences
from nlp.ner.raw_text import detokenize, tags_from_entities
from tests.nlp.conftest import SMALL_TAGGER
from tests.nlp.parity import check_served_entities

PEOPLE = ["Jean-Luc Brassard", "Mr. O'Neil", "Anne-Marie Duval", "Mr. Smith", "Bob Lee"]
PLACES = ["AL-AIN", "U.S.", "Abu Dhabi", "Paris", "St. Louis"]
TEMPLATES = [
    "{PER} visited {LOC} on Monday .",
    "{PER} 's team beat {LOC} 1-0 .",
    "Shares rose 3.5 % in {LOC} , {PER} said .",
    "In {LOC} , {PER} paid 1,000 dollars .",
    "{PER} said n't much about {LOC} .",
]
RAW_TEXTS = [
    "Jean-Luc Brassard visited AL-AIN on Monday.",
    "Mr. O'Neil's team beat U.S. 1-0.",
    "Shares rose 3.5% in St. Louis, Anne-Marie Duval said.",
    "",
    "In Paris, Mr. Smith paid 1,000 dollars.",
]


def _sentences(n: int, seed: int) -> TaggedSentences:
    rng = random.Random(seed)
    tokens_out, tags_out = [], []
    for _ in range(n):
        tokens, tags = [], []
        for piece in rng.choice(TEMPLATES).split():
            if piece in ("{PER}", "{LOC}"):
                kind = piece[1:-1]
                words = rng.choice(PEOPLE if kind == "PER" else PLACES).split()
                tokens += words
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
            else:
                tokens.append(piece)
                tags.append("O")
        tokens_out.append(tokens)
        tags_out.append(tags)
    return TaggedSentences(tokens_out, tags_out)


@pytest.fixture(scope="module")
def raw_tagger():
    from nlp import EntityTagger

    tagger = EntityTagger(entity_types=["LOC", "PER"], min_word_count=1, **SMALL_TAGGER)
    tagger.fit(_sentences(240, seed=0), epochs=4, verbose=0)
    return tagger


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Jean-Luc Brassard", ["Jean-Luc", "Brassard"]),
        (
            "AL-AIN beat them 1-0 on 1996-08-30",
            ["AL-AIN", "beat", "them", "1-0", "on", "1996-08-30"],
        ),
        ("U.S. troops, e.g. here.", ["U.S.", "troops", ",", "e.g.", "here", "."]),
        (
            "Mr. O'Neil paid 3.5% of 1,000.",
            ["Mr.", "O'Neil", "paid", "3.5", "%", "of", "1,000", "."],
        ),
        (
            "Germany's John F. Kennedy didn't",
            ["Germany", "'s", "John", "F.", "Kennedy", "did", "n't"],
        ),
        (
            "Mrs. Lee -- AT&T, 1/2 ... (Reuters)",
            ["Mrs", ".", "Lee", "--", "AT&T", ",", "1/2", "...", "(", "Reuters", ")"],
        ),
        ("in U.S.. 1. Smith", ["in", "U.S.", ".", "1", ".", "Smith"]),
        ("1. Smith 4:08.22 .496 -5", ["1.", "Smith", "4:08.22", ".496", "-", "5"]),
        ("Mr.. end - start x-", ["Mr", "..", "end", "-", "start", "x", "-"]),
    ],
)
def test_conll_split_keeps_and_splits_as_documented(text, words):
    import tensorflow as tf

    from nlp.tokenization import BasicTokenizer

    splitter = BasicTokenizer(
        lowercase=False, strip_accents=False, split_style="conll", abbreviations=["Mr"]
    )
    out = splitter(tf.constant([text, "", text]))
    got = [w.decode() for w in out.words[0].numpy()]
    assert got == words
    assert out.words[1].numpy().tolist() == []
    assert [w.decode() for w in out.words[2].numpy()] == words
    for word, start, end in zip(got, out.starts[0].numpy(), out.ends[0].numpy(), strict=True):
        assert text[start:end] == word


def test_default_split_is_unchanged_by_the_option():
    import tensorflow as tf

    from nlp.tokenization import BasicTokenizer

    words = BasicTokenizer(lowercase=False, strip_accents=False)(tf.constant(["Jean-Luc's 3.5"]))
    assert [w.decode() for w in words.words[0].numpy()] == [
        "Jean", "-", "Luc", "'", "s", "3", ".", "5"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="split_style"):
        BasicTokenizer(split_style="spacy")


def test_detokenize_and_align_back():
    tokens = ["Germany", "'s", "Jean-Luc", "(", "Reuters", ")", "rose", "3.5", "%", "."]
    text, spans = detokenize(tokens)
    assert text == "Germany's Jean-Luc (Reuters) rose 3.5%."
    assert [text[a:b] for a, b in spans] == tokens
    entities = [
        {"start": 0, "end": 7, "label": "LOC"},
        {"start": 10, "end": 18, "label": "PER"},
        {"start": 20, "end": 24, "label": "ORG"},  # covers only part of "Reuters": no tag
    ]
    tags = tags_from_entities(spans, entities)
    assert tags == ["B-LOC", "O", "B-PER", "O", "O", "O", "O", "O", "O", "O"]


def test_min_word_count_is_a_config_field(raw_tagger):
    from nlp import EntityTagger

    assert raw_tagger.config.to_dict()["min_word_count"] == 1
    assert "brassard" in raw_tagger.word_vocabulary and "Mr" in raw_tagger.abbreviations
    with pytest.raises(ValueError, match="min_word_count"):
        EntityTagger(entity_types=["PER"], min_word_count=0)
    with pytest.raises(ValueError, match="split_style"):
        EntityTagger(entity_types=["PER"], split_style="whitespace")


def test_raw_text_entities_keep_hyphenated_and_punctuated_names(raw_tagger):
    found = raw_tagger.predict(RAW_TEXTS)
    pairs = [{(e["text"], e["label"]) for e in row} for row in found]
    assert ("Jean-Luc Brassard", "PER") in pairs[0] and ("AL-AIN", "LOC") in pairs[0]
    assert ("Mr. O'Neil", "PER") in pairs[1] and ("U.S.", "LOC") in pairs[1]
    assert ("Anne-Marie Duval", "PER") in pairs[2] and ("St. Louis", "LOC") in pairs[2]
    assert found[3] == []
    for text, row in zip(RAW_TEXTS, found, strict=True):
        for entity in row:
            assert text[entity["start"] : entity["end"]] == entity["text"]


def test_export_agrees_with_python_on_raw_names(raw_tagger, tmp_path):
    check_served_entities(raw_tagger, raw_tagger.export(tmp_path / "ner"), RAW_TEXTS)


def test_tokens_signature_equals_tagging_the_same_tokens(raw_tagger, tmp_path):
    import numpy as np
    import tensorflow as tf

    data = _sentences(12, seed=5)
    sentences = data.tokens + [["Bob", "Lee"] * 12]  # longer than max_words: the rest is "O"
    width = max(len(s) for s in sentences)
    padded = np.array([s + [""] * (width - len(s)) for s in sentences], dtype=object)
    served = tf.saved_model.load(str(raw_tagger.export(tmp_path / "ner"))).signatures["tokens"]
    out = served(tokens=tf.constant(padded))
    expected = raw_tagger.tag_tokens(sentences)
    tags = [[t.decode() for t in row if t] for row in out["tags"].numpy()]
    assert tags == expected
    first = sentences[0]
    names = {
        " ".join(first[a:b])
        for a, b in zip(out["entity_starts"][0].numpy(), out["entity_ends"][0].numpy(), strict=True)
        if a >= 0
    }
    texts = {t.decode() for t in out["entity_texts"][0].numpy() if t}
    assert names == texts and len(texts) == int(out["num_entities"][0])


def test_evaluate_through_export_scores_raw_sentences(raw_tagger, tmp_path):
    val = _sentences(40, seed=3)
    on_tokens = raw_tagger.evaluate(val)
    on_text = raw_tagger.evaluate(val, through="text")
    on_export = raw_tagger.evaluate(val, through="export")
    assert on_tokens["through"] == "tokens" and on_export["through"] == "export"
    assert on_export["f1"] == on_text["f1"]
    # the splitter reproduces these tokens exactly, so raw text scores what tokens score
    assert on_text["f1"] == pytest.approx(on_tokens["f1"], abs=1e-9)
    version = raw_tagger.export(tmp_path / "given")
    assert raw_tagger.evaluate(val, through="export", export_dir=version)["f1"] == on_export["f1"]
    with pytest.raises(ValueError, match="through"):
        raw_tagger.evaluate(val, through="server")
