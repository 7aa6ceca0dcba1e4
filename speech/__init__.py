"""CTC speech recognition: WAV files or waveforms in, transcripts out (``SpeechRecognizer``);
speaker identification and verification (``SpeakerRecognizer``).

Names are imported on first use, so ``import speech`` stays light.
"""

from common.lazy import lazy_exports

_EXPORTS = {
    "SpeakerRecognizer": "speech.speakers.task",
    "SpeakerRecognizerConfig": "speech.speakers.task",
    "SpeechRecognizer": "speech.asr",
    "SpeechRecognizerConfig": "speech.asr",
    "Utterances": "speech.data",
    "load_audio_folder": "speech.data",
    "load_librispeech": "speech.data",
    "load_manifest": "speech.data",
    "load_tfds_speech": "speech.data",
    "make_utterances": "speech.data",
    "write_manifest": "speech.data",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
