"""tf.data conventions and TFDS loading (with mock data and the not-on-disk error)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

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


def test_load_tfds_names_tfds_build_when_data_is_missing(tmp_path):
    with pytest.raises(data_lib.DatasetNotOnDiskError, match=r"tfds build mnist.*data_dir"):
        data_lib.load_tfds("mnist", data_dir=tmp_path)
    with pytest.raises(ValueError, match="no dataset named"):
        data_lib.load_tfds("surely_not_a_dataset_name", data_dir=tmp_path)
