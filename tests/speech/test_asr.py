"""SpeechRecognizer: learning, predict inputs, decoders, long audio, save/load, export, errors."""

from __future__ import annotations

import io
import json

import jiwer
import numpy as np
import pytest
import scipy.signal
import soundfile

from common.export import non_core_ops, read_warmup_requests
from speech import SpeechRecognizer
from speech.features import encode_wav
from tests.conftest import run_fresh_tensorflow
from tests.speech.conftest import SAMPLE_RATE, SMALL_MODEL


@pytest.mark.slow
def test_short_training_on_synthetic_utterances_reaches_low_cer(trained_asr, synthetic_split):
    _, val = synthetic_split
    report = trained_asr.evaluate(val)
    assert report["cer"] <= 0.2, report["examples"]
    assert report["wer"] <= 0.5
    assert report["num_utterances"] == len(val) and report["rtf"] > 0
    assert trained_asr.config.alphabet == "".join(sorted(set("".join(val.transcripts)) | {" "}))


def test_predict_accepts_paths_bytes_arrays_flac_and_other_rates(
    trained_asr, synthetic_split, tmp_path
):
    _, val = synthetic_split
    audio, text = val.audio[0], val.transcripts[0]
    wav = encode_wav(audio, SAMPLE_RATE)
    (tmp_path / "a.wav").write_bytes(wav)
    flac = io.BytesIO()
    soundfile.write(flac, audio, SAMPLE_RATE, format="FLAC")
    (tmp_path / "a.flac").write_bytes(flac.getvalue())
    stereo = encode_wav(np.stack([audio, audio], axis=1), SAMPLE_RATE)
    at_22k = scipy.signal.resample_poly(audio, 441, 160).astype(np.float32)  # 8 kHz -> 22.05 kHz
    inputs = [tmp_path / "a.wav", str(tmp_path / "a.flac"), wav, audio, stereo]
    results = trained_asr.predict(inputs)
    assert len({r["transcript"] for r in results}) == 1  # the same audio, however it is given
    assert jiwer.cer(text, results[0]["transcript"]) <= 0.2
    assert all(0.0 < r["score"] <= 1.0 for r in results)
    resampled = trained_asr.predict((at_22k, 22050))  # one (waveform, rate) pair: one result
    assert jiwer.cer(text, resampled["transcript"]) <= 0.2
    clipped = trained_asr.predict(np.clip(audio * 4, -1, 1))  # clipped input still decodes
    assert jiwer.cer(text, clipped["transcript"]) <= 0.2


def test_predict_contract_one_input_one_result(trained_asr, synthetic_split):
    _, val = synthetic_split
    audio = val.audio[0]
    one = trained_asr.predict(audio)
    assert isinstance(one, dict) and set(one) == {"transcript", "score"}
    (listed,) = trained_asr.predict([audio])  # a list of one waveform: a list of one result
    assert listed == one
    as_floats = trained_asr.predict([float(x) for x in audio])  # a list of numbers: one waveform
    assert isinstance(as_floats, dict) and as_floats["transcript"] == one["transcript"]
    assert len(trained_asr.predict([audio, (audio, SAMPLE_RATE)])) == 2


def test_bad_inputs_give_clear_errors(trained_asr, tmp_path):
    with pytest.raises(ValueError, match="at least one input"):
        trained_asr.predict([])
    with pytest.raises(ValueError, match="not a readable audio file"):
        trained_asr.predict(b"this is not audio")
    with pytest.raises(ValueError, match="empty"):
        trained_asr.predict(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        trained_asr.predict(np.array([0.0, np.nan, 0.1], np.float32))
    with pytest.raises(ValueError, match="no such audio file"):
        trained_asr.predict(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="alphabet"):
        SpeechRecognizer(sample_rate=8000).predict(np.zeros(800, np.float32))
    with pytest.raises(ValueError, match="outside the alphabet"):
        trained_asr.evaluate(([np.zeros(800, np.float32)], ["xyz!"]))


def test_config_is_validated():
    with pytest.raises(ValueError, match="decoder"):
        SpeechRecognizer(decoder="viterbi")
    with pytest.raises(ValueError, match="sample_rate"):
        SpeechRecognizer(sample_rate=100)
    with pytest.raises(ValueError, match="unknown option"):
        SpeechRecognizer(hidden=3)
    with pytest.raises(ValueError, match="outside the alphabet"):
        SpeechRecognizer(alphabet="abc ", phrases=["abd"])
    assert json.loads(SpeechRecognizer(**SMALL_MODEL).config.to_json())["num_bins"] == 40


def test_beam_grammar_and_word_list_decoders(trained_asr, synthetic_split):
    _, val = synthetic_split
    greedy = [r["transcript"] for r in trained_asr.predict(val.items()[:8])]
    state = trained_asr.config.to_dict()
    try:
        beam = trained_asr.configure_decoder(decoder="beam", beam_width=1).predict(val.items()[:8])
        assert [r["transcript"] for r in beam] == greedy
        phrases = sorted(set(val.transcripts[:8])) + ["up up up"]
        grammar = trained_asr.configure_decoder(decoder="greedy", phrases=phrases).predict(
            val.items()[:8]
        )
        assert [r["transcript"] for r in grammar] == val.transcripts[:8]
        assert all(0.5 < r["score"] <= 1.0 for r in grammar)
        words = trained_asr.configure_decoder(phrases=[], words=["yes", "no"]).predict(
            val.items()[:8]
        )
        assert all(set(r["transcript"].split()) <= {"yes", "no"} for r in words)
        with pytest.raises(ValueError, match="unknown decoder option"):
            trained_asr.configure_decoder(rnn_units=3)
    finally:
        trained_asr.configure_decoder(**{k: state[k] for k in SpeechRecognizer.DECODER_OPTIONS})


def test_ten_minute_audio_is_chunked(trained_asr, synthetic_split):
    _, val = synthetic_split
    pieces, words = [], []
    while sum(len(p) for p in pieces) < 600 * SAMPLE_RATE:
        for audio, text in zip(val.audio, val.transcripts, strict=True):
            pieces.append(audio)
            words.append(text)
    long_audio = np.concatenate(pieces)[: 600 * SAMPLE_RATE]
    result = trained_asr.predict(long_audio)
    reference = " ".join(words)
    hypothesis = result["transcript"]
    assert len(hypothesis.split()) > 400
    assert jiwer.cer(reference[: len(hypothesis)], hypothesis) < 0.3


def test_save_load_round_trip(trained_asr, synthetic_split, tmp_path):
    _, val = synthetic_split
    path = trained_asr.save(tmp_path / "asr.keras")
    loaded = SpeechRecognizer.load(path)
    assert loaded.config == trained_asr.config
    assert loaded.predict(val.items()[:4]) == trained_asr.predict(val.items()[:4])


@pytest.mark.slow
def test_export_matches_predict_in_a_process_without_keras(trained_asr, synthetic_split, tmp_path):
    _, val = synthetic_split
    payload = [encode_wav(a, SAMPLE_RATE) for a in val.audio[:6]]
    stereo = encode_wav(np.stack([val.audio[0], val.audio[0]], axis=1), SAMPLE_RATE)
    at_16k = encode_wav(scipy.signal.resample_poly(val.audio[1], 2, 1), 16000)
    flac = io.BytesIO()
    soundfile.write(flac, val.audio[0], SAMPLE_RATE, format="FLAC")
    version_dir = trained_asr.export(tmp_path / "asr")
    expected = trained_asr.predict(payload)
    python_features = trained_asr.extract_features([flac.getvalue()])[0]  # soundfile path

    (tmp_path / "payload.json").write_text(
        json.dumps([p.hex() for p in payload + [stereo, at_16k]])
    )
    out = run_fresh_tensorflow(f"""
        import json
        import numpy as np
        payload = [bytes.fromhex(h) for h in json.load(open({str(tmp_path / "payload.json")!r}))]
        model = tf.saved_model.load({str(version_dir)!r})
        result = model.signatures["serving_default"](audio_bytes=tf.constant(payload[:6]))
        features = model.signatures["features"](audio_bytes=tf.constant(payload[:1]))
        np.save({str(tmp_path / "features.npy")!r}, features["features"].numpy()[0])
        waveform, rate = tf.audio.decode_wav(payload[0])
        by_waveform = model.signatures["waveform"](
            waveform=tf.transpose(waveform), sample_rate=rate
        )
        stereo_16k = model.signatures["serving_default"](audio_bytes=tf.constant(payload[-2:]))
        errors = []
        for bad in (b"not a wav file", tf.audio.encode_wav(tf.zeros([0, 1]), 8000).numpy()):
            try:
                model.signatures["serving_default"](audio_bytes=tf.constant([bad]))
            except tf.errors.InvalidArgumentError as error:
                errors.append(error.message)
        print(json.dumps({{"transcript": [t.decode() for t in result["transcript"].numpy()],
                          "stereo_16k": [t.decode() for t in stereo_16k["transcript"].numpy()],
                          "errors": errors,
                          "score": result["score"].numpy().tolist(),
                          "waveform": by_waveform["transcript"].numpy()[0].decode()}}))
    """)
    served = json.loads(out.strip().splitlines()[-1])
    assert served["transcript"] == [r["transcript"] for r in expected]
    assert served["stereo_16k"] == [r["transcript"] for r in trained_asr.predict([stereo, at_16k])]
    assert len(served["errors"]) == 2
    assert "Header mismatch" in served["errors"][0] and "audio is empty" in served["errors"][1]
    np.testing.assert_allclose(served["score"], [r["score"] for r in expected], atol=1e-4)
    assert served["waveform"] == expected[0]["transcript"]
    np.testing.assert_allclose(np.load(tmp_path / "features.npy"), python_features, atol=1e-4)
    assert non_core_ops(version_dir) == []
    (warmup,) = read_warmup_requests(version_dir)
    assert set(warmup) == {"audio_bytes"}
