"""ImageSegmenter: learns easy shape masks, predict at original size, save/load, export parity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.export import non_core_ops
from tests.common.report_checks import check_evaluation_report
from tests.conftest import run_fresh_tensorflow, trained_on
from vision import ImageSegmenter, overlay_mask
from vision.images import encode_png
from vision.segmentation.data import make_shape_masks

SCENES = {"max_objects": 3, "min_size": 0.2, "max_size": 0.5}


@pytest.fixture(scope="module")
def segmenter_and_val():
    train = make_shape_masks(200, 64, seed=1, **SCENES)
    val = make_shape_masks(30, 64, seed=2, **SCENES)
    options = {"architecture": "deeplabv3plus", "widths": [16, 24, 32], "aspp_filters": 32}
    segmenter = trained_on(
        train, ImageSegmenter, 8, image_size=64, batch_size=16, learning_rate=1e-2, **options
    )
    return segmenter, val


@pytest.mark.slow
def test_short_training_on_shape_masks_reaches_miou_of_0_6(segmenter_and_val):
    segmenter, val = segmenter_and_val
    report = segmenter.evaluate(val)
    assert report["mean_iou"] >= 0.6, report["per_class"]
    assert report["pixel_accuracy"] > report["mean_iou"] * 0.9
    assert set(report["per_class"]) == {"background", "circle", "square", "triangle"}
    assert report["num_pixels"] == 30 * 64 * 64
    assert 0 <= report["mean_dice"] <= 1


def test_evaluate_writes_the_report_and_sample_pictures(tmp_path, segmenter_and_val):
    segmenter, val = segmenter_and_val
    other = make_shape_masks(2, 64, seed=9, **SCENES)
    pictures = [f"overlay_{i}.png" for i in range(4)] + ["confusion_matrix.png"]
    report = check_evaluation_report(segmenter, val, other, tmp_path, pictures)
    assert report["confusion_matrix_png"] == str(tmp_path / "confusion_matrix.png")


def test_predict_returns_masks_at_the_original_size(segmenter_and_val, tmp_path):
    segmenter, val = segmenter_and_val
    image = val.images[0]
    tall = np.repeat(image, 2, axis=0)  # 128 x 64
    small, large = (  # one image in, one result out
        segmenter.predict(image),
        segmenter.predict(tall, return_probabilities=True),
    )
    (listed,) = segmenter.predict([image])  # a list in, a list out
    np.testing.assert_array_equal(listed["mask"], small["mask"])
    assert len(segmenter.predict(np.stack([image, image]))) == 2  # (N, H, W, C): N images
    assert small["mask"].shape == (64, 64) and small["mask"].dtype == np.int32
    assert large["mask"].shape == (128, 64) and large["probabilities"].shape == (128, 64, 4)
    np.testing.assert_allclose(large["probabilities"].sum(-1), 1.0, atol=1e-4)
    agreement = (large["mask"][::2] == small["mask"]).mean()
    assert agreement > 0.95
    assert (small["mask"] == val.masks[0]).mean() > 0.85
    png = overlay_mask(image, small["mask"], path=tmp_path / "overlay.png")
    assert png[:4] == b"\x89PNG" and (tmp_path / "overlay.png").exists()
    with pytest.raises(ValueError, match="differs from the image"):
        overlay_mask(image, small["mask"][:10])


@pytest.mark.slow
def test_save_load_and_export_parity_in_fresh_process(segmenter_and_val, tmp_path):
    segmenter, val = segmenter_and_val
    segmenter.save(tmp_path / "seg.keras")
    loaded = ImageSegmenter.load(tmp_path / "seg.keras")
    np.testing.assert_array_equal(
        loaded.predict(val.images[1])["mask"], segmenter.predict(val.images[1])["mask"]
    )
    version = loaded.export(tmp_path / "segmenter")
    assert non_core_ops(version) == []
    images = [val.images[2], np.pad(val.images[3], ((0, 30), (0, 10), (0, 0)))]  # 64x64 and 94x74
    payload = [encode_png(image) for image in images]
    (tmp_path / "payload.json").write_text(json.dumps([p.hex() for p in payload]))
    out = run_fresh_tensorflow(f"""
        import json
        payload = [bytes.fromhex(h) for h in json.load(open({str(tmp_path / "payload.json")!r}))]
        serve = tf.saved_model.load({str(version)!r}).signatures["serving_default"]
        result = serve(image_bytes=tf.constant(payload))
        print(json.dumps({{"mask": result["mask"].numpy().tolist(),
                          "size": result["image_size"].numpy().tolist(),
                          "probabilities": result["probabilities"].numpy().tolist()}}))
    """)
    served = json.loads(out.strip().splitlines()[-1])
    masks = np.array(served["mask"])
    assert masks.shape == (2, 94, 74)
    assert served["size"] == [[64, 64], [94, 74]]
    for j, result in enumerate(segmenter.predict(payload, return_probabilities=True)):
        height, width = result["mask"].shape
        np.testing.assert_array_equal(masks[j, :height, :width], result["mask"])
        assert (masks[j, height:] == -1).all() and (masks[j, :, width:] == -1).all()
        np.testing.assert_allclose(
            np.array(served["probabilities"])[j, :height, :width],
            result["probabilities"],
            atol=1e-4,
        )


@pytest.mark.slow
def test_unet_and_loss_options_build_and_train_a_step():
    data = make_shape_masks(8, 32, seed=4, max_objects=1)
    for architecture, loss in (
        ("unet", "dice"),
        ("unet", "focal"),
        ("deeplabv3plus", "cross_entropy"),
    ):
        segmenter = ImageSegmenter(
            classes=data.class_names,
            image_size=32,
            architecture=architecture,
            widths=[16, 16, 16],
            aspp_filters=16,
            loss=loss,
            batch_size=8,
        )
        history = segmenter.fit(data, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


def test_bad_masks_and_options_give_clear_errors(segmenter_and_val):
    segmenter, val = segmenter_and_val
    image = val.images[0]
    with pytest.raises(ValueError, match="mask size 32x64 differs from its image 64x64"):
        segmenter.fit(([image], [val.masks[0][:32]]), epochs=1)
    with pytest.raises(ValueError, match=r"mask values \[7\]"):
        segmenter.fit(([image], [np.full((64, 64), 7)]), epochs=1)
    with pytest.raises(ValueError, match="architecture"):
        ImageSegmenter(classes=["a", "b"], architecture="fcn")
    with pytest.raises(ValueError, match="multiple of 8"):
        ImageSegmenter(classes=["a", "b"], image_size=60, widths=[8, 16, 32, 64])
    with pytest.raises(ValueError, match="empty"):
        segmenter.predict([])


def test_common_unet_blocks_work_in_3d_and_reload_in_safe_mode(tmp_path):
    import keras

    from common.unet import build_deeplabv3plus, build_unet

    volume = np.random.default_rng(0).random((1, 16, 16, 16, 1)).astype("float32")
    for build in (build_unet, build_deeplabv3plus):
        model = build((16, 16, 16, 1), 2, widths=(16, 16, 16))
        assert model(volume).shape == (1, 16, 16, 16, 2)
        model.save(tmp_path / "m.keras")
        reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
        np.testing.assert_allclose(reloaded(volume), model(volume), atol=1e-6)
    with pytest.raises(ValueError, match="divisible by 4"):
        build_unet((30, 30, 1), 2, widths=(16, 16, 16))
