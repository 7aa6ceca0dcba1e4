"""Translation example pipeline, read top to bottom: data -> model -> train -> evaluate -> export.

Run it with ``python -m nlp.pipelines translation [--quick]``. The data are SYNTHETIC template
sentences (English -> pseudo-German): they show the plumbing, not translation quality; see
``bench/nlp_translation.py`` for Multi30k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from common.pipelines import agreement, export_and_load, timed_fit
from nlp.translation import Translator
from nlp.translation.data import make_synthetic_translation

EXPORT_NAME = "nlp_translation"


def translation(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """English -> pseudo-German template sentences with a small transformer encoder-decoder."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / EXPORT_NAME

    # 1. Data: synthetic sentence pairs (train seed 0, validation seed 1).
    train, val = (
        make_synthetic_translation(800 if quick else 4000, seed=0),
        make_synthetic_translation(100, seed=1),
    )

    # 2. Model: one case-preserving WordPiece vocabulary for both sides + a small transformer.
    translator = Translator(
        source_language="en",
        target_language="de-synthetic",
        vocabulary_size=200 if quick else 400,
        max_source_length=24,
        max_target_length=24,
        embed_dim=64 if quick else 128,
        encoder_layers=1 if quick else 2,
        decoder_layers=1 if quick else 2,
        num_heads=2 if quick else 4,
        intermediate_dim=128 if quick else 256,
        dropout=0.0 if quick else 0.1,
        learning_rate=3e-3 if quick else 1e-3,
        batch_size=32,
        beam_size=3,
    )

    # 3. Train (label-smoothed cross-entropy, warmup + cosine learning rate).
    train_seconds = timed_fit(
        translator, reports_dir, train, validation_data=val, epochs=5 if quick else 10, verbose=2
    )

    # 4. Evaluate: BLEU / chrF (sacrebleu) with greedy and beam decoding, plus samples.
    greedy = translator.evaluate(val, decoding="greedy")
    beam = translator.evaluate(val, decoding="beam")

    # 5. Export (raw text in, translation out, beam search in the graph) and compare with predict.
    version_dir, served = export_and_load(translator, models_dir / EXPORT_NAME)
    sample = val.sources[:8]
    agree = agreement(
        served(text=tf.constant(sample))["translation"].numpy(),
        [r["translation"] for r in translator.predict(sample)],
    )
    text = "The young dog is reading a book in the garden."
    return {
        "task": "nlp/translation (synthetic en->de templates)",
        "bleu_greedy": round(greedy["bleu"], 2),
        "bleu_beam": round(beam["bleu"], 2),
        "chrf": round(beam["chrf"], 2),
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "example": f"{text} -> {translator.predict(text)['translation']}",
        "request": {"text": [text]},
    }
