"""Speech fixtures: synthetic utterances and one small recogniser trained once per session."""

from __future__ import annotations

import pytest

SAMPLE_RATE = 8000
SMALL_MODEL = dict(
    sample_rate=SAMPLE_RATE,
    num_bins=40,
    conv_filters=[16, 16],
    rnn_units=64,
    rnn_layers=1,
    batch_size=16,
    learning_rate=5e-3,
    spec_augment=False,
)


@pytest.fixture(scope="session")
def synthetic_split():
    from speech import make_utterances

    return make_utterances(240, sample_rate=SAMPLE_RATE, seed=0), make_utterances(
        30, sample_rate=SAMPLE_RATE, seed=1
    )


@pytest.fixture(scope="session")
def trained_asr(synthetic_split):
    """A small DeepSpeech2-style model trained for a few epochs on synthetic utterances."""
    from speech import SpeechRecognizer

    train, _ = synthetic_split
    task = SpeechRecognizer(**SMALL_MODEL)
    task.fit(train, epochs=10, verbose=0)
    return task
