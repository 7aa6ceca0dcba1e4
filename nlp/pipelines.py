"""NLP example pipelines, readable top to bottom: data -> model -> train -> evaluate -> export.

Run one with ``python -m nlp.pipelines classification|ner|translation|qa|generation [--quick]``;
``dlsuite demo`` runs the quick versions on built-in template data (synthetic: they show the
plumbing, not quality; see ``bench/nlp_*.py`` for SST-2 and CoNLL-2003).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from common.demo import DemoResult
from common.pipelines import agreement, export_and_load, pipelines_main, run_demo, timed_fit
from nlp.classification.task import TextClassifier
from nlp.data import make_ner, make_sentiment
from nlp.generation.pipelines import text_generation
from nlp.ner import EntityTagger
from nlp.qa.pipelines import question_answering
from nlp.translation.pipelines import translation


def classification(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Sentiment of template review sentences with a small transformer trained from scratch."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "nlp_classification"

    # 1. Data: synthetic positive / negative sentences (train seed 0, validation seed 1).
    train, val = make_sentiment(400 if quick else 2000, seed=0), make_sentiment(100, seed=1)

    # 2. Model: WordPiece vocabulary learned from the training texts + a 1-2 layer transformer.
    classifier = TextClassifier(
        classes=train.class_names,
        vocabulary_size=300 if quick else 2000,
        sequence_length=24,
        embed_dim=32 if quick else 64,
        num_layers=1 if quick else 2,
        num_heads=2,
        intermediate_dim=64 if quick else 128,
        learning_rate=5e-3,
        batch_size=16,
    )

    # 3. Train.
    train_seconds = timed_fit(
        classifier, reports_dir, train, validation_data=val, epochs=6 if quick else 10, verbose=2
    )

    # 4. Evaluate: accuracy, macro-F1, per-class report; report files + confusion matrix PNG.
    report = classifier.evaluate(val, report_dir=reports_dir, overwrite=True)

    # 5. Export (raw text in) and check the export answers like the Python model.
    version_dir, served = export_and_load(classifier, models_dir / "sentiment")
    sample = val.texts[:8]
    agree = agreement(
        served(text=tf.constant(sample))["classes"].numpy()[:, 0],
        [r["label"] for r in classifier.predict(sample)],
    )
    return {
        "task": "nlp/classification (template sentiment)",
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"text": ["What a wonderful film!"]},
    }


def ner(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """People, places and organisations in template sentences with a BiLSTM-CNN-CRF tagger."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "nlp_ner"

    # 1. Data: synthetic IOB2-tagged sentences.
    train, val = make_ner(400 if quick else 2000, seed=0), make_ner(100, seed=1)

    # 2. Model: word embeddings + character CNN -> BiLSTM -> CRF.
    tagger = EntityTagger(
        entity_types=train.entity_types,
        max_words=24,
        word_dim=32,
        char_dim=16,
        char_filters=32,
        lstm_units=32 if quick else 64,
        learning_rate=1e-2,
        batch_size=16,
    )

    # 3. Train.
    train_seconds = timed_fit(
        tagger, reports_dir, train, validation_data=val, epochs=8 if quick else 12, verbose=2
    )

    # 4. Evaluate: entity-level P / R / F1 per type (seqeval).
    report = tagger.evaluate(val)

    # 5. Export and compare with predict on a raw sentence (character offsets into the input).
    version_dir, serve = export_and_load(tagger, models_dir / "entities")
    text = "Angela Merkel visited Paris with Marie Curie ."
    served = serve(text=tf.constant([text]))
    served_texts = [
        t.decode() for t in served["entity_texts"].numpy()[0][: int(served["num_entities"][0])]
    ]
    python_texts = [e["text"] for e in tagger.predict(text)]
    return {
        "task": "nlp/ner (template sentences)",
        "entity_f1": report["f1"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": float(served_texts == python_texts),
        "entities": ", ".join(python_texts),
        "request": {"text": [text]},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for NLP: quick classification, NER, translation, QA and
    text generation."""
    pipelines = {
        "sentiment": classification,
        "entities": ner,
        "nlp_translation": translation,
        "nlp_qa": question_answering,
        "nlp_generation": text_generation,
    }
    return run_demo(pipelines, models_dir, reports_dir)


PIPELINES = {
    "classification": classification,
    "ner": ner,
    "translation": translation,
    "qa": question_answering,
    "generation": text_generation,
}


def main(argv: list[str] | None = None) -> None:
    """``python -m nlp.pipelines NAME [--quick]``."""
    pipelines_main(PIPELINES, __doc__, argv)


if __name__ == "__main__":
    main()
