"""TFDS speech sets by name, read through tfds.testing.mock_data (no prepared files needed)."""

from __future__ import annotations

import numpy as np
import pytest

from speech.data import load_tfds_speech


@pytest.mark.parametrize("name", ["speech_commands", "librispeech"])
def test_tfds_speech_sets_become_utterances(name):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        utterances = load_tfds_speech(name, split="train")
    assert len(utterances.audio) == len(utterances.transcripts) == 3
    assert all(isinstance(t, str) and t for t in utterances.transcripts)
    assert all(a.dtype == np.float32 and np.abs(a).max() <= 1.0 for a in utterances.audio)
    assert utterances.sample_rates == [16000] * 3
    if name == "speech_commands":  # labels become their word, e.g. 'down', never an index
        assert all(not t.isdigit() for t in utterances.transcripts)
