"""Speech example pipeline, readable top to bottom: data -> model -> train -> evaluate -> export.

Run it with ``python -m speech.pipelines asr [--quick]``; ``dlsuite demo`` runs the quick version.
The built-in synthetic utterances (each character a distinct two-tone burst) stand in for speech
so that the pipeline runs offline in about a minute; real-speech quality is in bench/speech_asr.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from common.demo import DemoResult
from common.pipelines import agreement, export_and_load, pipelines_main, run_demo, timed_fit
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
    train_seconds = timed_fit(
        recognizer, reports_dir, train, validation_data=val, epochs=10 if quick else 30, verbose=2
    )

    # 4. Evaluate: word and character error rates, real-time factor.
    report = recognizer.evaluate(val)

    # 5. Export for TF Serving (WAV bytes in, transcript out) and check it agrees with predict.
    version_dir, served = export_and_load(recognizer, models_dir / "speech_asr")
    payload = [encode_wav(audio, 8000) for audio in val.audio[:8]]
    agree = agreement(
        served(audio_bytes=tf.constant(payload))["transcript"].numpy(),
        [r["transcript"] for r in recognizer.predict(payload)],
    )

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
    return run_demo({"speech_asr": asr}, models_dir, reports_dir)


def main(argv: list[str] | None = None) -> None:
    """``python -m speech.pipelines asr [--quick]``."""
    pipelines_main({"asr": asr}, __doc__, argv)


if __name__ == "__main__":
    main()
