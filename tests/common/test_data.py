"""tf.data conventions and TFDS loading (with mock data and the not-on-disk error)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from common import data as data_lib


def test_train_val_split_is_stratified_and_reproducible():
    x = np.arange(100)
    y = np.array([0] * 80 + [1] * 20)
    (x_train, y_train), (x_val, y_val) = data_lib.train_val_split(x, y, 0.25, seed=0)
    assert len(x_val) == 25 and (y_val == 1).sum() == 5
    again = data_lib.train_val_split(x, y, 0.25, seed=0)
    np.testing.assert_array_equal(again[1][0], x_val)
    assert set(x_train) | set(x_val) == set(x)
    with pytest.raises(ValueError, match="val_fraction"):
        data_lib.train_val_split(x, y, 1.5)


def test_prepare_maps_batches_shuffles_and_keeps_every_example():
    dataset = tf.data.Dataset.from_tensor_slices(np.arange(10))
    batched = data_lib.prepare(dataset, 4, training=False, preprocess=lambda v: v * 2)
    batches = [b.numpy().tolist() for b in batched]
    assert batches == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]
    shuffled = data_lib.prepare(dataset, 10, training=True, seed=1)
    (only,) = [b.numpy() for b in shuffled]
    assert sorted(only.tolist()) == list(range(10)) and only.tolist() != list(range(10))
    assert data_lib.is_batched(batched) and not data_lib.is_batched(dataset)
    with pytest.raises(ValueError, match="batch_size"):
        data_lib.prepare(dataset, 0, training=False)


def test_load_tfds_reads_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        dataset = data_lib.load_tfds("mnist", split="train")
        images, labels = zip(*dataset.as_numpy_iterator(), strict=True)
    assert len(images) == 6 and images[0].shape == (28, 28, 1)


def test_load_tfds_names_tfds_build_when_data_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: False)
    with pytest.raises(data_lib.DatasetNotOnDiskError, match=r"tfds build mnist.*data_dir"):
        data_lib.load_tfds("mnist", data_dir=tmp_path)
    with pytest.raises(ValueError, match="no dataset named"):
        data_lib.load_tfds("surely_not_a_dataset_name", data_dir=tmp_path)


class DlsuiteTestReviews(tfds.core.GeneratorBasedBuilder):
    """A local text set: TFDS 'downloads' (generates) it without network access."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "review": tfds.features.Text(),
                    "title": tfds.features.Text(),
                    "stars": tfds.features.ClassLabel(names=["bad", "good"]),
                    "id": np.int64,
                }
            )
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(),
            "test": self._generate_examples(unlabelled=True),
        }

    def _generate_examples(self, unlabelled: bool = False):
        for i in range(4):
            yield (
                i,
                {
                    "review": f"review {i}",
                    "title": f"title {i}",
                    "stars": -1 if unlabelled else i % 2,
                    "id": i,
                },
            )


def test_load_tfds_downloads_when_allowed_and_online(tmp_path, monkeypatch):
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")  # the suite may turn downloads off
    name = DlsuiteTestReviews.name
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: True)
    with pytest.raises(data_lib.DatasetNotOnDiskError, match="download=False.*tfds build"):
        data_lib.load_tfds(name, data_dir=tmp_path, as_supervised=False, download=False)
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "0")
    with pytest.raises(data_lib.DatasetNotOnDiskError, match="DLSUITE_TFDS_DOWNLOAD=0"):
        data_lib.load_tfds(name, data_dir=tmp_path, as_supervised=False)
    assert not list(tmp_path.rglob("*.tfrecord*"))
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")
    dataset = data_lib.load_tfds(name, data_dir=tmp_path, as_supervised=False)
    assert len(list(dataset)) == 4 and list(tmp_path.rglob("*.tfrecord*"))
    offline = tmp_path / "offline"
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: False)
    with pytest.raises(data_lib.DatasetNotOnDiskError, match=r"cannot reach.*--data-dir"):
        data_lib.load_tfds(name, data_dir=offline, as_supervised=False)
    assert not offline.exists() or not list(offline.rglob("*.tfrecord*"))


def test_download_failures_are_explained(tmp_path, monkeypatch):
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")  # the suite may turn downloads off
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: True)

    def refuse(self, *args, **kwargs):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(DlsuiteTestReviews, "download_and_prepare", refuse)
    with pytest.raises(data_lib.DatasetNotOnDiskError, match="ConnectionError: connection reset"):
        data_lib.load_tfds(DlsuiteTestReviews.name, data_dir=tmp_path)


def test_is_online_is_false_when_the_host_cannot_be_reached(monkeypatch):
    monkeypatch.setattr(data_lib, "TFDS_PROBE_HOST", ("host.invalid", 443))
    assert data_lib.is_online(timeout=1.0) is False


def test_text_examples_from_any_tfds_text_set(tmp_path, monkeypatch):
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")  # the suite may turn downloads off
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: True)
    name = DlsuiteTestReviews.name
    with pytest.raises(ValueError, match=r"several \(review, title\) text.*text_key"):
        data_lib.tfds_text_examples(name, data_dir=tmp_path)
    texts, labels, classes = data_lib.tfds_text_examples(
        name, data_dir=tmp_path, text_key="review", limit=3
    )
    assert len(texts) == 3 and set(texts) <= {f"review {i}" for i in range(4)}
    assert classes == ["bad", "good"] and set(labels) <= {"bad", "good"}
    assert all(
        labels[k] == ("good" if t.endswith(("1", "3")) else "bad") for k, t in enumerate(texts)
    )
    with pytest.raises(ValueError, match="not a label feature"):
        data_lib.tfds_text_examples(name, data_dir=tmp_path, text_key="review", label_key="title")
    with pytest.raises(ValueError, match="unlabelled"):
        data_lib.tfds_text_examples(name, "test", data_dir=tmp_path, text_key="review")


@pytest.mark.parametrize(
    "name, text, classes",
    [
        ("imdb_reviews", None, ["neg", "pos"]),
        ("glue/sst2", None, ["negative", "positive"]),
        ("ag_news_subset", "description", ["World", "Sports", "Business", "Sci/Tech"]),
    ],
)
def test_text_examples_find_the_features_of_real_tfds_sets(name, text, classes):
    with tfds.testing.mock_data(num_examples=3):
        texts, labels, found = data_lib.tfds_text_examples(name, text_key=text)
    assert found == classes and len(texts) == 3 and set(labels) <= set(classes)
    assert all(isinstance(t, str) for t in texts)


def test_is_batched_is_not_fooled_by_variable_size_images():
    images = tf.data.Dataset.from_generator(
        lambda: iter([(np.zeros((3, 4, 3)), 1), (np.zeros((5, 2, 3)), 0)]),
        output_signature=(tf.TensorSpec((None, None, 3), tf.float64), tf.TensorSpec((), tf.int64)),
    )
    assert not data_lib.is_batched(images)
    assert data_lib.is_batched(images.padded_batch(2))


def test_tfrecord_shards_round_trip_every_example(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (10, 6, 5, 3)).astype(np.uint8)
    labels = np.arange(10, dtype=np.int32)
    source = tf.data.Dataset.from_tensor_slices((images, labels))
    paths = data_lib.write_tfrecords(source, tmp_path / "train", num_shards=3)
    assert len(paths) == 3 and not list(tmp_path.glob("*.tmp"))
    assert int(data_lib.read_tfrecords(tmp_path / "train").cardinality()) == 10
    restored = sorted(
        data_lib.read_tfrecords(tmp_path / "train").as_numpy_iterator(), key=lambda e: e[1]
    )
    assert [int(y) for _, y in restored] == list(range(10))
    for (image, _), original in zip(restored, images, strict=True):
        np.testing.assert_array_equal(image, original)
    # dict examples with strings, as text tasks have
    texts = tf.data.Dataset.from_tensor_slices({"text": ["héllo", "wörld"], "label": [1, 0]})
    data_lib.write_tfrecords(texts, tmp_path / "text", num_shards=1)
    rows = list(data_lib.read_tfrecords(tmp_path / "text").as_numpy_iterator())
    assert rows == [{"text": "héllo".encode(), "label": 1}, {"text": "wörld".encode(), "label": 0}]
    with pytest.raises(ValueError, match="unbatched"):
        data_lib.write_tfrecords(source.batch(2), tmp_path / "batched")
    with pytest.raises(ValueError, match="no TFRecord spec"):
        data_lib.read_tfrecords(tmp_path / "missing")


def test_classifier_trains_from_tfrecord_shards(tmp_path, digits_split):
    from vision import ImageClassifier

    classes, (x, y), _ = digits_split
    data_lib.write_tfrecords(
        tf.data.Dataset.from_tensor_slices((x[:64], y[:64])), tmp_path / "d", 2
    )
    task = ImageClassifier(classes=classes, image_size=16, widths=[8], batch_size=32)
    history = task.fit(data_lib.read_tfrecords(tmp_path / "d"), epochs=1, verbose=0)
    assert np.isfinite(history["loss"][0])


def test_augmented_batches_resize_then_seeded_augmentation_only_while_training():
    from common.data import augmented_batches

    examples = tf.data.Dataset.from_tensor_slices({"x": np.arange(6, dtype=np.float32)})

    def augment(example, seed):
        return {"x": example["x"] + tf.cast(seed[0] % 2, tf.float32) * 100.0}

    def run(training, seed=0):
        batches = augmented_batches(
            examples,
            4,
            training,
            resize=lambda e: {"x": e["x"] * 2},
            to_model=lambda e: e["x"],
            augment=augment,
            seed=seed,
        )
        return [b.numpy().tolist() for b in batches]

    assert run(False) == [[0.0, 2.0, 4.0, 6.0], [8.0, 10.0]]  # no shuffle, no augmentation
    first, again = run(True), run(True)
    assert first == again and [len(b) for b in first] == [4, 2]  # reproducible for a seed
    assert sorted(v % 100 for b in first for v in b) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert any(v >= 100 for b in first for v in b)  # augmented with per-example seeds
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        augmented_batches(examples, 0, True, lambda e: e, lambda e: e)
