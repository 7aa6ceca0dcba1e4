"""A key/value-cached next-token step for the Translator's keras-hub decoder (for in-graph search).

Recomputing the whole decoder over the prefix at every step costs O(T^2) per sentence; with
keras-hub's attention caches each step runs the decoder on one token only. Cross-attention keys
and values depend only on the encoder output, so they are computed once per input and shared
by its beam hypotheses; the per-hypothesis self-attention caches travel as the search's state.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import keras
import tensorflow as tf


class CachedDecoderStep:
    """Build ``step(prefix, state) -> (log_probs, state)`` and its initial state for N
    hypotheses."""

    def __init__(self, model: keras.Model, num_layers: int, num_heads: int, embed_dim: int) -> None:
        decoder = model.get_layer("decoder")
        self.embedding = decoder.get_layer("target_embedding")
        self.layers = [decoder.get_layer(f"decoder_layer_{i}") for i in range(num_layers)]
        self.norm = decoder.get_layer("decoder_norm")
        self.projection = model.get_layer("logits")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads

    def _cache(self, rows: tf.Tensor, length: tf.Tensor | int) -> tf.Tensor:
        return tf.zeros(tf.stack([rows, 2, length, self.num_heads, self.head_dim]), tf.float32)

    def build(
        self, states: tf.Tensor, source_ids: tf.Tensor, repeat: int, max_length: int, bos_id: int
    ) -> tuple[Callable, tuple]:
        """Step function and initial state for ``repeat`` hypotheses per input (batch-major
        rows)."""
        mask = tf.not_equal(source_ids, 0)
        rows, source_length = tf.shape(states)[0], tf.shape(states)[1]
        # One pass over the start token fills each layer's cross-attention cache.
        x = self.embedding(tf.fill(tf.stack([rows, 1]), bos_id))
        cross_caches = []
        for layer in self.layers:
            with warnings.catch_warnings():  # softmax over the one cached position: intended here
                warnings.filterwarnings("ignore", message="You are using a softmax over axis")
                x, _, cross = layer(
                    x,
                    states,
                    encoder_padding_mask=mask,
                    self_attention_cache=self._cache(rows, 1),
                    self_attention_cache_update_index=0,
                    cross_attention_cache=self._cache(rows, source_length),
                    cross_attention_cache_update_index=0,
                    training=False,
                )
            cross_caches.append(cross)
        if repeat > 1:
            states, mask = tf.repeat(states, repeat, axis=0), tf.repeat(mask, repeat, axis=0)
            cross_caches = [tf.repeat(c, repeat, axis=0) for c in cross_caches]

        def step(prefix: tf.Tensor, caches: tuple) -> tuple[tf.Tensor, tuple]:
            index = tf.shape(prefix)[1] - 1
            hidden = self.embedding(prefix[:, -1:], start_index=index)
            updated = []
            for layer, cache, cross in zip(self.layers, caches, cross_caches, strict=True):
                hidden, cache, _ = layer(
                    hidden,
                    states,
                    encoder_padding_mask=mask,
                    self_attention_cache=cache,
                    self_attention_cache_update_index=index,
                    cross_attention_cache=cross,
                    cross_attention_cache_update_index=None,
                    training=False,
                )
                updated.append(cache)
            logits = self.projection(self.norm(hidden)[:, -1, :])
            return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1), tuple(updated)

        initial = tuple(self._cache(rows * repeat, max_length) for _ in self.layers)
        return step, initial
