"""Tests for common.layers: shapes, behaviour, safe-mode `.keras` round trips and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.layers import (
    ConvBNAct,
    ImageAugmentation,
    ResidualBlock,
    SqueezeExcite,
    build_small_resnet,
)


def _round_trip(model: keras.Model, tmp_path) -> keras.Model:
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _single_layer_model(layer, shape) -> keras.Model:
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


def _assert_same_predictions(model, loaded, x):
    for original, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(original, restored)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_conv_bn_act_shapes_no_bias_and_activation():
    layer = ConvBNAct(5, strides=2)
    y = layer(np.random.randn(2, 8, 8, 3).astype("float32"))
    assert y.shape == (2, 4, 4, 5)
    assert layer.conv.use_bias is False and layer.conv.padding == "same"
    assert float(keras.ops.min(y)) >= 0.0  # relu

    linear = ConvBNAct(4, activation=None)
    out = linear(np.random.randn(2, 6, 6, 3).astype("float32"), training=True)
    assert float(keras.ops.min(out)) < 0.0  # BN output centred, no activation

    volume = ConvBNAct(3, kernel_size=1, rank=3, dilation_rate=1)
    assert volume(np.zeros((1, 4, 4, 4, 2), "float32")).shape == (1, 4, 4, 4, 3)
    with pytest.raises(ValueError, match="rank"):
        ConvBNAct(3, rank=1)


def test_squeeze_excite_scales_channels_by_gate_in_0_1():
    x = np.random.uniform(0.5, 1.5, (2, 4, 4, 8)).astype("float32")
    y = keras.ops.convert_to_numpy(SqueezeExcite(ratio=0.25)(x))
    ratio = y / x
    assert y.shape == x.shape
    assert np.all((ratio > 0) & (ratio < 1))
    # One gate per (example, channel): identical at every spatial position.
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1, :], ratio.shape), rtol=1e-5)
    volume = SqueezeExcite(0.5, rank=3)
    assert volume(np.ones((1, 2, 2, 2, 4), "float32")).shape == (1, 2, 2, 2, 4)


def test_residual_block_projection_only_when_needed():
    same = ResidualBlock(4)
    assert same(np.zeros((1, 8, 8, 4), "float32")).shape == (1, 8, 8, 4)
    assert same.shortcut is None and same.se is None

    down = ResidualBlock(8, strides=2, se_ratio=0.25)
    assert down(np.zeros((1, 8, 8, 4), "float32")).shape == (1, 4, 4, 8)
    assert down.shortcut is not None and down.se is not None

    wider = ResidualBlock(6, rank=3)
    assert wider(np.zeros((1, 4, 4, 4, 2), "float32")).shape == (1, 4, 4, 4, 6)
    assert wider.shortcut is not None


def test_residual_block_identity_shortcut_adds_input():
    block = ResidualBlock(3, activation="relu")
    x = np.random.uniform(1.0, 2.0, (1, 4, 4, 3)).astype("float32")
    block(x)
    for weight in block.conv2.conv.weights:  # zero residual branch -> relu(BN(0) + x)
        weight.assign(np.zeros(weight.shape, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), x, rtol=1e-5)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (ConvBNAct(4, strides=2, activation="swish", name="cba"), (8, 8, 3)),
        (SqueezeExcite(0.5, name="se"), (4, 4, 8)),
        (ResidualBlock(6, strides=2, se_ratio=0.5, name="res"), (8, 8, 3)),
        (ResidualBlock(2, rank=3, name="res3d"), (4, 4, 4, 2)),
    ],
)
def test_layers_round_trip_safe_mode(layer, shape, tmp_path):
    model = _single_layer_model(layer, shape)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded.layers[-1]) is type(layer)
    assert loaded.layers[-1].get_config() == layer.get_config()
    _assert_same_predictions(model, loaded, np.random.rand(2, *shape).astype("float32"))


def test_image_augmentation_identity_at_inference_and_random_in_training():
    images = np.random.uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    aug = ImageAugmentation(flip="horizontal_and_vertical", seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(aug(images, training=False)), images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(aug(images)), images)
    augmented = keras.ops.convert_to_numpy(aug(images, training=True))
    assert augmented.shape == images.shape
    assert not np.allclose(augmented, images)
    assert augmented.min() >= 0.0 and augmented.max() <= 255.0


def test_image_augmentation_zero_factors_skip_layers():
    assert (
        ImageAugmentation(flip=None, rotation=0, zoom=0, translation=0, contrast=0).transforms == []
    )
    assert len(ImageAugmentation(flip=None, rotation=0.1, zoom=0, translation=0).transforms) == 2
    images = np.random.uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    noop = ImageAugmentation(flip=None, rotation=0, zoom=0, translation=0, contrast=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(noop(images, training=True)), images)
    with pytest.raises(ValueError, match="flip"):
        ImageAugmentation(flip="diagonal")


def test_image_augmentation_round_trip_and_export(tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = ImageAugmentation(rotation=0.1, seed=0, name="augment")(inputs)
    x = keras.layers.Rescaling(1.0 / 255)(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.uniform(0, 255, (3, 16, 16, 3)).astype("float32")

    loaded = _round_trip(model, tmp_path)
    assert loaded.get_layer("augment").get_config() == model.get_layer("augment").get_config()
    _assert_same_predictions(model, loaded, images)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda t: model(t, training=False),
        input_signature=[tf.TensorSpec((None, 16, 16, 3), tf.float32)],
    )
    export_dir = str(tmp_path / "exported")
    archive.write_out(export_dir, verbose=False)
    restored = tf.saved_model.load(export_dir)
    np.testing.assert_allclose(
        restored.serve(tf.constant(images)).numpy(),
        model.predict(images, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_build_small_resnet_shapes_and_round_trip(tmp_path):
    model = build_small_resnet((16, 16, 3), widths=(4, 8, 8), blocks_per_stage=2, se_ratio=0.25)
    assert model.output_shape == (None, 4, 4, 8)
    blocks = [layer for layer in model.layers if isinstance(layer, ResidualBlock)]
    assert [b.strides for b in blocks] == [1, 1, 2, 1, 2, 1]
    x = np.random.rand(2, 16, 16, 3).astype("float32")
    # One training step so weights and BN moving statistics move off their initial values.
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.random.rand(2, 4, 4, 8).astype("float32"), epochs=1, verbose=0)
    loaded = _round_trip(model, tmp_path)
    assert loaded.name == "small_resnet"
    _assert_same_predictions(model, loaded, x)


def test_build_small_resnet_volumes():
    model = build_small_resnet((8, 8, 8, 1), widths=(2, 4), name="tiny3d")
    assert model.output_shape == (None, 4, 4, 4, 4)
    with pytest.raises(ValueError):
        build_small_resnet((8,), widths=(2,))
