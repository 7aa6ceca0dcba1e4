"""Speech example pipeline, readable top to bottom: data -> model -> train -> evaluate -> export.

Run it with ``python -m speech.pipelines asr [--quick]``; ``dlsuite demo`` runs the quick version.
The built-in synthetic utterances (each character a distinct two-tone burst) stand in for speech
so that the pipeline runs offline in about a minute; real-speech quality is in bench/speech_asr.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from common.demo import DemoResult
from common.plots import plot_history
from speech.asr import SpeechRecognizer
from speech.data import make_utterances
from speech.features import encode_wav


def asr(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Synthetic command phrases ("go left", "stop") with a small DeepSpeech2-style model."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "speech_asr"

    # 1. Data: synthetic utterances of 1-3 command words at 8 kHz, a separate validation seed.
    train = make_utterances(240 if quick else 800, sample_rate=8000, seed=0)
    val = make_utterances(40 if quick else 100, sample_rate=8000, seed=1)

    # 2. Model: conv front end + bidirectional GRU, characters from the transcripts, CTC loss.
    recognizer = SpeechRecognizer(
        sample_rate=8000,
        num_bins=40,
        conv_filters=[16, 16] if quick else [32, 32],
        rnn_units=64 if quick else 128,
        rnn_layers=1 if quick else 2,
        spec_augment=not quick,
        learning_rate=5e-3 if quick else 2e-3,
    )

    # 3. Train, with the validation utterances for the loss curve.
    started = time.perf_counter()
    history = recognizer.fit(train, validation_data=val, epochs=10 if quick else 30, verbose=2)
    train_seconds = time.perf_counter() - started
    plot_history(history.history, reports_dir / "training_curves.png")

    # 4. Evaluate: word and character error rates, real-time factor.
    report = recognizer.evaluate(val)

    # 5. Export for TF Serving (WAV bytes in, transcript out) and check it agrees with predict.
    version_dir = recognizer.export(models_dir / "speech_asr")
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    payload = [encode_wav(audio, 8000) for audio in val.audio[:8]]
    served_text = [
        t.decode() for t in served(audio_bytes=tf.constant(payload))["transcript"].numpy()
    ]
    python_text = [r["transcript"] for r in recognizer.predict(payload)]
    agree = sum(s == p for s, p in zip(served_text, python_text, strict=True)) / len(payload)

    return {
        "task": "speech/asr (synthetic)",
        "wer": report["wer"],
        "cer": report["cer"],
        "rtf": report["rtf"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"audio_bytes": payload[:1]},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for speech: the quick ASR pipeline."""
    summary = asr(quick=True, models_dir=models_dir, reports_dir=reports_dir)
    request = summary.pop("request")
    return DemoResult(rows=[summary], requests={"speech_asr": request})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline", choices=["asr"])
    parser.add_argument("--quick", action="store_true", help="small model, few epochs")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--reports-dir", default="reports")
    args = parser.parse_args(argv)
    result = asr(args.quick, args.models_dir, args.reports_dir)
    result.pop("request")
    for key, value in result.items():
        print(f"{key:>15}: {value}")


if __name__ == "__main__":
    main()
