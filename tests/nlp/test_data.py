"""Readers (CSV/TSV, folders, any TFDS text set, CoNLL with scheme conversion), synthetic sets."""

from __future__ import annotations

import gzip

import pytest

from nlp.data import (
    detect_scheme,
    load_text_csv,
    load_text_folder,
    load_tfds_text,
    make_ner,
    make_sentiment,
    make_topics,
    read_conll,
    to_iob2,
)


def test_csv_tsv_and_gzip(tmp_path):
    (tmp_path / "a.csv").write_text('body,tag\n"hello, world",greeting\nbye,farewell\n')
    data = load_text_csv(tmp_path / "a.csv", text_column="body", label_column="tag")
    assert data.texts == ["hello, world", "bye"] and data.class_names == ["farewell", "greeting"]
    with gzip.open(tmp_path / "b.tsv.gz", "wt") as handle:
        handle.write('label\tsentence\n1\tit\'s "great"\n0\tbad\n')
    data = load_text_csv(tmp_path / "b.tsv.gz", text_column="sentence")
    assert data.texts[0] == 'it\'s "great"' and data.labels == ["1", "0"]
    (tmp_path / "m.csv").write_text("text,label\nx,a|b\ny,b\n")
    assert load_text_csv(tmp_path / "m.csv", label_separator="|").labels == [["a", "b"], ["b"]]
    with pytest.raises(ValueError, match="no column 'text'"):
        load_text_csv(tmp_path / "a.csv")
    with pytest.raises(ValueError, match="no such file"):
        load_text_csv(tmp_path / "missing.csv")


def test_folder_per_class(tmp_path):
    for name in ("neg", "pos"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.txt").write_text(f"a {name} text")
    data = load_text_folder(tmp_path)
    assert data.labels == ["neg", "pos"] and data.class_names == ["neg", "pos"]
    with pytest.raises(ValueError, match="at least two class"):
        load_text_folder(tmp_path / "neg")


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP B-NP I-PER
"""


def test_conll_iob1_converted_to_iob2(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL)
    data = read_conll(path)
    assert data.tokens[0] == ["EU", "rejects", "German", "call", "."]
    assert data.tags == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]]
    assert data.entity_types == ["MISC", "ORG", "PER"]


def test_scheme_detection_and_conversion():
    assert detect_scheme([["B-PER", "I-PER", "O"]]) == "iob2"
    assert detect_scheme([["I-PER", "I-PER", "B-PER"]]) == "iob1"
    assert detect_scheme([["S-LOC", "B-PER", "E-PER"]]) == "bioes"
    assert to_iob2(["S-LOC", "B-PER", "I-PER", "E-PER"], "bioes") == [
        "B-LOC",
        "B-PER",
        "I-PER",
        "I-PER",
    ]
    assert to_iob2(["I-PER", "B-PER", "I-LOC"], "iob1") == ["B-PER", "B-PER", "B-LOC"]


def test_malformed_conll_names_the_line():
    with pytest.raises(ValueError, match="line 3: expected a token and a tag"):
        read_conll(["Bob B-PER", "", "oops"])
    with pytest.raises(ValueError, match="line 2: 'X-PER' is not"):
        read_conll(["Bob B-PER", "Smith X-PER"])
    with pytest.raises(ValueError, match="holds no sentences"):
        read_conll(["", "-DOCSTART- O"])


def test_synthetic_sets_are_deterministic_and_balanced():
    a, b = make_sentiment(50, seed=3), make_sentiment(50, seed=3)
    assert a.texts == b.texts and a.labels.count("positive") == 25
    topics = make_topics(40, multi_label=True)
    assert all(isinstance(labels, list) and labels for labels in topics.labels)
    ner = make_ner(30)
    assert all(len(t) == len(g) for t, g in zip(ner.tokens, ner.tags, strict=True))
    assert ner.entity_types == ["LOC", "ORG", "PER"]


def test_length_bucketed_batches_keep_every_example_and_trim_padding():
    import numpy as np
    import tensorflow as tf

    from nlp.inputs import length_bucketed_batches, trim_to_longest

    lengths = np.array([3, 9, 4, 20, 5, 30, 2, 11, 7, 25])
    mask = (np.arange(32)[None, :] < lengths[:, None]).astype(np.int32)
    features = {
        "token_ids": mask * 7,
        "padding_mask": mask,
        "segment_ids": 0 * mask,
        "word_index": mask[:, :5],
    }
    dataset = tf.data.Dataset.from_tensor_slices((features, np.arange(10)))
    seen = []
    for x, y in length_bucketed_batches(dataset, batch_size=3, boundaries=(8, 16)):
        longest = int(tf.reduce_max(tf.reduce_sum(x["padding_mask"], axis=1)))
        assert (
            x["token_ids"].shape[1] == x["padding_mask"].shape[1] == longest
        )  # trimmed to the batch
        assert x["word_index"].shape[1] == 5  # non-piece inputs keep their width
        assert (
            len({int(np.searchsorted([8, 16], lengths[i], side="right")) for i in y.numpy()}) == 1
        )  # one bucket
        seen.extend(y.numpy().tolist())
    assert sorted(seen) == list(range(10))
    assert trim_to_longest({"token_ids": mask[:2], "padding_mask": mask[:2]})[
        "token_ids"
    ].shape == (2, 9)


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("yelp_polarity_reviews", ["1", "2"]),  # not one of the three sets read before
        ("glue/cola", ["unacceptable", "acceptable"]),
        ("imdb_reviews", ["negative", "positive"]),  # TFDS says neg / pos: names kept as before
        ("imdb_reviews/plain_text", ["negative", "positive"]),
        ("glue/sst2", ["negative", "positive"]),
    ],
)
def test_any_tfds_text_set_is_read(name, classes):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5):
        data = load_tfds_text(name, limit=4)
    assert data.class_names == classes and len(data) == len(data.labels) == 4
    assert set(data.labels) <= set(classes)
    assert all(isinstance(text, str) for text in data.texts)


def test_known_tfds_text_sets_keep_their_features_and_class_names():
    import tensorflow_datasets as tfds

    from common.data import tfds_text_examples

    with tfds.testing.mock_data(num_examples=6):
        texts, raw, raw_classes = tfds_text_examples("imdb_reviews")
        data = load_tfds_text("imdb_reviews")
        # ag_news_subset has two Text features (title, description): description, as before
        with pytest.raises(ValueError, match="several"):
            tfds_text_examples("ag_news_subset")
        news = load_tfds_text("ag_news_subset", split="test", limit=3)
        titles = load_tfds_text("ag_news_subset", split="test", limit=3, text_key="title")
        descriptions = tfds_text_examples("ag_news_subset", "test", text_key="description")[0]
        # a set with two Text features of its own needs text_key
        with pytest.raises(ValueError, match=r"several \(sentence1, sentence2\) text.*text_key"):
            load_tfds_text("glue/mrpc")
    assert raw_classes == ["neg", "pos"] and data.class_names == ["negative", "positive"]
    assert data.texts == texts
    assert data.labels == [{"neg": "negative", "pos": "positive"}[label] for label in raw]
    assert news.class_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert news.texts == descriptions[:3] and titles.texts != news.texts


def test_missing_tfds_text_set_says_how_to_get_it(tmp_path):
    from common.data import DatasetNotOnDiskError

    with pytest.raises(
        DatasetNotOnDiskError, match=r"tfds build yelp_polarity_reviews.*--data-dir"
    ):
        load_tfds_text("yelp_polarity_reviews", data_dir=tmp_path, download=False)
    assert not any(tmp_path.rglob("*.tfrecord*"))
    with pytest.raises(ValueError, match="no dataset named"):
        load_tfds_text("surely_not_a_text_set", data_dir=tmp_path, download=False)
