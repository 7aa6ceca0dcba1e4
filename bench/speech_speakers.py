"""Speaker benchmark: SpeakerRecognizer on the Free Spoken Digit Dataset (FSDD), 5 speakers.

Speakers split by recordings: the x-vector embedder trains on recordings 10-49 of every digit
and speaker, each speaker is enrolled from recordings 5-9, and recordings 0-4 (250, never seen
in training or enrolment) are identified (closed set, 5 speakers) and verified against every
enrolled voice (250 target and 1,000 non-target trials): identification accuracy, EER and
minDCF (p_target 0.01 and 0.1). The exported SavedModel (gallery baked in) answers the same
held-out WAV bytes in a fresh TensorFlow-only process and is compared with ``predict``.
``--unseen NAME`` adds a row where the embedder never heard NAME (trained on the other four
speakers) and NAME is still enrolled and tested like the others: voices unseen in training.

    python bench/speech_speakers.py [--data ../shared/data/fsdd] [--epochs 20] [--max-minutes 10]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECIPE = dict(
    sample_rate=8000,
    num_bins=40,
    channels=[128, 128, 128],
    pool_channels=256,
    embedding_dim=128,
    dropout=0.1,
    learning_rate=3e-3,
    margin=0.2,
    scale=30.0,
    batch_size=32,
)

SERVE = """
import json, sys
import numpy as np
import tensorflow as tf
version_dir, files = sys.argv[1], json.loads(sys.stdin.read())
fn = tf.saved_model.load(version_dir).signatures["serving_default"]
out = [fn(audio_bytes=tf.constant([open(f, "rb").read() for f in files[i : i + 32]]))
       for i in range(0, len(files), 32)]
print(json.dumps({
    "speaker": [s.decode() for o in out for s in o["speaker"].numpy()],
    "score": [float(s) for o in out for s in o["score"].numpy()],
    "embedding": np.concatenate([o["embedding"].numpy() for o in out]).tolist(),
}))
"""


def split_fsdd(folder: Path) -> dict[str, tuple[list[str], list[str]]]:
    """train (index 10-49), enroll (5-9) and test (0-4): (paths, speaker names) each."""
    files = sorted((folder / "recordings").glob("*.wav"))
    if not files:
        raise SystemExit(f"no FSDD recordings in {folder / 'recordings'}")
    parts: dict[str, tuple[list[str], list[str]]] = {
        p: ([], []) for p in ("train", "enroll", "test")
    }
    for path in files:
        _digit, speaker, index = path.stem.split("_")
        part = "test" if int(index) < 5 else "enroll" if int(index) < 10 else "train"
        parts[part][0].append(str(path))
        parts[part][1].append(speaker)
    return parts


def main(argv: list[str] | None = None) -> dict:
    from bench._harness import DATA_ROOT, RESULTS_DIR, EpochTimeBudget, bench_parser, load_average

    parser = bench_parser(__doc__)
    parser.add_argument("--data", default=str(DATA_ROOT / "fsdd"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--unseen", help="also train without this speaker (an unseen voice)")
    parser.add_argument("--output", default=str(RESULTS_DIR / "speech_speakers.json"))
    args = parser.parse_args(argv)

    import numpy as np

    from speech import SpeakerRecognizer

    parts = split_fsdd(Path(args.data))
    task = SpeakerRecognizer(**RECIPE)
    started = time.perf_counter()
    budget = EpochTimeBudget(60 * args.max_minutes, announce=True)
    task.fit(parts["train"], epochs=args.epochs, callbacks=[budget], verbose=2)
    train_seconds = time.perf_counter() - started
    enroll_paths, enroll_names = parts["enroll"]
    for name in sorted(set(enroll_names)):
        task.enroll(name, [p for p, n in zip(enroll_paths, enroll_names, strict=True) if n == name])
    rows = []
    for p_target in (0.01, 0.1):
        report = task.evaluate(parts["test"], p_target=p_target)
        rows.append({"system": f"SpeakerRecognizer (Python), p_target {p_target}", **report})

    test_paths, test_names = parts["test"]
    expected = task.predict(test_paths)
    with tempfile.TemporaryDirectory() as tmp:
        version = task.export(Path(tmp) / "speakers")
        probe = subprocess.run(
            [sys.executable, "-c", SERVE, str(version)],
            input=json.dumps(test_paths),
            capture_output=True,
            text=True,
            check=True,
        )
    served = json.loads(probe.stdout.strip().splitlines()[-1])
    agree = float(
        np.mean([s == e["speaker"] for s, e in zip(served["speaker"], expected, strict=True)])
    )
    difference = float(
        np.max(np.abs(np.array(served["embedding"]) - np.stack([e["embedding"] for e in expected])))
    )
    export_accuracy = float(
        np.mean([s == n for s, n in zip(served["speaker"], test_names, strict=True)])
    )
    rows.append(
        {
            "system": "exported SavedModel on WAV bytes (gallery baked in)",
            "identification_accuracy": export_accuracy,
            "agrees_with_predict": agree,
            "max_embedding_difference": difference,
        }
    )
    if args.unseen:
        rows.append(unseen_row(parts, args))
    print(f"\n{'system':<52} {'ident. acc':>10} {'EER':>7} {'minDCF':>7}")
    for row in rows:
        eer = f"{row['eer']:.4f}" if "eer" in row else "-"
        dcf = f"{row['min_dcf']:.4f}" if "min_dcf" in row else "-"
        print(f"{row['system']:<52} {row['identification_accuracy']:>10.4f} {eer:>7} {dcf:>7}")
    print(f"export agrees with predict on {agree:.1%} (max embedding difference {difference:.2e})")
    result = {
        "benchmark": "speech_speakers",
        "dataset": "FSDD, 5 speakers: train index 10-49 (2000), enroll 5-9 (250), test 0-4 (250)",
        "config": task.config.to_dict(),
        "bench_args": {"epochs": args.epochs, "max_minutes": args.max_minutes},
        "epochs": len(task.history["loss"]),
        "train_seconds": round(train_seconds, 1),
        "parameters": task.model.count_params(),
        "load_average": load_average(),
        "rows": rows,
        "note": "closed set of 5 speakers, all seen in training (other recordings); "
        "2-core CPU shared with other jobs",
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return result


def unseen_row(parts: dict, args) -> dict:
    """Train without ``args.unseen``'s recordings, enrol all five speakers, score the test set."""
    from speech import SpeakerRecognizer

    paths, names = parts["train"]
    keep = [i for i, n in enumerate(names) if n != args.unseen]
    task = SpeakerRecognizer(**RECIPE)
    task.fit(([paths[i] for i in keep], [names[i] for i in keep]), epochs=args.epochs, verbose=2)
    enroll_paths, enroll_names = parts["enroll"]
    for name in sorted(set(enroll_names)):
        task.enroll(name, [p for p, n in zip(enroll_paths, enroll_names, strict=True) if n == name])
    report = task.evaluate(parts["test"])
    test_paths, test_names = parts["test"]
    mine = [p for p, n in zip(test_paths, test_names, strict=True) if n == args.unseen]
    found = [r["speaker"] == args.unseen for r in task.predict(mine)]
    return {
        "system": f"embedder trained without {args.unseen} (all 5 enrolled)",
        **report,
        "unseen_speaker_identification_accuracy": sum(found) / len(found),
    }


if __name__ == "__main__":
    main()
