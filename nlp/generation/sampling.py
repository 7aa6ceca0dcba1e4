"""Sampling options of ``TextGenerator.generate`` and the export, checked once in Python.

The in-graph search itself is ``nlp.translation.decoding.prompted_sample_search`` (shared with
the translator's greedy / beam searches); this module says which option values are valid, so
``generate``, the CLI and ``export`` refuse the same mistakes with the same sentences.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How to pick each next token: ``greedy`` (arg-max), or a sample at ``temperature`` from
    the ``top_k`` most likely tokens (0: all) within the ``top_p`` nucleus, seeded by ``seed``."""

    max_length: int
    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def validate(self, context_length: int) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        if not 1 <= self.max_length < context_length:
            raise ValueError(
                f"max_length must be in [1, {context_length - 1}] (context_length - 1), "
                f"got {self.max_length}"
            )
        if not math.isfinite(self.temperature) or self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0, got {self.temperature} (use greedy=True for arg-max)"
            )
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 keeps every token), got {self.top_k}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not -(2**31) <= self.seed < 2**31:
            raise ValueError(f"seed must fit in 32 bits, got {self.seed}")
