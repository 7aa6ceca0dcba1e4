"""Tests for common.plots: PNG files are written, readable and sized sensibly."""

import numpy as np
import pytest
from PIL import Image

from common.plots import caption_images, plot_confusion_matrix, plot_history


def _assert_png(path, min_width=200, min_height=200):
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        assert min_width <= width <= 3000 and min_height <= height <= 3000
        assert len(set(image.convert("L").getdata())) > 2  # not a blank canvas
    return width, height


def test_plot_history_writes_png_with_one_panel_per_metric(tmp_path):
    history = {
        "loss": [1.0, 0.7, 0.5],
        "accuracy": [0.5, 0.6, 0.8],
        "val_loss": [1.1, 0.8, 0.7],
        "val_accuracy": [0.4, 0.6, 0.7],
    }
    path = plot_history(history, tmp_path / "nested" / "dir" / "history.png")
    assert path == tmp_path / "nested" / "dir" / "history.png"
    two_panels, _ = _assert_png(path)

    single = plot_history({"loss": [1.0, 0.5]}, str(tmp_path / "loss.png"))
    one_panel, _ = _assert_png(single)
    assert two_panels > 1.5 * one_panel


def test_plot_history_lays_many_metrics_out_in_a_grid(tmp_path):
    import keras

    history = keras.callbacks.History()
    history.history = {name: [1.0, 0.5, 0.25] for name in ("loss", "a", "b", "c", "d")}
    width, height = _assert_png(plot_history(history, tmp_path / "grid.png"))
    row_width, row_height = _assert_png(
        plot_history({"loss": [1.0], "a": [1.0], "b": [1.0]}, tmp_path / "row.png")
    )
    assert width == row_width and height > 1.8 * row_height  # 3 columns, 2 rows
    with pytest.raises(ValueError, match="columns"):
        plot_history({"loss": [1.0]}, tmp_path / "x.png", columns=0)


def test_plot_history_rejects_empty(tmp_path):
    with pytest.raises(ValueError):
        plot_history({}, tmp_path / "empty.png")


def test_plot_confusion_matrix(tmp_path):
    matrix = np.array([[5, 1, 0], [0, 0, 0], [2, 0, 3]])  # row 1 has no examples
    path = plot_confusion_matrix(matrix, ["a", "b", "c"], tmp_path / "out" / "cm.png")
    _assert_png(path)
    raw = plot_confusion_matrix(
        matrix.tolist(), ["a", "b", "c"], tmp_path / "raw.png", normalize=False, title="Counts"
    )
    _assert_png(raw)


def test_plot_confusion_matrix_many_classes(tmp_path):
    names = [f"class_{i}" for i in range(40)]
    matrix = np.random.default_rng(0).integers(0, 10, (40, 40))
    _assert_png(plot_confusion_matrix(matrix, names, tmp_path / "big.png"))


@pytest.mark.parametrize("shape", [(3, 3), (2, 3), (2,)])
def test_plot_confusion_matrix_shape_mismatch(shape, tmp_path):
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(np.ones(shape), ["a", "b"], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_caption_images_enlarges_small_images_and_writes_the_caption_below():
    images = np.zeros((2, 16, 16, 1), np.float32)
    captioned = caption_images(images, ["cat 0.91", "dog 0.55"])
    assert captioned.shape == (2, 96 + 18, 96, 3) and captioned.dtype == np.uint8
    assert (captioned[:, :96] == 0).all()  # the image itself, enlarged 6x
    band = captioned[:, 96:]
    assert (band < 128).any(axis=(1, 2, 3)).all() and (band == 255).mean() > 0.5  # dark text
    with pytest.raises(ValueError, match="captions"):
        caption_images(images, ["one"])
