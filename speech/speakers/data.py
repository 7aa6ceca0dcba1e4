"""Speaker-labelled audio: one folder per speaker on disk, and synthetic voices made in code.

Both give ``(audio_items, speaker_names)``: parallel lists, audio items as
``speech.features.read_audio`` takes them (paths or ``(waveform, rate)`` pairs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speech.data import AUDIO_SUFFIXES

#: (F1, F2, F3) in Hz of five vowels of an adult male voice (Peterson & Barney averages).
VOWEL_FORMANTS = (
    (730.0, 1090.0, 2440.0),
    (270.0, 2290.0, 3010.0),
    (530.0, 1840.0, 2480.0),
    (570.0, 840.0, 2410.0),
    (300.0, 870.0, 2240.0),
)


def load_speaker_folder(folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``folder/<speaker>/*.wav`` (or FLAC, OGG, ...) -> (paths, speaker names), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}")
    paths, names = [], []
    for speaker in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(speaker.iterdir()):
            if path.suffix.lower() in AUDIO_SUFFIXES:
                paths.append(str(path))
                names.append(speaker.name)
    if not paths:
        raise ValueError(f"{folder} holds no <speaker>/<recording> audio files")
    return paths, names


def voice(index: int) -> tuple[float, float]:
    """Speaker ``index``'s (fundamental frequency in Hz, vocal-tract scale of the formants)."""
    pitches = (100.0, 210.0, 140.0, 260.0, 120.0, 180.0, 95.0, 235.0)
    scales = (1.0, 1.22, 0.9, 1.12, 1.3, 0.95, 1.15, 1.05)
    return pitches[index % len(pitches)], scales[(index * 3) % len(scales)]


def synthesize_voice(
    pitch: float, scale: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """One recording: 2-4 vowels of 0.12-0.2 s, harmonics of ``pitch`` (with jitter) shaped by
    formant resonances at ``scale`` times the vowel's formants, in light noise."""
    pieces = [np.zeros(int(0.05 * sample_rate))]
    for vowel in rng.choice(len(VOWEL_FORMANTS), size=int(rng.integers(2, 5))):
        n = int(rng.uniform(0.12, 0.2) * sample_rate)
        t = np.arange(n) / sample_rate
        f0 = pitch * rng.uniform(0.95, 1.05) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        sound = np.zeros(n)
        for harmonic in range(1, int(0.45 * sample_rate / pitch)):
            frequency = harmonic * pitch
            gain = sum(
                1.0 / (1.0 + ((frequency - scale * f) / (60.0 + 0.05 * f)) ** 2)
                for f in VOWEL_FORMANTS[vowel]
            )
            sound += gain / harmonic**0.5 * np.sin(harmonic * phase)
        ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (n // 6))
        pieces.append(sound * ramp)
    pieces.append(np.zeros(int(0.05 * sample_rate)))
    audio = np.concatenate(pieces)
    audio = audio / np.abs(audio).max() * rng.uniform(0.3, 0.8)
    return (audio + rng.normal(0, 0.005, audio.shape)).astype(np.float32)


def synthetic_voices(
    speakers: int = 6,
    recordings: int = 20,
    sample_rate: int = 8000,
    seed: int = 0,
    first: int = 0,
) -> tuple[list[Any], list[str]]:
    """``recordings`` synthetic recordings of each of ``speakers`` voices (``voice(first)``,
    ``voice(first + 1)``, ...) named ``voice<index>``, as ``(waveform, rate)`` pairs."""
    if speakers < 1 or recordings < 1:
        raise ValueError(
            f"speakers and recordings must be at least 1, got {speakers}, {recordings}"
        )
    rng = np.random.default_rng(seed)
    items, names = [], []
    for _ in range(recordings):
        for index in range(first, first + speakers):
            pitch, scale = voice(index)
            items.append((synthesize_voice(pitch, scale, sample_rate, rng), sample_rate))
            names.append(f"voice{index}")
    return items, names
