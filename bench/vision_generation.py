"""Image generation benchmark: ``vision.ImageGenerator`` (VAE, WGAN-GP, DDIM; class-conditional)
on the shared Fashion-MNIST subset, against a trivial baseline and the real-data floor.

    python -m bench.vision_generation [--data ../shared/data] [--epochs vae=10,wgan_gp=3,ddim=3]

Data: ``<data>/fashion_mnist/`` images 0-2999 train, 3000-3614 (615) the held-out real set.
Every row generates 615 images with the held-out class counts (through the exported SavedModel,
``serving_default``) and scores them against the held-out images:

- FID and KID on the pooled features of a dlsuite ``ImageClassifier`` trained on the 3,000
  training images (InceptionV3 weights cannot be downloaded here, so these are *not* the
  published Inception FIDs; they compare rows of this table only);
- CAS: accuracy on the held-out images of the same classifier recipe trained on ``--cas-count``
  generated labelled images; ``cas_ratio`` divides it by the accuracy of that recipe trained on
  as many real training images;
- memorisation: share of generated images nearer a training image than the 1st percentile of
  the held-out images are (pixel space).

Rows: ``real_train`` (615 real training images: the floor a perfect generator would reach),
``class_mean_noise`` (per-class mean image plus per-pixel Gaussian noise of the class's
standard deviation: the trivial baseline), then each architecture, trained for a few epochs on 2
shared CPU cores (the epoch counts are in the JSON: short runs, not converged). Speed: images/s
of the export's ``serving_default`` against ``ImageGenerator.generate`` (64 images per call).
Targets: every architecture beats the baseline on FID, KID and CAS; the best reaches
CAS >= 0.80 x the real-data classifier's accuracy.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._harness import DATA_ROOT, RESULTS_DIR, bench_parser, load_average, write_rows  # noqa: E402

TARGETS = {"best_cas_ratio": 0.80}
CONFIGS: dict[str, dict[str, Any]] = {
    "vae": {"latent_dim": 32, "widths": [32, 64]},
    "wgan_gp": {"latent_dim": 64, "widths": [32, 64], "critic_steps": 3},
    "ddim": {"widths": [32, 64, 96], "block_depth": 1, "sampling_steps": 10},
}
CLASSIFIER = {"image_size": 32, "widths": [16, 32, 64], "flip": None, "augment": False}


def baseline_images(x: np.ndarray, y: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Per-class mean image plus Gaussian noise with the class's per-pixel std, clipped."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(labels), *x.shape[1:]), np.float32)
    for k in np.unique(labels):
        where = labels == k
        mean, std = x[y == k].mean(0), x[y == k].std(0)
        out[where] = mean + std * rng.standard_normal((where.sum(), *x.shape[1:]))
    return np.clip(out, 0.0, 1.0)


def served_images(sampler: Any, labels: np.ndarray, classes: list[str], extra: dict) -> np.ndarray:
    """Images for ``labels`` from the exported ``serving_default``, one call per class chunk."""
    import tensorflow as tf

    out = np.empty((len(labels), 28, 28, 1), np.float32)
    for k, name in enumerate(classes):
        where = np.flatnonzero(labels == k)
        for j in range(0, len(where), 256):
            part = where[j : j + 256]
            result = sampler(
                num_images=tf.constant(len(part)),
                class_name=tf.constant(name),
                seed=tf.constant(1000 + 97 * k + j),
                **extra,
            )
            out[part] = result["images"].numpy()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DATA_ROOT, help="the shared data folder")
    parser.add_argument("--epochs", default="vae=10,wgan_gp=3,ddim=3")
    parser.add_argument("--classifier-epochs", type=int, default=4)
    parser.add_argument("--cas-count", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "vision_generation.json")
    args = parser.parse_args(argv)
    epochs = {k: int(v) for k, v in (p.split("=") for p in args.epochs.split(","))}

    import tensorflow as tf

    from vision.classification import ImageClassifier
    from vision.generation import ImageGenerator
    from vision.generation import metrics as m
    from vision.generation.data import load_fashion_mnist
    from vision.generation.sampling import image_grid, write_png

    started = time.perf_counter()
    data = load_fashion_mnist(args.data / "fashion_mnist")
    x = data.images.astype(np.float32) / 255.0
    x_train, y_train, x_val, y_val = x[:3000], data.labels[:3000], x[3000:], data.labels[3000:]
    classes = data.class_names
    to_uint8 = lambda a: np.round(a * 255).astype(np.uint8)  # noqa: E731

    print("training the feature / reference classifier on the 3,000 real training images")
    clf = ImageClassifier(classes=classes, **CLASSIFIER)
    clf.fit((to_uint8(x_train), y_train), epochs=args.classifier_epochs, verbose=0)
    features = m.classifier_features(clf)
    f_val = features(x_val)
    cas_real = m.classification_accuracy_score(
        x_train[: args.cas_count], y_train[: args.cas_count], x_val, y_val, classes,
        epochs=args.classifier_epochs, **CLASSIFIER,
    )  # fmt: skip
    print(f"real-data accuracy of the CAS recipe ({args.cas_count} real images): {cas_real:.3f}")

    def score(name: str, generated: np.ndarray, cas_images: np.ndarray, cas_labels: np.ndarray):
        f_gen = features(generated)
        kid, kid_std = m.kernel_inception_distance(f_val, f_gen, subset_size=300)
        cas = m.classification_accuracy_score(
            cas_images, cas_labels, x_val, y_val, classes, epochs=args.classifier_epochs,
            **CLASSIFIER,
        )  # fmt: skip
        row = {
            "model": name,
            "fid": round(m.frechet_distance(f_val, f_gen), 3),
            "kid": round(kid, 4),
            "kid_std": round(kid_std, 4),
            "cas": round(cas, 4),
            "cas_ratio": round(cas / cas_real, 3),
            **{
                k: round(v, 4)
                for k, v in m.nearest_neighbour_report(generated, x_train, x_val).items()
            },
        }
        print(row, flush=True)
        return row

    rows = []
    cas_labels = y_train[: args.cas_count]
    rows.append(score("real_train", x_train[: len(x_val)], x_train[: args.cas_count], cas_labels))
    base = baseline_images(x_train, y_train, y_val, 0)
    base_cas = baseline_images(x_train, y_train, cas_labels, 1)
    rows.append(score("class_mean_noise", base, base_cas, cas_labels))
    grid_labels = np.repeat(np.arange(10), 8)
    write_png(
        image_grid(baseline_images(x_train, y_train, grid_labels, 2), 8),
        str(RESULTS_DIR / "vision_generation_class_mean_noise.png"),
    )

    for arch, options in CONFIGS.items():
        if arch not in epochs:
            continue
        generator = ImageGenerator(architecture=arch, classes=classes, **options)
        print(f"training {arch} for {epochs[arch]} epochs", flush=True)
        t0 = time.perf_counter()
        generator.fit((x_train, y_train), epochs=epochs[arch], verbose=2)
        train_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            version = generator.export(Path(tmp) / "gen")
            sampler = tf.saved_model.load(str(version)).signatures["serving_default"]
            extra = {}
            if arch == "ddim":
                extra = {"steps": tf.constant(options["sampling_steps"]), "eta": tf.constant(0.0)}
            generated = served_images(sampler, y_val, classes, extra)
            cas_images = served_images(sampler, cas_labels, classes, extra)
            sampler(
                num_images=tf.constant(64), class_name=tf.constant(""), seed=tf.constant(0), **extra
            )
            t0 = time.perf_counter()
            served = sampler(
                num_images=tf.constant(64), class_name=tf.constant(""), seed=tf.constant(5), **extra
            )["images"].numpy()
            export_rate = 64 / (time.perf_counter() - t0)
        generator.generate(64, seed=0)
        t0 = time.perf_counter()
        python = generator.generate(64, seed=5)["images"]
        python_rate = 64 / (time.perf_counter() - t0)
        row = score(arch, generated, cas_images, cas_labels)
        row.update(
            epochs=epochs[arch],
            train_s=round(train_s, 1),
            export_images_per_s=round(export_rate, 1),
            python_images_per_s=round(python_rate, 1),
            export_vs_python_max_abs_diff=float(np.abs(served - python).max()),
            config=generator.config.to_dict(),
            load=load_average(),
        )
        rows.append(row)
        grid = np.concatenate([generator.generate(8, c, seed=3)["images"] for c in classes])
        write_png(image_grid(grid, 8), str(RESULTS_DIR / f"vision_generation_{arch}.png"))

    columns = [
        ("model", "{:<18}"), ("fid", "{:>9.2f}"), ("kid", "{:>9.4f}"), ("cas", "{:>8.3f}"),
        ("cas_ratio", "{:>10.3f}"), ("memorised_fraction", "{:>10.3f}"), ("train_s", "{:>9.1f}"),
        ("export_images_per_s", "{:>11.1f}"), ("python_images_per_s", "{:>11.1f}"),
    ]  # fmt: skip
    heads = [
        "model",
        "FID",
        "KID",
        "CAS",
        "CAS/real",
        "memorised",
        "train s",
        "export/s",
        "python/s",
    ]
    widths = [18, 9, 9, 8, 10, 10, 9, 11, 11]
    print(
        "\n"
        + f"{heads[0]:<18}"
        + "".join(f"{h:>{w}}" for h, w in zip(heads[1:], widths[1:], strict=True))
    )
    for r in rows:
        print("".join(fmt.format(r.get(k, float("nan"))) for k, fmt in columns))
    archs = [r for r in rows if r["model"] in CONFIGS]
    baseline = rows[1]
    payload = write_rows(args.output, "vision_generation", TARGETS, rows)
    payload.update(
        real_classifier_accuracy_cas_recipe=cas_real,
        feature_extractor="dlsuite ImageClassifier (small ResNet, pooled features) trained on "
        "the 3,000 real training images; InceptionV3 weights are not available offline",
        every_architecture_beats_baseline=all(
            r["fid"] < baseline["fid"] and r["kid"] < baseline["kid"] and r["cas"] > baseline["cas"]
            for r in archs
        ),
        best_cas_ratio=max((r["cas_ratio"] for r in archs), default=None),
        seconds=round(time.perf_counter() - started, 1),
        note="short CPU runs (epochs per row in the JSON), not converged; digits not run",
    )
    from bench._harness import write_json

    write_json(args.output, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
