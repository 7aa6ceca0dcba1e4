"""One factory for the optimizers tasks use, so every domain configures them the same way."""

from __future__ import annotations

import keras

from common.callbacks import warmup_cosine_decay

KNOWN_OPTIMIZERS = ("adamw", "adam", "sgd")


def make_optimizer(
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adamw",
    total_steps: int | None = None,
    warmup_steps: int = 0,
    clipnorm: float | None = None,
) -> keras.optimizers.Optimizer:
    """Build AdamW, Adam or SGD (momentum 0.9) with decoupled weight decay and optional clipping.

    When ``total_steps`` is given the learning rate follows Keras' ``CosineDecay`` with a linear
    warmup that peaks at ``learning_rate`` after ``warmup_steps`` (``warmup_cosine_decay``).
    """
    name = optimizer.lower()
    if name not in KNOWN_OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {optimizer!r}; known optimizers: {', '.join(KNOWN_OPTIMIZERS)}."
        )
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}.")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")
    if total_steps is not None:
        lr = warmup_cosine_decay(learning_rate, total_steps, warmup_steps=warmup_steps)
    elif warmup_steps:
        raise ValueError("warmup_steps needs total_steps to build a warmup schedule.")
    else:
        lr = learning_rate

    common_kwargs = {"learning_rate": lr, "clipnorm": clipnorm}
    if name == "adamw":
        return keras.optimizers.AdamW(weight_decay=weight_decay, **common_kwargs)
    decay = weight_decay or None
    if name == "adam":
        return keras.optimizers.Adam(weight_decay=decay, **common_kwargs)
    return keras.optimizers.SGD(momentum=0.9, weight_decay=decay, **common_kwargs)
