"""Face verification and identification, ON SYNTHETIC FACES: no real face set is available
offline here (scikit-learn's Olivetti and LFW fetchers download, TFDS ``lfw`` is not built, and
``../shared/data`` holds no faces), so this measures the pipeline on ``vision.make_faces``
cartoons, not face-recognition quality. Pass ``--faces DIR`` (one folder per person: LFW or
the AT&T/ORL Olivetti layout) to run the same protocol on real faces.

Protocol: people are split by identity (no person in both); ``FaceRecognizer`` trains on the
first, and on the unseen rest every pair of images is a verification trial (EER, min DCF) and,
with ``--enroll`` images of each person enrolled, the others are identified. The same scores
are computed from the exported SavedModel's embeddings of PNG bytes, and for an eigenfaces
baseline (scikit-learn PCA on the training people's pixels, cosine of the projections).

    python -m bench.vision_faces [--faces DIR] [--seeds 0,1]
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from sklearn.decomposition import PCA

import vision
from bench._harness import RESULTS_DIR, bench_parser, load_average, write_json
from common.verification import Gallery, equal_error_rate, identification_accuracy, min_dcf
from vision.images import encode_png

RESULTS_PATH = RESULTS_DIR / "vision_faces.json"
CONFIG: dict[str, Any] = dict(image_size=32, widths=[16, 32, 64], flip="horizontal", rotation=0.0,
              embedding_dim=64, batch_size=32, learning_rate=3e-3)  # fmt: skip


def scores_of(embeddings: np.ndarray, names: list[str], enroll: int) -> dict[str, float]:
    """EER, min DCF over all pairs, and identification with ``enroll`` images per person."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    pairs = np.array(list(itertools.combinations(range(len(names)), 2)))
    labels = np.array(names)
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    trial_scores = np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)
    gallery, probes = Gallery(), []
    for name in sorted(set(names)):
        where = np.flatnonzero(labels == name)
        gallery.enroll(name, embeddings[where[:enroll]])
        probes += list(where[enroll:])
    predicted = np.array(gallery.names)[np.argmax(gallery.scores(embeddings[probes]), axis=1)]
    return {
        "eer": equal_error_rate(same, trial_scores)[0],
        "min_dcf": min_dcf(same, trial_scores)[0],
        "identification_accuracy": identification_accuracy(list(labels[probes]), list(predicted)),
    }


def run(faces: Any, train_people: int, epochs: int, enroll: int, seed: int) -> dict[str, Any]:
    people = list(np.random.default_rng(seed).permutation(faces.identities))
    train, test = faces.select(people[:train_people]), faces.select(people[train_people:])
    task = vision.FaceRecognizer(classes=train.identities, seed=seed, **CONFIG)
    started = time.perf_counter()
    task.fit(train, epochs=epochs, verbose=0)
    train_s = time.perf_counter() - started
    payload = [encode_png(image) for image in test.images]
    with tempfile.TemporaryDirectory() as folder:
        serve = tf.saved_model.load(str(task.export(Path(folder) / "m"))).signatures[
            "serving_default"
        ]
        exported = np.concatenate(
            [
                serve(image_bytes=tf.constant(payload[i : i + 128]))["embedding"].numpy()
                for i in range(0, len(payload), 128)
            ]
        )
    size = CONFIG["image_size"]
    pixels = [tf.image.resize(i, (size, size)).numpy().reshape(-1) for i in train.images]
    pca = PCA(n_components=min(CONFIG["embedding_dim"], len(pixels) - 1), whiten=True)
    pca.fit(np.array(pixels))
    test_pixels = np.array(
        [tf.image.resize(i, (size, size)).numpy().reshape(-1) for i in test.images]
    )
    return {
        "seed": seed,
        "train_people": len(train.identities),
        "test_people": len(test.identities),
        "test_images": len(test),
        "train_s": round(train_s, 1),
        "face_recognizer_python": scores_of(task.embed(list(test.images)), test.names, enroll),
        "face_recognizer_export_png": scores_of(exported, test.names, enroll),
        "eigenfaces_pca": scores_of(pca.transform(test_pixels), test.names, enroll),
        "load_average": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--faces", type=Path, help="a real face folder (default: synthetic)")
    parser.add_argument("--identities", type=int, default=60, help="synthetic people")
    parser.add_argument("--per-identity", type=int, default=10, help="synthetic images each")
    parser.add_argument("--train-people", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--enroll", type=int, default=2)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if args.faces:
        faces, source = (
            vision.load_face_folder(args.faces, CONFIG["image_size"], 2),
            str(args.faces),
        )
    else:
        faces = vision.make_faces(args.identities, args.per_identity, CONFIG["image_size"], 0)
        source = "SYNTHETIC vision.make_faces (no real face set offline)"
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows.append(run(faces, args.train_people, args.epochs, args.enroll, seed))
        print(rows[-1], flush=True)
    methods = ("face_recognizer_python", "face_recognizer_export_png", "eigenfaces_pca")
    summary = {m: {k: statistics.mean(r[m][k] for r in rows) for k in rows[0][m]} for m in methods}
    print(f"\ndata: {source}\n{'method':28} {'EER':>7} {'minDCF':>7} {'ident acc':>9}")
    for method, values in summary.items():
        print(f"{method:28} {values['eer']:7.4f} {values['min_dcf']:7.4f} "
              f"{values['identification_accuracy']:9.4f}")  # fmt: skip
    write_json(
        args.output,
        {
            "benchmark": "vision_faces",
            "data": source,
            "config": {**CONFIG, "epochs": args.epochs, "enroll_per_person": args.enroll},
            "summary_mean_over_seeds": summary,
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
