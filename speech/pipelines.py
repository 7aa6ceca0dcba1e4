"""Speech example pipelines, readable top to bottom: data -> model -> train -> evaluate -> export.

Run them with ``python -m speech.pipelines asr|speakers [--quick]``; ``dlsuite demo`` runs the
quick versions. Built-in synthetic utterances (each character a distinct two-tone burst) and
synthetic voices (distinct pitch and formants) stand in for speech so that each runs offline in
about a minute; real-speech quality is in bench/speech_asr.py and bench/speech_speakers.py.
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
from speech.speakers.data import synthetic_voices
from speech.speakers.task import SpeakerRecognizer


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


def speakers(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Synthetic voices (distinct pitch and formants): x-vectors, enrolment, identification."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "speech_speakers"

    # 1. Data: 6 synthetic voices; training takes, then new takes to enrol and to test.
    train = synthetic_voices(6, 16 if quick else 30, sample_rate=8000, seed=0)
    enroll = synthetic_voices(6, 4, sample_rate=8000, seed=1)
    test = synthetic_voices(6, 5, sample_rate=8000, seed=2)

    # 2. Model: TDNN frame convolutions, statistics pooling, an embedding, AM-softmax training.
    recognizer = SpeakerRecognizer(
        sample_rate=8000,
        num_bins=32,
        channels=[32, 32] if quick else [64, 64, 64],
        pool_channels=64,
        embedding_dim=32,
        learning_rate=1e-2,
        margin=0.1,
        scale=16.0,
        batch_size=16,
    )
    train_seconds = timed_fit(recognizer, reports_dir, train, epochs=15 if quick else 25, verbose=2)

    # 3. Enrol every voice from its enrolment takes; score identification and verification.
    for name in dict.fromkeys(enroll[1]):
        recognizer.enroll(name, [a for a, n in zip(*enroll, strict=True) if n == name])
    report = recognizer.evaluate(test)

    # 4. Export with the enrolled voices baked in (WAV bytes -> speaker, score); compare.
    version_dir, served = export_and_load(recognizer, models_dir / "speech_speakers")
    payload = [encode_wav(audio, rate) for audio, rate in test[0][:8]]
    agree = agreement(
        served(audio_bytes=tf.constant(payload))["speaker"].numpy(),
        [r["speaker"] for r in recognizer.predict(payload)],
    )
    return {
        "task": "speech/speakers (synthetic voices)",
        "identification_accuracy": report["identification_accuracy"],
        "eer": report["eer"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"audio_bytes": payload[:1]},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for speech: the quick ASR and speaker pipelines."""
    return run_demo({"speech_asr": asr, "speech_speakers": speakers}, models_dir, reports_dir)


def main(argv: list[str] | None = None) -> None:
    """``python -m speech.pipelines asr|speakers [--quick]``."""
    pipelines_main({"asr": asr, "speakers": speakers}, __doc__, argv)


if __name__ == "__main__":
    main()
