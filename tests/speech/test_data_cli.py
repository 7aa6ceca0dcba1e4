"""Speech data loaders (manifest, LibriSpeech layout, synthetic set) and the CLI commands."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from speech import SpeechRecognizer, Utterances, load_audio_folder, load_manifest, make_utterances
from speech import cli as speech_cli
from speech.data import write_manifest
from tests.cli_helpers import check_export, domain_runner
from tests.speech.conftest import SAMPLE_RATE


def test_synthetic_utterances_are_reproducible_and_distinct():
    a, b = make_utterances(5, seed=3), make_utterances(5, seed=3)
    assert a.transcripts == b.transcripts
    assert all(np.array_equal(x, y) for x, y in zip(a.audio, b.audio, strict=True))
    assert make_utterances(5, seed=4).transcripts != a.transcripts
    assert all(x.dtype == np.float32 and np.abs(x).max() <= 1.0 for x in a.audio)
    with pytest.raises(ValueError, match="must match"):
        Utterances([np.zeros(3)], ["a", "b"], [8000])


def test_manifest_and_librispeech_folders(tmp_path):
    utterances = make_utterances(3, seed=0)
    manifest = write_manifest(utterances, tmp_path / "set")
    loaded = load_manifest(manifest)
    assert loaded.transcripts == utterances.transcripts
    assert load_audio_folder(tmp_path / "set").audio == loaded.audio
    chapter = tmp_path / "libri" / "19" / "198"
    chapter.mkdir(parents=True)
    lines = []
    for i, (audio, text) in enumerate(zip(utterances.audio, utterances.transcripts, strict=True)):
        buffer = io.BytesIO()
        soundfile.write(buffer, audio, SAMPLE_RATE, format="FLAC")
        (chapter / f"19-198-{i:04d}.flac").write_bytes(buffer.getvalue())
        lines.append(f"19-198-{i:04d} {text.upper()}")
    (chapter / "19-198.trans.txt").write_text("\n".join(lines) + "\n")
    libri = load_audio_folder(tmp_path / "libri")
    assert libri.transcripts == [t.upper() for t in utterances.transcripts]
    dataset = SpeechRecognizer(sample_rate=SAMPLE_RATE, num_bins=40).make_dataset(
        libri, 2, training=True
    )
    inputs, labels = next(iter(dataset))
    assert inputs["features"].shape[0] == 2 and inputs["features"].shape[2] == 40
    assert labels.shape[0] == 2 and int(labels.numpy().min()) >= -1
    as_tf_data = tf.data.Dataset.from_generator(
        lambda: (
            (a, 8000, t) for a, t in zip(utterances.audio, utterances.transcripts, strict=True)
        ),
        output_signature=(
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.string),
        ),
    )
    task = SpeechRecognizer(sample_rate=SAMPLE_RATE, num_bins=40)
    assert task.to_utterances(as_tf_data).transcripts == utterances.transcripts
    with pytest.raises(ValueError, match="unbatched"):
        task.to_utterances(tf.data.Dataset.from_tensor_slices(np.zeros((2, 3))))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="manifest.csv"):
        load_audio_folder(tmp_path / "empty")
    (tmp_path / "bad.csv").write_text("file,text\na.wav,hi\n")
    with pytest.raises(ValueError, match="'path' and 'transcript'"):
        load_manifest(tmp_path / "bad.csv")


def test_tfds_speech_names_are_checked_and_missing_data_is_explained(tmp_path):
    from common.data import DatasetNotOnDiskError
    from speech import load_tfds_speech

    with pytest.raises(ValueError, match="librispeech and speech_commands"):
        load_tfds_speech("mnist")
    with pytest.raises(DatasetNotOnDiskError, match="tfds build"):
        load_tfds_speech("speech_commands", data_dir=tmp_path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlsuite")
    speech_cli.register(parser.add_subparsers(dest="domain", required=True))
    return parser


_run = domain_runner(speech_cli.register, dest="domain")


@pytest.mark.slow
def test_cli_evaluate_transcribe_export(trained_asr, synthetic_split, tmp_path, capsys):
    _, val = synthetic_split
    model = str(trained_asr.save(tmp_path / "asr.keras"))
    write_manifest(val.subset(range(6)), tmp_path / "val")
    assert _run("speech asr evaluate --model", model, "--data", tmp_path / "val") == 0
    assert '"cer"' in capsys.readouterr().out
    wav = str(tmp_path / "val" / "utt00000.wav")
    assert _run("speech asr transcribe --model", model, wav) == 0
    assert val.transcripts[0] in capsys.readouterr().out
    check_export(_run, "speech asr", model, tmp_path / "m")
    with pytest.raises(ValueError, match="unknown built-in"):
        speech_cli.resolve_data("builtin:librispeech")
    with pytest.raises(SystemExit):
        _parser().parse_args(["speech", "asr", "transcribe"])


@pytest.mark.slow
def test_cli_train_writes_a_model(tmp_path, capsys):
    output = tmp_path / "tiny.keras"
    argv = [
        "speech",
        "asr",
        "train",
        "--data",
        "builtin:synthetic:24",
        "--val-data",
        "builtin:synthetic:6",
        "--sample-rate",
        "8000",
        "--num-bins",
        "24",
        "--rnn-units",
        "16",
        "--rnn-layers",
        "1",
        "--epochs",
        "1",
        "--output",
        str(output),
    ]
    assert _run(argv) == 0
    assert output.is_file() and "validation WER" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        _run(argv)
