"""SpeakerRecognizer on synthetic voices: learning, enrolment, bad input, save/load, export, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.export import saved_model_op_types
from speech import SpeakerRecognizer, SpeechRecognizer
from speech.cli import register
from speech.features import encode_wav
from speech.speakers.data import synthetic_voices
from tests.cli_helpers import domain_runner
from tests.conftest import run_fresh_tensorflow

RATE = 8000
SMALL = dict(
    sample_rate=RATE,
    num_bins=32,
    channels=[32, 32],
    pool_channels=64,
    embedding_dim=32,
    batch_size=16,
    learning_rate=1e-2,
    margin=0.1,
    scale=16.0,
)


def _by_speaker(data, name, count):
    return [item for item, n in zip(*data, strict=True) if n == name][:count]


@pytest.fixture(scope="module")
def voices():
    """Six synthetic voices (distinct pitch and formant scale): training and held-out takes."""
    return synthetic_voices(6, 16, RATE, seed=0), synthetic_voices(6, 5, RATE, seed=1)


@pytest.fixture(scope="module")
def trained(voices):
    train, _ = voices
    task = SpeakerRecognizer(**SMALL)
    task.fit(train, epochs=15, verbose=0)
    return task


@pytest.fixture()
def enrolled(trained, voices):
    train, _ = voices
    trained.gallery = type(trained.gallery)()
    for name in ("voice0", "voice1", "voice2"):
        trained.enroll(name, _by_speaker(train, name, 4))
    return trained


def test_learns_to_tell_synthetic_voices_apart(trained, voices):
    train, test = voices
    assert trained.config.speakers == [f"voice{i}" for i in range(6)]
    report = trained.evaluate(test, enrollment=train)
    assert report["identification_accuracy"] >= 0.8, report
    assert report["eer"] <= 0.2, report
    assert 0.0 <= report["min_dcf"] <= 1.0 and report["num_trials"] == 30 * 6
    embeddings = trained.embed(test[0][:3])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_enroll_identify_verify(enrolled, voices):
    _, test = voices
    take = _by_speaker(test, "voice1", 1)[0]
    assert enrolled.identify(take)["speaker"] == "voice1"
    same = enrolled.verify(take, "voice1", threshold=-1.0)
    other = enrolled.verify(take, "voice0", threshold=same["score"])
    assert same["same"] and not other["same"] and other["score"] < same["score"]
    (result,) = enrolled.predict([take])
    assert result["speaker"] == "voice1" and result["score"] == pytest.approx(same["score"], 1e-5)


def test_bad_input_is_refused_and_a_failed_enroll_changes_nothing(enrolled, voices):
    train, _ = voices
    before = enrolled.gallery.to_state()
    good = _by_speaker(train, "voice3", 2)
    zero_samples = encode_wav(np.zeros(0, np.float32), RATE)
    for bad, message in [
        (b"", "empty"),
        (zero_samples, "empty"),
        (b"RIFF not really a wav file", "not a readable audio file"),
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN"),
    ]:
        with pytest.raises(ValueError, match=message):
            enrolled.enroll("voice3", [*good, bad])
    assert enrolled.gallery.to_state() == before
    with pytest.raises(ValueError, match="'nobody' is not enrolled"):
        enrolled.verify(good[0], "nobody")
    with pytest.raises(ValueError, match="empty"):
        SpeakerRecognizer(**SMALL, speakers=["a", "b"]).identify(good[0])
    with pytest.raises(ValueError, match="2 recordings but 1 speaker"):
        SpeakerRecognizer(**SMALL).fit((good, ["x"]), epochs=1)


def test_stereo_and_other_rates_are_handled_like_the_asr(enrolled, voices):
    _, test = voices
    waveform, rate = _by_speaker(test, "voice2", 1)[0]
    mono = encode_wav(waveform, rate)
    stereo = encode_wav(np.stack([waveform, waveform], axis=1), rate)
    upsampled = np.interp(np.arange(len(waveform) * 2) / 2, np.arange(len(waveform)), waveform)
    embeddings = enrolled.embed([mono, stereo, (upsampled.astype(np.float32), 2 * rate)])
    np.testing.assert_allclose(embeddings[1], embeddings[0], atol=1e-5)
    assert float(embeddings[2] @ embeddings[0]) > 0.9


@pytest.mark.slow
def test_save_load_keeps_the_gallery_and_export_agrees_in_fresh_tensorflow(
    enrolled, voices, tmp_path
):
    _, test = voices
    loaded = SpeakerRecognizer.load(enrolled.save(tmp_path / "speakers.keras"))
    assert loaded.gallery.names == ["voice0", "voice1", "voice2"]
    payload = [encode_wav(w, r) for w, r in test[0][:6]]
    np.testing.assert_allclose(loaded.embed(payload), enrolled.embed(payload), atol=1e-5)
    version = loaded.export(tmp_path / "models")
    files = []
    for i, wav in enumerate(payload):
        files.append(str(tmp_path / f"take{i}.wav"))
        Path(files[-1]).write_bytes(wav)
    # One fresh interpreter (two cost ~8 s each) answers both questions: which of the model's
    # op types core TensorFlow lacks (what common.export.non_core_ops asks), then what it serves.
    ops = sorted(saved_model_op_types(version))
    missing = run_fresh_tensorflow(f"""
        import numpy as np
        from tensorflow.python.framework import op_def_registry
        print(" ".join(op for op in {ops!r} if op_def_registry.get(op) is None))
        fn = tf.saved_model.load({str(version)!r}).signatures["serving_default"]
        wavs = [open(f, "rb").read() for f in {files!r}]
        out = fn(audio_bytes=tf.constant(wavs))
        np.savez({str(tmp_path / "out.npz")!r}, **{{k: v.numpy() for k, v in out.items()}})
    """)
    with np.load(tmp_path / "out.npz", allow_pickle=True) as out:  # our own file
        served = {k: out[k] for k in out.files}
    expected = loaded.predict(payload)
    np.testing.assert_allclose(served["embedding"], [e["embedding"] for e in expected], atol=1e-4)
    assert [s.decode() for s in served["speaker"]] == [e["speaker"] for e in expected]
    np.testing.assert_allclose(served["score"], [e["score"] for e in expected], atol=1e-4)
    assert ops and missing.split() == []


@pytest.mark.slow
def test_cli_train_enroll_identify_verify_export(tmp_path, capsys, voices):
    run = domain_runner(register, dest="domain")
    model = tmp_path / "spk.keras"
    assert (
        run(
            "speech speakers train --data builtin:voices:3 --epochs 1 --sample-rate 8000",
            "--num-bins 16 --channels 8,8 --pool-channels 8 --embedding-dim 8 --output",
            model,
        )
        == 0
    )
    _, test = voices
    files = []
    for i, (waveform, rate) in enumerate(test[0][:2]):
        files.append(tmp_path / f"take{i}.wav")
        files[-1].write_bytes(encode_wav(waveform, rate))
    assert run("speech speakers enroll --model", model, "--name ann", files[0]) == 0
    assert run("speech speakers identify --model", model, files[1]) == 0
    assert "ann" in capsys.readouterr().out.splitlines()[-1]
    assert (
        run("speech speakers verify --json --threshold -1 --model", model, "--name ann", files[1])
        == 0
    )
    assert '"same": true' in capsys.readouterr().out
    with pytest.raises(ValueError, match="'bob' is not enrolled"):
        run("speech speakers verify --model", model, "--name bob", files[1])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        run("speech speakers enroll --model", model, "--name ann", bad)
    assert SpeakerRecognizer.load(model).gallery.count("ann") == 1  # the file is unchanged


def test_asr_augmentation_options_perturb_training_features_only():
    from speech import make_utterances

    with pytest.raises(ValueError, match="speed_perturbation and vtlp"):
        SpeechRecognizer(speed_perturbation=0.7)
    train = make_utterances(16, sample_rate=RATE, seed=0)
    task = SpeechRecognizer(
        sample_rate=RATE,
        num_bins=24,
        conv_filters=[8, 8],
        rnn_units=16,
        rnn_layers=1,
        speed_perturbation=0.1,
        vtlp=0.1,
        noise_snr_db=10.0,
        spec_augment_masks=1,
    )
    task._normalized(train, training=True)  # the alphabet, as fit sets it
    (plain,), (again,) = (task.make_dataset(train, 16, training=False).take(1) for _ in "ab")
    perturbed = next(iter(task.make_dataset(train, 16, training=True)))
    assert perturbed[0]["features"].shape[-1] == 24
    assert np.all(np.isfinite(perturbed[0]["features"].numpy()))
    np.testing.assert_array_equal(plain[0]["features"], again[0]["features"])  # eval: none
    with pytest.raises(ValueError, match="speed_perturbation and vtlp"):
        SpeechRecognizer(vtlp=-0.1)
