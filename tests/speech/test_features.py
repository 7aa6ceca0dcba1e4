"""speech.features: decoding, resampling (against SciPy), spectra, normalisation, SpecAugment."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.signal
import soundfile
import tensorflow as tf

from speech import features as F


def _sine(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(
        np.float32
    )


@pytest.mark.parametrize(
    ("rate_in", "rate_out", "up", "down"),
    [
        (8000, 16000, 2, 1),
        (22050, 16000, 320, 441),
        (44100, 16000, 160, 441),
        (16000, 8000, 1, 2),
    ],
)
def test_resample_matches_scipy_resample_poly_on_a_sine(rate_in, rate_out, up, down):
    x = _sine(440.0, rate_in)
    ours = F.resample(x, rate_in, rate_out).numpy()
    reference = scipy.signal.resample_poly(x, up, down)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours[100:-100], reference[100:-100], atol=2e-3)


def test_resample_removes_tones_above_the_new_nyquist_and_keeps_equal_rates():
    aliased = F.resample(_sine(7000.0, 44100), 44100, 8000).numpy()
    assert np.sqrt(np.mean(aliased[100:-100] ** 2)) < 1e-3  # a 0.35 RMS tone, attenuated > 50 dB
    x = _sine(300.0, 8000)
    np.testing.assert_array_equal(F.resample(x, 8000, 8000).numpy(), x)


def test_decode_wav_downmixes_stereo_and_rejects_non_wav():
    left, right = _sine(300.0, 8000), _sine(500.0, 8000)
    wav = F.encode_wav(np.stack([left, right], axis=1), 8000)
    waveform, rate = F.decode_wav(tf.constant(wav))
    assert int(rate) == 8000
    np.testing.assert_allclose(waveform.numpy(), (left + right) / 2, atol=1e-4)
    mono, rate = F.read_audio(wav, 16000)
    assert rate == 8000 and mono.shape == left.shape
    with pytest.raises(tf.errors.InvalidArgumentError):
        F.decode_wav(tf.constant(b"RIFF....WAVEjunk"))
    with pytest.raises(ValueError, match="not a readable audio file"):
        F.read_audio(b"definitely not audio", 16000)


def test_read_audio_handles_flac_int16_channels_first_and_bad_values(tmp_path):
    x = _sine(440.0, 16000, 0.5)
    buffer = io.BytesIO()
    soundfile.write(buffer, x, 16000, format="FLAC")
    (tmp_path / "a.flac").write_bytes(buffer.getvalue())
    waveform, rate = F.read_audio(tmp_path / "a.flac", 8000)
    assert rate == 16000
    np.testing.assert_allclose(waveform, x, atol=1e-4)
    ints, rate = F.read_audio((np.round(x * 32767).astype(np.int16), 16000), 8000)
    np.testing.assert_allclose(ints, x, atol=1e-4)
    stereo_first, _ = F.read_audio(np.stack([x, -x]), 16000)
    np.testing.assert_allclose(stereo_first, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        F.read_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(ValueError, match="NaN"):
        F.read_audio(np.array([0.1, np.nan], np.float32), 16000)
    with pytest.raises(ValueError, match="no such audio file"):
        F.read_audio(tmp_path / "missing.wav", 16000)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        F.sanitize(np.array([0.1, np.inf], np.float32))
    np.testing.assert_array_equal(F.sanitize(np.array([2.0, -3.0, 0.5])).numpy(), [1.0, -1.0, 0.5])


def test_log_mel_mfcc_shapes_and_per_utterance_normalisation():
    x = _sine(440.0, 16000, 1.0)
    log_mel = F.log_mel_spectrogram(x, 16000, 80)
    assert log_mel.shape == (F.num_frames(16000, 16000), 80) == (98, 80)
    peak_bin = int(tf.argmax(tf.reduce_mean(log_mel, 0)))
    mel_edges = tf.signal.linear_to_mel_weight_matrix(80, 257, 16000, 20.0, 8000.0).numpy()
    assert mel_edges[int(440 / 16000 * 512)].argmax() == pytest.approx(peak_bin, abs=1)
    assert F.mfcc(log_mel, 13).shape == (98, 13)
    assert F.log_mel_spectrogram(x[:10], 16000, 80).shape == (1, 80)  # shorter than a frame
    normalised = F.waveform_to_features(
        x + np.random.default_rng(0).normal(0, 0.1, x.shape), 16000, 16000
    )
    np.testing.assert_allclose(tf.reduce_mean(normalised, 0), 0.0, atol=1e-4)
    np.testing.assert_allclose(tf.math.reduce_std(normalised, 0), 1.0, atol=1e-2)
    with pytest.raises(ValueError, match="feature_type"):
        F.waveform_to_features(x, 16000, 16000, feature_type="cqt")


def test_spec_augment_masks_only_in_training():
    layer = F.SpecAugment(freq_masks=2, freq_width=5, time_masks=2, time_width=6, seed=0)
    x = tf.ones((4, 50, 20))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    masked = layer(x, training=True).numpy()
    zeroed = masked == 0
    assert 0 < zeroed.mean() < 0.5
    # masks are whole frequency bands and whole time spans
    band = zeroed.all(axis=1)
    span = zeroed.all(axis=2)
    assert np.array_equal(zeroed, band[:, None, :] | span[:, :, None])
    restored = F.SpecAugment.from_config(layer.get_config())
    assert restored.time_width == 6 and restored.freq_masks == 2
