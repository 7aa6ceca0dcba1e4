"""vision.ImageGenerator: a tiny VAE learns a two-mode distribution (mode coverage measured),
seeded sampling equals the export in a fresh TensorFlow process, bad requests fail clearly
(ValueError in Python, 400 from the server), save / load / resume, and the metrics."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import serve_in_fresh_tensorflow
from vision.generation import ImageGenerator
from vision.generation import metrics as m
from vision.generation.data import make_two_modes, mode_assignments

TINY = {"image_size": 16, "batch_size": 32, "max_images": 64}


@pytest.fixture(scope="module")
def modes():
    return make_two_modes(256, 16, seed=0)


@pytest.fixture(scope="module")
def vae(modes):
    """An unconditional VAE trained on the two-mode set (unlabelled images only)."""
    generator = ImageGenerator(architecture="vae", widths=[8, 16], latent_dim=4, **TINY)
    generator.fit(modes.images, epochs=25, verbose=0)
    return generator


@pytest.fixture(scope="module")
def ddim(modes):
    """A class-conditional DDIM after one short epoch (enough for sampling and export checks)."""
    generator = ImageGenerator(
        architecture="ddim", classes=modes.class_names, widths=[8, 16], block_depth=1,
        embedding_dims=8, sampling_steps=3, **TINY,
    )  # fmt: skip
    generator.fit(modes.subset(np.arange(64)), epochs=1, verbose=0)
    return generator


def test_vae_covers_both_modes(vae):
    images = vae.generate(64, seed=1)["images"]
    assigned = mode_assignments(images[..., 0])
    on_mode = np.mean(assigned >= 0)
    shares = [np.mean(assigned == k) for k in (0, 1)]
    assert on_mode >= 0.8, f"only {on_mode:.2f} of the samples look like either mode"
    assert min(shares) >= 0.2, f"mode shares {shares}: a mode is missing (mode collapse)"
    untrained = ImageGenerator(architecture="vae", widths=[8, 16], latent_dim=4, **TINY)
    assert np.mean(mode_assignments(untrained.generate(64, seed=1)["images"][..., 0]) >= 0) < 0.2


def test_vae_autoencoder_scores_anomalies(vae, modes):
    normal = vae.anomaly_scores(modes.images[:32])
    noise = np.random.default_rng(0).uniform(0, 1, (32, 16, 16, 1)).astype(np.float32)
    assert np.median(vae.anomaly_scores(noise)) > 3 * np.median(normal)
    assert vae.encode(modes.images[:5]).shape == (5, 4)
    assert vae.decode(np.zeros((2, 4))).shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match="architecture='vae'"):
        ImageGenerator(architecture="wgan_gp", **TINY).reconstruct(modes.images[:2])


def test_seeded_sampling_and_predict(vae, ddim):
    a, b = vae.generate(4, seed=7), vae.generate(4, seed=7)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert not np.allclose(a["images"], vae.generate(4, seed=8)["images"])
    decoded = tf.io.decode_png(a["png"][0]).numpy() / 255.0
    np.testing.assert_allclose(decoded, a["images"][0], atol=1 / 255)
    out = ddim.generate(6, "vertical", seed=2)
    assert out["classes"] == ["vertical"] * 6 and out["images"].shape == (6, 16, 16, 1)
    assert 0.0 <= out["images"].min() and out["images"].max() <= 1.0
    stochastic = ddim.generate(6, "vertical", seed=2, eta=1.0)["images"]
    assert not np.allclose(stochastic, out["images"])
    one = ddim.predict({"class": "horizontal", "seed": 3})
    assert one["class"] == "horizontal" and one["image"].shape == (16, 16, 1)
    assert len(ddim.predict(["horizontal", "vertical"])) == 2


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"num_images": 0}, "num_images must be in"),
        ({"num_images": 10**6}, "num_images must be in"),
        ({"class_name": "diagonal"}, "unknown class"),
        ({"steps": 0}, "steps must be"),
        ({"eta": 2.0}, "eta must be"),
    ],
)
def test_bad_requests_raise(ddim, request_, message):
    with pytest.raises(ValueError, match=message):
        ddim.generate(**{"num_images": 2, **request_})


def test_bad_options_and_unconditional_class(vae):
    with pytest.raises(ValueError, match="unconditional"):
        vae.generate(2, "horizontal")
    with pytest.raises(ValueError, match="architecture must be one of"):
        ImageGenerator(architecture="gan")
    with pytest.raises(ValueError, match="divisible by 4"):
        ImageGenerator(architecture="vae", image_size=18)
    with pytest.raises(ValueError, match="needs \\(images, labels\\)"):
        ImageGenerator(architecture="vae", classes=["a", "b"], **TINY).fit(np.zeros((4, 16, 16)))


def test_export_equals_python_in_fresh_process_and_rejects_bad_input(ddim, tmp_path):
    version = ddim.export(tmp_path / "gen")
    request = {
        "num_images": np.int32(5), "class_name": np.array(b"vertical"),
        "seed": np.int32(11), "steps": np.int32(3), "eta": np.float32(0.0),
    }  # fmt: skip
    served = serve_in_fresh_tensorflow(version, request, tmp_path)
    expected = ddim.generate(5, "vertical", seed=11, steps=3)
    np.testing.assert_allclose(served["images"], expected["images"], atol=1e-5)
    assert [bytes(p) for p in served["png"]] == expected["png"]
    assert [c.decode() for c in served["classes"]] == ["vertical"] * 5
    fn = tf.saved_model.load(str(version)).signatures["serving_default"]
    for bad, message in [
        ({"num_images": 0}, "num_images must be at least 1"),
        ({"num_images": 65}, "num_images must be at most 64"),
        ({"class_name": "diagonal"}, "unknown class"),
        ({"steps": 0}, "steps must be at least 1"),
    ]:
        args = {k: tf.constant(v) for k, v in {**request, **bad}.items()}
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            fn(**args)


def test_server_answers_400_for_bad_requests(vae, tmp_path):
    from serving import ModelServer

    vae.export(tmp_path / "models" / "gen")
    with ModelServer(tmp_path / "models", rest_port=0, grpc_port=None, poll_interval=0) as server:
        url = f"{server.rest_url}/v1/models/gen:predict"
        ok = httpx.post(url, json={"inputs": {"num_images": 3, "class_name": "", "seed": 4}})
        assert ok.status_code == 200
        np.testing.assert_allclose(
            ok.json()["outputs"]["images"], vae.generate(3, seed=4)["images"], atol=1e-5
        )
        for bad in ({"num_images": 0}, {"num_images": 1000}, {"class_name": "horizontal"}):
            response = httpx.post(
                url, json={"inputs": {"num_images": 2, "class_name": "", "seed": 0, **bad}}
            )
            assert response.status_code == 400 and response.json()["error"]


def test_wgan_gp_trains_saves_resumes(modes, tmp_path):
    options = dict(architecture="wgan_gp", classes=modes.class_names, widths=[8, 16],
                   latent_dim=8, critic_steps=1, **TINY)  # fmt: skip
    data = modes.subset(np.arange(32))

    class Interrupt(Exception):
        pass

    class StopAfterFirstEpoch(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupt

    generator = ImageGenerator(**options)
    with pytest.raises(Interrupt):
        generator.fit(
            data, epochs=2, verbose=0, work_dir=tmp_path, callbacks=[StopAfterFirstEpoch()]
        )
    resumed = ImageGenerator(**options)
    history = resumed.fit(data, epochs=2, verbose=0, work_dir=tmp_path, resume=True)
    assert len(history.history["wasserstein"]) == 2 and history.epoch == [0, 1]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_001.png", "epoch_002.png",
    ]  # fmt: skip
    resumed.save(tmp_path / "gan.keras")
    loaded = ImageGenerator.load(tmp_path / "gan.keras")
    np.testing.assert_array_equal(
        loaded.generate(4, "horizontal", seed=5)["images"],
        resumed.generate(4, "horizontal", seed=5)["images"],
    )


def test_fid_kid_memorisation_by_hand():
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (2000, 2))
    assert m.frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, mean moved by (3, 4): FID = |mu|^2 = 25 (up to sampling noise).
    assert m.frechet_distance(real, real + [3.0, 4.0]) == pytest.approx(25.0, abs=1e-6)
    scaled = m.frechet_distance(rng.normal(0, 1, (20000, 1)), rng.normal(0, 2, (20000, 1)))
    assert scaled == pytest.approx(1.0, abs=0.1)  # (sigma_r - sigma_f)^2 = 1
    same, _ = m.kernel_inception_distance(real, rng.normal(0, 1, (2000, 2)), subset_size=500)
    moved, _ = m.kernel_inception_distance(real, real + 1.0, subset_size=500)
    assert abs(same) < 0.05 < moved
    train = rng.uniform(0, 1, (50, 4, 4, 1))
    held_out = rng.uniform(0, 1, (50, 4, 4, 1))
    copies = m.nearest_neighbour_report(train[:20], train, held_out)
    fresh = m.nearest_neighbour_report(rng.uniform(0, 1, (20, 4, 4, 1)), train, held_out)
    assert copies["memorised_fraction"] == 1.0 and fresh["memorised_fraction"] <= 0.1


def test_evaluate_reports_metrics(vae, modes):
    report = vae.evaluate(modes.images[:64], train_data=modes.images[64:], kid_subset=32)
    assert report["feature_extractor"] == "pixels" and report["num_images"] == 64
    assert report["fid"] >= 0 and np.isfinite(report["kid"])
    assert 0.0 <= report["memorised_fraction"] <= 1.0


def test_cli_train_and_predict(tmp_path):
    from tests.cli_helpers import check_train, domain_runner
    from vision.cli import register

    run = domain_runner(register)
    model = tmp_path / "gen.keras"
    check_train(
        run, "vision generate", "--data builtin:two_modes --epochs 1 --image-size 16",
        "--widths 8 16 --latent-dim 4", output=model,
    )  # fmt: skip
    out = tmp_path / "png"
    assert (
        run("vision generate predict --model", model, "--output-dir", out, "vertical random") == 0
    )
    assert len(list(out.glob("*.png"))) == 2
