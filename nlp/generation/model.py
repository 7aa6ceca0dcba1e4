"""The decoder-only transformer (GPT-style) and its key/value-cached next-token step.

keras-hub ``TokenAndPositionEmbedding`` and pre-norm ``TransformerDecoder`` blocks without
cross-attention (called with no encoder sequence, they apply a causal mask), a final layer norm
and a float32 projection to the vocabulary. ``CachedStep`` runs the same layers on one token per
step with keras-hub's self-attention caches, the way ``nlp.translation.cached_decoder_step``
does for the translator, so generating T tokens costs O(T) layer calls rather than O(T^2).
"""

from __future__ import annotations

import warnings

import keras
import keras_hub
import tensorflow as tf


def build_language_model(
    vocabulary_size: int,
    context_length: int,
    embed_dim: int,
    num_layers: int,
    num_heads: int,
    intermediate_dim: int,
    dropout: float,
    dtype: str = "float32",
) -> keras.Model:
    """``token_ids [B, T]`` -> next-token logits ``[B, T, V]`` (float32).

    ``dtype`` is the layers' Keras dtype policy: ``"mixed_bfloat16"`` computes in bfloat16 with
    float32 weights (about 3x faster training on CPUs with AMX / AVX512-BF16); the logits stay
    float32 either way.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, context_length, embed_dim, dtype=dtype, name="embedding"
    )(token_ids)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerDecoder(
            intermediate_dim,
            num_heads,
            dropout=dropout,
            normalize_first=True,
            dtype=dtype,
            name=f"decoder_layer_{i}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="final_norm")(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return keras.Model(token_ids, logits, name="language_model")


class CachedStep:
    """``step(prefix [N, t], caches) -> (log_probs [N, V], caches)`` over the model's layers."""

    def __init__(self, model: keras.Model, num_layers: int, num_heads: int, embed_dim: int) -> None:
        self.embedding = model.get_layer("embedding")
        self.layers = [model.get_layer(f"decoder_layer_{i}") for i in range(num_layers)]
        self.norm = model.get_layer("final_norm")
        self.projection = model.get_layer("logits")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads

    def initial_state(self, rows: tf.Tensor, length: int) -> tuple[tf.Tensor, ...]:
        """Empty caches for ``rows`` sequences of up to ``length`` tokens, one per layer."""
        shape = tf.stack([rows, 2, length, self.num_heads, self.head_dim])
        dtype = self.embedding.compute_dtype  # the caches hold keys / values as computed
        return tuple(tf.zeros(shape, dtype) for _ in self.layers)

    def step(self, prefix: tf.Tensor, caches: tuple) -> tuple[tf.Tensor, tuple]:
        """Log-probabilities of the token after ``prefix`` (only its last token is computed)."""
        index = tf.shape(prefix)[1] - 1
        hidden = self.embedding(prefix[:, -1:], start_index=index)
        updated = []
        with warnings.catch_warnings():  # a softmax over one cached position at step 0: intended
            warnings.filterwarnings("ignore", message="You are using a softmax over axis")
            for layer, cache in zip(self.layers, caches, strict=True):
                hidden, cache = layer(
                    hidden,
                    self_attention_cache=cache,
                    self_attention_cache_update_index=index,
                    training=False,
                )
                updated.append(cache)
        logits = self.projection(self.norm(hidden)[:, -1, :])
        return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1), tuple(updated)
