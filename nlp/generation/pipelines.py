"""Text-generation example pipeline, read top to bottom: data -> model -> train -> evaluate ->
export.

Run it with ``python -m nlp.pipelines generation [--quick]``. The data are SYNTHETIC template
sentences: they show the plumbing, not quality; see ``bench/nlp_generation.py`` for Tiny
Shakespeare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from common.pipelines import agreement, export_and_load, timed_fit
from nlp.generation import TextGenerator
from nlp.generation.data import make_synthetic_text

EXPORT_NAME = "nlp_generation"


def text_generation(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """A character-level decoder-only transformer learns template sentences and continues them."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / EXPORT_NAME

    # 1. Data: template sentences, one per line (train seed 0, validation seed 1).
    train, val = make_synthetic_text(400 if quick else 2000, 0), make_synthetic_text(60, 1)

    # 2. Model: one id per character + a small GPT-style decoder (causal self-attention only).
    generator = TextGenerator(
        context_length=64,
        embed_dim=64 if quick else 128,
        num_layers=1 if quick else 2,
        num_heads=2 if quick else 4,
        intermediate_dim=128 if quick else 256,
        dropout=0.0,
        learning_rate=1e-2 if quick else 3e-3,
        batch_size=32,
        windows_per_epoch=640,
        max_length=40,
        temperature=0.7,
    )

    # 3. Train on next-character prediction over random windows of the text.
    train_seconds = timed_fit(
        generator, reports_dir, train, validation_data=val, epochs=8 if quick else 12, verbose=2
    )

    # 4. Evaluate: loss per character (nats), bits per character and perplexity on unseen lines.
    report = generator.evaluate(val)

    # 5. Export (prompt in, text out, seeded sampling in the graph) and compare with generate.
    version_dir, served = export_and_load(generator, models_dir / EXPORT_NAME)
    prompts = ["the cat ", "a small bird ", "my sister "]
    agree = agreement(
        [t.decode("utf-8") for t in served(prompt=tf.constant(prompts))["text"].numpy()],
        generator.generate(prompts),
    )
    return {
        "task": "nlp/generation (synthetic template text)",
        "loss_per_char": round(report["loss_per_character"], 3),
        "bits_per_char": round(report["bits_per_character"], 3),
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "example": f"the cat |{generator.generate('the cat ', max_length=30)}",
        "request": {"prompt": ["the king "]},
    }
