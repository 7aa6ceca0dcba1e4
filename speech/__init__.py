"""CTC speech recognition: WAV files or waveforms in, transcripts out (``SpeechRecognizer``)."""

from speech.asr import SpeechRecognizer, SpeechRecognizerConfig
from speech.data import (
    Utterances,
    load_audio_folder,
    load_librispeech,
    load_manifest,
    load_tfds_speech,
    make_utterances,
    write_manifest,
)

__all__ = [
    "SpeechRecognizer",
    "SpeechRecognizerConfig",
    "Utterances",
    "load_audio_folder",
    "load_librispeech",
    "load_manifest",
    "load_tfds_speech",
    "make_utterances",
    "write_manifest",
]
