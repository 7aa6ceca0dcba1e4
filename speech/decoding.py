"""The in-graph recognition pipeline shared by ``predict`` and the exported SavedModel.

waveforms (any rate) -> features -> acoustic model over overlapping chunks -> CTC decoding
(greedy, beam search, a closed phrase grammar, or a word list) -> transcript and score.
All of it is core TensorFlow, so serving answers exactly what ``predict`` answers.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from speech import ctc
from speech.features import batch_features

DECODERS = ("greedy", "beam")


@dataclasses.dataclass(frozen=True)
class DecodeSettings:
    """Everything the graph needs besides the model (derived from the recogniser's config)."""

    alphabet: str
    sample_rate: int
    feature_type: str
    num_bins: int
    window_frames: int
    context_frames: int
    time_stride: int
    decoder: str = "greedy"
    beam_width: int = 8
    phrases: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def features_batch(waveforms: tf.RaggedTensor, rates: tf.Tensor, s: DecodeSettings):
    """Ragged mono waveforms ``[batch, (samples)]`` + rates ``[batch]`` -> padded features,
    frames."""
    return batch_features(waveforms, rates, s.sample_rate, s.feature_type, s.num_bins)


def chunked_logits(model: keras.Model, features: tf.Tensor, frames: tf.Tensor, s: DecodeSettings):
    """Logits for utterances of any length, with bounded memory.

    Up to ``window_frames`` the model sees the whole utterance. Longer input is cut into windows
    that overlap by ``context_frames`` on each side; each window runs on its own (one at a time)
    and only its centre is kept, so every kept frame had context on both sides.
    """
    window, context = s.window_frames, s.context_frames
    hop = window - 2 * context
    num_frames = tf.shape(features)[1]

    def whole() -> tf.Tensor:
        return model({"features": features, "frames": frames}, training=False)

    def chunked() -> tf.Tensor:
        count = (num_frames + hop - 1) // hop
        padded = tf.pad(features, [[0, 0], [context, count * hop - num_frames + context], [0, 0]])
        windows = tf.transpose(tf.signal.frame(padded, window, hop, axis=1), [1, 0, 2, 3])
        starts = tf.range(count) * hop
        valid = tf.clip_by_value(frames[None, :] + context - starts[:, None], 0, window)

        def run(item):
            return model({"features": item[0], "frames": item[1]}, training=False)

        logits = tf.map_fn(run, (windows, valid), fn_output_signature=tf.float32)
        keep = logits[:, :, context // s.time_stride : (context + hop) // s.time_stride]
        keep = tf.transpose(keep, [1, 0, 2, 3])
        shape = tf.shape(keep)
        return tf.reshape(keep, [shape[0], shape[1] * shape[2], shape[3]])

    logits = tf.cond(num_frames <= window, whole, chunked)
    lengths = (frames + s.time_stride - 1) // s.time_stride
    return ctc.mask_padded_frames(logits, lengths), lengths


def decode(logits: tf.Tensor, lengths: tf.Tensor, s: DecodeSettings) -> dict[str, tf.Tensor]:
    """CTC logits -> ``{"transcript": string [batch], "score": float32 [batch] in (0, 1]}``.

    Score: with a phrase grammar, the posterior of the chosen phrase among the allowed ones;
    otherwise the per-frame geometric mean probability of the best path.
    """
    if s.phrases:
        ids = ctc.text_to_ids(list(s.phrases), s.alphabet)
        likelihoods = ctc.phrase_log_likelihoods(logits, ids)
        best = tf.argmax(likelihoods, axis=1, output_type=tf.int32)
        transcript = tf.gather(tf.constant(list(s.phrases)), best)
        score = tf.reduce_max(tf.nn.softmax(likelihoods, axis=1), axis=1)
        return {"transcript": transcript, "score": score}
    if s.decoder == "beam":
        (ids,), log_probs = ctc.beam_search_decode(logits, lengths, beam_width=s.beam_width)
        log_prob = log_probs[:, 0]
    else:
        ids, log_prob = ctc.greedy_decode(logits, lengths)
    transcript = tf.strings.strip(ctc.ids_to_text(ids, s.alphabet))
    transcript = tf.strings.regex_replace(transcript, " +", " ")
    if s.words:
        transcript = ctc.snap_words(transcript, list(s.words))
    score = tf.exp(log_prob / tf.cast(tf.maximum(lengths, 1), tf.float32))
    return {"transcript": transcript, "score": score}


def transcribe(model: keras.Model, waveforms: tf.RaggedTensor, rates: tf.Tensor, s: DecodeSettings):
    """The whole pipeline: ragged waveforms + rates -> transcripts and scores."""
    features, frames = features_batch(waveforms, rates, s)
    logits, lengths = chunked_logits(model, features, frames, s)
    return decode(logits, lengths, s)


def decode_wav_batch(audio_bytes: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """A batch of WAV files -> ragged mono waveforms and their sample rates (core ops only)."""
    from speech.features import decode_wav

    def one(contents):
        waveform, rate = decode_wav(contents)
        return waveform, rate

    waveforms, rates = tf.map_fn(
        one,
        audio_bytes,
        fn_output_signature=(
            tf.RaggedTensorSpec([None], tf.float32, ragged_rank=0),
            tf.TensorSpec([], tf.int32),
        ),
    )
    return waveforms, rates
