"""Extractive QA example pipeline, read top to bottom: data -> model -> train -> evaluate -> export.

Run it with ``python -m nlp.pipelines qa [--quick]``; ``dlsuite demo`` runs the quick version on the
built-in SYNTHETIC template facts (they show the plumbing, not quality; ``bench/nlp_qa.py``
measures real SQuAD articles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from common.pipelines import agreement, export_and_load, timed_fit
from nlp.qa.squad import make_synthetic_qa
from nlp.qa.task import QuestionAnswerer


def question_answering(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Answer questions about generated facts with a small transformer trained from scratch."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "nlp_qa"

    # 1. Data: SYNTHETIC contexts of template facts, one question each (train seed 0, val seed 1).
    people = 1 if quick else 2
    train = make_synthetic_qa(400 if quick else 3000, seed=0, people=people)
    val = make_synthetic_qa(100, seed=1, people=people)

    # 2. Model: WordPiece vocabulary from the training text + small transformer, start/end heads.
    answerer = QuestionAnswerer(
        vocabulary_size=300 if quick else 1000,
        sequence_length=64,
        doc_stride=32,
        max_question_tokens=16,
        embed_dim=32 if quick else 64,
        num_layers=2,
        num_heads=2 if quick else 4,
        intermediate_dim=64 if quick else 128,
        dropout=0.0 if quick else 0.1,
        learning_rate=3e-3 if quick else 1e-3,
        batch_size=16 if quick else 32,
    )

    # 3. Train.
    train_seconds = timed_fit(
        answerer, reports_dir, train, validation_data=val, epochs=7 if quick else 20, verbose=2
    )

    # 4. Evaluate: SQuAD exact match and F1.
    report = answerer.evaluate(val)

    # 5. Export (question + context strings in) and check it answers like the Python model.
    version_dir, served = export_and_load(answerer, models_dir / "nlp_qa")
    sample = val.examples[:8]
    questions, contexts = [e.question for e in sample], [e.context for e in sample]
    agree = agreement(
        served(question=tf.constant(questions), context=tf.constant(contexts))["answer"].numpy(),
        [r["answer"] for r in answerer.predict(questions, contexts)],
    )
    question, context = (
        "Where was Ada Lovelace born?",
        "Ada Lovelace was born in São Paulo. Ada Lovelace works as a pilot.",
    )
    return {
        "task": "nlp/qa (synthetic template facts)",
        "exact_match": report["exact_match"],
        "f1": report["f1"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "answer": answerer.predict(question, context)["answer"],
        "expected": "São Paulo",  # shown beside the answer, so the demo cannot hide a wrong one
        "request": {"question": [question], "context": [context]},
    }
