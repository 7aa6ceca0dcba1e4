"""Speech data: transcript manifests, LibriSpeech folders, TFDS, and built-in synthetic utterances.

Every loader returns ``Utterances`` (audio items + transcripts): audio items are file paths or
NumPy waveforms, read lazily by ``speech.features.read_audio`` so big corpora are never held in
memory twice. The synthetic set is generated in code: each character is a distinct pair of
formant-like tones, so a small CTC model learns it in seconds (tests and the demo).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.data import load_tfds

SYNTHETIC_WORDS = ("yes", "no", "up", "down", "left", "right", "go", "stop", "on", "six")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclasses.dataclass
class Utterances:
    """Parallel lists: ``audio`` (paths or waveforms), ``transcripts``, ``sample_rates``.

    ``sample_rates[i]`` is None for files (their header says) and the rate of an array item.
    """

    audio: list[Any]
    transcripts: list[str]
    sample_rates: list[int | None]

    def __post_init__(self) -> None:
        if not (len(self.audio) == len(self.transcripts) == len(self.sample_rates)):
            raise ValueError(
                f"got {len(self.audio)} audio items, {len(self.transcripts)} transcripts and "
                f"{len(self.sample_rates)} sample rates; they must match"
            )

    def __len__(self) -> int:
        return len(self.audio)

    def items(self) -> list[Any]:
        """Audio items as ``predict`` takes them: paths, or ``(waveform, rate)`` pairs."""
        return [
            a if r is None else (a, r) for a, r in zip(self.audio, self.sample_rates, strict=True)
        ]

    def subset(self, indices: Sequence[int]) -> Utterances:
        return Utterances(
            [self.audio[i] for i in indices],
            [self.transcripts[i] for i in indices],
            [self.sample_rates[i] for i in indices],
        )


def normalize_transcript(text: str, lowercase: bool = True) -> str:
    """Collapse whitespace (and lowercase): the form transcripts are trained and scored in."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text.lower() if lowercase else text


# ---------------------------------------------------------------------------- files on disk
def load_manifest(path: str | os.PathLike) -> Utterances:
    """A CSV with a ``path,transcript`` header; relative paths are taken from the CSV's folder.

    Every problem (not UTF-8, broken CSV, a row without a path or transcript, a missing audio
    file) is a ``ValueError`` naming the manifest and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such manifest: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: a manifest must be UTF-8 text (bad byte at offset {error.start})"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict]] = []
    try:
        fieldnames = reader.fieldnames
        if fieldnames is None or not {"path", "transcript"} <= set(fieldnames):
            raise ValueError(
                f"{path}: a manifest needs a header with 'path' and 'transcript' columns"
            )
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as error:  # e.g. a field over csv.field_size_limit(), a stray quote
        raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({error})") from None
    if not rows:
        raise ValueError(f"{path}: the manifest lists no utterances")
    audio, transcripts = [], []
    for line, row in rows:
        name, transcript = row.get("path"), row.get("transcript")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{path}, line {line}: the row has no audio path")
        if not isinstance(transcript, str):
            raise ValueError(
                f"{path}, line {line}: the row for {name!r} has no transcript (too few fields)"
            )
        item = Path(name)
        item = item if item.is_absolute() else path.parent / item
        if not item.is_file():
            raise ValueError(f"{path}, line {line}: audio file {item} does not exist")
        audio.append(str(item))
        transcripts.append(transcript)
    return Utterances(audio, transcripts, [None] * len(rows))


def load_librispeech(folder: str | os.PathLike) -> Utterances:
    """LibriSpeech layout: ``speaker/chapter/*.trans.txt`` lines ``ID TEXT`` next to ``ID.flac``."""
    folder = Path(folder)
    audio, transcripts = [], []
    for listing in sorted(folder.rglob("*.trans.txt")):
        for line in listing.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            utterance_id, _, text = line.strip().partition(" ")
            match = [listing.parent / f"{utterance_id}{s}" for s in (".flac", ".wav")]
            found = next((m for m in match if m.is_file()), None)
            if found is None:
                raise ValueError(f"{listing}: no audio file for utterance {utterance_id}")
            audio.append(str(found))
            transcripts.append(text)
    if not audio:
        raise ValueError(f"{folder} holds no *.trans.txt files (LibriSpeech layout)")
    return Utterances(audio, transcripts, [None] * len(audio))


def load_audio_folder(folder: str | os.PathLike) -> Utterances:
    """A folder with ``manifest.csv`` (``path,transcript``) or in LibriSpeech layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}")
    if (folder / "manifest.csv").is_file():
        return load_manifest(folder / "manifest.csv")
    if next(folder.rglob("*.trans.txt"), None) is not None:
        return load_librispeech(folder)
    raise ValueError(
        f"{folder} has neither a manifest.csv (columns path,transcript) nor LibriSpeech "
        "*.trans.txt files"
    )


def write_manifest(utterances: Utterances, folder: str | os.PathLike) -> Path:
    """Write array utterances as 16-bit WAV files plus ``manifest.csv`` (e.g. to share a set)."""
    from speech.features import encode_wav

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (item, rate, text) in enumerate(
        zip(utterances.audio, utterances.sample_rates, utterances.transcripts, strict=True)
    ):
        if rate is None:
            rows.append((str(item), text))
            continue
        name = f"utt{i:05d}.wav"
        (folder / name).write_bytes(encode_wav(item, rate))
        rows.append((name, text))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "transcript"])
        writer.writerows(rows)
    return manifest


# ---------------------------------------------------------------------------- TFDS
def load_tfds_speech(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    download: bool | None = None,
) -> Utterances:
    """``librispeech`` or ``speech_commands`` from TFDS (16 kHz int16 audio).

    speech_commands labels become their word as the transcript. ``download`` as in
    ``common.data.load_tfds`` (default: download when online).
    """
    if name not in ("librispeech", "speech_commands"):
        raise ValueError(
            f"supported TFDS speech sets are librispeech and speech_commands, got {name!r}"
        )
    dataset, info = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=True, download=download, with_info=True
    )
    label_names = info.features["label"].names if name == "speech_commands" else None
    if limit is not None:
        dataset = dataset.take(limit)
    audio, transcripts = [], []
    for waveform, target in dataset.as_numpy_iterator():
        audio.append(waveform.astype(np.float32) / 32768.0)
        transcripts.append(label_names[int(target)].strip("_") if label_names else target.decode())
    return Utterances(audio, transcripts, [16000] * len(audio))


# ---------------------------------------------------------------------------- synthetic
def character_tones(alphabet: str) -> dict[str, tuple[float, float]]:
    """A distinct (low, high) formant-like frequency pair per character, all below 3.5 kHz."""
    lows = (300.0, 450.0, 600.0, 750.0, 900.0)
    highs = (1300.0, 1800.0, 2300.0, 2800.0, 3300.0)
    if len(alphabet) > len(lows) * len(highs):
        raise ValueError(
            f"at most {len(lows) * len(highs)} distinct characters, got {len(alphabet)}"
        )
    return {ch: (lows[i % len(lows)], highs[i // len(lows)]) for i, ch in enumerate(alphabet)}


def synthesize(text: str, sample_rate: int, rng: np.random.Generator, tones: dict) -> np.ndarray:
    """One utterance: per character a ~90 ms two-tone burst, short gaps, longer gaps at spaces."""
    pieces = [np.zeros(int(rng.uniform(0.05, 0.15) * sample_rate))]
    pitch = rng.uniform(0.97, 1.03)  # a per-"speaker" shift of every formant
    for ch in text:
        if ch == " ":
            pieces.append(np.zeros(int(rng.uniform(0.10, 0.18) * sample_rate)))
            continue
        low, high = tones[ch]
        n = int(rng.uniform(0.07, 0.11) * sample_rate)
        t = np.arange(n) / sample_rate
        burst = np.sin(2 * np.pi * low * pitch * t) + 0.6 * np.sin(
            2 * np.pi * high * pitch * t + rng.uniform(0, 6.28)
        )
        ramp = max(1, n // 8)
        envelope = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / ramp)
        pieces.append(burst * envelope * rng.uniform(0.6, 1.0))
        pieces.append(np.zeros(int(rng.uniform(0.015, 0.035) * sample_rate)))
    pieces.append(np.zeros(int(rng.uniform(0.05, 0.15) * sample_rate)))
    audio = np.concatenate(pieces)
    audio = audio / max(np.abs(audio).max(), 1e-6) * rng.uniform(0.3, 0.8)
    audio += rng.normal(0, 0.01, audio.shape)  # about 25-30 dB SNR
    return audio.astype(np.float32)


def make_utterances(
    count: int = 400,
    sample_rate: int = 8000,
    words: Sequence[str] = SYNTHETIC_WORDS,
    max_words: int = 3,
    seed: int = 0,
) -> Utterances:
    """``count`` synthetic utterances of 1..``max_words`` random words, as float32 arrays."""
    if count < 1 or max_words < 1:
        raise ValueError(f"count and max_words must be at least 1, got {count} and {max_words}")
    alphabet = "".join(sorted({ch for word in words for ch in word}))
    tones = character_tones(alphabet)
    rng = np.random.default_rng(seed)
    audio, transcripts = [], []
    for _ in range(count):
        text = " ".join(rng.choice(list(words), size=int(rng.integers(1, max_words + 1))))
        audio.append(synthesize(text, sample_rate, rng, tones))
        transcripts.append(text)
    return Utterances(audio, transcripts, [sample_rate] * count)


def utterances_from_dataset(dataset: Any, default_rate: int) -> Utterances:
    """An unbatched ``tf.data.Dataset`` of ``(waveform, transcript)`` (at ``default_rate``) or
    ``(waveform, sample_rate, transcript)`` -> ``Utterances`` held in memory."""
    audio, transcripts, rates = [], [], []
    for element in dataset.as_numpy_iterator():
        if not isinstance(element, tuple) or len(element) not in (2, 3):
            raise ValueError(
                "a speech tf.data.Dataset must yield (waveform, transcript) or "
                "(waveform, sample_rate, transcript) for single utterances (unbatched)"
            )
        waveform, rate, text = (
            element if len(element) == 3 else (element[0], default_rate, element[1])
        )
        audio.append(np.asarray(waveform))
        rates.append(int(rate))
        transcripts.append(text.decode("utf-8") if isinstance(text, bytes) else str(text))
    return Utterances(audio, transcripts, rates)


def iter_examples(
    utterances: Utterances, default_rate: int
) -> Iterator[tuple[np.ndarray, int, str]]:
    """Yield ``(mono float32 waveform, sample rate, transcript)``, reading files as it goes."""
    from speech.features import read_audio

    for item, text in zip(utterances.items(), utterances.transcripts, strict=True):
        waveform, rate = read_audio(item, default_rate)
        yield waveform, rate, text
